"""Stack specs: reading a stack from a spec file, a mapping or a dilation schedule.

A spec is data, in TOML or JSON (one schema), never evaluated, and bounded by
:mod:`wavedil.limits` so that a hostile file cannot exhaust memory. The
schema (see :func:`parse_spec`)::

    padding = "causal"            # or "same"
    [[layers]]
    dilation = 2
    weights = [0.5, 0.3, 0.2]     # mono taps, or nested [out][in][k]

builds a :class:`~wavedil.stack.Stack` of :class:`~wavedil.stack.Conv1d`
layers; a ``type = "wavenet"`` layer is a WaveNet
(:mod:`wavedil.spec_wavenet`). :func:`load_spec` also opens ``.nam`` models
(:mod:`wavedil.formats.nam`); :func:`stack_from_dilations` is the shorthand
of the command line's ``--dilations``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .activations import ACTIVATIONS, Activation, parse_nam_activation
from .documents import parse_spec_document, read_text
from .errors import SpecError
from .fields import is_number, positive_int, refuse_unknown
from .limits import (
    LAYER_LIMITS,
    MAX_CHANNELS,
    MAX_DILATION,
    MAX_KERNEL_SIZE,
    MAX_LAYERS,
    MAX_SAMPLE_RATE,
    MAX_SPEC_BYTES,
    check_totals,
)
from .stack import PADDINGS, Conv1d, Layer, Stack

_STACK_KEYS = ("description", "layers", "name", "padding", "sample_rate")
_LAYER_KEYS = ("activation", "bias", "dilation", "kernel_size", "type", "weights")


def _nested_shape(value: Any, depth: int) -> tuple[int, ...] | None:
    """Shape of a regular nested list of numbers of the given depth, else None."""
    if depth == 0:
        return () if is_number(value) else None
    if not isinstance(value, list) or not value:
        return None
    inner = _nested_shape(value[0], depth - 1)
    if inner is None:
        return None
    for item in value[1:]:
        if _nested_shape(item, depth - 1) != inner:
            return None
    return (len(value), *inner)


def _parse_weights(value: Any, *, layer: int) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise SpecError("must be a non-empty list of numbers, or of shape [out][in][k]", layer=layer, field="weights")
    if all(is_number(v) for v in value):
        shape: tuple[int, ...] | None = (1, 1, len(value))
        values: Any = [[value]]
    else:
        shape = _nested_shape(value, 3)
        values = value
        if shape is None:
            raise SpecError(
                "must be a flat list of numbers (mono taps) or a regular nested list shaped [out][in][k]",
                layer=layer,
                field="weights",
            )
    out_ch, in_ch, k = shape
    if k > MAX_KERNEL_SIZE:
        raise SpecError(f"kernel size {k} exceeds the limit of {MAX_KERNEL_SIZE}", layer=layer, field="weights")
    for n, what in ((out_ch, "output"), (in_ch, "input")):
        if n > MAX_CHANNELS:
            raise SpecError(f"{n} {what} channels exceed the limit of {MAX_CHANNELS}", layer=layer, field="weights")
    try:
        arr = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond the float range
        arr = np.array([np.inf])
    if not np.all(np.isfinite(arr)):
        raise SpecError("must be finite numbers (found NaN, infinity or a number beyond the float range)", layer=layer, field="weights")
    return arr


def _parse_bias(value: Any, out_channels: int, *, layer: int) -> np.ndarray:
    try:
        if is_number(value):
            arr = np.full(out_channels, float(value))
        elif isinstance(value, list) and all(is_number(v) for v in value):
            if len(value) != out_channels:
                raise SpecError(
                    f"has {len(value)} value(s) but the layer has {out_channels} output channel(s)",
                    layer=layer,
                    field="bias",
                )
            arr = np.array(value, dtype=np.float64)
        else:
            raise SpecError(f"must be a number or a list of numbers, got {value!r}", layer=layer, field="bias")
    except OverflowError:  # an integer beyond the float range
        arr = np.array([np.inf])
    if not np.all(np.isfinite(arr)):
        raise SpecError("must be finite", layer=layer, field="bias")
    return arr


def _parse_element(raw: Any, index: int, in_channels: int, base_dir: Path | None) -> Layer:
    if not isinstance(raw, Mapping):
        raise SpecError(f"must be a table/object, got {type(raw).__name__}", layer=index)
    kind = raw.get("type", "conv")
    if kind == "wavenet":
        # Imported here: a spec of plain layers does not load the WaveNet model and its readers.
        from .spec_wavenet import parse_wavenet

        return parse_wavenet(raw, layer=index, in_channels=in_channels, base_dir=base_dir, limits=LAYER_LIMITS)
    if kind != "conv":
        raise SpecError(f"unknown layer type {kind!r}; known: conv, wavenet", layer=index, field="type")
    return _parse_layer(raw, index)


def _parse_layer(raw: Mapping[str, Any], index: int) -> Conv1d:
    refuse_unknown(raw, _LAYER_KEYS, layer=index)
    dilation = positive_int(raw.get("dilation", 1), MAX_DILATION, layer=index, field="dilation")
    if "weights" not in raw:
        raise SpecError("is required", layer=index, field="weights")
    weights = _parse_weights(raw["weights"], layer=index)
    if "kernel_size" in raw:
        k = positive_int(raw["kernel_size"], MAX_KERNEL_SIZE, layer=index, field="kernel_size")
        if k != weights.shape[2]:
            raise SpecError(f"is {k} but weights have {weights.shape[2]} tap(s)", layer=index, field="kernel_size")
    bias = _parse_bias(raw.get("bias", 0.0), weights.shape[0], layer=index)
    activation = _parse_activation(raw.get("activation", "linear"), layer=index)
    return Conv1d(weights=weights, bias=bias, dilation=dilation, activation=activation)


def _parse_activation(act: Any, *, layer: int) -> str | Activation:
    """A layer's activation: one of wavedil's names, or NAM's form with parameters."""
    if isinstance(act, Mapping):
        # NAM's form, with parameters: { type = "LeakyReLU", negative_slope = 0.2 }.
        try:
            return parse_nam_activation(act, field="activation")
        except SpecError as exc:
            raise SpecError(exc.reason, layer=layer, field="activation") from None
    if not isinstance(act, str) or act.lower() not in ACTIVATIONS:
        raise SpecError(
            f"unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}, or a table such as "
            "{ type = \"LeakyReLU\", negative_slope = 0.2 }",
            layer=layer,
            field="activation",
        )
    return act.lower()


