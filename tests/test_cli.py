"""``python -m minidl train``: it learns, its help is complete, and bad input ends with one
clear line on stderr and a non-zero exit code, never a traceback."""
import re
import subprocess
import sys

import pytest

from minidl.__main__ import main

TRAIN_OPTIONS = ["--dataset", "--data-dir", "--model", "--optimizer", "--lr", "--batch-size", "--epochs",
                 "--patience", "--seed", "--out", "--quiet"]


def run_cli(env, *args):
    command = [sys.executable, "-m", "minidl", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


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


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that makes the NaN
def test_nan_loss_is_a_clear_error(tmp_path, capsys):
    argv = ["train", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "2", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: TerminateOnNaN: the loss became") and "\n" not in err


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
