"""The streaming causal dilated convolution, the engine's building block.

``y[t] = b + sum_j W_j @ x[t - j*d]`` on arrays shaped (batch, channels,
time). The runner keeps the last ``(k-1)*d`` input samples between calls, so
a signal cut into blocks gives the same output as the whole signal.
"""

from __future__ import annotations

import numpy as np

from .activations import activation as _activation


class ConvRunner:
    """Streaming state and forward pass of one dilated convolution.

    Parameters
    ----------
    weights : ndarray, shape (out, in, k)
        ``weights[..., j]`` meets the sample ``j*dilation`` earlier.
    bias : ndarray, shape (out,), or None
    dilation : int
    activation : str
        Applied in place after the bias.
    batch : int
        Independent signals processed side by side.
    dtype : numpy dtype
    """

    def __init__(
        self,
        weights: np.ndarray,
        bias: np.ndarray | None,
        dilation: int,
        activation: str,
        batch: int,
        dtype: np.dtype,
    ) -> None:
        out_ch, in_ch, k = weights.shape
        self.dilation = dilation
        self.history = (k - 1) * dilation
        self.mono = in_ch == 1 and out_ch == 1
        # Per-tap (out, in) matrices.
        self.taps = [np.ascontiguousarray(weights[:, :, j], dtype=dtype) for j in range(k)]
        self.scalar_taps = [dtype.type(w[0, 0]) for w in self.taps] if self.mono else []
        self.bias = None if bias is None or not np.any(bias) else np.asarray(bias, dtype=dtype)[:, None]
        self.act = _activation(activation)
        self.hist = np.zeros((batch, in_ch, self.history), dtype=dtype)

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Fill the history with the constant input ``steady_in`` (shape (in,)).

        Returns the constant the layer then outputs, computed by the same
        arithmetic as :meth:`__call__`, so the steady state is exact.
        """
        self.hist[...] = steady_in[None, :, None]
        block = np.repeat(steady_in[None, :, None], self.hist.shape[0], axis=0)
        return self(block)[0, :, 0].copy()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[-1]
        h = self.history
        buf = np.concatenate((self.hist, x), axis=-1) if h else x
        d = self.dilation
        if self.mono:
            y = x * self.scalar_taps[0]
            for j in range(1, len(self.taps)):
                start = h - j * d
                y += buf[..., start : start + n] * self.scalar_taps[j]
        else:
            # (out, in) @ (batch, in, n) -> (batch, out, n): BLAS does the channel mixing.
            y = np.matmul(self.taps[0], x)
            for j in range(1, len(self.taps)):
                start = h - j * d
                y += np.matmul(self.taps[j], buf[..., start : start + n])
        if self.bias is not None:
            y += self.bias
        if h:
            self.hist = buf[..., n:].copy()
        return self.act(y)
