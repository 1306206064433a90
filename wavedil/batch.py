"""Batches: many inputs, one result per input, run here, on worker processes or on a cluster.

:func:`collect_jobs` turns inputs (files, directories) into jobs with output
paths; :func:`run_jobs` runs them and reports each input's :class:`JobResult`.
It decides how: in this process, whole files side by side, or the segments of
each long file side by side (:mod:`wavedil.segments`); an *executor* says
where things run side by side: :class:`LocalWorkers` (worker processes on this
machine) or :class:`wavedil.cluster.DaskCluster`. A bad file is reported and
the others still run. Outputs are written to temporary files renamed into
place, so an output that exists is complete: ``skip_existing`` resumes a
killed batch, and stale temporary files of killed runs are removed from the
output folders before and after a run.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import soundfile as sf

from .audio import check_input, check_writable, open_input, os_reason, remove_stale_temps, same_file, write_text
from .errors import AudioError, MemoryLimitError, Setting, UsageError, WavedilError
from .memory import default_memory_limit
from .process import MAX_BLOCK_SIZE, FileResult, Options, Target, is_stream, name_of, process_file
from .segments import choose_segment_frames
from .stack import Stack
from .workers import stop_workers, worker_pool, worker_queue

if TYPE_CHECKING:
    from .receptive import ReportCache

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_BLOCK_SIZE",
    "Batch",
    "Job",
    "JobExecutor",
    "JobResult",
    "LocalWorkers",
    "Options",
    "Summary",
    "check_jobs",
    "collect_jobs",
    "is_name_part",
    "run_job",
    "run_jobs",
    "summarize",
]

#: Extensions a directory walk picks up as audio.
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64", ".rf64", ".mp3")


@dataclass(frozen=True)
class Job:
    """One input, where its output (and report) go. Input and output are paths or open streams."""

    input: Target
    output: Target
    report: str | None = None


@dataclass(frozen=True)
class JobResult:
    """What happened to one input. ``status`` is ``ok``, ``error`` or ``skipped``.

    ``input`` and ``output`` name the paths as given (``-`` for a stream);
    ``audio`` is what filtering measured (``ok`` results only).
    """

    input: str
    output: str | None
    status: str
    error: str | None = None
    seconds_wall: float = 0.0
    report: str | None = None
    audio: FileResult | None = None
    #: The filtering alone, without the report: the time a file's speed is measured over.
    seconds_filter: float = 0.0
    #: The error itself, for a front end to word its remedy in its own terms.
    cause: WavedilError | None = field(default=None, compare=False, repr=False)

    @property
    def seconds_audio(self) -> float:
        return self.audio.seconds_audio if self.audio else 0.0

    @property
    def clipped_samples(self) -> int:
        return self.audio.clipped_samples if self.audio else 0

    @property
    def sanitized_samples(self) -> int:
        return self.audio.sanitized_samples if self.audio else 0

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio filtered per second of filtering (None before any)."""
        return self.seconds_audio / self.seconds_filter if self.audio and self.seconds_filter > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON line of this result (the keys the README documents).

        >>> JobResult("a.wav", "out/a.wav", "skipped", seconds_wall=0.5).to_dict()["status"]
        'skipped'
        """
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "error": self.error,
            "seconds_audio": self.seconds_audio,
            "seconds_wall": self.seconds_wall,
            "clipped_samples": self.clipped_samples,
            "sanitized_samples": self.sanitized_samples,
            "report": self.report,
            **self._engines(),
        }

    def _engines(self) -> dict[str, Any]:
        """``engine`` and ``fast_tanh`` (null when nothing ran); ``layer_engines`` only when a layer ran on another engine."""
        a = self.audio
        if a is None:
            return {"engine": None, "fast_tanh": None}
        keys: dict[str, Any] = {"engine": a.engine, "fast_tanh": a.fast_tanh}
        if any(name != a.engine for name in a.layer_engines):
            keys["layer_engines"] = list(a.layer_engines)
        if a.subtype_downgraded_from:
            keys["subtype_downgraded_from"] = a.subtype_downgraded_from
        if a.resampled_responses:
            keys["resampled_responses"] = [{"source": s, "from_rate": f, "to_rate": t} for s, f, t in a.resampled_responses]
        return keys


def _failure(input: Target, output: Target | None, error: WavedilError | str, seconds_wall: float = 0.0) -> JobResult:
    """An ``error`` result; a :class:`WavedilError` is kept as its cause."""
    cause = error if isinstance(error, WavedilError) else None
    out = None if output is None else name_of(output)
    return JobResult(name_of(input), out, "error", str(error), seconds_wall=seconds_wall, cause=cause)


# ---------------------------------------------------------------------------
# Jobs


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def collect_jobs(
    inputs: Sequence[Target],
    *,
    output: Target | None = None,
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
    ``NAME.EXT`` gives ``OUTDIR/NAME{suffix}{ext or .EXT}`` (a stream input
    is named ``stdin.wav``); a directory (with ``recursive``) gives its audio
    files, keeping their layout under ``outdir``. Reports go to ``report``
    (one input) or to ``report_dir``, mirroring the outputs, with extension
    ``report_ext``.

    Nothing a batch writes may replace what it reads: a job whose output or
    report is the same file as any input of the batch (its own or another's,
    through a symbolic or hard link too) becomes an error result, and so
    does a job whose output would resolve outside ``outdir`` (or report
    outside ``report_dir``) through a symbolic link. Two inputs that would
    write the same output are refused (the later one). These jobs never run,
    so their outputs are never written; the other jobs run.

    Raises
    ------
    UsageError
        For arguments that do not fit together, or a ``suffix`` or ``ext``
        that is not part of a file name (see :func:`is_name_part`).
    WavedilError
        For an ``outdir`` or ``report_dir`` that exists and is not a folder.

    Examples
    --------
    >>> jobs, errors = collect_jobs(["takes/a.wav"], outdir="out", suffix="_s", ext="flac")
    >>> jobs[0].output, errors
    ('out/a_s.flac', [])
    """
    _check_layout(inputs, output=output, outdir=outdir, suffix=suffix, ext=ext, report=report, report_dir=report_dir)
    if output is not None:
        return _refuse_clobbering([Job(inputs[0], output, report)], [], outdir=None, report_dir=None)
    assert outdir is not None  # _check_layout: one of the two
    for folder in (outdir, report_dir):
        if folder is not None and os.path.lexists(folder) and not os.path.isdir(folder):
            raise WavedilError(f"{folder}: exists and is not a folder")
    jobs: list[Job] = []
    errors: list[JobResult] = []
    for item in inputs:
        try:
            sources = _sources(item, recursive)
        except WavedilError as exc:
            errors.append(_failure(item, None, exc))
            continue
        for src, rel in sources:
            out = Path(outdir) / rel.parent / f"{rel.stem}{suffix}{_dotted(ext) or rel.suffix or '.wav'}"
            rep = str(Path(report_dir) / rel.parent / f"{rel.stem}{suffix}{_dotted(report_ext)}") if report_dir else None
            jobs.append(Job(src, str(out), rep))
    return _refuse_clobbering(_unique_outputs(jobs, errors), errors, outdir=outdir, report_dir=report_dir)
