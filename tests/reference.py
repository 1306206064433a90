"""An independent reference: the formula as a plain Python loop, sample by sample.

Deliberately slow and obvious. A layer with taps ``w[o][i][j]``, dilation
``d``, bias ``b`` and activation ``act`` computes::

    y[o][t] = act(b[o] + sum_i sum_j w[o][i][j] * x[i][t - j*d])

For ``t - j*d < 0`` the input is the constant a layer sees when the stack's
input is endless silence: the layers below, fed zeros forever, output a
constant, found here by running the stack on a single silent sample with
that constant as its past. ``same`` padding is the causal output of the
input followed by silence, shifted ``(RF-1)//2`` samples earlier.
"""

from __future__ import annotations

import math

import numpy as np

ACTS = {
    "linear": lambda v: v,
    "tanh": math.tanh,
    "relu": lambda v: max(v, 0.0),
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
}


def layer_loop(x: list[list[float]], weights, bias, dilation: int, activation: str, past: list[float]) -> list[list[float]]:
    """One layer over ``x`` (channels x time); ``past[i]`` is channel i's value before t = 0."""
    w = np.asarray(weights, dtype=float).tolist()
    out_ch, in_ch, k = len(w), len(w[0]), len(w[0][0])
    b = [float(v) for v in np.broadcast_to(np.asarray(bias, dtype=float), (out_ch,))]
    act = ACTS[activation]
    n = len(x[0]) if x else 0
    y = [[0.0] * n for _ in range(out_ch)]
    for o in range(out_ch):
        for t in range(n):
            acc = b[o]
            for i in range(in_ch):
                for j in range(k):
                    s = t - j * dilation
                    acc += w[o][i][j] * (x[i][s] if s >= 0 else past[i])
            y[o][t] = act(acc)
    return y


def stack_loop(layers: list[dict], x: np.ndarray, padding: str = "causal") -> np.ndarray:
    """The stack over ``x`` shaped (time, channels); layers as dicts of weights/bias/dilation/activation."""
    rf = 1 + sum((np.asarray(l["weights"]).shape[-1] - 1) * l["dilation"] for l in layers)
    n = len(x)
    lookahead = (rf - 1) // 2 if padding == "same" else 0
    sig = np.concatenate([x, np.zeros((lookahead, x.shape[1]))]).T.tolist()
    silent = [0.0] * x.shape[1]
    for layer in layers:
        weights = np.asarray(layer["weights"], dtype=float)
        if weights.ndim == 1:
            weights = weights[None, None, :]
        bias = layer.get("bias", 0.0)
        act = layer.get("activation", "linear")
        d = layer["dilation"]
        sig = layer_loop(sig, weights, bias, d, act, silent)
        # The constant this layer outputs after endless silence: its input was `silent` forever.
        silent = [row[0] for row in layer_loop([[v] for v in silent], weights, bias, d, act, silent)]
    y = np.asarray(sig, dtype=float).T
    return y[lookahead : lookahead + n]


def dense_kernel(layers: list[dict]) -> np.ndarray:
    """The single FIR kernel a linear mono stack equals: the dilated kernels convolved."""
    h = np.array([1.0])
    for layer in layers:
        taps = np.asarray(layer["weights"], dtype=float).ravel()
        dilated = np.zeros((len(taps) - 1) * layer["dilation"] + 1)
        dilated[:: layer["dilation"]] = taps
        h = np.convolve(h, dilated)
    return h
