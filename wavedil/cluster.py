"""Batches on a Dask cluster (``dask.distributed``): files, and segments of long files.

The work units are those of a local batch: whole files (each worker reads its
input and writes its output to a temporary name renamed into place, on a
filesystem all hosts share), or, when there are fewer files than the
cluster's worker threads, the segments of each long file
(:mod:`wavedil.segments`), whose outputs this process joins and writes, bit
for bit what a local run writes. A worker lost mid-task costs a retry: Dask
runs the task again elsewhere. Dask is imported only here, only when a
scheduler is used (``pip install "wavedil[dask]"``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from .audio import remove_stale_temps
from .batch import Job, JobResult, Options, worth_splitting, run_job
from .errors import WavedilError
from .process import STDIO
from .spec import Stack

#: Times Dask runs a task again after it raised (a lost worker is rescheduled on top of these).
RETRIES = 2

#: The environment variable the command line reads the scheduler's address from.
SCHEDULER_VARIABLE = "WAVEDIL_SCHEDULER"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise WavedilError(
            "running on a Dask cluster needs dask.distributed, which is not installed; "
            "pip install 'wavedil[dask]'"
        ) from None
    return distributed


def connect(address: str, *, timeout: float = 10.0) -> Any:
    """A ``dask.distributed.Client`` connected to the scheduler at ``address`` (``tcp://HOST:PORT``).

    Raises :class:`~wavedil.errors.WavedilError` when Dask is not installed
    or the scheduler cannot be reached within ``timeout`` seconds.
    """
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise WavedilError(f"{address}: cannot reach the Dask scheduler ({exc or type(exc).__name__})") from None


def worker_threads(client: Any) -> int:
    """Task slots of the cluster: the sum of its workers' threads."""
    return max(1, sum(client.nthreads().values()))


class ClusterExecutor:
    """``submit(fn, *args)`` on a Dask client, with retries and unique task keys.

    What :func:`wavedil.process_file` and :func:`wavedil.segments.parallel_apply`
    need of an executor. Unique keys matter: Dask would otherwise merge
    identical calls into one task.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._run = uuid.uuid4().hex[:12]
        self._count = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        self._count += 1
        # The function name leads the key: Dask groups tasks (and its dashboard shows them) by it.
        key = f"{fn.__name__}-{self._run}-{self._count}"
        return self.client.submit(fn, *args, key=key, pure=False, retries=RETRIES)


def _absolute(job: Job) -> Job:
    # Workers run elsewhere, in another working directory: they need full paths.
    return Job(
        input=os.path.abspath(job.input),
        output=os.path.abspath(job.output),
        report=os.path.abspath(job.report) if job.report else None,
    )


def _retry_safe(job: Job, options: Options) -> Options:
    """Options under which running ``job`` twice is harmless.

    A worker can be lost after it renamed the output into place but before
    Dask heard the task end; Dask then runs the task again. An output (or
    report) that did not exist when the batch was submitted can only be that
    earlier attempt's, so the task may replace it. One that existed is
    protected as usual: an error without ``force``, or skipped.
    """
    if options.force or os.path.exists(job.output) or (job.report and os.path.exists(job.report)):
        return options
    return replace(options, force=True, skip_existing=False)


def run_jobs_on_cluster(
    jobs: Sequence[Job],
    stack: Stack,
    options: Options,
    client: Any,
    *,
    on_result: Callable[[JobResult], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> list[JobResult]:
    """Run ``jobs`` on the cluster behind ``client``; results in job order, as :func:`wavedil.batch.run_jobs`.

    Each result names the paths as given. A file whose task failed on every
    try is an ``error`` result; the others still run.
    """
    if any(j.input == STDIO or j.output == STDIO for j in jobs):
        raise WavedilError("standard input and output stay on this machine; run without a scheduler")
    for folder in sorted({str(Path(j.output).parent) for j in jobs}):
        remove_stale_temps(folder)
    distributed = _distributed()
    executor = ClusterExecutor(client)
    threads = worker_threads(client)
    results: dict[int, JobResult] = {}

    def done(i: int, r: JobResult) -> None:
        # The paths as the user gave them, not the absolute ones the workers saw.
        r = replace(r, input=jobs[i].input, output=jobs[i].output, report=jobs[i].report if r.report else None)
        results[i] = r
        if on_result:
            on_result(r)

    wide = [_absolute(j) for j in jobs]
    if len(jobs) < threads and any(worth_splitting(j, stack, options, threads) for j in wide):
        # Few long files: their segments spread over the cluster, this process writes.
        for i, job in enumerate(wide):
            done(i, run_job(job, stack, options, on_progress, executor=executor, workers=threads))
        return [results[i] for i in range(len(jobs))]

    shared_stack = client.scatter(stack, broadcast=True)
    futures = {executor.submit(run_job, job, shared_stack, _retry_safe(job, options)): i for i, job in enumerate(wide)}
    try:
        for fut in distributed.as_completed(futures, loop=client.loop):
            i = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # the task failed on every try (a worker killed again and again)
                result = JobResult(wide[i].input, wide[i].output, "error", f"{jobs[i].input}: failed on the cluster: {exc or type(exc).__name__}")
            if on_progress and result.seconds_audio:
                on_progress(result.seconds_audio)
            done(i, result)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        # A worker killed mid-file (its task ran again elsewhere) left a temporary file.
        for folder in sorted({str(Path(j.output).parent) for j in jobs}):
            remove_stale_temps(folder)
    return [results[i] for i in range(len(jobs))]
