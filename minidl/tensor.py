"""The Tensor: an array (``.array``) plus what autograd needs (``requires_grad``, ``grad``, ``grad_fn``).

Every method that computes something is a one-line call into ``minidl.functional`` (``F``),
where the differentiable ops live; this file only holds the object and its conversions.
"""
import numbers

import numpy as np

from minidl import backend
from minidl.versions import VersionCounter

_PYTHON_SCALARS = (bool, numbers.Integral, numbers.Real)


def as_array(data, dtype=None, device=None, copy=False):
    """Turn ``data`` (Tensor, NumPy/CuPy array, scalar or nested list) into an array.

    Python floats become the default dtype (float32 unless changed), Python ints int64 and
    bools bool, as in PyTorch; arrays keep their dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        data = data.array
    is_array = isinstance(data, (np.ndarray, np.generic)) or backend.is_cupy_array(data)
    xp = backend.get_array_module(data)
    if is_array:
        array = xp.array(data, copy=True) if copy else xp.asarray(data)
    else:
        array = np.array(data)
    if dtype is not None:
        array = array.astype(np.dtype(dtype), copy=False)
    elif not is_array and array.dtype == np.float64:
        array = array.astype(backend.get_default_dtype())
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor: unsupported data of dtype {array.dtype}; expected numbers or booleans")
    if device is not None:
        array = backend.to_device(array, device)
    return array


def _shape_args(args):
    """Accept both ``reshape(2, 3)`` and ``reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    ``Tensor(data)`` wraps an array without copying; ``md.tensor(data)`` copies, as
    ``torch.tensor`` does.
    """

    __array_priority__ = 1000  # make ``numpy_array + tensor`` call Tensor.__radd__
    __hash__ = object.__hash__  # ``==`` is elementwise, so hash by identity as torch does

    # A view (x[0], x.T, x.reshape(...)) looks into the array of ``_base``; see minidl/versions.py.
    _base = None
    _view_replay = None
    _view_grad_fn = None
    _hooks = None  # a leaf's gradient hooks (register_hook); a computed tensor's live on its grad_fn

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.array = as_array(data, dtype, device)
        self.grad = None
        self.grad_fn = None
        self.output_index = 0
        self._version_counter = VersionCounter()
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, array, node, index):
        """The output ``index`` of an op, recorded as ``node`` (None when not recorded)."""
        out = Tensor.__new__(Tensor)
        if isinstance(array, np.generic):  # NumPy reductions return scalars; keep 0-d arrays
            array = np.asarray(array)
        out.array, out.grad, out.grad_fn, out.output_index = array, None, node, index
        out._version_counter = VersionCounter()
        out._requires_grad = False
        if node is not None and not backend.is_floating(array.dtype):
            out.grad_fn = None  # integer outputs (indices, comparisons) carry no gradient
        return out

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self):
        return self._requires_grad or self.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, flag):
        if self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad: you can only change the flag of a leaf tensor; use .detach() "
                "to get a leaf from a computed one"
            )
        if flag and not backend.is_floating(self.dtype):
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is not None:
            self.grad_fn.retained[self.output_index] = self

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient whenever backward computes it (summed
        over all uses, before it is used or added to ``.grad``); a Tensor it returns replaces the
        gradient.  Returns a handle: ``handle.remove()`` takes the hook out."""
        return autograd.register_tensor_hook(self, hook)

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Fill ``.grad`` of every leaf this tensor depends on (see ``minidl.autograd``); with
        ``create_graph=True`` the backward pass is recorded, so ``.grad`` can be differentiated
        again (``minidl/higher_order.py``)."""
        autograd.backward(self, gradient, retain_graph, create_graph)

    @property
    def data(self):
        """PyTorch's ``.data``: a new leaf sharing this tensor's array, outside autograd's view.

        Writes through it (``p.data.sub_(lr * p.grad)``) change this tensor but are neither
        recorded nor counted by the version counter.  Prefer ``detach()`` (its writes are counted)
        and ``with md.no_grad():`` for updates; ``.array`` is the NumPy/CuPy array itself.
        """
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other``: this tensor now holds ``other``'s array (``other``: a Tensor or array)."""
        if not isinstance(value, Tensor) and not backend.is_array(value):
            raise TypeError(f"data: expected a Tensor or an array to assign, got {type(value).__name__}")
        self.array = as_array(value)

    @property
    def _version(self):
        """How many in-place writes this tensor's array has had (PyTorch's ``t._version``)."""
        return self._version_counter.value

    def detach(self):
        """A new leaf sharing this tensor's data (and its version counter), cut from the graph."""
        out = Tensor(self.array)
        out._version_counter = self._version_counter
        return out

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self):
        return int(self.array.size)

    @property
    def device(self):
        return backend.device_of(self.array)

    @property
    def xp(self):
        """The array module of ``.array``: numpy or cupy."""
        return backend.get_array_module(self.array)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.dtype not in (backend.get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------------ conversions
    def numpy(self):
        """The data as a NumPy array (shared on the CPU, copied from a GPU)."""
        return self.array if self.device == "cpu" else self.array.get()

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item: only a tensor with one element converts to a Python number, got shape {self.shape}")
        return self.array.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def to(self, *args, device=None, dtype=None):
        """``t.to("cuda")``, ``t.to(md.float64)`` or ``t.to(device=..., dtype=...)``; differentiable."""
        device, dtype = backend.split_device_and_dtype(args, device, dtype)
        out = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = F.cast(out, dtype)
        if device is not None and backend.check_device(device) != self.device:
            out = F.to_device(out, device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    # ------------------------------------------------------------------ operators
    def __add__(self, other):
        return F.add(self, other)

    def __radd__(self, other):
        return F.add(other, self)

    def __sub__(self, other):
        return F.sub(self, other)

    def __rsub__(self, other):
        return F.sub(other, self)

    def __mul__(self, other):
        return F.mul(self, other)

    def __rmul__(self, other):
        return F.mul(other, self)

    def __truediv__(self, other):
        return F.div(self, other)

    def __rtruediv__(self, other):
        return F.div(other, self)

    def __pow__(self, other):
        return F.pow(self, other)

    def __rpow__(self, other):
        return F.pow(other, self)

    def __matmul__(self, other):
        return F.matmul(self, other)

    def __rmatmul__(self, other):
        return F.matmul(other, self)

    def __neg__(self):
        return F.neg(self)

    def __abs__(self):
        return F.abs(self)

    def __eq__(self, other):
        return F.eq(self, other)

    def __ne__(self, other):
        return F.ne(self, other)

    def __lt__(self, other):
        return F.lt(self, other)

    def __le__(self, other):
        return F.le(self, other)

    def __gt__(self, other):
        return F.gt(self, other)

    def __ge__(self, other):
        return F.ge(self, other)

    def __getitem__(self, index):
        return F.getitem(self, index)

    def __setitem__(self, index, value):
        """``x[index] = value``, in place; recorded in the graph when grad flows (see ``_apply_inplace``)."""
        inplace.setitem(self, index, value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ------------------------------------------------------------------ in-place (minidl/inplace.py)
    def _apply_inplace(self, op_name, function, *args, **kwargs):
        """Write ``function(self, *args, **kwargs)`` into this tensor and return it, with
        PyTorch's in-place rules (leaf check, graph rewiring, version counter)."""
        return inplace.apply_inplace(self, op_name, function, *args, **kwargs)

    def add(self, other, alpha=1):
        """self + alpha * other."""
        return F.add(self, other if alpha == 1 else F.mul(other, alpha))

    def sub(self, other, alpha=1):
        """self - alpha * other."""
        return F.sub(self, other if alpha == 1 else F.mul(other, alpha))

    def mul(self, other):
        return F.mul(self, other)

    def div(self, other):
        return F.div(self, other)

    def neg(self):
        return F.neg(self)

    def add_(self, other, alpha=1):
        return self._apply_inplace("add_", Tensor.add, other, alpha=alpha)

    def sub_(self, other, alpha=1):
        return self._apply_inplace("sub_", Tensor.sub, other, alpha=alpha)

    def mul_(self, other):
        return self._apply_inplace("mul_", F.mul, other)

    def div_(self, other):
        return self._apply_inplace("div_", F.div, other)

    def pow_(self, exponent):
        return self._apply_inplace("pow_", F.pow, exponent)

    def neg_(self):
        return self._apply_inplace("neg_", F.neg)

    def abs_(self):
        return self._apply_inplace("abs_", F.abs)

    def exp_(self):
        return self._apply_inplace("exp_", F.exp)

    def log_(self):
        return self._apply_inplace("log_", F.log)

    def sqrt_(self):
        return self._apply_inplace("sqrt_", F.sqrt)

    def copy_(self, src):
        """Copy ``src`` (broadcast, cast to this dtype) into this tensor; differentiable in ``src``."""
        return self._apply_inplace("copy_", _broadcast_copy, src)

    def fill_(self, value):
        """Set every element to ``value`` (a number or a 0-d tensor)."""
        return self._apply_inplace("fill_", _broadcast_copy, value)

    def zero_(self):
        """Set every element to 0."""
        return self.fill_(0)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_

    # ------------------------------------------------------------------ methods (see F)
    # The reductions also take NumPy's ``axis=`` and ``keepdims=`` (``numpy_names``), as torch.
    def sum(self, dim=None, keepdim=False, **numpy_names):
        return F.sum(self, dim, keepdim, **numpy_names)

    def mean(self, dim=None, keepdim=False, **numpy_names):
        return F.mean(self, dim, keepdim, **numpy_names)

    def max(self, dim=None, keepdim=False, **numpy_names):
        return F.max(self, dim, keepdim, **numpy_names)

    def min(self, dim=None, keepdim=False, **numpy_names):
        return F.min(self, dim, keepdim, **numpy_names)

    def amax(self, dim=None, keepdim=False, **numpy_names):
        return F.amax(self, dim, keepdim, **numpy_names)

    def amin(self, dim=None, keepdim=False, **numpy_names):
        return F.amin(self, dim, keepdim, **numpy_names)

    def argmax(self, dim=None, keepdim=False, **numpy_names):
        return F.argmax(self, dim, keepdim, **numpy_names)

    def argmin(self, dim=None, keepdim=False, **numpy_names):
        return F.argmin(self, dim, keepdim, **numpy_names)

    def var(self, dim=None, correction=None, keepdim=False, **names):
        return F.var(self, dim, correction, keepdim, **names)

    def std(self, dim=None, correction=None, keepdim=False, **names):
        return F.std(self, dim, correction, keepdim, **names)

    def prod(self, dim=None, keepdim=False, **names):
        return F.prod(self, dim, keepdim, **names)

    def cumsum(self, dim=None, **names):
        return F.cumsum(self, dim, **names)

    def all(self, dim=None, keepdim=False, **numpy_names):
        return F.all(self, dim, keepdim, **numpy_names)

    def any(self, dim=None, keepdim=False, **numpy_names):
        return F.any(self, dim, keepdim, **numpy_names)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return F.norm(self, p, dim, keepdim, dtype)

    def logsumexp(self, dim=None, keepdim=False, **numpy_names):
        return F.logsumexp(self, dim, keepdim, **numpy_names)

    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def sin(self):
        return F.sin(self)

    def cos(self):
        return F.cos(self)

    def log1p(self):
        return F.log1p(self)

    def erf(self):
        return F.erf(self)

    def expm1(self):
        return F.expm1(self)

    def square(self):
        return F.square(self)

    def round(self, decimals=0):
        return F.round(self, decimals)

    def eq(self, other):
        return F.eq(self, other)

    def ne(self, other):
        return F.ne(self, other)

    def lt(self, other):
        return F.lt(self, other)

    def le(self, other):
        return F.le(self, other)

    def gt(self, other):
        return F.gt(self, other)

    def ge(self, other):
        return F.ge(self, other)

    def equal(self, other):
        return F.equal(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return F.allclose(self, other, rtol, atol, equal_nan)

    def clamp(self, min=None, max=None):
        return F.clamp(self, min, max)

    clip = clamp

    def pow(self, exponent):
        return F.pow(self, exponent)

    def matmul(self, other):
        return F.matmul(self, other)

    def mm(self, mat2):
        return F.mm(self, mat2)

    def mv(self, vec):
        return F.mv(self, vec)

    def dot(self, other):
        return F.dot(self, other)

    def reshape(self, *shape):
        return F.reshape(self, _shape_args(shape))

    def view(self, *shape):
        return F.reshape(self, _shape_args(shape))

    def view_as(self, other):
        return F.reshape(self, other.shape)

    def expand(self, *sizes):
        return F.expand(self, _shape_args(sizes))

    def expand_as(self, other):
        return F.expand(self, other.shape)

    def split(self, split_size_or_sections, dim=0):
        return F.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return F.chunk(self, chunks, dim)

    def sort(self, dim=-1, descending=False, stable=False):
        return F.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return F.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return F.topk(self, k, dim, largest, sorted)

    def transpose(self, dim0, dim1):
        return F.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return F.permute(self, _shape_args(dims))

    @property
    def T(self):
        return F.permute(self, tuple(reversed(range(self.ndim))))

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self.T

    def squeeze(self, dim=None):
        return F.squeeze(self, dim)

    def unsqueeze(self, dim):
        return F.unsqueeze(self, dim)

    def flatten(self, start_dim=0, end_dim=-1):
        return F.flatten(self, start_dim, end_dim)

    def relu(self):
        return F.relu(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def tanh(self):
        return F.tanh(self)

    def softmax(self, dim):
        return F.softmax(self, dim)

    def log_softmax(self, dim):
        return F.log_softmax(self, dim)

    def clone(self):
        return F.clone(self)

    def contiguous(self):
        return F.contiguous(self)

    def repeat(self, *sizes):
        return F.repeat(self, _shape_args(sizes))

    def masked_fill(self, mask, value):
        return F.masked_fill(self, mask, value)

    def index_select(self, dim, index):
        return F.index_select(self, dim, index)

    def gather(self, dim, index):
        return F.gather(self, dim, index)

    @property
    def mT(self):
        """The last two dims swapped: each matrix of a batch transposed."""
        if self.ndim < 2:
            raise ValueError(f"mT: expects a matrix or a batch of matrices (>= 2 dims), got shape {self.shape}")
        return F.transpose(self, -2, -1)

    def relu_(self):
        return self._apply_inplace("relu_", F.relu)

    def sigmoid_(self):
        return self._apply_inplace("sigmoid_", F.sigmoid)

    def tanh_(self):
        return self._apply_inplace("tanh_", F.tanh)

    def clamp_(self, min=None, max=None):
        return self._apply_inplace("clamp_", F.clamp, min, max)

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        return self._apply_inplace("masked_fill_", F.masked_fill, mask, value)

    # ------------------------------------------------------------------ dtypes and new tensors
    # torch's legacy type names: ``x.type()`` is 'torch.FloatTensor' for a float32 CPU tensor.
    _TYPE_NAMES = {
        np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor", np.dtype(np.float16): "HalfTensor",
        np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
        np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor", np.dtype(np.bool_): "BoolTensor",
    }

    def type(self, dtype=None):
        """With no argument, torch's type name ('torch.FloatTensor', 'torch.cuda.LongTensor', ...);
        with a dtype or such a name, the tensor converted to it (as ``.to``: differentiable)."""
        prefix = "torch.cuda." if self.device == "cuda" else "torch."
        if dtype is None:
            return prefix + self._TYPE_NAMES[self.dtype]
        if not isinstance(dtype, str):
            return self.to(dtype)
        dtypes_by_name = {name: known for known, name in self._TYPE_NAMES.items()}
        device = "cuda" if dtype.startswith("torch.cuda.") else "cpu"
        name = dtype.removeprefix("torch.cuda." if device == "cuda" else "torch.")
        if not dtype.startswith("torch.") or name not in dtypes_by_name:
            raise ValueError(f"type: invalid type {dtype!r}; expected a dtype or a name such as 'torch.FloatTensor'")
        return self.to(device, dtypes_by_name[name])

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new leaf holding a copy of ``data``, with this tensor's dtype and device unless given."""
        return tensor(data, **self._new_options(dtype, device, requires_grad))

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of ``size``, with this tensor's dtype and device unless given."""
        return creation.zeros(*size, **self._new_options(dtype, device, requires_grad))

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones of ``size``, with this tensor's dtype and device unless given."""
        return creation.ones(*size, **self._new_options(dtype, device, requires_grad))

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``fill_value`` everywhere in ``size``, with this tensor's dtype and device unless given."""
        return creation.full(size, fill_value, **self._new_options(dtype, device, requires_grad))

    def _new_options(self, dtype, device, requires_grad):
        """The keyword arguments of a ``new_*`` factory: this tensor's dtype and device by default."""
        dtype = self.dtype if dtype is None else dtype
        return {"dtype": dtype, "device": device or self.device, "requires_grad": requires_grad}


def _broadcast_copy(old, src):
    """``src`` broadcast to ``old``'s shape in ``old``'s dtype (what ``copy_``/``fill_`` write)."""
    if not isinstance(src, Tensor):
        src = Tensor(as_array(src, dtype=old.dtype, device=old.device))
    return F.expand(src.to(old.dtype), old.shape)


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new leaf tensor holding a copy of ``data`` (like ``torch.tensor``)."""
    return Tensor(as_array(data, dtype, device, copy=True), requires_grad=requires_grad)


# The ops are written in terms of Tensor, so they are imported after it is defined.
from minidl import autograd  # noqa: E402
from minidl import creation  # noqa: E402
from minidl import functional as F  # noqa: E402
from minidl import inplace  # noqa: E402
