"""WaveNets in wavedil's spec form: ``[[layers]] type = "wavenet"``.

A spec names layer arrays in the layout of NAM's file version 0.5
(``channels``, ``kernel_size``, ``dilations``, ``activation``, ``gated``,
``head_size``, ``head_bias``) and gives the weights as NAM's flat vector,
a side ``.npz`` file (:mod:`wavedil.npz`), or a seed. The network, its
equations and its forward pass are :mod:`wavedil.models.wavenet`'s: a spec
WaveNet and a ``.nam`` capture run the same code. The receptive field is
``1 + sum_a (k_a - 1) * sum(d_a)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .activations import ACTIVATIONS
from .errors import SpecError
from .fields import boolean, is_number, positive_int, refuse_unknown
from .models.wavenet import WaveNet
from .models.wavenet_flat import ArraySettings, from_flat, seeded_weights, weight_count

_WAVENET_KEYS = ("arrays", "head_scale", "init", "type", "weights")
_ARRAY_KEYS = ("activation", "channels", "condition_size", "dilations", "gated", "head_bias", "head_size", "input_size", "kernel_size")


def parse_wavenet(raw: Mapping[str, Any], *, layer: int, in_channels: int, base_dir: Path | None, limits: Mapping[str, int]) -> WaveNet:
    """Build a WaveNet from its spec table (see the README for the schema).

    ``in_channels`` is what the element before it outputs (the stack input for
    the first element); ``base_dir`` is where a side ``.npz`` file is looked for.

    Examples
    --------
    >>> from wavedil.limits import LAYER_LIMITS
    >>> table = {"type": "wavenet", "init": {"seed": 0},
    ...          "arrays": [{"channels": 4, "kernel_size": 3, "dilations": [1, 2, 4]}]}
    >>> net = parse_wavenet(table, layer=1, in_channels=1, base_dir=None, limits=LAYER_LIMITS)
    >>> net.history, net.parameters  # (3-1)*(1+2+4); 4 + 3*(4*4*3 + 4 + 4 + 4*4 + 4) + 4 + 1
    (14, 237)
    """
    refuse_unknown(raw, _WAVENET_KEYS, layer=layer)
    settings = _array_settings(raw.get("arrays"), layer=layer, in_channels=in_channels, limits=limits)
    total = weight_count(settings)
    if total > limits["parameters"]:
        raise SpecError(f"{total} parameters exceed the limit of {limits['parameters']}", layer=layer, field="arrays")
    scale = _head_scale(raw.get("head_scale", 1.0), layer=layer)
    flat = _flat_weights(raw, settings, total, layer=layer, base_dir=base_dir)
    try:
        return from_flat(settings, flat, scale)
    except SpecError as exc:
        raise SpecError(exc.reason, layer=layer, field=exc.field) from None


def _array_settings(raw_arrays: Any, *, layer: int, in_channels: int, limits: Mapping[str, int]) -> list[ArraySettings]:
    """Every array's settings, each taking the previous array's channels (the first, the element's input)."""
    if not isinstance(raw_arrays, list) or not raw_arrays:
        raise SpecError("must be a non-empty list of layer arrays", layer=layer, field="arrays")
    if len(raw_arrays) > limits["layers"]:
        raise SpecError(f"{len(raw_arrays)} arrays exceed the limit of {limits['layers']}", layer=layer, field="arrays")
    settings: list[ArraySettings] = []
    prev_channels = in_channels
    for a, arr in enumerate(raw_arrays, start=1):
        s = parse_array_settings(arr, layer=layer, array=a, default_input=prev_channels, default_condition=in_channels, limits=limits)
        settings.append(s)
        prev_channels = s.channels
    return settings


def _head_scale(value: Any, *, layer: int) -> float:
    # float() first: NumPy cannot test an integer beyond 64 bits, and one beyond the float range is no scale.
    try:
        scale = float(value) if is_number(value) else math.nan
    except OverflowError:
        scale = math.inf
    if not math.isfinite(scale):
        raise SpecError(f"must be a finite number, got {value!r}", layer=layer, field="head_scale")
    return scale


def _flat_weights(raw: Mapping[str, Any], settings: list[ArraySettings], total: int, *, layer: int, base_dir: Path | None) -> np.ndarray:
    """The flat vector: drawn from ``init = { seed = N }``, or given as ``weights`` (a list or a ``.npz`` file)."""
    has_init, has_weights = "init" in raw, "weights" in raw
    if has_init == has_weights:
        raise SpecError("give either weights (a list or a .npz file) or init = { seed = N }", layer=layer, field="weights")
    if has_init:
        return seeded_weights(settings, _seed(raw["init"], layer=layer))
    value = raw["weights"]
    if isinstance(value, str):
        from .npz import load_npz_weights  # zipfile loads only for a spec that names a file

        path = Path(value)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return load_npz_weights(path, total)
        except SpecError as exc:
            raise SpecError(exc.reason, layer=layer, field="weights") from None
    return _listed_weights(value, total, layer=layer)


def _seed(init: Any, *, layer: int) -> int:
    seed = init.get("seed") if isinstance(init, Mapping) else None
    if not isinstance(init, Mapping) or set(init) != {"seed"} or isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError("must be { seed = N } with N a non-negative integer", layer=layer, field="init")
    return seed


def _listed_weights(value: Any, total: int, *, layer: int) -> np.ndarray:
    if not isinstance(value, list) or not all(is_number(v) for v in value):
        raise SpecError("must be a flat list of numbers or the name of a .npz file", layer=layer, field="weights")
    if len(value) != total:
        raise SpecError(f"expected {total} numbers, found {len(value)}", layer=layer, field="weights")
    flat = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(flat)):
        raise SpecError("must be finite numbers", layer=layer, field="weights")
    return flat


