"""One entry per differentiable op: how to draw its inputs and how to call it in minidl and torch.

A case is a function ``(draw, rng) -> (inputs, minidl_fn, torch_fn)``: ``draw`` is hypothesis'
``data.draw`` (shapes, dims, flags), ``rng`` a seeded NumPy generator for the values.  The tests in
``test_ops.py`` turn every case into a torch-parity test (float64 and float32) and a gradcheck.
"""
import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
import minidl.functional as F

CASES = {}
NOT_GRADCHECKED = set()  # ops whose gradient is checked against torch only (see their case)


def case(name, gradcheck=True):
    def register(fn):
        CASES[name] = fn
        if not gradcheck:
            NOT_GRADCHECKED.add(name)
        return fn

    return register


# ----------------------------------------------------------------------------- value helpers
def shape(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))


def broadcast_pair(draw, max_dims=3):
    return draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=4)).input_shapes


def normal(rng, shape):
    return np.asarray(rng.standard_normal(shape))


def positive(rng, shape):
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def away_from_zero(rng, shape):
    """Values with |x| >= 0.1, so kinks at 0 (abs, relu) stay out of the central differences."""
    x = normal(rng, shape)
    return np.where(x >= 0, x + 0.1, x - 0.1)


def dim_of(draw, ndim):
    return draw(st.integers(-ndim, ndim - 1)) if ndim else draw(st.sampled_from([0, -1]))


def dims_of(draw, ndim):
    """None, one dim or a tuple of distinct dims (negative ones included)."""
    if ndim == 0:
        return draw(st.sampled_from([None, 0]))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    signed = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    return draw(st.sampled_from([None, signed[0], signed]))


# ----------------------------------------------------------------------------- arithmetic
def _binary(name, md_fn, torch_fn, left=normal, right=normal):
    @case(name)
    def build(draw, rng):
        a, b = broadcast_pair(draw)
        return [left(rng, a), right(rng, b)], md_fn, torch_fn


_binary("add", lambda a, b: a + b, lambda a, b: a + b)
_binary("sub", lambda a, b: a - b, lambda a, b: a - b)
_binary("mul", lambda a, b: a * b, lambda a, b: a * b)
_binary("div", lambda a, b: a / b, lambda a, b: a / b, right=away_from_zero)
_binary("pow", lambda a, b: a**b, lambda a, b: a**b, left=positive)


@case("scalar_ops")
def _scalar_ops(draw, rng):
    """Python numbers on either side: x + 2.5, 3 - x, -1.5 * x, 2 / x, x ** 2, 2 ** x."""
    op = draw(st.sampled_from(["radd", "rsub", "rmul", "rdiv", "pow2", "rpow", "sqrt_pow"]))
    fn = {
        "radd": lambda x: x + 2.5,
        "rsub": lambda x: 3 - x,
        "rmul": lambda x: -1.5 * x,
        "rdiv": lambda x: 2 / x,
        "pow2": lambda x: x**2,
        "rpow": lambda x: 2**x,
        "sqrt_pow": lambda x: x**0.5,
    }[op]
    return [positive(rng, shape(draw))], fn, fn


def _unary(name, md_fn, torch_fn, values=normal):
    @case(name)
    def build(draw, rng):
        return [values(rng, shape(draw))], md_fn, torch_fn


_unary("neg", lambda x: -x, lambda x: -x)
_unary("exp", F.exp, torch.exp)
_unary("log", F.log, torch.log, positive)
_unary("sqrt", F.sqrt, torch.sqrt, positive)
_unary("abs", F.abs, torch.abs, away_from_zero)
_unary("relu", F.relu, torch.relu, away_from_zero)
_unary("sigmoid", F.sigmoid, torch.sigmoid)
_unary("tanh", F.tanh, torch.tanh)
_unary("silu", F.silu, TF.silu)


@case("clamp")
def _clamp(draw, rng):
    low, high = draw(st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.2, None)]))
    x = normal(rng, shape(draw))
    x = np.where(np.abs(x - (low or 0)) < 0.05, x + 0.1, x)  # keep values off the bounds
    x = np.where(np.abs(x - (high or 0)) < 0.05, x + 0.1, x)
    return [x], lambda t: F.clamp(t, low, high), lambda t: torch.clamp(t, low, high)


@case("where")
def _where(draw, rng):
    a, b = broadcast_pair(draw)
    condition = rng.random(np.broadcast_shapes(a, b)) > 0.5
    return (
        [normal(rng, a), normal(rng, b)],
        lambda x, y: F.where(md.tensor(condition), x, y),
        lambda x, y: torch.where(torch.tensor(condition), x, y),
    )


# ----------------------------------------------------------------------------- reductions
def _reduction(name, md_fn, torch_fn, min_side=1):
    @case(name)
    def build(draw, rng):
        s = shape(draw, min_side=min_side)
        dim, keepdim = dims_of(draw, len(s)), draw(st.booleans())
        if dim is None:
            return [normal(rng, s)], lambda x: md_fn(x, None, False), lambda x: torch_fn(x, None, False)
        return [normal(rng, s)], lambda x: md_fn(x, dim, keepdim), lambda x: torch_fn(x, dim, keepdim)


_reduction("sum", F.sum, lambda x, d, k: x.sum() if d is None else x.sum(d, keepdim=k))
_reduction("mean", F.mean, lambda x, d, k: x.mean() if d is None else x.mean(d, keepdim=k))
_reduction("amax", F.amax, lambda x, d, k: x.amax() if d is None else x.amax(d, keepdim=k))
_reduction("amin", F.amin, lambda x, d, k: x.amin() if d is None else x.amin(d, keepdim=k))
_reduction("logsumexp", lambda x, d, k: F.logsumexp(x, d if d is not None else tuple(range(x.ndim)), k),
           lambda x, d, k: torch.logsumexp(x, d if d is not None else tuple(range(x.ndim)), k))


