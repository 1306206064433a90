"""``wavedil compile``: the numba engine's kernels compiled ahead of time."""

from __future__ import annotations

import shlex
import signal
from types import FrameType

import click


def _terminated(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a timeout, a cancelled job) ends the build as Ctrl-C does: its temporary folder is removed.
    raise KeyboardInterrupt


@click.command("compile")
@click.option(
    "--dir",
    "directory",
    type=click.Path(),  # kept as typed: an empty path is refused, not read as "."
    help="Folder for the compiled module (default: $WAVEDIL_KERNELS_DIR, else $XDG_CACHE_HOME/wavedil, else ~/.cache/wavedil).",
)
def compile_command(directory: str | None) -> None:
    """Compile the numba engine's kernels ahead of time for this machine.

    Processes that find the module load the kernels in a millisecond instead
    of importing Numba (0.6-1.3 s a process) and compiling or loading its
    cache. Needs the fast extra, the Python headers and a C compiler; takes
    about a minute. Compile again after upgrading wavedil, Numba or NumPy
    (the module's name carries a fingerprint of them; a stale one is not
    used).

    \b
    Examples:
      wavedil compile
      wavedil compile --dir /opt/wavedil-kernels
    """
    from wavedil.kernels.build import compile_kernels
    from wavedil.kernels.exports import DIRECTORY_VARIABLE, kernel_directory

    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        built = compile_kernels(directory)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"{built.path}: {len(built.kernels)} kernels compiled in {built.seconds:.1f} s ({built.size / 1e6:.1f} MB)")
    if built.path.parent != kernel_directory().absolute():
        click.echo(f"processes find it with {DIRECTORY_VARIABLE}={shlex.quote(str(built.path.parent))}")
