"""The digits demo learns, and the command line around it behaves."""
import subprocess
import sys

import pytest

from minidl.demo import train_digits_mlp

DEMO_OPTIONS = ["--epochs", "--lr", "--batch-size", "--hidden", "--seed"]


@pytest.fixture
def run_cli(repo_env):
    """``python -m minidl *args`` with this checkout importable."""

    def run(*args):
        command = [sys.executable, "-m", "minidl", *args]
        return subprocess.run(command, env=repo_env, capture_output=True, text=True, timeout=60)

    return run


def test_a_few_epochs_reach_90_percent():
    lines = []
    accuracy = train_digits_mlp(epochs=5, lr=0.1, batch_size=32, hidden=64, seed=0, log=lines.append)
    assert accuracy >= 0.9, "\n".join(lines)
    assert len(lines) == 6 and lines[-1] == f"test accuracy: {accuracy:.3f}"


def test_epochs_must_be_positive():
    with pytest.raises(ValueError, match="epochs"):
        train_digits_mlp(epochs=0)


def test_help_lists_the_demo(run_cli):
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


def test_demo_help_lists_every_option(run_cli):
    result = run_cli("demo", "--help")
    assert result.returncode == 0, result.stderr
    for option in DEMO_OPTIONS:
        assert option in result.stdout


def test_no_command_prints_help_and_fails(run_cli):
    result = run_cli()
    assert result.returncode == 2
    assert "demo" in result.stderr


def test_bad_option_value_is_refused(run_cli):
    result = run_cli("demo", "--lr", "-1")
    assert result.returncode == 2
    assert "--lr" in result.stderr