@case("var_std")
def _var_std(draw, rng):
    s = shape(draw, min_dims=1, min_side=2)
    dim, keepdim = dims_of(draw, len(s)), draw(st.booleans())
    correction = draw(st.sampled_from([0, 1]))
    name = draw(st.sampled_from(["var", "std"]))
    md_fn, torch_fn = getattr(F, name), getattr(torch, name)
    if dim is None:
        keepdim = False
    return (
        [normal(rng, s)],
        lambda x: md_fn(x, dim, correction=correction, keepdim=keepdim),
        lambda x: torch_fn(x, dim, correction=correction, keepdim=keepdim),
    )


@case("max_min")
def _max_min(draw, rng):
    """max()/min() of everything, or the (values, indices) pair along one dim."""
    s = shape(draw)
    name = draw(st.sampled_from(["max", "min"]))
    if draw(st.booleans()):
        return [normal(rng, s)], getattr(F, name), getattr(torch, name)
    dim, keepdim = dim_of(draw, len(s)), draw(st.booleans())
    return (
        [normal(rng, s)],
        lambda x: tuple(getattr(F, name)(x, dim, keepdim)),
        lambda x: tuple(getattr(torch, name)(x, dim, keepdim)),
    )


@case("reductions_numpy_names")
def _numpy_names(draw, rng):
    """``axis=`` / ``keepdims=`` (NumPy's names, accepted by torch), as method or function."""
    s = shape(draw, min_dims=1, min_side=2)
    name = draw(st.sampled_from(["sum", "mean", "amax", "amin", "logsumexp", "var", "std", "max", "min"]))
    options = {"axis": dim_of(draw, len(s))}
    if draw(st.booleans()):
        options["keepdims"] = draw(st.booleans())
    as_method = draw(st.booleans())

    def call(module, x):
        out = getattr(x, name)(**options) if as_method else getattr(module, name)(x, **options)
        return tuple(out) if name in ("max", "min") else out

    return [normal(rng, s)], lambda x: call(md, x), lambda x: call(torch, x)


# ----------------------------------------------------------------------------- shapes
@case("reshape_view")
def _reshape(draw, rng):
    s = shape(draw)
    target = tuple(reversed(s)) if draw(st.booleans()) else (-1,)
    method = draw(st.sampled_from(["reshape", "view"]))
    return [normal(rng, s)], lambda x: getattr(x, method)(target), lambda x: getattr(x, method)(target)


@case("transpose_permute")
def _permute(draw, rng):
    s = shape(draw, min_dims=1)
    perm = draw(st.permutations(range(len(s))))
    d0, d1 = dim_of(draw, len(s)), dim_of(draw, len(s))
    if draw(st.booleans()):
        return [normal(rng, s)], lambda x: x.permute(*perm), lambda x: x.permute(*perm)
    return [normal(rng, s)], lambda x: x.transpose(d0, d1), lambda x: x.transpose(d0, d1)


@case("matrix_T")
def _matrix_t(draw, rng):
    s = shape(draw, min_dims=1, max_dims=2)
    return [normal(rng, s)], lambda x: x.T, lambda x: x.T


@case("squeeze_unsqueeze_flatten")
def _squeeze(draw, rng):
    s = shape(draw, max_side=2)  # plenty of size-1 axes
    ndim = len(s)
    op = draw(st.sampled_from(["squeeze_all", "squeeze_dim", "unsqueeze", "flatten"]))
    if op == "squeeze_all":
        return [normal(rng, s)], lambda x: x.squeeze(), lambda x: x.squeeze()
    if op == "squeeze_dim":
        dim = dim_of(draw, ndim)
        return [normal(rng, s)], lambda x: x.squeeze(dim), lambda x: x.squeeze(dim)
    if op == "unsqueeze":
        dim = draw(st.integers(-ndim - 1, ndim))
        return [normal(rng, s)], lambda x: x.unsqueeze(dim), lambda x: x.unsqueeze(dim)
    start = dim_of(draw, ndim)
    end = draw(st.integers(start % max(ndim, 1), max(ndim - 1, 0))) if ndim else -1
    return [normal(rng, s)], lambda x: x.flatten(start, end), lambda x: x.flatten(start, end)


@case("expand")
def _expand(draw, rng):
    target, s = broadcast_pair(draw)
    target = np.broadcast_shapes(target, s)
    return [normal(rng, s)], lambda x: x.expand(target), lambda x: x.expand(target)


@case("cat_stack")
def _cat(draw, rng):
    s = shape(draw, min_dims=1)
    dim = dim_of(draw, len(s))
    count = draw(st.integers(1, 3))
    if draw(st.booleans()):
        inputs = [normal(rng, s) for _ in range(count)]
        return inputs, lambda *xs: F.stack(xs, dim), lambda *xs: torch.stack(xs, dim)
    sizes = [draw(st.integers(1, 3)) for _ in range(count)]
    axis = dim % len(s)
    inputs = [normal(rng, s[:axis] + (n,) + s[axis + 1 :]) for n in sizes]
    return inputs, lambda *xs: F.cat(xs, dim), lambda *xs: torch.cat(xs, dim)


@case("getitem")
def _getitem(draw, rng):
    """Basic slicing with steps, negative ints, None and Ellipsis; integer arrays with repeats;
    boolean masks."""
    kind = draw(st.sampled_from(["basic", "integer_array", "boolean_mask"]))
    x = normal(rng, (4, 3, 2))
    if kind == "basic":
        index = draw(st.sampled_from([(slice(1, None, 2), -1), (Ellipsis, 0), (None, slice(None), 1), (2,)]))
        return [x], lambda t: t[index], lambda t: t[index]
    if kind == "integer_array":
        rows = rng.integers(0, 4, size=5)  # repeats accumulate in the backward
        cols = rng.integers(0, 3, size=5)
        return (
            [x],
            lambda t: t[md.tensor(rows), md.tensor(cols)],
            lambda t: t[torch.tensor(rows), torch.tensor(cols)],
        )
    mask = rng.random((4, 3)) > 0.5
    return [x], lambda t: t[md.tensor(mask)], lambda t: t[torch.tensor(mask)]


