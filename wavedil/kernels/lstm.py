"""Compiled recurrence of NAM's LSTM (:mod:`wavedil.models.lstm`).

One layer over a block, sample by sample, signal by signal::

    z = b + W_in @ u + W_hh @ h          (gate rows i, f, o, g)
    c = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_g)
    h = sigmoid(z_o) * tanh(c)

in the precision of the arrays (float32 as the Core computes, or float64),
the state kept in local arrays for the whole block. tanh and sigmoid are the
rational approximations of :mod:`wavedil.kernels.tanh` (within 4e-7; libm's
``exp`` measured 3x slower here), libm's in float64 (precision asked for),
or the Core's ``fast_tanh`` and ``fast_sigmoid`` for every gate and the
cell, as NeuralAmpModelerCore's ``lstm.cpp`` does when its fast tanh is on.
Each of the three is its own compiled function (:data:`wavedil.kernels.codes.LSTM_KERNELS`), compiled
on first use of that mode and dtype.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .codes import LSTM_FAST as FAST
from .codes import LSTM_LIBM as LIBM
from .codes import LSTM_RATIONAL as RATIONAL
from .tanh import fast_sigmoid, fast_tanh, sigmoid, tanh

_JIT = {"cache": True, "error_model": "numpy"}


@numba.njit(inline="always", cache=True)
def _th(x, mode):  # type: ignore[no-untyped-def]
    if mode == FAST:
        return fast_tanh(x)
    return math.tanh(x) if mode == LIBM else tanh(x)


@numba.njit(inline="always", cache=True)
def _sg(x, mode):  # type: ignore[no-untyped-def]
    if mode == FAST:
        return fast_sigmoid(x)
    return 1.0 / (1.0 + math.exp(-x)) if mode == LIBM else sigmoid(x)


@numba.njit(**_JIT)
def _signal(inp, bi, w_in_t, b, w_hh_t, h, c, seq, z, mode):  # type: ignore[no-untyped-def]
    """Signal ``bi`` of the block through one layer, tanh and sigmoid as ``mode`` says."""
    n, n_in = inp.shape[0], inp.shape[1]
    hidden = h.shape[0]
    four = 4 * hidden
    # The state by plain loops: a slice assignment such as ``h[:, bi] = hl`` costs seconds of compile for its
    # shape check, once per mode and dtype.
    hl, cl = np.empty_like(b[:hidden]), np.empty_like(b[:hidden])
    for j in range(hidden):
        hl[j], cl[j] = h[j, bi], c[j, bi]
    for t in range(n):
        # z = b + sum_j column_j * u_j: independent sums along contiguous rows, the bias in the first pass
        # (a layer has at least one input). Fewer passes over z: 55 -> 52 ns a sample (W7, fast tanh).
        u = inp[t, 0, bi]
        for k in range(four):
            z[k] = b[k] + w_in_t[0, k] * u
        for j in range(1, n_in):
            u = inp[t, j, bi]
            for k in range(four):
                z[k] += w_in_t[j, k] * u
        for j in range(hidden):
            u = hl[j]
            for k in range(four):
                z[k] += w_hh_t[j, k] * u
        # Each nonlinearity as one loop over contiguous gates (i, f, o, then g), which vectorizes.
        for k in range(3 * hidden):
            z[k] = _sg(z[k], mode)
        for k in range(3 * hidden, four):
            z[k] = _th(z[k], mode)
        # Every input of sample t was read above, so writing seq[t] is safe when seq is inp.
        for j in range(hidden):
            cl[j] = z[hidden + j] * cl[j] + z[j] * z[3 * hidden + j]
            hl[j] = z[2 * hidden + j] * _th(cl[j], mode)
            seq[t, j, bi] = hl[j]
    for j in range(hidden):
        h[j, bi], c[j, bi] = hl[j], cl[j]


@numba.njit(**_JIT)
def _layer(inp, w_in_t, b, w_hh_t, h, c, seq, mode):  # type: ignore[no-untyped-def]
    # ``mode`` typed as its constant value: the tests on it leave the per-sample loop instead of running for
    # every gate (58 rather than 82 ns a sample for the Core's example LSTM with fast tanh in float32, 68 rather
    # than 91 exact). Each entry point below compiles only its own mode.
    numba.literally(mode)
    z = np.empty_like(b)
    for bi in range(h.shape[1]):
        _signal(inp, bi, w_in_t, b, w_hh_t, h, c, seq, z, mode)


@numba.njit(**_JIT)
def rational_layer(inp, w_in_t, b, w_hh_t, h, c, seq):  # type: ignore[no-untyped-def]
    """One LSTM layer over a block (see the module's formula), the rational tanh and sigmoid (for float32).

    Parameters
    ----------
    inp : float array (n, inputs, batch)
        The layer's input; may be ``seq`` itself (each sample is read before
        its output is written).
    w_in_t : float array (inputs, 4H); w_hh_t : float array (H, 4H)
        Transposed weights, gate columns i, f, o, g.
    b : float array (4H,)
    h, c : float arrays (H, batch)
        The state, updated in place.
    seq : float array (n, H, batch)
        Receives the hidden states.

    All arrays share one dtype, float32 or float64, the precision computed in.
    """
    _layer(inp, w_in_t, b, w_hh_t, h, c, seq, RATIONAL)


@numba.njit(**_JIT)
def fast_layer(inp, w_in_t, b, w_hh_t, h, c, seq):  # type: ignore[no-untyped-def]
    """:func:`rational_layer` with the Core's fast tanh and sigmoid."""
    _layer(inp, w_in_t, b, w_hh_t, h, c, seq, FAST)


@numba.njit(**_JIT)
def libm_layer(inp, w_in_t, b, w_hh_t, h, c, seq):  # type: ignore[no-untyped-def]
    """:func:`rational_layer` with libm's tanh and exp (for float64)."""
    _layer(inp, w_in_t, b, w_hh_t, h, c, seq, LIBM)