def _stack_fields(data: Any) -> dict[str, Any]:
    """The checked top-level fields of a spec besides its layers: padding, name, description, sample_rate."""
    if not isinstance(data, Mapping):
        raise SpecError(f"the document must be a table/object, got {type(data).__name__}")
    refuse_unknown(data, _STACK_KEYS, what="top-level field")
    padding = data.get("padding", "causal")
    if padding not in PADDINGS:
        raise SpecError(f"must be one of {', '.join(PADDINGS)}, got {padding!r}", field="padding")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise SpecError("must be a string", field=key)
    sample_rate = data.get("sample_rate")
    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 1 <= sample_rate <= MAX_SAMPLE_RATE):
        raise SpecError(f"must be a positive integer (Hz), got {sample_rate!r}", field="sample_rate")
    return {"padding": padding, "name": data.get("name"), "description": data.get("description"), "sample_rate": sample_rate}


def _parse_layers(raw_layers: Any, base_dir: Path | None) -> tuple[Layer, ...]:
    """The layers of a spec, each fed the channels of the one before (the first, one channel)."""
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SpecError("must be a non-empty list of layers", field="layers")
    if len(raw_layers) > MAX_LAYERS:
        raise SpecError(f"{len(raw_layers)} layers exceed the limit of {MAX_LAYERS}", field="layers")
    layers: list[Layer] = []
    channels = 1
    for i, raw in enumerate(raw_layers, start=1):
        layers.append(_parse_element(raw, i, channels, base_dir))
        channels = layers[-1].out_channels
    check_totals(1 + sum(layer.history for layer in layers), sum(layer.parameters for layer in layers), field="layers")
    return tuple(layers)


def parse_spec(data: Mapping[str, Any], *, source: str | None = None, base_dir: str | os.PathLike[str] | None = None) -> Stack:
    """Build a :class:`~wavedil.stack.Stack` from a spec mapping (the parsed TOML or JSON).

    The schema::

        padding = "causal"            # or "same"; optional, default "causal"
        name = "..."                  # optional
        description = "..."           # optional
        sample_rate = 48000           # optional: the rate it was made for, in Hz
        [[layers]]
        dilation = 2                  # optional, default 1
        weights = [0.5, 0.3, 0.2]     # mono taps, or nested [out][in][k]
        kernel_size = 3               # optional; checked against weights
        bias = 0.0                    # optional: a number or one per output channel
        activation = "linear"         # optional: linear | tanh | relu | sigmoid

    Parameters
    ----------
    data : mapping
        The parsed document.
    source : str, optional
        Where it came from, used in error messages.
    base_dir : path, optional
        Where side files (a WaveNet's ``weights = "file.npz"``) are looked for.

    Raises
    ------
    SpecError
        Naming the source, the 1-based layer and the field at fault.

    Examples
    --------
    >>> stack = parse_spec({"layers": [{"dilation": 2, "weights": [0.5, 0.3, 0.2]}]})
    >>> stack.receptive_field
    5
    """
    if isinstance(data, Mapping) and "chain" in data:
        from .chains import chain_from_document

        return chain_from_document(data, source=source, base_dir=base_dir)
    try:
        fields = _stack_fields(data)
        layers = _parse_layers(data.get("layers"), Path(base_dir) if base_dir is not None else None)
        return Stack(layers=layers, **fields)
    except SpecError as exc:
        raise exc.located(source) if source else exc


