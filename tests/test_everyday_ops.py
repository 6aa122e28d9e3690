"""The everyday PyTorch names (issue 17): fixed cases against torch and one test per error.

Gradients and values on drawn shapes are in ``op_cases.py`` (clone, repeat, masked_fill,
index_select, gather, mT, pad, silu, normalize, label smoothing, axis=/keepdims=, in-place
activations); here are the factories, edge cases, identities (``is``) and error messages.
"""
import warnings

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.testing import assert_close, default_tolerance


def _torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- factories
@pytest.mark.torch
@pytest.mark.parametrize(
    "start, end, steps, dtype",
    [(0, 1, 5, None), (-3.7, 11.3, 77, None), (0.1, 0.9, 9, "float64"), (0, 10, 4, "int64"), (-1, 10, 4, "int64"),
     (10, 0, 4, "int64"), (2.7, 9.1, 5, "int32"), (0, 1, 1, None), (3, 1, 0, None)],
)
def test_linspace_matches_torch(start, end, steps, dtype):
    torch = _torch()
    mine = md.linspace(start, end, steps, dtype=dtype)
    theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype) if dtype else None).numpy()
    assert mine.dtype == theirs.dtype
    if mine.dtype.kind == "f":  # float32 may differ in the last bit: torch's vectorised loop rounds differently
        assert_close(mine.numpy(), theirs, *default_tolerance(mine.dtype), "linspace")
    else:
        assert np.array_equal(mine.numpy(), theirs)
    assert mine.numpy()[-1:].tolist() == theirs[-1:].tolist()  # the end is exact


