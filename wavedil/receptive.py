"""Receptive-field analysis of a stack: what it hears, where its holes are, what it costs.

For a plain stack of causal layers with kernel sizes ``k_l`` and dilations
``d_l`` the output at ``t`` depends on ``x[t - RF + 1 .. t]`` with::

    RF = 1 + sum_l (k_l - 1) * d_l

:func:`analyze` gathers the per-layer figures, the totals, the dense
equivalent, the coverage (holes), the measured and effective receptive
fields, and for linear mono stacks the frequency response, into a plain
mapping whose keys are part of the public interface (scripts read the JSON
report).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .audio import read_excerpts
from .coverage import MAX_GRAPH_CELLS, coverage, graph_cells, gridding_fixes
from .engine import block_size_for
from .frequency import frequency_response
from .memory import default_memory_limit, format_bytes, plan_filter
from .probe import (
    DEFAULT_POSITIONS,
    MAX_MEMORY_PROBE,
    PROBE_SECONDS,
    ProbeOverflow,
    effective_receptive_field,
    impulse_measures,
    impulse_response,
    kick_positions,
    measure_speed,
    measured_memory,
    measured_receptive_field,
    probe_time,
    probe_channels,
    probe_memory,
)
from .spec import Stack

#: Rate used for the frequency response and speed when none is known, in Hz.
FALLBACK_SAMPLE_RATE = 48000
#: Holes listed at most in the report (``hole_count`` gives them all).
MAX_LISTED_HOLES = 4096
#: Seconds of audio :func:`analyze` times for ``speed`` (less when the probe bound says so).
SPEED_SECONDS = 5.0
#: Fewest samples a shortened probe may run; below it the probe is skipped.
MIN_PROBE_SAMPLES = 1024


#: Why a probe's figures are left out when the stack's output overflows float64.
_OVERFLOW = "the stack's output overflows float64 (its gain is beyond about 1e308)"


@dataclass(frozen=True)
class _Bounds:
    """What one probe of the engine may cost: estimated seconds and bytes."""

    seconds: float
    memory_limit: int

    def refuse(self, stack: Stack, signals: int, length: int) -> str | None:
        """Why a probe of ``signals`` signals of ``length`` samples may not run, or None."""
        cost = probe_time(stack, signals, length)
        if cost > self.seconds:
            return f"the probe would take about {cost:.3g} s (estimated), over the report's bound of {self.seconds:g} s (--probe-seconds)"
        need = probe_memory(stack, signals, length)
        if need > self.memory_limit:
            return f"the probe would need {format_bytes(need)}, over the memory limit of {format_bytes(self.memory_limit)} (--memory-limit)"
        return None

    def longest(self, stack: Stack, signals: int, want: int) -> int:
        """The longest signal, up to ``want`` samples, of which ``signals`` fit the time bound (at least one sample)."""
        per = probe_time(stack, signals, want) / want
        return max(1, min(want, int(self.seconds / per) if per > 0 else want))


def _ms(samples: int, sample_rate: int | None) -> float | None:
    return None if not sample_rate else 1000.0 * samples / sample_rate


def dense_equivalent(stack: Stack) -> dict[str, Any]:
    """What one dense convolution with the same receptive field and channels costs.

    The dense layer spans the receptive field and is as wide as the stack's
    widest signal (``C`` channels in and out; ``C = 1`` for a mono stack):
    ``macs_per_sample = RF * C * C`` and ``parameters = RF * C * C + C``. The
    ratios divide them by the stack's own figures.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> d = dense_equivalent(stack_from_dilations([2**i for i in range(13)], kernel_size=2))
    >>> d["kernel_size"], d["macs_ratio"]
    (8192, 315.0769230769231)
    """
    rf = stack.receptive_field
    width = max(max(row["in_channels"], row["out_channels"]) for layer in stack.layers for row in layer.rows())
    macs = rf * width * width
    params = macs + width
    return {
        "kernel_size": rf,
        "channels": width,
        "parameters": params,
        "macs_per_sample": macs,
        "parameters_ratio": params / stack.parameters if stack.parameters else None,
        "macs_ratio": macs / stack.macs_per_sample if stack.macs_per_sample else None,
    }


def _layer_rows(stack: Stack, sample_rate: int | None) -> list[dict[str, Any]]:
    rows = []
    rf = 1
    for layer in stack.layers:
        for row in layer.rows():
            rf += row["span"] - 1
            rows.append({"index": len(rows) + 1, **row, "receptive_field": rf, "receptive_field_ms": _ms(rf, sample_rate)})
    return rows


def _excerpts(stack: Stack, audio: np.ndarray | str | os.PathLike[str] | None, positions: int) -> np.ndarray | None:
    """``positions`` probe excerpts for a nonlinear stack, with the channels it takes (a mono mix for mono stacks)."""
    if audio is None or stack.is_linear:
        return None
    if not isinstance(audio, np.ndarray):
        audio = read_excerpts(audio, 2 * stack.receptive_field, positions)
    audio = audio[:positions]
    if stack.is_mono and audio.shape[2] != 1:
        audio = audio.mean(axis=2, keepdims=True)
    return audio


def _measured_note(measured: int, analytic: int) -> str | None:
    if measured > analytic:
        return (
            f"BUG: the engine hears {measured} samples, more than the analytic {analytic}; "
            "please report this stack"
        )
    if measured < analytic:
        return (
            f"the output does not depend on the oldest {analytic - measured} offset(s): "
            "their taps vanish (zero weights) or their influence is below float64 resolution"
        )
    return None


def analyze(
    stack: Stack,
    sample_rate: int | None = None,
    *,
    audio: np.ndarray | str | os.PathLike[str] | None = None,
    frequencies: Sequence[float] | None = None,
    speed: bool = False,
    probe_seconds: float = PROBE_SECONDS,
    memory_limit: int | None = None,
) -> dict[str, Any]:
    """The receptive-field report of ``stack`` as a JSON-ready mapping.

    The analyses that run the engine (measured and effective receptive
    fields, frequency response, memory, speed) are bounded: a probe whose
    estimated time (:func:`~wavedil.probe.probe_time`) exceeds
    ``probe_seconds`` or which would need more than ``memory_limit`` bytes
    is shortened (fewer positions, a shorter signal)
    or skipped, and ``skipped`` says which and why. The coverage is skipped
    when its sets would exceed :data:`~wavedil.coverage.MAX_GRAPH_CELLS`.
    So a report of any stack within the spec limits takes seconds.

    Parameters
    ----------
    stack : Stack
    sample_rate : int, optional
        In Hz; gives the millisecond and per-second figures. Defaults to the
        stack's own rate (a trained model's), if it has one.
    audio : path, or ndarray shaped (positions, 2*RF, channels), optional
        The actual input (an audio file, of which evenly spaced excerpts are
        read, or the excerpts themselves), over which the effective receptive
        field of a nonlinear stack is averaged; seeded noise otherwise.
    frequencies : sequence of float, optional
        Where to report the gain of a linear mono stack, in Hz.
    speed : bool
        Time the engine on this machine (adds ``speed``).
    probe_seconds : float
        Estimated seconds each probe may take (default :data:`~wavedil.probe.PROBE_SECONDS`).
    memory_limit : int, optional
        Bytes each probe may allocate (default :func:`~wavedil.memory.default_memory_limit`).

    Returns
    -------
    dict
        The keys documented in the README's report table: ``receptive_field``,
        ``receptive_field_ms``, ``sample_rate``, ``history``, ``lookahead``,
        ``parameters``, ``macs_per_sample``, ``macs_per_second``, ``padding``,
        ``in_channels``, ``out_channels``, ``linear``, ``name``,
        ``description``, ``model_sample_rate``, ``metadata``, ``layers``,
        ``dense_equivalent``, ``coverage``, ``gridding``,
        ``measured_receptive_field``, ``measured_note``,
        ``effective_receptive_field``, ``frequency_response``, ``speed``,
        ``recurrent``, ``memory``, ``submodels``, ``skipped``.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> r = analyze(stack_from_dilations([1, 2, 4], kernel_size=3), 48000)
    >>> [layer["receptive_field"] for layer in r["layers"]], round(r["receptive_field_ms"], 4)
    ([3, 7, 15], 0.3125)
    """
    sample_rate = sample_rate or stack.sample_rate
    bounds = _Bounds(float(probe_seconds), default_memory_limit() if memory_limit is None else int(memory_limit))
    skipped: dict[str, str] = {}
    report = _totals(stack, sample_rate, speed, bounds, skipped)
    if stack.is_recurrent:
        return report | _recurrent_figures(stack, sample_rate, bounds, skipped) | {"skipped": skipped}
    rf = stack.receptive_field
    cov_report: dict[str, Any] | None = None
    gridding: list[str] = []
    cells = graph_cells(stack)
    if cells <= MAX_GRAPH_CELLS:
        cov = coverage(stack)
        holes = np.flatnonzero(~cov.reached)
        cov_report = {
            "complete": cov.complete,
            "holes": holes[:MAX_LISTED_HOLES].tolist(),
            "hole_fraction": cov.hole_fraction,
            "hole_count": int(holes.size),
        }
        gridding = gridding_fixes(stack) if holes.size else []
    else:
        skipped["coverage"] = f"{cells:.3g} signal-offsets, over the bound of {MAX_GRAPH_CELLS:.3g}"
    measured: int | None = None
    erf: dict[str, Any] | None = None
    fr = None
    reach = rf + max(16, rf // 8)
    c = probe_channels(stack)
    if stack.is_linear:
        # One impulse response gives the measured field, the effective one and the frequency response.
        why = bounds.refuse(stack, c + 1, reach)
        if why:
            skipped.update({"measured_receptive_field": why, "effective_receptive_field": why})
            if stack.is_mono:
                skipped["frequency_response"] = why
        else:
            # A gain near float64's range overflows the energies: those figures are left out, not inf.
            with np.errstate(all="ignore"):
                try:
                    h = impulse_response(stack, reach)
                except ProbeOverflow:
                    h = None
                    skipped["measured_receptive_field"] = _OVERFLOW
                finite = h is not None
                if h is not None:
                    measured, erf = impulse_measures(h, rf)
                    finite = bool(np.all(np.isfinite(erf["profile"])))
                if finite and stack.is_mono:
                    fr = frequency_response(h[:rf, 0, 0], sample_rate or FALLBACK_SAMPLE_RATE, frequencies)
                    fr["assumed_sample_rate"] = sample_rate is None
                    finite = all(np.isfinite(v) for v in (fr["peak_gain_db"], fr["dc_gain_db"], fr["nyquist_gain_db"]))
            if not finite:
                erf = fr = None
                skipped.update({key: _OVERFLOW for key in ("effective_receptive_field", "frequency_response") if key != "frequency_response" or stack.is_mono})
    else:
        why = bounds.refuse(stack, 2 * kick_positions(stack), 2 * reach - 1)
        if why:
            skipped["measured_receptive_field"] = why
        else:
            try:
                measured = measured_receptive_field(stack)
            except ProbeOverflow:
                skipped["measured_receptive_field"] = _OVERFLOW
        # Fewer positions when all of them would cost too much; none when one would.
        per_position = 2 * c
        positions = DEFAULT_POSITIONS
        while positions > 1 and bounds.refuse(stack, per_position * positions, 2 * rf):
            positions //= 2
        why = bounds.refuse(stack, per_position * positions, 2 * rf)
        if why:
            skipped["effective_receptive_field"] = why
        else:
            try:
                with np.errstate(all="ignore"):
                    erf = effective_receptive_field(stack, _excerpts(stack, audio, positions), positions=positions)
                if not np.all(np.isfinite(erf["profile"])):
                    raise ProbeOverflow(_OVERFLOW)
            except ProbeOverflow:
                erf = None
                skipped["effective_receptive_field"] = _OVERFLOW
    return report | {
        "receptive_field": rf,
        "receptive_field_ms": _ms(rf, sample_rate),
        "history": rf - 1,
        "lookahead": stack.lookahead,
        "layers": _layer_rows(stack, sample_rate),
        "dense_equivalent": dense_equivalent(stack),
        "coverage": cov_report,
        "gridding": gridding,
        "measured_receptive_field": measured,
        "measured_note": _measured_note(measured, rf) if measured is not None else f"not measured: {skipped['measured_receptive_field']}",
        "effective_receptive_field": erf,
        "frequency_response": fr,
        "recurrent": False,
        "memory": None,
        "skipped": skipped,
    }


def _totals(stack: Stack, sample_rate: int | None, speed: bool, bounds: _Bounds, skipped: dict[str, str]) -> dict[str, Any]:
    """The keys every report has, whatever the stack's field."""
    return {
        "name": stack.name,
        "description": stack.description,
        "padding": stack.padding,
        "sample_rate": sample_rate,
        "in_channels": stack.in_channels,
        "out_channels": stack.out_channels,
        "parameters": stack.parameters,
        "macs_per_sample": stack.macs_per_sample,
        "macs_per_second": stack.macs_per_sample * sample_rate if sample_rate else None,
        "linear": stack.is_linear,
        "model_sample_rate": stack.sample_rate,
        "metadata": dict(stack.metadata),
        "speed": _speed(stack, sample_rate or FALLBACK_SAMPLE_RATE, bounds, skipped) if speed else None,
        "submodels": [dict(s) for s in stack.submodels],
    }


