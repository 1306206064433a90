"""Worker processes that share the machine's cores without oversubscribing them.

Each worker is a fresh (spawned) interpreter. The engine runs its BLAS on one
thread (:mod:`wavedil.blas`), so ``n`` workers keep ``n`` cores busy, not
``n`` times the BLAS default.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from multiprocessing import resource_tracker
from typing import Any

from .errors import WavedilError

#: Worker processes per core at most: beyond, more processes only cost memory and start-up time.
WORKERS_PER_CORE = 4


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The most worker processes a batch may ask for: :data:`WORKERS_PER_CORE` per core this process may run on."""
    return WORKERS_PER_CORE * default_workers()


def _watch_parent(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """Start a worker: it ends as soon as its parent does, even when the parent was killed."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        # The parent is gone (killed, say): nobody reads our results. A temporary
        # file we leave is named after our PID, and the next run removes it.
        os._exit(1)

    threading.Thread(target=watch, name="wavedil-parent-watch", daemon=True).start()
    # Started with Ctrl-C ignored and blocked (see worker_pool): a pending one is dropped now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if initializer is not None:
        initializer(*initargs)


_tracker_started = False


def _start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its standard error on the null device.

    The queues of a pool hold named semaphores, which the tracker removes
    when the process that made them is killed (``kill -9``) before it could.
    It then warns of "leaked semaphore objects" it has just cleaned up: no
    news to a user, and stray lines after a run. The tracker is one process
    for all pools, started once, before any semaphore exists.
    """
    global _tracker_started
    if _tracker_started:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to keep quiet, the tracker starts as usual
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    _tracker_started = True


def worker_queue() -> Any:
    """A queue that the processes of :func:`worker_pool` can share (pass it in ``initargs``)."""
    _start_quiet_resource_tracker()
    return multiprocessing.get_context("spawn").Queue()


def worker_pool(
    workers: int,
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A started pool of ``workers`` spawned processes.

    All processes are started here. Workers ignore Ctrl-C: the parent handles it and stops them with
    :func:`stop_workers`. Use the pool as a context manager, or call
    ``shutdown()``.

    Raises
    ------
    WavedilError
        If a worker dies as the pool starts, twice (killed, out of memory).
    """
    _start_quiet_resource_tracker()
    ctx = multiprocessing.get_context("spawn")
    # An ignored signal stays ignored in the spawned interpreter, from its first instruction.
    # Blocked meanwhile, a Ctrl-C that comes while the workers start is held, not lost:
    # Linux keeps a blocked signal pending even while it is ignored, and it reaches
    # this process as KeyboardInterrupt once the handler is back and the block lifted.
    main = threading.current_thread() is threading.main_thread()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if main else None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    started: ProcessPoolExecutor | None = None
    try:
        for _ in range(2):
            pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=ctx, initializer=_watch_parent, initargs=(os.getpid(), initializer, initargs)
            )
            try:
                # A spawned pool starts a process per submit while none is idle: start them all now.
                for fut in [pool.submit(os.getpid) for _ in range(workers)]:
                    fut.result()
                started = pool
                break
            except BrokenExecutor:
                # A worker died as it started (the OOM killer, a kill): one more try on a new pool.
                pool.shutdown(wait=True, cancel_futures=True)
        else:
            raise WavedilError("worker processes died as they started, twice (killed, or out of memory?)")
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
            if started is None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if main:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a Ctrl-C held meanwhile arrives here
        except KeyboardInterrupt:
            stop_workers(started)
            raise
    return started


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's processes now and wait for them to end.

    A worker stopped mid-file leaves a temporary file named after its process
    ID, which :func:`wavedil.audio.remove_stale_temps` then removes.
    """
    processes = list(getattr(pool, "_processes", {}).values())
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=10)
