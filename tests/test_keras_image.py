"""md.keras.utils.Sequence and md.keras.preprocessing.image.ImageDataGenerator: batches from arrays
and from class folders of image files, each augmentation against its definition."""
import numpy as np
import pytest
from PIL import Image

from minidl import keras
from minidl.keras.preprocessing.image import ImageDataGenerator


# ----------------------------------------------------------------------------- Sequence
class Squares(keras.utils.Sequence):
    def __init__(self, n):
        super().__init__()
        self.n, self.epochs = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.full((2, 1), index**2), np.full((2,), index)

    def on_epoch_end(self):
        self.epochs += 1


def test_sequence_protocol():
    squares = Squares(3)
    assert len(squares) == squares.num_batches == 3
    assert [int(x[0, 0]) for x, _ in squares] == [0, 1, 4]
    squares.on_epoch_end()
    assert squares.epochs == 1 and squares.workers == 1 and squares.use_multiprocessing is False
    with pytest.raises(NotImplementedError, match="Sequence must define __len__"):
        len(keras.utils.Sequence())
    with pytest.raises(NotImplementedError, match=r"Sequence must define __getitem__"):
        keras.utils.Sequence()[0]


# ----------------------------------------------------------------------------- flow_from_directory
def write_tree(root, classes=("cat", "dog"), per_class=3, size=(4, 6), mode="L", ext="png"):
    """Class folders of images whose pixels all equal 10 * class + image number; returns that value per file."""
    values = {}
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            value = 10 * c + i
            pixels = np.full(size + ((3,) if mode == "RGB" else ()), value, np.uint8)
            Image.fromarray(pixels, mode).save(root / name / f"img{i}.{ext}")
            values[f"{name}/img{i}.{ext}"] = value
    return values


def test_flow_from_directory_classes_shapes_and_one_hot_labels(tmp_path, capsys):
    write_tree(tmp_path, classes=("dog", "cat", "emu"), per_class=2)
    (tmp_path / "notes.txt").write_text("not a class folder")
    (tmp_path / "emu" / "readme.txt").write_text("not an image")
    it = ImageDataGenerator().flow_from_directory(tmp_path, target_size=(4, 6), batch_size=4, shuffle=False)
    assert capsys.readouterr().out == "Found 6 images belonging to 3 classes.\n"
    assert it.class_indices == {"cat": 0, "dog": 1, "emu": 2} and it.classes.tolist() == [0, 0, 1, 1, 2, 2]
    assert it.filenames[:2] == ["cat/img0.png", "cat/img1.png"] and len(it) == 2 and it.samples == 6
    x, y = it[0]
    assert x.shape == (4, 4, 6, 3) and x.dtype == np.float32 and y.dtype == np.float32
    assert y.tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]
    assert x[:, 0, 0, 0].tolist() == [10, 11, 0, 1]  # written in the order dog, cat: cat's pixels are 10 + i
    assert it[1][0].shape == (2, 4, 6, 3)  # the last batch is short


def test_flow_from_directory_color_modes_resizing_and_formats(tmp_path):
    image = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    for name, ext in (("a", "png"), ("b", "bmp")):
        (tmp_path / name).mkdir()
        Image.fromarray(image, "L").save(tmp_path / name / f"x.{ext}")
    gen = ImageDataGenerator()
    gray = gen.flow_from_directory(tmp_path, (6, 8), color_mode="grayscale", shuffle=False, class_mode=None)[0]
    assert gray.shape == (2, 6, 8, 1)
    enlarged = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)  # nearest resizing to twice the size
    assert np.array_equal(gray[0, :, :, 0], enlarged) and np.array_equal(gray[1, :, :, 0], enlarged)
    rgb = gen.flow_from_directory(tmp_path, target_size=(3, 4), shuffle=False, class_mode=None)[0]
    assert rgb.shape == (2, 3, 4, 3) and all(np.array_equal(rgb[0, :, :, c], image) for c in range(3))
    (tmp_path / "c").mkdir()
    Image.fromarray(np.zeros((5, 5, 3), np.uint8), "RGB").save(tmp_path / "c" / "y.jpg")
    assert gen.flow_from_directory(tmp_path, target_size=(3, 4), shuffle=False).samples == 3


