"""More everyday PyTorch names (issue 17): dtype names, ``device``/``cuda``, ``type``, comparisons as
methods, ``equal allclose all any round``, ``mm mv dot norm``, ``split chunk sort topk``, the
``new_*`` factories, ``randint randperm empty``, ``Module.double/float``.

Gradients on drawn shapes are in ``op_cases.py`` (sin cos log1p expm1 square round prod cumsum
norm mm/mv/dot var/std(unbiased=) view_as expand_as split chunk sort topk); here the same code
runs on both libraries (``call(md)`` and ``call(torch)``) for fixed edge cases, and each error
message has its test.
"""
import subprocess
import sys

import numpy as np
import pytest

import minidl as md
from minidl import backend


def _torch():
    return pytest.importorskip("torch")


def _as_numpy(result):
    return result.detach().numpy() if hasattr(result, "detach") else np.asarray(result)


def assert_same_as_torch(call):
    """``call(lib)`` with lib = minidl and lib = torch: same type of result (Tensor, tuple, Python
    value), and for tensors the same shape, dtype and elements."""
    torch = _torch()
    mine, theirs = call(md), call(torch)
    if isinstance(theirs, (tuple, list)):
        assert len(mine) == len(theirs)
        for m, t in zip(mine, theirs):
            assert_same_as_torch(lambda lib: m if lib is md else t)
        return
    if not isinstance(theirs, torch.Tensor):
        assert type(mine) is type(theirs) and mine == theirs
        return
    expected = _as_numpy(theirs)
    assert isinstance(mine, md.Tensor) and mine.dtype == expected.dtype and mine.shape == expected.shape
    np.testing.assert_array_equal(mine.numpy(), expected)


# ----------------------------------------------------------------------------- dtypes and type()
@pytest.mark.torch
@pytest.mark.parametrize(
    "name", ["float", "double", "half", "float16", "float32", "float64", "long", "int", "short", "int8",
             "int16", "int32", "int64", "uint8", "bool"],
)
def test_dtype_names_are_torchs(name):
    torch = _torch()
    assert getattr(md, name) == np.dtype(str(getattr(torch, name)).removeprefix("torch."))
    assert_same_as_torch(lambda lib: lib.tensor([0, 1, 2], dtype=getattr(lib, name)))


def test_dtype_names_leave_the_builtins_alone():
    assert md.float is not float and float("1.5") == 1.5 and int("3") == 3 and bool(0) is False


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"])
def test_type_without_argument_names_the_tensor_type_as_torch(dtype):
    assert_same_as_torch(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).type())


@pytest.mark.torch
def test_type_converts_to_a_dtype_or_a_type_name():
    assert_same_as_torch(lambda lib: lib.tensor([1.7, -2.2]).type(lib.long))
    assert_same_as_torch(lambda lib: lib.tensor([1, 2]).type(lib.tensor([1.5]).dtype))
    assert_same_as_torch(lambda lib: lib.tensor([1, 0]).type("torch.DoubleTensor"))
    x = md.tensor([1.0, 2.0], requires_grad=True)
    x.type(md.float64).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]


def test_type_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="type: invalid type 'float'; expected a dtype or a name such as 'torch.FloatTensor'"):
        md.zeros(2).type("float")


# ----------------------------------------------------------------------------- device and cuda
@pytest.mark.torch
def test_device_objects_read_and_compare_as_torchs():
    torch = _torch()
    for args in [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0)]:
        mine, theirs = md.device(*args), torch.device(*args)
        assert (str(mine), repr(mine), mine.type, mine.index) == (str(theirs), repr(theirs), theirs.type, theirs.index)
    assert md.device("cuda:0") == md.device("cuda", 0) != md.device("cuda")
    assert (md.device("cpu") == "cpu") == (torch.device("cpu") == "cpu") == False  # noqa: E712
    assert len({md.device("cpu"), md.device("cpu")}) == 1


def test_device_errors():
    with pytest.raises(backend.DeviceError, match="device: expected 'cpu' or 'cuda' \\(optionally 'cuda:N'\\), got 'gpu'"):
        md.device("gpu")
    with pytest.raises(backend.DeviceError, match="device: invalid device string 'cuda:x'; expected 'cuda' or 'cuda:N'"):
        md.device("cuda:x")
    with pytest.raises(backend.DeviceError, match="device: index must be a non-negative int, got -1"):
        md.device("cuda", -1)


