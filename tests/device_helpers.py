"""Helpers for the tests that run on a "cuda" device (the CuPy stand-in or a real GPU)."""
import pytest

from minidl import backend


def count_transfers():
    """The CuPy stand-in's counter of host<->device copies (``with count_transfers() as copies``).
    Real CuPy counts nothing, so on a real GPU a test that counts is skipped, not passed."""
    if not backend.FAKE_CUDA:
        pytest.skip("counts host<->device copies only on the CuPy stand-in (MINIDL_FAKE_CUDA=1)")
    from minidl.fake_cupy import count_transfers as stand_in_counter

    return stand_in_counter()
