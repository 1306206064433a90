"""``wavedil plan``: dilation schedules that reach a target receptive field."""

from __future__ import annotations

import click

from wavedil.audio import write_text
from wavedil.limits import MAX_DILATION, MAX_SAMPLE_RATE
from wavedil.plan import candidate_stack, parse_target, plan, render_plan
from wavedil.report import FORMAT_NAMES, format_name
from wavedil.toml_writer import to_toml

from .stack_options import PATH


@click.command("plan")
@click.option("--target", required=True, metavar="SAMPLES|DURATION", help="Receptive field to reach: 4800, 100ms or 0.5s.")
@click.option("--sample-rate", type=click.IntRange(1, MAX_SAMPLE_RATE), metavar="HZ", help="Needed for a duration target; gives milliseconds.")
@click.option("--kernel-size", type=click.IntRange(min=2), default=2, show_default=True, help="Taps per layer.")
@click.option("--max-dilation", type=click.IntRange(1, MAX_DILATION), help="Largest dilation allowed (e.g. 512).")
@click.option("--format", "fmt", type=click.Choice(list(FORMAT_NAMES)), default="text", show_default=True, help="Output format (md = markdown, txt = text).")
@click.option("--write", "write_path", type=PATH, help="Write the first candidate as a TOML spec, ready for apply.")
@click.option("--force", is_flag=True, help="Replace an existing --write file.")
def plan_command(target: str, sample_rate: int | None, kernel_size: int, max_dilation: int | None, fmt: str, write_path: str | None, force: bool) -> None:
    """Propose dilation schedules whose receptive field reaches TARGET.

    The cheapest schedule without holes comes first; schedules with holes
    (gridding) come last. --write saves the first as a spec with uniform taps.

    \b
    Examples:
      wavedil plan --target 100ms --sample-rate 48000 --kernel-size 3
      wavedil plan --target 4800 --max-dilation 512 --write stack.toml
    """
    fmt = format_name(fmt)
    samples = parse_target(target, sample_rate)
    candidates = plan(samples, kernel_size, max_dilation=max_dilation, sample_rate=sample_rate)
    if write_path:
        write_text(write_path, to_toml(candidate_stack(candidates[0])), force=force)
    lines = render_plan(candidates, samples, kernel_size, fmt, max_dilation=max_dilation, sample_rate=sample_rate).splitlines()
    if write_path and fmt != "json":
        lines += ["", f"wrote schedule 1 to {write_path}"]
    click.echo("\n".join(lines))
