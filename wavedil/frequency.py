"""Frequency response of linear mono stacks, and the comb notches dilation makes.

A linear stack is one FIR filter: its equivalent kernel ``h`` is its impulse
response (the convolution of every layer's taps spread ``d`` samples apart),
and its response is ``H(f) = sum_i h[i] * exp(-2j*pi*f*i/fs)``: on a grid by one FFT,
at chosen frequencies by the sum itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

#: Frequencies reported by default, in Hz (those at or above Nyquist are left out).
DEFAULT_FREQUENCIES = (31.25, 62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
#: A dip this far below the peak gain counts as a notch, in dB.
NOTCH_DEPTH_DB = 30.0
#: At most this many notch frequencies are listed (``notch_count`` counts them all).
MAX_NOTCHES = 64
#: Longest kernel whose listed notches are refined past the grid (each refinement evaluates it ~20 times).
MAX_REFINED_TAPS = 2**16


def _db(mag: np.ndarray | float) -> np.ndarray | float:
    # Exact zeros (a notch on the grid) read as -300 dB rather than -inf.
    return 20.0 * np.log10(np.maximum(mag, 1e-15))


#: Taps per piece when the response at chosen frequencies is summed (bounds the phase table).
_PIECE = 2**16


def _response_at(h: np.ndarray, freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """``H(f) = sum_i h[i] * exp(-2j*pi*f*i/fs)`` at each of ``freqs``, summed in pieces of taps.

    A plain sum, linear in the kernel's length (a Horner loop over the taps,
    as :func:`scipy.signal.freqz` runs at chosen frequencies, steps through
    every tap in Python).
    """
    w = -2j * np.pi * freqs / sample_rate
    out = np.zeros(len(freqs), dtype=complex)
    for start in range(0, len(h), _PIECE):
        piece = h[start : start + _PIECE]
        out += np.exp(np.outer(w, np.arange(start, start + len(piece)))) @ piece
    return out


def magnitude_grid(h: np.ndarray, points: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``|H(f)|`` at ``points`` frequencies from 0 to Nyquist inclusive, by one real FFT.

    A kernel longer than the FFT is folded onto it first (``h[i]`` added at
    ``i mod n``), which leaves the DFT at those frequencies unchanged: the
    cost is the kernel's length plus the FFT's, never their product.
    """
    n = 2 * (points - 1)
    if len(h) > n:
        h = np.pad(h, (0, -len(h) % n)).reshape(-1, n).sum(axis=0)
    mag = np.abs(np.fft.rfft(h, n))
    return np.linspace(0.0, sample_rate / 2.0, points), mag


def frequency_response(
    kernel: np.ndarray,
    sample_rate: int,
    frequencies: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Gains and notches of the FIR filter ``kernel`` at ``sample_rate``.

    Returns ``sample_rate``, ``gains`` (a list of ``{"frequency": Hz,
    "gain_db": dB}`` at the chosen frequencies below Nyquist), ``dc_gain_db``,
    ``nyquist_gain_db``, ``peak_gain_db``, ``notches_hz`` (frequencies where
    the gain falls at least :data:`NOTCH_DEPTH_DB` below the peak, at most
    :data:`MAX_NOTCHES`, each found to within 0.01 Hz for kernels of up to
    :data:`MAX_REFINED_TAPS` taps, else to the nearest point of a grid of
    ``min(2**20, 16 * len(kernel))`` frequencies) and ``notch_count`` (all
    of them).

    Examples
    --------
    >>> fr = frequency_response(np.full(16, 1 / 16), 48000)
    >>> fr["notches_hz"][:3]
    [3000.0, 6000.0, 9000.0]
    """
    h = np.asarray(kernel, dtype=np.float64)
    nyq = sample_rate / 2.0
    freqs = [f for f in (frequencies if frequencies is not None else DEFAULT_FREQUENCIES) if 0 <= f <= nyq]
    gains = []
    if freqs:
        resp = _response_at(h, np.array(freqs, dtype=float), sample_rate)
        gains = [{"frequency": float(f), "gain_db": float(_db(abs(r)))} for f, r in zip(freqs, resp)]
    n_grid = int(min(2**20, max(8192, 16 * len(h))))
    grid, mag = magnitude_grid(h, n_grid, sample_rate)
    peak = float(mag.max()) if mag.size else 0.0

    def gain_at(f: float) -> float:
        return float(abs(np.polyval(h[::-1], np.exp(-2j * np.pi * f / sample_rate))))

    notches: list[float] = []
    count = 0
    if peak > 0:
        floor = peak * 10 ** (-NOTCH_DEPTH_DB / 20)
        # Local minima of the sampled magnitude below the floor: each is a notch (grid points lie
        # further apart than 0.01 Hz). The listed ones are refined on their bracket, when the
        # kernel is short enough for the exact response to be evaluated a few thousand times.
        interior = np.flatnonzero((mag[1:-1] <= mag[:-2]) & (mag[1:-1] <= mag[2:]) & (mag[1:-1] < floor)) + 1
        edges = [i for i in (0, len(mag) - 1) if mag[i] < floor]
        minima = sorted({*interior.tolist(), *edges})
        count = len(minima)
        refine = len(h) <= MAX_REFINED_TAPS
        for i in minima[:MAX_NOTCHES]:
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
            f = float(grid[i])
            if refine and hi > lo:
                best = float(minimize_scalar(gain_at, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3}).x)
                f = best if gain_at(best) <= mag[i] else f
            notches.append(round(f, 2))
    return {
        "sample_rate": sample_rate,
        "gains": gains,
        "dc_gain_db": float(_db(abs(h.sum()))),
        "nyquist_gain_db": float(_db(abs(np.sum(h * (-1.0) ** np.arange(len(h)))))),
        "peak_gain_db": float(_db(peak)),
        "notches_hz": notches,
        "notch_count": count,
    }
