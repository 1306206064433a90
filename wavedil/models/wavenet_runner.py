"""The streaming forward pass of a NAM :class:`~wavedil.models.wavenet.WaveNet` on NumPy.

Arrays are (batch, channels, time). Per layer, the condition, a row of ones
and the k taps of the layer input are stacked once, so that taps, input
mixin and bias are a single GEMM ``z = [M b W_0 .. W_{k-1}] @ [c; 1; u[t]; ..;
u[t-(k-1)d]]`` when no FiLM sits between them; the layer1x1 with its bias is
another, written straight into the next layer's input buffer. All buffers
are allocated once, for the longest block.
"""

from __future__ import annotations

import numpy as np

from ..activations import activation as _activation
from ..activations import as_run
from ..conv import ConvRunner
from ..engines import NUMPY, Engine
from ..kernels.codes import supports_array
from .wavenet import FiLM, LayerArray, WaveNet, WaveNetLayer


def _aug(dense_weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``[W b]`` for a 1x1 weight ``(out, in, 1)``: the bias meets a row of ones."""
    w = dense_weight[:, :, 0]
    b = np.zeros(w.shape[0]) if bias is None else bias
    return np.concatenate([w, b[:, None]], axis=1)


class _FiLMRunner:
    """``v * s + t`` with ``[s; t] = F @ c + f``, the condition taken with its row of ones."""

    def __init__(self, film: FiLM, batch: int, dtype: np.dtype, block: int) -> None:
        self.w = _aug(film.conv.weight, film.conv.bias).astype(dtype)
        self.width = film.width
        self.shift = film.shift
        self.ss = np.empty((batch, self.w.shape[0], block), dtype=dtype)

    def __call__(self, v: np.ndarray, cond1: np.ndarray, out: np.ndarray) -> None:
        n = v.shape[-1]
        ss = self.ss[..., :n]
        np.matmul(self.w, cond1, out=ss)
        np.multiply(v, ss[:, : self.width], out=out)
        if self.shift:
            out += ss[:, self.width :]


class _LayerRunner:
    def __init__(self, layer: WaveNetLayer, cond_size: int, batch: int, dtype: np.dtype, block: int, engine: Engine) -> None:
        c, k, b = layer.channels, layer.conv.kernel_size, layer.bottleneck
        self.layer = layer
        self.channels, self.kernel_size, self.dilation = c, k, layer.conv.dilation
        self.history = layer.history
        self.bottleneck = b
        self.gating = layer.gating
        self.act = _activation(as_run(layer.activation, engine.fast_tanh))
        self.secondary = None if layer.secondary is None else _activation(as_run(layer.secondary, engine.fast_tanh))
        films = {slot: _FiLMRunner(f, batch, dtype, block) for slot, f in layer.films.items()}
        self.conv_pre = films.get("conv_pre_film")
        self.conv_post = films.get("conv_post_film")
        self.mixin_pre = films.get("input_mixin_pre_film")
        self.mixin_post = films.get("input_mixin_post_film")
        self.act_pre = films.get("activation_pre_film")
        self.act_post = films.get("activation_post_film")
        # The Core applies layer1x1_post_film in blended layers only.
        self.l1_post = films.get("layer1x1_post_film") if layer.gating == "blended" else None
        self.h1_post = films.get("head1x1_post_film")
        # Taps, mixin and bias in one GEMM unless a FiLM modulates the conv or mixin output on its own.
        self.fused = self.conv_post is None and self.mixin_pre is None and self.mixin_post is None
        taps = [layer.conv.weight[:, :, j] for j in range(k)]
        bias = layer.conv.bias[:, None]
        mixin = layer.mixin.weight[:, :, 0]
        if self.fused:
            w_cat = np.concatenate([mixin, bias, *taps], axis=1)
        else:
            w_cat = np.concatenate([np.zeros_like(mixin), bias, *taps], axis=1)
            self.mixin_w = mixin.astype(dtype)
            self.m = np.empty((batch, mixin.shape[0], block), dtype=dtype)
            self.cond_f = np.empty((batch, cond_size, block), dtype=dtype) if self.mixin_pre is not None else None
        # sigmoid(g) = (1 + tanh(g/2)) / 2: the gate rows are halved (exact, a power of two), so
        # one tanh serves the gate, and the whole of z when the primary activation is tanh too.
        self.tanh_gate = (
            layer.gating == "gated" and self.fused and self.act_pre is None and layer.secondary is not None and layer.secondary.name == "sigmoid"
        )
        if self.tanh_gate:
            w_cat[b:] *= 0.5
        self.w_cat = np.ascontiguousarray(w_cat, dtype=dtype)
        self.rows = self.w_cat.shape[1]
        self.l1 = _aug(layer.layer1x1.weight, layer.layer1x1.bias).astype(dtype) if layer.layer1x1 is not None else None
        self.h1 = _aug(layer.head1x1.weight, layer.head1x1.bias).astype(dtype) if layer.head1x1 is not None else None
        # The conv's input with its history: buf[..., :history] holds the past.
        self.buf = np.zeros((batch, c, self.history + block), dtype=dtype)
        # With a FiLM before the conv the residual input lives apart from the conv's (modulated) input.
        self.r_own = np.empty((batch, c, block), dtype=dtype) if self.conv_pre is not None else None
        mid = layer.conv.out_channels
        self.z = np.empty((batch, mid, block), dtype=dtype) if layer.gating != "none" else None
        self.h = np.empty((batch, layer.head1x1.out_channels, block), dtype=dtype) if layer.head1x1 is not None else None

    def input_view(self, n: int) -> np.ndarray:
        """Where the previous stage writes this layer's input ``r`` for a block of ``n``."""
        if self.r_own is not None:
            return self.r_own[..., :n]
        return self.buf[..., self.history : self.history + n]

    def shift(self, n: int) -> None:
        h = self.history
        if h:
            self.buf[..., :h] = self.buf[..., n : n + h]


class _ArrayRunner:
    """One layer array over blocks of up to ``block`` samples."""

    def __init__(self, arr: LayerArray, batch: int, dtype: np.dtype, block: int, engine: Engine) -> None:
        self.cond_size = arr.condition_size
        self.rechannel = np.ascontiguousarray(arr.rechannel.weight[:, :, 0], dtype=dtype)
        self.layers = [_LayerRunner(layer, arr.condition_size, batch, dtype, block, engine) for layer in arr.layers]
        rows = max(lr.rows for lr in self.layers)
        # [condition; ones; taps...]: the condition and the ones are written once per block.
        self.stacked = np.empty((batch, rows, block), dtype=dtype)
        self.stacked[:, arr.condition_size] = 1
        bmax = max(lr.bottleneck for lr in self.layers)
        self.p = np.empty((batch, bmax + 1, block), dtype=dtype)
        # The row of ones under p that meets the layer1x1's and head1x1's bias (the bottleneck is the array's).
        self.p[:, bmax] = 1
        self.skip = np.empty((batch, arr.layers[0].head_width, block), dtype=dtype)
        self.out = np.empty((batch, arr.channels, block), dtype=dtype)
        self.head = ConvRunner(arr.head.weight, arr.head.bias, arr.head.dilation, "linear", batch, dtype, block, defer_gain=False)
        self.head_out = np.empty((batch, arr.head_size, block), dtype=dtype)

    def __call__(self, y: np.ndarray, cond: np.ndarray, skip_in: np.ndarray | None, prime: bool) -> tuple[np.ndarray, np.ndarray]:
        n = y.shape[-1]
        cs = self.cond_size
        stacked = self.stacked[..., :n]
        stacked[:, :cs] = cond
        cond1 = stacked[:, : cs + 1]
        skip = self.skip[..., :n]
        layers = self.layers
        r = layers[0].input_view(n)
        np.matmul(self.rechannel, y, out=r)
        for i, lr in enumerate(layers):
            h, d, c, b = lr.history, lr.dilation, lr.channels, lr.bottleneck
            buf = lr.buf
            if lr.conv_pre is not None:
                lr.conv_pre(r, cond1, buf[..., h : h + n])
            if prime:
                buf[..., :h] = buf[..., h : h + 1]
            base = cs + 1
            for j in range(lr.kernel_size):
                stacked[:, base + j * c : base + (j + 1) * c] = buf[..., h - j * d : h - j * d + n]
            p = self.p[:, :b, :n]
            z = p if lr.z is None else lr.z[..., :n]
            np.matmul(lr.w_cat, stacked[:, : lr.rows], out=z)
            if not lr.fused:
                if lr.conv_post is not None:
                    lr.conv_post(z, cond1, z)
                m = lr.m[..., :n]
                if lr.mixin_pre is not None:
                    cf = lr.cond_f[..., :n]
                    lr.mixin_pre(cond, cond1, cf)
                    np.matmul(lr.mixin_w, cf, out=m)
                else:
                    np.matmul(lr.mixin_w, cond, out=m)
                if lr.mixin_post is not None:
                    lr.mixin_post(m, cond1, m)
                z += m
            if lr.act_pre is not None:
                lr.act_pre(z, cond1, z)
            self._activate(lr, z, p)
            if lr.act_post is not None:
                lr.act_post(p, cond1, p)
            # The skip sum: head1x1 of p, or p itself.
            if lr.h1 is not None:
                contrib = lr.h[..., :n]
                np.matmul(lr.h1, self.p[:, : b + 1, :n], out=contrib)
                if lr.h1_post is not None:
                    lr.h1_post(contrib, cond1, contrib)
            else:
                contrib = p
            if i == 0:
                if skip_in is None:
                    np.copyto(skip, contrib)
                else:
                    np.add(skip_in, contrib, out=skip)
            else:
                skip += contrib
            r_next = layers[i + 1].input_view(n) if i + 1 < len(layers) else self.out[..., :n]
            if lr.l1 is not None:
                np.matmul(lr.l1, self.p[:, : b + 1, :n], out=r_next)
                if lr.l1_post is not None:
                    lr.l1_post(r_next, cond1, r_next)
                r_next += r
            else:
                np.copyto(r_next, r)
            lr.shift(n)
            r = r_next
        head = self.head_out[..., :n]
        if prime:
            self.head.hist[...] = skip[..., :1]
        self.head.run(skip, head)
        return r, head

    @staticmethod
    def _activate(lr: _LayerRunner, z: np.ndarray, p: np.ndarray) -> None:
        """``p`` (bottleneck rows) from ``z``; in "none" mode they are the same array."""
        b = lr.bottleneck
        if lr.gating == "none":
            lr.act(z)
            return
        top, gate = z[:, :b], z[:, b:]
        if lr.gating == "gated":
            if lr.tanh_gate:
                if lr.act.name == "tanh":
                    np.tanh(z, out=z)
                else:
                    lr.act(top)
                    np.tanh(gate, out=gate)
                np.add(gate, 1, out=gate)
                np.multiply(top, gate, out=p)
                p *= 0.5
            else:
                lr.act(top)
                lr.secondary(gate)
                np.multiply(top, gate, out=p)
            return
        # blended: alpha * act(z) + (1 - alpha) * z, alpha = secondary(gate)
        np.copyto(p, top)
        lr.act(p)
        lr.secondary(gate)
        p -= top
        p *= gate
        p += top


def _array_runner(arr: LayerArray, batch: int, dtype: np.dtype, block: int, engine: Engine) -> "_ArrayRunner":
    """The compiled array runner when the engine has one for this array, else the NumPy one."""
    if engine.compiled and supports_array(arr):
        from .wavenet_compiled import CompiledArrayRunner

        return CompiledArrayRunner(arr, batch, dtype, block, engine.fast_tanh)  # type: ignore[return-value]
    return _ArrayRunner(arr, batch, dtype, block, engine)


class WaveNetRunner:
    """Streaming forward pass of a NAM WaveNet (the engine's runner protocol)."""

    def __init__(self, net: WaveNet, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> None:
        self.net = net
        self.dtype = dtype
        self.arrays = [_array_runner(arr, batch, dtype, block, engine) for arr in net.arrays]
        compiled = [not isinstance(a, _ArrayRunner) for a in self.arrays]
        self.engine = "numba" if all(compiled) else "numpy"
        self.head_scale = dtype.type(net.head_scale)
        self.gain_in = None if gain_in == 1.0 else dtype.type(gain_in)
        self.gain_out = 1.0
        self.batch = batch
        self.scaled = np.empty((batch, net.in_channels, block), dtype=dtype) if self.gain_in is not None else None
        self.cond_runner = net.condition_model.runner(batch, dtype, block, engine=engine) if net.condition_model is not None else None
        self.cond = (
            np.empty((batch, net.condition_model.out_channels, block), dtype=dtype) if self.cond_runner is not None else None
        )
        self.cond_const: np.ndarray | None = None
        self.post = None
        if net.post_head is not None:
            self.post = [ConvRunner(c.weight, c.bias, c.dilation, "linear", batch, dtype, block, defer_gain=False) for c in net.post_head.convs]
            self.post_act = _activation(as_run(net.post_head.activation, engine.fast_tanh))
            widest = max(max(c.in_channels, c.out_channels) for c in net.post_head.convs)
            self.post_bufs = [np.empty((batch, widest, block), dtype=dtype) for _ in range(2)]
        self.out_channels = net.out_channels

    def _forward(self, x: np.ndarray, out: np.ndarray, prime: bool) -> None:
        n = x.shape[-1]
        if self.scaled is not None:
            x = np.multiply(x, self.gain_in, out=self.scaled[..., :n])
        if self.cond_runner is None:
            cond = x
        elif prime:
            cond = np.broadcast_to(self.cond_const[None, :, None], (x.shape[0], self.cond.shape[1], n))
        else:
            cond = self.cond[..., :n]
            self.cond_runner.run(x, cond)
        y, skip = x, None
        for arr in self.arrays:
            y, skip = arr(y, cond, skip, prime)
        if self.post is None:
            np.multiply(skip, self.head_scale, out=out)
            return
        v = np.multiply(skip, self.head_scale, out=self.post_bufs[0][:, : skip.shape[1], :n])
        for i, conv in enumerate(self.post):
            self.post_act(v)
            dst = out if i + 1 == len(self.post) else self.post_bufs[(i + 1) % 2][:, : conv.out_channels, :n]
            if prime:
                conv.hist[...] = v[..., :1]
            conv.run(v, dst)
            v = dst

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Put every layer in the steady state of the constant input; return the constant output.

        ``steady_in`` arrives as every input does, divided by the gain the
        layers before deferred (``gain_in``): :meth:`_forward` applies it, and
        the condition model sees the input it applies it to.
        """
        if self.cond_runner is not None:
            scaled = steady_in if self.gain_in is None else steady_in * self.gain_in
            self.cond_const = self.cond_runner.prime(scaled).astype(self.dtype)
        x = np.repeat(steady_in[None, :, None].astype(self.dtype), self.batch, axis=0)
        out = np.empty((self.batch, self.out_channels, 1), dtype=self.dtype)
        self._forward(x, out, prime=True)
        return out[0, :, 0].copy()

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        """Filter ``x`` (batch, in, n) into ``out`` (batch, out, n)."""
        self._forward(x, out, prime=False)