def test_flow_from_directory_class_modes(tmp_path):
    write_tree(tmp_path, per_class=2)
    gen = ImageDataGenerator(rescale=0.5)

    def first(mode):
        return gen.flow_from_directory(tmp_path, target_size=(4, 6), class_mode=mode, shuffle=False)[0]

    for mode in ("binary", "sparse"):
        assert first(mode)[1].tolist() == [0, 0, 1, 1] and first(mode)[1].dtype == np.float32
    x, y = first("input")
    assert np.array_equal(x, y) and x is not y and x[2, 0, 0, 0] == 5  # dog img0 holds 10, rescaled by 0.5
    assert isinstance(first(None), np.ndarray)
    assert gen.flow_from_directory(tmp_path, target_size=(4, 6), classes=["dog"]).class_indices == {"dog": 0}


def test_flow_from_directory_subset_splits_each_class(tmp_path):
    write_tree(tmp_path, per_class=10)
    gen = ImageDataGenerator(validation_split=0.3)
    val = gen.flow_from_directory(tmp_path, target_size=(4, 6), subset="validation", shuffle=False)
    train = gen.flow_from_directory(tmp_path, target_size=(4, 6), subset="training", shuffle=False)
    assert val.filenames == [f"{c}/img{i}.png" for c in ("cat", "dog") for i in range(3)]
    assert train.filenames == [f"{c}/img{i}.png" for c in ("cat", "dog") for i in range(3, 10)]
    assert val.classes.tolist() == [0] * 3 + [1] * 3 and len(train) == 1


def test_flow_from_directory_bad_input(tmp_path):
    gen = ImageDataGenerator()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="flow_from_directory: .* holds no class folders"):
        gen.flow_from_directory(tmp_path / "empty")
    (tmp_path / "empty" / "cat").mkdir()
    with pytest.raises(ValueError, match="flow_from_directory: no image files"):
        gen.flow_from_directory(tmp_path / "empty")
    with pytest.raises(ValueError, match="flow_from_directory: directory .* does not exist"):
        gen.flow_from_directory(tmp_path / "missing")
    write_tree(tmp_path / "tree", per_class=1)
    (tmp_path / "tree" / "dog" / "broken.png").write_bytes(b"not a png")
    it = gen.flow_from_directory(tmp_path / "tree", target_size=(4, 6), batch_size=3, shuffle=False)
    with pytest.raises(ValueError, match=r"load_img: cannot read image file .*dog.broken\.png"):
        it[0]
    for size in ((28,), (28, 0), (28.0, 28), "28x28", (True, 2)):
        with pytest.raises(ValueError, match=r"target_size must be two positive integers \(height, width\), got"):
            gen.flow_from_directory(tmp_path / "tree", target_size=size)
    with pytest.raises(ValueError, match="class_mode must be one of .*, got 'onehot'"):
        gen.flow_from_directory(tmp_path / "tree", class_mode="onehot")
    with pytest.raises(ValueError, match=r"subset='validation' needs ImageDataGenerator\(validation_split=...\)"):
        gen.flow_from_directory(tmp_path / "tree", subset="validation")
    with pytest.raises(ValueError, match="subset must be 'training', 'validation' or None, got 'test'"):
        ImageDataGenerator(validation_split=0.5).flow(np.zeros((4, 2, 2, 1)), subset="test")
    with pytest.raises(ValueError, match="class folder '.*bird' does not exist"):
        gen.flow_from_directory(tmp_path / "tree", classes=["bird"])


# ----------------------------------------------------------------------------- flow and augmentation
@pytest.fixture
def x():
    return np.random.default_rng(3).random((16, 5, 6, 2)).astype(np.float32) * 255


def test_rotation_by_90_degrees_is_rot90(x):
    square = x[0, :, :5]
    out = ImageDataGenerator().apply_transform(square, {"theta": 90})
    np.testing.assert_allclose(out, np.rot90(square, 1, axes=(0, 1)), atol=1e-4)  # counter-clockwise, as Keras
    half_turn = ImageDataGenerator().apply_transform(square, {"theta": 180})
    np.testing.assert_allclose(half_turn, square[::-1, ::-1], atol=1e-4)


