"""Probing the real engine: measured and effective receptive fields, and speed.

The analytic receptive field counts taps; these functions ask the engine
itself which past samples change the output, and by how much:

- :func:`measured_receptive_field`: ``1 +`` the oldest offset whose
  perturbation changes the output. It is smaller than the analytic figure when
  the far taps vanish, and never larger (that would be a bug).
- :func:`effective_receptive_field`: how the sensitivity ``|dy[t]/dx[t-i]|``
  spreads over the offsets ``i``: the impulse response for linear stacks, the
  root-mean-square of central differences over several positions of real or
  seeded-noise audio for nonlinear ones.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .engine import StreamingFilter, apply, block_size_for
from .spec import Stack

#: Positions averaged by the effective receptive field of nonlinear stacks.
DEFAULT_POSITIONS = 8
#: Half-width of the central difference, relative to full scale.
_EPS = 1e-4


def _outputs(stack: Stack, xs: np.ndarray) -> np.ndarray:
    """Run signals ``xs`` shaped (P, n, C) through the stack in float64: (P, n, out)."""
    p, n, c = xs.shape
    # Blocks no longer than the signals: the buffers of many probes side by side stay small.
    block = min(block_size_for(stack), max(1, n))
    if stack.is_mono:
        # Independent signals side by side as channels: one pass through the engine.
        flat = xs.transpose(1, 0, 2).reshape(n, p * c)
        y = apply(stack, flat, dtype=np.float64, block_size=block)
        return y.reshape(n, p, c).transpose(1, 0, 2)
    return np.stack([apply(stack, x, dtype=np.float64, block_size=block).reshape(n, -1) for x in xs])


def _channels(stack: Stack) -> int:
    return 1 if stack.is_mono else stack.in_channels


def impulse_response(stack: Stack, length: int | None = None) -> np.ndarray:
    """Response to a unit impulse, less the response to silence: (length, in, out).

    For a linear stack this is its equivalent FIR kernel, ``h[i] = dy[t]/dx[t-i]``.
    """
    c = _channels(stack)
    n = length or stack.receptive_field
    xs = np.zeros((c + 1, n, c))
    for ch in range(c):
        xs[ch, 0, ch] = 1.0
    ys = _outputs(stack, xs)
    return (ys[:c] - ys[c]).transpose(1, 0, 2)


#: Activations that are flat over a whole range, so a path through them can be dead at a given input.
_DEAD_ZONES = {"relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "prelu", "leaky_hardtanh"}


def _activations(stack: Stack) -> set[str]:
    names: set[str] = set()
    for layer in stack.layers:
        names |= layer.activation_names()
    return names


def measured_receptive_field(stack: Stack, *, seed: int = 0, positions: int | None = None) -> int:
    """``1 +`` the oldest offset whose perturbation changes the output; 0 if none does.

    Linear stacks are read from their impulse response. Nonlinear ones are
    run on seeded noise with one sample kicked at each of ``positions``
    places; the latest output that moves says how far back the stack hears.
    Smooth activations keep every path alive, so 4 positions suffice; with
    piecewise-flat ones (ReLU, hardtanh, ...) 32 are probed, so that a unit
    dead at one place does not hide a path. The probe looks past the analytic
    field, so that a larger measured field, which would be a bug, shows.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> measured_receptive_field(stack_from_dilations([1, 2], taps=[0.5, 0.5, 0.0]))
    4
    """
    rf = stack.receptive_field
    reach = rf + max(16, rf // 8)
    if stack.is_linear:
        h = impulse_response(stack, reach)
        hit = np.flatnonzero(np.any(h != 0, axis=(1, 2)))
        return int(hit[-1]) + 1 if hit.size else 0
    if positions is None:
        positions = 32 if _activations(stack) & _DEAD_ZONES else 4
    rng = np.random.default_rng(seed)
    s = reach - 1  # the kicked sample, with a full field of context before it
    base = rng.normal(0.0, 0.5, (positions, s + reach, _channels(stack)))
    kicked = base.copy()
    kicked[:, s, :] += rng.normal(0.0, 0.5, (positions, base.shape[2]))
    moved = _outputs(stack, kicked)[:, s:] != _outputs(stack, base)[:, s:]
    hit = np.flatnonzero(np.any(moved, axis=(0, 2)))
    return int(hit[-1]) + 1 if hit.size else 0


def effective_receptive_field(
    stack: Stack,
    audio: np.ndarray | None = None,
    *,
    positions: int = DEFAULT_POSITIONS,
    seed: int = 0,
) -> dict[str, Any]:
    """How the sensitivity ``|dy[t]/dx[t-i]|`` is spread over offsets ``i``.

    Returns ``samples_50`` and ``samples_95`` (the smallest ``m`` such that
    offsets ``0..m-1`` hold 50 / 95 percent of the squared sensitivity),
    ``profile`` (the sensitivity at each offset ``0..RF-1``: ``|h[i]|`` for a
    linear stack, else the root-mean-square over ``positions`` positions and
    all channel pairs) and ``source`` (``impulse response``, ``input audio``
    or ``seeded noise``).

    Parameters
    ----------
    stack : Stack
    audio : ndarray, shape (positions, 2*RF, channels), optional
        Excerpts of real audio to probe a nonlinear stack on; seeded noise
        otherwise.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> erf = effective_receptive_field(stack_from_dilations([1, 2, 4, 8], kernel_size=2))
    >>> erf["samples_50"], erf["samples_95"]
    (8, 16)
    """
    rf = stack.receptive_field
    if stack.is_linear:
        h = impulse_response(stack, rf)
        energy = np.sum(h**2, axis=(1, 2))
        source = "impulse response"
    else:
        c = _channels(stack)
        n = 2 * rf
        if audio is not None and len(audio):
            xs = np.asarray(audio, dtype=np.float64)[:, :n, :c]
            if xs.shape[1] < n:
                xs = np.concatenate([xs, np.zeros((xs.shape[0], n - xs.shape[1], c))], axis=1)
            source = "input audio"
        else:
            xs = np.random.default_rng(seed).normal(0.0, 0.25, (positions, n, c))
            source = "seeded noise"
        s = rf - 1  # the perturbed sample has RF-1 samples of real context before it
        energy = np.zeros(rf)
        for ch in range(c):
            plus, minus = xs.copy(), xs.copy()
            plus[:, s, ch] += _EPS
            minus[:, s, ch] -= _EPS
            sens = (_outputs(stack, plus) - _outputs(stack, minus))[:, s : s + rf] / (2 * _EPS)
            energy += np.mean(np.sum(sens**2, axis=2), axis=0)
    total = float(energy.sum())
    if total > 0:
        frac = np.cumsum(energy) / total
        # A hair of slack so that exact fractions (0.5 of a moving average) land on their sample.
        s50 = int(np.searchsorted(frac, 0.5 - 1e-12) + 1)
        s95 = int(np.searchsorted(frac, 0.95 - 1e-12) + 1)
    else:
        s50 = s95 = 0
    return {
        "samples_50": s50,
        "samples_95": s95,
        "profile": np.sqrt(energy).tolist(),
        "source": source,
    }


def measured_memory(
    stack: Stack,
    sample_rate: int,
    *,
    threshold_db: float = -60.0,
    amplitude: float = 0.1,
    probe_seconds: float = 2.0,
) -> dict[str, Any]:
    """How long an impulse's effect lasts: the memory of a stack whose receptive field has no bound.

    The stack runs (float64, from its steady state of silence) on silence
    and on silence with one sample of ``amplitude`` at ``t = 0``;
    ``samples`` is ``1 +`` the last offset at which the outputs differ by
    ``threshold_db`` or more relative to their largest difference, within
    ``probe_seconds``. It is None when the effect has not settled in the
    last quarter of the probe (the memory outlasts it), 0 when the impulse
    changes nothing.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> measured_memory(stack_from_dilations([1, 2], kernel_size=2), 48000)["samples"]
    4
    """
    if not threshold_db < 0:
        raise ValueError(f"threshold_db must be negative, got {threshold_db}")
    n = max(4, int(probe_seconds * sample_rate))
    c = _channels(stack)
    xs = np.zeros((2, n, c))
    xs[0, 0, :] = amplitude
    ys = _outputs(stack, xs)
    diff = np.max(np.abs(ys[0] - ys[1]), axis=1)
    peak = float(diff.max())
    samples: int | None = 0
    if peak > 0.0:
        last = int(np.flatnonzero(diff >= peak * 10 ** (threshold_db / 20))[-1]) + 1
        samples = last if last <= n - n // 4 else None
    return {
        "samples": samples,
        "ms": None if samples is None else 1000.0 * samples / sample_rate,
        "threshold_db": threshold_db,
        "probe_samples": n,
    }


def measure_speed(
    stack: Stack,
    sample_rate: int,
    *,
    seconds: float = 5.0,
    channels: int | None = None,
    block_size: int | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """Time the engine (float32) on seeded noise; the best of ``repeats`` runs.

    Returns ``seconds_audio``, ``seconds_wall``, ``samples_per_second``,
    ``realtime_factor`` (audio seconds per wall second) and
    ``realtime_cpu_share`` (the share of one core real time needs).
    """
    ch = channels or (1 if stack.is_mono else stack.in_channels)
    block_size = block_size or block_size_for(stack)
    n = max(1, int(seconds * sample_rate))
    x = np.random.default_rng(0).normal(0.0, 0.25, (n, ch)).astype(np.float32)
    best = float("inf")
    for _ in range(repeats):
        f = StreamingFilter(stack, ch, block_size=block_size)
        start = time.perf_counter()
        for i in range(0, n, block_size):
            f.process(x[i : i + block_size])
        f.flush()
        best = min(best, time.perf_counter() - start)
    rtf = (n / sample_rate) / best
    return {
        "seconds_audio": n / sample_rate,
        "seconds_wall": best,
        "samples_per_second": n / best,
        "realtime_factor": rtf,
        "realtime_cpu_share": 1.0 / rtf,
    }
