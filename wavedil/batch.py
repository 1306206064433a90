"""Batches: many inputs, worker processes, resumable runs, one result per input.

:func:`collect_jobs` turns inputs (files, directories) into jobs with output
paths; :func:`run_jobs` runs them, in this process or in worker processes,
and reports each input's :class:`JobResult`. A bad file is reported and the
others still run. Outputs are written to temporary files renamed into place,
so an output that exists is complete: ``skip_existing`` resumes a killed
batch, and stale temporary files of killed runs are removed from the output
folders when a run starts.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .audio import check_input, check_writable, os_reason, open_input, remove_stale_temps, same_file, write_text
from .errors import MemoryLimitError, Setting, WavedilError
from .memory import default_memory_limit
from .process import STDIO, FileResult, describe, process_file
from .receptive import analyze
from .report import format_for_path, render
from .segments import choose_segment_frames
from .spec import Stack
from .workers import stop_workers, worker_pool, worker_queue

#: Extensions a directory walk picks up as audio.
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64", ".rf64", ".mp3")


@dataclass(frozen=True)
class Job:
    """One input, where its output (and report) go."""

    input: str
    output: str
    report: str | None = None


#: Most frames per block a batch may ask for (2**24, 6 minutes at 48 kHz): larger blocks only cost memory.
MAX_BLOCK_SIZE = 2**24


@dataclass(frozen=True)
class Options:
    """How every job of a batch is processed (see :func:`wavedil.process_file`).

    Raises
    ------
    WavedilError
        If ``block_size`` is not 1 to :data:`MAX_BLOCK_SIZE`.
    """

    force: bool = False
    subtype: str | None = None
    normalize: bool = False
    peak_db: float = -1.0
    dtype: str = "float32"
    block_size: int | None = None
    resample: bool = False
    sanitize: bool = False
    skip_existing: bool = False
    #: Bytes a run may use (see :mod:`wavedil.memory`); None: the default limit.
    memory_limit: int | None = None

    def __post_init__(self) -> None:
        if self.block_size is not None and not 1 <= self.block_size <= MAX_BLOCK_SIZE:
            raise WavedilError(f"block size must be 1 to {MAX_BLOCK_SIZE} frames, got {self.block_size}")


@dataclass(frozen=True)
class JobResult:
    """What happened to one input. ``status`` is ``ok``, ``error`` or ``skipped``."""

    input: str
    output: str | None
    status: str
    error: str | None = None
    seconds_audio: float = 0.0
    seconds_wall: float = 0.0
    clipped_samples: int = 0
    sanitized_samples: int = 0
    report: str | None = None
    detail: dict[str, Any] = field(default_factory=dict, compare=False)
    #: The error itself, for a front end to word its remedy in its own terms.
    cause: WavedilError | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON line of this result (``detail`` and ``cause`` left out)."""
        out = asdict(self)
        del out["detail"], out["cause"]
        return out