def _check_layout(
    inputs: Sequence[Target],
    *,
    output: Target | None,
    outdir: str | None,
    suffix: str,
    ext: str | None,
    report: str | None,
    report_dir: str | None,
) -> None:
    """Refuse arguments of :func:`collect_jobs` that cannot work together."""
    if (output is None) == (outdir is None):
        raise UsageError("give either an output file or an output folder", hint="{0} or {1}", settings=(Setting("output", "FILE"), Setting("outdir", "FOLDER")))
    for what, value in (("suffix", suffix), ("extension", ext)):
        if value is not None and not is_name_part(value):
            raise UsageError(f"the {what} {value!r} is not part of a file name (a path separator, NUL or '..')")
    if output is not None and len(inputs) != 1:
        raise UsageError(f"an output file takes one input, got {len(inputs)}", hint="{0} takes several", settings=(Setting("outdir", "FOLDER"),))
    if output is not None and report_dir is not None:
        raise UsageError("a report folder goes with an output folder", hint="{0} names the one report", settings=(Setting("report", "FILE"),))
    if outdir is not None and report is not None:
        raise UsageError("a report file goes with one output file", hint="{0} gives one report per output", settings=(Setting("report_dir", "FOLDER"),))


def _dotted(ext: str | None) -> str | None:
    return ext if not ext or ext.startswith(".") else "." + ext


