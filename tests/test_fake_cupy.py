"""The CuPy stand-in (``minidl.fake_cupy``) behaves as CuPy where minidl relies on it: device
arrays of their own type, no implicit mixing with NumPy, counted copies, only CuPy's names.

The stand-in module works in any process; what needs minidl to use it (MINIDL_FAKE_CUDA=1) is in
test_ops_on_device.py.
"""
import copy

import numpy as np
import pytest

from minidl import fake_cupy as cp
from minidl.fake_cupy import names

IMPLICIT = "Implicit conversion to a NumPy array is not allowed"


def test_device_arrays_are_not_numpy_arrays():
    x = cp.asarray([1.0, 2.0])
    assert type(x) is cp.ndarray and not isinstance(x, np.ndarray)
    assert x.shape == (2,) and x.dtype == np.float64 and x.ndim == 1 and x.size == 2


@pytest.mark.parametrize(
    "convert", [np.asarray, np.array, lambda x: np.asarray([x, x])], ids=["asarray", "array", "in-a-list"],
)
def test_implicit_conversion_to_numpy_raises_cupys_error(convert):
    with pytest.raises(TypeError, match=IMPLICIT):
        convert(cp.asarray([1.0, 2.0]))


@pytest.mark.parametrize(
    "mix",
    [
        lambda d, h: d + h,
        lambda d, h: h + d,
        lambda d, h: h * d,
        lambda d, h: np.add(h, d),
        lambda d, h: cp.maximum(d, h),
        lambda d, h: cp.where(d > 0, d, h),
        lambda d, h: cp.concatenate([d, h]),
        lambda d, h: d @ h,
    ],
    ids=["dev+host", "host+dev", "host*dev", "np.add", "cp.maximum", "cp.where", "cp.concatenate", "matmul"],
)
def test_mixing_device_and_host_arrays_raises(mix):
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        mix(cp.asarray([1.0, 2.0]), np.ones(2))


def test_scalars_mix_with_device_arrays():
    x = cp.asarray([1.0, 2.0])
    for result in (x + 1, 2.5 * x, np.float32(2) * x, x ** 2, -x, abs(x)):
        assert type(result) is cp.ndarray
    assert (x * 2).get().tolist() == [2.0, 4.0]


def test_results_are_device_arrays_and_reductions_stay_on_the_device():
    x = cp.asarray([[1.0, 2.0], [3.0, 4.0]])
    assert type(x.sum()) is cp.ndarray and x.sum().shape == ()
    assert type(cp.exp(x)) is cp.ndarray and type(x[0, 1]) is cp.ndarray
    assert all(type(part) is cp.ndarray for part in cp.split(x, 2))
    assert type(x.T.reshape(4)) is cp.ndarray


def test_counts_stay_on_the_device_as_in_cupy():
    """NumPy's count_nonzero gives a Python int; CuPy's a 0-d device array (reading it syncs)."""
    count = cp.count_nonzero(cp.asarray([0.0, 1.0, 2.0]))
    assert type(count) is cp.ndarray and int(count) == 2


def test_split_points_may_be_a_host_array_as_in_cupy():
    parts = cp.split(cp.arange(5), np.array([2]))
    assert [p.get().tolist() for p in parts] == [[0, 1], [2, 3, 4]]


def test_numpy_functions_on_device_arrays_dispatch_to_the_stand_in():
    """CuPy's ``__array_function__``: ``np.sum(device_array)`` runs CuPy's sum."""
    assert type(np.sum(cp.asarray([1.0, 2.0]))) is cp.ndarray


def test_in_place_operators_write_into_the_array():
    x = cp.asarray([1.0, 2.0])
    view = x[:]
    x += 1
    x *= cp.asarray([2.0, 3.0])
    assert view.get().tolist() == [4.0, 9.0]


