"""Tensor construction, dtypes and promotion, conversions and bad input."""
import subprocess
import sys

import numpy as np
import pytest

import minidl as md
import minidl.functional as F


def test_dtypes_follow_pytorch_defaults():
    assert md.tensor([1.0, 2.0]).dtype == np.float32
    assert md.tensor([1, 2]).dtype == np.int64
    assert md.tensor([True]).dtype == np.bool_
    assert md.tensor(np.zeros(2)).dtype == np.float64  # arrays keep their dtype
    with md.default_dtype("float64"):
        assert md.tensor([1.0]).dtype == np.float64 and md.randn(2).dtype == np.float64
    assert md.get_default_dtype() == np.float32


def test_set_default_dtype_rejects_non_floats():
    with pytest.raises(TypeError, match="float32 or float64"):
        md.set_default_dtype("int32")


def test_tensor_copies_its_data():
    array = np.ones(3)
    t = md.tensor(array)
    array[0] = 5
    assert t.numpy()[0] == 1


def test_unsupported_data_is_refused():
    with pytest.raises(TypeError, match="unsupported data of dtype"):
        md.tensor(["a", "b"])
    with pytest.raises(TypeError, match="add: expected a Tensor, array or real number, got str"):
        md.tensor([1.0]) + "x"


@pytest.mark.torch
@pytest.mark.parametrize(
    "left, right",
    [
        ("float32", "float64"),
        ("int64", "float32"),
        ("int32", "int64"),
        ("bool", "int64"),
        ("bool", "float32"),
        ("float32", 2.5),
        ("int64", 2.5),
        ("int64", 3),
        ("bool", 3),
        ("float32", True),
        ("float64", "float32_0d"),
        ("int64", "float64_0d"),
    ],
)
def test_promotion_matches_torch(left, right):
    torch = pytest.importorskip("torch")

    def make(spec, lib):
        if not isinstance(spec, str):
            return spec
        dtype, zero_d = spec.removesuffix("_0d"), spec.endswith("_0d")
        array = np.ones(() if zero_d else (2,), dtype=dtype)
        return md.tensor(array) if lib == "md" else torch.tensor(array)

    ours = (make(left, "md") * make(right, "md")).dtype
    theirs = (make(left, "torch") * make(right, "torch")).dtype
    assert str(ours) == str(theirs).removeprefix("torch.")


def test_integer_division_is_true_division():
    out = md.tensor([1, 2]) / md.tensor([2, 4])
    assert out.dtype == np.float32 and out.tolist() == [0.5, 0.5]


def test_gradient_flows_back_through_a_dtype_cast():
    x = md.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = (x.double() * md.tensor([3.0, 4.0], dtype="float64")).sum()
    y.backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 4.0]


def test_mixed_float_operands_give_float32_gradients_to_float32_inputs():
    a = md.tensor([1.0], requires_grad=True)
    b = md.tensor([2.0], dtype="float64", requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        md.zeros(2, 3) + md.zeros(4)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied \(3 != 2\)"):
        md.zeros(2, 3) @ md.zeros(2, 3)
    with pytest.raises(ValueError, match=r"reshape: shape \(4,\) is invalid for a tensor of shape \(2, 3\)"):
        md.zeros(2, 3).reshape(4)
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor with 2 dimensions"):
        md.zeros(2, 3).sum(dim=2)
    with pytest.raises(ValueError, match=r"cat: sizes must match except in dim 0"):
        md.cat([md.zeros(2, 3), md.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"linear: .* got input \(5, 3\) and weight \(2, 4\)"):
        F.linear(md.zeros(5, 3), md.zeros(2, 4))
    with pytest.raises(IndexError, match=r"getitem: invalid index for a tensor of shape \(2, 3\)"):
        md.zeros(2, 3)[5]


def test_loss_errors_name_the_loss():
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(4, 1\) must equal input shape \(4,\)"):
        F.mse_loss(md.zeros(4), md.zeros(4, 1))
    with pytest.raises(IndexError, match="cross_entropy: target 7 is out of bounds for 3 classes"):
        F.cross_entropy(md.zeros(2, 3), md.tensor([0, 7]))
    with pytest.raises(TypeError, match="target must be an integer tensor of class indices"):
        F.nll_loss(md.zeros(2, 3), md.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="binary_cross_entropy: input values must be between 0 and 1"):
        F.binary_cross_entropy(md.tensor([1.5]), md.tensor([1.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(md.zeros(2), md.zeros(2), reduction="average")
    with pytest.raises(ValueError, match="dropout: probability has to be between 0 and 1, got 1.5"):
        F.dropout(md.zeros(2), p=1.5)


@pytest.mark.parametrize("logit", [1e4, -1e4])
def test_softmax_family_stays_finite_for_huge_logits(logit):
    x = md.tensor([[logit, 0.0, -logit]], requires_grad=True)
    for value in (F.softmax(x, 1), F.log_softmax(x, 1), F.cross_entropy(x, md.tensor([1])),
                  F.binary_cross_entropy_with_logits(x, md.tensor([[1.0, 0.0, 1.0]])), F.sigmoid(x)):
        value.sum().backward()
        assert np.isfinite(value.numpy()).all() and np.isfinite(x.grad.numpy()).all()
        x.grad = None


def test_dropout_zeroes_a_fraction_and_scales_the_rest():
    md.manual_seed(0)
    x = md.ones(100_000, requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)  # the gradient goes through the same mask
    assert F.dropout(x, p=0.3, training=False) is x
    assert (F.dropout(x, p=1.0).numpy() == 0).all()


def test_manual_seed_reproduces_random_tensors():
    md.manual_seed(7)
    first = md.randn(3).numpy().copy()
    md.manual_seed(7)
    np.testing.assert_array_equal(md.randn(3).numpy(), first)


def test_conversions_and_repr():
    t = md.tensor([[1.0, 2.0]], requires_grad=True)
    assert t.shape == (1, 2) and t.ndim == 2 and len(t) == 1 and t.numel() == 2 and t.size(1) == 2
    assert t.device == "cpu" and t.to("cpu") is t
    assert md.tensor([3.5]).item() == 3.5 and float(md.tensor(2.0)) == 2.0
    assert "requires_grad=True" in repr(t) and "grad_fn=<MulBackward>" in repr(t * 2)
    assert [row.tolist() for row in md.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]
    assert (md.tensor([1, 2]) == md.tensor([1, 3])).tolist() == [True, False]
    with pytest.raises(ValueError, match="only a tensor with one element"):
        md.zeros(2).item()


def test_setitem_on_a_leaf_is_refused_while_recording_and_allowed_under_no_grad():
    x = md.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor that requires grad"):
        x[0] = 1.0
    with md.no_grad():
        x[0] = 1.0
    assert x.tolist() == [1.0, 0.0, 0.0]


def test_factories():
    assert md.zeros(2, 3).shape == (2, 3) and md.ones((2,)).tolist() == [1.0, 1.0]
    assert md.arange(3).dtype == np.int64 and md.arange(0.0, 1.0, 0.5).tolist() == [0.0, 0.5]
    assert md.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert md.zeros_like(md.ones(2, dtype="float64")).dtype == np.float64
    assert ((md.rand(1000).numpy() >= 0) & (md.rand(1000).numpy() < 1)).all()


def test_import_is_light():
    """``import minidl`` must not pull numba, scipy, matplotlib, sklearn, cupy or torch."""
    code = (
        "import sys, minidl, minidl.nn\n"
        "heavy = [m for m in ('numba', 'scipy', 'matplotlib', 'sklearn', 'cupy', 'torch') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
