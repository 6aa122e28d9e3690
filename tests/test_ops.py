"""Every op in ``tests/op_cases.py`` against PyTorch (float64 and float32) and central differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

import minidl as md  # noqa: E402
from minidl.testing import check_against_torch, gradcheck  # noqa: E402
from op_cases import CASES, NOT_GRADCHECKED  # noqa: E402


def build(name, data, dtype):
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    inputs, md_fn, torch_fn = CASES[name](data.draw, np.random.default_rng(seed))
    inputs = [np.asarray(x, dtype=dtype if np.asarray(x).dtype.kind == "f" else None) for x in inputs]
    return inputs, md_fn, torch_fn


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_matches_torch(name, dtype, data):
    """Same inputs and upstream gradient: outputs, dtypes and input gradients agree with torch
    (1e-10 relative in float64, 1e-5 in float32); inputs unmodified, gradients not aliased."""
    inputs, md_fn, torch_fn = build(name, data, dtype)
    check_against_torch(md_fn, torch_fn, inputs)


@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_GRADCHECKED))
@settings(max_examples=8)
@given(data=st.data())
def test_gradcheck(name, data):
    """Backward agrees with central differences of the forward, in float64."""
    inputs, md_fn, _ = build(name, data, "float64")
    tensors = [md.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    assert gradcheck(md_fn, tensors, eps=1e-6, atol=1e-6, rtol=1e-4)