# ---------------------------------------------------------------------------
# Jobs


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def collect_jobs(
    inputs: Sequence[str],
    *,
    output: str | None = None,
    outdir: str | None = None,
    recursive: bool = False,
    suffix: str = "",
    ext: str | None = None,
    report: str | None = None,
    report_dir: str | None = None,
    report_ext: str = ".json",
) -> tuple[list[Job], list[JobResult]]:
    """Jobs for ``inputs``, and error results for inputs that cannot become one.

    With ``output`` there must be one input. With ``outdir`` each input file
    ``NAME.EXT`` gives ``OUTDIR/NAME{suffix}{ext or .EXT}``; a directory (with
    ``recursive``) gives its audio files, keeping their layout under
    ``outdir``. Reports go to ``report`` (one input) or to ``report_dir``,
    mirroring the outputs, with extension ``report_ext``.

    Nothing a batch writes may replace what it reads: a job whose output or
    report is the same file as any input of the batch (its own or another's,
    through a symbolic or hard link too) becomes an error result, and so
    does a job whose output would resolve outside ``outdir`` (or report
    outside ``report_dir``) through a symbolic link. Two inputs that would
    write the same output are refused (the later one). These jobs never run,
    so their outputs are never written; the other jobs run.

    Raises
    ------
    WavedilError
        For arguments that do not fit together, a ``suffix`` or ``ext`` that
        is not part of a file name (see :func:`is_name_part`), or an
        ``outdir`` or ``report_dir`` that exists and is not a folder.
    """
    if (output is None) == (outdir is None):
        raise WavedilError("give either an output file (-o) or an output folder (-d)")
    for what, value in (("suffix", suffix), ("extension", ext)):
        if value is not None and not is_name_part(value):
            raise WavedilError(f"the {what} {value!r} is not part of a file name (a path separator, NUL or '..')")
    if output is not None:
        if len(inputs) != 1:
            raise WavedilError(f"-o takes one input, got {len(inputs)}; use -d OUTDIR for several")
        return _refuse_clobbering([Job(inputs[0], output, report)], [], outdir=None, report_dir=None)
    if report is not None:
        raise WavedilError("--report names one file; use --report-dir with -d")
    for folder in (outdir, report_dir):
        if folder is not None and os.path.lexists(folder) and not os.path.isdir(folder):
            raise WavedilError(f"{folder}: exists and is not a folder")
    if ext is not None and not ext.startswith("."):
        ext = "." + ext
    if report_ext and not report_ext.startswith("."):
        report_ext = "." + report_ext
    jobs: list[Job] = []
    errors: list[JobResult] = []
    base = Path(outdir)  # type: ignore[arg-type]
    for item in inputs:
        p = Path(item)
        if item != STDIO and p.is_dir():
            if not recursive:
                errors.append(JobResult(item, None, "error", f"{item}: is a directory (add --recursive to process the audio files in it)"))
                continue
            files = sorted(f for f in p.rglob("*") if f.is_file() and _is_audio(f) and not any(part.startswith(".") for part in f.relative_to(p).parts))
            pairs = [(str(f), f.relative_to(p)) for f in files]
        else:
            pairs = [(item, Path(p.name if item != STDIO else "stdin.wav"))]
        for src, rel in pairs:
            out = base / rel.parent / f"{rel.stem}{suffix}{ext or rel.suffix or '.wav'}"
            rep = str(Path(report_dir) / rel.parent / f"{rel.stem}{suffix}{report_ext}") if report_dir else None
            jobs.append(Job(src, str(out), rep))
    seen: dict[str, str] = {}
    unique = []
    for job in jobs:
        key = os.path.realpath(job.output)
        if key in seen:
            errors.append(JobResult(job.input, job.output, "error", f"{job.output}: the same output as for {seen[key]}; use --suffix or separate runs"))
            continue
        seen[key] = job.input
        unique.append(job)
    return _refuse_clobbering(unique, errors, outdir=outdir, report_dir=report_dir)


def is_name_part(value: str) -> bool:
    """Whether ``value`` (a suffix or an extension) can only be part of one file name.

    A path separator, a NUL or ``..`` could take an output out of its
    folder, so they are refused outright, wherever they are.
    """
    separators = {"/", os.sep, os.altsep} - {None}
    return not ("\0" in value or ".." in value or any(sep in value for sep in separators))


def _file_keys(path: str) -> set[Any]:
    """What identifies a file: its resolved path and, when it exists, its device and inode (hard links too)."""
    keys: set[Any] = {os.path.realpath(path)}
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return keys
    keys.add((st.st_dev, st.st_ino))
    return keys


def _inside(path: str, folder: str) -> bool:
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def _refuse_clobbering(jobs: list[Job], errors: list[JobResult], *, outdir: str | None, report_dir: str | None) -> tuple[list[Job], list[JobResult]]:
    """Jobs whose output or report would replace an input of the batch, or land outside its folder, become errors."""
    owns = [_file_keys(job.input) if job.input != STDIO else set() for job in jobs]
    inputs: dict[Any, str] = {}
    for job, own in zip(jobs, owns):
        for key in own:
            inputs.setdefault(key, job.input)
    kept = []
    for job, own in zip(jobs, owns):
        problem = None
        for path, what, folder in ((job.output, "output", outdir), (job.report, "report", report_dir)):
            if not path or path == STDIO:
                continue
            keys = _file_keys(path)
            if keys & own:
                problem = f"{path}: the {what} is the input file; choose another {what} path"
            elif keys & inputs.keys():
                other = next(inputs[k] for k in keys if k in inputs)
                problem = f"{path}: the {what} of {job.input} would replace {other}, another input of this batch; choose another --suffix or folder"
            elif folder is not None and not _inside(path, folder):
                problem = f"{path}: resolves to {os.path.realpath(path)}, outside {folder} (through a symbolic link); nothing is written outside it"
            if problem:
                break
        if problem:
            errors.append(JobResult(job.input, job.output, "error", problem))
        else:
            kept.append(job)
    return kept, errors


