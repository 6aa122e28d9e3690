"""minidl.utils.data (torch.utils.data's path): Dataset, TensorDataset, Subset, DataLoader,
default_collate and random_split against torch on the same data.

Shuffled orders come from different generators and cannot match torch's; for them the tests
check what does not depend on the order (the batch sizes, every sample exactly once, rows kept
together).  Everything deterministic (shuffle=False, samplers, collation, split lengths) is
compared with torch exactly.
"""
import collections
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
import minidl.data
from minidl.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def data(n=70, features=3, seed=0):
    """float32 inputs and int64 labels, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, 4, n)


def assert_same_batch(mine, theirs, torch):
    """The same structure (list, dict, named tuple, ...), values and dtypes as torch's batch."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(mine, md.Tensor), f"{type(mine).__name__} where torch has a Tensor"
        assert mine.dtype == np.dtype(str(theirs.dtype).removeprefix("torch.")), (mine.dtype, theirs.dtype)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(mine) is type(theirs) and list(mine) == list(theirs)
        for key in theirs:
            assert_same_batch(mine[key], theirs[key], torch)
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs[0], str):
        assert type(mine) is type(theirs) and len(mine) == len(theirs), (type(mine), type(theirs))
        for m, t in zip(mine, theirs):
            assert_same_batch(m, t, torch)
    else:
        assert mine == theirs


class PerSample(Dataset):
    """A map-style dataset without a batch fetch of its own: samples built one by one."""

    def __init__(self, samples):
        self.samples = samples

    def __getitem__(self, index):
        return self.samples[index]

    def __len__(self):
        return len(self.samples)


# ----------------------------------------------------------------------------- import paths
def test_utils_data_re_exports_minidl_data():
    import minidl.utils

    assert minidl.utils.data.DataLoader is minidl.data.DataLoader
    assert (Dataset, TensorDataset, Subset, random_split, default_collate) == (
        minidl.data.Dataset, minidl.data.TensorDataset, minidl.data.Subset, minidl.data.random_split,
        minidl.data.default_collate,
    )  # fmt: skip


# ----------------------------------------------------------------------------- loader against torch
@pytest.mark.torch
@pytest.mark.parametrize("batch_size, drop_last", [(32, False), (32, True), (1, False), (70, False), (100, True)])
def test_unshuffled_batches_are_torchs(torch, batch_size, drop_last):
    x, y = data()
    mine = DataLoader(TensorDataset(md.tensor(x), md.tensor(y)), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=batch_size, drop_last=drop_last
    )
    assert len(mine) == len(theirs)
    batches = list(mine)
    assert len(batches) == len(list(theirs))
    for my_batch, their_batch in zip(batches, theirs):
        assert_same_batch(my_batch, their_batch, torch)


@pytest.mark.torch
def test_shuffled_epochs_have_torchs_batch_sizes_and_every_sample_once(torch):
    x, y = data(n=75)
    ids = np.arange(75)
    mine = DataLoader(TensorDataset(x, y, ids), batch_size=16, shuffle=True)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y), torch.tensor(ids)), batch_size=16, shuffle=True
    )
    for _ in range(2):
        my_batches, their_batches = list(mine), list(theirs)
        assert [len(b[0]) for b in my_batches] == [len(b[0]) for b in their_batches]
        seen = np.concatenate([i.numpy() for _, _, i in my_batches])
        assert sorted(seen) == sorted(np.concatenate([i.numpy() for _, _, i in their_batches])) == list(ids)
        for xb, yb, ib in my_batches:  # the fields of a sample stay together
            np.testing.assert_array_equal(xb.numpy(), x[ib.numpy()])
            np.testing.assert_array_equal(yb.numpy(), y[ib.numpy()])
    assert not np.array_equal(*[np.concatenate([i.numpy() for *_, i in mine]) for _ in range(2)])  # new order


def test_a_generator_makes_the_shuffle_reproducible():
    dataset = TensorDataset(np.arange(30))

    def two_epochs(**kwargs):
        loader = DataLoader(dataset, batch_size=7, shuffle=True, **kwargs)
        return [np.concatenate([b.numpy() for (b,) in loader]) for _ in range(2)]

    first = two_epochs(generator=np.random.default_rng(3))
    assert not np.array_equal(first[0], first[1])
    for again in (two_epochs(generator=np.random.default_rng(3)), two_epochs(seed=3)):
        assert all(np.array_equal(a, b) for a, b in zip(first, again))


