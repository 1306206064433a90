"""NAM's WaveNet config and flat weights read into a :class:`~wavedil.models.wavenet.WaveNet`.

This is NeuralAmpModelerCore's ``parse_config_json`` and ``set_weights_``:
the keys of file versions 0.5 to 0.7 (see :func:`wavenet_from_nam`), and the
flat vector taken in the Core's order, per array: the rechannel, then per
layer the dilated convolution (per group, ``(out/g, in/g, k)`` in PyTorch's
order, then the bias), the input mixin, the ``layer1x1``, the ``head1x1``
and the FiLMs in :data:`~wavedil.models.wavenet.FILM_SLOTS` order; then the
array's head; then the post-stack head; last, ``head_scale``. Every count is
checked against the limits before anything is allocated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..activations import Activation, activation_from_name, parse_nam_activation
from ..errors import SpecError
from ..fields import boolean, positive_int, refuse_unknown
from .wavenet import FILM_SLOTS, GATING_MODES, Dense, FiLM, LayerArray, PostHead, WaveNet, WaveNetLayer


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


def _int(value: Any, where: str, *, limit: int) -> int:
    return positive_int(value, limit, field=where)


def _bool(value: Any, where: str) -> bool:
    return boolean(value, field=where)


def _per_layer(value: Any, n: int, where: str) -> list[Any]:
    """A per-layer list, or one value repeated for every layer."""
    if isinstance(value, list):
        if len(value) != n:
            raise SpecError(f"has {len(value)} entries but the array has {n} layers (dilations)", field=where)
        return list(value)
    return [value] * n


_ARRAY_KEYS = tuple(
    sorted(
        {
            "input_size", "condition_size", "head_size", "head_bias", "head", "channels", "bottleneck", "kernel_size",
            "kernel_sizes", "dilations", "activation", "gated", "gating_mode", "secondary_activation", "groups_input",
            "groups_input_mixin", "layer1x1", "head1x1", "slimmable", *FILM_SLOTS,
        }
    )
)
_CONFIG_KEYS = ("condition_dsp", "head", "head_scale", "in_channels", "layers")


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
    refuse_unknown(config, _CONFIG_KEYS, what="WaveNet option", field="config")
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
    ...                  "layers": 8, "parameters": 10**6})  # 2 + 2*(2*2*3 + 2 + 2 + 2*2 + 2) + 2 + 1
    49
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


@dataclass(frozen=True)
class _ArrayPlan:
    """One array's settings, read and checked, before any weight is taken."""

    where: str
    input_size: int
    condition_size: int
    channels: int
    bottleneck: int
    dilations: list[int]
    kernel_sizes: list[int]
    activations: list[Activation]
    gatings: list[str]
    secondaries: list[Activation | None]
    groups_input: int
    groups_mixin: int
    layer1x1: tuple[bool, int]
    head1x1: tuple[bool, int, int]
    films: Mapping[str, tuple[bool, int] | None]
    head: tuple[int, int, int, bool]

    def film_widths(self, gating: str) -> dict[str, int]:
        """The rows each FiLM slot modulates in a layer of this gating mode."""
        mid = self.bottleneck * (1 if gating == "none" else 2)
        return {
            "conv_pre_film": self.channels,
            "conv_post_film": mid,
            "input_mixin_pre_film": self.condition_size,
            "input_mixin_post_film": mid,
            "activation_pre_film": mid,
            "activation_post_film": self.bottleneck,
            "layer1x1_post_film": self.channels,
            "head1x1_post_film": self.head1x1[1],
        }