def parse_array_settings(
    arr: Any,
    *,
    layer: int | None,
    array: int,
    default_input: int | None,
    default_condition: int | None,
    limits: Mapping[str, int],
) -> ArraySettings:
    """Read and check one layer array's settings (``arrays[i]`` of a spec)."""
    where = f"arrays[{array}]"
    if not isinstance(arr, Mapping):
        raise SpecError(f"must be a table/object, got {type(arr).__name__}", layer=layer, field=where)
    refuse_unknown(arr, _ARRAY_KEYS, prefix=f"{where}.", layer=layer)

    def integer(key: str, default: int | None, limit: int) -> int:
        value = arr.get(key, default)
        if value is None:
            raise SpecError("is required", layer=layer, field=f"{where}.{key}")
        return positive_int(value, limit, layer=layer, field=f"{where}.{key}")

    channels = integer("channels", None, limits["channels"])
    kernel_size = integer("kernel_size", None, limits["kernel_size"])
    input_size = integer("input_size", default_input, limits["channels"])
    condition_size = integer("condition_size", default_condition, limits["channels"])
    head_size = integer("head_size", 1, limits["channels"])
    return ArraySettings(
        input_size=input_size,
        condition_size=condition_size,
        channels=channels,
        kernel_size=kernel_size,
        dilations=_dilations(arr.get("dilations"), layer=layer, where=where, limits=limits),
        activation=_activation_name(arr.get("activation", "tanh"), layer=layer, where=where),
        gated=boolean(arr.get("gated", False), layer=layer, field=f"{where}.gated"),
        head_size=head_size,
        head_bias=boolean(arr.get("head_bias", True), layer=layer, field=f"{where}.head_bias"),
    )


def _dilations(dilations: Any, *, layer: int | None, where: str, limits: Mapping[str, int]) -> tuple[int, ...]:
    field = f"{where}.dilations"
    if not isinstance(dilations, list) or not dilations:
        raise SpecError("must be a non-empty list of positive integers", layer=layer, field=field)
    if len(dilations) > limits["layers"]:
        raise SpecError(f"{len(dilations)} layers exceed the limit of {limits['layers']}", layer=layer, field=field)
    for d in dilations:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise SpecError(f"must hold positive integers, got {d!r}", layer=layer, field=field)
        if d > limits["dilation"]:
            raise SpecError(f"dilation {d} exceeds the limit of {limits['dilation']}", layer=layer, field=field)
    return tuple(dilations)


def _activation_name(value: Any, *, layer: int | None, where: str) -> str:
    """One of wavedil's activation names, in any case."""
    if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
        raise SpecError(f"unknown activation {value!r}; known: {', '.join(ACTIVATIONS)}", layer=layer, field=f"{where}.activation")
    return value.lower()