@case("clone_contiguous_mT")
def _clone(draw, rng):
    s = shape(draw, min_dims=2)
    fn = draw(st.sampled_from([lambda x: x.clone(), lambda x: x.mT, lambda x: x.mT.contiguous(), lambda x: x.contiguous()]))
    return [normal(rng, s)], fn, fn


@case("repeat")
def _repeat(draw, rng):
    s = shape(draw, max_side=3)
    repeats = tuple(draw(st.lists(st.integers(0, 3), min_size=max(len(s), 1), max_size=len(s) + 2)))
    return [normal(rng, s)], lambda x: x.repeat(*repeats), lambda x: x.repeat(*repeats)


@case("masked_fill")
def _masked_fill(draw, rng):
    """The mask broadcasts with the input; the value is a number or a 0-d tensor (differentiable)."""
    a, b = broadcast_pair(draw)
    mask = rng.random(b) > 0.5
    if draw(st.booleans()):
        return (
            [normal(rng, a)],
            lambda x: x.masked_fill(md.tensor(mask), -1.5),
            lambda x: x.masked_fill(torch.tensor(mask), -1.5),
        )
    return (
        [normal(rng, a), normal(rng, ())],
        lambda x, v: x.masked_fill(md.tensor(mask), v),
        lambda x, v: x.masked_fill(torch.tensor(mask), v),
    )


@case("index_select")
def _index_select(draw, rng):
    s = shape(draw, min_dims=1)
    dim = dim_of(draw, len(s))
    index = rng.integers(0, s[dim], size=draw(st.sampled_from([(), (0,), (1,), (5,)])))  # repeats accumulate
    return (
        [normal(rng, s)],
        lambda x: x.index_select(dim, md.tensor(index)),
        lambda x: x.index_select(dim, torch.tensor(index)),
    )


@case("gather")
def _gather(draw, rng):
    s = shape(draw, min_dims=1)
    dim = dim_of(draw, len(s))
    index_shape = tuple(draw(st.integers(1, 4)) if d == dim % len(s) else draw(st.integers(1, n)) for d, n in enumerate(s))
    index = rng.integers(0, s[dim], size=index_shape)
    return (
        [normal(rng, s)],
        lambda x: F.gather(x, dim, md.tensor(index)),
        lambda x: torch.gather(x, dim, torch.tensor(index)),
    )


def _pad_sizes(draw, mode, n):
    """A (left, right) pad for a dim of size n that ``mode`` accepts; negative sizes crop (not for
    reflect: torch's reflect backward with negative pads returns uninitialised memory)."""
    low = {"constant": -n, "reflect": 0}.get(mode, -(n - 1))
    high = {"constant": 2, "replicate": 3, "reflect": n - 1, "circular": n}[mode]
    left = draw(st.integers(low, high))
    if mode == "circular":  # something must be left after cropping, and the pads wrap it at most once
        kept = n - max(-left, 0)
        right = draw(st.integers(-(kept - 1), kept))
        return min(left, kept - max(-right, 0)), right
    smallest = 0 if mode == "constant" else 1  # the other modes keep at least one element
    return left, draw(st.integers(max(low, smallest - n - left), high))


@case("pad")
def _pad(draw, rng):
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    if mode == "constant":
        s = shape(draw, min_dims=1)
        padded = draw(st.integers(1, len(s)))
    else:
        padded = draw(st.integers(1, 3))
        s = shape(draw, min_dims=padded + 1, max_dims=padded + 2, max_side=3)
    pads = tuple(n for d in range(padded) for n in _pad_sizes(draw, mode, s[-1 - d]))
    value = draw(st.sampled_from([None, 1.5])) if mode == "constant" else None
    return [normal(rng, s)], lambda x: F.pad(x, pads, mode, value), lambda x: TF.pad(x, pads, mode, value)


# ----------------------------------------------------------------------------- linear algebra
@case("matmul")
def _matmul(draw, rng):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = broadcast_pair(draw, max_dims=2)
    kind = draw(st.sampled_from(["vec_vec", "vec_mat", "mat_vec", "batched"]))
    shapes = {
        "vec_vec": ((k,), (k,)),
        "vec_mat": ((k,), batch_b + (k, m)),
        "mat_vec": (batch_a + (n, k), (k,)),
        "batched": (batch_a + (n, k), batch_b + (k, m)),
    }[kind]
    return [normal(rng, s) for s in shapes], lambda a, b: a @ b, lambda a, b: a @ b


@case("linear")
def _linear(draw, rng):
    lead = shape(draw, max_dims=2)
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, w = normal(rng, lead + (n_in,)), normal(rng, (n_out, n_in))
    if draw(st.booleans()):
        return [x, w, normal(rng, (n_out,))], F.linear, TF.linear
    return [x, w], F.linear, TF.linear


@case("normalize")
def _normalize(draw, rng):
    s = shape(draw, min_dims=1)
    p = draw(st.sampled_from([2.0, 1.0, 3.0, 0.5, float("inf")]))
    dim = draw(st.sampled_from([dim_of(draw, len(s)), tuple(range(len(s)))]))
    return [away_from_zero(rng, s)], lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim)


# ----------------------------------------------------------------------------- activations
@case("leaky_relu")
def _leaky(draw, rng):
    slope = draw(st.sampled_from([0.01, 0.2, 1.5]))
    return [away_from_zero(rng, shape(draw))], lambda x: F.leaky_relu(x, slope), lambda x: TF.leaky_relu(x, slope)


@case("prelu")
def _prelu(draw, rng):
    s = shape(draw, min_dims=1)
    channels = s[1] if len(s) >= 2 and draw(st.booleans()) else 1
    return [away_from_zero(rng, s), rng.uniform(0.1, 0.5, channels)], F.prelu, TF.prelu


