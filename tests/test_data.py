"""minidl.data: datasets and loader, the digits and MNIST readers, splits, preprocessing, augmentation."""
import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl.data import (
    DataError,
    DataLoader,
    Dataset,
    KFold,
    MinMaxScaler,
    Standardizer,
    StratifiedKFold,
    Subset,
    TensorDataset,
    augment,
    fill_missing,
    load_digits,
    load_mnist,
    train_test_split,
)

MNIST_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


# ----------------------------------------------------------------------------- datasets
class Squares(Dataset):
    """A dataset without get_batch of its own: (i, i^2) as a float vector and an int label."""

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i % 3

    def __len__(self):
        return 7


def test_tensor_dataset_indexes_every_array_alike():
    x, y = np.arange(12.0).reshape(6, 2), md.tensor([0, 1, 2, 0, 1, 2])
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    sample = ds[4]
    assert np.array_equal(sample[0], [8.0, 9.0]) and sample[1] == 1
    batch = ds.get_batch(np.array([5, 0]))
    assert np.array_equal(batch[0], x[[5, 0]]) and np.array_equal(batch[1], [2, 0])


def test_tensor_dataset_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"TensorDataset: .*same first dimension.*\(3,\), \(4,\)"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()


def test_subset_maps_indices_into_its_dataset():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [7, 2, 9])
    assert len(sub) == 3 and sub[1][0] == 20
    assert np.array_equal(sub.get_batch(np.array([2, 0]))[0], [90, 70])


def test_default_get_batch_stacks_samples():
    x, y = Squares().get_batch(np.array([3, 1]))
    assert np.array_equal(x, [[3, 9], [1, 1]]) and x.dtype == np.float32 and np.array_equal(y, [0, 1])


# ----------------------------------------------------------------------------- loader
@pytest.mark.parametrize(
    "n, batch_size, drop_last, sizes",
    [(10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, False, [3, 3, 3]), (2, 5, True, [])],
)
def test_loader_batches_and_len(n, batch_size, drop_last, sizes):
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, drop_last=drop_last)
    batches = [x for (x,) in loader]
    assert len(loader) == len(sizes) and [len(b) for b in batches] == sizes
    assert all(isinstance(b, md.Tensor) for b in batches)


def test_loader_yields_tensors_with_the_datasets_dtypes():
    x, y = np.random.default_rng(0).random((5, 1, 4, 4)).astype(np.float32), np.arange(5)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    assert xb.shape == (4, 1, 4, 4) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert np.array_equal(xb.numpy(), x[:4]) and not np.shares_memory(xb.numpy(), x)


def test_shuffled_epochs_cover_every_sample_and_reproduce_with_the_seed():
    ds = TensorDataset(np.arange(23))

    def run(seed):
        loader = DataLoader(ds, batch_size=5, shuffle=True, seed=seed)
        return [np.concatenate([x.numpy() for (x,) in loader]) for _ in range(3)]

    epochs = run(seed=4)
    assert all(np.array_equal(np.sort(epoch), np.arange(23)) for epoch in epochs)
    assert not np.array_equal(epochs[0], epochs[1])  # a new order every epoch
    assert all(np.array_equal(a, b) for a, b in zip(epochs, run(seed=4)))
    assert not np.array_equal(epochs[0], run(seed=5)[0])


def test_unseeded_loader_follows_manual_seed():
    loader = DataLoader(TensorDataset(np.arange(20)), batch_size=20, shuffle=True)
    md.manual_seed(1)
    first = next(iter(loader))[0].numpy()
    md.manual_seed(1)
    assert np.array_equal(next(iter(loader))[0].numpy(), first)


def test_loader_fancy_indexes_a_tensor_dataset_once_per_batch(monkeypatch):
    calls = []
    index_arrays = TensorDataset.__getitem__

    def spy(self, index):
        calls.append(np.ndim(index))
        return index_arrays(self, index)

    monkeypatch.setattr(TensorDataset, "__getitem__", spy)
    loader = DataLoader(TensorDataset(np.arange(100), np.arange(100)), batch_size=32, shuffle=True, seed=0)
    assert sum(len(x) for x, _ in loader) == 100
    assert calls == [1, 1, 1, 1]  # one call with an index array per batch, none per sample