def test_shifts_of_whole_pixels(x):
    gen = ImageDataGenerator(width_shift_range=[2], height_shift_range=0.0)  # fill_mode "nearest"
    out = gen.flow(x, batch_size=16, shuffle=False, seed=0)[0]
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (0, 0)), mode="edge")
    right, left = padded[:, :, :-4], padded[:, :, 4:]
    is_right = [np.array_equal(o, r) for o, r in zip(out, right)]
    is_left = [np.array_equal(o, l) for o, l in zip(out, left)]
    assert all(a or b for a, b in zip(is_right, is_left)) and any(is_right) and any(is_left)
    vertical = ImageDataGenerator(height_shift_range=[1], fill_mode="constant", cval=-1.0)
    down = vertical.flow(x, batch_size=16, shuffle=False)[0]
    top_filled = (down[:, 0] == -1).all(axis=(1, 2))
    for o, image, top in zip(down, x, top_filled):  # moved down: first row filled; else up: last row filled
        assert np.array_equal(o[1:], image[:-1]) if top else (np.array_equal(o[:-1], image[1:]) and (o[-1] == -1).all())
    assert top_filled.any() and not top_filled.all()


def test_flips(x):
    for option, flipped in (("horizontal_flip", x[:, :, ::-1]), ("vertical_flip", x[:, ::-1])):
        out = ImageDataGenerator(**{option: True}).flow(x, batch_size=16, shuffle=False, seed=1)[0]
        same = [np.array_equal(o, a) for o, a in zip(out, x)]
        mirrored = [np.array_equal(o, f) for o, f in zip(out, flipped)]
        assert all(s != m for s, m in zip(same, mirrored)) and any(same) and any(mirrored), option
    both = ImageDataGenerator().apply_transform(x[0], {"flip_horizontal": True, "flip_vertical": True})
    assert np.array_equal(both, x[0, ::-1, ::-1])


def test_rescale_and_featurewise_statistics(x):
    y = np.arange(16)
    images, labels = ImageDataGenerator(rescale=1 / 255).flow(x, y, batch_size=16, shuffle=False)[0]
    np.testing.assert_allclose(images, x / 255, rtol=1e-6)
    assert np.array_equal(labels, y)
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=0.5)
    gen.fit(x)
    half = x.astype(np.float64) * 0.5
    mean = [half[..., c].mean() for c in range(2)]
    std = [half[..., c].std() for c in range(2)]
    np.testing.assert_allclose(gen.mean.ravel(), mean, rtol=1e-5)
    np.testing.assert_allclose(gen.std.ravel(), std, rtol=1e-5)
    out = gen.flow(x, batch_size=16, shuffle=False)[0]
    np.testing.assert_allclose(out, (half - mean) / (np.array(std) + 1e-6), rtol=1e-4, atol=1e-5)
    with pytest.warns(UserWarning, match="featurewise_center is set but fit"):
        ImageDataGenerator(featurewise_center=True).flow(x, batch_size=4)[0]


def test_flow_with_seed_is_repeatable_and_iterates_forever(x):
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, shear_range=10, horizontal_flip=True)
    y = np.arange(16)

    def batches(seed):
        it = gen.flow(x, y, batch_size=5, seed=seed)
        return [next(it) for _ in range(6)]  # past the end of the first epoch (4 batches)

    a, b, c = batches(0), batches(0), batches(1)
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    assert [len(batch[1]) for batch in a] == [5, 5, 5, 1, 5, 5]
    assert sorted(np.concatenate([batch[1] for batch in a[:4]]).tolist()) == list(range(16))  # each once an epoch
    it = gen.flow(x, y, batch_size=5)
    assert isinstance(it, keras.utils.Sequence) and len(it) == 4
    with pytest.raises(IndexError, match=r"batch index must lie in \[0, 3\], got 4"):
        it[4]


def test_flow_subset_and_bad_input(x):
    gen = ImageDataGenerator(validation_split=0.25)
    y = np.tile([0, 1], 8)
    val = gen.flow(x, y, batch_size=16, shuffle=False, subset="validation")[0]
    train = gen.flow(x, y, batch_size=16, shuffle=False, subset="training")[0]
    assert np.array_equal(val[0], x[:4]) and np.array_equal(train[1], y[4:])
    with pytest.raises(ValueError, match="subsets hold different classes"):
        gen.flow(x, np.sort(y), subset="training")
    with pytest.raises(ValueError, match=r"flow: x must be images \(n, height, width, channels\), got shape \(16, 5, 6\)"):
        gen.flow(x[..., 0])
    with pytest.raises(ValueError, match=r"flow: y must have one entry per image \(16\), got 3"):
        gen.flow(x, y[:3])
    with pytest.raises(ValueError, match="validation_split must lie strictly between 0 and 1, got 1.5"):
        ImageDataGenerator(validation_split=1.5)
    with pytest.raises(ValueError, match="fill_mode must be one of"):
        ImageDataGenerator(rotation_range=10, fill_mode="mirror")
