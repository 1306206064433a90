"""The streaming causal dilated convolution, the engine's building block.

``y[t] = act(b + sum_j W_j @ x[t - j*d])`` on arrays shaped (batch,
channels, time). A layer keeps the last ``(k-1)*d`` samples of its input
between calls; a tap that reaches back past the start of a block reads its
first samples from that history and the rest from the block itself, so the
layer reads its input where it lies and a signal cut into blocks gives the
same output as the whole signal.

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
from .activations import as_run
from .engines import NUMPY, Engine

#: A tap ratio is only deferred when the first tap is within this factor of the largest.
_DEFER_RATIO = 16.0
#: Bounds of a deferred gain (so stored signals stay well within float32's range).
_MIN_GAIN, _MAX_GAIN = 1e-12, 1e12


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
    defer_gain : bool
        Whether a mono linear layer may defer its first tap (see above);
        a caller that reads the output directly, not through the engine,
        passes False.
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
        *,
        defer_gain: bool = True,
        engine: Engine = NUMPY,
    ) -> None:
        out_ch, in_ch, k = weights.shape
        w = np.asarray(weights, dtype=np.float64) * gain_in
        self.dilation = dilation
        self.history = (k - 1) * dilation
        self.mono = in_ch == 1 and out_ch == 1
        has_bias = bias is not None and bool(np.any(bias))
        self.gain_out = 1.0
        if defer_gain and self.mono and activation == "linear" and not has_bias:
            w0, wmax = abs(w[0, 0, 0]), float(np.max(np.abs(w)))
            # The signal between layers is the true one divided by the gain: keep the gain
            # where that stays far inside float32's range.
            if w0 > 0 and w0 >= wmax / _DEFER_RATIO and _MIN_GAIN <= w0 <= _MAX_GAIN:
                self.gain_out = float(w[0, 0, 0])
                w = w / self.gain_out
        self.scalar_taps = [float(t) for t in w[0, 0]] if self.mono else []
        # Per-tap (out, in) matrices; for several taps one (out, k*in) matrix and one GEMM.
        self.taps = [np.ascontiguousarray(w[:, :, j], dtype=dtype) for j in range(k)]
        self.stacked_w = np.ascontiguousarray(np.concatenate(self.taps, axis=1)) if not self.mono and k > 1 else None
        self.stacked = np.empty((batch, k * in_ch, block), dtype=dtype) if self.stacked_w is not None else None
        self.bias = np.asarray(bias, dtype=dtype)[:, None] if has_bias else None
        self.linear = activation == "linear"
        self.act = _activation(as_run(activation, engine.fast_tanh))
        self.dtype = dtype
        self.hist = np.zeros((batch, in_ch, self.history), dtype=dtype)
        self.out_channels = out_ch

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Fill the history with the constant input ``steady_in`` (shape (in,)).

        Returns the constant the layer then outputs, computed by the same
        arithmetic as :meth:`run`, so the steady state is exact.
        """
        self.hist[...] = steady_in[None, :, None].astype(self.dtype)
        x = np.repeat(steady_in[None, :, None].astype(self.dtype), self.hist.shape[0], axis=0)
        out = np.empty((self.hist.shape[0], self.out_channels, 1), dtype=self.dtype)
        self.run(x, out)
        return out[0, :, 0].copy()

    def _past(self, x: np.ndarray, lag: int) -> list[tuple[slice, np.ndarray]]:
        """The input ``lag`` samples earlier than each sample of ``x``, as (output range, source) pieces."""
        n, h = x.shape[-1], self.history
        if lag == 0:
            return [(slice(0, n), x)]
        if lag >= n:
            return [(slice(0, n), self.hist[..., h - lag : h - lag + n])]
        return [(slice(0, lag), self.hist[..., h - lag :]), (slice(lag, n), x[..., : n - lag])]

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        """Filter ``x`` (batch, in, n) into ``out`` (batch, out, n), then remember the input's tail."""
        d = self.dilation
        if self.mono:
            taps = self.scalar_taps
            first = 1
            if len(taps) > 1 and taps[0] == 1.0:
                # y = x + w_1 x[t-d] + ...: the unit first tap joins the first add.
                for sl, past in self._past(x, d):
                    if taps[1] == 1.0:
                        np.add(x[..., sl], past, out=out[..., sl])
                    else:
                        np.multiply(past, taps[1], out=out[..., sl])
                        out[..., sl] += x[..., sl]
                first = 2
            else:
                np.multiply(x, taps[0], out=out)
            for j in range(first, len(taps)):
                for sl, past in self._past(x, j * d):
                    if taps[j] == 1.0:
                        out[..., sl] += past
                    else:
                        out[..., sl] += past * self.dtype.type(taps[j])
        elif self.stacked is not None:
            c, n = x.shape[1], x.shape[-1]
            stacked = self.stacked[..., :n]
            for j in range(len(self.taps)):
                for sl, past in self._past(x, j * d):
                    stacked[:, j * c : (j + 1) * c, sl] = past
            np.matmul(self.stacked_w, stacked, out=out)
        else:
            # (out, in) @ (batch, in, n) -> (batch, out, n): BLAS does the channel mixing.
            np.matmul(self.taps[0], x, out=out)
        if self.bias is not None:
            out += self.bias
        if not self.linear:
            self.act(out)
        self._remember(x)

    def _remember(self, x: np.ndarray) -> None:
        n, h = x.shape[-1], self.history
        if not h:
            return
        if n >= h:
            self.hist[...] = x[..., n - h :]
        else:
            self.hist[..., : h - n] = self.hist[..., n:]
            self.hist[..., h - n :] = x
