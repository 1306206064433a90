"""``python -m benchmarks [--only W1,W3] [--json] [--repeat N]``: run the workloads, print the table."""

from __future__ import annotations

import os

# One BLAS and OpenMP thread, set before NumPy loads: the targets are single-threaded.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from .workloads import WORKLOADS, Result  # noqa: E402


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _blas() -> str:
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # the layout of show_config is NumPy's, not ours
        return "unknown"


def header() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    optional = ", ".join(f"{p} {_version(p) or 'absent'}" for p in ("torch", "neural-amp-modeler"))
    return (
        f"wavedil {_version('wavedil') or '?'} benchmarks on {_cpu()} ({cores} cores), Python {platform.python_version()}, "
        f"NumPy {np.__version__} ({_blas()}), SciPy {scipy.__version__}; {optional}\n"
        "single BLAS thread; each time the median of warm runs"
    )


def table(results: list[Result]) -> str:
    rows = [("", "workload", "wavedil", "x real time", "peers (time, wavedil's speed-up)", "peak RSS", "target", "met")]
    for r in results:
        peer_text = "; ".join(
            f"{name}: absent" if s is None else f"{name}: {s:.3f} s ({s / r.seconds:.1f}x)" for name, s in r.peers.items()
        ) or "-"
        rss = "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f} MB"
        rows.append((r.name, r.title, f"{r.seconds:.3f} s", f"{r.realtime_factor:.1f}", peer_text, rss, r.target, "yes" if r.met else "no"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"{r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + [""] + notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", help="comma-separated workloads, e.g. W1,W3 (default: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per workload instead of the table")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (default 3)")
    args = parser.parse_args(argv)
    names = [n.strip().upper() for n in args.only.split(",")] if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    if args.repeat < 3:
        parser.error("--repeat must be at least 3: each time is a median")
    if not args.json:
        print(header(), flush=True)
    results: list[Result] = []
    for name in names:
        if name == "W4":
            w2 = next((r for r in results if r.name == "W2"), None)
            result = WORKLOADS[name](args.repeat, single=w2.seconds if w2 else None)
        else:
            result = WORKLOADS[name](args.repeat)
        results.append(result)
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
        else:
            print(f"  {name} done: {result.seconds:.3f} s", file=sys.stderr, flush=True)
    if not args.json:
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
