"""Neural Amp Modeler (.nam) files: read captures as wavedil stacks, and write them.

A ``.nam`` file is JSON: ``version``, ``architecture``, ``config``,
``weights`` (a flat list), and optionally ``sample_rate`` and ``metadata``.
What a file means is what NeuralAmpModelerCore (the engine inside NAM's
plugin) makes of it: the architectures are found by name in
:data:`wavedil.models.ARCHITECTURES` (``WaveNet``, ``LSTM``, ``ConvNet``,
``Linear``), and a ``SlimmableContainer`` holds whole documents of
several sizes, of which the full-size one runs unless another is chosen.

File versions 0.5.0 through 0.7.x are read, as the Core reads them; a later
major or minor version, or a version that is not ``MAJOR.MINOR.PATCH``, is
refused. A file with no ``sample_rate`` is taken to be at 48 kHz, as NAM's
file specification says.

The file is parsed as JSON data only and may be at most
:data:`~wavedil.limits.MAX_NAM_BYTES` long.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..documents import parse_json_document, read_text
from ..errors import SpecError, UsageError
from ..fields import is_number
from ..limits import FLOAT32_MAX, LAYER_LIMITS, MAX_LAYERS, MAX_NAM_BYTES, MAX_NESTING, MAX_PARAMETERS, MAX_SAMPLE_RATE, check_totals
from ..models import ARCHITECTURES, ModelContext
from ..models.wavenet import WaveNet
from ..stack import Stack

#: The rate NAM's specification assumes when a file names none.
DEFAULT_SAMPLE_RATE = 48000
#: The file versions read: from 0.5.0 up to any 0.7.x (the Core's rule).
EARLIEST_VERSION = (0, 5, 0)
LATEST_VERSION = (0, 7, 0)

#: PyTorch activation names NAM writes in the 0.5 layout, and wavedil's names for them.
NAM_ACTIVATIONS = {
    "Tanh": "tanh",
    "ReLU": "relu",
    "Sigmoid": "sigmoid",
    "Hardtanh": "hardtanh",
    "LeakyReLU": "leaky_relu",
    "ReLU6": "relu6",
    "Hardsigmoid": "hardsigmoid",
    "Hardswish": "hardswish",
    "SiLU": "silu",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "ELU": "elu",
    "SELU": "selu",
    "GELU": "gelu",
    "Tanhshrink": "tanhshrink",
    "LogSigmoid": "logsigmoid",
    "Mish": "mish",
}

_METADATA_KEYS = (
    "name",
    "modeled_by",
    "gear_type",
    "gear_make",
    "gear_model",
    "tone_type",
    "loudness",
    "gain",
    "input_level_dbu",
    "output_level_dbu",
    "date",
)
_SEMVER = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


def load_nam(path: str | os.PathLike[str], *, model_size: float | None = None) -> Stack:
    """Read a ``.nam`` file as a causal :class:`~wavedil.stack.Stack`.

    Parameters
    ----------
    path : path
    model_size : float, optional
        For a ``SlimmableContainer``: run the smallest submodel whose
        ``max_value`` is at least this (so each submodel is named by its own
        ``max_value``). Default: the full-size (last) submodel, as the plugin.
        Ignored for other architectures.

    Raises
    ------
    SpecError
        If the file is missing, too large, not JSON, of an unsupported
        version or architecture, or its weights do not fit its config.

    Examples
    --------
    >>> stack = load_nam("capture.nam")  # doctest: +SKIP
    >>> stack.receptive_field, stack.sample_rate  # doctest: +SKIP
    (4093, 48000)
    """
    path = Path(path)
    source = str(path)
    # utf-8-sig: a byte-order mark, which some editors write, is read past as the Core does.
    text = read_text(path, MAX_NAM_BYTES, ".nam file", encoding="utf-8-sig")
    doc = parse_json_document(text, source, "a .nam file")
    try:
        return parse_nam(doc, name=path.stem, model_size=model_size)
    except SpecError as exc:
        raise exc.located(source) from None


def check_version(version: Any, field: str = "version") -> str:
    """Refuse what the Core refuses: not ``MAJOR.MINOR.PATCH``, before 0.5.0, or a later major/minor than 0.7."""
    if not isinstance(version, str) or not _SEMVER.fullmatch(version):
        raise SpecError(f"unsupported file version {version!r}: expected MAJOR.MINOR.PATCH, 0.5.0 to 0.7.x", field=field)
    parts = tuple(int(p) for p in version.split("."))
    if parts < EARLIEST_VERSION or parts[:2] > LATEST_VERSION[:2]:
        raise SpecError(f"unsupported file version {version}: wavedil reads 0.5.0 to 0.7.x", field=field)
    return version


def parse_nam(doc: Any, *, name: str | None = None, model_size: float | None = None) -> Stack:
    """Build a stack from the parsed JSON of a ``.nam`` file (see :func:`load_nam`)."""
    doc = _document(doc, "")
    sample_rate = _sample_rate(doc, "")
    metadata = _metadata(doc.get("metadata"))
    arch = doc["architecture"]
    submodels: list[dict[str, Any]] = []
    if arch == "SlimmableContainer":
        layers, sample_rate, submodels = _container(doc, sample_rate, model_size)
        chosen = next(s for s in submodels if s["active"])
        kind = f"NAM SlimmableContainer (file version {doc['version']}): submodel max_value {chosen['max_value']:g}, {chosen['architecture']}"
        if not metadata:
            metadata = chosen.pop("metadata")
        for s in submodels:
            s.pop("metadata", None)
    else:
        layers = _layers(doc, "", 0)
        kind = f"NAM {arch} capture (file version {doc['version']})"
    label = metadata.get("name") or name
    stack = Stack(
        layers=layers,
        padding="causal",
        name=str(label) if label else None,
        description=kind,
        sample_rate=int(sample_rate),
        metadata=metadata,
        submodels=tuple(submodels),
    )
    # The limits a spec gets, on the whole model.
    check_totals(stack.receptive_field, stack.parameters, field="config", parameters_field="weights")
    return stack


def _document(doc: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise SpecError(f"the document must be a JSON object, got {type(doc).__name__}", field=where or None)
    for key in ("version", "architecture", "config"):
        if key not in doc:
            raise SpecError("is missing", field=f"{where}{key}")
    check_version(doc["version"], f"{where}version")
    arch = doc["architecture"]
    if not isinstance(arch, str) or (arch != "SlimmableContainer" and arch not in ARCHITECTURES):
        known = ", ".join([*ARCHITECTURES, "SlimmableContainer"])
        hint = " (NAM's Python has it; NAM's plugin engine has no parser for it)" if arch == "Sequential" else ""
        raise SpecError(f"unsupported architecture {arch!r}{hint}; wavedil runs {known}", field=f"{where}architecture")
    if not isinstance(doc["config"], Mapping):
        raise SpecError("must be an object", field=f"{where}config")
    return doc


def _sample_rate(doc: Mapping[str, Any], where: str) -> int:
    rate = doc.get("sample_rate")
    if rate is None:
        return DEFAULT_SAMPLE_RATE
    if not is_number(rate) or not 1 <= rate <= MAX_SAMPLE_RATE or rate != int(rate):
        raise SpecError(f"must be a whole number of Hz, got {rate!r}", field=f"{where}sample_rate")
    return int(rate)


def _weights(doc: Mapping[str, Any], where: str) -> np.ndarray:
    if "weights" not in doc:
        raise SpecError("is missing", field=f"{where}weights")
    weights = doc["weights"]
    if not isinstance(weights, list) or not all(is_number(w) for w in weights):
        raise SpecError("must be a flat list of numbers", field=f"{where}weights")
    if len(weights) > MAX_PARAMETERS + 1:
        raise SpecError(f"{len(weights)} numbers exceed the limit of {MAX_PARAMETERS}", field=f"{where}weights")
    try:
        flat = np.array(weights, dtype=np.float64)
    except OverflowError:
        raise SpecError("holds an integer too large for a number", field=f"{where}weights") from None
    if not np.all(np.isfinite(flat)):
        raise SpecError("must be finite numbers", field=f"{where}weights")
    # The engine computes in float32 by default (the plugin always does): larger weights become infinite there.
    if flat.size and float(np.max(np.abs(flat))) > FLOAT32_MAX:
        raise SpecError(f"holds {float(np.max(np.abs(flat))):.3g}, beyond float32's range ({FLOAT32_MAX:.3g})", field=f"{where}weights")
    return flat


def _layers(doc: Mapping[str, Any], where: str, depth: int) -> tuple[Any, ...]:
    """The layers of one (non-container) document; ``where`` prefixes field names."""
    if depth > MAX_NESTING:
        raise SpecError(f"models nest more than {MAX_NESTING} deep", field=where.rstrip(".") or None)
    rate = _sample_rate(doc, where)

    def nested(sub: Any, field: str) -> Any:
        prefix = f"{where}{field}."
        sub = _document(sub, prefix)
        if sub["architecture"] == "SlimmableContainer":
            raise SpecError("a container cannot be a condition model", field=f"{prefix}architecture")
        if _sample_rate(sub, prefix) != rate:
            raise SpecError(f"is {_sample_rate(sub, prefix)} Hz but the model around it is {rate} Hz", field=f"{prefix}sample_rate")
        layers = _layers(sub, prefix, depth + 1)
        if len(layers) != 1:
            raise SpecError(f"a {sub['architecture']} condition model is not supported (wavedil runs single-block ones)", field=f"{prefix}architecture")
        return layers[0]

    # A model's own rate, None when the file names none (the Core then prewarms an LSTM by one sample only).
    own_rate = rate if doc.get("sample_rate") is not None else None
    ctx = ModelContext(version=doc["version"], sample_rate=own_rate, limits=LAYER_LIMITS, nested=nested)
    flat = _weights(doc, where)
    try:
        return ARCHITECTURES[doc["architecture"]](doc["config"], flat, ctx)
    except SpecError as exc:
        if where and exc.field and not exc.field.startswith(where):
            raise SpecError(exc.reason, field=f"{where}{exc.field}") from None
        raise


def _container(doc: Mapping[str, Any], rate: int, model_size: float | None) -> tuple[tuple[Any, ...], int, list[dict[str, Any]]]:
    """The chosen submodel's layers, the rate, and a summary of every submodel."""
    if model_size is not None and not (np.isfinite(model_size) and 0 <= model_size <= 1):
        raise UsageError(f"model_size must be from 0 to 1, got {model_size!r}")
    subs = doc["config"].get("submodels")
    if not isinstance(subs, list) or not subs:
        raise SpecError("must be a non-empty list", field="config.submodels")
    if len(subs) > MAX_LAYERS:
        raise SpecError(f"{len(subs)} submodels exceed the limit of {MAX_LAYERS}", field="config.submodels")
    summaries: list[dict[str, Any]] = []
    built: list[tuple[Any, ...]] = []
    prev = -np.inf
    for i, entry in enumerate(subs):
        where = f"config.submodels[{i}]."
        prev = _max_value(entry, where, prev)
        sub = _document(entry["model"], f"{where}model.")
        if sub["architecture"] == "SlimmableContainer":
            raise SpecError("a container cannot hold a container", field=f"{where}model.architecture")
        sub_rate = _sample_rate(sub, f"{where}model.")
        if "sample_rate" in doc and "sample_rate" in sub and sub_rate != rate:
            raise SpecError(f"is {sub_rate} Hz but the container is {rate} Hz", field=f"{where}model.sample_rate")
        built.append(_layers(sub, f"{where}model.", 1))
        summaries.append(_summary(sub, built[-1], prev))
        if "sample_rate" not in doc:
            rate = sub_rate
    if prev < 1.0:
        raise SpecError(f"the last submodel's max_value must be at least 1, got {prev:g}", field="config.submodels")
    index = len(subs) - 1
    if model_size is not None:
        index = next(i for i, s in enumerate(summaries) if s["max_value"] >= model_size)
    summaries[index]["active"] = True
    return built[index], rate, summaries