@case("gelu")
def _gelu(draw, rng):
    approximate = draw(st.sampled_from(["none", "tanh"]))
    return [normal(rng, shape(draw))], lambda x: F.gelu(x, approximate), lambda x: TF.gelu(x, approximate=approximate)


@case("softmax_log_softmax")
def _softmax(draw, rng):
    s = shape(draw, min_dims=1)
    dim = dim_of(draw, len(s))
    name = draw(st.sampled_from(["softmax", "log_softmax"]))
    return [3 * normal(rng, s)], lambda x: getattr(F, name)(x, dim), lambda x: getattr(torch, name)(x, dim)


@case("inplace_activations")
def _inplace(draw, rng):
    """In-place activations on a non-leaf (x * 1): written into it, gradients still right."""
    mask = rng.random(3) > 0.5
    name, md_fn, torch_fn = draw(st.sampled_from([
        ("relu_", lambda t: t.relu_(), lambda t: t.relu_()),
        ("sigmoid_", lambda t: t.sigmoid_(), lambda t: t.sigmoid_()),
        ("tanh_", lambda t: t.tanh_(), lambda t: t.tanh_()),
        ("clamp_", lambda t: t.clamp_(-0.5, 0.7), lambda t: t.clamp_(-0.5, 0.7)),
        ("masked_fill_", lambda t: t.masked_fill_(md.tensor(mask), 2.0), lambda t: t.masked_fill_(torch.tensor(mask), 2.0)),
        ("F.relu", lambda t: F.relu(t, inplace=True), lambda t: TF.relu(t, inplace=True)),
        ("F.leaky_relu", lambda t: F.leaky_relu(t, 0.2, True), lambda t: TF.leaky_relu(t, 0.2, True)),
        ("F.silu", lambda t: F.silu(t, inplace=True), lambda t: TF.silu(t, inplace=True)),
        ("nn.ReLU", lambda t: md.nn.ReLU(inplace=True)(t), lambda t: torch.nn.ReLU(inplace=True)(t)),
        ("nn.LeakyReLU", lambda t: md.nn.LeakyReLU(0.1, inplace=True)(t), lambda t: torch.nn.LeakyReLU(0.1, inplace=True)(t)),
        ("nn.SiLU", lambda t: md.nn.SiLU(inplace=True)(t), lambda t: torch.nn.SiLU(inplace=True)(t)),
    ]))
    s = shape(draw, min_dims=1) + (3,)
    x = away_from_zero(rng, s)
    x = np.where(np.abs(x - 0.7) < 0.05, x + 0.1, x)  # keep values off clamp's bounds
    x = np.where(np.abs(x + 0.5) < 0.05, x + 0.1, x)
    return [x], lambda t: md_fn(t * 1), lambda t: torch_fn(t * 1)