# ---------------------------------------------------------------------------
# Running one job


def run_job(
    job: Job,
    stack: Stack,
    options: Options,
    progress: Callable[[float], None] | None = None,
    *,
    executor: Executor | None = None,
    workers: int = 1,
    concurrent: int = 1,
) -> JobResult:
    """Process one job; every failure becomes an ``error`` result, never an exception.

    The input is checked before any output or report folder is made. With
    ``options.skip_existing`` an existing output is kept and the job is
    ``skipped``; its report, if missing, is written then (see
    :func:`write_skipped_report`). With an ``executor`` and ``workers`` > 1
    a long input runs in segments there. ``concurrent`` jobs running at once
    share the memory limit.

    KeyboardInterrupt passes through, after the output's temporary file is removed.
    """
    start = time.perf_counter()
    try:
        if options.skip_existing and job.output != STDIO and Path(job.output).exists():
            # A run killed between the audio and the report left the output alone: its report is made now.
            if job.report and not os.path.lexists(job.report):
                Path(job.report).parent.mkdir(parents=True, exist_ok=True)
                check_report(job.report, job, force=options.force)
                write_skipped_report(job.report, stack, job, force=options.force)
            return JobResult(job.input, job.output, "skipped", seconds_wall=time.perf_counter() - start, report=job.report)
        if job.input != STDIO:
            # Checked before any folder is made, so that a bad input leaves nothing behind.
            open_input(job.input).close()
        if job.output != STDIO:
            Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        if job.report:
            Path(job.report).parent.mkdir(parents=True, exist_ok=True)
            check_report(job.report, job, force=options.force)
        result = process_file(
            job.input,
            job.output,
            stack,
            force=options.force,
            subtype=options.subtype,
            normalize=options.normalize,
            peak_db=options.peak_db,
            dtype=np.dtype(options.dtype),
            block_size=options.block_size,
            resample=options.resample,
            sanitize=options.sanitize,
            progress=progress,
            executor=executor,
            workers=workers,
            memory_limit=_share(options.memory_limit, concurrent),
        )
        filtered = time.perf_counter() - start
        if job.report:
            write_report(job.report, stack, result, force=options.force)
    except WavedilError as exc:
        if isinstance(exc, MemoryLimitError) and concurrent > 1:
            exc = MemoryLimitError(
                f"{exc.reason} ({concurrent} files at a time share it)",
                hint=f"{exc.hint}; {{{len(exc.settings)}}} leaves each file more",
                settings=(*exc.settings, Setting("jobs", max(1, concurrent // 2))),
            )
        return JobResult(job.input, job.output, "error", str(exc), seconds_wall=time.perf_counter() - start, cause=exc)
    except OSError as exc:
        where = exc.filename or job.output
        return JobResult(job.input, job.output, "error", f"{where}: {os_reason(exc)}", seconds_wall=time.perf_counter() - start)
    except MemoryError:
        # Beyond the plan (the system itself is short of memory): not the block size's fault.
        return JobResult(job.input, job.output, "error", f"{job.input}: out of memory (the system could not provide what the run planned)", seconds_wall=time.perf_counter() - start)
    return JobResult(
        job.input,
        job.output,
        "ok",
        seconds_audio=result.seconds_audio,
        seconds_wall=time.perf_counter() - start,
        clipped_samples=result.clipped_samples,
        sanitized_samples=result.sanitized_samples,
        report=job.report,
        # The filtering alone, without the report's probes: the speed a status line shows.
        detail={**describe(result), "seconds_filter": filtered},
    )


def _share(limit: int | None, concurrent: int) -> int | None:
    """Each of ``concurrent`` jobs' part of a memory limit."""
    if concurrent <= 1:
        return limit
    return (default_memory_limit() if limit is None else limit) // concurrent


def check_report(report: str, job: Job, *, force: bool) -> None:
    """Refuse, before any audio is written, a report that would replace the input or the output, or exists without ``force``."""
    for path, what in ((job.input, "input"), (job.output, "output")):
        if path != STDIO and same_file(report, path):
            raise WavedilError(f"{report}: the report is the {what} file; choose another report path")
    check_writable(Path(report), force=force)


def write_report(path: str, stack: Stack, result: FileResult, *, force: bool) -> None:
    """The receptive-field report of ``stack`` with the file's ``audio`` facts, rendered by extension."""
    report = analyze(stack, stack.sample_rate or result.sample_rate, audio=None if result.input == STDIO else result.input)
    report["audio"] = describe(result)
    write_text(path, render(report, format_for_path(path)), force=force)


def write_skipped_report(path: str, stack: Stack, job: Job, *, force: bool) -> None:
    """The report of a job skipped because its output exists (a run that ended before its report).

    The stack's analysis is made as for a run. The ``audio`` object has the
    keys of a run's, with ``"skipped": true``: what the existing output's
    header tells (frames, rate, channels, format, subtype) and the input's
    channel count from its header; what only filtering measures (clipped and
    sanitized samples, peak, gain) is null.

    Raises
    ------
    AudioError
        If the output (or the input) is not a readable audio file.
    """
    with open_input(job.output) as out:
        frames, rate, out_channels, fmt, subtype = out.frames, out.samplerate, out.channels, out.format, out.subtype
    channels = None
    if job.input != STDIO:
        with open_input(job.input) as src:
            channels = src.channels
    report = analyze(stack, stack.sample_rate or rate, audio=None if job.input == STDIO else job.input)
    report["audio"] = {
        "input": job.input,
        "output": job.output,
        "frames": frames,
        "seconds": frames / rate if rate else 0.0,
        "sample_rate": rate,
        "channels": channels,
        "out_channels": out_channels,
        "format": fmt,
        "subtype": subtype,
        "clipped_samples": None,
        "sanitized_samples": None,
        "peak": None,
        "gain": None,
        "skipped": True,
    }
    write_text(path, render(report, format_for_path(path)), force=force)


# ---------------------------------------------------------------------------
# Running many


def input_seconds(path: str) -> float | None:
    """Length of an audio file in seconds from its header, or None if it cannot be read."""
    if path == STDIO:
        return None
    try:
        # The input's own checks first: opening a FIFO would block here.
        check_input(path)
        info = sf.info(path)
    except Exception:  # any unreadable file: its job will report why
        return None
    return info.frames / info.samplerate if info.samplerate else None


def run_jobs(
    jobs: Sequence[Job],
    stack: Stack,
    options: Options,
    *,
    workers: int = 1,
    on_result: Callable[[JobResult], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> list[JobResult]:
    """Run ``jobs``, ``workers`` at a time, and return their results in job order.

    ``on_result`` is called as each job ends; ``on_progress`` with the seconds
    of audio processed, as blocks complete. With more than one worker the
    work runs in separate processes (BLAS limited to one thread each, so that
    workers do not oversubscribe the cores): whole files when there are at
    least as many files as workers, otherwise segments of each long file
    (:mod:`wavedil.segments`), with the same output bit for bit. Before
    starting, stale temporary files of killed runs are removed from the
    output folders.
    """
    for folder in sorted({str(Path(j.output).parent) for j in jobs if j.output != STDIO}):
        remove_stale_temps(folder)
    results: dict[int, JobResult] = {}

    def done(i: int, r: JobResult) -> None:
        results[i] = r
        if on_result:
            on_result(r)

    # Standard input belongs to this process: a batch that reads it runs here.
    if workers <= 1 or any(j.input == STDIO for j in jobs):
        for i, job in enumerate(jobs):
            done(i, run_job(job, stack, options, on_progress))
    elif len(jobs) < workers:
        if any(worth_splitting(j, stack, options, workers) for j in jobs):
            _run_segments(jobs, stack, options, workers, done, on_progress)
        else:
            for i, job in enumerate(jobs):
                done(i, run_job(job, stack, options, on_progress))
    else:
        _run_pool(jobs, stack, options, workers, done, on_progress)
    return [results[i] for i in range(len(jobs))]


def worth_splitting(job: Job, stack: Stack, options: Options, workers: int) -> bool:
    """Whether the job's input is long enough to cut into two segments or more (never for a recurrent model)."""
    if options.resample or stack.is_recurrent or job.input == STDIO:
        return False
    try:
        # The input's own checks first: opening a FIFO would block here.
        check_input(job.input)
        frames = sf.info(job.input).frames
    except Exception:  # unreadable: its job will report why
        return False
    return frames > choose_segment_frames(frames, stack, workers, options.block_size)


_progress_queue: Any = None


def _set_progress_queue(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _worker_job(job: Job, stack: Stack, options: Options, concurrent: int) -> JobResult:
    q = _progress_queue
    return run_job(job, stack, options, (lambda s: q.put(s)) if q is not None else None, concurrent=concurrent)


def _worker_died(job: Job) -> JobResult:
    return JobResult(job.input, job.output, "error", f"{job.input}: a worker process died on this file (killed, or out of memory?)")


def _run_segments(
    jobs: Sequence[Job],
    stack: Stack,
    options: Options,
    workers: int,
    done: Callable[[int, JobResult], None],
    on_progress: Callable[[float], None] | None,
) -> None:
    """Each job in turn, its segments spread over a pool of ``workers``.

    A worker that dies breaks the pool: the next file gets a new one, and the
    file runs once more on it (its output so far was a temporary file, removed
    on the way out), then counts as failed. Output on standard output has
    partly gone out already: that file fails at once.
    """
    pool = worker_pool(workers)
    try:
        for i, job in enumerate(jobs):
            for attempt in (1, 2):
                try:
                    result = run_job(job, stack, options, on_progress, executor=pool, workers=workers)
                    break
                except BrokenExecutor:
                    pool.shutdown(wait=True)
                    pool = worker_pool(workers)
                    result = _worker_died(job)
                    if job.output == STDIO:
                        break
            done(i, result)
    except KeyboardInterrupt:
        stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_pool(
    jobs: Sequence[Job],
    stack: Stack,
    options: Options,
    workers: int,
    done: Callable[[int, JobResult], None],
    on_progress: Callable[[float], None] | None,
    *,
    retry: bool = True,
) -> None:
    """Whole files on a pool of ``workers``, results as they complete.

    A worker that dies breaks the pool and fails every file not yet done:
    those run once more on a new pool (``retry``), then count as failed.
    """
    progress_queue = worker_queue() if on_progress else None
    stop = threading.Event()
    drain = None
    if progress_queue is not None:
        drain = threading.Thread(target=_drain, args=(progress_queue, on_progress, stop), daemon=True)
        drain.start()
    pool = worker_pool(workers, initializer=_set_progress_queue, initargs=(progress_queue,))
    broken: list[int] = []
    try:
        futures: dict[Future, int] = {pool.submit(_worker_job, job, stack, options, min(workers, len(jobs))): i for i, job in enumerate(jobs)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = futures[fut]
                try:
                    done(i, fut.result())
                except KeyboardInterrupt:
                    raise
                except BrokenExecutor:
                    broken.append(i)
                except BaseException as exc:  # cannot come from run_job, which returns every failure
                    done(i, JobResult(jobs[i].input, jobs[i].output, "error", f"{jobs[i].input}: worker failed: {exc or type(exc).__name__}"))
    except KeyboardInterrupt:
        stop_workers(pool)
        for folder in sorted({str(Path(j.output).parent) for j in jobs if j.output != STDIO}):
            remove_stale_temps(folder)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        stop.set()
        if drain is not None:
            drain.join(timeout=1.0)
    if not broken:
        return
    broken.sort()
    for folder in sorted({str(Path(jobs[i].output).parent) for i in broken}):
        remove_stale_temps(folder)  # the dead worker's partial output
    if not retry:
        for i in broken:
            done(i, _worker_died(jobs[i]))
        return
    again = [jobs[i] for i in broken]
    _run_pool(again, stack, options, min(workers, len(again)), lambda j, r: done(broken[j], r), on_progress, retry=False)


def _drain(q: Any, on_progress: Callable[[float], None], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            on_progress(q.get(timeout=0.1))
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return


def summarize(results: Iterable[JobResult], seconds_wall: float) -> dict[str, Any]:
    """The closing object of a batch: counts, audio and wall seconds, speed."""
    results = list(results)
    audio = sum(r.seconds_audio for r in results)
    return {
        "summary": True,
        "files": len(results),
        "ok": sum(r.status == "ok" for r in results),
        "error": sum(r.status == "error" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "seconds_audio": audio,
        "seconds_wall": seconds_wall,
        "realtime_factor": audio / seconds_wall if seconds_wall > 0 else None,
        "clipped_samples": sum(r.clipped_samples for r in results),
    }
