"""The streaming causal dilated convolution, the engine's building block.

``y[t] = act(b + sum_j W_j @ x[t - j*d])`` on arrays shaped (batch,
channels, time). Each layer owns its input buffer: the last ``(k-1)*d``
input samples followed by room for one block. The layer before writes its
output straight into that room (:meth:`ConvRunner.input`), so a sample is
never copied between layers, and a signal cut into blocks gives the same
output as the whole signal.

**Deferred gain.** A mono layer that is linear and has no bias computes
``y / w_0``: taps ``w_j / w_0``, so its first tap is a plain add and a pair
of equal taps costs one pass over the block instead of three. The factor
``w_0`` is carried to the next layer, which folds it into its own taps, or
to the output. This is exact in real arithmetic and changes float results
only by rounding.
"""

from __future__ import annotations

import numpy as np

from .activations import activation as _activation

#: A tap ratio is only deferred when the first tap is within this factor of the largest.
_DEFER_RATIO = 16.0


class ConvRunner:
    """Streaming state and forward pass of one dilated convolution.

    Parameters
    ----------
    weights : ndarray, shape (out, in, k)
        ``weights[..., j]`` meets the sample ``j*dilation`` earlier.
    bias : ndarray, shape (out,), or None
    dilation : int
    activation : str
    batch : int
        Independent signals processed side by side.
    dtype : numpy dtype
    block : int
        Most samples per call.
    gain_in : float
        The layer's input arrives divided by this (a deferred gain); it is
        folded into the taps.
    """

    def __init__(
        self,
        weights: np.ndarray,
        bias: np.ndarray | None,
        dilation: int,
        activation: str,
        batch: int,
        dtype: np.dtype,
        block: int,
        gain_in: float = 1.0,
    ) -> None:
        out_ch, in_ch, k = weights.shape
        w = np.asarray(weights, dtype=np.float64) * gain_in
        self.dilation = dilation
        self.history = (k - 1) * dilation
        self.mono = in_ch == 1 and out_ch == 1
        has_bias = bias is not None and bool(np.any(bias))
        self.gain_out = 1.0
        if self.mono and activation == "linear" and not has_bias:
            w0, wmax = abs(w[0, 0, 0]), float(np.max(np.abs(w)))
            if w0 > 0 and w0 * _DEFER_RATIO >= wmax:
                self.gain_out = float(w[0, 0, 0])
                w = w / self.gain_out
        self.scalar_taps = [float(t) for t in w[0, 0]] if self.mono else []
        # Per-tap (out, in) matrices; for several taps one (out, k*in) matrix and one GEMM.
        self.taps = [np.ascontiguousarray(w[:, :, j], dtype=dtype) for j in range(k)]
        self.stacked_w = np.ascontiguousarray(np.concatenate(self.taps, axis=1)) if not self.mono and k > 1 else None
        self.stacked = np.empty((batch, k * in_ch, block), dtype=dtype) if self.stacked_w is not None else None
        self.bias = np.asarray(bias, dtype=dtype)[:, None] if has_bias else None
        self.linear = activation == "linear"
        self.act = _activation(activation)
        self.dtype = dtype
        self.buf = np.zeros((batch, in_ch, self.history + block), dtype=dtype)
        self.out_channels = out_ch

    def input(self, n: int) -> np.ndarray:
        """Where the next ``n`` input samples go, shaped (batch, in, n)."""
        return self.buf[..., self.history : self.history + n]

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Fill the history with the constant input ``steady_in`` (shape (in,)).

        Returns the constant the layer then outputs, computed by the same
        arithmetic as :meth:`run`, so the steady state is exact.
        """
        self.buf[...] = steady_in[None, :, None].astype(self.dtype)
        out = np.empty((self.buf.shape[0], self.out_channels, 1), dtype=self.dtype)
        self.run(1, out)
        return out[0, :, 0].copy()

    def run(self, n: int, out: np.ndarray) -> None:
        """Compute the output for the ``n`` samples in :meth:`input` into ``out`` (batch, out, n)."""
        h, d, buf = self.history, self.dilation, self.buf
        x = buf[..., h : h + n]
        if self.mono:
            taps = self.scalar_taps
            first = 1
            if len(taps) > 1 and taps[0] == 1.0:
                # y = x + w_1 x[t-d] + ...: the unit first tap joins the first add.
                past = buf[..., h - d : h - d + n]
                if taps[1] == 1.0:
                    np.add(x, past, out=out)
                else:
                    np.multiply(past, taps[1], out=out)
                    out += x
                first = 2
            else:
                np.multiply(x, taps[0], out=out)
            for j in range(first, len(taps)):
                start = h - j * d
                past = buf[..., start : start + n]
                if taps[j] == 1.0:
                    out += past
                else:
                    out += past * self.dtype.type(taps[j])
        elif self.stacked is not None:
            c = buf.shape[1]
            stacked = self.stacked[..., :n]
            for j in range(len(self.taps)):
                start = h - j * d
                stacked[:, j * c : (j + 1) * c] = buf[..., start : start + n]
            np.matmul(self.stacked_w, stacked, out=out)
        else:
            # (out, in) @ (batch, in, n) -> (batch, out, n): BLAS does the channel mixing.
            np.matmul(self.taps[0], x, out=out)
        if self.bias is not None:
            out += self.bias
        if not self.linear:
            self.act(out)
        if h:
            # Keep the last h input samples (a memmove when they overlap the block).
            buf[..., :h] = buf[..., n : n + h]