def test_a_device_object_works_wherever_a_device_name_does():
    cpu = md.device("cpu")
    x = md.ones(2, device=cpu)
    assert x.to(cpu) is x and x.to(cpu, md.float64).dtype == np.float64
    assert md.tensor([1.0], device=cpu).device == "cpu"
    model = md.nn.Linear(2, 1)
    assert model.to(cpu) is model and model.weight.device == "cpu"
    if not backend.cupy_usable():
        with pytest.raises(backend.DeviceError, match="device 'cuda' requested but CuPy is not installed"):
            x.to(md.device("cuda"))


def test_cuda_answers_through_cupy():
    assert md.cuda.is_available() == backend.cupy_usable()
    assert md.cuda.device_count() >= 1 if md.cuda.is_available() else md.cuda.device_count() == 0


def test_import_minidl_does_not_load_cuda_until_asked(repo_env):
    code = "import sys, minidl; print('minidl.cuda' in sys.modules); minidl.cuda; print('minidl.cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=repo_env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


# ----------------------------------------------------------------------------- comparisons and checks
@pytest.mark.torch
@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_match_torch(name):
    assert_same_as_torch(lambda lib: getattr(lib.tensor([[1.0, 2.0, 3.0]]), name)(lib.tensor([[2.0], [1.0]])))
    assert_same_as_torch(lambda lib: getattr(lib.tensor([1, 2, 3]), name)(2))


@pytest.mark.torch
def test_equal_matches_torch():
    assert_same_as_torch(lambda lib: lib.equal(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0])))
    assert_same_as_torch(lambda lib: lib.equal(lib.tensor([1.0, 2.0]), lib.tensor([1, 2])))  # dtypes promote
    assert_same_as_torch(lambda lib: lib.tensor([1.0, 2.0]).equal(lib.tensor([1.0, 2.5])))
    assert_same_as_torch(lambda lib: lib.equal(lib.ones(2), lib.ones(1)))  # no broadcasting


@pytest.mark.torch
def test_allclose_matches_torch():
    a = np.array([1.0, 2.0, np.nan])
    for b in [a + 1e-9, a + 1e-3, np.array([1.0, 2.0, np.nan])]:
        assert_same_as_torch(lambda lib: lib.allclose(lib.tensor(a), lib.tensor(b)))
        assert_same_as_torch(lambda lib: lib.tensor(a).allclose(lib.tensor(b), equal_nan=True))
        assert_same_as_torch(lambda lib: lib.allclose(lib.tensor(a), lib.tensor(b), rtol=1e-2, atol=0.0, equal_nan=True))
    assert_same_as_torch(lambda lib: lib.allclose(lib.ones(2, 3), lib.ones(3)))  # broadcasts


def test_allclose_errors():
    with pytest.raises(TypeError, match="allclose: expected both tensors to have the same dtype, got float32 and float64"):
        md.allclose(md.ones(2), md.ones(2, dtype=md.float64))
    with pytest.raises(TypeError, match="allclose: expected two Tensors, got Tensor, list"):
        md.allclose(md.ones(2), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"allclose: shapes \(3,\) and \(2,\) do not broadcast"):
        md.allclose(md.ones(3), md.ones(2))


@pytest.mark.torch
def test_all_and_any_match_torch():
    x = np.array([[0, 1, 2], [3, 4, 5]])
    for name in ["all", "any"]:
        assert_same_as_torch(lambda lib: getattr(lib.tensor(x), name)())
        assert_same_as_torch(lambda lib: getattr(lib.tensor(x > 0), name)(1, keepdim=True))
        assert_same_as_torch(lambda lib: getattr(lib, name)(lib.tensor(x.astype(np.float32)), dim=0))
        assert_same_as_torch(lambda lib: getattr(lib.tensor(x.astype(np.uint8)), name)(dim=(0, 1)))  # uint8 stays uint8
        assert_same_as_torch(lambda lib: getattr(lib.tensor(1.0), name)(0))


def test_all_refuses_a_dim_out_of_range():
    with pytest.raises(IndexError, match=r"all: dim 2 is out of range for a tensor with 2 dimensions"):
        md.ones(2, 3).all(2)


# ----------------------------------------------------------------------------- elementwise
@pytest.mark.torch
def test_round_rounds_halves_to_even_as_torch():
    halves = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.25, 0.35]
    assert_same_as_torch(lambda lib: lib.tensor(halves).round())
    assert_same_as_torch(lambda lib: lib.tensor(halves, dtype=lib.float64).round(decimals=1))
    assert_same_as_torch(lambda lib: lib.round(lib.tensor([1, -2, 3])))  # integers stay integers


