"""``python -m minidl train``: it learns, its help is complete, and bad input ends with one
clear line on stderr and a non-zero exit code, never a traceback."""
import re
import subprocess
import sys
import tempfile

import pytest

import minidl as md
from minidl.__main__ import main

TRAIN_OPTIONS = ["--dataset", "--data-dir", "--model", "--optimizer", "--lr", "--batch-size", "--epochs",
                 "--patience", "--seed", "--out", "--device", "--quiet"]


def run_cli(env, *args):
    """``python -m minidl ARGS`` in a scratch folder, so a default ``--out`` lands there."""
    command = [sys.executable, "-m", "minidl", *args]
    with tempfile.TemporaryDirectory() as scratch:
        return subprocess.run(command, env=env, cwd=scratch, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result, *words):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_train_on_digits_reaches_a_sane_accuracy(tmp_path, capsys):
    assert main(["train", "--epochs", "3", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.9, out
    assert "true\\pred" in out  # the confusion matrix
    for name in ("curves.png", "confusion.png", "best.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_the_mlp_and_another_optimizer_run_too(tmp_path, capsys):
    argv = ["train", "--model", "mlp", "--optimizer", "momentum", "--lr", "0.05", "--epochs", "2", "--quiet"]
    assert main(argv + ["--out", str(tmp_path)]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_nan_loss_is_one_error_line_and_no_warning(repo_env, tmp_path):
    result = run_cli(repo_env, "train", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "2", "--quiet",
                     "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: TerminateOnNaN: the loss became nan at epoch 1")
    assert result.stderr.count("\n") == 1 and "Warning" not in result.stderr, result.stderr


def test_overflow_warnings_are_silenced_only_inside_training(tmp_path, capsys):
    import numpy as np

    main(["train", "--model", "mlp", "--optimizer", "sgd", "--lr", "1e5", "--epochs", "1", "--quiet",
          "--out", str(tmp_path)])
    assert capsys.readouterr().err.startswith("error: TerminateOnNaN")
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.float32(1e38) * np.float32(10)


@pytest.mark.parametrize("lr", ["inf", "nan", "0", "-1e-3"])
@pytest.mark.parametrize("command", ["train", "demo"])
def test_a_learning_rate_that_is_not_finite_and_positive_is_refused(command, lr, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, f"--lr={lr}"])
    assert exit_info.value.code == 2
    assert f"error: argument --lr: must be a finite number > 0, got {lr}" in capsys.readouterr().err


def train_error(capsys, *argv):
    """Run ``train`` with bad options in this process: its exit code and its one stderr line."""
    code = main(["train", "--quiet", *argv])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return code, lines[0]


def test_a_file_given_as_a_folder_is_named(tmp_path, capsys):
    a_file = tmp_path / "train-images-idx3-ubyte.gz"
    a_file.write_bytes(b"")
    code, line = train_error(capsys, "--dataset", "mnist", "--data-dir", str(a_file), "--out", str(tmp_path / "o"))
    assert code == 2 and f"--data-dir {a_file} is a file, not a directory" in line
    code, line = train_error(capsys, "--epochs", "1", "--out", str(a_file))
    assert code == 2 and f"--out {a_file} is a file, not a directory" in line
    assert a_file.read_bytes() == b""


def test_data_dir_without_mnist_is_refused(tmp_path, capsys):
    code, line = train_error(capsys, "--data-dir", str(tmp_path), "--out", str(tmp_path))
    assert code == 2 and "--data-dir is read only with --dataset mnist" in line
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_version(repo_env):
    import minidl

    result = run_cli(repo_env, "--version")
    assert result.returncode == 0 and result.stdout == f"minidl {minidl.__version__}\n"


def test_the_curves_mark_the_epoch_whose_weights_were_restored(tmp_path, monkeypatch):
    from minidl import viz
    from minidl.train.command import train_and_report

    drawn, real_plot = {}, viz.plot_history

    def plot_history(history, path, **options):
        drawn.update(options)
        return real_plot(history, path, **options)

    monkeypatch.setattr(viz, "plot_history", plot_history)
    report = train_and_report(model="mlp", optimizer="adam", lr=0.01, epochs=8, patience=1, out=tmp_path,
                              verbose=False, log=lambda _: None)
    history = report["history"]
    assert drawn["best_epoch"] == history.best("val_loss")[0] < len(history)  # stopped after the best epoch


def test_train_help_lists_every_option(repo_env):
    result = run_cli(repo_env, "train", "--help")
    assert result.returncode == 0, result.stderr
    for option in TRAIN_OPTIONS:
        assert option in result.stdout


def test_mnist_without_data_dir_is_refused(repo_env):
    assert_one_line_error(run_cli(repo_env, "train", "--dataset", "mnist"), "--data-dir")


def test_missing_data_dir_is_a_clear_error(repo_env, tmp_path):
    result = run_cli(repo_env, "train", "--dataset", "mnist", "--data-dir", str(tmp_path / "nowhere"), "--quiet")
    assert_one_line_error(result, "does not exist")


def test_corrupt_idx_file_is_a_clear_error(repo_env, tmp_path):
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            (tmp_path / f"{split}-{kind}-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 20)  # labels' magic
    result = run_cli(repo_env, "train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--quiet",
                     "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "train-images-idx3-ubyte", "magic number")


def test_train_on_the_cuda_device(repo_env, tmp_path):
    """``--device cuda`` moves the model there and fit moves each batch (on the CuPy stand-in)."""
    env = dict(repo_env, MINIDL_FAKE_CUDA="1", NUMBA_ENABLE_CUDASIM="1")
    result = run_cli(env, "train", "--device", "cuda", "--model", "mlp", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout


def test_an_unknown_or_unusable_device_is_one_error_line(repo_env):
    assert_one_line_error(run_cli(repo_env, "train", "--device", "tpu", "--quiet"), "unknown device 'tpu'")
    if not md.cupy_usable():
        assert_one_line_error(run_cli(repo_env, "train", "--device", "cuda", "--quiet"), "no GPU is usable")
