"""The ``wavedil`` command group, its error handling and exit codes.

Exit codes: 0 success; 1 an error in the data (an input, spec, model or
output: one ``Error:`` line on stderr); 2 a usage error (options that
cannot work, alone or together); 130 interrupted (Ctrl-C). A path that
names the wrong kind of file (a folder for a file, a file for a folder, an
unreadable file) is an error in the data: 1, not 2. So is a standard output
closed before ``apply --json`` printed every result.

Each command's module (and the NumPy behind it) loads only when that command
runs or shows its help: ``wavedil --help`` imports none of them.
"""

from __future__ import annotations

import importlib
import sys

import click

from wavedil import __version__
from wavedil.errors import WavedilError

from .errors import to_click

EXIT_INTERRUPTED = 130

#: Each command: its module in this package and the one-line help ``wavedil --help`` lists
#: (a test checks that it is the command's own first docstring line).
COMMANDS = {
    "apply": ("apply", "Filter INPUT files through a stack into -o OUTPUT or -d OUTDIR."),
    "compile": ("compile", "Compile the numba engine's kernels ahead of time for this machine."),
    "plan": ("plan", "Propose dilation schedules whose receptive field reaches TARGET."),
    "presets": ("presets", "List the named stacks for --preset, one line each."),
    "report": ("report", "Print the receptive-field report of a stack."),
}


class _Group(click.Group):
    """Loads commands on demand; turns library errors into one ``Error:`` line, no traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f".{COMMANDS[name][0]}", __package__)
        return getattr(module, f"{name}_command")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

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
            from wavedil.audio import os_reason

            from .output import silence_stdout

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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``wavedil`` script and ``python -m wavedil``."""
    try:
        cli.main(args=argv, prog_name="wavedil")
    except KeyboardInterrupt:
        # Interrupted outside a command (for instance while importing).
        click.echo("Error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
