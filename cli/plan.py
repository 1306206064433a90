"""``wavedil plan``: dilation schedules that reach a target receptive field."""

from __future__ import annotations

import json

import click

from wavedil.audio import write_text
from wavedil.plan import candidate_stack, parse_target, plan
from wavedil.report import FORMAT_NAMES, format_name
from wavedil.spec import MAX_DILATION, MAX_SAMPLE_RATE, to_toml

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
    if fmt == "json":
        click.echo(json.dumps(candidates, indent=2))
        return
    header = ["#", "schedule", "layers", "RF", "RF ms", "params", "MACs/sample", "holes", "dilations"]
    rows = []
    for i, c in enumerate(candidates, start=1):
        d = c["dilations"]
        shown = ",".join(map(str, d)) if len(d) <= 16 else ",".join(map(str, d[:14])) + f",... ({len(d)})"
        rows.append(
            [
                str(i),
                c["name"],
                str(c["layers"]),
                f"{c['receptive_field']:,}",
                "-" if c["receptive_field_ms"] is None else f"{c['receptive_field_ms']:.2f}",
                f"{c['parameters']:,}",
                f"{c['macs_per_sample']:,}",
                "none" if c["coverage"]["complete"] else f"{100 * c['coverage']['hole_fraction']:.1f}%",
                shown,
            ]
        )
    intro = f"target {samples:,} samples" + (f" ({1000 * samples / sample_rate:.2f} ms at {sample_rate:,} Hz)" if sample_rate else "")
    intro += f", kernel {kernel_size}" + (f", dilations at most {max_dilation}" if max_dilation else "")
    if fmt == "markdown":
        lines = [intro, "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        fmt_row = "  ".join(f"{{:<{w}}}" if i in (1, 8) else f"{{:>{w}}}" for i, w in enumerate(widths))
        lines = [intro, "", fmt_row.format(*header), fmt_row.format(*("-" * w for w in widths))]
        lines += [fmt_row.format(*r) for r in rows]
    if write_path:
        lines += ["", f"wrote schedule 1 to {write_path}"]
    click.echo("\n".join(lines))
