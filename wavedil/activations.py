"""Pointwise activations applied after a convolution.

Each function works in place on a float array and returns it, so the engine
can apply it to a block without allocating another one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

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


ACTIVATIONS: dict[str, Activation] = {
    "linear": _linear,
    "tanh": _tanh,
    "relu": _relu,
    "sigmoid": _sigmoid,
}


def activation(name: str) -> Activation:
    """Return the in-place function for activation ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not one of :data:`ACTIVATIONS`.
    """
    return ACTIVATIONS[name]
