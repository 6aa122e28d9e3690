"""md.save / md.load: round trips, checkpoints of models and optimizers, atomic writes, and clear
errors (never pickle) for damaged or foreign files."""
import collections
import os
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl import nn


def assert_same(loaded, saved):
    """Equal structure, types, dtypes and values (NaN equal to NaN); a dict is compared as a dict."""
    if isinstance(saved, md.Tensor):
        assert type(loaded) is md.Tensor and loaded.dtype == saved.dtype and loaded.requires_grad == saved.requires_grad
        assert np.array_equal(loaded.numpy(), saved.numpy(), equal_nan=saved.dtype.kind in "fc")
    elif isinstance(saved, (np.ndarray, np.generic)):
        assert type(loaded) is type(saved) and loaded.dtype == saved.dtype and loaded.shape == saved.shape
        assert np.array_equal(loaded, saved, equal_nan=saved.dtype.kind in "fc")
    elif isinstance(saved, dict):
        assert type(loaded) is dict and list(loaded) == list(saved)
        for key in saved:
            assert_same(loaded[key], saved[key])
    elif isinstance(saved, (list, tuple)):
        assert type(loaded) is type(saved) and len(loaded) == len(saved)
        for a, b in zip(loaded, saved):
            assert_same(a, b)
    else:
        assert type(loaded) is type(saved) and (loaded == saved or loaded != loaded and saved != saved)


def round_trip(obj, tmp_path):
    md.save(obj, tmp_path / "obj.npz")
    return md.load(tmp_path / "obj.npz")


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize(
    "obj",
    [
        md.tensor([[1.5, -2.0], [3.0, 4.0]]),
        md.tensor([1.0, 2.0], dtype="float64", requires_grad=True),
        md.tensor([1, 2, 3]),
        md.tensor(True),
        md.zeros(0, 3),
        np.arange(6, dtype=np.int8).reshape(2, 3),
        np.array(["a", "bc"]),
        np.float32(2.5),
        np.int64(-7),
        3,
        -1.25,
        float("nan"),
        "text with ünïcode",
        None,
        True,
        [1, [2.0, (None, "x")], ()],
        {"a": {"b": {"c": md.tensor([1.0])}}, 7: "int key", "": [], "a/b": 2},
    ],
    ids=lambda obj: type(obj).__name__,
)
def test_round_trip(obj, tmp_path):
    assert_same(round_trip(obj, tmp_path), obj)


def leaves():
    def arrays(*dtypes):
        return hnp.arrays(st.sampled_from(dtypes), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))

    tensor_dtypes = (np.float32, np.float64, np.int64, np.uint8, np.bool_)
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
        arrays(*tensor_dtypes, np.complex64, np.dtype("U3")), arrays(*tensor_dtypes).map(md.Tensor),
        hnp.from_dtype(np.dtype(np.float32)),
    )  # fmt: skip


nested = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), children, max_size=3),
    ),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=nested)
def test_round_trip_of_nested_structures(obj, tmp_path):
    assert_same(round_trip(obj, tmp_path), obj)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.PReLU(8), nn.Linear(8, 3))
        self.register_buffer("seen", md.tensor([0]))

    def forward(self, x):
        return self.body(x)


def test_model_state_dict_loads_into_a_fresh_model(tmp_path):
    md.manual_seed(0)
    model, x = Net(), md.randn(5, 4)
    model.seen = md.tensor([42])
    md.save(model.state_dict(), tmp_path / "model.npz")
    fresh = Net()
    assert not np.array_equal(fresh(x).numpy(), model(x).numpy())
    fresh.load_state_dict(md.load(tmp_path / "model.npz"))
    assert np.array_equal(fresh(x).numpy(), model(x).numpy()) and fresh.seen.item() == 42


def test_wrong_state_dict_says_which_names_and_shapes(tmp_path):
    md.save(nn.Sequential(nn.Linear(4, 5)).state_dict(), tmp_path / "other.npz")
    with pytest.raises(nn.StateDictError, match=r"size mismatch for 0.weight: expected \(3, 4\), got \(5, 4\)"):
        nn.Sequential(nn.Linear(4, 3)).load_state_dict(md.load(tmp_path / "other.npz"))
    with pytest.raises(nn.StateDictError, match="missing keys: seen, body.0.weight"):
        Net().load_state_dict(md.load(tmp_path / "other.npz"))