def test_linspace_requires_grad_and_errors():
    assert md.linspace(0, 1, 3, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int, got -1"):
        md.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int, got 2.5"):
        md.linspace(0, 1, 2.5)
    with pytest.raises(TypeError, match="linspace: dtype must be an integer or floating dtype, got bool"):
        md.linspace(0, 1, 3, dtype="bool")


@pytest.mark.torch
@pytest.mark.parametrize("args, dtype", [((3,), None), ((2, 3), None), ((3, 2), "int64"), ((0,), None), ((2, 0), "float64")])
def test_eye_matches_torch(args, dtype):
    torch = _torch()
    mine = md.eye(*args, dtype=dtype)
    theirs = torch.eye(*args, dtype=getattr(torch, dtype) if dtype else None).numpy()
    assert mine.dtype == theirs.dtype and np.array_equal(mine.numpy(), theirs)


def test_eye_errors_and_requires_grad():
    assert md.eye(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="eye: n must be greater than or equal to 0, got -1"):
        md.eye(-1)
    with pytest.raises(ValueError, match="eye: m must be greater than or equal to 0, got -2"):
        md.eye(2, -2)
    with pytest.raises(TypeError, match="eye: n must be an int, got float"):
        md.eye(2.0)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"])
def test_from_numpy_shares_memory_and_keeps_dtype(dtype):
    array = np.zeros((2, 3), dtype=dtype)
    t = md.from_numpy(array)
    assert t.dtype == array.dtype and t.shape == (2, 3)
    array[0, 1] = 1
    assert t.numpy()[0, 1] == 1
    t.array[1, 2] = 1  # and the other way round
    assert array[1, 2] == 1


@pytest.mark.torch
def test_from_numpy_refuses_what_torch_refuses():
    torch = _torch()
    for value, got in [([1, 2], "list"), (np.float64(2.0), "float64")]:
        with pytest.raises(TypeError, match=f"from_numpy: expected a numpy.ndarray, got {got}"):
            md.from_numpy(value)
        with pytest.raises(TypeError):
            torch.from_numpy(value)
    with pytest.raises(TypeError, match="from_numpy: unsupported dtype <U1"):
        md.from_numpy(np.array(["a"]))


def test_as_tensor_copies_only_when_it_must():
    array = np.arange(3.0)
    shared, converted = md.as_tensor(array), md.as_tensor(array, dtype=md.float32)
    array[0] = 9
    assert shared.dtype == np.float64 and shared.numpy()[0] == 9  # same dtype: shared
    assert converted.dtype == np.float32 and converted.numpy()[0] == 0  # converted: a copy
    t = md.ones(2, requires_grad=True)
    assert md.as_tensor(t) is t
    cast = md.as_tensor(t, dtype=md.float64)
    assert cast.dtype == np.float64 and cast.grad_fn is not None  # on the graph, as torch's .to()


@pytest.mark.torch
@pytest.mark.parametrize("data", [[1, 2.5], [1, 2], 3, [[True, False]], 2.5])
def test_as_tensor_dtypes_match_torch(data):
    torch = _torch()
    mine, theirs = md.as_tensor(data), torch.as_tensor(data).numpy()
    assert mine.dtype == theirs.dtype and np.array_equal(mine.numpy(), theirs)


# ----------------------------------------------------------------------------- tensor methods
@pytest.mark.torch
def test_clone_and_contiguous_identity_as_torch():
    torch = _torch()
    x, tx = md.tensor(np.arange(6.0).reshape(2, 3)), torch.arange(6.0).reshape(2, 3)
    assert (x.contiguous() is x) == (tx.contiguous() is tx) == True  # noqa: E712
    assert (x.T.contiguous() is x.T) == (tx.T.contiguous() is tx.T) == False  # noqa: E712
    assert x.T.contiguous().array.flags.c_contiguous
    copy = x.clone()
    copy.array[0, 0] = 7
    assert x.numpy()[0, 0] == 0


def test_repeat_errors():
    x = md.zeros(2, 3)
    with pytest.raises(ValueError, match=r"repeat: expected one non-negative int per dim \(at least 2\) for a tensor of shape \(2, 3\), got \(2,\)"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"got \(-1, 2\)"):
        x.repeat(-1, 2)
    with pytest.raises(TypeError, match="repeat: missing the repeat sizes"):
        x.repeat()


@pytest.mark.torch
def test_repeat_accepts_a_tuple_or_list_as_torch():
    torch = _torch()
    x = np.arange(6.0).reshape(2, 3)
    for sizes in [(2, 2), [1, 2, 1]]:
        assert np.array_equal(md.tensor(x).repeat(sizes).numpy(), torch.tensor(x).repeat(sizes).numpy())


def test_mT_refuses_fewer_than_two_dims():
    with pytest.raises(ValueError, match=r"mT: expects a matrix or a batch of matrices \(>= 2 dims\), got shape \(3,\)"):
        md.zeros(3).mT


@pytest.mark.torch
def test_masked_fill_dtypes_and_broadcast_match_torch():
    torch = _torch()
    mask = np.array([True, False, True])
    cases = [
        (np.zeros(3, dtype=np.float32), np.ones((2, 3), dtype=bool), 1),  # the mask broadcasts the result
        (np.zeros((2, 3), dtype=np.int64), mask, 2.5),  # the value is cast to the input's dtype
        (np.zeros((2, 3), dtype=np.float32), mask, np.array(2.5)),  # 0-d float64 tensor value
        (np.zeros((2, 3), dtype=np.int64), mask, np.array(2.5, dtype=np.float32)),
    ]
    for x, m, value in cases:
        mine = md.tensor(x).masked_fill(md.tensor(m), md.tensor(value) if isinstance(value, np.ndarray) else value)
        theirs = torch.tensor(x).masked_fill(torch.tensor(m), torch.tensor(value) if isinstance(value, np.ndarray) else value)
        assert mine.dtype == theirs.numpy().dtype and np.array_equal(mine.numpy(), theirs.numpy())


def test_masked_fill_errors():
    x = md.zeros(2, 3)
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool Tensor, got dtype float32"):
        x.masked_fill(md.ones(3), 1)
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool Tensor, got ndarray"):
        x.masked_fill(np.ones(3, dtype=bool), 1)
    with pytest.raises(ValueError, match=r"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape \(1,\)"):
        x.masked_fill(md.tensor([True, False, True]), md.tensor([1.0]))
    with pytest.raises(TypeError, match="masked_fill: value must be a number or a 0-d tensor, got str"):
        x.masked_fill(md.tensor([True, False, True]), "a")
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(4,\) does not broadcast with input of shape \(2, 3\)"):
        x.masked_fill(md.ones(4, dtype="bool"), 1)
    with pytest.raises(RuntimeError, match=r"masked_fill_: output with shape \(2, 3\) doesn't match the broadcast shape \(2, 2, 3\)"):
        x.masked_fill_(md.ones(2, 2, 3, dtype="bool"), 1)


@pytest.mark.torch
def test_index_select_and_gather_on_0d_inputs_and_int32_indices_match_torch():
    torch = _torch()
    calls = [
        lambda t, lib: t(5.0).index_select(0, t(0)),
        lambda t, lib: t(5.0).index_select(0, t([0])),
        lambda t, lib: t(5.0).gather(0, t([0, 0])),
        lambda t, lib: t([1.0, 2.0, 3.0]).gather(0, t(2)),
        lambda t, lib: t([[1.0, 2.0], [3.0, 4.0]]).index_select(1, t([1, 1], dtype=lib.int32)),
        lambda t, lib: t([[1.0, 2.0], [3.0, 4.0]]).gather(1, t([[1], [0]], dtype=lib.int32)),
        lambda t, lib: t([[1.0, 2.0], [3.0, 4.0]]).gather(1, t([[1, 0, 1]])),
    ]
    for call in calls:
        mine, theirs = call(md.tensor, md), call(torch.tensor, torch).numpy()
        assert mine.shape == theirs.shape and np.array_equal(mine.numpy(), theirs)


def test_index_select_errors():
    x = md.zeros(2, 3)
    with pytest.raises(IndexError, match=r"index_select: index must be a vector \(1-D or 0-D\), got shape \(1, 1\)"):
        x.index_select(1, md.tensor([[0]]))
    with pytest.raises(TypeError, match="index_select: index must have dtype int64 or int32, got float32"):
        x.index_select(1, md.tensor([0.0]))
    with pytest.raises(TypeError, match="index_select: index must be a Tensor of int64 \\(or int32\\), got list"):
        x.index_select(1, [0])
    with pytest.raises(IndexError, match="index_select: index 3 is out of bounds for dim 1 with size 3"):
        x.index_select(1, md.tensor([0, 3]))
    with pytest.raises(IndexError, match="index_select: index -1 is out of bounds for dim 1 with size 3"):
        x.index_select(1, md.tensor([-1]))
    with pytest.raises(IndexError, match="index_select: dim 2 is out of range"):
        x.index_select(2, md.tensor([0]))
    with pytest.raises(IndexError, match="index_select: a 0-d input takes an index with one value, got 2"):
        md.tensor(5.0).index_select(0, md.tensor([0, 0]))


def test_gather_errors():
    x = md.zeros(2, 3)
    with pytest.raises(ValueError, match=r"gather: index must have as many dims as the input, got index shape \(2,\) for input shape \(2, 3\)"):
        x.gather(1, md.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"gather: index shape \(3, 1\) must be no larger than the input shape \(2, 3\) in every dim but dim 1"):
        x.gather(1, md.tensor([[0], [1], [1]]))
    with pytest.raises(IndexError, match="gather: index 5 is out of bounds for dim 1 with size 3"):
        x.gather(1, md.tensor([[0, 5]]))
    with pytest.raises(TypeError, match="gather: index must have dtype int64 or int32, got float32"):
        x.gather(1, md.tensor([[0.0]]))
    with pytest.raises(IndexError, match="gather: dim 2 is out of range"):
        x.gather(2, md.tensor([[0]]))


# ----------------------------------------------------------------------------- NumPy names
@pytest.mark.torch
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_take_numpy_names_as_torch(name):
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((3, 4))
    for options in [dict(axis=0), dict(axis=1, keepdims=True), dict(dim=1, keepdims=True)]:
        mine = getattr(md.tensor(x), name)(**options)
        theirs = getattr(torch, name)(torch.tensor(x), **options).numpy()
        assert np.array_equal(mine.numpy(), theirs) and mine.dtype == theirs.dtype


@pytest.mark.parametrize("call", [
    lambda x: x.sum(1, axis=1),
    lambda x: md.mean(x, dim=0, axis=0),
    lambda x: x.amax(0, keepdim=True, keepdims=True),
    lambda x: F.var(x, dim=0, axis=1),
])
def test_dim_and_axis_together_is_an_error(call):
    with pytest.raises(TypeError, match=r"got both (dim= and its NumPy alias axis=|keepdim= and its NumPy alias keepdims=); pass only one"):
        call(md.zeros(2, 3))


def test_logsumexp_needs_a_dim_as_in_torch():
    with pytest.raises(TypeError, match="logsumexp: dim is required"):
        md.zeros(2, 3).logsumexp()


# ----------------------------------------------------------------------------- F.pad
@pytest.mark.torch
@pytest.mark.parametrize("shape, pad, mode", [
    ((1, 1, 3), (-1, 1), "reflect"),
    ((1, 1, 3), (2, -1), "reflect"),
    ((2, 3), (1, 1), "reflect"),  # unbatched
    ((1, 2, 3), (1, 1, 1, 1), "reflect"),
    ((1, 1, 3), (-1, 2), "circular"),
    ((1, 1, 3), (3, 0), "circular"),
    ((1, 1, 3), (5, -1), "replicate"),
    ((3,), (-3, 0), "constant"),
    ((0, 2), (1, 1, 1, 1), "constant"),
])
def test_pad_edge_cases_match_torch(shape, pad, mode):
    torch = _torch()
    x = np.arange(float(np.prod(shape))).reshape(shape)
    assert np.array_equal(F.pad(md.tensor(x), pad, mode).numpy(), torch.nn.functional.pad(torch.tensor(x), pad, mode).numpy())


@pytest.mark.torch
def test_pad_constant_keeps_integer_dtype_as_torch():
    torch = _torch()
    x = np.zeros((2, 3), dtype=np.int64)
    mine = F.pad(md.tensor(x), [1, 1], value=2.7)
    theirs = torch.nn.functional.pad(torch.tensor(x), [1, 1], value=2.7).numpy()
    assert mine.dtype == theirs.dtype and np.array_equal(mine.numpy(), theirs)


# (input shape, pad, mode, value), the error and its message: torch refuses each of these too
PAD_ERRORS = [
    (((3,), (1,), "constant", None), ValueError, r"pad: pad must have an even length .*got \(1,\)"),
    (((3,), (1, 1, 1, 1), "constant", None), ValueError,
     r"pad: pad \(1, 1, 1, 1\) pads 2 dims, but the input has only 1 \(shape \(3,\)\)"),
    (((3,), (1.5, 1), "constant", None), TypeError, r"pad: pad must be a tuple of ints, got \(1.5, 1\)"),
    (((3,), (1, 1), "wrap", None), NotImplementedError, "pad: unrecognised padding mode 'wrap'"),
    (((1, 1, 3), (1, 1), "reflect", 1.0), ValueError, "pad: mode 'reflect' does not take a value, got value=1.0"),
    (((3,), (1, 1), "reflect", None), NotImplementedError,
     r"pad: mode 'reflect' pads the last 1, 2 or 3 dims .*got pad \(1, 1\) for input shape \(3,\)"),
    (((2, 3), (1, 1, 1, 1), "circular", None), NotImplementedError, "pad: mode 'circular' pads the last 1, 2 or 3 dims"),
    (((1, 1, 3), (3, 0), "reflect", None), ValueError, r"pad: reflect padding \(3, 0\) must be less than the size 3 of dim 2"),
    (((1, 1, 3), (4, 0), "circular", None), ValueError, r"pad: circular padding \(4, 0\) of dim 2 must wrap around at most once"),
    (((1, 1, 2), (-1, 2), "circular", None), ValueError,
     r"pad: circular padding \(-1, 2\) of dim 2 must wrap around at most once: pads up to the 1 elements"),
    (((3,), (-2, -2), "constant", None), ValueError, r"pad: padding \(-2, -2\) of dim 0 leaves a negative size"),
    (((1, 2, 2), (-1, -1), "replicate", None), ValueError,
     r"pad: mode 'replicate' needs a non-empty dim 2 before and after padding \(-1, -1\)"),
]


@pytest.mark.parametrize("call, error, message", PAD_ERRORS)
def test_pad_errors(call, error, message):
    shape, pad, mode, value = call
    with pytest.raises(error, match=message):
        F.pad(md.zeros(shape), pad, mode, value)


@pytest.mark.torch
@pytest.mark.parametrize("call", [call for call, _, _ in PAD_ERRORS])
def test_torch_refuses_the_same_pads(call):
    torch = _torch()
    shape, pad, mode, value = call
    with pytest.raises((RuntimeError, NotImplementedError, ValueError, TypeError)):
        torch.nn.functional.pad(torch.zeros(shape), pad, mode, value)


# ----------------------------------------------------------------------------- one_hot, normalize, silu
@pytest.mark.torch
@pytest.mark.parametrize("values, num_classes", [([0, 2, 1], -1), ([0, 2, 1], 5), ([[1, 0]], 3), (2, 3), ([], 3)])
def test_one_hot_matches_torch(values, num_classes):
    torch = _torch()
    mine = F.one_hot(md.tensor(values, dtype="int64"), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes).numpy()
    assert mine.dtype == np.int64 and mine.shape == theirs.shape and np.array_equal(mine.numpy(), theirs)


def test_one_hot_errors():
    with pytest.raises(ValueError, match="one_hot: class values must be smaller than num_classes=2, got 2"):
        F.one_hot(md.tensor([0, 2, 1]), 2)
    with pytest.raises(ValueError, match="one_hot: class values must be non-negative, got -2"):
        F.one_hot(md.tensor([0, -2, 1]))
    with pytest.raises(TypeError, match="one_hot: expects an int64 tensor of class indices, got dtype float32"):
        F.one_hot(md.tensor([0.0, 2.0]))
    with pytest.raises(TypeError, match="one_hot: expects an int64 tensor of class indices, got dtype int32"):
        F.one_hot(md.tensor([0, 2], dtype="int32"))
    with pytest.raises(ValueError, match="one_hot: cannot infer the number of classes from an empty tensor"):
        F.one_hot(md.tensor([], dtype="int64"))


@pytest.mark.torch
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
def test_normalize_of_a_zero_vector_matches_torch(p):
    """A zero row stays zero and its gradient is 1 / eps, as torch (no nan from 0 / 0)."""
    torch = _torch()
    x = np.array([[1.0, -2.0, 2.0], [0.0, 0.0, 0.0]])
    mine, theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.normalize(mine, p).sum().backward()
    torch.nn.functional.normalize(theirs, p).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.torch
def test_normalize_defaults_and_0d_match_torch():
    torch = _torch()
    x = np.array([[3.0, 4.0], [1.0, 0.0]])
    assert np.allclose(F.normalize(md.tensor(x)).numpy(), torch.nn.functional.normalize(torch.tensor(x)).numpy())
    assert F.normalize(md.tensor(3.0), dim=0).item() == torch.nn.functional.normalize(torch.tensor(3.0), dim=0).item()


# ----------------------------------------------------------------------------- softmax without dim
@pytest.mark.torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_without_dim_warns_and_picks_torchs_dim(name, ndim):
    torch = _torch()
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    message = f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument."
    with pytest.warns(UserWarning, match=message) as record:
        mine = getattr(F, name)(md.tensor(x))
    assert record[0].filename == __file__  # points at the caller's line, as torch's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(mine.numpy(), theirs, rtol=1e-12)


def test_softmax_with_dim_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(md.zeros(2, 3), dim=1)
        md.nn.Softmax(dim=1)(md.zeros(2, 3))


def test_softmax_module_without_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        md.nn.Softmax()(md.zeros(2, 3))


# ----------------------------------------------------------------------------- inplace=
@pytest.mark.parametrize("call", [
    lambda x: F.relu(x, inplace=True),
    lambda x: F.leaky_relu(x, 0.1, inplace=True),
    lambda x: F.silu(x, inplace=True),
    lambda x: md.nn.ReLU(inplace=True)(x),
    lambda x: md.nn.LeakyReLU(inplace=True)(x),
    lambda x: md.nn.SiLU(inplace=True)(x),
    lambda x: x.relu_(),
    lambda x: x.sigmoid_(),
    lambda x: x.tanh_(),
    lambda x: x.clamp_(0, 0.5),
    lambda x: x.clip_(max=0.5),
    lambda x: x.masked_fill_(md.tensor([True, False, True]), 0.25),
])
def test_inplace_activations_return_the_input_itself(call):
    x = md.tensor([-1.0, 0.5, 2.0])
    before = x.array
    assert call(x) is x and x.array is before


@pytest.mark.torch
def test_inplace_values_match_torch_and_out_of_place_leaves_the_input():
    torch = _torch()
    values = [-1.0, 0.5, 2.0]
    for md_call, torch_call in [
        (lambda x: F.leaky_relu(x, 0.1, inplace=True), lambda x: torch.nn.functional.leaky_relu(x, 0.1, inplace=True)),
        (lambda x: F.silu(x, inplace=True), lambda x: torch.nn.functional.silu(x, inplace=True)),
        (lambda x: x.clamp_(min=0.0), lambda x: x.clamp_(min=0.0)),
    ]:
        mine, theirs = md.tensor(values), torch.tensor(values)
        md_call(mine), torch_call(theirs)
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6)
    x = md.tensor(values)
    F.relu(x), md.nn.ReLU()(x), md.nn.SiLU()(x)
    assert x.tolist() == values


