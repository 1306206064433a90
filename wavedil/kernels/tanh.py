"""tanh for compiled kernels: an accurate rational approximation, and NAM's plugin one.

``tanh(x) ~ x * P(x^2) / Q(x^2)`` with ``P`` of degree 4 and ``Q`` of degree
4 in ``x^2``, for ``|x| <= 9`` (beyond, tanh is 1 to within 3e-8 and the input
is clamped). The coefficients are a weighted least-squares fit of tanh on
[0, 9] (Lawson's iteration towards the minimax error; the script is
``tests/fixtures/fit_tanh.py``). Evaluated in float32 the approximation is
within 4e-7 of tanh over all floats (tested on a dense grid against
``np.tanh`` in float64). It uses only multiplies, adds, one division and
two comparisons, so the compiler vectorizes it, where libm's ``tanhf`` is a
scalar call.

:func:`fast_tanh` is NeuralAmpModelerCore's approximation (within 4e-4), for
``fast_tanh=True``: the plugin always uses it.

In float64 (``dtype=float64``, asked for precision) :func:`tanh` and
:func:`sigmoid` are libm's, exact to rounding: the compiled engine then
matches the NumPy one to 1e-12.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

# float32 constants: Numba freezes globals with their type, so float32 arithmetic stays float32
# (8 lanes of AVX2, not 4), while float64 inputs promote them exactly.
_F = np.float32
#: |x| beyond which tanh(x) is taken as +-1 (1 - tanh(9) = 3.0e-8).
CLAMP = _F(9.0)
_ONE, _HALF = _F(1.0), _F(0.5)
_P0, _P1, _P2, _P3, _P4 = _F(0.9999999062623969), _F(0.13373223116472663), _F(0.0034866125761381477), _F(2.0472352944099406e-05), _F(1.3184972474933332e-08)
_Q1, _Q2, _Q3, _Q4 = _F(0.46706519952151476), _F(0.025842094680170836), _F(0.00032714363546363945), _F(7.702965215926338e-07)
# NeuralAmpModelerCore's fast_tanh coefficients (NAM/activations.h).
_A, _B, _C, _D, _E = _F(2.45550750702956), _F(0.893229853513558), _F(0.821226666969744), _F(2.44506634652299), _F(0.814642734961073)


def tanh(x):  # type: ignore[no-untyped-def]
    """tanh(x): within 4e-7 in float32 (rational), libm's in float64 (see the overload below).

    This body runs only with Numba's JIT disabled (``NUMBA_DISABLE_JIT=1``).
    """
    return math.tanh(x) if isinstance(x, float) else _rational_tanh(x)


def sigmoid(x):  # type: ignore[no-untyped-def]
    """``1 / (1 + exp(-x))``: within 2e-7 in float32, libm's in float64 (see the overload below).

    This body runs only with Numba's JIT disabled (``NUMBA_DISABLE_JIT=1``).
    """
    return 1.0 / (1.0 + math.exp(-x)) if isinstance(x, float) else _HALF + _HALF * _rational_tanh(_HALF * x)


@overload(tanh, inline="always")
def _tanh_for(x):  # type: ignore[no-untyped-def]
    if x == types.float64:
        return lambda x: math.tanh(x)
    return lambda x: _rational_tanh(x)


@overload(sigmoid, inline="always")
def _sigmoid_for(x):  # type: ignore[no-untyped-def]
    if x == types.float64:
        return lambda x: 1.0 / (1.0 + math.exp(-x))
    # (1 + tanh(x / 2)) / 2, from the rational tanh (within 2e-7).
    return lambda x: _HALF + _HALF * _rational_tanh(_HALF * x)


@numba.njit(inline="always", cache=True)
def _rational_tanh(x):  # type: ignore[no-untyped-def]
    """tanh(x) within 4.1e-7 over all float32 (see the module docstring)."""
    x = min(max(x, -CLAMP), CLAMP)
    s = x * x
    p = x * (_P0 + s * (_P1 + s * (_P2 + s * (_P3 + s * _P4))))
    q = _ONE + s * (_Q1 + s * (_Q2 + s * (_Q3 + s * _Q4)))
    return p / q


@numba.njit(inline="always", cache=True)
def fast_tanh(x):  # type: ignore[no-untyped-def]
    """NeuralAmpModelerCore's ``fast_tanh`` (see :func:`wavedil.activations.fast_tanh`)."""
    ax = abs(x)
    x2 = x * x
    return (x * (_A + _A * ax + (_B + _C * ax) * x2)) / (_D + (_D + x2) * abs(x + _E * x * ax))


@numba.njit(inline="always", cache=True)
def fast_sigmoid(x):  # type: ignore[no-untyped-def]
    """NeuralAmpModelerCore's ``fast_sigmoid``: ``(fast_tanh(x / 2) + 1) / 2``."""
    return _HALF * (fast_tanh(x * _HALF) + _ONE)
