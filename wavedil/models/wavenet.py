"""NAM's WaveNet, every option of file versions 0.5 to 0.7, as NeuralAmpModelerCore runs it.

A WaveNet is a chain of *layer arrays*. Array ``a`` takes the previous
array's residual output ``y`` (the raw input ``x`` for the first) and the
condition ``c`` (the raw input, or the output of the ``condition_dsp`` model)::

    r = R @ y                                        # rechannel, 1x1, no bias
    for each layer l (kernel k_l, dilation d_l):
        u = FiLM_conv_pre(r)                         # optional
        z = b_l + sum_j W_l[j] @ u[t - j*d_l]         # dilated conv (groups_input)
        z = FiLM_conv_post(z)                        # optional
        z += FiLM_mixin_post(M_l @ FiLM_mixin_pre(c)) # input mixin, no bias (groups_input_mixin)
        z = FiLM_act_pre(z)                          # optional
        p = act(z)                                   gating_mode "none"
        p = act(z[:B]) * sec(z[B:])                  "gated"   (z has 2B rows)
        p = sec(z[B:]) * act(z[:B]) + (1 - sec(z[B:])) * z[:B]   "blended"
        p = FiLM_act_post(p)                         # optional
        r = r + O_l @ p + o_l                        # layer1x1 (r unchanged when inactive)
        s = s + (H_l @ p + h_l  or  p)               # head1x1, else p itself: the skip sum
    head = conv(s, head kernel, head dilation) (+ bias)   # starts the next array's s
    y = r

``FiLM(v) = v * (F @ c + f)[:n] + (F @ c + f)[n:]`` (the shift half only
when ``shift``). The network outputs ``head_scale * head`` of the last array,
or, with a top-level ``head``, ``conv_n(act(... conv_1(act(head_scale * head))))``.
B is the layer's ``bottleneck`` (default ``channels``).

Where NAM's Python and the Core differ, the Core is followed:
``layer1x1_post_film`` is applied only in ``blended`` layers (its weights are
read in every mode); an inactive ``layer1x1`` passes the layer input to the
next layer unchanged; ``slimmable`` arrays run at full size.

Grouped convolutions are expanded to block-diagonal matrices at load time
(the report counts only the real weights); taps are stored in wavedil's order,
``w[..., 0]`` meeting the current sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..activations import Activation
from ..engines import NUMPY, Engine
from ..kernels.codes import WAVENET_CHUNK, supports_array

if TYPE_CHECKING:
    from .wavenet_runner import WaveNetRunner

#: The FiLM slots of a layer, in the order of their weights in the flat vector.
FILM_SLOTS = (
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
)
GATING_MODES = ("none", "gated", "blended")


@dataclass(frozen=True, eq=False)
class Dense:
    """A 1x1 or dilated convolution's weights: ``(out, in, k)`` (wavedil order) and a bias.

    ``params`` counts the weights the file holds (a grouped convolution's
    matrix is block-diagonal; the zeros are not parameters).
    """

    weight: np.ndarray
    bias: np.ndarray | None
    params: int
    dilation: int = 1

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def kernel_size(self) -> int:
        return int(self.weight.shape[2])

    @property
    def history(self) -> int:
        return (self.kernel_size - 1) * self.dilation

    @property
    def macs(self) -> int:
        return self.params - (0 if self.bias is None else self.out_channels)

    @property
    def size(self) -> int:
        """Numbers the runner keeps for it: the whole matrix (a grouped one's zeros too) and the bias."""
        return self.weight.size + (0 if self.bias is None else self.bias.size)

    def input_rows(self, block: int) -> int:
        """Rows of its runner's input per signal: its history, and ``k`` stacked blocks for a kernel over 1."""
        return self.in_channels * (self.history + (self.kernel_size * block if self.kernel_size > 1 else 0))


@dataclass(frozen=True, eq=False)
class FiLM:
    """Feature-wise modulation from the condition: scale (and shift) rows ``F @ c + f``."""

    conv: Dense
    shift: bool

    @property
    def width(self) -> int:
        return self.conv.out_channels // (2 if self.shift else 1)


@dataclass(frozen=True, eq=False)
class WaveNetLayer:
    """One dilated layer of an array (see the module docstring)."""

    conv: Dense
    mixin: Dense
    activation: Activation
    gating: str
    secondary: Activation | None
    bottleneck: int
    layer1x1: Dense | None
    head1x1: Dense | None
    films: Mapping[str, FiLM] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.conv.in_channels

    @property
    def history(self) -> int:
        return self.conv.history

    @property
    def head_width(self) -> int:
        return self.head1x1.out_channels if self.head1x1 is not None else self.bottleneck

    @property
    def denses(self) -> list[Dense]:
        """Its convolutions: the dilated one, the mixin, the 1x1s that are active and the FiLMs'."""
        parts = [self.conv, self.mixin, self.layer1x1, self.head1x1]
        return [p for p in parts if p is not None] + [f.conv for f in self.films.values()]

    @property
    def parameters(self) -> int:
        return sum(d.params for d in self.denses)

    @property
    def macs(self) -> int:
        return sum(d.macs for d in self.denses)

    def stacked_rows(self, condition_size: int) -> int:
        """Rows per sample of the GEMM input its runner stacks: the condition, a row of ones, ``k`` taps of the input."""
        return condition_size + 1 + self.conv.kernel_size * self.channels

    def buffer_rows(self, condition_size: int, block: int) -> int:
        """Rows per signal of its runner's own buffers (see :meth:`WaveNet.memory_bytes`)."""
        c, mid = self.channels, self.conv.out_channels
        rows = c * (self.history + block)
        rows += (mid if self.gating != "none" else 0) + (self.head1x1.out_channels if self.head1x1 is not None else 0)
        rows += (c if "conv_pre_film" in self.films else 0) * block
        rows += (mid + condition_size) * block  # the mixin's own output and condition, when a FiLM splits them
        return rows + sum(f.conv.out_channels for f in self.films.values()) * block

    def describe_activation(self) -> str:
        if self.gating == "none":
            return self.activation.describe()
        return f"{self.activation.describe()} {self.gating} {self.secondary.describe() if self.secondary else ''}".strip()


@dataclass(frozen=True, eq=False)
class LayerArray:
    """One layer array: rechannel, layers, and the head rechannel that starts the next skip sum."""

    rechannel: Dense
    layers: tuple[WaveNetLayer, ...]
    head: Dense
    condition_size: int

    @property
    def input_size(self) -> int:
        return self.rechannel.in_channels

    @property
    def channels(self) -> int:
        return self.rechannel.out_channels

    @property
    def head_size(self) -> int:
        return self.head.out_channels

    @property
    def history(self) -> int:
        return sum(layer.history for layer in self.layers) + self.head.history

    @property
    def parameters(self) -> int:
        return self.rechannel.params + sum(layer.parameters for layer in self.layers) + self.head.params

    @property
    def macs(self) -> int:
        return self.rechannel.macs + sum(layer.macs for layer in self.layers) + self.head.macs

    @property
    def denses(self) -> list[Dense]:
        return [self.rechannel, self.head, *(d for layer in self.layers for d in layer.denses)]

    def compiled_bytes(self, batch: int, itemsize: int, block: int) -> int:
        """Bytes the compiled runner (:mod:`wavedil.models.wavenet_compiled`) allocates beyond the weights' copy.

        Per layer its input with the history for a chunk; per array one z
        scratch and a spare row, the skip sum and the staged input and
        condition for a chunk, the output and head for a block, the head's
        own buffers, a zero bias, and the packed weights (twice: the layers'
        copies exist while they are packed), tap index and settings table.
        """
        chunk = min(block, WAVENET_CHUNK)
        state = sum(layer.channels * (layer.history + chunk) for layer in self.layers)
        z = max(layer.conv.out_channels + (layer.bottleneck if layer.gating == "blended" else 0) for layer in self.layers)
        rows = state + (self.layers[0].head_width + self.input_size + self.condition_size) * chunk
        rows += (self.channels + self.head_size) * block + self.head.input_rows(block)
        packed = sum(d.size for layer in self.layers for d in layer.denses) * itemsize
        index = 8 * sum(2 * layer.conv.kernel_size * layer.channels + 32 for layer in self.layers)
        return batch * rows * itemsize + ((z + 1) * chunk + z) * itemsize + 2 * packed + index

    def buffer_rows(self, block: int) -> int:
        """Rows per signal of its runner's buffers: its layers', the stacked GEMM input, skip sum, output and head."""
        rows = sum(layer.buffer_rows(self.condition_size, block) for layer in self.layers)
        stacked = max(layer.stacked_rows(self.condition_size) for layer in self.layers)
        rows += (stacked + max(layer.bottleneck for layer in self.layers) + 1 + self.layers[0].head_width + self.channels) * block
        return rows + self.head.input_rows(block) + self.head.out_channels * block


@dataclass(frozen=True, eq=False)
class PostHead:
    """The optional top-level head: ``activation`` then a causal convolution, per stage."""

    convs: tuple[Dense, ...]
    activation: Activation

    @property
    def history(self) -> int:
        return sum(c.history for c in self.convs)

    def buffer_rows(self, block: int) -> int:
        """Rows per signal of its runner's buffers: two of the widest stage, and each convolution's input."""
        widest = max(max(c.in_channels, c.out_channels) for c in self.convs)
        return 2 * widest * block + sum(c.input_rows(block) for c in self.convs)


@dataclass(frozen=True, eq=False)
class WaveNet:
    """A NAM WaveNet: layer arrays, head scale, optional post-stack head and condition model.

    Used as one element of a :class:`~wavedil.stack.Stack`; see the module
    docstring for the computation.

    Parameters
    ----------
    arrays : tuple of LayerArray
    head_scale : float
        Factor on the last array's head output.
    post_head : PostHead or None
        NAM's top-level ``head``.
    condition_model : layer or None
        NAM's ``condition_dsp``: a nested model whose output is the condition.
    nam_config, nam_weights
        The ``config`` and flat ``weights`` this network was read from, so
        it can be written back as a ``.nam`` file unchanged.
    """

    arrays: tuple[LayerArray, ...]
    head_scale: float = 1.0
    post_head: PostHead | None = None
    condition_model: Any = None
    nam_config: Mapping[str, Any] = field(default_factory=dict)
    nam_weights: np.ndarray | None = None
    version: str = "0.5.4"

    kind = "wavenet"
    #: Its layers' GEMMs read stacked taps: the engine's larger block budget applies.
    stacks_taps = True

    @property
    def kernels_pay(self) -> bool:
        """Whether the compiled kernels compute one of its arrays or its condition model (``auto`` then takes them).

        See :func:`wavedil.engines.kernels_pay`.
        """
        return any(supports_array(arr) for arr in self.arrays) or bool(getattr(self.condition_model, "kernels_pay", False))

    @property
    def in_channels(self) -> int:
        return self.arrays[0].input_size

    @property
    def out_channels(self) -> int:
        if self.post_head is not None:
            return self.post_head.convs[-1].out_channels
        return self.arrays[-1].head_size

    @property
    def history(self) -> int | None:
        """Samples of the past the output can depend on: the arrays', heads' and condition model's."""
        own = sum(a.history for a in self.arrays) + (self.post_head.history if self.post_head else 0)
        if self.condition_model is None:
            return own
        cond = self.condition_model.history
        # A recurrent condition model (an LSTM) makes the whole network recurrent.
        return None if cond is None else own + cond

    @property
    def parameters(self) -> int:
        # head_scale is a fixed factor of the file, not a trained weight: not counted.
        total = sum(a.parameters for a in self.arrays)
        if self.post_head is not None:
            total += sum(c.params for c in self.post_head.convs)
        if self.condition_model is not None:
            total += self.condition_model.parameters
        return total

    @property
    def macs_per_sample(self) -> int:
        total = sum(a.macs for a in self.arrays)
        if self.post_head is not None:
            total += sum(c.macs for c in self.post_head.convs)
        if self.condition_model is not None:
            total += self.condition_model.macs_per_sample
        return total

    @property
    def is_linear(self) -> bool:
        return False

    def activation_names(self) -> set[str]:
        names = set()
        for arr in self.arrays:
            for layer in arr.layers:
                names.add(layer.activation.name)
                if layer.secondary is not None:
                    names.add(layer.secondary.name)
        if self.post_head is not None:
            names.add(self.post_head.activation.name)
        if self.condition_model is not None:
            names |= self.condition_model.activation_names()
        return names

    def rows(self) -> list[dict[str, Any]]:
        """One report row per rechannel, dilated layer and head."""
        rows: list[dict[str, Any]] = []
        if self.condition_model is not None:
            rows += [dict(row, kind=f"condition {row['kind']}") for row in self.condition_model.rows()]
        for a, arr in enumerate(self.arrays, start=1):
            rows.append(_row(f"wavenet {a} rechannel", arr.rechannel, "linear", arr.rechannel.params, arr.rechannel.macs))
            for layer in arr.layers:
                rows.append(
                    _row(f"wavenet {a} layer", layer.conv, layer.describe_activation(), layer.parameters, layer.macs, out=layer.channels)
                )
            rows.append(_row(f"wavenet {a} head", arr.head, "linear", arr.head.params, arr.head.macs))
        if self.post_head is not None:
            for conv in self.post_head.convs:
                rows.append(_row("wavenet post-head", conv, self.post_head.activation.describe(), conv.params, conv.macs))
        return rows

    def block_rows(self) -> int:
        """Rows per sample of a typical layer's stacked GEMM input (condition, ones, taps): the median layer's.

        The median, not the widest: in A2 two layers of kernel 15 among 21 of
        kernel 6 would halve the block for all of them (measured: 8192-sample
        blocks run A2 10% faster than 4096).
        """
        rows = sorted(layer.stacked_rows(a.condition_size) for a in self.arrays for layer in a.layers)
        return rows[len(rows) // 2]

    def graph_nodes(self, g: Any, x: int, index: int) -> int:
        """Add the network's signals to a coverage graph (:mod:`wavedil.coverage`); returns the output node.

        Rows of the dilation tree are named "array A layer L input"; residual,
        skip, mixin and FiLM paths are edges at offset 0.
        """
        where = "" if index == 1 else f"layer {index} "
        same = lambda node: (node, 1, 1)  # noqa: E731 - an edge at offset 0
        cond = x if self.condition_model is None else self.condition_model.graph_nodes(g, x, index)
        y, head = x, None
        for a, arr in enumerate(self.arrays, start=1):
            r = g.node(f"layer {index} array {a} rechannel", same(y))
            skip = head
            for li, layer in enumerate(arr.layers, start=1):
                d, k = layer.conv.dilation, layer.conv.kernel_size
                # With a FiLM before the conv, the condition reaches every tap through it.
                cond_edge = (cond, d, k) if "conv_pre_film" in layer.films else same(cond)
                conv = g.node(f"layer {index} array {a} layer {li} (d={d})", (r, d, k), cond_edge)
                g.rows.append(r)
                g.labels[r] = f"{where}array {a} layer {li} input"
                if layer.layer1x1 is not None:
                    r = g.node(f"layer {index} array {a} residual {li}", same(r), same(conv))
                edges = [same(conv)] if skip is None else [same(skip), same(conv)]
                skip = g.node(f"layer {index} array {a} skip {li}", *edges)
            head = g.node(f"layer {index} array {a} head", (skip, arr.head.dilation, arr.head.kernel_size))
            y = r
        if self.post_head is not None:
            for i, conv in enumerate(self.post_head.convs, start=1):
                head = g.node(f"layer {index} post-head {i}", (head, conv.dilation, conv.kernel_size))
        return g.node(f"layer {index} output", same(head), row=True)

    def memory_bytes(self, batch: int, itemsize: int, block: int, engine: Engine = NUMPY) -> int:
        """Bytes the runner allocates on ``engine`` (see :func:`wavedil.memory.plan_filter`).

        Its weight matrices in the working precision (grouped ones whole,
        zeros included); per layer the input buffer with the conv's history
        and the gate, head and FiLM buffers; per array the stacked GEMM
        input, the skip sum, the output and the head (an array the compiled
        kernels run: :meth:`LayerArray.compiled_bytes`); the condition
        model's and the post-head's own; and four gate-sized temporaries.
        """
        dense = [d for arr in self.arrays for d in arr.denses]
        compiled = [engine.compiled and supports_array(arr) for arr in self.arrays]
        rows = sum(arr.buffer_rows(block) for arr, c in zip(self.arrays, compiled) if not c)
        kernels = sum(arr.compiled_bytes(batch, itemsize, block) for arr, c in zip(self.arrays, compiled) if c)
        if self.post_head is not None:
            dense += list(self.post_head.convs)
            rows += self.post_head.buffer_rows(block)
        numpy_gates = [layer.conv.out_channels for arr, c in zip(self.arrays, compiled) if not c for layer in arr.layers]
        rows += self.in_channels * block  # the input scaled by a deferred gain
        rows += 4 * max(numpy_gates, default=0) * block  # activations' and FiLMs' temporaries on NumPy
        weights = sum(d.size for d in dense) * itemsize
        # A layer's GEMM matrix is concatenated in float64 before its cast.
        largest = max(layer.stacked_rows(arr.condition_size) * layer.conv.out_channels for arr in self.arrays for layer in arr.layers)
        total = weights + 8 * largest + batch * rows * itemsize + kernels
        if self.condition_model is not None:
            total += self.condition_model.memory_bytes(batch, itemsize, block, engine)
            total += batch * self.condition_model.out_channels * block * itemsize
        return total

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> "WaveNetRunner":
        from .wavenet_runner import WaveNetRunner

        return WaveNetRunner(self, batch, dtype, block, gain_in, engine=engine)

    def to_dict(self) -> dict[str, Any]:
        weights = self.nam_weights if self.nam_weights is not None else np.zeros(0)
        return {"type": "wavenet", "version": self.version, "config": dict(self.nam_config), "weights": weights.tolist()}


def _row(kind: str, conv: Dense, act: str, params: int, macs: int, out: int | None = None) -> dict[str, Any]:
    return {
        "kind": kind,
        "kernel_size": conv.kernel_size,
        "dilation": conv.dilation,
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels if out is None else out,
        "activation": act,
        "parameters": params,
        "macs_per_sample": macs,
        "span": conv.history + 1,
    }
