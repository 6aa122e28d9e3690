"""Numba kernels for convolution and pooling: pure functions on arrays, no autograd, no minidl.

- ``kernels.window``: the per-window arithmetic (which input pixel a kernel tap reads, the max of
  a pooling window, the divisor of an average), written once as plain Python.
- ``kernels.cpu``: those helpers compiled with ``@njit`` (``window.compile_all``), inside
  ``@njit(parallel=True)`` loops over NumPy arrays; im2col and col2im are serial and release the
  GIL, for ``minidl.parallel`` to run them on several chunks of a batch at once.
- ``kernels.cuda``: the same helpers compiled as CUDA device functions, inside ``@cuda.jit``
  kernels launched on CuPy arrays (Numba takes them through ``__cuda_array_interface__``), on
  the stream CuPy is working on and without making the host wait.
- ``kernels.recurrent``: the LSTM's and GRU's elementwise gate arithmetic, forward (float32) and
  backward, one compiled pass each over a step's gate array (CPU).
- ``kernels.few_taps``: the first layers' convolutions (few taps), weights held in registers (CPU).
- ``kernels.normalization``: batch and layer normalisation's statistics and passes (CPU).
- ``kernels.optim``: Adam's update, one pass over a parameter and its moments (CPU).

Every kernel writes into output arrays that the caller allocates, so the same call works on
NumPy and CuPy arrays.  Geometry arguments are pairs ``(rows, cols)``: ``out_size``, ``kernel``,
``stride``, ``padding`` (top, left) and ``dilation``.

Importing this package does not import Numba; ``kernels.cpu`` and ``kernels.cuda`` do, and they
compile lazily with ``cache=True`` (on disk, in ``kernels/__pycache__``; CUDA kernels once per
compute capability).  Numba's cache does not notice edits to ``window.py``: after changing it, delete
``kernels/__pycache__``.
"""