def _array(raw: Any, i: int, weights: _Weights, limits: Mapping[str, int], parse_activation: Callable[..., Activation]) -> LayerArray:
    """Layer array ``i`` of a config, its weights taken from ``weights``."""
    plan = _plan_array(raw, f"config.layers[{i}]", limits, parse_activation)
    where = plan.where
    rechannel = weights.conv(plan.input_size, plan.channels, 1, bias=False, groups=1, dilation=1, what=f"{where} rechannel")
    layers = tuple(_layer(plan, li, weights) for li in range(len(plan.dilations)))
    head_size, head_k, head_d, head_bias = plan.head
    head_in = plan.head1x1[1] if plan.head1x1[0] else plan.bottleneck
    head = weights.conv(head_in, head_size, head_k, bias=head_bias, groups=1, dilation=head_d, what=f"{where} head")
    return LayerArray(rechannel=rechannel, layers=layers, head=head, condition_size=plan.condition_size)


def _plan_array(raw: Any, where: str, limits: Mapping[str, int], parse_activation: Callable[..., Activation]) -> _ArrayPlan:
    if not isinstance(raw, Mapping):
        raise SpecError(f"must be an object, got {type(raw).__name__}", field=where)
    refuse_unknown(raw, _ARRAY_KEYS, what="option", field=where)
    ch_limit = limits["channels"]
    input_size = _int(_required(raw, "input_size", where), f"{where}.input_size", limit=ch_limit)
    condition_size = _int(_required(raw, "condition_size", where), f"{where}.condition_size", limit=ch_limit)
    channels = _int(_required(raw, "channels", where), f"{where}.channels", limit=ch_limit)
    bottleneck = _int(raw.get("bottleneck", channels), f"{where}.bottleneck", limit=ch_limit)
    dilations = _dilations(_required(raw, "dilations", where), where, limits)
    n = len(dilations)
    kernel_sizes = _kernel_sizes(raw, n, where, limits)
    activations = [parse_activation(a, field=f"{where}.activation") for a in _per_layer(_required(raw, "activation", where), n, f"{where}.activation")]
    gatings, secondaries = _gating(raw, n, where, parse_activation)
    layer1x1, head1x1 = _one_by_ones(raw, where, channels, ch_limit)
    films = {slot: _film_params(raw.get(slot), f"{where}.{slot}", ch_limit) for slot in FILM_SLOTS}
    _check_inactive(layer1x1[0], head1x1[0], bottleneck, channels, films, where)
    head = _array_head(raw, where, limits)
    if raw.get("slimmable") is not None and not isinstance(raw["slimmable"], Mapping):
        raise SpecError("must be an object or null", field=f"{where}.slimmable")
    return _ArrayPlan(
        where=where,
        input_size=input_size,
        condition_size=condition_size,
        channels=channels,
        bottleneck=bottleneck,
        dilations=dilations,
        kernel_sizes=kernel_sizes,
        activations=activations,
        gatings=gatings,
        secondaries=secondaries,
        groups_input=_int(raw.get("groups_input", 1), f"{where}.groups_input", limit=ch_limit),
        groups_mixin=_int(raw.get("groups_input_mixin", 1), f"{where}.groups_input_mixin", limit=ch_limit),
        layer1x1=layer1x1,
        head1x1=head1x1,
        films=films,
        head=head,
    )


