"""One BLAS thread while the engine runs, whatever the caller's setting.

The engine's matrix products are small (a WaveNet layer multiplies a few
channels by a block): a BLAS spreading each over all cores spends more time
waking its threads than multiplying, and a NAM capture ran 10-19x slower in a
plain Python session than on the command line. A BLAS's results can also
depend on its thread count, and one thread everywhere makes a file run in one
process and the same file run in segments on workers agree bit for bit.

The limit is scoped (threadpoolctl): it holds while any thread of the process
is inside the engine and the caller's own setting comes back when the last
one leaves, so NumPy code around the engine keeps its threads. OpenBLAS
ignores a thread count set from another thread once the main thread has set
one: a program running the engine on threads (a Dask worker) should start
with ``OPENBLAS_NUM_THREADS=1``, as Dask's nanny does for its workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_limiter = None
_controller = None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with every loaded BLAS on one thread; nested and concurrent uses share one limit.

    Examples
    --------
    >>> import numpy as np
    >>> from threadpoolctl import threadpool_info
    >>> with one_blas_thread():
    ...     [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"][:1]
    [1]
    """
    global _depth, _limiter, _controller
    with _lock:
        if _depth == 0:
            from threadpoolctl import ThreadpoolController

            # Made on first use, once NumPy (and its BLAS) is loaded: the controller lists the libraries it finds then.
            _controller = _controller or ThreadpoolController()
            _limiter = _controller.limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
                _limiter = None
