"""The compiled runner of a WaveNet layer array (the ``numba`` engine): the weights in the kernel's layout.

:func:`wavedil.kernels.wavenet.array_block` computes the layers; this module
packs every layer's numbers into the flat arrays and settings table it reads
and streams blocks through it chunk by chunk. It imports no Numba: the
kernel comes from :func:`wavedil.kernels.exports.kernel` (an ahead-of-time
module when one was built).
"""

from __future__ import annotations

import numpy as np

from ..kernels.codes import (
    GATING_CODES, W_ACT, W_ACT_BOUNDS, W_ACT_SLOPES, W_BOTTLENECK, W_BUF, W_BUF_LEN, W_CHANNELS, W_CONV_B,
    W_CONV_W, W_FIELDS, W_GATING, W_H1_B, W_H1_OUT, W_H1_W, W_HAS_H1, W_HAS_L1, W_HISTORY, W_L1_B, W_L1_W, W_MID,
    W_MIX_W, W_OFFSETS, W_ROWS, W_SEC, W_SEC_BOUNDS, W_SEC_SLOPES, W_TAPS, WAVENET_CHUNK, activation_args,
)
from ..kernels.exports import kernel

CHUNK = WAVENET_CHUNK


class _Layer:
    """A layer's weights in the kernel's layout, and its input buffer."""

    def __init__(self, layer: object, batch: int, dtype: np.dtype, block: int, fast: bool) -> None:
        from ..activations import as_run

        block = min(block, CHUNK)
        c, k, d = layer.channels, layer.conv.kernel_size, layer.conv.dilation  # type: ignore[attr-defined]
        self.history = layer.history  # type: ignore[attr-defined]
        self.channels = c
        w = layer.conv.weight  # type: ignore[attr-defined]
        mid = w.shape[0]
        # Columns ordered tap by tap: input row j*C + c is channel c, j*d samples back.
        self.conv_w = np.ascontiguousarray(w.transpose(0, 2, 1).reshape(mid, k * c), dtype=dtype)
        self.conv_rows = np.tile(np.arange(c, dtype=np.int64), k)
        self.conv_offsets = np.repeat(self.history - d * np.arange(k, dtype=np.int64), c)
        self.conv_b = np.ascontiguousarray(layer.conv.bias, dtype=dtype)  # type: ignore[attr-defined]
        self.mix_w = np.ascontiguousarray(layer.mixin.weight[:, :, 0], dtype=dtype)  # type: ignore[attr-defined]
        b = layer.bottleneck  # type: ignore[attr-defined]
        self.gating = GATING_CODES[layer.gating]  # type: ignore[attr-defined]
        self.act = activation_args(as_run(layer.activation, fast), b, dtype)  # type: ignore[attr-defined]
        secondary = layer.secondary  # type: ignore[attr-defined]
        self.sec = activation_args(as_run(secondary, fast), b, dtype) if secondary is not None else activation_args("linear", b, dtype)
        self.z_rows = mid + (b if layer.gating == "blended" else 0)  # type: ignore[attr-defined]
        self.l1 = _dense(layer.layer1x1, c, b, dtype)  # type: ignore[attr-defined]
        self.h1 = _dense(layer.head1x1, 1, b, dtype)  # type: ignore[attr-defined]
        self.mid, self.bottleneck = mid, b
        self.buf_len = self.history + block


