"""Compiled recurrence of NAM's LSTM (:mod:`wavedil.models.lstm`).

One layer over a block, sample by sample, signal by signal::

    z = b + W_in @ u + W_hh @ h          (gate rows i, f, o, g)
    c = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_g)
    h = sigmoid(z_o) * tanh(c)

in float64, the state kept in local arrays for the whole block. tanh and
sigmoid are the rational approximations of :mod:`wavedil.kernels.tanh`
(within 4e-7; libm's ``exp`` measured 3x slower here), or with ``fast`` the
Core's ``fast_tanh`` and ``fast_sigmoid`` for every gate and the cell, as
NeuralAmpModelerCore's ``lstm.cpp`` does when its fast tanh is on.
"""

from __future__ import annotations

import numba
import numpy as np

from .tanh import fast_sigmoid, fast_tanh, sigmoid, tanh

_JIT = {"cache": True, "error_model": "numpy"}


@numba.njit(inline="always", cache=True)
def _th(x, fast):  # type: ignore[no-untyped-def]
    return fast_tanh(x) if fast else tanh(x)


@numba.njit(inline="always", cache=True)
def _sg(x, fast):  # type: ignore[no-untyped-def]
    return fast_sigmoid(x) if fast else sigmoid(x)


@numba.njit(**_JIT)
def _signal(inp, bi, w_in_t, b, w_hh_t, h, c, seq, z, fast):  # type: ignore[no-untyped-def]
    """Signal ``bi`` of the block through one layer (``fast``: the Core's fast tanh and sigmoid)."""
    n, n_in = inp.shape[0], inp.shape[1]
    hidden = h.shape[0]
    four = 4 * hidden
    hl = h[:, bi].copy()
    cl = c[:, bi].copy()
    for t in range(n):
        # z = b + sum_j column_j * u_j: independent sums along contiguous rows.
        for k in range(four):
            z[k] = b[k]
        for j in range(n_in):
            u = inp[t, j, bi]
            for k in range(four):
                z[k] += w_in_t[j, k] * u
        for j in range(hidden):
            u = hl[j]
            for k in range(four):
                z[k] += w_hh_t[j, k] * u
        # Each nonlinearity as one loop over contiguous gates (i, f, o, then g), which vectorizes.
        for k in range(3 * hidden):
            z[k] = _sg(z[k], fast)
        for k in range(3 * hidden, four):
            z[k] = _th(z[k], fast)
        for j in range(hidden):
            cl[j] = z[hidden + j] * cl[j] + z[j] * z[3 * hidden + j]
        for j in range(hidden):
            hl[j] = z[2 * hidden + j] * _th(cl[j], fast)
        for j in range(hidden):
            seq[t, j, bi] = hl[j]
    h[:, bi] = hl
    c[:, bi] = cl


@numba.njit(**_JIT)
def layer(inp, w_in_t, b, w_hh_t, h, c, seq, fast):  # type: ignore[no-untyped-def]
    """One LSTM layer over a block (see the module's formula).

    Parameters
    ----------
    inp : float64 array (n, inputs, batch)
        The layer's input; may be ``seq`` itself (each sample is read before
        its output is written).
    w_in_t : float64 array (inputs, 4H); w_hh_t : float64 array (H, 4H)
        Transposed weights, gate columns i, f, o, g.
    b : float64 array (4H,)
    h, c : float64 arrays (H, batch)
        The state, updated in place.
    seq : float64 array (n, H, batch)
        Receives the hidden states.
    fast : bool
        The Core's fast tanh and sigmoid instead of the accurate ones.
    """
    z = np.empty_like(b)
    for bi in range(h.shape[1]):
        _signal(inp, bi, w_in_t, b, w_hh_t, h, c, seq, z, fast)