@pytest.mark.torch
def test_top_level_functions_exist_as_in_torch():
    x = np.array([[0.3, -1.2], [2.0, 0.5]], dtype=np.float32)
    for name in ["sin", "cos", "log1p", "expm1", "square", "relu", "round"]:
        mine, theirs = getattr(md, name)(md.tensor(np.abs(x))), getattr(_torch(), name)(_torch().tensor(np.abs(x)))
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6)
    assert md.is_tensor(md.ones(1)) and md.is_tensor(md.nn.Parameter(md.ones(1)))
    assert not md.is_tensor(np.ones(1)) and not md.is_tensor(1.0)


# ----------------------------------------------------------------------------- reductions and scans
@pytest.mark.torch
def test_prod_and_cumsum_dtypes_match_torch():
    for dtype in ["int32", "bool", "uint8", "float64"]:
        assert_same_as_torch(lambda lib: lib.ones(2, 3, dtype=getattr(lib, dtype)).prod())
        assert_same_as_torch(lambda lib: lib.ones(2, 3, dtype=getattr(lib, dtype)).prod(1, keepdim=True))
        assert_same_as_torch(lambda lib: lib.ones(2, 3, dtype=getattr(lib, dtype)).cumsum(0))
    assert_same_as_torch(lambda lib: lib.tensor([1, 2, 3]).cumsum(0, dtype=lib.float64))
    assert_same_as_torch(lambda lib: lib.tensor([1, 2, 3]).prod(0, dtype=lib.float32))
    assert_same_as_torch(lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(axis=1))
    assert_same_as_torch(lambda lib: lib.tensor(3.0).cumsum(0))
    assert_same_as_torch(lambda lib: lib.tensor(3.0).prod(-1, keepdim=True))


@pytest.mark.torch
def test_prod_gradient_with_two_zeros_is_zero_as_torch():
    torch = _torch()
    values = [0.0, 2.0, 0.0, 3.0]
    mine, theirs = md.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    mine.prod().backward()
    theirs.prod().backward()
    assert mine.grad.tolist() == theirs.grad.tolist() == [0.0] * 4


def test_prod_and_cumsum_errors():
    with pytest.raises(TypeError, match="prod: dim must be an int, got tuple"):
        md.ones(2, 3).prod((0, 1))
    with pytest.raises(TypeError, match=r"cumsum: dim is required \(an int\)"):
        md.ones(3).cumsum()


@pytest.mark.torch
def test_var_and_std_take_unbiased_as_torch():
    x = np.array([[1.0, 2.0, 4.0], [0.5, 3.0, 3.5]])
    for name in ["var", "std"]:
        assert_same_as_torch(lambda lib: getattr(lib.tensor(x), name)(False))  # torch's var(input, unbiased)
        assert_same_as_torch(lambda lib: getattr(lib.tensor(x), name)(1, False, True))  # (dim, unbiased, keepdim)
        assert_same_as_torch(lambda lib: getattr(lib, name)(lib.tensor(x), unbiased=True))


def test_var_refuses_both_correction_and_unbiased():
    with pytest.raises(TypeError, match="var: got both correction= and unbiased=; pass only one"):
        md.ones(3).var(correction=0, unbiased=False)


# ----------------------------------------------------------------------------- linear algebra
def test_mm_errors():
    with pytest.raises(ValueError, match=r"mm: expected a matrix \(2-D\) and a matrix \(2-D\), got shapes \(3,\) and \(3, 2\)"):
        md.mm(md.ones(3), md.ones(3, 2))
    with pytest.raises(ValueError, match=r"mm: shapes \(2, 3\) and \(2, 3\) cannot be multiplied \(3 != 2\)"):
        md.ones(2, 3).mm(md.ones(2, 3))
    with pytest.raises(TypeError, match="mm: expected both operands to have the same dtype, got float32 and float64"):
        md.mm(md.ones(2, 3), md.ones(3, 2, dtype=md.float64))
    with pytest.raises(TypeError, match="mm: expected Tensors, got list"):
        md.mm(md.ones(2, 3), [[1.0]] * 3)


