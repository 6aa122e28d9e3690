"""Batch parallelism on the CPU: the samples of a batch are cut into chunks and the cores work
through the chunks at the same time, one Python thread per core, each thread running serial Numba
kernels (they release the GIL) and one-threaded BLAS.

Why not let Numba's ``prange`` and OpenBLAS each spread every call over all cores, one call after
another?  A convolution's column matrix (9x its input for a 3x3 kernel) then makes a round trip
through main memory between the call that writes it and the calls that read it.  When a chunk's
arrays fit in one core's cache and that core takes the chunk from start to end, the same
arithmetic skips those trips (the MNIST 32->64 convolution, forward+backward: ~15 ms instead of
~20, ``benchmarks/bench_conv.py``).

minidl uses as many threads as BLAS does: set ``OPENBLAS_NUM_THREADS`` or use
``threadpoolctl.threadpool_limits`` to change both.  With one thread, chunks run in order on the
calling thread.

Small matrix products (``product``) run on one BLAS thread.  Threads gain nothing on them, and
after a threaded product OpenBLAS's idle workers spin for ~0.1 s, taking a core from whatever runs
next: in an MNIST CNN training step, the Linear layer's three tiny products made the
convolutions that followed 1.6x slower (measured).
"""
import concurrent.futures
import contextlib
import contextvars
import threading

from minidl import backend

CACHE_BYTES = 1 << 20  # the scratch arrays of one chunk aim at this size: one core's L2 cache here
SMALL_PRODUCT = 1 << 22  # m * k * n below which a product runs on one BLAS thread (8 MFLOP)

_blas = None
_pool, _pool_size = None, 0
_pool_lock = threading.Lock()


def _blas_libraries():
    """threadpoolctl's handle on the loaded BLAS libraries (looked up once, on first use)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def cpu_threads():
    """How many threads minidl's CPU ops use: as many as BLAS uses (at least 1)."""
    return max((library.num_threads for library in _blas_libraries().lib_controllers), default=1)


def _on_main_thread():
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def one_blas_thread():
    """BLAS on one thread inside the block (blocks may nest).  Only the main thread changes the
    count: OpenBLAS did not keep a count set from another thread (measured), so there the block
    leaves BLAS as it is."""
    if not _on_main_thread():
        yield
        return
    libraries = _blas_libraries().lib_controllers
    saved = [library.num_threads for library in libraries]
    for library in libraries:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in zip(libraries, saved):
            library.set_num_threads(threads)


def product(a, b):
    """``a @ b``; on one BLAS thread when the product is small (below ``SMALL_PRODUCT``
    multiply-adds) and the arrays are NumPy's."""
    if backend.is_cupy_array(a) or a.size * (b.shape[-1] if b.ndim > 1 else 1) >= SMALL_PRODUCT:
        return a @ b
    with one_blas_thread():
        return a @ b


def _thread_pool(workers):
    """A pool of at least ``workers`` threads, kept from one call to the next."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool_size < workers:
            _pool, _pool_size = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="minidl"), workers
        return _pool


def batch_chunks(array, sample_bytes):
    """Slices of the batch axis of ``array``, of sizes that differ by at most one sample and whose
    scratch arrays (``sample_bytes`` a sample) take about ``CACHE_BYTES``; ``cpu_threads()`` of
    them or a multiple, unless there are fewer samples than that.  CuPy arrays get one chunk, the
    whole batch: a GPU takes it at once."""
    n_batch = array.shape[0]
    if backend.is_cupy_array(array):
        return [slice(0, n_batch)]
    threads = cpu_threads()
    rounds = -(-n_batch * sample_bytes // (CACHE_BYTES * threads))  # ceil
    n_chunks = max(1, min(n_batch, rounds * threads))
    size, larger = divmod(n_batch, n_chunks)
    starts = [k * size + min(k, larger) for k in range(n_chunks + 1)]
    return [slice(start, stop) for start, stop in zip(starts, starts[1:])]


def map_chunks(fn, chunks):
    """``[fn(chunk) for chunk in chunks]``, the chunks shared out over ``cpu_threads()`` threads
    (thread t takes chunks t, t + T, t + 2T, ...), BLAS on one thread meanwhile.  A single chunk,
    a single thread, or a call from a thread other than the main one (``one_blas_thread``) runs
    the chunks in order on the calling thread, with BLAS as it is."""
    threads = min(cpu_threads(), len(chunks)) if _on_main_thread() else 1
    if threads == 1:
        return [fn(chunk) for chunk in chunks]
    pool = _thread_pool(threads - 1)

    def run_share(thread):
        return [fn(chunk) for chunk in chunks[thread::threads]]

    with one_blas_thread():
        # each share runs in a copy of the caller's context, so np.errstate (a context variable) holds there too
        others = [pool.submit(contextvars.copy_context().run, run_share, thread) for thread in range(1, threads)]
        try:
            mine = run_share(0)
        finally:  # BLAS gets its threads back only when every share is done
            concurrent.futures.wait(others)
        shares = [mine] + [future.result() for future in others]
    results = [None] * len(chunks)
    for thread, share in enumerate(shares):
        results[thread::threads] = share
    return results
