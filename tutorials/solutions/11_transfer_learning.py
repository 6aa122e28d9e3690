"""Solutions to the exercises of tutorial 11, transfer learning.

Run from the repository root, ``python tutorials/solutions/11_transfer_learning.py`` checks
exercise 1 against ``F.interpolate``, then runs the tutorial in fast mode (unless ``MINIDL_FAST``
says otherwise; its figures go to a temporary directory) and trains the networks of exercises 2
and 3 on its pre-trained CNN and labelled digits.  No exercise of this tutorial has a
``check_exercise`` checker, so ``CHECKED`` is empty.
"""
import os
import runpy
import tempfile

import numpy as np

import minidl as md
import minidl.functional as F

CHECKED = {}


def upsample_nearest(x, size):
    """Exercise 1.  Output row i copies input row min(floor(i * H / out_h), H - 1); columns alike."""
    (height, width), (out_h, out_w) = x.shape[-2:], size
    rows = np.minimum(np.arange(out_h) * height // out_h, height - 1)
    cols = np.minimum(np.arange(out_w) * width // out_w, width - 1)
    return x[:, :, rows[:, None], cols[None, :]]


def fine_tune_everything(tutorial, lr, n=10):
    """Exercise 2: the pre-trained convolutions with a new head, nothing frozen, trained at ``lr``
    on ``n`` labels per class; returns the test accuracy."""
    copy = md.models.cnn(image_size=28)
    copy.load_state_dict(tutorial["pretrained"].state_dict())
    model = md.nn.Sequential(*copy[:6], md.nn.Flatten(), md.nn.Linear(64 * 5 * 5, 10))
    return _train_and_test(tutorial, model, n, tutorial["STEPS"], lr)


def adaptive_pooling_head(tutorial, n=10):
    """Exercise 3: the frozen convolutions, then AdaptiveAvgPool2d(1) - Flatten - Linear(64, 10),
    trained for three times the steps; returns (head parameters, test accuracy)."""
    features = tutorial["fine_tuned_model"](tutorial["pretrained"])[:6]
    head = md.nn.Sequential(md.nn.AdaptiveAvgPool2d(1), md.nn.Flatten(), md.nn.Linear(64, 10))
    model = md.nn.Sequential(*features, *head)
    return sum(p.numel() for p in head.parameters()), _train_and_test(tutorial, model, n, 3 * tutorial["STEPS"])


def _train_and_test(tutorial, model, n, steps, lr=1e-3):
    x, y = tutorial["labelled_subset"](n)
    md.manual_seed(1)
    trained = tutorial["train"](model, x, y, steps, lr=lr)
    return tutorial["accuracy"](trained, tutorial["test_x"], tutorial["test_y"])


if __name__ == "__main__":
    check_x = np.random.default_rng(0).standard_normal((2, 3, 5, 7))
    for check_size in ((10, 14), (8, 3), (5, 7)):
        assert np.array_equal(upsample_nearest(check_x, check_size), F.interpolate(md.tensor(check_x), size=check_size).numpy())
    print("exercise 1: correct!")

    os.environ.setdefault("MINIDL_FAST", "1")
    os.environ.setdefault("MINIDL_FIGURES", tempfile.mkdtemp(prefix="minidl-solutions11-"))
    tutorial = runpy.run_path("tutorials/11_transfer_learning.py")
    frozen = tutorial["results"]["fine-tuned"][0]
    for lr in (1e-3, 1e-4):
        print(f"exercise 2: everything fine-tuned at lr={lr:g}: {fine_tune_everything(tutorial, lr):.3f} "
              f"(frozen convolutions: {frozen:.3f})")
    parameters, accuracy = adaptive_pooling_head(tutorial)
    print(f"exercise 3: adaptive pooling head, {parameters} parameters: {accuracy:.3f} (full head, 16010: {frozen:.3f})")