def test_loader_works_with_any_dataset_and_transforms_only_inputs():
    loader = DataLoader(Squares(), batch_size=4, transform=lambda x: x * 10)
    x, y = next(iter(loader))
    assert np.array_equal(x.numpy(), [[0, 0], [10, 10], [20, 40], [30, 90]]) and y.tolist() == [0, 1, 2, 0]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_loader_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=batch_size)


# ----------------------------------------------------------------------------- digits
def test_load_digits_shapes_dtypes_and_range():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    flat, _ = load_digits(as_images=False)
    assert flat.shape == (1797, 64) and np.array_equal(flat, x.reshape(-1, 64))


# ----------------------------------------------------------------------------- MNIST
MNIST_KNOWN = {  # (count, first labels, class histogram) of the real files
    "train": (60000, [5, 0, 4, 1, 9], [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    "test": (10000, [7, 2, 1, 0, 4], [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),
}


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"real MNIST files not found at {MNIST_DIR} (developer/CI machines only)")
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_real_mnist(split):
    n, first_labels, histogram = MNIST_KNOWN[split]
    x, y = load_mnist(MNIST_DIR, split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32 and y.shape == (n,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert y[:5].tolist() == first_labels
    assert np.bincount(y, minlength=10).tolist() == histogram and sum(histogram) == n


def write_idx(path, magic, shape, data=None):
    """An IDX file (gzipped when ``path`` ends in .gz): magic, sizes, then the bytes ``data``."""
    data = np.arange(int(np.prod(shape)), dtype=np.uint8) % 10 if data is None else data
    raw = magic.to_bytes(4, "big") + b"".join(s.to_bytes(4, "big") for s in shape) + bytes(data)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return raw


@pytest.fixture
def tiny_mnist(tmp_path):
    """A valid 'train' pair of 4 images of 3x2 pixels: images gzipped, labels raw."""
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", 2051, (4, 3, 2), np.arange(24, dtype=np.uint8) * 10)
    write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, (4,), [3, 1, 4, 1])
    return tmp_path


def test_load_mnist_reads_gz_and_raw_files(tiny_mnist):
    x, y = load_mnist(tiny_mnist)
    assert x.shape == (4, 1, 3, 2) and x.dtype == np.float32 and y.tolist() == [3, 1, 4, 1]
    assert np.allclose(x.reshape(-1), np.arange(24) * 10 / 255)


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("train-images-idx3-ubyte.gz", (2049, (4, 3, 2)), "train-images-idx3-ubyte.gz has magic number 2049, expected 2051"),
        ("train-labels-idx1-ubyte", (2051, (4,)), "train-labels-idx1-ubyte has magic number 2051, expected 2049"),
        ("train-labels-idx1-ubyte", (2049, (4,), [1, 2, 12, 3]), "labels-idx1-ubyte: labels must be 0..9, found 12 at index 2"),
        ("train-labels-idx1-ubyte", (2049, (5,)), r"4 images but train-labels-idx1-ubyte holds 5 labels"),
    ],
)
def test_load_mnist_names_the_broken_file(tiny_mnist, file, content, message):
    write_idx(tiny_mnist / file, *content)
    with pytest.raises(DataError, match=message):
        load_mnist(tiny_mnist)


@pytest.mark.parametrize("cut", [2, 10, 20])
def test_load_mnist_detects_truncated_raw_files(tiny_mnist, cut):
    labels = tiny_mnist / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1] if cut == 20 else labels.read_bytes()[:cut])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is truncated"):
        load_mnist(tiny_mnist)


def test_load_mnist_detects_truncated_gzip_and_extra_bytes(tiny_mnist):
    images = tiny_mnist / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw + b"\0"))
    with pytest.raises(DataError, match=r"idx3-ubyte.gz has extra bytes at the end: its header says shape \(4, 3, 2\)"):
        load_mnist(tiny_mnist)
    images.write_bytes(gzip.compress(raw)[:-12])
    with pytest.raises(DataError, match=r"idx3-ubyte.gz is not a valid gzip file or is truncated"):
        load_mnist(tiny_mnist)