# ----------------------------------------------------------------------------- losses
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def _class_problem(draw, rng):
    """Logits (N, C[, d]) and integer targets, some set to an ignore_index."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    extra = draw(st.sampled_from([(), (3,)]))
    target = rng.integers(0, c, size=(n,) + extra)
    return 2 * normal(rng, (n, c) + extra), target, c


@case("cross_entropy_indices")
def _ce_indices(draw, rng):
    logits, target, c = _class_problem(draw, rng)
    weight = rng.uniform(0.5, 2.0, c) if draw(st.booleans()) else None  # class weights: constants
    ignore = int(target.reshape(-1)[0]) if draw(st.booleans()) else -100
    if ignore != -100 and (target != ignore).sum() == 0:
        ignore = -100  # every target ignored gives 0/0 = nan in both libraries
    options = dict(reduction=draw(REDUCTIONS), ignore_index=ignore)

    def md_fn(x):
        return F.cross_entropy(x, md.tensor(target), weight=None if weight is None else md.tensor(weight), **options)

    def torch_fn(x):
        w = None if weight is None else torch.tensor(weight, dtype=x.dtype)
        return TF.cross_entropy(x, torch.tensor(target), weight=w, **options)

    return [logits], md_fn, torch_fn


@case("cross_entropy_probabilities")
def _ce_probabilities(draw, rng):
    logits, _, c = _class_problem(draw, rng)
    target = rng.dirichlet(np.ones(c), size=logits.shape[:1] + logits.shape[2:])
    target = np.moveaxis(target, -1, 1)
    reduction = draw(REDUCTIONS)
    return [logits, target], lambda x, p: F.cross_entropy(x, p, reduction=reduction), lambda x, p: TF.cross_entropy(
        x, p, reduction=reduction
    )


@case("cross_entropy_label_smoothing")
def _ce_smoothing(draw, rng):
    """torch's formula with class indices (with class weights and an ignore_index) and with
    class probabilities (with class weights)."""
    logits, target, c = _class_problem(draw, rng)
    smoothing = draw(st.sampled_from([0.1, 0.5, 1.0]))
    weight = rng.uniform(0.5, 2.0, c) if draw(st.booleans()) else None
    options = dict(reduction=draw(REDUCTIONS), label_smoothing=smoothing)
    if draw(st.booleans()):
        target = np.moveaxis(rng.dirichlet(np.ones(c), size=target.shape), -1, 1)
    elif draw(st.booleans()) and (target != target.reshape(-1)[0]).any():
        options["ignore_index"] = int(target.reshape(-1)[0])

    def md_fn(x):
        w = None if weight is None else md.tensor(weight.astype(x.dtype))
        return F.cross_entropy(x, md.tensor(target.astype(x.dtype) if target.dtype.kind == "f" else target), w, **options)

    def torch_fn(x):
        w = None if weight is None else torch.tensor(weight, dtype=x.dtype)
        return TF.cross_entropy(x, torch.tensor(target, dtype=x.dtype if target.dtype.kind == "f" else None), w, **options)

    return [logits], md_fn, torch_fn


@case("nll_loss")
def _nll(draw, rng):
    logits, target, c = _class_problem(draw, rng)
    reduction = draw(REDUCTIONS)
    return (
        [logits],
        lambda x: F.nll_loss(x, md.tensor(target), reduction=reduction),
        lambda x: TF.nll_loss(x, torch.tensor(target), reduction=reduction),
    )


def _regression_loss(name, md_fn, torch_fn):
    @case(name)
    def build(draw, rng):
        s = shape(draw)
        reduction = draw(REDUCTIONS)
        x = normal(rng, s)
        y = x + away_from_zero(rng, s)  # |x - y| >= 0.1: no kink of l1 inside the differences
        return [x, y], lambda a, b: md_fn(a, b, reduction=reduction), lambda a, b: torch_fn(a, b, reduction=reduction)


_regression_loss("mse_loss", F.mse_loss, TF.mse_loss)
_regression_loss("l1_loss", F.l1_loss, TF.l1_loss)


@case("binary_cross_entropy")
def _bce(draw, rng):
    s = shape(draw)
    reduction = draw(REDUCTIONS)
    weight = rng.uniform(0.5, 2, s) if draw(st.booleans()) else None  # torch: not differentiable

    def md_fn(p, t):
        return F.binary_cross_entropy(p, t, weight=None if weight is None else md.tensor(weight), reduction=reduction)

    def torch_fn(p, t):
        w = None if weight is None else torch.tensor(weight, dtype=p.dtype)
        return TF.binary_cross_entropy(p, t, weight=w, reduction=reduction)

    return [rng.uniform(0.05, 0.95, s), rng.uniform(0, 1, s)], md_fn, torch_fn


@case("binary_cross_entropy_with_logits")
def _bce_logits(draw, rng):
    s = shape(draw, min_dims=1)
    reduction = draw(REDUCTIONS)
    inputs = [3 * normal(rng, s), rng.uniform(0, 1, s)]
    pos_weight = rng.uniform(0.5, 3, s[-1:]) if draw(st.booleans()) else None

    def md_fn(x, t):
        return F.binary_cross_entropy_with_logits(
            x, t, reduction=reduction, pos_weight=None if pos_weight is None else md.tensor(pos_weight)
        )

    def torch_fn(x, t):
        return TF.binary_cross_entropy_with_logits(
            x, t, reduction=reduction, pos_weight=None if pos_weight is None else torch.tensor(pos_weight, dtype=x.dtype)
        )

    return inputs, md_fn, torch_fn


@case("kl_div")
def _kl(draw, rng):
    s = shape(draw, min_dims=1)
    reduction = draw(st.sampled_from(["mean", "sum", "none", "batchmean"]))
    log_target = draw(st.booleans())
    x = np.log(rng.uniform(0.1, 1, s))
    t = rng.uniform(0.1, 1, s)
    t = np.log(t) if log_target else t
    return (
        [x, t],
        lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
        lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
    )


def _embedding(draw, rng, padding_idx):
    num, dim = draw(st.integers(2, 6)), draw(st.integers(1, 3))
    index = rng.integers(0, num, size=shape(draw, max_dims=2))
    return (
        [normal(rng, (num, dim))],
        lambda w: F.embedding(md.tensor(index), w, padding_idx=padding_idx),
        lambda w: TF.embedding(torch.tensor(index), w, padding_idx=padding_idx),
    )


@case("embedding")
def _embedding_plain(draw, rng):
    return _embedding(draw, rng, padding_idx=None)


@case("embedding_padding_idx", gradcheck=False)
def _embedding_padding(draw, rng):
    """The padding row gets no gradient by design, so central differences disagree there."""
    return _embedding(draw, rng, padding_idx=draw(st.sampled_from([0, -1])))


# ----------------------------------------------------------------------------- in-place
# Each in-place op runs on a computed copy (``a * 1``): in-place on a leaf that requires grad
# is an error in both libraries.  The gradient must flow through the old value and the operand.
def _inplace_binary(name, method, left=normal, right=normal, **kwargs):
    @case(name)
    def build(draw, rng):
        a_shape, b_shape = broadcast_pair(draw)
        target = np.broadcast_shapes(a_shape, b_shape)  # in place, the target keeps its shape
        def run(a, b):
            return getattr(a * 1, method)(b, **kwargs)
        return [left(rng, target), right(rng, b_shape)], run, run


_inplace_binary("add_", "add_", alpha=0.5)
_inplace_binary("sub_", "sub_")
_inplace_binary("mul_", "mul_")
_inplace_binary("div_", "div_", right=away_from_zero)
_inplace_binary("pow_", "pow_", left=positive)
_inplace_binary("copy_", "copy_")


def _inplace_unary(name, method, values=normal):
    @case(name)
    def build(draw, rng):
        def run(a):
            return getattr(a * 1, method)()
        return [values(rng, shape(draw))], run, run


_inplace_unary("neg_", "neg_")
_inplace_unary("exp_", "exp_")
_inplace_unary("log_", "log_", values=positive)
_inplace_unary("sqrt_", "sqrt_", values=positive)
_inplace_unary("abs_", "abs_", values=away_from_zero)


@case("iadd_imul")
def _augmented(draw, rng):
    """``y += b; y *= b`` on a computed tensor: the operators are the in-place methods."""
    a_shape, b_shape = broadcast_pair(draw)
    def run(a, b):
        y = a * 1
        y += b
        y *= b
        return y
    return [normal(rng, np.broadcast_shapes(a_shape, b_shape)), normal(rng, b_shape)], run, run


@case("fill_")
def _fill(draw, rng):
    """Filling with a 0-d tensor: the old value gets no gradient, the value gets the sum."""
    def run(a, v):
        return (a * 1).fill_(v) * a
    return [normal(rng, shape(draw)), normal(rng, ())], run, run


def _slice_of(draw, side):
    start = draw(st.integers(0, side - 1))
    return slice(start, draw(st.integers(start + 1, side)))


@case("setitem")
def _setitem(draw, rng):
    """``y[index] = v`` with v broadcast into the indexed block; y keeps the rest of ``a``."""
    s = shape(draw, min_dims=1)
    index = tuple(_slice_of(draw, n) for n in s[: draw(st.integers(1, len(s)))])
    block = np.empty(s)[index].shape
    v_shape = block[draw(st.integers(0, len(block))):]
    def run(a, v):
        y = a * 1
        y[index] = v
        return y * a
    return [normal(rng, s), normal(rng, v_shape)], run, run


@case("setitem_integer_array")
def _setitem_integers(draw, rng):
    s = shape(draw, min_dims=1)
    rows = rng.permutation(s[0])[: draw(st.integers(1, s[0]))]  # no repeats: a defined result
    def run(a, v, lib):
        y = a * 1
        y[lib.tensor(rows)] = v
        return y
    value_shape = (len(rows),) + s[1:]
    return [normal(rng, s), normal(rng, value_shape)], lambda a, v: run(a, v, md), lambda a, v: run(a, v, torch)


@case("inplace_on_view")
def _inplace_view(draw, rng):
    """An in-place op on a view (a row, the transpose) writes into its base, and both the base
    and the view carry the gradient on."""
    s = shape(draw, min_dims=2, max_dims=3)
    row = draw(st.integers(0, s[0] - 1))
    def run(a, b):
        y = a * 1
        y[row].mul_(b[row])
        y.transpose(0, 1).add_(1.5)
        v = y[row]
        v += b[row]
        return y * v
    return [normal(rng, s), normal(rng, s)], run, run


# ----------------------------------------------------------------------------- everyday names (issue 17)
_unary("sin", F.sin, torch.sin)
_unary("cos", lambda x: x.cos(), lambda x: x.cos())
_unary("log1p", F.log1p, torch.log1p, positive)
_unary("erf", F.erf, torch.erf)
_unary("expm1", lambda x: x.expm1(), lambda x: x.expm1())
_unary("square", lambda x: x.square(), torch.square)


@case("round")
def _round(draw, rng):
    """Values k/4 + 1/8 (in units of the last kept decimal) sit between rounding steps: the gradient
    is 0 there (exact halves, rounded to even, are in test_everyday_names.py)."""
    decimals = draw(st.sampled_from([0, 1]))
    x = (np.floor(4 * normal(rng, shape(draw))) / 4 + 0.125) / 10**decimals
    return [x], lambda t: t.round(decimals=decimals), lambda t: t.round(decimals=decimals)


@case("prod")
def _prod(draw, rng):
    """Along one dim or of everything; some exact zeros, so the product of the others is needed."""
    s = shape(draw)
    x = normal(rng, s) * (rng.random(s) > 0.2)
    if draw(st.booleans()):
        return [x], lambda t: t.prod(), lambda t: t.prod()
    dim, keepdim = dim_of(draw, len(s)), draw(st.booleans())
    return [x], lambda t: F.prod(t, dim, keepdim), lambda t: torch.prod(t, dim, keepdim)


@case("cumsum")
def _cumsum(draw, rng):
    s = shape(draw)
    dim = dim_of(draw, len(s))
    return [normal(rng, s)], lambda t: t.cumsum(dim), lambda t: torch.cumsum(t, dim)


@case("norm")
def _norm(draw, rng):
    """torch.norm: p a number or "fro", over everything, one dim or (for "fro" at most) two."""
    s = shape(draw, min_dims=1)
    p = draw(st.sampled_from(["fro", 2, 1, 3, float("inf"), -float("inf")]))
    dim = draw(st.sampled_from([None, dim_of(draw, len(s)), tuple(range(min(len(s), 2)))]))
    keepdim = draw(st.booleans())
    return (
        [away_from_zero(rng, s)],
        lambda t: t.norm(p, dim, keepdim),
        lambda t: torch.norm(t, p, dim, keepdim),
    )


@case("mm_mv_dot")
def _mm_mv_dot(draw, rng):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    name, a, b = draw(st.sampled_from([("mm", (n, k), (k, m)), ("mv", (n, k), (k,)), ("dot", (k,), (k,))]))
    return [normal(rng, a), normal(rng, b)], getattr(md, name), getattr(torch, name)


@case("var_std_unbiased")
def _var_std_unbiased(draw, rng):
    """torch's older keyword ``unbiased=`` (True: n - 1, False: n), as method."""
    s = shape(draw, min_dims=1, min_side=2)
    name, unbiased = draw(st.sampled_from(["var", "std"])), draw(st.booleans())
    options = {"unbiased": unbiased}
    if draw(st.booleans()):
        options.update(dim=dim_of(draw, len(s)), keepdim=draw(st.booleans()))
    return [normal(rng, s)], lambda t: getattr(t, name)(**options), lambda t: getattr(t, name)(**options)