def _dense(dense: object | None, out: int, inp: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(w, b, present)`` of an optional 1x1 (placeholders when absent, so the kernel's types stay fixed)."""
    if dense is None:
        return np.zeros((out, inp), dtype=dtype), np.zeros(out, dtype=dtype), False
    w = np.ascontiguousarray(dense.weight[:, :, 0], dtype=dtype)  # type: ignore[attr-defined]
    bias = dense.bias  # type: ignore[attr-defined]
    b = np.zeros(w.shape[0], dtype=dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    return w, b, True


def _pack(layers: list[_Layer], batch: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The settings table, parameters, tap index and input buffers that :func:`wavedil.kernels.wavenet.array_block` reads."""
    params: list[np.ndarray] = []
    index: list[np.ndarray] = []
    sizes = {"params": 0, "index": 0, "state": 0}

    def put(kind: str, values: np.ndarray) -> int:
        at = sizes[kind]
        sizes[kind] += values.size
        (params if kind == "params" else index).append(values.ravel())
        return at

    rows = []
    for lr in layers:
        st = [0] * W_FIELDS
        st[W_HISTORY], st[W_GATING], st[W_ACT], st[W_SEC] = lr.history, lr.gating, lr.act[0], lr.sec[0]
        st[W_HAS_L1], st[W_HAS_H1] = int(lr.l1[2]), int(lr.h1[2])
        st[W_CHANNELS], st[W_MID], st[W_BOTTLENECK], st[W_TAPS], st[W_H1_OUT] = lr.channels, lr.mid, lr.bottleneck, lr.conv_w.shape[1], lr.h1[0].shape[0]
        st[W_BUF], st[W_BUF_LEN] = sizes["state"], lr.buf_len
        sizes["state"] += batch * lr.channels * lr.buf_len
        st[W_CONV_W], st[W_CONV_B], st[W_MIX_W] = put("params", lr.conv_w), put("params", lr.conv_b), put("params", lr.mix_w)
        st[W_ACT_SLOPES], st[W_ACT_BOUNDS] = put("params", lr.act[1]), put("params", lr.act[2])
        st[W_SEC_SLOPES], st[W_SEC_BOUNDS] = put("params", lr.sec[1]), put("params", lr.sec[2])
        st[W_L1_W], st[W_L1_B], st[W_H1_W], st[W_H1_B] = (put("params", a) for a in (*lr.l1[:2], *lr.h1[:2]))
        st[W_ROWS], st[W_OFFSETS] = put("index", lr.conv_rows), put("index", lr.conv_offsets)
        rows.append(st)
    return (
        np.array(rows, dtype=np.int64),
        np.concatenate(params, dtype=dtype),
        np.concatenate(index).astype(np.int64),
        np.zeros(sizes["state"], dtype=dtype),
    )


class CompiledArrayRunner:
    """One layer array over blocks of up to ``block`` samples: the compiled twin of the NumPy array runner.

    Same protocol: ``runner(y, cond, skip_in, prime) -> (output, head)``.
    """

    def __init__(self, arr: object, batch: int, dtype: np.dtype, block: int, fast_tanh: bool) -> None:
        from ..conv import ConvRunner

        self.cond_size = arr.condition_size  # type: ignore[attr-defined]
        # The layers' weights in the kernels' layout, until they are packed into one array.
        layers = [_Layer(layer, batch, dtype, block, fast_tanh) for layer in arr.layers]  # type: ignore[attr-defined]
        rechannel = arr.rechannel  # type: ignore[attr-defined]
        self.rechannel_w = np.ascontiguousarray(rechannel.weight[:, :, 0], dtype=dtype)
        width = arr.layers[0].head_width  # type: ignore[attr-defined]
        chunk = min(block, CHUNK)
        self.skip = np.empty((batch, width, chunk), dtype=dtype)
        self.out = np.empty((batch, arr.channels, block), dtype=dtype)  # type: ignore[attr-defined]
        head = arr.head  # type: ignore[attr-defined]
        self.head = ConvRunner(head.weight, head.bias, head.dilation, "linear", batch, dtype, block, defer_gain=False)
        self.head_out = np.empty((batch, arr.head_size, block), dtype=dtype)  # type: ignore[attr-defined]
        # Inputs are staged in buffers of their own, so every kernel sees whole C-ordered arrays
        # (one compiled signature) whatever views the caller hands over.
        self.y_stage = np.empty((batch, rechannel.in_channels, chunk), dtype=dtype)
        self.cond_stage = np.empty((batch, self.cond_size, chunk), dtype=dtype)
        self.z = np.empty((max(lr.z_rows for lr in layers), chunk), dtype=dtype)
        self.settings, self.params, self.index, self.state = _pack(layers, batch, dtype)
        rows = max(self.cond_size, rechannel.in_channels, max(lr.bottleneck for lr in layers))
        self.ramp, self.zeros = np.arange(rows, dtype=np.int64), np.zeros(rows, dtype=np.int64)
        self.zero_bias = np.zeros(max(self.z.shape[0], self.rechannel_w.shape[0]), dtype=dtype)
        self.scratch = np.empty(chunk, dtype=dtype)
        self._kernel = kernel("wavenet.array_block", dtype)

    def __call__(self, y: np.ndarray, cond: np.ndarray, skip_in: np.ndarray | None, prime: bool) -> tuple[np.ndarray, np.ndarray]:
        n = y.shape[-1]
        for start in range(0, n, CHUNK):
            stop = min(start + CHUNK, n)
            self._chunk(y[..., start:stop], cond[..., start:stop], None if skip_in is None else skip_in[..., start:stop], prime, start)
        return self.out[..., :n], self.head_out[..., :n]

    def _chunk(self, y: np.ndarray, cond: np.ndarray, skip_in: np.ndarray | None, prime: bool, start: int) -> None:
        n = y.shape[-1]
        skip = self.skip[..., :n]
        if skip_in is None:
            skip[...] = 0
        else:
            np.copyto(skip, skip_in)
        np.copyto(self.cond_stage[..., :n], cond)
        np.copyto(self.y_stage[..., :n], y)
        self._kernel(n, prime, self.y_stage, self.cond_stage, self.rechannel_w, self.settings, self.params, self.index, self.state, self.z, self.skip, self.out, start, self.ramp, self.zeros, self.zero_bias, self.scratch)
        if prime:
            self.head.hist[...] = skip[..., :1]
        self.head.run(skip, self.head_out[..., start : start + n])
