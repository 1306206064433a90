"""Activations over a row, in place, for the compiled kernels.

One function serves every kernel: the codes are
:data:`wavedil.kernels.codes.ACTIVATION_CODES`, tanh and sigmoid those of
:mod:`wavedil.kernels.tanh` (rational in float32, libm's in float64).
"""

from __future__ import annotations

import numba

from .codes import ACTIVATION_CODES, SMOOTH_ACTIVATIONS
from .tanh import fast_tanh, sigmoid, tanh


_JIT = {"cache": True, "error_model": "numpy"}
#: Codes computed through tanh or a division (the rest are piecewise linear).
_SMOOTH = tuple(sorted(ACTIVATION_CODES[name] for name in SMOOTH_ACTIVATIONS))


@numba.njit(**_JIT)
def activate_row(z, code, slope, bounds, n):  # type: ignore[no-untyped-def]
    """``z[:n] = act(z[:n])`` for an activation code (see :data:`wavedil.kernels.codes.ACTIVATION_CODES`).

    One loop per code: a branch on the code inside a single loop kept the
    compiler from vectorizing it (measured 7x slower for tanh). ``slope``
    (LeakyReLU, PReLU) and ``bounds`` (LeakyHardtanh) are taken in the row's
    precision, so float32 rows are computed in float32, as NumPy does.
    """
    if code in _SMOOTH:
        _smooth_row(z, code, n)
    elif code != 0:
        _piecewise_row(z, code, slope, bounds, n)


@numba.njit(**_JIT)
def _smooth_row(z, code, n):  # type: ignore[no-untyped-def]
    """tanh (accurate or NAM's fast one), sigmoid, SiLU or Softsign over ``z[:n]``."""
    one = z.dtype.type(1)
    if code == 1:
        for t in range(n):
            z[t] = tanh(z[t])
    elif code == 2:
        for t in range(n):
            z[t] = fast_tanh(z[t])
    elif code == 5:
        for t in range(n):
            z[t] = sigmoid(z[t])
    elif code == 8:
        for t in range(n):
            z[t] = z[t] * sigmoid(z[t])
    else:
        for t in range(n):
            z[t] = z[t] / (one + abs(z[t]))


@numba.njit(**_JIT)
def _piecewise_row(z, code, slope, bounds, n):  # type: ignore[no-untyped-def]
    """ReLU, LeakyReLU/PReLU, Hardtanh, LeakyHardtanh, ReLU6, Hardsigmoid or Hardswish over ``z[:n]``."""
    typed = z.dtype.type
    zero, one, three, six = typed(0), typed(1), typed(3), typed(6)
    slope = typed(slope)
    if code == 3:
        for t in range(n):
            z[t] = max(z[t], zero)
    elif code == 4:
        for t in range(n):
            v = z[t]
            z[t] = v if v > zero else v * slope
    elif code == 6:
        for t in range(n):
            z[t] = min(max(z[t], -one), one)
    elif code == 7:
        lo, hi, s_lo, s_hi = typed(bounds[0]), typed(bounds[1]), typed(bounds[2]), typed(bounds[3])
        for t in range(n):
            v = z[t]
            z[t] = (v - lo) * s_lo + lo if v < lo else ((v - hi) * s_hi + hi if v > hi else v)
    elif code == 10:
        for t in range(n):
            z[t] = min(max(z[t], zero), six)
    elif code == 11:
        for t in range(n):
            z[t] = min(max(z[t] + three, zero), six) / six
    else:
        for t in range(n):
            z[t] = z[t] * (min(max(z[t] + three, zero), six) / six)