@case("view_as_expand_as")
def _view_as(draw, rng):
    target, s = broadcast_pair(draw)
    target = np.broadcast_shapes(target, s)
    if draw(st.booleans()):
        return [normal(rng, s), normal(rng, target)], lambda x, y: x.expand_as(y), lambda x, y: x.expand_as(y)
    return [normal(rng, s), normal(rng, s[::-1])], lambda x, y: x.view_as(y) * y, lambda x, y: x.view_as(y) * y


@case("split_chunk")
def _split_chunk(draw, rng):
    """Views along one dim: split by a size, by a list of sizes, or chunk into n pieces."""
    s = shape(draw, min_dims=1, max_side=5)
    dim = dim_of(draw, len(s))
    n = s[dim]
    kind = draw(st.sampled_from(["size", "sections", "chunk"]))
    if kind == "size":
        arg = draw(st.integers(1, n + 1))
    elif kind == "sections":
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        arg = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    else:
        arg = draw(st.integers(1, n + 2))
    method = "chunk" if kind == "chunk" else "split"
    return [normal(rng, s)], lambda t: getattr(t, method)(arg, dim), lambda t: getattr(t, method)(arg, dim)


@case("sort_topk")
def _sort_topk(draw, rng):
    """(values, indices); the values carry the gradient back to where they came from."""
    s = shape(draw)
    dim = dim_of(draw, len(s))
    if draw(st.booleans()):
        descending = draw(st.booleans())
        return [normal(rng, s)], lambda t: tuple(t.sort(dim, descending)), lambda t: tuple(t.sort(dim, descending))
    k = draw(st.integers(0, s[dim] if s else 1))
    largest = draw(st.booleans())
    return [normal(rng, s)], lambda t: tuple(F.topk(t, k, dim, largest)), lambda t: tuple(torch.topk(t, k, dim, largest))