def test_mv_and_dot_errors():
    with pytest.raises(ValueError, match=r"mv: expected a matrix \(2-D\) and a vector \(1-D\), got shapes \(2, 3\) and \(3, 1\)"):
        md.mv(md.ones(2, 3), md.ones(3, 1))
    with pytest.raises(ValueError, match=r"mv: shapes \(2, 3\) and \(2,\) cannot be multiplied \(3 != 2\)"):
        md.ones(2, 3).mv(md.ones(2))
    with pytest.raises(ValueError, match=r"dot: expected a vector \(1-D\) and a vector \(1-D\), got shapes \(2, 3\) and \(3,\)"):
        md.dot(md.ones(2, 3), md.ones(3))
    with pytest.raises(ValueError, match=r"dot: shapes \(3,\) and \(2,\) cannot be multiplied \(3 != 2\)"):
        md.ones(3).dot(md.ones(2))


@pytest.mark.torch
def test_norm_defaults_and_dtype_match_torch():
    x = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]], dtype=np.float32)
    torch = _torch()
    cases = [
        lambda lib, t: lib.norm(t),
        lambda lib, t: t.norm(keepdim=True),
        lambda lib, t: t.norm(2, dim=1),
        lambda lib, t: t.norm(p=1),  # a number: the vector norm of all elements, not the matrix 1-norm
        lambda lib, t: t.norm(float("inf"), dim=0),
        lambda lib, t: t.norm(0),
        lambda lib, t: lib.norm(t, dtype=lib.float64),
        lambda lib, t: t.reshape(1, 2, 3).norm(),  # "fro" over all elements of any number of dims
    ]
    for call in cases:
        mine, theirs = call(md, md.tensor(x)), call(torch, torch.tensor(x)).numpy()
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_allclose(mine.numpy(), theirs, rtol=1e-6)


def test_norm_errors():
    with pytest.raises(TypeError, match="norm: expected a floating-point Tensor, got dtype int64"):
        md.norm(md.arange(3))
    with pytest.raises(ValueError, match=r"norm: p must be a number or 'fro' \('nuc' is not available\), got 'nuc'"):
        md.ones(2, 2).norm("nuc")
    with pytest.raises(ValueError, match=r"norm: the Frobenius norm takes at most 2 dims, got dim=\(0, 1, 2\)"):
        md.ones(2, 2, 2).norm("fro", dim=(0, 1, 2))


# ----------------------------------------------------------------------------- split, chunk, sort, topk
@pytest.mark.torch
def test_split_and_chunk_edge_cases_match_torch():
    assert_same_as_torch(lambda lib: lib.arange(5).split([2, 0, 3]))
    assert_same_as_torch(lambda lib: lib.split(lib.arange(5), 2))
    assert_same_as_torch(lambda lib: lib.ones(0).split(2))
    assert_same_as_torch(lambda lib: lib.ones(0, 3).chunk(3))
    assert_same_as_torch(lambda lib: lib.chunk(lib.arange(6), 4))  # 3 pieces of 2, not 4
    assert_same_as_torch(lambda lib: lib.arange(6).reshape(2, 3).chunk(5, dim=-1))


def test_split_pieces_are_views():
    x = md.zeros(4)
    first, second = x.split(2)
    first.fill_(1.0)
    assert x.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_split_errors():
    with pytest.raises(ValueError, match=r"split: split_size must be positive \(0 only for an empty dim\), got 0 for dim 0 of size 3"):
        md.ones(3).split(0)
    with pytest.raises(ValueError, match=r"split: split sizes must be non-negative and add up to 3 \(the size of dim 0\), got \[1, 1\]"):
        md.ones(3).split([1, 1])
    with pytest.raises(ValueError, match="split: expects a tensor with at least 1 dimension, got a 0-d tensor"):
        md.tensor(1.0).split(1)


def test_chunk_errors():
    with pytest.raises(ValueError, match="chunk: chunks must be a positive int, got 0"):
        md.ones(3).chunk(0)
    with pytest.raises(ValueError, match="chunk: expects a tensor with at least 1 dimension, got a 0-d tensor"):
        md.tensor(1.0).chunk(2)


@pytest.mark.torch
def test_sort_keeps_ties_in_order_and_puts_nan_last_as_torch():
    values = [2.0, 1.0, float("nan"), 2.0, 1.0, 3.0]
    for descending in [False, True]:
        assert_same_as_torch(lambda lib: tuple(lib.tensor(values).sort(descending=descending, stable=True)))
        assert_same_as_torch(lambda lib: lib.argsort(lib.tensor(values), descending=descending, stable=True))
    assert_same_as_torch(lambda lib: tuple(lib.tensor([3, 1, 2]).sort(descending=True)))
    assert_same_as_torch(lambda lib: tuple(lib.tensor([True, False]).sort()))
    assert_same_as_torch(lambda lib: tuple(lib.tensor(3.0).sort()))
    assert_same_as_torch(lambda lib: tuple(lib.tensor(3.0).topk(1)))