def test_load_mnist_missing_directory_file_and_bad_split(tmp_path, tiny_mnist):
    with pytest.raises(DataError, match="data directory .*nowhere does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"neither t10k-images-idx3-ubyte.gz nor t10k-images-idx3-ubyte found in"):
        load_mnist(tiny_mnist, "test")
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_mnist(tiny_mnist, "val")


# ----------------------------------------------------------------------------- splits
@pytest.mark.parametrize("test_size", [0.2, 0.25, 0.33, 7])
def test_train_test_split_sizes_match_sklearn(test_size):
    sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split
    x, y = np.arange(50).reshape(25, 2), np.arange(25)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size)
    expected = sklearn_split(x, y, test_size=test_size)
    assert [len(a) for a in (x_train, x_test, y_train, y_test)] == [len(a) for a in expected]
    assert np.array_equal(x_train[:, 0] // 2, y_train) and np.array_equal(x_test[:, 0] // 2, y_test)
    assert np.array_equal(np.sort(np.concatenate([y_train, y_test])), y)


@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.35, 11])
def test_stratified_split_keeps_class_proportions_like_sklearn(test_size):
    sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split
    y = np.repeat([0, 1, 2, 3], [40, 25, 10, 5])
    _, y_test = train_test_split(y, test_size=test_size, stratify=y, seed=3)
    _, expected = sklearn_split(y, test_size=test_size, stratify=y, random_state=0)
    assert len(y_test) == len(expected)
    assert np.abs(np.bincount(y_test, minlength=4) - np.bincount(expected, minlength=4)).max() <= 1


def test_train_test_split_is_seeded_and_accepts_tensors_and_lists():
    x_train, x_test, list_train, list_test = train_test_split(md.arange(10), list(range(10)), seed=1)
    assert isinstance(x_train, md.Tensor) and np.array_equal(x_train.numpy(), list_train)
    assert np.array_equal(train_test_split(np.arange(10), seed=1)[1], list_test)
    assert not np.array_equal(train_test_split(np.arange(10), seed=2)[1], list_test)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(test_size=1.5), r"test_size must be a fraction in \(0, 1\) or a count, got 1.5"),
        (dict(test_size=10), "gives 10 test samples out of 10"),
        (dict(stratify=[0] * 9 + [1]), "class 1 has only 1 sample"),
    ],
)
def test_train_test_split_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_test_split(np.arange(10), **kwargs)


@given(n=st.integers(2, 40), k=st.integers(2, 6), data=st.data())
def test_unshuffled_folds_equal_sklearns(n, k, data):
    model_selection = pytest.importorskip("sklearn.model_selection")
    k = min(k, n)
    y = np.array(data.draw(st.lists(st.sampled_from("abcd"), min_size=n, max_size=n)))
    pairs = [(KFold(k), model_selection.KFold(k))]
    if max(np.unique(y, return_counts=True)[1]) >= k:
        pairs.append((StratifiedKFold(k), model_selection.StratifiedKFold(k)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class smaller than k: both warn
        for ours, theirs in pairs:
            for (a_train, a_test), (b_train, b_test) in zip(ours.split(np.zeros(n), y), theirs.split(np.zeros(n), y)):
                assert np.array_equal(a_train, b_train) and np.array_equal(a_test, b_test)


def test_stratified_folds_warn_about_a_class_smaller_than_n_splits():
    with pytest.warns(UserWarning, match="smallest class has only 2 sample"):
        list(StratifiedKFold(3).split(np.zeros(8), [0] * 6 + [1] * 2))


@pytest.mark.parametrize("splitter", [KFold(4, shuffle=True, seed=0), StratifiedKFold(4, shuffle=True, seed=0)])
def test_shuffled_folds_partition_the_samples_and_repeat_with_the_seed(splitter):
    y = np.repeat([0, 1, 2], [20, 12, 6])
    folds = list(splitter.split(np.zeros(38), y))
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(38)) and len(folds) == splitter.get_n_splits() == 4
    assert all(np.array_equal(np.sort(np.concatenate(pair)), np.arange(38)) for pair in folds)
    assert sorted(len(test) for _, test in folds) == [9, 9, 10, 10]  # sklearn's fold sizes
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, splitter.split(np.zeros(38), y)))
    assert not np.array_equal(folds[0][1], np.arange(10))  # really shuffled


