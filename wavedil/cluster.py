"""Batches on a Dask cluster (``dask.distributed``): :class:`DaskCluster`, an executor of :func:`wavedil.batch.run_jobs`.

The work units, chosen by :func:`~wavedil.batch.run_jobs` as for a local
batch, are whole files (each worker reads its input and writes its output to
a temporary name renamed into place, on a filesystem all hosts share), or the
segments of each long file (:mod:`wavedil.segments`), whose outputs this
process joins and writes, bit for bit what a local run writes. A worker lost
mid-task costs a retry: Dask runs the task again elsewhere. Dask is imported
only here, only when a scheduler is used (``pip install "wavedil[dask]"``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .audio import remove_stale_temps
from .batch import Batch, Job, JobResult, Options, run_job
from .errors import UsageError, WavedilError
from .process import is_stream
from .stack import Stack

if TYPE_CHECKING:
    from .receptive import ReportCache

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

    Raises :class:`~wavedil.errors.WavedilError` when Dask is not installed,
    the address is malformed, or no Dask scheduler answers there within
    ``timeout`` seconds (at once when the host is unknown or nothing listens
    on the port).
    """
    distributed = _distributed()
    scheme, host, port = _parse_address(address)
    if scheme == "tcp":
        _probe(address, host, port, timeout)
    _check_scheduler(address, timeout)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # whatever the transport raises: one line, no traceback
        raise WavedilError(f"{address}: cannot reach the Dask scheduler ({_reason(exc)})") from None