def test_inplace_activation_on_a_leaf_that_requires_grad_is_refused():
    x = md.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        F.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match="silu_: a leaf tensor that requires grad"):
        md.nn.SiLU(inplace=True)(x)


@pytest.mark.torch
def test_activation_reprs_match_torch():
    torch = _torch()
    for args in [(), (True,)]:
        for name in ["ReLU", "SiLU"]:
            assert repr(getattr(md.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
        assert repr(md.nn.LeakyReLU(0.2, *args)) == repr(torch.nn.LeakyReLU(0.2, *args))


# ----------------------------------------------------------------------------- label smoothing
@pytest.mark.torch
def test_cross_entropy_loss_module_takes_label_smoothing():
    torch = _torch()
    rng = np.random.default_rng(0)
    logits, target, weight = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2]), np.array([1.0, 2.0, 0.5])
    mine = md.nn.CrossEntropyLoss(md.tensor(weight), ignore_index=1, label_smoothing=0.2)(md.tensor(logits), md.tensor(target))
    theirs = torch.nn.CrossEntropyLoss(torch.tensor(weight), ignore_index=1, label_smoothing=0.2)(torch.tensor(logits), torch.tensor(target))
    np.testing.assert_allclose(mine.item(), theirs.item(), rtol=1e-12)
    unbatched = F.cross_entropy(md.tensor(logits[0]), md.tensor(target[0]), label_smoothing=0.3)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits[0]), torch.tensor(target[0]), label_smoothing=0.3)
    np.testing.assert_allclose(unbatched.item(), expected.item(), rtol=1e-12)


@pytest.mark.parametrize("smoothing", [1.5, -0.1])
def test_label_smoothing_out_of_range_is_refused(smoothing):
    """torch refuses 1.5 but silently ignores -0.1 for class indices; minidl refuses both."""
    with pytest.raises(ValueError, match=f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {smoothing}"):
        F.cross_entropy(md.zeros(2, 3), md.tensor([0, 1]), label_smoothing=smoothing)