def _sources(item: Target, recursive: bool) -> list[tuple[Target, Path]]:
    """The inputs ``item`` stands for, each with its output's path relative to the output folder."""
    if is_stream(item):
        return [(item, Path("stdin.wav"))]
    p = Path(item)
    if not p.is_dir():
        return [(item, Path(p.name))]
    if not recursive:
        raise AudioError(f"{item}: is a directory", hint="{0} processes the audio files in it", settings=(Setting("recursive"),))
    files = sorted(f for f in p.rglob("*") if f.is_file() and _is_audio(f) and not any(part.startswith(".") for part in f.relative_to(p).parts))
    return [(str(f), f.relative_to(p)) for f in files]


def _unique_outputs(jobs: list[Job], errors: list[JobResult]) -> list[Job]:
    """The jobs whose output no earlier job writes; the others become errors."""
    seen: dict[str, Target] = {}
    unique = []
    for job in jobs:
        key = os.path.realpath(job.output)
        if key in seen:
            problem = WavedilError(
                f"{job.output}: the same output as for {name_of(seen[key])}", hint="{0}, or separate runs, keep both", settings=(Setting("suffix", "SUFFIX"),)
            )
            errors.append(_failure(job.input, job.output, problem))
            continue
        seen[key] = job.input
        unique.append(job)
    return unique


def is_name_part(value: str) -> bool:
    """Whether ``value`` (a suffix or an extension) can only be part of one file name.

    A path separator, a NUL or ``..`` could take an output out of its
    folder, so they are refused outright, wherever they are.

    >>> is_name_part("_smooth"), is_name_part("../x")
    (True, False)
    """
    separators = {"/", os.sep, os.altsep} - {None}
    return not ("\0" in value or ".." in value or any(sep in value for sep in separators))


def _file_keys(path: Target | None) -> set[Any]:
    """What identifies a file: its resolved path and, when it exists, its device and inode (hard links too)."""
    if path is None or is_stream(path):
        return set()
    keys: set[Any] = {os.path.realpath(path)}
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return keys
    keys.add((st.st_dev, st.st_ino))
    return keys


def _inside(path: Target, folder: str) -> bool:
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def _refuse_clobbering(jobs: list[Job], errors: list[JobResult], *, outdir: str | None, report_dir: str | None) -> tuple[list[Job], list[JobResult]]:
    """Jobs whose output or report would replace an input of the batch, or land outside its folder, become errors."""
    owns = [_file_keys(job.input) for job in jobs]
    inputs: dict[Any, Target] = {}
    for job, own in zip(jobs, owns):
        for key in own:
            inputs.setdefault(key, job.input)
    kept = []
    for job, own in zip(jobs, owns):
        targets = ((job.output, "output", outdir), (job.report, "report", report_dir))
        problem = next(filter(None, (_clobbering(job, path, what, folder, own, inputs) for path, what, folder in targets)), None)
        if problem:
            errors.append(_failure(job.input, job.output, problem))
        else:
            kept.append(job)
    return kept, errors


