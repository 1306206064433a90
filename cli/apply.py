"""``wavedil apply``: filter audio files through a stack, one or many."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time

import click

from wavedil.audio import os_reason, same_file
from wavedil.batch import MAX_BLOCK_SIZE, Options, collect_jobs, input_seconds, is_name_part, run_jobs, summarize
from wavedil.cluster import connect, run_jobs_on_cluster, worker_threads
from wavedil.errors import WavedilError
from wavedil.workers import WORKERS_PER_CORE, default_workers, max_workers

from .errors import describe
from .output import silence_stdout
from .progress import ProgressLine
from .stack_options import PATH, build_stack, check_stack_memory, memory_limit_option, stack_options


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


@click.command("apply")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", type=PATH, help="Output file for a single INPUT ('-' writes a WAV stream to stdout).")
@click.option("-d", "--outdir", type=PATH, help="Output folder for one or more inputs.")
@stack_options
@click.option("-r", "--recursive", is_flag=True, help="With -d: process the audio files in INPUT folders, keeping their layout.")
@click.option("--suffix", default="", callback=_name_part, help="With -d: added to each output's name, before the extension.")
@click.option("--ext", callback=_name_part, help="With -d: output extension (format), e.g. flac; default: the input's.")
@click.option("--report", "report_path", type=PATH, help="With -o: the receptive-field report (.json, .md, or text).")
@click.option("--report-dir", type=PATH, help="With -d: one report per output, in this folder.")
@click.option("--report-format", type=click.Choice(["json", "md", "txt"]), default="json", show_default=True, help="With --report-dir: the reports' format.")
@click.option("--force", is_flag=True, help="Replace existing outputs and reports.")
@click.option("--skip-existing", is_flag=True, help="Skip inputs whose output exists (resume a batch).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), callback=_workers, help=f"Worker processes, at most {WORKERS_PER_CORE} per core [default: the number of cores].")
@click.option("--subtype", metavar="NAME", help="Output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's).")
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
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="WAVEDIL_SCHEDULER",
    help="Run on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:PORT; env WAVEDIL_SCHEDULER); needs 'pip install wavedil[dask]'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per input on stdout, then a summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no success lines; errors only.")
def apply_command(
    inputs: tuple[str, ...],
    output: str | None,
    outdir: str | None,
    recursive: bool,
    suffix: str,
    ext: str | None,
    report_path: str | None,
    report_dir: str | None,
    report_format: str,
    force: bool,
    skip_existing: bool,
    jobs: int | None,
    subtype: str | None,
    normalize: bool,
    peak_db: float,
    sanitize: bool,
    resample: bool,
    dtype: str,
    block_size: int | None,
    memory_limit: int | None,
    scheduler: str | None,
    as_json: bool,
    quiet: bool,
    **stack_kw,
) -> None:
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
    stack = build_stack(**stack_kw)
    check_stack_memory(stack, stack_kw.get("spec_path"), dtype=dtype, block_size=block_size, limit=memory_limit)
    if output == "-" and as_json:
        raise click.UsageError("--json prints on stdout, which -o - uses for audio")
    if inputs.count("-") > 1:
        raise click.UsageError("standard input ('-') can be read once")
    job_list, early = collect_jobs(
        list(inputs),
        output=output,
        outdir=outdir,
        recursive=recursive,
        suffix=suffix,
        ext=ext,
        report=report_path,
        report_dir=report_dir,
        report_ext="." + report_format,
    )
    spec_path = stack_kw.get("spec_path")
    if spec_path:
        # The model or spec is an input too: no output or report may replace it.
        for job in job_list:
            for path, what in ((job.output, "output"), (job.report, "report")):
                if path and path != "-" and same_file(path, spec_path):
                    raise WavedilError(f"{path}: the {what} would replace the --spec file; choose another path")
    options = Options(
        force=force,
        subtype=subtype,
        normalize=normalize,
        peak_db=peak_db,
        dtype=dtype,
        block_size=block_size,
        resample=resample,
        sanitize=sanitize,
        skip_existing=skip_existing,
        memory_limit=memory_limit,
    )
    show = not quiet and sys.stderr.isatty()
    total = sum(filter(None, (input_seconds(j.input) for j in job_list))) if show else None
    bar = ProgressLine(len(job_list) + len(early), total, enabled=show)
    start = time.perf_counter()
    stdout = _Stdout()

    def report(r) -> None:
        if r.cause is not None:
            r = dataclasses.replace(r, error=describe(r.cause))
        bar.clear()
        if as_json:
            stdout.echo(json.dumps(r.to_dict()))
        if r.status == "error":
            click.echo(f"Error: {r.error}", err=True)
        elif not quiet and not as_json:
            click.echo(_describe(r), err=True)
        if r.clipped_samples and not quiet:
            click.echo(
                f"Warning: {r.output}: {r.clipped_samples} sample(s) beyond full scale were clipped; "
                "use --normalize or --subtype FLOAT to keep them",
                err=True,
            )
        if r.sanitized_samples and not quiet:
            click.echo(f"Warning: {r.input}: {r.sanitized_samples} NaN or infinite sample(s) were replaced by zero", err=True)
        bar.file_done()

    for r in early:
        report(r)
    progress = bar.advance if show else None
    if scheduler:
        client = connect(scheduler)
        try:
            if not quiet and not worker_threads(client):
                bar.clear()
                click.echo(f"Warning: {scheduler}: the cluster has no workers yet; the work starts when they join", err=True)
            results = early + run_jobs_on_cluster(job_list, stack, options, client, on_result=report, on_progress=progress)
        finally:
            client.close()
    else:
        results = early + run_jobs(job_list, stack, options, workers=jobs or default_workers(), on_result=report, on_progress=progress)
    bar.clear()
    summary = summarize(results, time.perf_counter() - start)
    if as_json:
        stdout.echo(json.dumps(summary))
    if stdout.closed:
        click.echo(
            f"Error: standard output {stdout.reason}, so not every result was printed; the batch ran to its end: "
            f"{summary['ok']} ok, {summary['error']} error(s), {summary['skipped']} skipped",
            err=True,
        )
    if stdout.closed or any(r.status == "error" for r in results):
        sys.exit(1)


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


def _describe(r) -> str:
    if r.status == "skipped":
        return f"{r.output}: exists, skipped" + (f"; report {r.report}" if r.report else "")
    d = r.detail
    speed = d["seconds"] / d["seconds_filter"] if d["seconds_filter"] else 0.0
    # Two significant digits below 10x, so a slow model does not read "0x".
    shown = f"{speed:,.0f}" if speed >= 10 else f"{speed:.2g}"
    text = (
        f"{r.output}: {d['seconds']:.2f} s, {d['sample_rate']} Hz, {d['out_channels']} ch, "
        f"{d['format']}/{d['subtype']}, {shown}x real time"
    )
    return text + (f"; report {r.report}" if r.report else "")
