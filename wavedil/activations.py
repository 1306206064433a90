"""Pointwise activations applied after a convolution.

The names are PyTorch's ``torch.nn`` modules in lower case (with their default
parameters), so networks trained there, such as Neural Amp Modeler captures,
run unchanged.

Each function works in place on a float array and returns it, so the engine
can apply it to a block without allocating another one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import erf, expit

Activation = Callable[[np.ndarray], np.ndarray]


def _linear(x: np.ndarray) -> np.ndarray:
    return x


def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x, out=x)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # expit is the overflow-safe logistic 1 / (1 + exp(-x)).
    return expit(x, out=x)


def _hardtanh(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0, out=x)


def _leaky_relu(x: np.ndarray) -> np.ndarray:
    # PyTorch's default negative slope.
    return np.multiply(x, np.where(x < 0, x.dtype.type(0.01), x.dtype.type(1.0)), out=x)


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0, out=x)


def _hardsigmoid(x: np.ndarray) -> np.ndarray:
    x += 3.0
    np.clip(x, 0.0, 6.0, out=x)
    x /= 6.0
    return x


def _hardswish(x: np.ndarray) -> np.ndarray:
    return np.multiply(x, _hardsigmoid(x.copy()), out=x)


def _silu(x: np.ndarray) -> np.ndarray:
    return np.multiply(x, expit(x), out=x)


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|); above 20 it is
    # x itself, PyTorch's threshold.
    big = x > 20.0
    soft = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    np.copyto(x, soft, where=~big)
    return x


def _softsign(x: np.ndarray) -> np.ndarray:
    return np.divide(x, 1.0 + np.abs(x), out=x)


def _elu(x: np.ndarray) -> np.ndarray:
    np.copyto(x, np.expm1(np.minimum(x, 0)), where=x <= 0)
    return x


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x: np.ndarray) -> np.ndarray:
    _elu(x)
    np.copyto(x, x * _SELU_ALPHA, where=x < 0)
    x *= _SELU_SCALE
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    # The exact (erf) form, PyTorch's default.
    return np.multiply(x, 0.5 * (1.0 + erf(x / np.sqrt(2.0))), out=x)


def _tanhshrink(x: np.ndarray) -> np.ndarray:
    return np.subtract(x, np.tanh(x), out=x)


def _logsigmoid(x: np.ndarray) -> np.ndarray:
    x *= -1.0
    _softplus(x)
    x *= -1.0
    return x


def _mish(x: np.ndarray) -> np.ndarray:
    return np.multiply(x, np.tanh(_softplus(x.copy())), out=x)


ACTIVATIONS: dict[str, Activation] = {
    "linear": _linear,
    "tanh": _tanh,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "hardtanh": _hardtanh,
    "leaky_relu": _leaky_relu,
    "relu6": _relu6,
    "hardsigmoid": _hardsigmoid,
    "hardswish": _hardswish,
    "silu": _silu,
    "softplus": _softplus,
    "softsign": _softsign,
    "elu": _elu,
    "selu": _selu,
    "gelu": _gelu,
    "tanhshrink": _tanhshrink,
    "logsigmoid": _logsigmoid,
    "mish": _mish,
}


def activation(name: str) -> Activation:
    """Return the in-place function for activation ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not one of :data:`ACTIVATIONS`.
    """
    return ACTIVATIONS[name]
