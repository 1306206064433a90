"""``wavedil apply``: filter an audio file through a stack."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from wavedil.audio import check_writable, write_text
from wavedil.engine import DEFAULT_BLOCK_SIZE
from wavedil.process import process_file
from wavedil.receptive import analyze
from wavedil.report import format_for_path, render

from .stack_options import build_stack, stack_options


@click.command("apply")
@click.argument("input", type=click.Path(dir_okay=True))
@click.option("-o", "--output", required=True, type=click.Path(), help="Output audio file; its extension sets the format.")
@stack_options
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Also write the receptive-field report (.json, .md, or text).")
@click.option("--force", is_flag=True, help="Replace existing output and report files.")
@click.option("--subtype", metavar="NAME", help="Output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's).")
@click.option("--normalize", is_flag=True, help="Scale the output to a peak of --peak-db instead of clipping.")
@click.option("--peak-db", type=float, default=-1.0, show_default=True, help="Peak for --normalize, in dBFS.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True, help="Arithmetic precision.")
@click.option("--block-size", type=click.IntRange(min=1), default=DEFAULT_BLOCK_SIZE, show_default=True, help="Frames per block (bounds memory).")
@click.option("--resample", is_flag=True, help="Resample audio to a model's rate (.nam) and back, instead of refusing it.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def apply_command(
    input: str,
    output: str,
    report_path: str | None,
    force: bool,
    subtype: str | None,
    normalize: bool,
    peak_db: float,
    dtype: str,
    block_size: int,
    resample: bool,
    quiet: bool,
    **stack_kw,
) -> None:
    """Filter INPUT through a stack and write OUTPUT.

    With no stack option the default preset ('smooth', a 16-sample moving
    average) is used; 'wavedil presets' lists the others.

    \b
    Examples:
      wavedil apply in.wav -o out.wav
      wavedil apply in.wav -o out.flac --kernel-size 2 --dilations 1,2,4,8 --report rf.json
      wavedil apply in.wav -o out.wav --spec stack.toml --force
    """
    stack = build_stack(**stack_kw)
    if report_path:
        # Refuse before hours of filtering, not after.
        check_writable(Path(report_path), force=force)
    result = process_file(
        input,
        output,
        stack,
        force=force,
        subtype=subtype,
        normalize=normalize,
        peak_db=peak_db,
        dtype=np.dtype(dtype),
        block_size=block_size,
        resample=resample,
    )
    if report_path:
        report = analyze(stack, stack.sample_rate or result.sample_rate, audio=input)
        report["audio"] = {
            "input": result.input,
            "output": result.output,
            "frames": result.frames,
            "seconds": result.seconds_audio,
            "sample_rate": result.sample_rate,
            "channels": result.channels,
            "out_channels": result.out_channels,
            "format": result.format,
            "subtype": result.subtype,
            "clipped_samples": result.clipped_samples,
            "peak": result.peak,
            "gain": result.gain,
        }
        write_text(report_path, render(report, format_for_path(report_path)), force=force)
    if result.clipped_samples:
        click.echo(
            f"Warning: {result.output}: {result.clipped_samples} sample(s) beyond full scale were clipped; "
            "use --normalize or --subtype FLOAT to keep them",
            err=True,
        )
    if not quiet:
        click.echo(
            f"{result.output}: {result.seconds_audio:.2f} s, {result.sample_rate} Hz, "
            f"{result.out_channels} ch, {result.format}/{result.subtype}, "
            f"receptive field {stack.receptive_field} samples "
            f"({1000 * stack.receptive_field / (stack.sample_rate or result.sample_rate):.2f} ms)"
            + (f"; report {report_path}" if report_path else ""),
            err=True,
        )
