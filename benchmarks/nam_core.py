"""NAM's C++ engine (NeuralAmpModelerCore, what NAM's plugin runs) as a peer.

The benchmark never builds the Core: a user builds the Core's own tools from
their checkout, as the Core's README describes, and passes the build folder
with ``--nam-core [NAME=]DIR``. Its ``benchmodel`` tool (``tools/benchmodel.cpp``
in the Core) loads a ``.nam`` file, resets and prewarms the model, then times
:data:`SAMPLES` samples of silence in buffers of :data:`BUFFER` samples, as
the plugin receives them from a host, and prints the time in milliseconds.
``--no-fast-tanh`` asks it for the exact tanh; its default is the plugin's
fast tanh.

The tool only prints its time, so the Core's output is not compared with
wavedil's here (the conformance tests compare them on the Core's renders).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .timing import Unavailable

#: Samples ``benchmodel`` times: ``(48000 / 64) * 2`` buffers of 64 (2 s at 48 kHz, whatever the model's rate).
BUFFER = 64
SAMPLES = (48_000 // BUFFER) * 2 * BUFFER

#: Where a build folder may hold the tool: its top (a hand build) or ``tools/`` (the Core's CMake build).
TOOL_PLACES = ("benchmodel", "tools/benchmodel")

# benchmodel prints the time twice, as whole and as fractional milliseconds; the last such line is the finer one.
_TIME_LINE = re.compile(r"^\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*ms\s*$")

#: How long one benchmodel run may take before it counts as hung.
TIMEOUT_SECONDS = 600.0


class CoreBuildError(ValueError):
    """A ``--nam-core`` value that names no usable build."""


@dataclass(frozen=True)
class CoreBuild:
    """One build of the Core: the name it goes by in the table, and its ``benchmodel`` executable."""

    name: str
    tool: Path


def parse_core_option(value: str) -> CoreBuild:
    """A ``--nam-core`` value, ``NAME=DIR`` or ``DIR`` (named after the folder), as a build with its tool.

    Raises
    ------
    CoreBuildError
        When the value is empty or the folder holds no executable ``benchmodel``.
    """
    name, sep, folder = value.partition("=")
    if not sep or "/" in name or os.sep in name:  # a bare folder (possibly with "=" further on in its path)
        name, folder = "", value
    if not folder.strip():
        raise CoreBuildError(f"--nam-core {value!r} names no folder")
    path = Path(folder).expanduser()
    return CoreBuild(name.strip() or path.resolve().name, find_benchmodel(path))


def parse_core_options(values: list[str]) -> tuple[CoreBuild, ...]:
    """Every ``--nam-core`` value (see :func:`parse_core_option`); two builds may not share a name."""
    builds = tuple(parse_core_option(value) for value in values)
    names = [b.name for b in builds]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CoreBuildError(f"--nam-core: two builds named {', '.join(twice)}; name them NAME=DIR")
    return builds


def find_benchmodel(folder: Path) -> Path:
    """The executable ``benchmodel`` in a build folder of the Core (see :data:`TOOL_PLACES`)."""
    for place in TOOL_PLACES:
        tool = folder / place
        if tool.is_file() and os.access(tool, os.X_OK):
            return tool
    looked = " or ".join(str(folder / p) for p in TOOL_PLACES)
    raise CoreBuildError(
        f"--nam-core: no executable benchmodel in {folder} (looked for {looked}); "
        "build the tools of your NeuralAmpModelerCore checkout there first"
    )


def parse_benchmodel_output(text: str) -> float:
    """Seconds from ``benchmodel``'s standard output: its last line of the form ``<number>ms``.

    >>> parse_benchmodel_output("Running benchmark\\nFinished\\n11ms\\n11.8961ms\\n")
    0.0118961
    """
    times = [m.group(1) for line in text.splitlines() if (m := _TIME_LINE.match(line))]
    if not times:
        raise ValueError("benchmodel printed no time (a line like '12.3ms')")
    return float(times[-1]) / 1000.0


def run_benchmodel(build: CoreBuild, model: Path, *, fast_tanh: bool) -> float:
    """Seconds the Core takes for :data:`SAMPLES` samples of silence through ``model`` (its own clock).

    Raises
    ------
    Unavailable
        When the Core refuses the model (or its tool fails): the peer is absent for this workload.
    """
    command = [str(build.tool), *([] if fast_tanh else ["--no-fast-tanh"]), str(model)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"NAM Core {build.name}: {exc}") from None
    if proc.returncode != 0:
        said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise Unavailable(f"NAM Core {build.name} refused the model (exit {proc.returncode}): {said[-1] if said else 'no message'}")
    try:
        return parse_benchmodel_output(proc.stdout)
    except ValueError as exc:
        raise Unavailable(f"NAM Core {build.name}: {exc}") from None


#: How every Core figure's name starts.
PEER_PREFIX = "NAM Core "


def tanh_label(*, fast_tanh: bool) -> str:
    """``fast tanh`` (the plugin's approximation) or ``exact tanh``: how a Core figure's name ends."""
    return "fast tanh" if fast_tanh else "exact tanh"


def peer_name(build: CoreBuild, *, fast_tanh: bool) -> str:
    """The name a build's figure goes by: ``NAM Core NAME, exact tanh`` or ``..., fast tanh``."""
    return f"{PEER_PREFIX}{build.name}, {tanh_label(fast_tanh=fast_tanh)}"
