"""What the compiled kernels compute, without importing Numba.

The activation codes the kernels switch on, their parameters in the kernels'
layout, and which WaveNet layer arrays the compiled runner takes: the memory
planner and the runners ask before any kernel is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..activations import Activation

#: Activation names the kernels compute, with their codes (PReLU and LeakyReLU share one: per-row slopes).
ACTIVATION_CODES = {
    "linear": 0,
    "tanh": 1,
    "fast_tanh": 2,
    "relu": 3,
    "leaky_relu": 4,
    "prelu": 4,
    "sigmoid": 5,
    "hardtanh": 6,
    "leaky_hardtanh": 7,
    "silu": 8,
    "softsign": 9,
    "relu6": 10,
    "hardsigmoid": 11,
    "hardswish": 12,
}
#: The activations computed through tanh or a division (the rest are piecewise linear): where NumPy is slowest.
SMOOTH_ACTIVATIONS = frozenset({"tanh", "fast_tanh", "sigmoid", "silu", "softsign"})
GATING_CODES = {"none": 0, "gated": 1, "blended": 2}
#: Samples per WaveNet kernel pass: an output row and the four input rows a pass reads stay in the
#: L1 cache (4 KiB each in float32); the engine's longer blocks are cut into such chunks.
WAVENET_CHUNK = 1024
#: Samples per tile of the plain convolution kernels: the two float32 tiles between layers (128 KiB)
#: stay in the L2 cache. Measured on W1 (13 mono layers): 0.18 ns per layer and sample at 16384, 0.34
#: at 4096, 0.55 at 1024 (fixed costs per tile).
CONV_TILE = 16384
#: Which tanh and sigmoid an LSTM layer computes: the rational ones, the Core's fast ones, libm's.
LSTM_RATIONAL, LSTM_FAST, LSTM_LIBM = 0, 1, 2
#: The compiled LSTM layer of each mode (:mod:`wavedil.kernels.lstm`).
LSTM_KERNELS = ("lstm.rational_layer", "lstm.fast_layer", "lstm.libm_layer")

# Columns of a WaveNet layer array's settings table (one row per layer): sizes, codes and where
# each layer's numbers start in the shared parameter, index and state arrays
# (:func:`wavedil.kernels.wavenet.array_block` reads it, :mod:`wavedil.models.wavenet_compiled` packs it).
(W_HISTORY, W_GATING, W_ACT, W_SEC, W_HAS_L1, W_HAS_H1, W_CHANNELS, W_MID, W_BOTTLENECK, W_TAPS, W_H1_OUT, W_BUF,
 W_BUF_LEN, W_CONV_W, W_CONV_B, W_MIX_W, W_ACT_SLOPES, W_ACT_BOUNDS, W_SEC_SLOPES, W_SEC_BOUNDS, W_L1_W, W_L1_B,
 W_H1_W, W_H1_B, W_ROWS, W_OFFSETS, W_FIELDS) = range(27)  # fmt: skip


def name_of(act: Activation | str) -> str:
    return act.name if isinstance(act, Activation) else act


def activation_args(act: Activation | str, rows: int, dtype: np.dtype) -> tuple[int, np.ndarray, np.ndarray]:
    """``(code, slopes, bounds)`` of an activation for the kernels.

    ``slopes`` holds one negative slope per row (LeakyReLU, PReLU),
    ``bounds`` LeakyHardtanh's ``min_val, max_val, min_slope, max_slope``,
    both in the working precision.

    Examples
    --------
    >>> code, slopes, bounds = activation_args(Activation("leaky_relu", {"negative_slope": 0.2}), 2, np.dtype(np.float32))
    >>> code, slopes.tolist()
    (4, [0.20000000298023224, 0.20000000298023224])
    """
    act = act if isinstance(act, Activation) else Activation(act)
    p = dict(act.params)
    slopes = np.zeros(rows, dtype=dtype)
    bounds = np.zeros(4, dtype=dtype)
    if act.name in ("leaky_relu", "prelu"):
        slopes[:] = p["negative_slopes"] if "negative_slopes" in p else p.get("negative_slope", 0.01)
    if act.name == "leaky_hardtanh":
        bounds[:] = [p["min_val"], p["max_val"], p["min_slope"], p["max_slope"]]
    return ACTIVATION_CODES[act.name], slopes, bounds


def supports_array(arr: Any) -> bool:
    """Whether the compiled runner computes this WaveNet layer array (else the NumPy runner does).

    Not: FiLM modulations, activations without a code.
    """
    for layer in arr.layers:
        if layer.films:
            return False
        for act in (layer.activation, layer.secondary):
            if act is not None and name_of(act) not in ACTIVATION_CODES:
                return False
    return True