def _speed(stack: Stack, sample_rate: int, bounds: _Bounds, skipped: dict[str, str]) -> dict[str, Any] | None:
    """The engine's speed over :data:`SPEED_SECONDS` of noise, fewer when the probe bound says so (three runs)."""
    c = probe_channels(stack)
    samples = int(SPEED_SECONDS * sample_rate)
    samples = max(MIN_PROBE_SAMPLES, bounds.longest(stack, 3, samples))
    why = bounds.refuse(stack, 3, samples)
    if why is None:
        block = block_size_for(stack)
        need = plan_filter(stack, c, block_size=block).total + 4 * samples * c
        if need > bounds.memory_limit:
            why = f"timing needs {format_bytes(need)}, over the memory limit of {format_bytes(bounds.memory_limit)} (--memory-limit)"
    if why:
        skipped["speed"] = why
        return None
    return measure_speed(stack, sample_rate, seconds=samples / sample_rate)


def _recurrent_figures(stack: Stack, sample_rate: int | None, bounds: _Bounds, skipped: dict[str, str]) -> dict[str, Any]:
    """A recurrent stack's keys: no receptive field or analyses of it, a measured memory instead."""
    rate = sample_rate or FALLBACK_SAMPLE_RATE
    # Two signals (silence, and silence with an impulse), shortened to fit the bound.
    samples = max(MIN_PROBE_SAMPLES, bounds.longest(stack, 2, min(int(2.0 * rate), MAX_MEMORY_PROBE)))
    why = bounds.refuse(stack, 2, samples)
    if why:
        skipped["memory"] = why
    memory = None
    if not why:
        try:
            memory = measured_memory(stack, rate, probe_seconds=samples / rate)
        except ProbeOverflow:
            skipped["memory"] = _OVERFLOW
    rows = []
    for layer in stack.layers:
        for row in layer.rows():
            rows.append({"index": len(rows) + 1, **row, "receptive_field": None, "receptive_field_ms": None})
    return {
        "receptive_field": None,
        "receptive_field_ms": None,
        "history": None,
        "lookahead": 0,
        "layers": rows,
        "dense_equivalent": None,
        "coverage": None,
        "gridding": [],
        "measured_receptive_field": None,
        "measured_note": "recurrent: the output depends on the whole past; see memory",
        "effective_receptive_field": None,
        "frequency_response": None,
        "recurrent": True,
        "memory": memory,
    }