def test_stratified_folds_share_each_class_evenly():
    y = np.repeat([0, 1, 2], [20, 12, 6])
    for _, test in StratifiedKFold(4, shuffle=True, seed=1).split(np.zeros(38), y):
        counts = np.bincount(y[test], minlength=3)
        assert counts[0] == 5 and counts[1] == 3 and counts[2] in (1, 2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: KFold(1), "KFold: n_splits must be an integer >= 2, got 1"),
        (lambda: KFold(3, seed=0), "a seed has no effect with shuffle=False"),
        (lambda: list(KFold(5).split(np.zeros(3))), "cannot make 5 folds out of 3 samples"),
        (lambda: list(StratifiedKFold(3).split(np.zeros(4), [0, 0, 1, 1])), "n_splits=3 is more than the number of"),
        (lambda: list(StratifiedKFold(2).split(np.zeros(4))), "needs the labels y"),
    ],
)
def test_fold_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ----------------------------------------------------------------------------- preprocessing
def test_standardizer_matches_sklearn_and_inverts():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    x = np.random.default_rng(0).normal(3, 2, (50, 4)).astype(np.float32)
    x[:, 2] = 7.0  # a constant feature becomes 0, not NaN
    scaler = Standardizer().fit(x)
    out = scaler.transform(x)
    assert out.dtype == np.float32 and scaler.mean.shape == (1, 4)
    np.testing.assert_allclose(out, preprocessing.StandardScaler().fit_transform(x), atol=1e-5)
    np.testing.assert_allclose(scaler.inverse_transform(out), x, rtol=1e-6, atol=1e-6)


def test_standardizer_per_channel_uses_training_statistics_only():
    rng = np.random.default_rng(1)
    train, test = rng.normal(5, 3, (20, 3, 4, 4)), rng.normal(6, 3, (10, 3, 4, 4))
    scaler = Standardizer(axis=(0, 2, 3)).fit(train)
    assert scaler.mean.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(scaler.transform(train).mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(scaler.transform(train).std(axis=(0, 2, 3)), 1)
    assert scaler.transform(test).mean() > 0.2  # the test set's own shift is kept


def test_min_max_scaler_matches_sklearn_and_inverts():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    x = np.random.default_rng(2).normal(size=(30, 3))
    scaler = MinMaxScaler((-1, 2)).fit(x)
    expected = preprocessing.MinMaxScaler((-1, 2)).fit_transform(x)
    np.testing.assert_allclose(scaler.transform(x), expected)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(x)), x)


def test_scaler_state_round_trips_through_md_save(tmp_path):
    x = np.random.default_rng(3).normal(size=(10, 3)).astype(np.float32)
    scaler = Standardizer().fit(x)
    md.save(scaler.state_dict(), tmp_path / "scaler.npz")
    restored = Standardizer()
    restored.load_state_dict(md.load(tmp_path / "scaler.npz"))
    assert np.array_equal(restored.transform(x), scaler.transform(x))


def test_scaler_errors():
    with pytest.raises(ValueError, match=r"Standardizer.transform: not fitted yet; call fit\(x_train\) first"):
        Standardizer().transform(np.zeros((2, 3)))
    scaler = Standardizer().fit(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"statistics of shape \(1, 3\) \(axis=0\) do not match input of shape \(5, 4\)"):
        scaler.transform(np.zeros((5, 4)))
    with pytest.raises(KeyError, match=r"missing statistics \['std'\]"):
        scaler.load_state_dict({"mean": np.zeros((1, 3))})
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScaler((1, 0))


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_fill_missing_matches_sklearn_imputer(strategy):
    impute = pytest.importorskip("sklearn.impute")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 4))
    x[rng.random(x.shape) < 0.25] = np.nan
    original = x.copy()
    filled, stats = fill_missing(x, strategy)
    np.testing.assert_allclose(filled, impute.SimpleImputer(strategy=strategy).fit_transform(x))
    assert np.array_equal(x, original, equal_nan=True) and stats.shape == (4,)


def test_fill_missing_reuses_training_statistics_and_constants():
    train = np.array([[1.0, np.nan], [3.0, 4.0]])
    _, stats = fill_missing(train)
    filled, same = fill_missing(np.array([[np.nan, np.nan]]), statistics=stats)
    assert filled.tolist() == [[2.0, 4.0]] and np.array_equal(same, stats)
    assert fill_missing(train, "constant", fill_value=-1)[0].tolist() == [[1.0, -1.0], [3.0, 4.0]]


