"""Recording a forward pass for the backprop page: every op's output values, the values of its
constant inputs, and the Module calls it ran inside.

The graph autograd records keeps what backward needs, not what a picture needs: the value of an
intermediate tensor is usually gone once the forward pass has moved on (only 0-d values stay, on
the graph's nodes).  So run the forward pass inside ``record_forward()``:

    with md.viz.record_forward():
        loss = F.cross_entropy(model(x), y)
    md.viz.backprop_page(loss, "backprop.html", model=model)

and the page shows every forward value, and folds the ops of one Module call (a Linear, a conv
block, one step of an LSTM cell) into one box.

How, without changing the engine or ``nn.Module``: Python can call a *profile function* at every
function call and return in a thread (``sys.setprofile``, the hook profilers use).  Ours listens
for two events: a ``Module.__call__`` starting or ending (a stack of the calls running), and
``Function.apply`` returning with a recorded node (its frame holds ``node``, ``inputs``,
``outputs``).  It is set for this thread only and the previous profile function is put back.
The records are kept per node, in a dict that forgets a node when the graph is freed.
"""
import sys
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field

from minidl.autograd import Function
from minidl.nn.module import Module

APPLY_CODE = Function.apply.__func__.__code__
MODULE_CALL_CODE = Module.__call__.__code__


@dataclass(eq=False)
class ModuleCall:
    """One call of a Module during a recorded forward pass (``number`` counts the calls)."""

    module: Module
    number: int


@dataclass
class OpRecord:
    """What the recording kept of one op: copies of its output arrays, of the arrays of its inputs
    that need no gradient (input index -> array), and the Module calls it ran inside, outermost first."""

    outputs: tuple
    constants: dict = field(default_factory=dict)
    calls: tuple = ()


_records = weakref.WeakKeyDictionary()  # autograd Node -> OpRecord


def op_record(node):
    """The OpRecord of ``node``, or None when it was made outside ``record_forward``."""
    return _records.get(node)


@contextmanager
def record_forward():
    """Keep every op's values and Module calls while the block runs (this thread only)."""
    running = []  # the Module calls under way, outermost first
    numbers = iter(range(sys.maxsize))

    def listen(frame, event, _):
        if frame.f_code is MODULE_CALL_CODE:
            if event == "call":
                running.append(ModuleCall(frame.f_locals["self"], next(numbers)))
            elif event == "return" and running:  # (not a call that began before the recording)
                running.pop()
        elif frame.f_code is APPLY_CODE and event == "return" and frame.f_locals.get("node") is not None:
            _remember(frame.f_locals, tuple(running))

    previous = sys.getprofile()
    sys.setprofile(listen)
    try:
        yield
    finally:
        sys.setprofile(previous)


def _remember(apply_locals, calls):
    """File an OpRecord for the node that ``Function.apply`` (whose local variables these are) made."""
    node, inputs = apply_locals["node"], apply_locals["inputs"]
    outputs = tuple(out.copy() for out in apply_locals["outputs"])  # later in-place writes must not change them
    constants = {i: t.array.copy() for i, t in enumerate(inputs) if not t.requires_grad}
    _records[node] = OpRecord(outputs, constants, calls)
