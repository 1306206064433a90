"""Run wavedil's benchmark workloads beside their peers and print a table (or JSON lines).

Usage: ``python -m benchmarks [--only W1,W3] [--json] [--repeat N] [--nam-core [NAME=]DIR ...]``,
from the repository root.
"""

from __future__ import annotations

import os
import sys

# One BLAS/OpenMP thread, set before NumPy (or SciPy, or torch) loads: the targets are single-threaded.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
_LOADED_TOO_EARLY = "numpy" in sys.modules
for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"

import argparse
import io
import json
import platform
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import scipy

from . import nam_core
from .timing import MAX_RUNS, MIN_TIMED_SECONDS, Result, Skipped
from .workloads import WORKLOADS, Settings


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def blas() -> str:
    """The BLAS NumPy was built with, as NumPy reports it."""
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]  # type: ignore[index]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - show_config's layout is NumPy's and changes between versions
        return "unknown BLAS"


def _core_line(builds: Sequence[nam_core.CoreBuild]) -> str:
    if not builds:
        return "NAM Core: absent (--nam-core DIR: a build folder of your NeuralAmpModelerCore checkout's tools)"
    return "NAM Core builds: " + ", ".join(f"{b.name} = {b.tool}" for b in builds)


def header(settings: Settings) -> str:
    repeat = settings.repeat
    optional = ", ".join(f"{p} {version(p) or 'absent'}" for p in ("numba", "torch", "neural-amp-modeler"))
    threads = "=".join(THREAD_VARIABLES[:3])
    lines = [
        f"wavedil {version('wavedil') or '?'} benchmarks",
        f"CPU: {cpu_model()}, {cores()} cores available; Python {platform.python_version()}",
        f"NumPy {np.__version__} (BLAS: {blas()}), SciPy {scipy.__version__}; optional: {optional}",
        _core_line(settings.nam_core),
        (
            f"single thread: {threads}=1 set before NumPy loads, torch.set_num_threads(1) for the PyTorch peer "
            "(except W4, which runs 2 worker processes)"
        ),
        (
            f"each time: median of {repeat} warm runs after an untimed warm-up (jobs under {MIN_TIMED_SECONDS / repeat:.2f} s: "
            f"more runs, up to {MAX_RUNS}, to fill {MIN_TIMED_SECONDS:g} s); signals: seeded noise x 0.1, float32"
        ),
    ]
    if hasattr(os, "getloadavg"):
        lines.append(f"load average at start: {os.getloadavg()[0]:.2f} (other work on the machine makes times noisy)")
    if _LOADED_TOO_EARLY:
        lines.append("WARNING: NumPy was loaded before the thread variables were set; BLAS may use several threads")
    return "\n".join(lines)


#: Timed runs spread wider than this fraction of their median are pointed out under the table.
NOISY = 0.2


def _times_cell(times: dict[str, float | None], wavedil_seconds: float) -> str:
    """``name time (time / wavedil's)`` for each entry, ``name: absent`` for a missing one."""
    if not times:
        return "-"
    cells = []
    for name, seconds in times.items():
        if seconds is None:
            cells.append(f"{name}: absent")
        else:
            cells.append(f"{name} {seconds:.3f} s ({seconds / wavedil_seconds:.2f}x)")
    return "; ".join(cells)


def _row(r: Result) -> tuple[str, ...]:
    others: dict[str, float | None] = {k: v for k, v in r.engines.items() if k != r.engine}
    return (
        r.name,
        r.label,
        f"{r.seconds:.3f} s" + (f" ({r.engine})" if r.engine else ""),
        "-" if r.realtime_factor is None else f"{r.realtime_factor:,.1f}x",
        _times_cell(others, r.seconds),
        _times_cell(r.peers, r.seconds),
        "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f} MB",
        f"{r.target}: {'yes' if r.met else 'no'}",
    )


