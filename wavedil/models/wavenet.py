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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..activations import Activation, activation_from_name, parse_nam_activation
from ..errors import SpecError

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
    def parameters(self) -> int:
        parts = [self.conv, self.mixin, self.layer1x1, self.head1x1]
        return sum(p.params for p in parts if p is not None) + sum(f.conv.params for f in self.films.values())

    @property
    def macs(self) -> int:
        parts = [self.conv, self.mixin, self.layer1x1, self.head1x1]
        return sum(p.macs for p in parts if p is not None) + sum(f.conv.macs for f in self.films.values())

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


@dataclass(frozen=True, eq=False)
class PostHead:
    """The optional top-level head: ``activation`` then a causal convolution, per stage."""

    convs: tuple[Dense, ...]
    activation: Activation

    @property
    def history(self) -> int:
        return sum(c.history for c in self.convs)


@dataclass(frozen=True, eq=False)
class WaveNet:
    """A NAM WaveNet: layer arrays, head scale, optional post-stack head and condition model.

    Used as one element of a :class:`~wavedil.spec.Stack`; see the module
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
        rows = sorted(a.condition_size + 1 + layer.conv.kernel_size * layer.channels for a in self.arrays for layer in a.layers)
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

    def memory_bytes(self, batch: int, itemsize: int, block: int) -> int:
        """Bytes the runner allocates (see :func:`wavedil.memory.plan_filter`).

        Its weight matrices in the working precision (grouped ones whole,
        zeros included); per layer the input buffer with the conv's history
        and the gate, head and FiLM buffers; per array the stacked GEMM
        input, the skip sum, the output and the head; the condition model's
        and the post-head's own; and four gate-sized temporaries.
        """
        dense = [arr.rechannel for arr in self.arrays] + [arr.head for arr in self.arrays]
        rows = 0
        widest_gate = 0
        for arr in self.arrays:
            stacked = 0
            for layer in arr.layers:
                c, mid = layer.channels, layer.conv.out_channels
                dense += [layer.conv, layer.mixin, *(d for d in (layer.layer1x1, layer.head1x1) if d is not None)]
                dense += [f.conv for f in layer.films.values()]
                stacked = max(stacked, arr.condition_size + 1 + layer.conv.kernel_size * c)
                widest_gate = max(widest_gate, mid)
                rows += c * (layer.history + block)
                rows += (mid if layer.gating != "none" else 0) + (layer.head1x1.out_channels if layer.head1x1 is not None else 0)
                rows += (c if "conv_pre_film" in layer.films else 0) * block
                rows += (mid + arr.condition_size) * block  # the mixin's own output and condition, when a FiLM splits them
                rows += sum(f.conv.out_channels for f in layer.films.values()) * block
            rows += (stacked + max(layer.bottleneck for layer in arr.layers) + 1 + arr.layers[0].head_width + arr.channels) * block
            head = arr.head
            rows += head.in_channels * (head.history + (head.kernel_size * block if head.kernel_size > 1 else 0)) + head.out_channels * block
        if self.post_head is not None:
            dense += list(self.post_head.convs)
            widest = max(max(c.in_channels, c.out_channels) for c in self.post_head.convs)
            rows += 2 * widest * block
            rows += sum(c.in_channels * (c.history + (c.kernel_size * block if c.kernel_size > 1 else 0)) for c in self.post_head.convs)
        rows += self.in_channels * block  # the input scaled by a deferred gain
        rows += 4 * widest_gate * block  # activations' and FiLMs' temporaries
        weights = sum(d.weight.size + (0 if d.bias is None else d.bias.size) for d in dense) * itemsize
        # A layer's GEMM matrix is concatenated in float64 before its cast.
        largest = max((arr.condition_size + 1 + l.conv.kernel_size * l.channels) * l.conv.out_channels for arr in self.arrays for l in arr.layers)
        total = weights + 8 * largest + batch * rows * itemsize
        if self.condition_model is not None:
            total += self.condition_model.memory_bytes(batch, itemsize, block)
            total += batch * self.condition_model.out_channels * block * itemsize
        return total

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0) -> "WaveNetRunner":
        from .wavenet_runner import WaveNetRunner

        return WaveNetRunner(self, batch, dtype, block, gain_in)

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


# ---------------------------------------------------------------------------
# Reading NAM's config and flat weights (the Core's parse_config_json and set_weights_)


class _Weights:
    """A cursor over the flat weight vector, in the Core's order.

    When the vector runs short the cursor goes on counting without
    allocating (zero-strided views), so the error can say how many numbers
    the config needs.
    """

    def __init__(self, flat: np.ndarray, max_dense: int) -> None:
        self.flat = flat
        self.pos = 0
        self.short = False
        self.max_dense = max_dense

    def take(self, n: int) -> np.ndarray:
        if self.short or self.pos + n > self.flat.size:
            self.short = True
            self.pos += n
            return np.broadcast_to(0.0, (n,))
        out = self.flat[self.pos : self.pos + n]
        self.pos += n
        return out

    def conv(self, cin: int, cout: int, k: int, *, bias: bool, groups: int, dilation: int, what: str) -> Dense:
        """A (grouped) convolution: per group, (out/g, in/g, k) in PyTorch order, then the bias."""
        if cin % groups or cout % groups:
            raise SpecError(f"{what}: groups {groups} must divide both {cin} input and {cout} output channels", field="groups")
        if cout * cin * k > self.max_dense:
            raise SpecError(f"{what}: {cout} x {cin} x {k} weights exceed the limit of {self.max_dense}", field="weights")
        og, ig = cout // groups, cin // groups
        params = og * ig * k * groups + (cout if bias else 0)
        blocks = [self.take(og * ig * k) for _ in range(groups)]
        b = self.take(cout).copy() if bias else None
        if self.short:
            return Dense(weight=np.broadcast_to(0.0, (cout, cin, k)), bias=b, params=params, dilation=dilation)
        w = np.zeros((cout, cin, k))
        for g, block in enumerate(blocks):
            # PyTorch's last tap meets the current sample; wavedil's first does.
            w[g * og : (g + 1) * og, g * ig : (g + 1) * ig, :] = block.reshape(og, ig, k)[:, :, ::-1]
        w.setflags(write=False)
        if b is not None:
            b.setflags(write=False)
        return Dense(weight=w, bias=b, params=params, dilation=dilation)


def _int(value: Any, where: str, *, limit: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be an integer, got {value!r}", field=where)
    if value < minimum:
        raise SpecError(f"must be at least {minimum}, got {value}", field=where)
    if value > limit:
        raise SpecError(f"{value} exceeds the limit of {limit}", field=where)
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"must be true or false, got {value!r}", field=where)
    return value


def _per_layer(value: Any, n: int, where: str) -> list[Any]:
    """A per-layer list, or one value repeated for every layer."""
    if isinstance(value, list):
        if len(value) != n:
            raise SpecError(f"has {len(value)} entries but the array has {n} layers (dilations)", field=where)
        return list(value)
    return [value] * n


_ARRAY_KEYS = {
    "input_size", "condition_size", "head_size", "head_bias", "head", "channels", "bottleneck", "kernel_size",
    "kernel_sizes", "dilations", "activation", "gated", "gating_mode", "secondary_activation", "groups_input",
    "groups_input_mixin", "layer1x1", "head1x1", "slimmable", *FILM_SLOTS,
}
_CONFIG_KEYS = {"layers", "head", "head_scale", "condition_dsp", "in_channels"}


def wavenet_from_nam(
    config: Mapping[str, Any],
    flat: np.ndarray,
    *,
    limits: Mapping[str, int],
    version: str = "0.5.4",
    condition_model: Any = None,
    parse_activation: Callable[..., Activation] = parse_nam_activation,
) -> WaveNet:
    """Build a :class:`WaveNet` from a ``.nam`` file's ``config`` and flat ``weights``.

    Follows NeuralAmpModelerCore's parser: the 0.5 keys (``kernel_size``,
    ``activation`` names, ``gated``, ``head_size``/``head_bias``) and the
    0.6/0.7 ones (``kernel_sizes``, activation objects per layer,
    ``gating_mode`` and ``secondary_activation``, ``bottleneck``, ``head``,
    ``head1x1``, ``layer1x1``, groups, FiLM slots, ``slimmable``). The last
    weight is ``head_scale``, as in the Core (the config's copy is ignored).
    ``condition_model`` is the already-built ``condition_dsp``;
    ``parse_activation`` reads an activation entry (NAM's names by default,
    wavedil's own for its spec form).

    Raises
    ------
    SpecError
        Naming the field (``config.layers[i].key``) that is wrong.
    """
    unknown = sorted(set(map(str, config)) - _CONFIG_KEYS)
    if unknown:
        raise SpecError(f"unknown WaveNet option(s) {', '.join(unknown)}; known: {', '.join(sorted(_CONFIG_KEYS))}", field="config")
    raw_arrays = config.get("layers")
    if not isinstance(raw_arrays, list) or not raw_arrays:
        raise SpecError("must be a non-empty list of layer arrays", field="config.layers")
    if len(raw_arrays) > limits["layers"]:
        raise SpecError(f"{len(raw_arrays)} arrays exceed the limit of {limits['layers']}", field="config.layers")
    weights = _Weights(flat, limits["parameters"])
    arrays, post_head, in_channels = _read(config, weights, limits, parse_activation)
    if weights.short or flat.size != weights.pos + 1:
        expected = weights.pos + 1
        raise SpecError(
            f"expected {expected} numbers for this config ({weights.pos} weights and head_scale), found {flat.size}",
            field="weights",
        )
    head_scale = float(flat[-1])
    net = WaveNet(
        arrays=tuple(arrays),
        head_scale=head_scale,
        post_head=post_head,
        condition_model=condition_model,
        nam_config=config,
        nam_weights=flat,
        version=version,
    )
    _check_shapes(net, in_channels)
    return net


def _read(
    config: Mapping[str, Any], weights: _Weights, limits: Mapping[str, int], parse_activation: Callable[..., Activation]
) -> tuple[list[LayerArray], PostHead | None, int]:
    """The layer arrays, post-stack head and input channels of a config, taking their weights from ``weights``."""
    in_channels = _int(config.get("in_channels", 1), "config.in_channels", limit=limits["channels"])
    arrays = [_array(raw, i, weights, limits, parse_activation) for i, raw in enumerate(config["layers"])]
    post_head = None
    if config.get("head") is not None:
        post_head = _post_head(config["head"], arrays[-1].head_size, weights, limits, parse_activation)
    return arrays, post_head, in_channels


def nam_weight_count(config: Mapping[str, Any], *, limits: Mapping[str, int]) -> int:
    """How many numbers a WaveNet ``config`` takes in a ``.nam`` file's ``weights``, ``head_scale`` included.

    Examples
    --------
    >>> arr = {"input_size": 1, "condition_size": 1, "head_size": 1, "head_bias": False, "channels": 2,
    ...        "kernel_size": 3, "dilations": [1, 2], "activation": "Tanh"}
    >>> nam_weight_count({"layers": [arr]}, limits={"kernel_size": 8, "dilation": 8, "channels": 8,
    ...                  "layers": 8, "parameters": 10**6})
    39
    """
    raw_arrays = config.get("layers")
    if not isinstance(raw_arrays, list) or not raw_arrays:
        raise SpecError("must be a non-empty list of layer arrays", field="config.layers")
    weights = _Weights(np.zeros(0), limits["parameters"])
    _read(config, weights, limits, parse_nam_activation)
    return weights.pos + 1


def _check_shapes(net: WaveNet, in_channels: int) -> None:
    first = net.arrays[0]
    if first.input_size != in_channels:
        raise SpecError(f"is {first.input_size} but the network has in_channels {in_channels}", field="config.layers[0].input_size")
    cond = net.condition_model.out_channels if net.condition_model is not None else in_channels
    if net.condition_model is not None and net.condition_model.in_channels != in_channels:
        raise SpecError(
            f"takes {net.condition_model.in_channels} channel(s) but the WaveNet input has {in_channels}", field="config.condition_dsp"
        )
    for i, arr in enumerate(net.arrays):
        if arr.condition_size != cond:
            raise SpecError(f"is {arr.condition_size} but the condition has {cond} channel(s)", field=f"config.layers[{i}].condition_size")
    for i, (prev, arr) in enumerate(zip(net.arrays, net.arrays[1:]), start=1):
        if arr.input_size != prev.channels:
            raise SpecError(f"is {arr.input_size} but array {i - 1} has {prev.channels} channels", field=f"config.layers[{i}].input_size")
        width = arr.layers[0].head_width
        if prev.head_size != width:
            raise SpecError(
                f"array {i - 1}'s head gives {prev.head_size} channel(s) but array {i}'s skip sum has {width}",
                field=f"config.layers[{i - 1}].head_size",
            )


def _array(raw: Any, i: int, weights: _Weights, limits: Mapping[str, int], parse_activation: Callable[..., Activation]) -> LayerArray:
    where = f"config.layers[{i}]"
    if not isinstance(raw, Mapping):
        raise SpecError(f"must be an object, got {type(raw).__name__}", field=where)
    unknown = sorted(set(map(str, raw)) - _ARRAY_KEYS)
    if unknown:
        raise SpecError(f"unknown option(s) {', '.join(unknown)}", field=where)
    ch_limit = limits["channels"]

    def req(key: str) -> Any:
        if key not in raw:
            raise SpecError("is required", field=f"{where}.{key}")
        return raw[key]

    input_size = _int(req("input_size"), f"{where}.input_size", limit=ch_limit)
    condition_size = _int(req("condition_size"), f"{where}.condition_size", limit=ch_limit)
    channels = _int(req("channels"), f"{where}.channels", limit=ch_limit)
    bottleneck = _int(raw.get("bottleneck", channels), f"{where}.bottleneck", limit=ch_limit)
    dilations = req("dilations")
    if not isinstance(dilations, list) or not dilations:
        raise SpecError("must be a non-empty list of positive integers", field=f"{where}.dilations")
    if len(dilations) > limits["layers"]:
        raise SpecError(f"{len(dilations)} layers exceed the limit of {limits['layers']}", field=f"{where}.dilations")
    dilations = [_int(d, f"{where}.dilations", limit=limits["dilation"]) for d in dilations]
    n = len(dilations)

    if "kernel_size" in raw and "kernel_sizes" in raw:
        raise SpecError("give kernel_size or kernel_sizes, not both", field=where)
    if "kernel_sizes" in raw:
        ks = raw["kernel_sizes"]
        if not isinstance(ks, list):
            raise SpecError("must be a list", field=f"{where}.kernel_sizes")
        kernel_sizes = [_int(k, f"{where}.kernel_sizes", limit=limits["kernel_size"]) for k in _per_layer(ks, n, f"{where}.kernel_sizes")]
    elif "kernel_size" in raw:
        kernel_sizes = [_int(raw["kernel_size"], f"{where}.kernel_size", limit=limits["kernel_size"])] * n
    else:
        raise SpecError("give kernel_size or kernel_sizes", field=where)

    if "activation" not in raw:
        raise SpecError("is required", field=f"{where}.activation")
    acts_raw = raw["activation"]
    acts_list = _per_layer(acts_raw, n, f"{where}.activation") if isinstance(acts_raw, list) else [acts_raw] * n
    activations = [parse_activation(a, field=f"{where}.activation") for a in acts_list]

    gatings, secondaries = _gating(raw, n, where, parse_activation)

    groups_input = _int(raw.get("groups_input", 1), f"{where}.groups_input", limit=ch_limit)
    groups_mixin = _int(raw.get("groups_input_mixin", 1), f"{where}.groups_input_mixin", limit=ch_limit)
    l1_active, l1_groups = True, 1
    if raw.get("layer1x1") is not None:
        l1 = _object(raw["layer1x1"], f"{where}.layer1x1")
        l1_active = _bool(l1.get("active", True), f"{where}.layer1x1.active")
        l1_groups = _int(l1.get("groups", 1), f"{where}.layer1x1.groups", limit=ch_limit)
    h1_active, h1_out, h1_groups = False, channels, 1
    if raw.get("head1x1") is not None:
        h1 = _object(raw["head1x1"], f"{where}.head1x1")
        h1_active = _bool(h1.get("active", False), f"{where}.head1x1.active")
        h1_out = _int(h1.get("out_channels", channels), f"{where}.head1x1.out_channels", limit=ch_limit)
        h1_groups = _int(h1.get("groups", 1), f"{where}.head1x1.groups", limit=ch_limit)
    films = {slot: _film_params(raw.get(slot), f"{where}.{slot}", ch_limit) for slot in FILM_SLOTS}
    if not l1_active:
        if bottleneck != channels:
            raise SpecError(f"bottleneck {bottleneck} must equal channels {channels} when layer1x1 is inactive", field=f"{where}.bottleneck")
        if films["layer1x1_post_film"] is not None:
            raise SpecError("cannot be active when layer1x1 is inactive", field=f"{where}.layer1x1_post_film")
    if not h1_active and films["head1x1_post_film"] is not None:
        raise SpecError("cannot be active without an active head1x1", field=f"{where}.head1x1_post_film")

    head_size, head_k, head_d, head_bias = _array_head(raw, where, limits)
    if raw.get("slimmable") is not None and not isinstance(raw["slimmable"], Mapping):
        raise SpecError("must be an object or null", field=f"{where}.slimmable")

    rechannel = weights.conv(input_size, channels, 1, bias=False, groups=1, dilation=1, what=f"{where} rechannel")
    layers = []
    for li in range(n):
        lw = f"{where} layer {li}"
        gating = gatings[li]
        mid = bottleneck * (1 if gating == "none" else 2)
        activations[li].check_channels(bottleneck, f"{where}.activation")
        if secondaries[li] is not None:
            secondaries[li].check_channels(bottleneck, f"{where}.secondary_activation")
        conv = weights.conv(channels, mid, kernel_sizes[li], bias=True, groups=groups_input, dilation=dilations[li], what=f"{lw} conv")
        mixin = weights.conv(condition_size, mid, 1, bias=False, groups=groups_mixin, dilation=1, what=f"{lw} input mixin")
        layer1x1 = weights.conv(bottleneck, channels, 1, bias=True, groups=l1_groups, dilation=1, what=f"{lw} layer1x1") if l1_active else None
        head1x1 = weights.conv(bottleneck, h1_out, 1, bias=True, groups=h1_groups, dilation=1, what=f"{lw} head1x1") if h1_active else None
        widths = {
            "conv_pre_film": channels,
            "conv_post_film": mid,
            "input_mixin_pre_film": condition_size,
            "input_mixin_post_film": mid,
            "activation_pre_film": mid,
            "activation_post_film": bottleneck,
            "layer1x1_post_film": channels,
            "head1x1_post_film": h1_out,
        }
        layer_films = {}
        for slot in FILM_SLOTS:
            params = films[slot]
            if params is None:
                continue
            shift, groups = params
            width = widths[slot] * (2 if shift else 1)
            conv_f = weights.conv(condition_size, width, 1, bias=True, groups=groups, dilation=1, what=f"{lw} {slot}")
            layer_films[slot] = FiLM(conv=conv_f, shift=shift)
        layers.append(
            WaveNetLayer(
                conv=conv,
                mixin=mixin,
                activation=activations[li],
                gating=gating,
                secondary=secondaries[li],
                bottleneck=bottleneck,
                layer1x1=layer1x1,
                head1x1=head1x1,
                films=layer_films,
            )
        )
    head_in = h1_out if h1_active else bottleneck
    head = weights.conv(head_in, head_size, head_k, bias=head_bias, groups=1, dilation=head_d, what=f"{where} head")
    return LayerArray(rechannel=rechannel, layers=tuple(layers), head=head, condition_size=condition_size)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"must be an object, got {value!r}", field=where)
    return value


def _film_params(value: Any, where: str, ch_limit: int) -> tuple[bool, int] | None:
    """``(shift, groups)`` of an active FiLM slot, None when absent, false or inactive."""
    if value is None or value is False:
        return None
    film = _object(value, where)
    if not _bool(film.get("active", True), f"{where}.active"):
        return None
    return _bool(film.get("shift", True), f"{where}.shift"), _int(film.get("groups", 1), f"{where}.groups", limit=ch_limit)


def _gating(
    raw: Mapping[str, Any], n: int, where: str, parse_activation: Callable[..., Activation]
) -> tuple[list[str], list[Activation | None]]:
    """Per-layer gating modes and secondary activations (Sigmoid when a gated layer names none)."""
    if "gating_mode" in raw:
        modes = _per_layer(raw["gating_mode"], n, f"{where}.gating_mode")
        for m in modes:
            if m not in GATING_MODES:
                raise SpecError(f"must be one of {', '.join(GATING_MODES)}, got {m!r}", field=f"{where}.gating_mode")
    elif "gated" in raw:
        modes = ["gated" if _bool(raw["gated"], f"{where}.gated") else "none"] * n
    else:
        modes = ["none"] * n
    sec_raw = raw.get("secondary_activation")
    secs = _per_layer(sec_raw, n, f"{where}.secondary_activation") if isinstance(sec_raw, list) else [sec_raw] * n
    secondaries: list[Activation | None] = []
    for mode, sec in zip(modes, secs):
        if mode == "none":
            secondaries.append(None)
        elif sec is None:
            secondaries.append(activation_from_name("sigmoid"))
        else:
            secondaries.append(parse_activation(sec, field=f"{where}.secondary_activation"))
    return modes, secondaries


def _array_head(raw: Mapping[str, Any], where: str, limits: Mapping[str, int]) -> tuple[int, int, int, bool]:
    """``(head_size, kernel_size, dilation, bias)``: the nested ``head`` or the legacy ``head_size``/``head_bias``."""
    head = raw.get("head")
    if head is not None:
        head = _object(head, f"{where}.head")
        for key in ("out_channels", "kernel_size", "bias"):
            if key not in head:
                raise SpecError("is required", field=f"{where}.head.{key}")
        return (
            _int(head["out_channels"], f"{where}.head.out_channels", limit=limits["channels"]),
            _int(head["kernel_size"], f"{where}.head.kernel_size", limit=limits["kernel_size"]),
            _int(head.get("head_dilation", 1), f"{where}.head.head_dilation", limit=limits["dilation"]),
            _bool(head["bias"], f"{where}.head.bias"),
        )
    if "head_size" not in raw:
        raise SpecError("give a head object or the legacy head_size and head_bias", field=where)
    if "head_bias" not in raw:
        raise SpecError("is required with head_size", field=f"{where}.head_bias")
    return _int(raw["head_size"], f"{where}.head_size", limit=limits["channels"]), 1, 1, _bool(raw["head_bias"], f"{where}.head_bias")


def _post_head(
    raw: Any, in_channels: int, weights: _Weights, limits: Mapping[str, int], parse_activation: Callable[..., Activation]
) -> PostHead:
    raw = _object(raw, "config.head")
    for key in ("channels", "out_channels", "kernel_sizes", "activation"):
        if key not in raw:
            raise SpecError("is required", field=f"config.head.{key}")
    if raw.get("in_channels") is not None and raw["in_channels"] != in_channels:
        raise SpecError(f"is {raw['in_channels']!r} but the last array's head gives {in_channels}", field="config.head.in_channels")
    channels = _int(raw["channels"], "config.head.channels", limit=limits["channels"])
    out = _int(raw["out_channels"], "config.head.out_channels", limit=limits["channels"])
    ks = raw["kernel_sizes"]
    if not isinstance(ks, list) or not ks or len(ks) > limits["layers"]:
        raise SpecError("must be a non-empty list of kernel sizes", field="config.head.kernel_sizes")
    ks = [_int(k, "config.head.kernel_sizes", limit=limits["kernel_size"]) for k in ks]
    act = parse_activation(raw["activation"], field="config.head.activation")
    convs, cin = [], in_channels
    for i, k in enumerate(ks):
        cout = out if i + 1 == len(ks) else channels
        act.check_channels(cin, "config.head.activation")
        convs.append(weights.conv(cin, cout, k, bias=True, groups=1, dilation=1, what=f"config.head conv {i}"))
        cin = cout
    return PostHead(convs=tuple(convs), activation=act)
