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

**Compiled kernels.** On the ``numba`` engine (see :mod:`wavedil.engines`)
a layer runs :func:`wavedil.kernels.conv.conv`: taps, bias and activation in
one pass per tile, the history kept as a ring so a block costs the same at
any dilation. :func:`fuse_chains` joins consecutive mono layers into one
:class:`MonoChain`, which carries each tile through all of them while it is
in the cache. Activations the kernel does not compute (see
:data:`wavedil.kernels.codes.ACTIVATION_CODES`) are applied after it by NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import Activation, as_run
from .activations import activation as _activation
from .engines import NUMPY, Engine
from .kernels.codes import ACTIVATION_CODES, CONV_TILE, activation_args, name_of

#: A tap ratio is only deferred when the first tap is within this factor of the largest.
_DEFER_RATIO = 16.0
#: Bounds of a deferred gain (so stored signals stay well within float32's range).
_MIN_GAIN, _MAX_GAIN = 1e-12, 1e12
#: Largest ``out * in`` channel pairs for which a layer runs the compiled kernel rather than BLAS. Measured
#: (five tanh layers, k=3, float32): compiled 1.1-2.2x faster up to 16x16, BLAS 1.4x faster at 32x32, 3.2x at 64x64.
_COMPILED_MAX_PAIRS = 256
def kernel_activation(act: str | Activation, libm: bool = False) -> tuple[int, np.ndarray] | None:
    """The compiled kernels' code and parameters (float64, 4) for ``act``, or None when they do not compute it.

    ``p[0]`` is the negative slope (LeakyReLU, a single-slope PReLU), ``p``
    LeakyHardtanh's bounds and slopes. ``libm``: float64 arithmetic, where the
    kernels' tanh and sigmoid are libm's; NAM's fast tanh is then NumPy's
    (the kernels' constants are float32).

    Examples
    --------
    >>> kernel_activation(Activation("leaky_relu", {"negative_slope": 0.2}))[0], kernel_activation("gelu")
    (4, None)
    """
    name = name_of(act)
    if name not in ACTIVATION_CODES or (libm and name == "fast_tanh"):
        return None
    if name == "prelu" and isinstance(act, Activation) and act.channels is not None:
        return None  # one slope per channel: the plain kernels take one slope per layer
    code, slopes, bounds = activation_args(act, 1, np.dtype(np.float64))
    if code == ACTIVATION_CODES["leaky_relu"]:
        bounds[0] = slopes[0]
    return code, bounds