def _clobbering(job: Job, path: Target | None, what: str, folder: str | None, own: set[Any], inputs: dict[Any, Target]) -> WavedilError | None:
    """Why ``job``'s ``what`` (output or report) at ``path`` may not be written, or None."""
    keys = _file_keys(path)
    if not keys:
        return None
    if keys & own:
        return WavedilError(f"{path}: the {what} is the input file; choose another {what} path")
    if keys & inputs.keys():
        other = next(inputs[k] for k in keys if k in inputs)
        return WavedilError(
            f"{path}: the {what} of {name_of(job.input)} would replace {name_of(other)}, another input of this batch",
            hint="another {0} or folder keeps it",
            settings=(Setting("suffix", "SUFFIX"),),
        )
    if folder is not None and not _inside(path, folder):
        return WavedilError(f"{path}: resolves to {os.path.realpath(path)}, outside {folder} (through a symbolic link); nothing is written outside it")
    return None


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
    reports: ReportCache | None = None,
) -> JobResult:
    """Process one job; every failure becomes an ``error`` result, never an exception.

    The input is checked before any output or report folder is made. With
    ``options.skip_existing`` an existing output is kept and the job is
    ``skipped``; its report, if missing, is written then (see
    :func:`write_skipped_report`). With an ``executor`` and ``workers`` > 1
    a long input runs in segments there. ``concurrent`` jobs running at once
    share the memory limit. ``reports`` holds the stack's analysis for the
    job's report (a batch analyzes its stack once); default: made here.

    KeyboardInterrupt passes through, after the output's temporary file is removed.
    """
    start = time.perf_counter()
    try:
        if job.report and reports is None:
            reports = report_cache(stack, options)
        if options.skip_existing and not is_stream(job.output) and Path(job.output).exists():
            return _skip(job, reports, options, start)
        _prepare(job, options)
        result = process_file(
            job.input,
            job.output,
            stack,
            replace(options, memory_limit=_share(options.memory_limit, concurrent)),
            progress=progress,
            executor=executor,
            workers=workers,
        )
        filtered = time.perf_counter() - start
        if job.report:
            write_report(job.report, reports, job, result, overwrite=options.overwrite)
    except WavedilError as exc:
        return _failure(job.input, job.output, _shared_limit(exc, concurrent), time.perf_counter() - start)
    except OSError as exc:
        where = exc.filename or name_of(job.output)
        return _failure(job.input, job.output, f"{where}: {os_reason(exc)}", time.perf_counter() - start)
    except MemoryError:
        # Beyond the plan (the system itself is short of memory): not the block size's fault.
        problem = f"{name_of(job.input)}: out of memory (the system could not provide what the run planned)"
        return _failure(job.input, job.output, problem, time.perf_counter() - start)
    return JobResult(
        name_of(job.input),
        name_of(job.output),
        "ok",
        seconds_wall=time.perf_counter() - start,
        report=job.report,
        audio=result,
        seconds_filter=filtered,
    )


def _skip(job: Job, reports: ReportCache | None, options: Options, start: float) -> JobResult:
    """The result of a job whose output exists; a run killed between the audio and the report left it no report: made now."""
    if job.report and not os.path.lexists(job.report):
        Path(job.report).parent.mkdir(parents=True, exist_ok=True)
        check_report(job.report, job, overwrite=options.overwrite)
        write_skipped_report(job.report, reports, job, overwrite=options.overwrite)
    return JobResult(name_of(job.input), name_of(job.output), "skipped", seconds_wall=time.perf_counter() - start, report=job.report)


def _prepare(job: Job, options: Options) -> None:
    """Check the input, then make the output's and report's folders; a bad input leaves nothing behind."""
    if not is_stream(job.input):
        open_input(job.input).close()
    if not is_stream(job.output):
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    if job.report:
        Path(job.report).parent.mkdir(parents=True, exist_ok=True)
        check_report(job.report, job, overwrite=options.overwrite)


