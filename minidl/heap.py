"""Keep big freed arrays in the heap, for the next array of that size (glibc only).

glibc's malloc gives any block above its *mmap threshold* (adjusted as blocks come and go) back to
the operating system when it is freed, so the next array that big is mapped afresh and its pages
are faulted in one by one.  A training step frees and allocates several arrays of a few MB each:
on this project's 2-core VM the MNIST CNN's first max-pool backward, whose 5.5 MB gradient was
mapped afresh every step, took 11.3 ms instead of 2.5 ms (measured).  ``keep_big_blocks()``
raises the threshold, and the size above which the top of the heap is trimmed, to ``KEEP_BYTES``
(twice that for the trim): arrays up to that size are then reused from the heap.
``import minidl`` calls it once, unless ``MINIDL_KEEP_MALLOC=1``; elsewhere than glibc it does
nothing.
"""
import ctypes
import ctypes.util
import os

KEEP_BYTES = 64 << 20  # freed blocks up to this size stay in the heap
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def keep_big_blocks(keep_bytes=KEEP_BYTES):
    """Set glibc's mmap and trim thresholds to ``keep_bytes``; True if malloc took them."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to do
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, keep_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * keep_bytes))


if os.environ.get("MINIDL_KEEP_MALLOC") != "1":
    keep_big_blocks()
