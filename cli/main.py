"""The ``wavedil`` command group, its error handling and exit codes.

Exit codes: 0 success; 1 an error in the input, spec or output (one
``Error:`` line on stderr); 2 a usage error; 130 interrupted (Ctrl-C).
A path that names the wrong kind of file (a folder for a file, a file for
a folder, an unreadable file) is an error in the input: 1, not 2. So is a
standard output closed before ``apply --json`` printed every result.
"""

from __future__ import annotations

import sys

import click

from wavedil import __version__
from wavedil.audio import os_reason
from wavedil.errors import WavedilError

from .apply import apply_command
from .errors import to_click
from .output import silence_stdout
from .plan import plan_command
from .presets import presets_command
from .report import report_command

EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Turns library errors into one ``Error:`` line and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except WavedilError as exc:
            raise to_click(exc) from None
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except MemoryError:
            raise click.ClickException("out of memory: the system could not provide what the run needed") from None
        except OSError as exc:
            # Writing the command's own output failed (> /dev/full); a file's failures are WavedilErrors.
            silence_stdout()
            raise click.ClickException(f"{exc.filename or 'standard output'}: {os_reason(exc)}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wavedil")
def cli() -> None:
    """Run audio through stacks of causal dilated 1-D convolutions.

    \b
    Examples:
      wavedil apply in.wav -o out.wav --report out.txt
      wavedil apply in.wav -o out.wav --kernel-size 2 --dilations 1,2,4,8
      wavedil report --spec stack.toml --sample-rate 48000 --format json
      wavedil plan --target 100ms --sample-rate 48000 --kernel-size 3
    """


cli.add_command(apply_command)
cli.add_command(report_command)
cli.add_command(presets_command)
cli.add_command(plan_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``wavedil`` script and ``python -m wavedil``."""
    try:
        cli.main(args=argv, prog_name="wavedil")
    except KeyboardInterrupt:
        # Interrupted outside a command (for instance while importing).
        click.echo("Error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
