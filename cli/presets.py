"""``wavedil presets``: list the named stacks, one line each."""

from __future__ import annotations

import click

from wavedil.presets import DEFAULT_PRESET, PRESETS


@click.command("presets")
def presets_command() -> None:
    """List the named stacks for --preset, one line each."""
    width = max(len(name) for name in PRESETS)
    for name, p in PRESETS.items():
        stack = p.build()
        mark = " (default)" if name == DEFAULT_PRESET else ""
        click.echo(f"{name:<{width}}  RF {stack.receptive_field:>6}  {p.summary}{mark}")
