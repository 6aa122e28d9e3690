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
"""
import concurrent.futures
import threading

from minidl import backend

CACHE_BYTES = 1 << 20  # the scratch arrays of one chunk aim at this size: one core's L2 cache here

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


def _thread_pool(workers):
    """A pool of at least ``workers`` threads, kept from one call to the next."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool_size < workers:
            _pool, _pool_size = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="minidl"), workers
        return _pool


def batch_chunks(array, sample_bytes):
    """Slices of the batch axis of ``array``, ``cpu_threads()`` or a multiple of it, of sizes that
    differ by at most one sample and whose scratch arrays (``sample_bytes`` a sample) take about
    ``CACHE_BYTES``.  CuPy arrays get one chunk, the whole batch: a GPU takes it at once."""
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
    or a single thread, runs on the calling thread with BLAS as it is."""
    threads = min(cpu_threads(), len(chunks))
    if threads == 1:
        return [fn(chunk) for chunk in chunks]
    pool = _thread_pool(threads - 1)

    def run_share(thread):
        return [fn(chunk) for chunk in chunks[thread::threads]]

    with _blas_libraries().limit(limits=1):
        others = [pool.submit(run_share, thread) for thread in range(1, threads)]
        try:
            mine = run_share(0)
        finally:  # BLAS gets its threads back only when every share is done
            concurrent.futures.wait(others)
        shares = [mine] + [future.result() for future in others]
    results = [None] * len(chunks)
    for thread, share in enumerate(shares):
        results[thread::threads] = share
    return results