def test_fill_missing_errors():
    with pytest.raises(ValueError, match="column 1 has no values to compute a median from"):
        fill_missing(np.array([[1.0, np.nan], [2.0, np.nan]]), "median")
    with pytest.raises(ValueError, match="strategy must be 'mean', 'median' or 'constant', got 'mode'"):
        fill_missing(np.zeros((2, 2)), "mode")
    with pytest.raises(ValueError, match=r"statistics must have shape \(2,\)"):
        fill_missing(np.zeros((2, 2)), statistics=[1.0])


# ----------------------------------------------------------------------------- augmentation
@pytest.fixture
def images():
    return np.random.default_rng(5).random((6, 2, 7, 7)).astype(np.float32)


def test_rotation_by_right_angles_is_rot90(images):
    for degrees, k in ((90, 1), (-90, -1), (180, 2)):
        out = augment.RandomRotation((degrees, degrees))(images)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, np.rot90(images, k, axes=(2, 3)), atol=1e-6)
    even = images[:, :, :6, :6]
    np.testing.assert_allclose(augment.RandomRotation((90, 90))(even), np.rot90(even, 1, axes=(2, 3)), atol=1e-6)


def test_identity_settings_change_nothing(images):
    for transform in (augment.RandomRotation(0), augment.RandomScale((1, 1)), augment.RandomCrop(7),
                      augment.RandomHorizontalFlip(0), augment.GaussianNoise(0)):  # fmt: skip
        assert np.array_equal(transform(images), images), transform


def test_scale_interpolates_bilinearly_about_the_centre():
    dot = np.zeros((1, 1, 5, 5))
    dot[0, 0, 2, 2] = 1
    expected = np.outer([0, 0.5, 1, 0.5, 0], [0, 0.5, 1, 0.5, 0])
    np.testing.assert_allclose(augment.RandomScale((2, 2))(dot)[0, 0], expected)
    assert augment.RandomScale((0.5, 0.5))(np.ones((1, 1, 5, 5)))[0, 0, 0, 0] == 0  # the border fills with 0


def test_flip_crop_cutout_and_noise(images):
    assert np.array_equal(augment.RandomHorizontalFlip(1.0)(images), images[..., ::-1])
    crops = augment.RandomCrop(5, padding=1)(images)
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for crop, image in zip(crops, padded):  # each crop is some 5x5 window of its padded image
        windows = np.lib.stride_tricks.sliding_window_view(image, (5, 5), axis=(1, 2))
        assert any(np.array_equal(windows[:, i, j], crop) for i in range(5) for j in range(5))
    assert augment.RandomCrop((3, 5))(images[0]).shape == (2, 3, 5)
    hidden = (augment.Cutout(3)(np.ones((50, 1, 8, 8))) == 0).sum(axis=(1, 2, 3))
    assert hidden.max() == 9 and 4 <= hidden.min() and hidden.min() < 9  # squares may hang over the border
    noisy = augment.GaussianNoise(0.1)(np.zeros((100, 1, 10, 10), np.float32), np.random.default_rng(0))
    assert noisy.dtype == np.float32 and abs(noisy.std() - 0.1) < 0.005


def test_compose_is_deterministic_given_its_seed(images):
    def pipeline(seed):
        return augment.Compose(
            [augment.RandomRotation(15), augment.RandomScale(), augment.RandomCrop(7, padding=1), augment.Cutout(2),
             augment.GaussianNoise(0.05), augment.RandomHorizontalFlip()],
            seed=seed,
        )  # fmt: skip

    a, b, c = pipeline(0), pipeline(0), pipeline(1)
    runs = [[t(images) for _ in range(3)] for t in (a, b, c)]
    assert all(np.array_equal(x, y) for x, y in zip(runs[0], runs[1]))
    assert not np.array_equal(runs[0][0], runs[0][1]) and not np.array_equal(runs[0][0], runs[2][0])
    assert runs[0][0].shape == images.shape and runs[0][0].dtype == np.float32
    single = pipeline(0)(images[0])
    assert single.shape == images[0].shape


def test_vertical_flip_and_affine_identity(images):
    assert np.array_equal(augment.RandomVerticalFlip(1.0)(images), images[..., ::-1, :])
    assert np.array_equal(augment.RandomVerticalFlip(0)(images), images)
    assert np.array_equal(augment.RandomAffine()(images), images)


