"""``wavedil report``: the receptive-field report of a stack, without audio."""

from __future__ import annotations

import click

from wavedil.audio import write_text
from wavedil.receptive import analyze
from wavedil.report import FORMATS, render

from .stack_options import build_stack, stack_options


@click.command("report")
@stack_options
@click.option("--sample-rate", type=click.IntRange(min=1), metavar="HZ", help="Sample rate for the millisecond figures.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to a file instead of stdout.")
@click.option("--force", is_flag=True, help="Replace an existing --output.")
def report_command(sample_rate: int | None, fmt: str, output: str | None, force: bool, **stack_kw) -> None:
    """Print the receptive-field report of a stack.

    With no stack option the default preset is reported.

    \b
    Examples:
      wavedil report --kernel-size 3 --dilations 1,2,4
      wavedil report --spec stack.toml --sample-rate 48000 --format json
    """
    stack = build_stack(**stack_kw)
    text = render(analyze(stack, sample_rate), fmt)
    if output:
        write_text(output, text, force=force)
    else:
        click.echo(text, nl=False)
