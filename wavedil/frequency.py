"""Frequency response of linear mono stacks, and the comb notches dilation makes.

A linear stack is one FIR filter: its equivalent kernel ``h`` is its impulse
response (the convolution of every layer's taps spread ``d`` samples apart),
and its response is ``H(f) = sum_i h[i] * exp(-2j*pi*f*i/fs)``: on a grid by one FFT,
at chosen frequencies by the sum itself (:func:`response_at`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
import numpy as np

from .report import FrequencyResponse, Gain

#: Frequencies reported by default, in Hz (those at or above Nyquist are left out).
DEFAULT_FREQUENCIES = (31.25, 62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
#: A dip this far below the peak gain counts as a notch, in dB.
NOTCH_DEPTH_DB = 30.0
#: At most this many notch frequencies are listed (``notch_count`` counts them all).
MAX_NOTCHES = 64
#: Longest kernel whose listed notches are refined past the grid.
MAX_REFINED_TAPS = 2**16
#: A refined notch is located within this many Hz (then rounded to 0.01 Hz).
NOTCH_TOLERANCE_HZ = 1e-4
#: Most points of the grid the notches are sought on (from 0 to Nyquist).
MAX_GRID_POINTS = 2**20


def _db(mag: np.ndarray | float) -> np.ndarray | float:
    # Exact zeros (a notch on the grid) read as -300 dB rather than -inf.
    return 20.0 * np.log10(np.maximum(mag, 1e-15))


def response_at(h: np.ndarray, freqs: np.ndarray, sample_rate: float) -> np.ndarray:
    """``H(f) = sum_i h[i] * exp(-2j*pi*f*i/fs)`` at each of ``freqs`` (Hz).

    The tap index is split as ``i = q*B + r`` with ``B ~ sqrt(len(h))``, so
    ``exp(-2j*pi*f*i/fs)`` is the product of two short tables, and the sum is
    one matrix product over the taps: the cost is ``len(freqs) * len(h)``
    multiply-adds in BLAS plus ``len(freqs) * 2*sqrt(len(h))`` exponentials.

    Examples
    --------
    >>> h = np.array([0.5, 0.5])
    >>> np.round(np.abs(response_at(h, np.array([0.0, 12000.0, 24000.0]), 48000)), 6).tolist()
    [1.0, 0.707107, 0.0]
    """
    h = np.asarray(h, dtype=np.float64)
    freqs = np.asarray(freqs, dtype=np.float64)
    width = max(1, math.isqrt(len(h)))
    rows = -(-len(h) // width)
    taps = np.pad(h, (0, rows * width - len(h))).reshape(rows, width)
    w = -2j * np.pi * freqs / sample_rate
    inner = np.exp(np.outer(w, np.arange(width)))  # exp(w*r): (F, B)
    outer = np.exp(np.outer(w, width * np.arange(rows)))  # exp(w*q*B): (F, Q)
    # Real and imaginary parts apart: the taps stay real (no complex copy of a long kernel).
    partial = inner.real @ taps.T + 1j * (inner.imag @ taps.T)  # sum over r of h[q*B + r] * exp(w*r): (F, Q)
    return np.sum(outer * partial, axis=1)


def _fast_length(n: int) -> int:
    """The smallest ``2**a * 3**b * 5**c`` at least ``n``, a length the FFT runs fastest on."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def grid_points(taps: int) -> int:
    """Points of the grid from 0 to Nyquist that :func:`frequency_response` seeks notches on.

    At least ``min(MAX_GRID_POINTS, max(8192, 16 * taps))``, rounded up so that
    the FFT behind it (``2 * (points - 1)`` long) has only the factors 2, 3, 5.

    Examples
    --------
    >>> grid_points(16), grid_points(8192), grid_points(49150)
    (8193, 131073, 786433)
    """
    want = int(min(MAX_GRID_POINTS, max(8192, 16 * taps)))
    return _fast_length(2 * (want - 1)) // 2 + 1