def test_only_cupys_names_are_exposed():
    assert "errstate" not in names.cupy_names() and not hasattr(cp, "errstate")
    with pytest.raises(AttributeError, match="module 'cupy' has no attribute 'errstate'"):
        cp.errstate
    with pytest.raises(AttributeError, match="'cupy.ndarray' object has no attribute 'itemset'"):
        cp.asarray([1.0]).itemset
    public = {n for n in dir(cp) if not n.startswith("_") and not isinstance(getattr(cp, n), type(np))}
    assert public - {name.split(".", 1)[1] for name in names.cupy_names()} == {"count_transfers"}


def test_names_cupy_has_but_the_stand_in_lacks_are_a_clear_error():
    with pytest.raises(AttributeError, match="the CuPy stand-in does not provide cupy.fuse"):
        cp.fuse


def test_copies_to_the_host_are_counted():
    x = cp.asarray([1.0, 2.0])
    with cp.count_transfers() as copies:
        x.get(), cp.asnumpy(x), x.sum().item(), x.tolist(), float(x[0]), int(x[1]), bool(x[0] > 0)
        cp.cuda.Device().synchronize()
    assert (copies.to_host, copies.to_device) == (8, 0)


def test_copies_to_the_device_are_counted():
    x, index = cp.asarray([1.0, 2.0, 3.0]), cp.asarray([0, 1])
    with cp.count_transfers() as copies:
        cp.asarray(np.ones(2)), cp.array([1, 2])  # host data
        x[np.array([0, 2])]  # a host index array, copied over as CuPy does
        cp.asarray(x), x + 1, x[index], x.sum(), cp.array(x)  # all on the device
    assert (copies.to_host, copies.to_device) == (0, 3)


def test_counters_nest():
    with cp.count_transfers() as outer:
        cp.asarray([1.0]).get()
        with cp.count_transfers() as inner:
            cp.asarray([1.0])
    assert (outer.to_host, outer.to_device, inner.to_host, inner.to_device) == (1, 2, 0, 1)


def test_setitem_follows_cupy():
    """A scalar or a device array goes in; a host array only where CuPy copies it over (advanced
    indexing), else CuPy's fill raises."""
    x = cp.zeros((2, 3))
    x[0] = 1.0
    x[1] = cp.asarray([1.0, 2.0, 3.0])
    x[cp.asarray([0])] = np.array([5.0, 6.0, 7.0])
    assert x.get().tolist() == [[5.0, 6.0, 7.0], [1.0, 2.0, 3.0]]
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        x[0] = np.array([1.0, 2.0, 3.0])


def test_add_at_accumulates_repeated_indices_in_the_dtypes_cupy_supports():
    target = cp.zeros(3, dtype=np.float32)
    cp.add.at(target, cp.asarray([0, 0, 2]), cp.asarray([1.0, 2.0, 3.0], dtype=np.float32))
    assert target.get().tolist() == [3.0, 0.0, 3.0]
    with pytest.raises(TypeError, match="int64"):
        cp.add.at(cp.zeros(3, dtype=np.int64), cp.asarray([0]), 1)
    with pytest.raises(NotImplementedError, match="cupy_multiply.at"):
        cp.multiply.at(target, cp.asarray([0]), 2.0)


def test_may_share_memory_and_copies():
    x = cp.asarray([1.0, 2.0, 3.0])
    assert cp.may_share_memory(x, x[1:]) and not cp.may_share_memory(x, x.copy())
    assert not cp.may_share_memory(x, copy.deepcopy(x))


def test_cuda_namespace():
    stream = cp.cuda.get_current_stream()
    assert stream.ptr == 0 and stream is cp.cuda.Stream.null
    assert cp.cuda.Device().id == 0 and cp.asarray([1.0]).device == cp.cuda.Device(0)
    assert cp.cuda.runtime.getDeviceCount() == 1


def test_cupyx_erf():
    erf = cp.cupyx.scipy.special.erf(cp.asarray([0.0, 1.0]))
    assert type(erf) is cp.ndarray and np.allclose(erf.get(), [0.0, 0.8427007929])


def test_dtypes_are_numpys_as_in_cupy():
    assert cp.float32 is np.float32 and cp.int64 is np.int64 and cp.dtype is np.dtype