def _max_value(entry: Any, where: str, prev: float) -> float:
    """A submodel entry's ``max_value``: a number above the previous entry's."""
    if not isinstance(entry, Mapping) or "model" not in entry or "max_value" not in entry:
        raise SpecError("must be an object with max_value and model", field=where.rstrip("."))
    mv = entry["max_value"]
    if not is_number(mv) or not -1e9 <= mv <= 1e9:
        raise SpecError(f"must be a number from -1e9 to 1e9, got {mv!r}", field=f"{where}max_value")
    if mv <= prev:
        raise SpecError("submodels must be sorted by ascending max_value", field=f"{where}max_value")
    return float(mv)


def _summary(sub: Mapping[str, Any], layers: tuple[Any, ...], max_value: float) -> dict[str, Any]:
    """What a report says of one submodel (``active`` is set once one is chosen)."""
    history = [layer.history for layer in layers]
    return {
        "max_value": max_value,
        "architecture": sub["architecture"],
        "version": sub["version"],
        "receptive_field": None if None in history else 1 + sum(history),
        "parameters": sum(layer.parameters for layer in layers),
        "macs_per_sample": sum(layer.macs_per_sample for layer in layers),
        "active": False,
        "metadata": _metadata(sub.get("metadata")),
    }


def _metadata(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for key in _METADATA_KEYS:
        value = raw.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[key] = value[:200] if isinstance(value, str) else value
        elif isinstance(value, Mapping) and key == "date":
            out[key] = "-".join(str(value.get(k, "")) for k in ("year", "month", "day"))
    return out


def to_nam(
    net: WaveNet,
    *,
    sample_rate: int | None = DEFAULT_SAMPLE_RATE,
    metadata: Mapping[str, Any] | None = None,
    version: str = "0.7.0",
) -> dict[str, Any]:
    """The ``.nam`` document of a WaveNet, for ``json.dump``.

    A network read from a ``.nam`` file is written back as it was read (its
    version, config and weights). One built from a spec is written in the
    layout of ``version``: ``"0.7.0"`` (what NAM 0.13 reads: per-layer
    kernel sizes, activations and gating modes, a ``head`` object per array)
    or ``"0.5.4"`` (NAM 0.12 and older); the weights are the same.

    Raises
    ------
    SpecError
        If an activation has no PyTorch name NAM can load.
    """
    names = {v: k for k, v in NAM_ACTIVATIONS.items()}
    config = dict(net.nam_config)
    spec_built = any(isinstance(arr.get("activation"), str) and arr["activation"] in names for arr in config.get("layers", []))
    if spec_built:
        layers = []
        for i, arr in enumerate(config["layers"]):
            act = arr["activation"]
            if act not in names:
                raise SpecError(f"activation {act!r} has no NAM equivalent", field=f"arrays[{i + 1}].activation")
            arr = dict(arr, activation=names[act])
            layers.append(arr if version.startswith("0.5") else _modern_array(arr))
        config["layers"] = layers
        if config.get("in_channels") == 1:
            del config["in_channels"]
    else:
        version = net.version
    config["head_scale"] = net.head_scale
    weights = net.nam_weights if net.nam_weights is not None else np.array([net.head_scale])
    doc: dict[str, Any] = {"version": version, "architecture": "WaveNet", "config": config, "weights": weights.tolist()}
    if sample_rate is not None:
        doc["sample_rate"] = sample_rate
    if metadata:
        doc["metadata"] = dict(metadata)
    return doc


def _modern_array(arr: dict[str, Any]) -> dict[str, Any]:
    """A 0.5-layout array in the 0.7 layout: per-layer lists, a head object, explicit gating."""
    n = len(arr["dilations"])
    gated = arr["gated"]
    return {
        "input_size": arr["input_size"],
        "condition_size": arr["condition_size"],
        "head": {"out_channels": arr["head_size"], "kernel_size": 1, "bias": arr["head_bias"]},
        "channels": arr["channels"],
        "kernel_sizes": [arr["kernel_size"]] * n,
        "dilations": list(arr["dilations"]),
        "activation": [arr["activation"]] * n,
        "gating_mode": ["gated" if gated else "none"] * n,
        "secondary_activation": ["Sigmoid" if gated else None] * n,
    }


def save_nam(net: WaveNet, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write a WaveNet as a ``.nam`` file NAM can load (see :func:`to_nam`)."""
    Path(path).write_text(json.dumps(to_nam(net, **kwargs)), encoding="utf-8")