def load_spec(path: str | os.PathLike[str], *, model_size: float | None = None, chains: bool = True, padding: str | None = None) -> Stack:
    """Read a stack from a ``.toml`` or ``.json`` spec, or a ``.nam`` model.

    The format follows the extension; any other extension is tried as TOML,
    then JSON. The file is parsed as data only and may be at most
    :data:`~wavedil.limits.MAX_SPEC_BYTES` long. ``.nam`` files are read by
    :func:`wavedil.formats.nam.load_nam`, which takes ``model_size``. A spec
    with a ``chain`` list is a chain file (:func:`wavedil.chains.chain_from_document`,
    which takes ``model_size`` for its captures and ``padding`` for the whole
    chain; other specs change padding with ``stack.replace(padding=...)``);
    ``chains=False`` refuses one (the stages of a chain file do not nest).

    Raises
    ------
    SpecError
        If the file is missing, too large, malformed or invalid.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".nam":
        # Imported here: the NAM reader and its models load only for a model.
        from .formats.nam import load_nam

        return load_nam(path, model_size=model_size)
    source = str(path)
    text = read_text(path, MAX_SPEC_BYTES, "spec file")
    document = parse_spec_document(text, suffix, source)
    if isinstance(document, Mapping) and "chain" in document:
        if not chains:
            raise SpecError("is a chain file: a chain's stages are specs, captures, IRs and gains, not chains", source=source)
        from .chains import chain_from_document

        return chain_from_document(document, source=source, base_dir=path.parent, model_size=model_size, padding=padding)
    return parse_spec(document, source=source, base_dir=path.parent)


def stack_from_dilations(
    dilations: Iterable[int],
    *,
    kernel_size: int | None = None,
    taps: Sequence[float] | None = None,
    stacks: int = 1,
    padding: str = "causal",
    activation: str = "linear",
    name: str | None = None,
    description: str | None = None,
) -> Stack:
    """Build a mono stack from a dilation schedule.

    Every layer has the same taps: ``taps`` if given, else ``kernel_size``
    uniform taps ``1/kernel_size``. The schedule is repeated ``stacks`` times.
    With kernel 2 and dilations 1, 2, ..., 2**(n-1) the stack is exactly the
    ``2**n``-sample moving average.

    Parameters
    ----------
    dilations : iterable of int
        Dilation of each layer, in samples (each >= 1).
    kernel_size : int, optional
        Taps per layer; required unless ``taps`` is given, and checked against it.
    taps : sequence of float, optional
        The taps ``w[0..k-1]`` of every layer.
    stacks : int
        How many times the schedule repeats.
    padding : {"causal", "same"}
    activation : str

    Examples
    --------
    >>> stack_from_dilations([1, 2, 4], kernel_size=3).receptive_field
    15
    """
    dilations = list(dilations)
    if not dilations:
        raise SpecError("give at least one dilation", field="dilations")
    taps = _shorthand_taps(kernel_size, taps)
    if isinstance(stacks, bool) or not isinstance(stacks, int) or stacks < 1:
        raise SpecError(f"must be a positive integer, got {stacks!r}", field="stacks")
    # Before the layers are built: a huge repeat count would fill the memory first.
    if len(dilations) * stacks > MAX_LAYERS:
        raise SpecError(
            f"{len(dilations)} dilation(s) x {stacks} make {len(dilations) * stacks} layers, over the limit of {MAX_LAYERS}",
            field="stacks",
        )
    raw = {
        "padding": padding,
        "layers": [{"dilation": d, "weights": list(taps), "activation": activation} for d in dilations * stacks],
    }
    if name:
        raw["name"] = name
    if description:
        raw["description"] = description
    try:
        return parse_spec(raw)
    except SpecError as exc:
        # Shorthand has no file: name the dilation instead of "layer N".
        if exc.field == "dilation" and exc.layer is not None:
            raise SpecError(exc.reason, field="dilations") from None
        raise


def _shorthand_taps(kernel_size: int | None, taps: Sequence[float] | None) -> list[float]:
    """The taps of every shorthand layer: ``taps`` checked against ``kernel_size``, or uniform ``1/kernel_size``."""
    if taps is None:
        if kernel_size is None:
            raise SpecError("give a kernel size or the taps", field="kernel_size")
        positive_int(kernel_size, MAX_KERNEL_SIZE, field="kernel_size")
        return [1.0 / kernel_size] * kernel_size
    values = [float(t) for t in taps]
    if not values:
        raise SpecError("give at least one tap", field="taps")
    if kernel_size is not None and kernel_size != len(values):
        raise SpecError(f"kernel size {kernel_size} does not match {len(values)} tap(s)", field="taps")
    if not all(math.isfinite(t) for t in values):
        raise SpecError("taps must be finite numbers", field="taps")
    return values