def magnitude_grid(h: np.ndarray, points: int, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``|H(f)|`` at ``points`` frequencies from 0 to Nyquist inclusive, by one real FFT.

    A kernel longer than the FFT is folded onto it first (``h[i]`` added at
    ``i mod n``), which leaves the DFT at those frequencies unchanged: the
    cost is the kernel's length plus the FFT's, never their product.

    Examples
    --------
    >>> f, mag = magnitude_grid(np.array([0.5, 0.5]), 3, 48000)
    >>> f.tolist(), np.round(mag, 6).tolist()
    ([0.0, 12000.0, 24000.0], [1.0, 0.707107, 0.0])
    """
    n = 2 * (points - 1)
    if len(h) > n:
        h = np.pad(h, (0, -len(h) % n)).reshape(-1, n).sum(axis=0)
    mag = np.abs(np.fft.rfft(h, n))
    return np.linspace(0.0, sample_rate / 2.0, points), mag


def _golden_minima(h: np.ndarray, lo: np.ndarray, hi: np.ndarray, sample_rate: float) -> np.ndarray:
    """A local minimum of ``|H(f)|`` in each bracket ``[lo, hi]``, within :data:`NOTCH_TOLERANCE_HZ`.

    Golden-section search, every bracket at once: each step evaluates one
    point per bracket (one :func:`response_at`) and keeps the part of the
    bracket that holds the smaller value.
    """
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo.astype(float), hi.astype(float)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = np.abs(response_at(h, c, sample_rate)), np.abs(response_at(h, d, sample_rate))
    while np.max(b - a) > NOTCH_TOLERANCE_HZ:
        left = fc < fd  # the minimum lies in [a, d]: d becomes the upper point, c the new lower one
        a, b = np.where(left, a, c), np.where(left, d, b)
        keep = np.where(left, c, d)
        kept = np.where(left, fc, fd)
        new = np.where(left, b - ratio * (b - a), a + ratio * (b - a))
        fnew = np.abs(response_at(h, new, sample_rate))
        c, fc = np.where(left, new, keep), np.where(left, fnew, kept)
        d, fd = np.where(left, keep, new), np.where(left, kept, fnew)
    return (a + b) / 2.0


def _notches(h: np.ndarray, grid: np.ndarray, mag: np.ndarray, peak: float, sample_rate: float) -> tuple[list[float], int]:
    """The listed notch frequencies (Hz, at most :data:`MAX_NOTCHES`) and the count of all of them.

    A notch is a local minimum of the sampled magnitude (or an end of the
    grid) at least :data:`NOTCH_DEPTH_DB` below the peak; the listed ones are
    refined on their bracket of grid points when the kernel has at most
    :data:`MAX_REFINED_TAPS` taps, and kept on the grid when refining finds
    nothing lower.
    """
    if peak <= 0:
        return [], 0
    floor = peak * 10 ** (-NOTCH_DEPTH_DB / 20)
    interior = np.flatnonzero((mag[1:-1] <= mag[:-2]) & (mag[1:-1] <= mag[2:]) & (mag[1:-1] < floor)) + 1
    edges = [i for i in (0, len(mag) - 1) if mag[i] < floor]
    minima = np.array(sorted({*interior.tolist(), *edges}), dtype=int)
    listed = minima[:MAX_NOTCHES]
    found = grid[listed]
    if len(h) <= MAX_REFINED_TAPS and listed.size:
        lo = grid[np.maximum(listed - 1, 0)]
        hi = grid[np.minimum(listed + 1, len(grid) - 1)]
        best = _golden_minima(h, lo, hi, sample_rate)
        found = np.where(np.abs(response_at(h, best, sample_rate)) <= mag[listed], best, found)
    return [round(float(f), 2) for f in found], int(minima.size)


def frequency_response(
    kernel: np.ndarray,
    sample_rate: int,
    frequencies: Sequence[float] | None = None,
) -> FrequencyResponse:
    """Gains and notches of the FIR filter ``kernel`` at ``sample_rate``.

    Returns ``sample_rate``, ``gains`` (a :class:`~wavedil.report.Gain`,
    ``frequency`` in Hz and ``gain_db``, at each chosen frequency up to Nyquist), ``dc_gain_db``,
    ``nyquist_gain_db``, ``peak_gain_db``, ``notches_hz`` (frequencies where
    the gain falls at least :data:`NOTCH_DEPTH_DB` below the peak, at most
    :data:`MAX_NOTCHES`, each found to within 0.01 Hz for kernels of up to
    :data:`MAX_REFINED_TAPS` taps, else to the nearest point of the grid of
    :func:`grid_points` frequencies) and ``notch_count`` (all of them).

    Examples
    --------
    >>> fr = frequency_response(np.full(16, 1 / 16), 48000)
    >>> fr.notches_hz[:3]
    (3000.0, 6000.0, 9000.0)
    """
    h = np.asarray(kernel, dtype=np.float64)
    nyq = sample_rate / 2.0
    freqs = [f for f in (frequencies if frequencies is not None else DEFAULT_FREQUENCIES) if 0 <= f <= nyq]
    gains = []
    if freqs:
        resp = response_at(h, np.array(freqs, dtype=float), sample_rate)
        gains = [Gain(frequency=float(f), gain_db=float(_db(abs(r)))) for f, r in zip(freqs, resp)]
    grid, mag = magnitude_grid(h, grid_points(len(h)), sample_rate)
    peak = float(mag.max()) if mag.size else 0.0
    notches, count = _notches(h, grid, mag, peak, sample_rate)
    return FrequencyResponse(
        sample_rate=sample_rate,
        gains=tuple(gains),
        dc_gain_db=float(_db(abs(h.sum()))),
        nyquist_gain_db=float(_db(abs(np.sum(h * (-1.0) ** np.arange(len(h)))))),
        peak_gain_db=float(_db(peak)),
        notches_hz=tuple(notches),
        notch_count=count,
    )