def train(model, optimizer, x, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()


def test_checkpoint_resumes_training_exactly(tmp_path):
    md.manual_seed(1)
    model, x = Net(), md.randn(6, 4)
    optimizer = md.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    train(model, optimizer, x, steps=3)
    md.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, tmp_path / "ckpt.npz")
    checkpoint = md.load(tmp_path / "ckpt.npz")
    assert checkpoint["epoch"] == 3 and checkpoint["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert_same(checkpoint["optimizer"], optimizer.state_dict())

    resumed = Net()
    resumed_optimizer = md.optim.Adam(resumed.parameters())
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    train(model, optimizer, x, steps=2)
    train(resumed, resumed_optimizer, x, steps=2)
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_file_is_a_readable_npz_with_named_arrays(tmp_path):
    md.save(collections.OrderedDict(w=md.ones(2), nested={"b": np.zeros(1)}), tmp_path / "plain")
    assert (tmp_path / "plain").is_file()  # written where asked, no suffix added
    with np.load(tmp_path / "plain", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["index", "obj/nested/b", "obj/w"]


# ----------------------------------------------------------------------------- atomic write
def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    md.save({"epoch": 1, "w": md.ones(3)}, path)
    before = path.read_bytes()

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 half of an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        md.save({"epoch": 2, "w": md.zeros(3)}, path)
    assert path.read_bytes() == before and md.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # the temporary file is gone


def test_save_replaces_an_existing_file(tmp_path):
    md.save(1, tmp_path / "x.npz")
    md.save([2], tmp_path / "x.npz")
    assert md.load(tmp_path / "x.npz") == [2] and len(list(tmp_path.iterdir())) == 1


# ----------------------------------------------------------------------------- damaged and foreign files
@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    md.save({"w": md.tensor(np.linspace(0, 1, 200)), "b": np.arange(3), "step": 3}, path)
    return path


def test_truncated_files_are_refused(checkpoint):
    data = checkpoint.read_bytes()
    for size in range(0, len(data), 97):
        checkpoint.write_bytes(data[:size])
        with pytest.raises(md.SerializationError, match=f"load: {checkpoint} is not an .npz archive"):
            md.load(checkpoint)


@given(position=st.integers(0, 10**6), flip=st.integers(1, 255))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_corrupted_byte_is_refused_or_harmless(checkpoint, position, flip):
    """A flipped byte in the data fails the CRC check; in the zip's bookkeeping it fails or does not
    matter: load never returns wrong values and never fails with another exception."""
    original = md.load(checkpoint)
    data = bytearray(checkpoint.read_bytes())
    position %= len(data)
    data[position] ^= flip
    damaged = checkpoint.with_name("damaged.npz")
    damaged.write_bytes(bytes(data))
    try:
        assert_same(md.load(damaged), original)
    except md.SerializationError as err:
        assert str(damaged) in str(err)


def test_a_corrupted_array_is_refused(checkpoint):
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the 200 float64 of "w"
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(md.SerializationError, match=f"load: {checkpoint} is damaged .*CRC"):
        md.load(checkpoint)


def test_foreign_files_are_refused(tmp_path):
    text, npy, npz, pickled = (tmp_path / name for name in ("a.txt", "b.npy", "c.npz", "d.pt"))
    text.write_text("not a checkpoint")
    np.save(npy, np.arange(3))
    np.savez(npz, weights=np.arange(3))
    pickled.write_bytes(pickle.dumps({"w": [1, 2]}))
    for path in (text, npy, pickled):
        with pytest.raises(md.SerializationError, match=f"{path} is not an .npz archive written by md.save"):
            md.load(path)
    with pytest.raises(md.SerializationError, match=f"{npz} is an .npz archive but not one written by md.save"):
        md.load(npz)
    with pytest.raises(FileNotFoundError, match="load: no file at .*missing.npz"):
        md.load(tmp_path / "missing.npz")


class Exploit:
    """Unpickling this makes a directory: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickled_object_arrays_are_never_unpickled(tmp_path):
    marker = tmp_path / "code-was-executed"
    path = tmp_path / "evil.npz"
    md.save({"w": np.zeros(2)}, path)
    with np.load(path) as archive:
        index = archive["index"]
    np.savez(path, index=index, **{"obj/w": np.array([Exploit(marker)], dtype=object)})
    with pytest.raises(md.SerializationError, match="Object arrays cannot be loaded when allow_pickle=False"):
        md.load(path)
    assert not marker.exists()
    with np.load(path, allow_pickle=True) as archive:  # what md.load protects from: unpickling runs code
        archive["obj/w"]
    assert marker.exists()


def test_index_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "future.npz"
    index = np.frombuffer(b'{"format": "minidl", "version": 99, "root": {"type": "value", "value": 1}}', np.uint8)
    np.savez(path, index=index)
    with pytest.raises(md.SerializationError, match="format version 99; this minidl reads version 1"):
        md.load(path)


# ----------------------------------------------------------------------------- what cannot be saved
@pytest.mark.parametrize(
    "obj, message",
    [
        ({"model": {"layer": {1, 2}}}, "cannot save an object of type set at obj/model/layer"),
        ([object()], "cannot save an object of type object at obj/0"),
        ({"a": np.array([{}], dtype=object)}, "obj/a is an array of Python objects"),
        ({(1, 2): 3}, r"dict keys must be str or int, got tuple key \(1, 2\) in obj"),
        ({1.5: 3}, "dict keys must be str or int, got float"),
    ],
)
def test_unsupported_objects_are_refused_before_writing(obj, message, tmp_path):
    with pytest.raises(TypeError, match=message):
        md.save(obj, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="save: directory .*nowhere does not exist"):
        md.save(1, tmp_path / "nowhere" / "x.npz")


@pytest.mark.torch
def test_a_directory_is_refused_by_name(tmp_path):
    torch = pytest.importorskip("torch")
    with pytest.raises(IsADirectoryError):  # load: torch's exception type, with a message that says what to do
        torch.load(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"load: {tmp_path} is a directory; give the path of a file"):
        md.load(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"save: {tmp_path} is a directory; give a file name"):
        md.save(1, tmp_path)
    assert list(tmp_path.iterdir()) == []