def _shared_limit(exc: WavedilError, concurrent: int) -> WavedilError:
    """A memory limit error says so when ``concurrent`` files share the limit, and suggests fewer at a time."""
    if not isinstance(exc, MemoryLimitError) or concurrent <= 1:
        return exc
    return MemoryLimitError(
        f"{exc.reason} ({concurrent} files at a time share it)",
        hint=f"{exc.hint}; {{{len(exc.settings)}}} leaves each file more",
        settings=(*exc.settings, Setting("jobs", max(1, concurrent // 2))),
    )


def _share(limit: int | None, concurrent: int) -> int | None:
    """Each of ``concurrent`` jobs' part of a memory limit."""
    if concurrent <= 1:
        return limit
    return (default_memory_limit() if limit is None else limit) // concurrent


def check_report(report: str, job: Job, *, overwrite: bool) -> None:
    """Refuse, before any audio is written, a report that would replace the input or the output, or exists without ``overwrite``."""
    for path, what in ((job.input, "input"), (job.output, "output")):
        if not is_stream(path) and same_file(report, path):
            raise WavedilError(f"{report}: the report is the {what} file; choose another report path")
    check_writable(Path(report), force=overwrite)


def report_cache(stack: Stack, options: Options) -> ReportCache:
    """Where a batch's reports take the stack's analysis from: made once per sample rate."""
    # Imported here: the analysis loads scipy.optimize, which a batch without reports never needs.
    from .receptive import ReportCache

    return ReportCache(stack, memory_limit=options.memory_limit, engine=options.chosen_engine)


def write_report(path: str, reports: ReportCache, job: Job, result: FileResult, *, overwrite: bool) -> None:
    """The receptive-field report of the stack with ``job``'s ``audio`` facts, rendered by extension."""
    _write_analysis(path, reports, job, result.sample_rate, result.to_dict(), overwrite=overwrite)


def write_skipped_report(path: str, reports: ReportCache, job: Job, *, overwrite: bool) -> None:
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
        header = FileResult(name_of(job.input), name_of(job.output), out.frames, out.samplerate, 0, out.channels, out.format, out.subtype, 0, 0.0, 1.0)
    channels = None
    if not is_stream(job.input):
        with open_input(job.input) as src:
            channels = src.channels
    measured = dict.fromkeys(("clipped_samples", "sanitized_samples", "peak", "gain"))
    audio = {**header.to_dict(), "channels": channels, **measured, "skipped": True}
    _write_analysis(path, reports, job, header.sample_rate, audio, overwrite=overwrite)


def _write_analysis(path: str, reports: ReportCache, job: Job, rate: int, audio: dict[str, Any], *, overwrite: bool) -> None:
    """The stack's analysis at the model's rate (else the audio's ``rate``) with the ``audio`` object, rendered by extension."""
    from .report import format_for_path, render

    report = reports.report(rate, None if is_stream(job.input) else job.input, audio)
    write_text(path, render(report, format_for_path(path)), force=overwrite)


# ---------------------------------------------------------------------------
# Running many: the policy, and where the work runs


def input_seconds(path: Target) -> float | None:
    """Length of an audio file in seconds from its header, or None if it cannot be read (or is a stream)."""
    if is_stream(path):
        return None
    try:
        # The input's own checks first: opening a FIFO would block here.
        check_input(path)
        info = sf.info(path)
    except Exception:  # any unreadable file: its job will report why
        return None
    return info.frames / info.samplerate if info.samplerate else None


@dataclass(frozen=True)
class Batch:
    """A batch as an executor runs it: its jobs, how, and where results and progress go.

    ``done(i, result)`` takes the result of ``jobs[i]``; ``progress`` the
    seconds of audio just processed; ``started()`` is called once, when the
    work starts (any worker processes started), the moment a speed is
    measured from.
    """

    jobs: Sequence[Job]
    stack: Stack
    options: Options
    done: Callable[[int, JobResult], None]
    progress: Callable[[float], None] | None = None
    started: Callable[[], None] = lambda: None
    reports: ReportCache | None = None


class JobExecutor(Protocol):
    """Where a batch's work runs side by side: :class:`LocalWorkers`, :class:`wavedil.cluster.DaskCluster`."""

    @property
    def slots(self) -> int:
        """Work units that run at once."""

    #: Whether work may run in this process when running it side by side cannot help.
    runs_here: bool

    def check(self, jobs: Sequence[Job]) -> None:
        """Refuse, with a :class:`UsageError`, jobs that cannot run there."""

    def remove_stale_temps(self, folders: Sequence[str]) -> None:
        """Remove the temporary files killed runs left in ``folders``, wherever the work writes."""

    def run_segments(self, batch: Batch) -> None:
        """Each job in turn, its segments side by side; every job ends in ``batch.done``."""

    def run_files(self, batch: Batch) -> None:
        """Whole files side by side; every job ends in ``batch.done``."""


def run_jobs(
    jobs: Sequence[Job],
    stack: Stack,
    options: Options,
    executor: JobExecutor | None = None,
    *,
    on_result: Callable[[JobResult], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> list[JobResult]:
    """Run ``jobs`` on ``executor`` and return their results in job order.

    The policy: whole files side by side when there are at least as many
    files as the executor's slots; otherwise the segments of each long file
    side by side (:mod:`wavedil.segments`), with the same output bit for bit.
    An executor that may run work here (:class:`LocalWorkers`) does so when
    neither helps: one slot, a stream input, or few short files. Before and
    after, stale temporary files of killed runs are removed from the output
    folders.

    Parameters
    ----------
    jobs : sequence of Job
    stack : Stack
    options : Options
    executor : JobExecutor, optional
        Where the work runs; default: this process (``LocalWorkers(1)``).
    on_result : callable, optional
        Called with each job's :class:`JobResult` as it ends.
    on_progress : callable, optional
        Called with the seconds of audio processed, as blocks (or files) complete.
    on_start : callable, optional
        Called once when the work starts, after any worker processes started.

    Raises
    ------
    UsageError
        For options that cannot work with the jobs (``normalize`` with a
        stream input) or the executor (streams on a cluster).

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os, wavedil
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sf.write(os.path.join(folder, "a.wav"), np.zeros(4800), 48000)
    ...     jobs, errors = collect_jobs([os.path.join(folder, "a.wav")], outdir=os.path.join(folder, "out"))
    ...     results = run_jobs(jobs, wavedil.preset("smooth"), Options())
    >>> [(r.status, r.seconds_audio) for r in results]
    [('ok', 0.1)]
    """
    executor = executor if executor is not None else LocalWorkers(1)
    check_jobs(jobs, options)
    executor.check(jobs)
    results: dict[int, JobResult] = {}

    def done(i: int, r: JobResult) -> None:
        results[i] = r
        if on_result:
            on_result(r)

    batch = Batch(jobs, stack, options, done, on_progress, on_start or (lambda: None), _analyzed(jobs, stack, options))
    folders = sorted({str(Path(j.output).parent) for j in jobs if not is_stream(j.output)})
    executor.remove_stale_temps(folders)
    try:
        _dispatch(batch, executor)
    finally:
        executor.remove_stale_temps(folders)
    return [results[i] for i in range(len(jobs))]


def _analyzed(jobs: Sequence[Job], stack: Stack, options: Options) -> ReportCache | None:
    """The stack's analysis for the jobs' reports, made here once per sample rate before any job runs.

    Made before the work is handed out, it travels to worker processes with
    each job, so no file's report analyzes the stack again.
    """
    with_report = [j for j in jobs if j.report]
    if not with_report:
        return None
    reports = report_cache(stack, options)
    rates = {stack.sample_rate} if stack.sample_rate else {rate for j in with_report if (rate := _header_rate(j.input))}
    for rate in sorted(rates):
        reports.analysis(rate)
    return reports


def _header_rate(path: Target) -> int | None:
    """A file's sample rate from its header, or None (a stream, or unreadable: its job will say why)."""
    if is_stream(path):
        return None
    try:
        check_input(path)
        return sf.info(path).samplerate
    except Exception:  # noqa: BLE001 - any unreadable file: its job reports why
        return None


def check_jobs(jobs: Sequence[Job], options: Options) -> None:
    """Refuse ``options`` that cannot work with ``jobs``: ``normalize`` with a stream input.

    Raises
    ------
    UsageError
    """
    if options.normalize and any(is_stream(j.input) for j in jobs):
        raise UsageError("normalizing reads each input twice: a stream input cannot be normalized")


def _dispatch(batch: Batch, executor: JobExecutor) -> None:
    """The policy: here, segments of long files, or whole files side by side."""
    slots, jobs = executor.slots, batch.jobs
    if executor.runs_here and (slots <= 1 or any(is_stream(j.input) for j in jobs)):
        # A stream belongs to this process: a batch that reads one runs here.
        return run_here(batch)
    if len(jobs) < slots and any(worth_splitting(j, batch.stack, batch.options, slots) for j in jobs):
        return executor.run_segments(batch)
    if executor.runs_here and len(jobs) < slots:
        return run_here(batch)  # few short files: starting workers would cost more than it saves
    return executor.run_files(batch)


def run_here(batch: Batch) -> None:
    """Each job in turn, in this process."""
    batch.started()
    for i, job in enumerate(batch.jobs):
        batch.done(i, run_job(job, batch.stack, batch.options, batch.progress, reports=batch.reports))


def worth_splitting(job: Job, stack: Stack, options: Options, workers: int) -> bool:
    """Whether the job's input is long enough to cut into two segments or more (never for a recurrent model)."""
    if options.resample or stack.is_recurrent or is_stream(job.input):
        return False
    try:
        # The input's own checks first: opening a FIFO would block here.
        check_input(job.input)
        frames = sf.info(job.input).frames
    except Exception:  # unreadable: its job will report why
        return False
    return frames > choose_segment_frames(frames, stack, workers, options.block_size)


# ---------------------------------------------------------------------------
# Worker processes on this machine


class LocalWorkers:
    """Worker processes on this machine (:func:`wavedil.workers.worker_pool`), ``workers`` at once.

    Each worker runs one BLAS thread, so that they do not oversubscribe the
    cores. A worker that dies (killed, out of memory) breaks its pool: the
    files it took down run once more on a new pool, then count as failed.
    """

    runs_here = True

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    @property
    def slots(self) -> int:
        return self.workers

    def check(self, jobs: Sequence[Job]) -> None:
        """Anything runs here."""

    def remove_stale_temps(self, folders: Sequence[str]) -> None:
        for folder in folders:
            remove_stale_temps(folder)

    def run_segments(self, batch: Batch) -> None:
        """Each job in turn, its segments spread over a pool of ``workers``.

        A worker that dies breaks the pool: the next file gets a new one, and
        the file runs once more on it (its output so far was a temporary file,
        removed on the way out), then counts as failed. Output to a stream has
        partly gone out already: that file fails at once.
        """
        pool = worker_pool(self.workers)
        batch.started()
        try:
            for i, job in enumerate(batch.jobs):
                for attempt in (1, 2):
                    try:
                        result = run_job(job, batch.stack, batch.options, batch.progress, executor=pool, workers=self.workers, reports=batch.reports)
                        break
                    except BrokenExecutor:
                        pool.shutdown(wait=True)
                        pool = worker_pool(self.workers)
                        result = _worker_died(job)
                        if is_stream(job.output):
                            break
                batch.done(i, result)
        except KeyboardInterrupt:
            stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def run_files(self, batch: Batch) -> None:
        """Whole files on a pool of ``workers``, results as they complete.

        A worker that dies breaks the pool and fails every file not yet done:
        those run once more on a new pool, then count as failed.
        """
        broken = _run_pool(batch, self.workers)
        if not broken:
            return
        self.remove_stale_temps(sorted({str(Path(batch.jobs[i].output).parent) for i in broken}))  # the dead worker's partial output
        again = replace(batch, jobs=[batch.jobs[i] for i in broken], done=lambda j, r: batch.done(broken[j], r), started=lambda: None)
        for j in _run_pool(again, min(self.workers, len(broken))):
            again.done(j, _worker_died(again.jobs[j]))


_progress_queue: Any = None


def _set_progress_queue(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _worker_job(job: Job, stack: Stack, options: Options, concurrent: int, reports: ReportCache | None) -> JobResult:
    q = _progress_queue
    return run_job(job, stack, options, (lambda s: q.put(s)) if q is not None else None, concurrent=concurrent, reports=reports)


def _worker_died(job: Job) -> JobResult:
    return _failure(job.input, job.output, f"{name_of(job.input)}: a worker process died on this file (killed, or out of memory?)")


def _run_pool(batch: Batch, workers: int) -> list[int]:
    """Whole files on a new pool of ``workers``; returns, sorted, the jobs a broken pool took down."""
    progress_queue = worker_queue() if batch.progress else None
    stop = threading.Event()
    drain = None
    if progress_queue is not None:
        drain = threading.Thread(target=_drain, args=(progress_queue, batch.progress, stop), daemon=True)
        drain.start()
    pool = worker_pool(workers, initializer=_set_progress_queue, initargs=(progress_queue,))
    batch.started()
    try:
        concurrent = min(workers, len(batch.jobs))
        futures = {pool.submit(_worker_job, job, batch.stack, batch.options, concurrent, batch.reports if job.report else None): i for i, job in enumerate(batch.jobs)}
        return sorted(_collect(futures, batch))
    except KeyboardInterrupt:
        stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        stop.set()
        if drain is not None:
            drain.join(timeout=1.0)


def _collect(futures: dict[Future[JobResult], int], batch: Batch) -> list[int]:
    """Hand each finished job's result to ``batch.done``; returns the jobs a broken pool took down."""
    broken: list[int] = []
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for fut in finished:
            i = futures[fut]
            job = batch.jobs[i]
            try:
                batch.done(i, fut.result())
            except KeyboardInterrupt:
                raise
            except BrokenExecutor:
                broken.append(i)
            except BaseException as exc:  # cannot come from run_job, which returns every failure
                batch.done(i, _failure(job.input, job.output, f"{name_of(job.input)}: worker failed: {exc or type(exc).__name__}"))
    return broken


def _drain(q: Any, on_progress: Callable[[float], None], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            on_progress(q.get(timeout=0.1))
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return


# ---------------------------------------------------------------------------
# The closing summary


@dataclass(frozen=True)
class Summary:
    """The closing facts of a batch: counts, audio and wall seconds, speed.

    Examples
    --------
    >>> s = summarize([JobResult("a.wav", "o/a.wav", "skipped")], seconds_wall=2.0)
    >>> s.files, s.skipped, s.realtime_factor
    (1, 1, 0.0)
    """

    files: int
    ok: int
    error: int
    skipped: int
    seconds_audio: float
    seconds_wall: float
    clipped_samples: int

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio per second of wall time: seconds_audio / seconds_wall (None for no time)."""
        return self.seconds_audio / self.seconds_wall if self.seconds_wall > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The closing JSON object of a batch's results (the keys the README documents)."""
        return {
            "summary": True,
            "files": self.files,
            "ok": self.ok,
            "error": self.error,
            "skipped": self.skipped,
            "seconds_audio": self.seconds_audio,
            "seconds_wall": self.seconds_wall,
            "realtime_factor": self.realtime_factor,
            "clipped_samples": self.clipped_samples,
        }


def summarize(results: Iterable[JobResult], seconds_wall: float) -> Summary:
    """The :class:`Summary` of ``results``, a batch that took ``seconds_wall``."""
    results = list(results)
    return Summary(
        files=len(results),
        ok=sum(r.status == "ok" for r in results),
        error=sum(r.status == "error" for r in results),
        skipped=sum(r.status == "skipped" for r in results),
        seconds_audio=sum(r.seconds_audio for r in results),
        seconds_wall=seconds_wall,
        clipped_samples=sum(r.clipped_samples for r in results),
    )