# ----------------------------------------------------------------------------- normalization
def _affine(draw, rng, shape):
    """Weight and bias of ``shape`` (both, or neither: then the op runs without them)."""
    return [normal(rng, shape), normal(rng, shape)] if draw(st.booleans()) else []


# _FEW_VALUES: each mean is taken over at least 3 values.  Over 1 or 2, x_hat is 0 or +-1 whatever
# x, so the input gradient is 0 up to rounding, and float32 rounding noise is all that is compared.


def _channels_input(draw, rng, min_values=1):
    """(N, C, *) with 0-2 spatial dims and at least ``min_values`` values per channel."""
    s = shape(draw, min_dims=2, max_dims=4)
    while np.prod(s) // s[1] < min_values:
        s = (s[0] + 1,) + s[1:]
    return normal(rng, s)


@case("batch_norm_train")
def _batch_norm_train(draw, rng):
    """Batch statistics: the gradient flows through the mean and variance too."""
    x = _channels_input(draw, rng, min_values=3)
    return (
        [x, *_affine(draw, rng, x.shape[1])],
        lambda x, *wb: F.batch_norm(x, None, None, *wb, training=True),
        lambda x, *wb: TF.batch_norm(x, None, None, *wb, training=True),
    )


@case("batch_norm_eval")
def _batch_norm_eval(draw, rng):
    """Running statistics: constants, in the input's dtype."""
    x = _channels_input(draw, rng)
    mean, var = normal(rng, x.shape[1]), positive(rng, x.shape[1])
    return (
        [x, *_affine(draw, rng, x.shape[1])],
        lambda x, *wb: F.batch_norm(x, md.tensor(mean, dtype=x.dtype), md.tensor(var, dtype=x.dtype), *wb),
        lambda x, *wb: TF.batch_norm(x, torch.tensor(mean, dtype=x.dtype), torch.tensor(var, dtype=x.dtype), *wb),
    )


@case("layer_norm")
def _layer_norm(draw, rng):
    s = shape(draw, min_dims=1, min_side=3)  # see _FEW_VALUES
    normalized_shape = s[len(s) - draw(st.integers(1, len(s))):]
    return (
        [normal(rng, s), *_affine(draw, rng, normalized_shape)],
        lambda x, *wb: F.layer_norm(x, normalized_shape, *wb),
        lambda x, *wb: TF.layer_norm(x, normalized_shape, *wb),
    )


@case("group_norm")
def _group_norm(draw, rng):
    groups, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = (draw(st.integers(1, 3)), groups * per_group) + shape(draw, max_dims=2)
    if np.prod(s[1:]) // groups < 3:  # see _FEW_VALUES
        s = s + (3,)
    return (
        [normal(rng, s), *_affine(draw, rng, s[1])],
        lambda x, *wb: F.group_norm(x, groups, *wb),
        lambda x, *wb: TF.group_norm(x, groups, *wb),
    )


# ----------------------------------------------------------------------------- attention
@case("scaled_dot_product_attention")
def _scaled_dot_product_attention(draw, rng):
    """q (*, L, E), k (*, S, E), v (*, S, Ev) with broadcasting batch dims; no mask, a bool mask
    (True = attend; rows with no True give zeros), a float mask (differentiable) broadcasting to
    the scores (*, L, S), or is_causal; the default scale or another."""
    batch_q, batch_kv = broadcast_pair(draw, max_dims=2)
    length, source, features, value_features = (draw(st.integers(1, 4)) for _ in range(4))
    scores = np.broadcast_shapes(batch_q, batch_kv) + (length, source)
    # masks of at least 2 dims: torch raises for a 0-d or 1-d mask when q is 4-d (not when it is 3-d)
    suffix = scores[draw(st.integers(0, len(scores) - 2)):]
    mask_shape = tuple(n if draw(st.booleans()) else 1 for n in suffix)
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    options = {"is_causal": kind == "causal", "scale": draw(st.sampled_from([None, 0.7]))}
    inputs = [normal(rng, batch_q + (length, features)), normal(rng, batch_kv + (source, features)),
              normal(rng, batch_kv + (source, value_features))]
    if kind == "bool":
        inputs.append(rng.random(mask_shape) > 0.3)
    elif kind == "float":
        inputs.append(normal(rng, mask_shape))
    return (
        inputs,
        lambda q, k, v, *mask: F.scaled_dot_product_attention(q, k, v, *mask, **options),
        lambda q, k, v, *mask: TF.scaled_dot_product_attention(q, k, v, *mask, **options),
    )


# ----------------------------------------------------------------------------- conv1d, conv_transpose2d
def _optional_bias(draw, rng, channels):
    return [normal(rng, (channels,))] if draw(st.booleans()) else []


