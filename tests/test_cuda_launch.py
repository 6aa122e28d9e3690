"""How ``kernels.cuda`` launches its kernels, checked without a GPU: Numba's CUDA target imports,
types and caches kernels without a device, and a recording kernel shows what a launch asks for.

- every launch runs on the stream that the CuPy arrays' CUDA Array Interface names (CuPy's current
  stream) and wraps them with ``sync=False``, so the host does not wait;
- the direct weight gradient is a reduction with one block per weight, summing in the arrays' dtype;
- every kernel is cached on disk;
- the CuPy stand-in's arrays reach the kernels as the NumPy arrays behind them (``minidl.ops.window``).

What only a real GPU shows (``test_kernels_follow_cupys_stream`` below, skipped here): that the
kernels really are ordered with CuPy's work on a user's stream.  That no launch waits on the host
follows from the arguments Numba receives: it waits when it converts a CuPy array itself
(``as_cuda_array(..., sync=True)``), not when it is given device arrays.
"""
import os

import numpy as np
import pytest

import minidl as md

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="checks Numba's real CUDA target")

STREAM = 0x5EED  # the pointer of the (fake) stream CuPy is working on


class CupyLike:
    """What a launcher sees of a CuPy array: shape, size and a CUDA Array Interface (v3) that
    names CuPy's current stream."""

    def __init__(self, shape, stream=STREAM):
        self.shape, self.size = shape, int(np.prod(shape))
        self.__cuda_array_interface__ = dict(shape=shape, typestr="<f4", data=(0, False), strides=None, version=3)
        if stream is not None:
            self.__cuda_array_interface__["stream"] = stream


class RecordingKernel:
    """Stands in for a ``@cuda.jit`` kernel: keeps its launch configuration and arguments."""

    launches = 0

    def __getitem__(self, configuration):
        self.configuration = configuration
        return self

    def __call__(self, *args):
        self.args = args
        self.launches += 1

    @property
    def stream(self):
        """The stream given in the launch configuration, or None where there was none."""
        return self.configuration[2] if len(self.configuration) > 2 else None


@pytest.fixture
def syncs(monkeypatch):
    """Numba's ``as_cuda_array`` and ``external_stream`` (both need a device) replaced by
    recorders; the list of the ``sync`` flags that ``as_cuda_array`` received."""
    from numba import cuda

    flags = []
    monkeypatch.setattr(cuda, "as_cuda_array", lambda array, sync=True: flags.append(sync) or ("device array", array))
    monkeypatch.setattr(cuda, "external_stream", lambda pointer: ("stream", pointer))
    return flags


def _recorded(monkeypatch, kernel_name):
    """``kernels.cuda`` with its kernel ``kernel_name`` replaced by a ``RecordingKernel``."""
    from kernels import cuda as kernels

    kernel = RecordingKernel()
    monkeypatch.setattr(kernels, kernel_name, kernel)
    return kernels, kernel


def _images(n, c, h, w):
    return CupyLike((n, c, h, w))


PAIR = (1, 1)
LAUNCHES = {  # launcher: its arguments (CuPy-like arrays and geometry)
    "im2col": lambda: (_images(2, 3, 4, 4), CupyLike((27, 8)), (2, 2), (3, 3), PAIR, (0, 0), PAIR),
    "col2im": lambda: (CupyLike((27, 8)), _images(2, 3, 4, 4), (2, 2), (3, 3), PAIR, (0, 0), PAIR),
    "max_pool_forward": lambda: (_images(2, 3, 4, 4), _images(2, 3, 2, 2), _images(2, 3, 2, 2), (2, 2), (2, 2), (0, 0), PAIR),
    "max_pool_backward": lambda: (_images(2, 3, 2, 2), _images(2, 3, 2, 2), _images(2, 3, 4, 4)),
    "avg_pool_forward": lambda: (_images(2, 3, 4, 4), _images(2, 3, 2, 2), (2, 2), (2, 2), (0, 0), True, 0),
    "avg_pool_backward": lambda: (_images(2, 3, 2, 2), _images(2, 3, 4, 4), (2, 2), (2, 2), (0, 0), True, 0),
    "conv_forward_direct": lambda: (_images(2, 3, 4, 4), _images(5, 3, 3, 3), _images(2, 5, 2, 2), PAIR, (0, 0), PAIR, 1),
    "conv_backward_input_direct": lambda: (_images(2, 5, 2, 2), _images(5, 3, 3, 3), _images(2, 3, 4, 4), PAIR, (0, 0), PAIR, 1),
    "conv_backward_weight_direct": lambda: (_images(2, 5, 2, 2), _images(2, 3, 4, 4), _images(5, 3, 3, 3), PAIR, (0, 0), PAIR, 1),
}


@pytest.mark.parametrize("name", sorted(LAUNCHES))
def test_launches_run_on_cupys_stream_without_a_host_sync(syncs, monkeypatch, name):
    kernels, kernel = _recorded(monkeypatch, "_" + name)
    args = LAUNCHES[name]()
    getattr(kernels, name)(*args)
    assert kernel.launches == 1
    assert kernel.stream == ("stream", STREAM), f"{name}: launched on stream {kernel.stream}"
    arrays = [a for a in args if isinstance(a, CupyLike)]
    assert syncs == [False] * len(arrays), f"{name}: as_cuda_array sync flags {syncs}"
    expected = tuple(("device array", a) if isinstance(a, CupyLike) else a for a in args)
    assert kernel.args == expected


