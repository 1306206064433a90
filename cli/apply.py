"""``wavedil apply``: filter audio files through a stack, one or many.

Here the command line's words become the library's: ``-`` becomes standard
input or output (an open stream), the options become one
:class:`~wavedil.batch.Options`, and ``--scheduler`` or ``-j`` picks the
executor :func:`~wavedil.batch.run_jobs` runs on. The results come back as
lines: per file, a JSON object or a sentence, and a closing summary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from wavedil.audio import os_reason, same_file
from wavedil.batch import (
    MAX_BLOCK_SIZE,
    JobExecutor,
    JobResult,
    LocalWorkers,
    Options,
    Summary,
    check_jobs,
    collect_jobs,
    input_seconds,
    is_name_part,
    run_jobs,
    summarize,
)
from wavedil.engines import usable
from wavedil.errors import AudioError, WavedilError
from wavedil.process import is_stream
from wavedil.report import FORMAT_NAMES, engine_words, extension_for
from wavedil.workers import WORKERS_PER_CORE, default_workers, max_workers

from .errors import describe
from .output import silence_stdout
from .progress import ProgressLine, format_speed
from .stack_options import PATH, ChainCommand, build_stack, check_stack_memory, engine_options, memory_limit_option, files_with_flags, stack_files, stack_options

#: The options that say where outputs and reports go (see :func:`wavedil.batch.collect_jobs`).
_LAYOUT = ("output", "outdir", "recursive", "suffix", "ext", "report", "report_dir", "report_format")
#: Standard input or output on the command line.
STDIO = "-"


def _name_part(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_name_part(value):
        raise click.BadParameter(f"{value!r} is not part of a file name: no path separator, NUL or '..' (outputs stay in -d OUTDIR)")
    return value


def _workers(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value > max_workers():
        raise click.BadParameter(f"at most {max_workers()} ({WORKERS_PER_CORE} per core; this process may use {default_workers()}), got {value}")
    return value


def _finite_db(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number of dB, not {value}")
    return value


def _subtype(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # A name libsndfile does not know is a usage mistake; whether the output's format holds a known one is the output's matter.
    import soundfile as sf

    if value is not None and value.upper() not in sf.available_subtypes():
        raise click.BadParameter(f"unknown subtype {value!r}; known: {', '.join(sorted(sf.available_subtypes()))}")
    return value


def _bits(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else int(value)


@click.command("apply", cls=ChainCommand)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", type=PATH, help="Output file for a single INPUT ('-' writes a WAV stream to stdout).")
@click.option("-d", "--outdir", type=PATH, help="Output folder for one or more inputs.")
@stack_options
@click.option("-r", "--recursive", is_flag=True, help="With -d: process the audio files in INPUT folders, keeping their layout.")
@click.option("--suffix", default="", callback=_name_part, help="With -d: added to each output's name, before the extension.")
@click.option("--ext", callback=_name_part, help="With -d: output extension (format), e.g. flac; default: the input's.")
@click.option("--report", type=PATH, help="With -o: the receptive-field report (.json, .md, or text).")
@click.option("--report-dir", type=PATH, help="With -d: one report per output, in this folder.")
@click.option(
    "--report-format", type=click.Choice(list(FORMAT_NAMES)), default="json", show_default=True, help="With --report-dir: the reports' format."
)
@click.option("--force", "overwrite", is_flag=True, help="Replace existing outputs and reports.")
@click.option("--skip-existing", is_flag=True, help="Skip inputs whose output exists (resume a batch).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), callback=_workers, help=f"Worker processes, at most {WORKERS_PER_CORE} per core [default: the number of cores].")
@click.option(
    "--subtype",
    metavar="NAME",
    callback=_subtype,
    help="Output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's, else the closest the format holds, said when it holds less).",
)
@click.option("-b", "--bits", type=click.Choice(["8", "16", "24", "32", "64"]), callback=_bits, help="sox's -b: bits per output sample (instead of --subtype).")
@click.option("-e", "--encoding", type=click.Choice(["float", "signed", "unsigned"]), help="sox's -e: float, signed or unsigned integer samples (instead of --subtype).")
@click.option(
    "--compression",
    type=click.FloatRange(0.0, 1.0),
    metavar="LEVEL",
    help="FLAC, OGG (Vorbis, Opus) and MP3: 0 (fastest, largest, best) to 1 (smallest); FLAC levels 0-8, Vorbis quality 1-LEVEL [default: libsndfile's].",
)
@click.option("--normalize", is_flag=True, help="Scale each output to a peak of --peak-db instead of clipping.")
@click.option("--peak-db", type=float, default=-1.0, show_default=True, callback=_finite_db, help="Peak for --normalize, in dBFS.")
@click.option("--sanitize", is_flag=True, help="Replace NaN and infinite input samples by zero instead of refusing the file.")
@click.option("--resample", is_flag=True, help="Resample audio to a model's rate (.nam) and back, instead of refusing it.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True, help="Arithmetic precision.")
@click.option(
    "--block-size",
    type=click.IntRange(1, MAX_BLOCK_SIZE),
    default=None,
    help=f"Frames per block, at most {MAX_BLOCK_SIZE} (bounds memory; default: chosen for the stack, 1024 to 524288).",
)
@memory_limit_option
@engine_options
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="WAVEDIL_SCHEDULER",
    help="Run on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:PORT; env WAVEDIL_SCHEDULER); needs 'pip install wavedil[dask]'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per input on stdout, then a summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no success lines; errors only.")
def apply_command(inputs: tuple[str, ...], jobs: int | None, scheduler: str | None, as_json: bool, quiet: bool, **kw: Any) -> None:
    """Filter INPUT files through a stack into -o OUTPUT or -d OUTDIR.

    With no stack option the default preset ('smooth', a 16-sample moving
    average) is used; 'wavedil presets' lists the others. '-' as INPUT reads
    a WAV stream from stdin. A bad input is reported and the others still run;
    the exit code is 0 only when every input succeeded.

    \b
    Examples:
      wavedil apply in.wav -o out.wav --report out.json
      wavedil apply takes/*.wav -d out --suffix _smooth --jobs 2 --json
      wavedil apply recordings -d out --recursive --ext flac --skip-existing
      sox in.flac -t wav - | wavedil apply - -o - --spec capture.nam | sox -t wav - out.flac
      wavedil apply /shared/in/*.wav -d /shared/out --scheduler tcp://head:8786 --json
    """
    options = Options(**{f.name: kw.pop(f.name) for f in dataclasses.fields(Options)})
    layout = {name: kw.pop(name) for name in _LAYOUT}
    named = stack_files(kw)
    stack = build_stack(**kw)
    files = stack_files(kw, stack)
    # Planned for the engine that will run: auto may keep the stack on NumPy, or fall back when the kernels cannot load.
    check_stack_memory(
        stack, named[0] if len(named) == 1 else None, dtype=options.dtype, block_size=options.block_size,
        limit=options.memory_limit, engine=usable(options.chosen_engine, stack),
    )
    _check_usage(inputs, layout["output"], scheduler=scheduler, as_json=as_json)
    _check_ignored(click.get_current_context(), layout, options)
    job_list, early = _collect(inputs, layout, files)
    check_jobs(job_list, options)
    view = _View(len(job_list) + len(early), as_json=as_json, quiet=quiet, normalized=options.normalize)
    view.total(job_list)
    for r in early:
        view.result(r)
    with _executor(scheduler, jobs, quiet=quiet, view=view) as executor:
        results = early + run_jobs(job_list, stack, options, executor, on_result=view.result, on_progress=view.progress, on_start=view.start)
    view.finish(results)


def _check_usage(inputs: tuple[str, ...], output: str | None, *, scheduler: str | None, as_json: bool) -> None:
    """Refuse, as usage errors, the uses of standard input and output that cannot work."""
    if output == STDIO and as_json:
        raise click.UsageError("--json prints on stdout, which -o - uses for audio")
    if inputs.count(STDIO) > 1:
        raise click.UsageError("standard input ('-') can be read once")
    if scheduler and (STDIO in inputs or output == STDIO):
        raise click.UsageError("standard input and output stay on this machine; run without --scheduler")


def _check_ignored(ctx: click.Context, layout: dict[str, Any], options: Options) -> None:
    """Refuse, as usage errors, options given where they would do nothing: a script relying on one would be misled."""

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE

    if layout["output"] is not None:
        for name, flag in (("suffix", "--suffix"), ("ext", "--ext"), ("recursive", "--recursive")):
            if given(name):
                raise click.UsageError(f"{flag} goes with -d OUTDIR; -o names the output itself")
    if given("report_format") and layout["report_dir"] is None:
        raise click.UsageError("--report-format goes with --report-dir; --report takes its format from its extension")
    if given("peak_db") and not options.normalize:
        raise click.UsageError("--peak-db goes with --normalize")
    if options.compression is not None:
        _check_compression(layout)
    if options.overwrite and options.skip_existing:
        raise click.UsageError("--force replaces existing outputs, --skip-existing keeps them: give one")


def _check_compression(layout: dict[str, Any]) -> None:
    """Refuse --compression where the command line already shows the output's format has none."""
    from wavedil.audio import COMPRESSED_FORMATS, output_format

    if layout["output"] == STDIO:
        raise click.UsageError("--compression: a WAV stream on standard output has no compression level (FLAC, OGG and MP3 have)")
    named = layout["output"] or (f"x.{layout['ext']}" if layout["ext"] else None)
    if named is None:
        return  # each output keeps its input's format: checked file by file
    try:
        fmt = output_format(named)
    except WavedilError:
        return  # an unknown extension is the output's own error, reported with its file
    if fmt not in COMPRESSED_FORMATS:
        raise click.UsageError(f"--compression: {fmt} has no compression level (FLAC, OGG and MP3 have)")


def _collect(inputs: tuple[str, ...], layout: dict[str, Any], files: list[str]) -> tuple[list, list[JobResult]]:
    """The jobs, with ``-`` as standard input and output; the stages' files (specs, models, IRs) are inputs too: nothing may replace them."""
    targets = [_stdin() if item == STDIO else item for item in inputs]
    output = sys.stdout.buffer if layout["output"] == STDIO else layout["output"]
    report_ext = extension_for(layout.pop("report_format"))
    job_list, early = collect_jobs(targets, **{**layout, "output": output}, report_ext=report_ext)
    for stage_file, flag in files_with_flags(files):
        for job in job_list:
            for path, what in ((job.output, "output"), (job.report, "report")):
                if path and not is_stream(path) and same_file(path, stage_file):
                    raise WavedilError(f"{path}: the {what} would replace the {flag} file; choose another path")
    return job_list, early


def _stdin() -> Any:
    if sys.stdin is None:
        raise AudioError("-: no standard input (pipe a WAV stream in, or give a file)")
    return sys.stdin.buffer


@contextmanager
def _executor(scheduler: str | None, jobs: int | None, *, quiet: bool, view: _View) -> Iterator[JobExecutor]:
    """Where the work runs: the Dask cluster at ``scheduler``, else ``jobs`` local worker processes."""
    if not scheduler:
        yield LocalWorkers(jobs or default_workers())
        return
    from wavedil.cluster import DaskCluster, connect, worker_threads

    client = connect(scheduler)
    try:
        if not quiet and not worker_threads(client):
            view.warn(f"{scheduler}: the cluster has no workers yet; the work starts when they join")
        yield DaskCluster(client)
    finally:
        client.close()


class _View:
    """What the person (or the script) sees: the progress line, a line per file, the summary."""

    def __init__(self, files: int, *, as_json: bool, quiet: bool, normalized: bool) -> None:
        self.files, self.as_json, self.quiet, self.normalized = files, as_json, quiet, normalized
        self.show_progress = not quiet and sys.stderr.isatty()
        self.bar = ProgressLine(files, None, enabled=self.show_progress)
        self.stdout = _Stdout()
        self.started = time.perf_counter()

    def total(self, jobs: list) -> None:
        """Read the inputs' lengths for the bar (only when it is drawn: a header read per input)."""
        if self.show_progress:
            self.bar.total = sum(filter(None, (input_seconds(j.input) for j in jobs))) or None

    @property
    def progress(self) -> Any:
        return self.bar.advance if self.show_progress else None

    def start(self) -> None:
        self.bar.start()

    def warn(self, text: str) -> None:
        self.bar.clear()
        click.echo(f"Warning: {text}", err=True)

    def result(self, r: JobResult) -> None:
        if r.cause is not None:
            r = dataclasses.replace(r, error=describe(r.cause))
        self.bar.clear()
        if self.as_json:
            self.stdout.echo(json.dumps(r.to_dict()))
        if r.status == "error":
            click.echo(f"Error: {r.error}", err=True)
        elif not self.quiet and not self.as_json:
            click.echo(_file_line(r), err=True)
        if not self.quiet:
            self._warnings(r)
        self.bar.file_done()

    def _warnings(self, r: JobResult) -> None:
        if r.clipped_samples:
            # Normalized to a peak above full scale (--peak-db > 0), only a float subtype keeps the samples.
            remedy = "--subtype FLOAT" if self.normalized else "--normalize or --subtype FLOAT"
            click.echo(
                f"Warning: {r.output}: {r.clipped_samples} sample(s) beyond full scale were clipped; use {remedy} to keep them",
                err=True,
            )
        if r.audio is not None and r.audio.subtype_downgraded_from:
            fmt = r.audio.format
            click.echo(
                f"Note: {r.output}: written as {r.audio.subtype}: {fmt} holds no {r.audio.subtype_downgraded_from} (--subtype, or -b/-e, choose)",
                err=True,
            )
        if r.audio is not None:
            for source, rate_from, rate_to in r.audio.resampled_responses:
                click.echo(f"Note: {r.input}: impulse response {source} resampled from {rate_from} Hz to {rate_to} Hz", err=True)
        if r.sanitized_samples:
            click.echo(f"Warning: {r.input}: {r.sanitized_samples} NaN or infinite sample(s) were replaced by zero", err=True)

    def finish(self, results: list[JobResult]) -> None:
        """The closing summary (JSON, or a line for a plain batch of several files), and the exit code."""
        self.bar.clear()
        summary = summarize(results, time.perf_counter() - self.started)
        if self.as_json:
            self.stdout.echo(json.dumps(summary.to_dict()))
        elif not self.quiet and self.files > 1:
            click.echo(summary_line(summary), err=True)
        if self.stdout.closed:
            click.echo(
                f"Error: standard output {self.stdout.reason}, so not every result was printed; the batch ran to its end: "
                f"{summary.ok} ok, {summary.error} error(s), {summary.skipped} skipped",
                err=True,
            )
        if self.stdout.closed or summary.error:
            sys.exit(1)


def summary_line(summary: Summary) -> str:
    """The closing line of a plain batch: the files' fates, the audio, the wall time, the speed.

    >>> from wavedil.batch import Summary
    >>> summary_line(Summary(files=3, ok=2, error=1, skipped=0, seconds_audio=12.0, seconds_wall=0.5, clipped_samples=0))
    '3 files: 2 ok, 1 error, 0 skipped; 12.00 s of audio in 0.50 s, 24x real time'
    """
    text = f"{summary.files} files: {summary.ok} ok, {summary.error} error{'s' if summary.error != 1 else ''}, {summary.skipped} skipped"
    text += f"; {summary.seconds_audio:,.2f} s of audio in {summary.seconds_wall:,.2f} s"
    factor = summary.realtime_factor
    return text + (f", {format_speed(factor)} real time" if factor else "")


def _file_line(r: JobResult) -> str:
    """The line of one file done (or skipped): where it went, what it is, how fast it was filtered."""
    if r.status == "skipped" or r.audio is None:
        return f"{r.output}: exists, skipped" + (f"; report {r.report}" if r.report else "")
    a = r.audio
    engine = engine_words(a.engine, a.fast_tanh, a.layer_engines)
    text = f"{r.output}: {a.seconds_audio:.2f} s, {a.sample_rate} Hz, {a.out_channels} ch, {a.format}/{a.subtype}, engine {engine}, {format_speed(r.realtime_factor or 0.0)} real time"
    return text + (f"; report {r.report}" if r.report else "")


class _Stdout:
    """Standard output for result lines; a reader that goes away (``| head``) does not stop the batch.

    The files are the batch's work, the lines only news of it: once stdout is
    closed the batch runs on, prints nothing more there, and fails at the end.
    """

    def __init__(self) -> None:
        self.closed = False
        self.reason = ""

    def echo(self, line: str) -> None:
        if self.closed:
            return
        try:
            click.echo(line)
        except OSError as exc:
            # A reader that went away, or a full disk (> /dev/full): either way nothing more gets there.
            self.closed = True
            self.reason = "was closed" if isinstance(exc, BrokenPipeError) else f"failed ({os_reason(exc)})"
            silence_stdout()
