"""The Tensor: an array (``.data``) plus what autograd needs (``requires_grad``, ``grad``, ``grad_fn``).

Every method that computes something is a one-line call into ``minidl.functional`` (``F``),
where the differentiable ops live; this file only holds the object and its conversions.
"""
import numbers

import numpy as np

from minidl import backend

_PYTHON_SCALARS = (bool, numbers.Integral, numbers.Real)


def as_array(data, dtype=None, device=None, copy=False):
    """Turn ``data`` (Tensor, NumPy/CuPy array, scalar or nested list) into an array.

    Python floats become the default dtype (float32 unless changed), Python ints int64 and
    bools bool, as in PyTorch; arrays keep their dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        data = data.data
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

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = as_array(data, dtype, device)
        self.grad = None
        self.grad_fn = None
        self.output_index = 0
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, array, node, index):
        """The output ``index`` of an op, recorded as ``node`` (None when not recorded)."""
        out = Tensor.__new__(Tensor)
        if isinstance(array, np.generic):  # NumPy reductions return scalars; keep 0-d arrays
            array = np.asarray(array)
        out.data, out.grad, out.grad_fn, out.output_index = array, None, node, index
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

    def backward(self, gradient=None, retain_graph=False):
        """Fill ``.grad`` of every leaf this tensor depends on (see ``minidl.autograd``)."""
        autograd.backward(self, gradient, retain_graph)

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def zero_(self):
        """Fill with zeros, in place."""
        self.data[...] = 0
        return self

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return int(self.data.size)

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def xp(self):
        """The array module of ``.data``: numpy or cupy."""
        return backend.get_array_module(self.data)

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
        return self.data if self.device == "cpu" else self.data.get()

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element converts to a Python number, got shape {self.shape}")
        return self.data.reshape(()).item()

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
        """In-place assignment into the data; not recorded, so refused while grad is tracked."""
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                "setitem: in-place assignment into a tensor that requires grad is not differentiable; "
                "do it inside md.no_grad() or build a new tensor"
            )
        self.data[F.unwrap_index(index)] = value.data if isinstance(value, Tensor) else value

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ------------------------------------------------------------------ methods (see F)
    def sum(self, dim=None, keepdim=False):
        return F.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return F.mean(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return F.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return F.min(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return F.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return F.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return F.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return F.argmin(self, dim, keepdim)

    def var(self, dim=None, correction=1, keepdim=False):
        return F.var(self, dim, correction=correction, keepdim=keepdim)

    def std(self, dim=None, correction=1, keepdim=False):
        return F.std(self, dim, correction=correction, keepdim=keepdim)

    def logsumexp(self, dim, keepdim=False):
        return F.logsumexp(self, dim, keepdim)

    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def clamp(self, min=None, max=None):
        return F.clamp(self, min, max)

    clip = clamp

    def pow(self, exponent):
        return F.pow(self, exponent)

    def matmul(self, other):
        return F.matmul(self, other)

    def reshape(self, *shape):
        return F.reshape(self, _shape_args(shape))

    def view(self, *shape):
        return F.reshape(self, _shape_args(shape))

    def expand(self, *sizes):
        return F.expand(self, _shape_args(sizes))

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


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new leaf tensor holding a copy of ``data`` (like ``torch.tensor``)."""
    return Tensor(as_array(data, dtype, device, copy=True), requires_grad=requires_grad)


# The ops are written in terms of Tensor, so they are imported after it is defined.
from minidl import autograd  # noqa: E402
from minidl import functional as F  # noqa: E402