def _required(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise SpecError("is required", field=f"{where}.{key}")
    return raw[key]


def _dilations(dilations: Any, where: str, limits: Mapping[str, int]) -> list[int]:
    if not isinstance(dilations, list) or not dilations:
        raise SpecError("must be a non-empty list of positive integers", field=f"{where}.dilations")
    if len(dilations) > limits["layers"]:
        raise SpecError(f"{len(dilations)} layers exceed the limit of {limits['layers']}", field=f"{where}.dilations")
    return [_int(d, f"{where}.dilations", limit=limits["dilation"]) for d in dilations]


def _kernel_sizes(raw: Mapping[str, Any], n: int, where: str, limits: Mapping[str, int]) -> list[int]:
    """Per-layer kernel sizes: the 0.6+ ``kernel_sizes`` list, or the 0.5 ``kernel_size`` for every layer."""
    if "kernel_size" in raw and "kernel_sizes" in raw:
        raise SpecError("give kernel_size or kernel_sizes, not both", field=where)
    if "kernel_sizes" in raw:
        ks = raw["kernel_sizes"]
        if not isinstance(ks, list):
            raise SpecError("must be a list", field=f"{where}.kernel_sizes")
        return [_int(k, f"{where}.kernel_sizes", limit=limits["kernel_size"]) for k in _per_layer(ks, n, f"{where}.kernel_sizes")]
    if "kernel_size" in raw:
        return [_int(raw["kernel_size"], f"{where}.kernel_size", limit=limits["kernel_size"])] * n
    raise SpecError("give kernel_size or kernel_sizes", field=where)


def _one_by_ones(raw: Mapping[str, Any], where: str, channels: int, ch_limit: int) -> tuple[tuple[bool, int], tuple[bool, int, int]]:
    """``(active, groups)`` of the ``layer1x1`` (active by default) and ``(active, out_channels, groups)`` of the ``head1x1`` (inactive)."""
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
    return (l1_active, l1_groups), (h1_active, h1_out, h1_groups)


def _check_inactive(l1_active: bool, h1_active: bool, bottleneck: int, channels: int, films: Mapping[str, Any], where: str) -> None:
    """Refuse what an inactive 1x1 cannot carry: a bottleneck, or a FiLM after it."""
    if not l1_active:
        if bottleneck != channels:
            raise SpecError(f"bottleneck {bottleneck} must equal channels {channels} when layer1x1 is inactive", field=f"{where}.bottleneck")
        if films["layer1x1_post_film"] is not None:
            raise SpecError("cannot be active when layer1x1 is inactive", field=f"{where}.layer1x1_post_film")
    if not h1_active and films["head1x1_post_film"] is not None:
        raise SpecError("cannot be active without an active head1x1", field=f"{where}.head1x1_post_film")


def _layer(plan: _ArrayPlan, li: int, weights: _Weights) -> WaveNetLayer:
    """Layer ``li`` of a planned array, its weights taken in the Core's order."""
    lw = f"{plan.where} layer {li}"
    gating = plan.gatings[li]
    mid = plan.bottleneck * (1 if gating == "none" else 2)
    plan.activations[li].check_channels(plan.bottleneck, f"{plan.where}.activation")
    secondary = plan.secondaries[li]
    if secondary is not None:
        secondary.check_channels(plan.bottleneck, f"{plan.where}.secondary_activation")
    (l1_active, l1_groups), (h1_active, h1_out, h1_groups) = plan.layer1x1, plan.head1x1
    conv = weights.conv(plan.channels, mid, plan.kernel_sizes[li], bias=True, groups=plan.groups_input, dilation=plan.dilations[li], what=f"{lw} conv")
    mixin = weights.conv(plan.condition_size, mid, 1, bias=False, groups=plan.groups_mixin, dilation=1, what=f"{lw} input mixin")
    layer1x1 = weights.conv(plan.bottleneck, plan.channels, 1, bias=True, groups=l1_groups, dilation=1, what=f"{lw} layer1x1") if l1_active else None
    head1x1 = weights.conv(plan.bottleneck, h1_out, 1, bias=True, groups=h1_groups, dilation=1, what=f"{lw} head1x1") if h1_active else None
    widths = plan.film_widths(gating)
    films = {}
    for slot in FILM_SLOTS:
        params = plan.films[slot]
        if params is not None:
            shift, groups = params
            conv_f = weights.conv(plan.condition_size, widths[slot] * (2 if shift else 1), 1, bias=True, groups=groups, dilation=1, what=f"{lw} {slot}")
            films[slot] = FiLM(conv=conv_f, shift=shift)
    return WaveNetLayer(
        conv=conv,
        mixin=mixin,
        activation=plan.activations[li],
        gating=gating,
        secondary=secondary,
        bottleneck=plan.bottleneck,
        layer1x1=layer1x1,
        head1x1=head1x1,
        films=films,
    )


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