@pytest.mark.torch
def test_the_learners_loop_trains_as_torch(torch):
    """The first DataLoader loop of a course, run by both: the same weights after two epochs."""
    x, y = data(n=50, features=4)

    def train(lib, nn, optim, utils_data):
        model = nn.Linear(4, 4)
        model.load_state_dict({"weight": lib.tensor(np.full((4, 4), 0.1, np.float32)), "bias": lib.zeros(4)})
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        loader = utils_data.DataLoader(utils_data.TensorDataset(lib.tensor(x), lib.tensor(y)), batch_size=16)
        for _ in range(2):
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
        return model.weight.detach().numpy()

    mine = train(md, md.nn, md.optim, md.utils.data)
    theirs = train(torch, torch.nn, torch.optim, torch.utils.data)
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_per_sample_datasets_and_subsets_are_collated_as_torch(torch):
    rng = np.random.default_rng(1)
    images = rng.standard_normal((9, 2, 3)).astype(np.float32)
    samples = [(images[i], i % 3, float(i) / 2) for i in range(9)]
    torch_samples = [(torch.tensor(a), b, c) for a, b, c in samples]
    cases = [
        (PerSample(samples), PerSample(torch_samples)),
        (Subset(PerSample(samples), [8, 0, 5, 3]), torch.utils.data.Subset(PerSample(torch_samples), [8, 0, 5, 3])),
        (Subset(TensorDataset(images), [4, 1, 7]), torch.utils.data.Subset(torch.utils.data.TensorDataset(torch.tensor(images)), [4, 1, 7])),
        (np.arange(10) * 1.5, torch.tensor(np.arange(10) * 1.5)),  # any indexable, even an array
    ]  # fmt: skip
    for mine, theirs in cases:
        for my_batch, their_batch in zip(DataLoader(mine, batch_size=4), torch.utils.data.DataLoader(theirs, batch_size=4)):
            assert_same_batch(my_batch, their_batch, torch)


@pytest.mark.torch
def test_sampler_batch_sampler_and_collate_fn_as_torch(torch):
    x, y = data(n=12)
    mine_set = TensorDataset(x, y)
    theirs_set = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    settings = [
        dict(sampler=[5, 3, 11, 0, 7], batch_size=2),
        dict(sampler=[5, 3, 11, 0, 7], batch_size=2, drop_last=True),
        dict(batch_sampler=[[0, 1, 2], [9], [4, 4]]),
    ]
    for kwargs in settings:
        mine, theirs = DataLoader(mine_set, **kwargs), torch.utils.data.DataLoader(theirs_set, **kwargs)
        assert len(mine) == len(theirs) and mine.batch_size == theirs.batch_size
        for my_batch, their_batch in zip(mine, theirs, strict=True):
            assert_same_batch(my_batch, their_batch, torch)
    mine = next(iter(DataLoader(mine_set, batch_size=3, collate_fn=lambda samples: samples)))
    theirs = next(iter(torch.utils.data.DataLoader(theirs_set, batch_size=3, collate_fn=lambda samples: samples)))
    assert_same_batch(mine, theirs, torch)  # the list of samples, each a tuple of Tensors


# ----------------------------------------------------------------------------- default_collate
Point = collections.namedtuple("Point", ["xy", "label"])