def _parse_address(address: str) -> tuple[str, str | None, int | None]:
    """The scheme, host and port of a scheduler address; a malformed one is refused here.

    Refusing it early matters: a ``Client`` that fails on a malformed address
    leaves a half-started event loop that delays the process's exit.
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    bad = f"{address}: not a Dask scheduler address; expected tcp://HOST:PORT"
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
    except (ValueError, TypeError):
        raise WavedilError(bad) from None
    if scheme not in ("tcp", "tls", "ws", "wss"):
        return scheme, None, None
    try:
        host, port = parse_host_port(location)
    except ValueError:
        raise WavedilError(bad) from None
    if not host or not 0 < port < 65536:
        raise WavedilError(bad)
    return scheme, host, port


def _probe(address: str, host: str | None, port: int | None, timeout: float) -> None:
    """Fail at once, with the reason, when the host is unknown or nothing listens on the port.

    ``Client`` would keep retrying those until its timeout and then report
    only the timeout.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror:
        raise WavedilError(f"{address}: cannot reach the Dask scheduler: unknown host {host}") from None
    except ConnectionRefusedError:
        raise WavedilError(f"{address}: cannot reach the Dask scheduler: connection refused (is the scheduler running?)") from None
    except TimeoutError:
        raise WavedilError(f"{address}: cannot reach the Dask scheduler: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise WavedilError(f"{address}: cannot reach the Dask scheduler: {exc.strerror or exc}") from None


def _check_scheduler(address: str, timeout: float) -> None:
    """Ask the server at ``address`` what it is, within ``timeout`` seconds; refuse anything but a scheduler.

    ``Client`` can wait forever on a server that accepts the connection but
    does not speak Dask's protocol (the dashboard's port, say), so this asks
    first, in a thread of its own with its own event loop (the caller may run
    one already) and a deadline.
    """
    from distributed.core import rpc
    from distributed.security import Security

    async def identity() -> Any:
        # TLS settings from Dask's configuration, as the Client reads them.
        args = Security().get_connection_args("client")
        async with rpc(address, timeout=timeout, connection_args=args) as remote:
            return await remote.identity()

    answer: dict[str, Any] = {}

    def ask() -> None:
        try:
            answer["identity"] = asyncio.run(asyncio.wait_for(identity(), timeout))
        except BaseException as exc:  # reported below, in the caller's thread
            answer["error"] = exc

    thread = threading.Thread(target=ask, name="wavedil-scheduler-check", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    if "identity" not in answer:
        error = answer.get("error")
        if error is None or isinstance(error, (TimeoutError, asyncio.TimeoutError)):
            why = f"no Dask scheduler answered within {timeout:g} s"
        else:
            why = _reason(error)
        raise WavedilError(f"{address}: cannot reach the Dask scheduler ({why}); is this the scheduler's address (port 8786 by default)?")
    kind = answer["identity"].get("type") if isinstance(answer["identity"], dict) else None
    if kind != "Scheduler":
        raise WavedilError(f"{address}: this is a Dask {kind or 'server'}, not the scheduler; give the scheduler's address")


def worker_threads(client: Any) -> int:
    """Task slots of the cluster now: the sum of its workers' threads (0 while none has joined)."""
    return sum(client.nthreads().values())


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
        # The function name leads the key: Dask groups tasks (and its dashboard shows them) by
        # the words before the first one that is not alphabetic, here the count.
        key = f"{fn.__name__}-{self._count}-{self._run}"
        return self.client.submit(fn, *args, key=key, pure=False, retries=RETRIES)


class DaskCluster:
    """The executor of :func:`wavedil.batch.run_jobs` on the Dask cluster behind ``client``.

    Whole files are tasks (the cluster's worker threads, counted when asked:
    start the workers first); the segments of a long file are tasks whose
    outputs this process joins and writes. Each result names the paths as
    given, though workers see them made absolute. A file whose task failed on
    every try is an ``error`` result; the others still run. Stale temporary
    files are removed on this host and on every worker's host.

    Examples
    --------
    >>> from distributed import Client                     # doctest: +SKIP
    >>> results = run_jobs(jobs, stack, Options(), DaskCluster(Client("tcp://head:8786")))  # doctest: +SKIP
    """

    runs_here = False

    def __init__(self, client: Any) -> None:
        self.client = client
        self.executor = ClusterExecutor(client)

    @property
    def slots(self) -> int:
        return max(1, worker_threads(self.client))

    def check(self, jobs: Sequence[Job]) -> None:
        if any(is_stream(j.input) or is_stream(j.output) for j in jobs):
            raise UsageError("streams stay on this machine: a cluster cannot read or write them")

    def remove_stale_temps(self, folders: Sequence[str]) -> None:
        # A worker killed mid-file (its task ran again elsewhere) left a temporary file on its host.
        _remove_temps_everywhere(self.client, [os.path.abspath(f) for f in folders])

    def run_segments(self, batch: Batch) -> None:
        """Few long files: their segments spread over the cluster, this process writes."""
        _distributed()
        batch.started()
        workers = self.slots
        for i, job in enumerate(batch.jobs):
            try:
                result = run_job(_absolute(job), batch.stack, batch.options, batch.progress, executor=self.executor, workers=workers, reports=batch.reports)
            except Exception as exc:  # a segment's task failed on every try, or the scheduler went away
                result = _failed(job, exc)
            batch.done(i, _as_given(job, result))

    def run_files(self, batch: Batch) -> None:
        """One task per file; results as they complete."""
        distributed = _distributed()
        futures = self._submit(batch)
        batch.started()
        if not futures:
            return
        try:
            for fut in distributed.as_completed(list(futures), loop=self.client.loop):
                i = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # the task failed on every try (a worker killed again and again)
                    result = _failed(batch.jobs[i], exc)
                if batch.progress and result.seconds_audio:
                    batch.progress(result.seconds_audio)
                batch.done(i, _as_given(batch.jobs[i], result))
        except KeyboardInterrupt:
            self.client.cancel(list(futures))
            raise

    def _submit(self, batch: Batch) -> dict[Any, int]:
        """A task per job; a job skipped because its output exists is done at once, without one."""
        futures: dict[Any, int] = {}
        # The stack goes to the cluster once, as a task's result: unlike scattered
        # data, Dask can compute it again if every worker holding it is lost, and
        # the tasks wait for workers that have not joined yet.
        shared_stack = None
        for i, job in enumerate(batch.jobs):
            wide = _absolute(job)
            if batch.options.skip_existing and os.path.exists(wide.output):
                batch.done(i, _as_given(job, run_job(wide, batch.stack, batch.options, reports=batch.reports)))
                continue
            if shared_stack is None:
                shared_stack = self.executor.submit(_the_stack, batch.stack)
            reports = batch.reports if job.report else None
            futures[self.executor.submit(run_file, wide, shared_stack, _retry_safe(wide, batch.options), reports)] = i
        return futures


def _absolute(job: Job) -> Job:
    # Workers run elsewhere, in another working directory: they need full paths.
    return Job(
        input=os.path.abspath(job.input),
        output=os.path.abspath(job.output),
        report=os.path.abspath(job.report) if job.report else None,
    )


def _as_given(job: Job, result: JobResult) -> JobResult:
    """``result`` naming the paths as the user gave them, not the absolute ones the workers saw."""
    return replace(result, input=str(job.input), output=str(job.output), report=job.report if result.report else None)


def _failed(job: Job, exc: BaseException) -> JobResult:
    return JobResult(str(job.input), str(job.output), "error", f"{job.input}: failed on the cluster: {_reason(exc)}")


def _retry_safe(job: Job, options: Options) -> Options:
    """Options under which running ``job`` twice is harmless.

    A worker can be lost after it renamed the output into place but before
    Dask heard the task end; Dask then runs the task again. An output (or
    report) that did not exist when the batch was submitted can only be that
    earlier attempt's, so the task may replace it. One that existed is
    protected as usual: an error without ``overwrite``, or skipped.
    """
    if options.overwrite or os.path.exists(job.output) or (job.report and os.path.exists(job.report)):
        return options
    return replace(options, overwrite=True, skip_existing=False)


def run_file(job: Job, stack: Stack, options: Options, reports: ReportCache | None) -> JobResult:
    """One file's task on a worker: :func:`wavedil.batch.run_job` with the batch's analysis for its report."""
    return run_job(job, stack, options, reports=reports)


def _the_stack(stack: Stack) -> Stack:
    return stack


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _remove_temps_everywhere(client: Any, folders: Sequence[str]) -> None:
    """Remove, from ``folders``, the temporary files killed processes left, on this host and on every worker's.

    Each host removes only the files its own dead processes wrote (the name
    says which): those of live writers stay. One worker per host does it; a
    worker that cannot be asked is passed over.
    """
    _remove_temps(folders)
    if getattr(client, "status", "running") != "running":  # the scheduler went away: the next run cleans up
        return
    try:
        hosts = client.run(socket.gethostname, on_error="ignore")
        one_per_host = {host: address for address, host in sorted(hosts.items())}
        if one_per_host:
            client.run(_remove_temps, list(folders), workers=list(one_per_host.values()), on_error="ignore")
    except Exception:  # the cluster cannot be asked now: the next run cleans up
        pass


def _remove_temps(folders: Sequence[str]) -> None:
    for folder in folders:
        remove_stale_temps(folder)
