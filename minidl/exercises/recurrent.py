"""Tutorial 05's exercises: an LSTM step and a GRU step by hand."""

import minidl as md
from minidl.exercises.check import Exercise, Mismatch, tensors


def _cell_cases(cell_class, state_count):
    """Cases for a recurrent cell exercise: (x, *states, cell) with a fresh float64 cell each time."""

    def cases(rng):
        for batch, features, hidden in [(1, 3, 2), (4, 5, 3)]:
            with md.default_dtype(md.float64):
                cell = cell_class(features, hidden)
            for param in cell.parameters():
                param.array[...] = rng.uniform(-1, 1, param.shape)  # the same weights on every run
            x, *states = tensors(rng.standard_normal((batch, features)),
                                  *(rng.standard_normal((batch, hidden)) for _ in range(state_count)))  # fmt: skip
            yield f"batch {batch}, input size {features}, hidden size {hidden}", (x, *states, cell)

    return cases


def _cell_reference(x, *states_and_cell):
    *states, cell = states_and_cell
    with md.no_grad():
        out = cell(x, tuple(states) if len(states) > 1 else states[0])
    return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()


def _by_hand(fused, cell_name):
    """Run the learner's step and reject a result that comes straight out of the engine's own fused
    step (``cell(x, ...)``): the exercise is to write the step from products, sigmoid and tanh."""

    def run(fn, *inputs):
        out = fn(*inputs)
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        if isinstance(first, md.Tensor) and first.grad_fn is not None and first.grad_fn.name == fused:
            raise Mismatch(f"your result comes from {cell_name} itself (its fused {fused} op): "
                           "write the step from matrix products, md.sigmoid and md.tanh")  # fmt: skip
        return out

    return run


EXERCISES = [
    Exercise("lstm_cell", "05 exercise 1",
             "lstm_step(x, h, c, cell: md.nn.LSTMCell) -> (h', c', ...) as Tensors, gates in order i, f, g, o",
             _cell_cases(md.nn.LSTMCell, state_count=2), _cell_reference, _by_hand("LSTMStep", "nn.LSTMCell"),
             rtol=1e-6),
    Exercise("gru_step", "05 exercise 3", "gru_step(x, h, cell: md.nn.GRUCell) -> h' as a Tensor",
             _cell_cases(md.nn.GRUCell, state_count=1), _cell_reference, _by_hand("GRUStep", "nn.GRUCell"),
             rtol=1e-6),
]  # fmt: skip
