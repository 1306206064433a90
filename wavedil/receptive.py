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
from typing import Any

import numpy as np

from .audio import read_excerpts
from .coverage import coverage, gridding_fixes
from .frequency import frequency_response
from .probe import DEFAULT_POSITIONS, effective_receptive_field, impulse_response, measure_speed, measured_memory, measured_receptive_field
from .spec import Stack

#: Rate used for the frequency response and speed when none is known, in Hz.
FALLBACK_SAMPLE_RATE = 48000
#: Holes listed at most in the report (``hole_count`` gives them all).
MAX_LISTED_HOLES = 4096


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


def _excerpts(stack: Stack, audio: np.ndarray | str | os.PathLike[str] | None) -> np.ndarray | None:
    """Probe excerpts for a nonlinear stack, with the channels it takes (a mono mix for mono stacks)."""
    if audio is None or stack.is_linear:
        return None
    if not isinstance(audio, np.ndarray):
        audio = read_excerpts(audio, 2 * stack.receptive_field, DEFAULT_POSITIONS)
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
) -> dict[str, Any]:
    """The receptive-field report of ``stack`` as a JSON-ready mapping.

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
        ``effective_receptive_field``, ``frequency_response``, ``speed``.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> r = analyze(stack_from_dilations([1, 2, 4], kernel_size=3), 48000)
    >>> [layer["receptive_field"] for layer in r["layers"]], round(r["receptive_field_ms"], 4)
    ([3, 7, 15], 0.3125)
    """
    sample_rate = sample_rate or stack.sample_rate
    report = _totals(stack, sample_rate, speed)
    if stack.is_recurrent:
        return report | _recurrent_figures(stack, sample_rate)
    rf = stack.receptive_field
    cov = coverage(stack)
    holes = cov.holes
    measured = measured_receptive_field(stack)
    fr = None
    if stack.is_linear and stack.is_mono:
        fr = frequency_response(impulse_response(stack)[:, 0, 0], sample_rate or FALLBACK_SAMPLE_RATE, frequencies)
        fr["assumed_sample_rate"] = sample_rate is None
    return report | {
        "receptive_field": rf,
        "receptive_field_ms": _ms(rf, sample_rate),
        "history": rf - 1,
        "lookahead": stack.lookahead,
        "layers": _layer_rows(stack, sample_rate),
        "dense_equivalent": dense_equivalent(stack),
        "coverage": {
            "complete": cov.complete,
            "holes": holes[:MAX_LISTED_HOLES],
            "hole_fraction": cov.hole_fraction,
            "hole_count": len(holes),
        },
        "gridding": gridding_fixes(stack) if holes else [],
        "measured_receptive_field": measured,
        "measured_note": _measured_note(measured, rf),
        "effective_receptive_field": effective_receptive_field(stack, _excerpts(stack, audio)),
        "frequency_response": fr,
        "recurrent": False,
        "memory": None,
    }


def _totals(stack: Stack, sample_rate: int | None, speed: bool) -> dict[str, Any]:
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
        "speed": measure_speed(stack, sample_rate or FALLBACK_SAMPLE_RATE) if speed else None,
        "submodels": [dict(s) for s in stack.submodels],
    }


def _recurrent_figures(stack: Stack, sample_rate: int | None) -> dict[str, Any]:
    """A recurrent stack's keys: no receptive field or analyses of it, a measured memory instead."""
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
        "memory": measured_memory(stack, sample_rate or FALLBACK_SAMPLE_RATE),
    }
