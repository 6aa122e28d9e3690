"""Containers: modules that hold other modules or parameters and register them, so that
``parameters()``, ``state_dict()`` and ``to()`` of the model that owns them find what is inside
(a plain Python list or dict would hide it).

- Sequential: runs its modules in order.  ModuleList, ModuleDict: a list / dict of modules.
- ParameterList, ParameterDict: a list / dict of Parameters.

Each is registered under PyTorch's names ("0", "1", ... or the dict keys), so a torch
state_dict loads as it is: ``blocks.0.weight``, ``heads.cls.bias``, ``scales.1``, ``bias.q``.
"""
import collections
import operator
from collections.abc import Iterable, Mapping

from minidl.nn.module import Module, Parameter
from minidl.tensor import Tensor


def _position(container, index, length, what):
    """``index`` (negative counts from the end) as a position in [0, length), or IndexError."""
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f"{container}: index {index} is out of range for {length} {what}")
    return index % length


def _as_parameter(value):
    """A Tensor put into a ParameterList/Dict becomes a Parameter (sharing its data), as in
    PyTorch; Parameters and other objects are kept as they are."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) else value


def _pairs(method, items):
    """The (key, value) pairs of ``items``: a mapping or a ModuleDict/ParameterDict (its items,
    in order), or an iterable of 2-element pairs such as ``[("conv", conv), ("pool", pool)]``."""
    if isinstance(items, (Mapping, ModuleDict, ParameterDict)):
        return list(items.items())
    if not isinstance(items, Iterable):
        raise TypeError(
            f"{method}: expected a mapping or an iterable of (key, value) pairs, got {type(items).__name__}"
        )
    pairs = []
    for position, pair in enumerate(items):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{method}: element #{position} should be a (key, value) pair, got {type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{method}: element #{position} should be a (key, value) pair, got length {len(pair)}")
        pairs.append(pair)
    return pairs


def _describe(key, value):
    """One line of a ParameterList/Dict repr: ``  (0): Parameter containing: [float32 of size 3x4]``."""
    if isinstance(value, Tensor):
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        device = "" if value.device == "cpu" else f" ({value.device})"
        size = "x".join(str(n) for n in value.shape)
        return f"  ({key}): {kind} containing: [{value.dtype} of size {size}{device}]"
    return f"  ({key}): Object of type: {type(value).__name__}"


class _Indexed(Module):
    """Children stored under the names "0", "1", ... (or any names, for Sequential) and
    reached by position."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _key(self, index):
        """The name of the child at position ``index`` (negative counts from the end)."""
        return list(self._modules)[_position(type(self).__name__, index, len(self), "modules")]

    def __setitem__(self, index, module):
        """``container[i] = module`` replaces the child at position ``i`` (keeping its name)."""
        self.add_module(self._key(index), module)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(_Indexed):
    """Run modules one after the other: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``.

    Children are named "0", "1", ..., or by the keys of an ``OrderedDict`` given instead.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for module in modules:
                self.append(module)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(collections.OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def forward(self, input):
        for module in self:
            input = module(input)
        return input


class ModuleList(_Indexed):
    """A list of modules whose parameters the parent module finds (a plain list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or [])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self)[index])
        return self._modules[self._key(index)]

    def extend(self, modules):
        """Append each of ``modules``; returns self."""
        for module in modules:
            self.append(module)
        return self


class ModuleDict(Module):
    """A dict of modules, registered under their keys in insertion order:

        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 10), "box": nn.Linear(8, 4)})
        logits = self.heads["cls"](x)

    Works like a dict: ``d[key]``, ``d[key] = module``, ``del d[key]``, ``key in d``, ``len``,
    iteration over the keys, ``keys() items() values() update() pop() clear()``.
    It has no ``forward``: call the modules inside it.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add or replace the modules of ``modules`` (a mapping or (key, module) pairs), in its order."""
        for key, module in _pairs("ModuleDict.update", modules):
            self[key] = module

    def pop(self, key):
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self):
        self._modules.clear()


class ParameterList(Module):
    """A list of Parameters, registered as "0", "1", ... (``model.scales.0`` in a state_dict):

        self.scales = nn.ParameterList([nn.Parameter(md.ones(4)) for _ in range(3)])

    A Tensor appended or assigned becomes a Parameter (``requires_grad=True``), as in PyTorch.
    Indexing (negative and slices), ``len``, iteration, ``append``, ``extend`` and ``+=``.
    """

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _name(self, index):
        return str(_position("ParameterList", index, len(self), "parameters"))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self[i] for i in range(*index.indices(len(self))))
        return getattr(self, self._name(index))

    def __setitem__(self, index, value):
        setattr(self, self._name(index), _as_parameter(value))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        """Add ``value`` at the end; returns self."""
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        """Append each of ``values`` (an iterable, not a single Tensor); returns self."""
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend: expected an iterable of parameters, got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(_describe(i, value) for i, value in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called: index it, or iterate over it")


class ParameterDict(Module):
    """A dict of Parameters, registered under their keys (``model.bias.q`` in a state_dict):

        self.bias = nn.ParameterDict({"q": nn.Parameter(md.zeros(8)), "k": nn.Parameter(md.zeros(8))})

    A Tensor put in becomes a Parameter.  Keys are strings without ".".  Works like a dict:
    ``d[key]``, assignment, ``del``, ``in``, ``len``, iteration over the keys, ``keys() items()
    values() get() pop() popitem() setdefault() update() copy() clear()``.  As in PyTorch,
    ``update`` with a plain dict (and the constructor) adds its items in sorted key order; an
    ``OrderedDict``, another ParameterDict or a list of pairs keeps its own order.
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(f"ParameterDict: no key {key!r}; the keys are {list(self._keys)}")
        return getattr(self, key)

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {type(key).__name__} {key!r}")
        setattr(self, key, _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def values(self):
        return (self[key] for key in self._keys)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        """``self[key]``, after setting it to ``default`` if the key is missing."""
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        """Remove ``key`` and return its parameter."""
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        """Remove and return the last inserted (key, parameter) pair."""
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def update(self, parameters):
        """Add or replace the items of ``parameters`` (a mapping or (key, value) pairs)."""
        pairs = _pairs("ParameterDict.update", parameters)
        if isinstance(parameters, Mapping) and not isinstance(parameters, collections.OrderedDict):
            pairs = sorted(pairs, key=lambda pair: pair[0])
        for key, value in pairs:
            self[key] = value

    def copy(self):
        """A new ParameterDict holding the same parameters, in the same order."""
        return ParameterDict(collections.OrderedDict(self.items()))

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def extra_repr(self):
        return "\n".join(_describe(key, value) for key, value in self.items())

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called: index it with a key")
