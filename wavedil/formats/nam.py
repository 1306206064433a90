"""Neural Amp Modeler (.nam) files: read captures as wavedil stacks, and write them.

A ``.nam`` file is JSON: ``version``, ``architecture``, ``config``,
``weights`` (a flat list), and optionally ``sample_rate`` and ``metadata``.
wavedil reads:

- ``WaveNet`` in the widely used layout of file version 0.5.x: ``config.layers``
  (layer arrays with ``input_size``, ``condition_size``, ``head_size``,
  ``channels``, ``kernel_size``, ``dilations``, ``activation``, ``gated``,
  ``head_bias``), ``config.head`` null and ``config.head_scale``. The weights
  are in PyTorch Conv1d order, the last number being head_scale
  (see :mod:`wavedil.wavenet` for the computation).
- ``Linear``: one FIR kernel of ``config.receptive_field`` taps (and a bias
  when ``config.bias`` is true).

Other architectures (LSTM, ConvNet, ...) and newer WaveNet layouts get an
error naming what is unsupported. A file with no ``sample_rate`` is taken to
be at 48 kHz, as NAM's file specification says.

The file is parsed as JSON data only and may be at most
:data:`MAX_NAM_BYTES` long.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec import MAX_CHANNELS, MAX_DILATION, MAX_KERNEL_SIZE, MAX_LAYERS, MAX_PARAMETERS, Conv1d, Stack, read_data_file
from ..wavenet import WaveNet, from_flat, parse_array_settings, weight_count

#: Largest .nam file read, in bytes.
MAX_NAM_BYTES = 64 * 1024 * 1024
#: The rate NAM's specification assumes when a file names none.
DEFAULT_SAMPLE_RATE = 48000

#: PyTorch activation names NAM writes, and wavedil's names for them.
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

_SUPPORTED = "WaveNet (file version 0.5.x layout) and Linear"
_LIMITS = {
    "kernel_size": MAX_KERNEL_SIZE,
    "dilation": MAX_DILATION,
    "channels": MAX_CHANNELS,
    "layers": MAX_LAYERS,
    "parameters": MAX_PARAMETERS,
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


def load_nam(path: str | os.PathLike[str]) -> Stack:
    """Read a ``.nam`` file as a causal :class:`~wavedil.spec.Stack` of one model.

    Raises
    ------
    SpecError
        If the file is missing, too large, not JSON, of an unsupported
        architecture or layout, or its weights do not fit its config.

    Examples
    --------
    >>> stack = load_nam("capture.nam")  # doctest: +SKIP
    >>> stack.receptive_field, stack.sample_rate  # doctest: +SKIP
    (4093, 48000)
    """
    path = Path(path)
    source = str(path)
    raw = read_data_file(path, MAX_NAM_BYTES, ".nam file")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise SpecError("is not UTF-8 JSON text", source=source) from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", source=source) from None
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"malformed JSON: {exc}", source=source) from None
    try:
        return parse_nam(doc, name=path.stem)
    except SpecError as exc:
        raise exc.located(source) from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a .nam file may hold")


def parse_nam(doc: Any, *, name: str | None = None) -> Stack:
    """Build a stack from the parsed JSON of a ``.nam`` file (see :func:`load_nam`)."""
    if not isinstance(doc, Mapping):
        raise SpecError(f"the document must be a JSON object, got {type(doc).__name__}")
    for key in ("architecture", "config", "weights"):
        if key not in doc:
            raise SpecError("is missing", field=key)
    arch = doc["architecture"]
    version = doc.get("version")
    if not isinstance(version, str):
        raise SpecError(f"must be a version string such as '0.5.4', got {version!r}", field="version")
    sample_rate = doc.get("sample_rate")
    if sample_rate is None:
        sample_rate = DEFAULT_SAMPLE_RATE
    elif isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 1 <= sample_rate <= 10_000_000 or sample_rate != int(sample_rate):
        raise SpecError(f"must be a whole number of Hz, got {sample_rate!r}", field="sample_rate")
    metadata = _metadata(doc.get("metadata"))
    config = doc["config"]
    if not isinstance(config, Mapping):
        raise SpecError("must be an object", field="config")
    weights = doc["weights"]
    if not isinstance(weights, list) or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
        raise SpecError("must be a flat list of numbers", field="weights")
    flat = np.array(weights, dtype=np.float64)
    if not np.all(np.isfinite(flat)):
        raise SpecError("must be finite numbers", field="weights")
    if arch == "WaveNet":
        layer: Conv1d | WaveNet = _wavenet(config, flat, version)
        kind = f"NAM WaveNet capture (file version {version})"
    elif arch == "Linear":
        layer = _linear(config, flat)
        kind = f"NAM Linear capture (file version {version})"
    else:
        raise SpecError(f"unsupported architecture {arch!r}; wavedil runs {_SUPPORTED}", field="architecture")
    label = metadata.get("name") or name
    return Stack(
        layers=(layer,),
        padding="causal",
        name=str(label) if label else None,
        description=kind,
        sample_rate=int(sample_rate),
        metadata=metadata,
    )


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


def _wavenet(config: Mapping[str, Any], flat: np.ndarray, version: str) -> WaveNet:
    extra = sorted(set(map(str, config)) - {"layers", "head", "head_scale"})
    if extra:
        raise SpecError(
            f"unsupported WaveNet option(s) {', '.join(extra)} (file version {version}); "
            f"wavedil reads the 0.5.x layout: layers, head (null) and head_scale",
            field="config",
        )
    if config.get("head") is not None:
        raise SpecError("a head network is not supported; wavedil reads WaveNets with head null", field="config.head")
    head_scale = config.get("head_scale")
    if isinstance(head_scale, bool) or not isinstance(head_scale, (int, float)) or not np.isfinite(head_scale):
        raise SpecError(f"must be a number, got {head_scale!r}", field="config.head_scale")
    arrays = config.get("layers")
    if not isinstance(arrays, list) or not arrays:
        raise SpecError("must be a non-empty list of layer arrays", field="config.layers")
    settings = []
    for i, arr in enumerate(arrays, start=1):
        if isinstance(arr, Mapping):
            _check_array_layout(arr, i, version)
        try:
            settings.append(
                parse_array_settings(
                    arr,
                    layer=None,
                    array=i,
                    default_input=None,
                    default_condition=None,
                    limits=_LIMITS,
                    activation_names=NAM_ACTIVATIONS,
                )
            )
        except SpecError as exc:
            raise SpecError(exc.reason, field=f"config.layers[{i}]" + (exc.field or "").removeprefix(f"arrays[{i}]")) from None
    expected = weight_count(settings) + 1
    if flat.size != expected:
        raise SpecError(
            f"expected {expected} numbers for this config ({expected - 1} weights and head_scale), found {flat.size}",
            field="weights",
        )
    try:
        return from_flat(settings, flat[:-1], float(head_scale))
    except SpecError as exc:
        raise SpecError(exc.reason, field="config.layers") from None


def _check_array_layout(arr: Mapping[str, Any], index: int, version: str) -> None:
    """Name the options of newer layouts precisely instead of a generic 'unknown field'."""
    where = f"config.layers[{index}]"
    if isinstance(arr.get("kernel_size"), list) or "kernel_sizes" in arr:
        raise SpecError(
            f"per-layer kernel sizes are a newer WaveNet layout (file version {version}); wavedil reads one kernel_size per array (0.5.x)",
            field=where,
        )
    act = arr.get("activation")
    if isinstance(act, (Mapping, list)):
        raise SpecError(
            f"configurable activations are a newer WaveNet layout (file version {version}); "
            f"wavedil reads activation names: {', '.join(NAM_ACTIVATIONS)}",
            field=f"{where}.activation",
        )
    known = {"input_size", "condition_size", "head_size", "channels", "kernel_size", "dilations", "activation", "gated", "head_bias"}
    extra = sorted(set(map(str, arr)) - known)
    if extra:
        raise SpecError(
            f"unsupported option(s) {', '.join(map(str, extra))} (file version {version}; FiLM, slimmable and "
            f"grouped layers are newer layouts); wavedil reads the 0.5.x keys: {', '.join(sorted(known))}",
            field=where,
        )


def _linear(config: Mapping[str, Any], flat: np.ndarray) -> Conv1d:
    extra = sorted(set(map(str, config)) - {"receptive_field", "bias"})
    if extra:
        raise SpecError(f"unsupported Linear option(s) {', '.join(extra)}", field="config")
    rf = config.get("receptive_field")
    if isinstance(rf, bool) or not isinstance(rf, int) or not 1 <= rf <= MAX_KERNEL_SIZE:
        raise SpecError(f"must be an integer from 1 to {MAX_KERNEL_SIZE}, got {rf!r}", field="config.receptive_field")
    bias = config.get("bias", False)
    if not isinstance(bias, bool):
        raise SpecError(f"must be true or false, got {bias!r}", field="config.bias")
    expected = rf + (1 if bias else 0)
    if flat.size != expected:
        raise SpecError(f"expected {expected} numbers for this config, found {flat.size}", field="weights")
    # PyTorch's last tap meets the current sample: reverse into wavedil's order.
    return Conv1d(weights=flat[:rf][::-1].reshape(1, 1, rf), bias=flat[rf:] if bias else 0.0, dilation=1)


def to_nam(net: WaveNet, *, sample_rate: int | None = DEFAULT_SAMPLE_RATE, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``.nam`` document (version 0.5.4 layout) of a WaveNet, for ``json.dump``.

    Raises
    ------
    SpecError
        If an activation has no PyTorch name NAM can load.
    """
    names = {v: k for k, v in NAM_ACTIVATIONS.items()}
    layers = []
    for i, cfg in enumerate(net.config(), start=1):
        if cfg["activation"] not in names:
            raise SpecError(f"activation {cfg['activation']!r} has no NAM equivalent", field=f"arrays[{i}].activation")
        layers.append(dict(cfg, activation=names[cfg["activation"]]))
    doc: dict[str, Any] = {
        "version": "0.5.4",
        "architecture": "WaveNet",
        "config": {"layers": layers, "head": None, "head_scale": net.head_scale},
        "weights": [*net.flat_weights().tolist(), net.head_scale],
    }
    if sample_rate is not None:
        doc["sample_rate"] = sample_rate
    if metadata:
        doc["metadata"] = dict(metadata)
    return doc


def save_nam(net: WaveNet, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write a WaveNet as a ``.nam`` file NAM can load (see :func:`to_nam`)."""
    Path(path).write_text(json.dumps(to_nam(net, **kwargs)), encoding="utf-8")