@case("conv1d")
def _conv1d(draw, rng):
    """Signals (N, C, L) or (C, L), grouped channels, stride, dilation, padding an int, 'valid' or
    'same' (even kernels too: the odd pad goes at the end), with or without a bias."""
    groups = draw(st.sampled_from([1, 1, 2]))
    group_in, group_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from([0, 1, 2, "valid", "same"]))
    stride = 1 if padding == "same" else draw(st.integers(1, 3))
    pad_total = 2 * padding if isinstance(padding, int) else 0
    shortest = 1 if padding == "same" else max(1, dilation * (kernel - 1) + 1 - pad_total)
    length = draw(st.integers(shortest, shortest + 5))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    inputs = [normal(rng, batch + (group_in * groups, length)), normal(rng, (group_out * groups, group_in, kernel))]
    inputs += _optional_bias(draw, rng, group_out * groups)
    return inputs, lambda *t: F.conv1d(*t, **options), lambda *t: TF.conv1d(*t, **options)


@case("conv2d, few taps")
def _conv2d_few_taps(draw, rng):
    """A first layer: one group and C kh kw <= 9 taps, which ``minidl.ops.conv.Conv2dFewTaps``
    runs (compiled per tap count); any stride, padding and dilation; images wider than a vector
    of outputs and narrower; with or without a bias."""
    channels = draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([(kh, kw) for kh in (1, 2, 3) for kw in (1, 2, 3) if channels * kh * kw <= 9]))
    stride, dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))), (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 2)))
    size = tuple(d * (k - 1) + 1 + draw(st.integers(0, 4)) for k, d in zip(kernel, dilation))
    size = (size[0], size[1] + draw(st.sampled_from([0, 18])))
    batch = draw(st.sampled_from([(), (1,), (3,)]))
    options = dict(stride=stride, padding=padding, dilation=dilation)
    out_channels = draw(st.integers(1, 6))
    inputs = [normal(rng, batch + (channels,) + size), normal(rng, (out_channels, channels) + kernel)]
    inputs += _optional_bias(draw, rng, out_channels)
    return inputs, lambda *t: F.conv2d(*t, **options), lambda *t: TF.conv2d(*t, **options)


@case("conv_transpose2d")
def _conv_transpose2d(draw, rng):
    """Images (N, C, H, W) or (C, H, W), grouped channels, stride, dilation, output_padding below
    stride or dilation, padding up to what leaves an output, with or without a bias."""
    groups = draw(st.sampled_from([1, 1, 2]))
    group_in, group_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    size, kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4))), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = tuple(draw(st.integers(0, min(2, ((n - 1) * s + d * (k - 1) + p) // 2)))
                    for n, k, s, d, p in zip(size, kernel, stride, dilation, output_padding))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    options = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    inputs = [normal(rng, batch + (group_in * groups,) + size), normal(rng, (group_in * groups, group_out) + kernel)]
    inputs += _optional_bias(draw, rng, group_out * groups)
    return inputs, lambda *t: F.conv_transpose2d(*t, **options), lambda *t: TF.conv_transpose2d(*t, **options)


# ----------------------------------------------------------------------------- interpolate, adaptive pooling (issue 18)
def _spatial_batch(draw, rng, dims):
    """(N, C, *spatial) with ``dims`` spatial axes of 2-5."""
    spatial = tuple(draw(st.integers(2, 5)) for _ in range(dims))
    return normal(rng, (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + spatial)


def _size_or_scale(draw, dims):
    """size= (an int or one per axis, 1-8) or scale_factor= (a number or one per axis), as a dict."""
    one_each = draw(st.booleans())
    if draw(st.booleans()):
        sizes = st.integers(1, 8)
        return {"size": tuple(draw(sizes) for _ in range(dims)) if one_each else draw(sizes)}
    scales = st.sampled_from([0.6, 1.0, 1.5, 2.0, 2.5, 3.0])
    return {"scale_factor": tuple(draw(scales) for _ in range(dims)) if one_each else draw(scales)}


@case("interpolate_nearest")
def _interpolate_nearest(draw, rng):
    """(N, C, L) or (N, C, H, W), to a size or by a scale (which also sets the source step)."""
    dims = draw(st.sampled_from([1, 2]))
    options = dict(_size_or_scale(draw, dims), mode="nearest")
    return [_spatial_batch(draw, rng, dims)], lambda x: F.interpolate(x, **options), lambda x: TF.interpolate(x, **options)


@case("interpolate_linear")
def _interpolate_linear(draw, rng):
    """"linear" on (N, C, L), "bilinear" on (N, C, H, W); align_corners True, False or unset."""
    dims = draw(st.sampled_from([1, 2]))
    options = dict(_size_or_scale(draw, dims), mode="linear" if dims == 1 else "bilinear",
                   align_corners=draw(st.sampled_from([None, False, True])))
    return [_spatial_batch(draw, rng, dims)], lambda x: F.interpolate(x, **options), lambda x: TF.interpolate(x, **options)


def _adaptive_output_size(draw):
    """An int, or a pair whose entries may be None (keep that input size); 1-6, above the input too."""
    sizes = st.integers(1, 6)
    return draw(st.one_of(sizes, st.tuples(st.one_of(sizes, st.none()), st.one_of(sizes, st.none()))))


@case("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(draw, rng):
    """(N, C, H, W) or unbatched (C, H, W), H and W 1-7."""
    s = shape(draw, min_dims=3, max_dims=4, max_side=7)
    output_size = _adaptive_output_size(draw)
    return (
        [normal(rng, s)],
        lambda x: F.adaptive_avg_pool2d(x, output_size),
        lambda x: TF.adaptive_avg_pool2d(x, output_size),
    )


@case("adaptive_max_pool2d")
def _adaptive_max_pool2d(draw, rng):
    """The values (distinct: no ties), and with return_indices where each maximum was."""
    s = shape(draw, min_dims=3, max_dims=4, max_side=7)
    output_size, return_indices = _adaptive_output_size(draw), draw(st.booleans())

    def run(module, x):
        out = module.adaptive_max_pool2d(x, output_size, return_indices=return_indices)
        return tuple(out) if return_indices else out

    return [normal(rng, s)], lambda x: run(F, x), lambda x: run(TF, x)