def test_sort_returns_a_named_pair():
    values, indices = md.tensor([2.0, 1.0]).sort()
    result = md.tensor([2.0, 1.0]).topk(1)
    assert result.values.tolist() == [2.0] and result.indices.tolist() == [0] and indices.dtype == np.int64


def test_topk_and_sort_errors():
    with pytest.raises(ValueError, match=r"topk: k must be an int in \[0, 3\] \(the size of dim -1\), got 4"):
        md.ones(3).topk(4)
    with pytest.raises(IndexError, match=r"sort: dim 2 is out of range for a tensor with 1 dimensions"):
        md.ones(3).sort(dim=2)
    with pytest.raises(TypeError, match="topk: expected a Tensor, got list"):
        md.topk([1.0, 2.0], 1)


# ----------------------------------------------------------------------------- factories
@pytest.mark.torch
def test_new_factories_take_the_tensors_dtype_and_device_as_torch():
    def base(lib):
        return lib.tensor([1, 2], dtype=lib.int32)

    assert_same_as_torch(lambda lib: base(lib).new_zeros(2, 3))
    assert_same_as_torch(lambda lib: base(lib).new_ones((2,), dtype=lib.float64))
    assert_same_as_torch(lambda lib: base(lib).new_full((2, 2), 7))
    assert_same_as_torch(lambda lib: base(lib).new_tensor([1.5, 2.5]))  # truncated to int32, as torch
    assert_same_as_torch(lambda lib: lib.ones(1, dtype=lib.float64).new_tensor([1, 2]))
    assert md.ones(1).new_zeros(2, requires_grad=True).requires_grad
    source = md.ones(2)
    copy = md.zeros(1).new_tensor(source)
    copy.fill_(3.0)
    assert source.tolist() == [1.0, 1.0]  # new_tensor copies


def test_randint_randperm_and_empty():
    md.manual_seed(0)
    first = md.randint(10, (50,))
    md.manual_seed(0)
    assert md.randint(0, 10, (50,)).tolist() == first.tolist()  # randint(high, size) == randint(0, high, size)
    assert first.dtype == np.int64 and 0 <= first.numpy().min() and first.numpy().max() < 10
    between = md.randint(low=-3, high=-1, size=(2, 5), dtype=md.int32)
    assert between.dtype == np.int32 and set(between.numpy().ravel()) <= {-3, -2}
    perm = md.randperm(6)
    assert perm.dtype == np.int64 and sorted(perm.tolist()) == list(range(6))
    assert md.randperm(4, dtype=md.float32).dtype == np.float32
    assert md.empty(2, 3).shape == (2, 3) and md.empty((2,), dtype=md.long).dtype == np.int64


def test_randint_and_randperm_errors():
    with pytest.raises(ValueError, match="randint: low must be less than high, got low=3 and high=3"):
        md.randint(3, 3, (2,))
    with pytest.raises(TypeError, match=r"randint: expected randint\(high, size\) or randint\(low, high, size\)"):
        md.randint(3)
    with pytest.raises(ValueError, match="randperm: n must be a non-negative int, got -1"):
        md.randperm(-1)


# ----------------------------------------------------------------------------- Module.double / float
@pytest.mark.torch
def test_module_double_and_float_cast_as_torch():
    torch = _torch()

    def model(nn, lib):
        layer = nn.Linear(2, 1)
        layer.register_buffer("steps", lib.zeros(1, dtype=lib.long))
        layer.register_buffer("scale", lib.ones(1))
        return layer

    mine, theirs = model(md.nn, md), model(torch.nn, torch)
    weight = mine.weight
    assert mine.double() is mine and mine.weight is weight  # in place: an optimizer keeps its Parameters
    theirs.double()
    assert {k: v.dtype for k, v in mine.state_dict().items()} == {
        k: v.numpy().dtype for k, v in theirs.state_dict().items()
    }
    assert mine.float() is mine and mine.weight.dtype == np.float32 and mine.steps.dtype == np.int64


@pytest.mark.skipif(md.cuda.is_available(), reason="a GPU (or the CuPy stand-in) is usable here")
def test_cuda_synchronize_without_a_gpu_is_a_device_error():
    with pytest.raises(backend.DeviceError, match="no GPU is usable"):
        md.cuda.synchronize()
