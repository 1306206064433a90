"""``wavedil compile``: the numba engine's kernels compiled ahead of time."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("compile")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    help="Folder for the compiled module (default: $WAVEDIL_KERNELS_DIR, else ~/.cache/wavedil).",
)
@click.option("--dtype", type=click.Choice(["float32", "float64", "all"]), default="all", show_default=True, help="The arithmetic to compile for.")
def compile_command(directory: Path | None, dtype: str) -> None:
    """Compile the numba engine's kernels ahead of time for this machine.

    Processes that find the module load the kernels in a millisecond instead
    of importing Numba (0.8-1.3 s a process) and compiling or loading its
    cache. Needs the fast extra and a C compiler; takes about a minute.
    Compile again after upgrading wavedil, Numba or NumPy (the module's name
    carries a fingerprint of them; a stale one is not used).

    \b
    Examples:
      wavedil compile
      wavedil compile --dir /opt/wavedil-kernels --dtype float32
    """
    from wavedil.kernels.build import DTYPES, compile_kernels
    from wavedil.kernels.exports import DIRECTORY_VARIABLE, kernel_directory

    built = compile_kernels(directory, DTYPES if dtype == "all" else (dtype,))
    click.echo(f"{built.path}: {len(built.kernels)} kernels compiled in {built.seconds:.1f} s ({built.size / 1e6:.1f} MB)")
    if built.path.parent.resolve() != kernel_directory().resolve():
        click.echo(f"processes find it with {DIRECTORY_VARIABLE}={built.path.parent}")