def test_affine_whole_pixel_shift_and_fill_modes():
    row = np.arange(1.0, 5.0)[None, None, None, :]  # one image, one row: 1 2 3 4
    shift_right_2 = augment.affine_matrices([0], [[0, 2]], [0], [[1, 1]])
    expected = {"constant": [9, 9, 1, 2], "nearest": [1, 1, 1, 2], "reflect": [2, 1, 1, 2], "wrap": [3, 4, 1, 2]}
    for mode, values in expected.items():
        assert augment.warp(row, *shift_right_2, fill_mode=mode, cval=9)[0, 0, 0].tolist() == values, mode
    assert augment.warp(row, *augment.affine_matrices([0], [[0, -1]], [0], [[1, 1]]))[0, 0, 0].tolist() == [2, 3, 4, 0]


def test_affine_matches_scipy_for_rotation_shear_and_zoom():
    ndimage = pytest.importorskip("scipy.ndimage")
    image = np.random.default_rng(1).random((9, 7))
    theta, shear, zy, zx = np.deg2rad(25), np.deg2rad(15), 0.8, 1.3
    # Keras's definition in (x=col, y=row) coordinates: input = R S Z output, about the centre
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    shearing = np.array([[1, -np.sin(shear)], [0, np.cos(shear)]])
    matrix_xy = rotation @ shearing @ np.diag([zx, zy])
    matrix = matrix_xy[::-1, ::-1]  # the same map on (row, col)
    centre = (np.array(image.shape) - 1) / 2
    expected = ndimage.affine_transform(image, matrix, centre - matrix @ centre, order=1, mode="nearest")
    out = augment.warp(image[None, None], *augment.affine_matrices([25], [[0, 0]], [15], [[zy, zx]]), fill_mode="nearest")
    np.testing.assert_allclose(out[0, 0], expected, atol=1e-12)


def test_shift_amounts_follow_keras_ranges():
    rng = np.random.default_rng(0)
    whole = augment.shift_amounts(3, 10, 2000, rng)
    assert set(whole.tolist()) == {-2, -1, 0, 1, 2}  # whole pixels in (-3, 3)
    fraction = augment.shift_amounts(0.1, 20, 2000, rng)
    assert fraction.min() >= -2 and fraction.max() <= 2 and len(np.unique(fraction)) > 1000  # 0.1 of 20 pixels
    assert set(augment.shift_amounts([0.25], 8, 200, rng).tolist()) == {-2, 2}
    assert set(augment.shift_amounts([4, 6], 100, 200, rng).tolist()) == {-6, -4, 4, 6}
    assert not augment.shift_amounts(0, 10, 5, rng).any()


def test_transform_in_a_loader_augments_inputs_only(images):
    labels = np.arange(6)
    loader = DataLoader(TensorDataset(images, labels), batch_size=6, transform=augment.Compose([augment.Cutout(3)], seed=0))
    x, y = next(iter(loader))
    assert (x.numpy() == 0).any() and np.array_equal(y.numpy(), labels) and not (images == 0).any()


def test_transforms_reject_wrong_shapes_and_arguments():
    with pytest.raises(ValueError, match=r"RandomRotation: images must be \(N, C, H, W\) or \(C, H, W\), got shape \(7, 7\)"):
        augment.RandomRotation(10)(np.zeros((7, 7)))
    with pytest.raises(ValueError, match=r"RandomCrop: crop size \(9, 9\) is larger than the padded image \(7, 7\)"):
        augment.RandomCrop(9)(np.zeros((1, 1, 7, 7)))
    with pytest.raises(ValueError, match="p must be a probability"):
        augment.RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match=r"scale must be \(low, high\) with low <= high"):
        augment.RandomScale((1.2, 0.8))
    with pytest.raises(ValueError, match="RandomAffine: fill_mode must be one of .*, got 'mirror'"):
        augment.RandomAffine(fill_mode="mirror")
    with pytest.raises(ValueError, match="RandomAffine: degrees must be >= 0 when a single number, got -5"):
        augment.RandomAffine(degrees=-5)
    with pytest.raises(ValueError, match="p must be a probability"):
        augment.RandomVerticalFlip(-0.1)