def _collate_cases(lib):
    """Batches of samples of every kind default_collate handles, built with torch or minidl."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 2, 3)).astype(np.float32)
    return {
        "tensors": [lib.tensor(a), lib.tensor(b)],
        "arrays": [a, b],
        "numpy scalars": [np.float32(1.5), np.float32(2.5)],
        "ints": [3, 4],
        "bools": [True, False],
        "floats": [0.5, 1.25],
        "strings": ["cat", "dog"],
        "tuples": [(lib.tensor(a), 1), (lib.tensor(b), 2)],
        "lists": [[a, 1.0], [b, 2.0]],
        "dicts": [{"x": a, "y": 0, "name": "a"}, {"x": b, "y": 1, "name": "b"}],
        "named tuples": [Point(a, 0), Point(b, 1)],
        "nested": [{"pair": (a, [1, 2])}, {"pair": (b, [3, 4])}],
    }


@pytest.mark.torch
@pytest.mark.parametrize("case", list(_collate_cases(md)))
def test_default_collate_is_torchs(torch, case):
    mine = default_collate(_collate_cases(md)[case])
    theirs = torch.utils.data.default_collate(_collate_cases(torch)[case])
    assert_same_batch(mine, theirs, torch)


def test_default_collate_stacks_tensors_through_autograd():
    w = md.tensor([1.0, 2.0], requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])


@pytest.mark.torch
def test_default_collate_errors_as_torch(torch):
    for collate, samples in [(default_collate, [(1, 2), (3,)]), (torch.utils.data.default_collate, [(1, 2), (3,)])]:
        with pytest.raises(RuntimeError, match="same length|equal size"):
            collate(samples)
    with pytest.raises(TypeError):
        torch.utils.data.default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: a batch must contain tensors, NumPy arrays, numbers, dicts or lists; found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: NumPy arrays of dtype <U1 cannot become tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])


# ----------------------------------------------------------------------------- datasets
@pytest.mark.torch
def test_tensor_dataset_and_subset_index_as_torch(torch):
    x, y = data(n=10)
    mine, theirs = TensorDataset(x, y), torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(mine) == len(theirs) == 10
    assert_same_batch(list(mine[3]), list(theirs[3]), torch)
    assert_same_batch(list(mine[[4, 1]]), list(theirs[[4, 1]]), torch)
    assert isinstance(mine[3], tuple) and all(isinstance(t, md.Tensor) for t in mine.tensors)
    sub, their_sub = Subset(mine, [9, 2, 5]), torch.utils.data.Subset(theirs, [9, 2, 5])
    assert len(sub) == len(their_sub) == 3
    assert_same_batch(list(sub[1]), list(their_sub[1]), torch)
    assert_same_batch(list(sub[[2, 0]]), list(their_sub[[2, 0]]), torch)


def test_tensor_dataset_keeps_minidl_tensors_and_shares_numpy_memory():
    x = np.arange(6.0)
    t = md.tensor([1, 2, 3, 4, 5, 6])
    dataset = TensorDataset(x, t)
    assert dataset.tensors[1] is t and np.shares_memory(dataset.tensors[0].numpy(), x)


# ----------------------------------------------------------------------------- random_split
@pytest.mark.torch
@given(n=st.integers(0, 60), weights=st.lists(st.integers(1, 10), min_size=1, max_size=5))
def test_random_split_fraction_lengths_are_torchs(n, weights):
    torch = pytest.importorskip("torch")
    fractions = [w / sum(weights) for w in weights]
    with warnings.catch_warnings(record=True) as their_warnings:
        warnings.simplefilter("always")
        try:
            theirs = torch.utils.data.random_split(range(n), fractions)
        except ValueError:  # fractions that sum to 1 + 2e-16 fail torch's check: ours must fail too
            with pytest.raises(ValueError, match="random_split: the lengths"):
                random_split(range(n), fractions)
            return
    with warnings.catch_warnings(record=True) as my_warnings:
        warnings.simplefilter("always")
        mine = random_split(range(n), fractions)
    assert [len(part) for part in mine] == [len(part) for part in theirs]
    assert len(my_warnings) == len(their_warnings)
    assert sorted(i for part in mine for i in part) == list(range(n))  # disjoint, and all of them


@pytest.mark.torch
def test_random_split_with_counts_and_its_errors_as_torch(torch):
    dataset = TensorDataset(np.arange(10))
    parts = random_split(dataset, [3, 7], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [3, 7] and all(isinstance(p, Subset) for p in parts)
    assert sorted(int(p[i][0]) for p in parts for i in range(len(p))) == list(range(10))
    again = random_split(dataset, [3, 7], generator=np.random.default_rng(0))
    assert [p.indices for p in parts] == [p.indices for p in again]
    for lengths in ([3, 6], [0.5, 0.6], [4, 7]):
        with pytest.raises(ValueError):
            torch.utils.data.random_split(range(10), lengths)
        with pytest.raises(ValueError, match=r"random_split: the lengths \[.*\] sum to .*, but the dataset has 10 samples"):
            random_split(dataset, lengths)
    with pytest.raises(ValueError, match="Fraction at index 1"):
        torch.utils.data.random_split(range(10), [0.0, 1.2, -0.2])
    with pytest.raises(ValueError, match="random_split: the fraction at index 1 is not between 0 and 1, got 1.2"):
        random_split(dataset, [0.0, 1.2, -0.2])
    with pytest.warns(UserWarning, match="random_split: the part at index 1 has length 0"):
        random_split(TensorDataset(np.arange(2)), [0.8, 0.2])


# ----------------------------------------------------------------------------- loader errors
@pytest.mark.torch
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_workers=-1), "num_workers must be non-negative, got -1"),
        (dict(timeout=-1), "timeout must be non-negative, got -1"),
        (dict(prefetch_factor=2), "prefetch_factor needs num_workers > 0"),
        (dict(persistent_workers=True), "persistent_workers needs num_workers > 0"),
        (dict(sampler=[0, 1], shuffle=True), "sampler and shuffle=True are mutually exclusive"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler is mutually exclusive with batch_size"),
        (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler is mutually exclusive with batch_size"),
    ],
)
def test_loader_rejects_what_torch_rejects(torch, kwargs, message):
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(4)), **kwargs)
    with pytest.raises(ValueError, match=f"DataLoader: {message}"):
        DataLoader(TensorDataset(np.arange(4)), **kwargs)


def test_loader_refuses_both_a_generator_and_a_seed():
    with pytest.raises(ValueError, match="DataLoader: give either generator or seed, not both"):
        DataLoader(TensorDataset(np.arange(4)), shuffle=True, seed=0, generator=np.random.default_rng(0))


def test_worker_settings_are_accepted_and_give_the_same_batches():
    dataset = TensorDataset(np.arange(10))
    plain = [b.tolist() for (b,) in DataLoader(dataset, batch_size=4)]
    workers = DataLoader(dataset, 4, num_workers=2, pin_memory=True, prefetch_factor=2, persistent_workers=True)
    assert [b.tolist() for (b,) in workers] == plain