def table(results: Sequence[Result]) -> str:
    """The results as an aligned text table, with notes below it."""
    head = ("", "workload", "wavedil", "x real time", "other engines (time / wavedil's)", "peers (time / wavedil's)", "peak RSS", "target")
    rows = [head, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    right = {2, 3, 6}  # numbers are right-aligned
    lines = [
        "  ".join(cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [
        "",
        (
            "wavedil's time is its headline engine's (numba when installed), accurate tanh; a ratio above 1 means "
            "it is faster. W4's peer is wavedil on one worker (W2), so its ratio is the speed-up."
        ),
    ]
    for r in results:
        lines += [f"{r.name}: {note}" for note in r.notes]
        if max(r.runs) - min(r.runs) > NOISY * r.seconds:
            runs = ", ".join(f"{t:.3f}" for t in r.runs)
            lines.append(f"{r.name}: timed runs {runs} s spread over {NOISY:.0%} of the median: the machine was busy?")
    return "\n".join(lines)


def _failure(name: str, error: BaseException) -> dict[str, object]:
    return {"name": name, "seconds": None, "engine": None, "engines": {}, "realtime_factor": None, "peak_rss_mb": None, "peers": {}, "error": str(error)}


@dataclass(frozen=True)
class Arguments:
    """What the command line asked for: the workloads (in their running order), the settings, JSON or a table."""

    names: list[str]
    settings: Settings
    json: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run wavedil's benchmark workloads beside their peers."
    )
    parser.add_argument("--only", metavar="W1,W3", help="comma-separated workloads to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line per workload instead of the table")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="timed runs per measurement, the median reported (default 3, at least 3)",
    )
    parser.add_argument(
        "--nam-core",
        action="append",
        default=[],
        metavar="[NAME=]DIR",
        help=(
            "a build folder of your NeuralAmpModelerCore checkout holding its benchmodel tool (in DIR or DIR/tools): "
            "NAM's C++ engine becomes a peer, named NAME (default: the folder's name); repeat for several builds"
        ),
    )
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> Arguments:
    """The command line's arguments; a mistake exits with status 2 and one line saying what is wrong."""
    parser = _parser()
    args = parser.parse_args(argv)
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()] if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        parser.error(f"unknown workload(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(WORKLOADS)}")
    if args.repeat < 3:
        parser.error("--repeat must be at least 3: each time is a median of at least 3 runs")
    try:
        builds = nam_core.parse_core_options(args.nam_core)
    except nam_core.CoreBuildError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    ordered = [n for n in WORKLOADS if n in names]  # W2 before W4, whatever the order given
    return Arguments(ordered, Settings(args.repeat, builds), args.json)


def run(arguments: Arguments) -> int:
    """Run the workloads, print the table or the JSON lines; 1 when a workload failed."""
    print(header(arguments.settings), file=sys.stderr if arguments.json else sys.stdout, flush=True)
    results: dict[str, Result] = {}
    skipped: dict[str, str] = {}
    failed = False
    for name in arguments.names:
        print(f"  running {name} ...", file=sys.stderr, flush=True)
        try:
            result = WORKLOADS[name](arguments.settings, results)
        except Skipped as why:
            skipped[name] = str(why)
            print(f"  {name} skipped: {why}", file=sys.stderr, flush=True)
            if arguments.json:
                print(json.dumps({"name": name, "skipped": str(why)}), flush=True)
            continue
        except Exception as exc:  # noqa: BLE001 - report the failure, run the other workloads
            failed = True
            traceback.print_exc()
            print(f"  {name} failed: {exc}", file=sys.stderr, flush=True)
            if arguments.json:
                print(json.dumps(_failure(name, exc)), flush=True)
            continue
        results[name] = result
        print(f"  {name}: {result.seconds:.3f} s", file=sys.stderr, flush=True)
        if arguments.json:
            print(json.dumps(result.to_json()), flush=True)
    if not arguments.json and results:
        print(table(list(results.values())))
        for name, why in skipped.items():
            print(f"{name} skipped: {why}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # "≥" on a terminal that cannot show it
    return run(arguments)


if __name__ == "__main__":
    raise SystemExit(main())