def flat_rows(a: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """A flat contiguous view of (batch, channels, n) ``a`` from its first element to its last, and its two row strides in elements.

    None when its rows are not contiguous. The compiled kernels take arrays
    this way: Numba vectorizes loops only over arrays it knows are contiguous.
    """
    item = a.itemsize
    sb, sc, st = a.strides
    if st != item or sb < 0 or sc < 0 or sb % item or sc % item or a.size == 0:
        return None
    n = a.shape[2]
    if a.flags.c_contiguous:
        # A free view (as_strided costs about 18 us a call, which blocks of a few samples would feel).
        return a.reshape(-1), a.shape[1] * n, n
    span = (a.shape[0] - 1) * (sb // item) + (a.shape[1] - 1) * (sc // item) + n
    return np.lib.stride_tricks.as_strided(a, shape=(span,), strides=(item,)), sb // item, sc // item


def _compiled_pays(out_ch: int, in_ch: int, k: int) -> bool:
    """Whether the compiled kernel beats NumPy (BLAS) for a layer of this shape (measured; see the README)."""
    return out_ch * in_ch <= _COMPILED_MAX_PAIRS


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
        self._setup_kernel(w, bias if has_bias else None, as_run(activation, engine.fast_tanh), batch, engine)

    def _setup_kernel(self, w: np.ndarray, bias: np.ndarray | None, act: Any, batch: int, engine: Engine) -> None:
        """Choose the compiled kernel when the engine asks for it and it pays for this shape."""
        out_ch, in_ch, k = w.shape
        self.engine = "numba" if engine.compiled and _compiled_pays(out_ch, in_ch, k) else "numpy"
        if self.engine == "numpy":
            return
        from .kernels.exports import kernel

        self._kernel = kernel("conv.conv", self.dtype)
        self.kernel_w = np.ascontiguousarray(w, dtype=self.dtype)
        self.kernel_b = np.zeros(out_ch, dtype=self.dtype) if bias is None else np.asarray(bias, dtype=self.dtype)
        coded = kernel_activation(act, libm=self.dtype == np.float64)
        self.code, self.params = coded if coded is not None else (0, np.zeros(4))
        # An activation the kernel lacks runs after it, in place; the NumPy path's function stays for that.
        self.post = None if coded is not None else self.act
        # The history as rings (see wavedil.kernels.conv); self.hist is the NumPy path's.
        self.hist = np.zeros(0, dtype=self.dtype)
        self.stacked = None
        self.ring = np.zeros(batch * in_ch * self.history, dtype=self.dtype)
        self.pos = np.zeros(batch, dtype=np.int64)

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Fill the history with the constant input ``steady_in`` (shape (in,)).

        Returns the constant the layer then outputs, computed by the same
        arithmetic as :meth:`run`, so the steady state is exact.
        """
        batch = self.pos.size if self.engine == "numba" else self.hist.shape[0]
        if self.engine == "numba":
            self.ring.reshape(batch, len(steady_in), self.history)[...] = steady_in[None, :, None].astype(self.dtype)
            self.pos[:] = 0
        else:
            self.hist[...] = steady_in[None, :, None].astype(self.dtype)
        x = np.repeat(steady_in[None, :, None].astype(self.dtype), batch, axis=0)
        out = np.empty((batch, self.out_channels, 1), dtype=self.dtype)
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
        if self.engine == "numba":
            self._run_compiled(x, out)
            return
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

    def _run_compiled(self, x: np.ndarray, out: np.ndarray) -> None:
        xs = flat_rows(x) or flat_rows(np.ascontiguousarray(x))
        os_ = flat_rows(out)
        target = out if os_ is not None else np.empty(out.shape, dtype=out.dtype)
        xf, xb, xc = xs  # type: ignore[misc]
        of, ob, oc = os_ or flat_rows(target)  # type: ignore[misc]
        self._kernel(xf, xb, xc, of, ob, oc, x.shape[-1], self.ring, self.pos, self.kernel_w, self.kernel_b, self.dilation, self.code, self.params)
        if target is not out:
            out[...] = target
        if self.post is not None:
            self.post(out)

    def _remember(self, x: np.ndarray) -> None:
        n, h = x.shape[-1], self.history
        if not h:
            return
        if n >= h:
            self.hist[...] = x[..., n - h :]
        else:
            self.hist[..., : h - n] = self.hist[..., n:]
            self.hist[..., h - n :] = x


class MonoChain:
    """Consecutive compiled mono layers run as one (see :func:`wavedil.kernels.conv.mono_chain`).

    Built by :func:`fuse_chains` from their :class:`ConvRunner` objects
    (after their deferred gains were settled); streams blocks as a runner does.
    """

    def __init__(self, members: list[ConvRunner]) -> None:
        from .kernels.exports import kernel

        dtype = members[0].dtype
        self._kernel = kernel("conv.mono_chain", dtype)
        batch = members[0].pos.size
        layers = len(members)
        ks = [m.kernel_w.shape[2] for m in members]
        self.w = np.zeros((layers, 1, 1, max(ks)), dtype=dtype)
        for l, m in enumerate(members):
            self.w[l, :, :, : ks[l]] = m.kernel_w
        self.ks = np.array(ks, dtype=np.int64)
        self.d = np.array([m.dilation for m in members], dtype=np.int64)
        self.bias = np.array([m.kernel_b[0] for m in members], dtype=dtype)
        self.code = np.array([m.code for m in members], dtype=np.int64)
        self.params = np.array([m.params for m in members], dtype=np.float64)
        self.histories = [m.history for m in members]
        self.off = np.concatenate(([0], np.cumsum([batch * h for h in self.histories])[:-1])).astype(np.int64)
        self.rings = np.zeros(batch * sum(self.histories), dtype=dtype)
        self.pos = np.zeros((layers, batch), dtype=np.int64)
        self.tmp = np.empty(2 * CONV_TILE, dtype=dtype)
        self.dtype, self.batch = dtype, batch
        self.gain_out = members[-1].gain_out
        self.out_channels = 1
        self.engine = "numba"
        self.layer_engines = ["numba"] * layers

    def _call(self, x: np.ndarray, out: np.ndarray, layers: slice) -> None:
        xf, xb, _ = flat_rows(x) or flat_rows(np.ascontiguousarray(x))  # type: ignore[misc]
        target = out if flat_rows(out) is not None else np.empty(out.shape, dtype=out.dtype)
        of, ob, _ = flat_rows(target)  # type: ignore[misc]
        l = layers
        self._kernel(xf, xb, of, ob, x.shape[-1], self.rings, self.off[l], self.pos[l], self.w[l], self.ks[l], self.d[l], self.bias[l], self.code[l], self.params[l], self.tmp)
        if target is not out:
            out[...] = target

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Fill every layer's history with the constant it receives under the constant input ``steady_in``; returns the output constant."""
        steady = np.asarray(steady_in, dtype=self.dtype).reshape(1)
        for l, h in enumerate(self.histories):
            start = self.off[l]
            self.rings[start : start + self.batch * h] = steady[0]
            self.pos[l] = 0
            x = np.full((self.batch, 1, 1), steady[0], dtype=self.dtype)
            out = np.empty_like(x)
            self._call(x, out, slice(l, l + 1))
            steady = out[0, :, 0].copy()
        return steady

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        """Filter ``x`` (batch, 1, n) through every layer into ``out`` (batch, 1, n)."""
        self._call(x, out, slice(None))


def fuse_chains(runners: list[Any]) -> list[Any]:
    """``runners`` with each run of two or more consecutive compiled mono :class:`ConvRunner` objects joined into a :class:`MonoChain`.

    Only layers whose activation the kernel computes join; a chain takes over
    its members' (still empty) state, so call this before priming.
    """
    out: list[Any] = []
    run: list[ConvRunner] = []

    def close() -> None:
        if len(run) > 1:
            out.append(MonoChain(run))
        else:
            out.extend(run)
        run.clear()

    for r in runners:
        if isinstance(r, ConvRunner) and r.engine == "numba" and r.mono and r.post is None:
            run.append(r)
        else:
            close()
            out.append(r)
    close()
    return out
