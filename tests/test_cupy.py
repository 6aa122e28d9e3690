"""The same ops on a CUDA device (CuPy arrays) give what they give on the CPU.

Skipped, with the reason shown, on machines where CuPy is missing or no GPU is usable; they also
run on the CuPy stand-in, in the process of tests/test_fake_cuda_process.py.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl.testing import assert_close
from test_ops_on_device import tensors_made_on_the_device

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not md.cupy_usable(),
        reason=f"no usable CUDA device ({md.backend.cupy_unusable_reason()}); the CuPy stand-in runs these "
        "in tests/test_fake_cuda_process.py",
    ),
]


def _run(md_fn, inputs, device):
    tensors = [md.tensor(x, requires_grad=x.dtype.kind == "f", device=device) for x in inputs]
    with tensors_made_on_the_device() if device == "cuda" else contextlib.nullcontext():
        outputs = md_fn(*tensors)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    sum(o.sum() for o in outputs if o.requires_grad).backward()
    return [o.numpy() for o in outputs], [None if t.grad is None else t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("name", ["add", "matmul", "softmax_log_softmax", "cross_entropy_indices", "getitem", "sum", "linear"])
@settings(max_examples=5)
@given(data=st.data())
def test_cuda_matches_cpu(name, data):
    from op_cases import CASES

    seed = data.draw(st.integers(0, 2**32 - 1))
    inputs, md_fn, _ = CASES[name](data.draw, np.random.default_rng(seed))
    inputs = [np.asarray(x) for x in inputs]
    cpu_out, cpu_grads = _run(md_fn, inputs, "cpu")
    gpu_out, gpu_grads = _run(md_fn, inputs, "cuda")
    for mine, expected in zip(gpu_out + gpu_grads, cpu_out + cpu_grads):
        if expected is not None:
            assert_close(mine, expected, 1e-10, 1e-10, name)


def test_moving_between_devices_is_differentiable():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x.to("cuda") * 3).to("cpu").sum()
    y.backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("algorithm", ["im2col", "direct"])
def test_convolution_and_pooling_on_cuda_match_cpu(algorithm):
    import minidl.functional as F

    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)]

    def network(x, w, b):
        y = F.conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(2, 1), groups=2)
        return F.max_pool2d(y, 2, ceil_mode=True) + F.avg_pool2d(y, 2, ceil_mode=True)

    with md.config.override(conv_algorithm=algorithm):
        cpu_out, cpu_grads = _run(network, inputs, "cpu")
        gpu_out, gpu_grads = _run(network, inputs, "cuda")
    for mine, expected in zip(gpu_out + gpu_grads, cpu_out + cpu_grads):
        assert_close(mine, expected, 1e-10, 1e-10, "conv/pool on cuda")
