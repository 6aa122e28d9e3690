"""minidl.heap: glibc keeps big freed blocks, so the next array that size is not faulted in again."""
import platform
import resource

import numpy as np
import pytest

from minidl import heap

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


@glibc_only
def test_malloc_takes_the_thresholds():
    assert heap.keep_big_blocks() is True


@glibc_only
def test_a_big_array_freed_and_allocated_again_is_not_faulted_in_again():
    heap.keep_big_blocks()
    size = 6 << 20  # above glibc's default mmap threshold, below KEEP_BYTES
    np.ones(size // 8)  # allocated, touched, freed: now it stays in the heap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(size // 8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < size // 4096 // 10  # mapped afresh, it would fault once per 4 KB page