def test_numpy_arrays_and_streamless_interfaces_launch_on_the_default_stream(syncs, monkeypatch):
    """NumPy arrays (the simulator) pass unchanged; an interface without a stream (CuPy exporting
    version 2) means the default stream."""
    kernels, kernel = _recorded(monkeypatch, "_max_pool_backward")
    host = [np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int64), np.zeros((1, 1, 4, 4))]
    kernels.max_pool_backward(*host)
    assert kernel.stream == 0 and syncs == []
    assert all(passed is array for passed, array in zip(kernel.args, host))
    kernels.max_pool_backward(*(CupyLike(a.shape, stream=None) for a in host))
    assert kernel.stream == 0 and syncs == [False] * 3


def test_weight_gradient_is_one_block_per_weight(syncs, monkeypatch):
    """MNIST's first layer, batch 64: 288 weights, each a sum over 64 * 26 * 26 positions."""
    kernels, kernel = _recorded(monkeypatch, "_conv_backward_weight_direct")
    kernels.conv_backward_weight_direct(_images(64, 32, 26, 26), _images(64, 1, 28, 28), _images(32, 1, 3, 3), PAIR, (0, 0), PAIR, 1)
    assert kernel.configuration[:2] == (288, kernels.THREADS_PER_BLOCK)


@pytest.mark.parametrize("terms, threads", [(0, 1), (8, 1), (9, 2), (72, 16), (1024, 128), (1025, 128), (43264, 128)])
def test_reduction_threads_are_a_power_of_two_for_about_eight_terms_each(terms, threads):
    from kernels import cuda as kernels

    assert kernels.reduction_threads(terms) == threads


def test_every_kernel_is_cached_on_disk():
    from numba.core.caching import NullCache
    from numba.cuda.dispatcher import CUDADispatcher

    from kernels import cuda as kernels

    compiled = {name: f for name, f in vars(kernels).items() if isinstance(f, CUDADispatcher) and not f.targetoptions.get("device")}
    assert len(compiled) == len(LAUNCHES)
    uncached = [name for name, f in compiled.items() if isinstance(f._cache, NullCache)]
    assert not uncached, f"kernels without cache=True: {uncached}"


def test_weight_gradient_sums_float32_in_float32(monkeypatch):
    """Typed for float32 arrays, the kernel holds no float64 value.  Typing needs only a compute
    capability, which a fake device gives (Numba would ask the driver)."""
    import types

    import numba.cuda.dispatcher
    from numba import types as nb
    from numba.cuda.compiler import compile_cuda

    from kernels import cuda as kernels

    monkeypatch.setattr(numba.cuda.dispatcher, "get_current_device", lambda: types.SimpleNamespace(compute_capability=(8, 0)))
    images, pair = nb.Array(nb.float32, 4, "C"), nb.UniTuple(nb.int64, 2)
    compiled = compile_cuda(kernels._conv_backward_weight_direct.py_func, nb.void,
                            (images, images, images, pair, pair, pair, nb.int64), cc=(8, 0))
    typemap = compiled.type_annotation.typemap
    assert any(t == nb.float32 for t in typemap.values())
    wide = sorted(name for name, t in typemap.items() if t == nb.float64)
    assert not wide, f"float64 values in the float32 weight gradient: {wide}"


@pytest.mark.gpu
@pytest.mark.skipif(not md.cupy_usable() or os.environ.get("MINIDL_FAKE_CUDA") == "1", reason="needs CuPy on a real CUDA device")
@pytest.mark.parametrize("algorithm", ["im2col", "direct"])
def test_kernels_follow_cupys_stream(algorithm):
    """On a non-blocking CuPy stream, which does not wait for the default stream, every kernel
    must run on that stream: a kernel on another stream would race with the CuPy work around it."""
    import minidl.functional as F
    from minidl import backend
    from minidl.testing import assert_close

    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((16, 4, 20, 20)), rng.standard_normal((8, 4, 3, 3))]

    def run(device):
        x, w = (md.tensor(a, requires_grad=True, device=device) for a in inputs)
        y = F.conv2d(x, w, padding=1, dilation=(1, 2))
        (F.max_pool2d(y, 2) + F.avg_pool2d(y, 2)).sum().backward()
        return [t.numpy() for t in (y, x.grad, w.grad)]

    with md.config.override(conv_algorithm=algorithm):
        expected = run("cpu")
        with backend._import_cupy().cuda.Stream(non_blocking=True) as stream:
            results = run("cuda")
            stream.synchronize()
    for mine, reference in zip(results, expected):
        assert_close(mine, reference, 1e-10, 1e-10, f"conv/pool ({algorithm}) on a CuPy stream")


def test_stand_in_arrays_run_the_simulated_kernels_when_small_else_the_cpu_kernels(monkeypatch):
    """For the CuPy stand-in (MINIDL_FAKE_CUDA=1), each launcher gets the NumPy arrays behind the
    stand-in's: ``kernels.cuda`` under the simulator up to ``SIMULATED_SIZE_LIMIT`` elements,
    ``kernels.cpu`` above it or without the simulator."""
    from numba import config

    from kernels import cpu, cuda
    from minidl import fake_cupy
    from minidl.fake_cupy.device_array import host_array
    from minidl.ops.window import SIMULATED_SIZE_LIMIT, StandInKernels

    calls = []
    for module in (cpu, cuda):
        monkeypatch.setattr(module, "max_pool_backward", lambda *args, module=module: calls.append((module, args)))
    for simulator, size, expected in [(True, SIMULATED_SIZE_LIMIT, cuda), (True, SIMULATED_SIZE_LIMIT + 1, cpu), (False, 1, cpu)]:
        monkeypatch.setattr(config, "ENABLE_CUDASIM", simulator)
        arrays = [fake_cupy.ndarray((1, 1, 1, size)) for _ in range(3)]
        StandInKernels().max_pool_backward(*arrays)
        module, args = calls.pop()
        assert module is expected, f"simulator {simulator}, {size} elements: ran {module.__name__}"
        assert all(passed is host_array(a) for passed, a in zip(args, arrays))
