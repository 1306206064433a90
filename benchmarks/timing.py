"""Timing: how each figure is measured, and what a workload reports.

Every time is the median of at least ``repeat`` warm runs (quick jobs run
more often, see :func:`interleave`): each job runs once untimed first.
Several jobs measured together run in rounds, one run of each per round,
so a busy moment on the machine falls on all of them alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")


@dataclass
class Result:
    """One workload's figures.

    ``seconds`` is wavedil's median time on its headline ``engine`` (numba
    when installed, else NumPy; accurate tanh); ``engines`` maps each engine
    timed (:meth:`Engine.describe <wavedil.engines.Engine.describe>`, e.g.
    ``numpy`` or ``numba, fast tanh``) to its median time; ``peers`` maps a
    peer's name to its median time, ``None`` when the peer is absent; ``met``
    says whether the target holds.
    """

    name: str
    label: str
    audio_seconds: float
    seconds: float
    runs: tuple[float, ...]
    target: str
    met: bool
    peers: dict[str, float | None] = field(default_factory=dict)
    engine: str | None = None
    engines: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio processed per second of wall time (``None`` for a workload without audio)."""
        return self.audio_seconds / self.seconds if self.audio_seconds else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``name``, ``seconds``, ``engine``, ``engines``, ``realtime_factor``, ``peak_rss_mb``, ``peers``, and details."""
        return {
            "name": self.name,
            "seconds": round_seconds(self.seconds),
            "engine": self.engine,
            "engines": {k: round_seconds(v) for k, v in self.engines.items()},
            "realtime_factor": None if self.realtime_factor is None else round(self.realtime_factor, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "peers": {k: None if v is None else round_seconds(v) for k, v in self.peers.items()},
            "title": self.label,
            "target": self.target,
            "met": self.met,
            "runs": [round_seconds(t) for t in self.runs],
            "notes": self.notes,
            **self.extra,
        }


def round_seconds(seconds: float) -> float:
    """Four significant digits, for the JSON output."""
    return float(f"{seconds:.4g}")


@dataclass(frozen=True)
class Timing:
    """The untimed warm-up call's duration, and the timed runs that follow it."""

    first: float
    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


#: Quick jobs run more than ``repeat`` times, until their timed runs add up to this many seconds...
MIN_TIMED_SECONDS = 1.0
#: ... but never more than this many runs.
MAX_RUNS = 25


class Unavailable(RuntimeError):
    """A peer that cannot run this workload's model: it is reported absent, with this reason."""


class Skipped(Exception):
    """A workload that cannot run here (what it needs is not installed); the reason is the message."""


@dataclass(frozen=True)
class Job:
    """One thing to time: ``run`` returns its duration in seconds and its output.

    ``warmup`` (default: ``run``) is called once, untimed, before the timed runs.
    """

    run: Callable[[], tuple[float, Any]]
    warmup: Callable[[], object] | None = None


def timed(call: Callable[[], object], warmup: Callable[[], object] | None = None) -> Job:
    """A job timed by the wall clock around ``call``."""

    def run() -> tuple[float, object]:
        start = time.perf_counter()
        out = call()
        return time.perf_counter() - start, out

    return Job(run, warmup)


def unavailable(reason: str) -> Job:
    """A job for a peer that cannot run here: :func:`interleave` reports it absent, with ``reason``."""

    def run() -> tuple[float, Any]:
        raise Unavailable(reason)

    return Job(run)


@dataclass(frozen=True)
class Measured:
    """A job's timing, and the output of its last timed run."""

    timing: Timing
    output: Any


def _wants_more(times: list[float], repeat: int) -> bool:
    return len(times) < repeat or (len(times) < MAX_RUNS and sum(times) < MIN_TIMED_SECONDS)


def interleave(jobs: Mapping[str, Job], repeat: int) -> tuple[dict[str, Measured], dict[str, str]]:
    """Warm every job up once, then time them in rounds, one run of each per round.

    Each job runs ``repeat`` times, and more while its timed runs are quick:
    until they add up to :data:`MIN_TIMED_SECONDS` (at most :data:`MAX_RUNS`
    runs), so the median of a job of a few tens of milliseconds is less at
    the mercy of one busy moment. A job whose warm-up raises
    :class:`Unavailable` is left out; the second dictionary returned
    holds its reason.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    firsts: dict[str, float] = {}
    absent: dict[str, str] = {}
    for name, job in jobs.items():
        start = time.perf_counter()
        try:
            (job.warmup or job.run)()
        except Unavailable as exc:
            absent[name] = str(exc)
            continue
        firsts[name] = time.perf_counter() - start
    times: dict[str, list[float]] = {name: [] for name in firsts}
    outputs: dict[str, Any] = dict.fromkeys(firsts)
    while pending := [name for name, t in times.items() if _wants_more(t, repeat)]:
        for name in pending:
            # Drop the previous output before the next run: outputs kept alive would make each run
            # take fresh memory from the system, slower than the steady state being measured.
            outputs[name] = None
            seconds, outputs[name] = jobs[name].run()
            times[name].append(seconds)
    return {name: Measured(Timing(firsts[name], tuple(t)), outputs[name]) for name, t in times.items()}, absent


def measure(run: Callable[[], T], repeat: int, *, warmup: Callable[[], object] | None = None) -> tuple[Timing, T]:
    """Call ``warmup`` (default: ``run``) once, then time calls of ``run`` (see :func:`interleave`); return the last output."""
    measured = interleave({"": timed(run, warmup)}, repeat)[0][""]
    return measured.timing, cast(T, measured.output)
