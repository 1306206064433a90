"""Stack specs: the model of a dilated convolution stack, its parsing and presets.

A stack is a chain of causal dilated 1-D convolutions. Layer ``l`` with taps
``w[0..k-1]`` and dilation ``d`` computes::

    y[t] = act(b + sum_j w[j] @ x[t - j*d])        j = 0 .. k-1

``w[0]`` meets the current sample and ``w[j]`` the sample ``j*d`` earlier.
Dilation 1 is an ordinary convolution (some texts count that as "dilation 0";
wavedil counts the spacing between taps, as PyTorch and Keras do). The layer
spans ``(k-1)*d + 1`` samples and a plain stack hears::

    receptive_field = 1 + sum_l (k_l - 1) * d_l

Specs are data. They are read from TOML or JSON (one schema), never
evaluated, and bounded by the limits below so that a hostile file cannot
exhaust memory.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import ACTIVATIONS, Activation, parse_nam_activation, plain
from .errors import SpecError
from .wavenet import parse_wavenet

if TYPE_CHECKING:
    from .conv import ConvRunner

PADDINGS = ("causal", "same")

#: Largest spec file read, in bytes.
MAX_SPEC_BYTES = 64 * 1024 * 1024
#: Largest kernel_size of one layer.
MAX_KERNEL_SIZE = 65536
#: Largest dilation of one layer, in samples.
MAX_DILATION = 2**20
#: Largest channel count of one layer.
MAX_CHANNELS = 1024
#: Largest number of layers in a stack.
MAX_LAYERS = 4096
#: Largest receptive field of a stack, in samples (about 5.8 min at 48 kHz).
MAX_RECEPTIVE_FIELD = 2**24
#: Largest number of parameters in a stack.
MAX_PARAMETERS = 50_000_000
#: Largest sample rate a spec, a model or an option may name, in Hz.
MAX_SAMPLE_RATE = 10_000_000


def _frozen_array(values: Any, dtype: type = np.float64) -> np.ndarray:
    arr = np.array(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _printable(text: str) -> str:
    """``text`` with what a terminal should not receive replaced by ``?``: lone surrogates, and control
    characters (escape sequences could rewrite the screen or the window title; line breaks break the report's lines).
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "".join("?" if unicodedata.category(ch) == "Cc" else ch for ch in text)


@dataclass(frozen=True, eq=False)
class Conv1d:
    """One causal dilated convolution layer.

    ``y[t] = activation(bias + sum_j weights[:, :, j] @ x[t - j*dilation])``

    Parameters
    ----------
    weights : ndarray, shape (out_channels, in_channels, kernel_size)
        Taps; ``weights[..., 0]`` meets the current sample.
    bias : ndarray, shape (out_channels,)
        Added after the taps, before the activation.
    dilation : int
        Spacing between taps, in samples (1 = ordinary convolution).
    activation : str or Activation
        A name of :data:`~wavedil.activations.ACTIVATIONS` (``linear``,
        ``tanh``, ``relu``, ``sigmoid``, ...), or an
        :class:`~wavedil.activations.Activation` with parameters (kept as its
        name when it has none beyond that name's defaults).
    """

    weights: np.ndarray
    bias: np.ndarray
    dilation: int = 1
    activation: str | Activation = "linear"

    kind = "conv"
    #: Whether the engine's block budget for stacked GEMM inputs applies (see :func:`wavedil.engine.block_size_for`).
    stacks_taps = False

    def __post_init__(self) -> None:
        w = _frozen_array(self.weights)
        if w.ndim != 3 or min(w.shape) < 1:
            raise SpecError(f"weights must have shape (out, in, k), got {w.shape}", field="weights")
        b = _frozen_array(np.broadcast_to(np.asarray(self.bias, dtype=np.float64), (w.shape[0],)))
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "bias", b)
        act = plain(self.activation)
        if isinstance(act, Activation):
            act.check_channels(w.shape[0], "activation")
        object.__setattr__(self, "activation", act)

    @property
    def kernel_size(self) -> int:
        return int(self.weights.shape[2])

    @property
    def in_channels(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def span(self) -> int:
        """Samples one output of this layer reads: ``(k-1)*d + 1``."""
        return (self.kernel_size - 1) * self.dilation + 1

    @property
    def history(self) -> int:
        """Past samples this layer needs besides the current one: ``span - 1``."""
        return self.span - 1

    @property
    def parameters(self) -> int:
        return int(self.weights.size + self.bias.size)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulates per output sample (taps only; the bias is an add)."""
        return int(self.weights.size)

    @property
    def is_linear(self) -> bool:
        return self.activation == "linear"

    def activation_names(self) -> set[str]:
        return {self.activation if isinstance(self.activation, str) else self.activation.name}

    def block_rows(self) -> int | None:
        """Rows of this layer's widest float buffer per sample of a block; None: a mono layer, no limit."""
        rows = max(self.in_channels, self.out_channels) * (self.kernel_size if self.in_channels > 1 else 1)
        return rows if rows > 1 else None

    def memory_bytes(self, batch: int, itemsize: int, block: int) -> int:
        """Bytes the runner keeps (see :func:`wavedil.memory.plan_filter`).

        Its taps in the working precision (twice when they are stacked for
        one GEMM), the input's last ``history`` samples per signal, and the
        stacked GEMM input. Block-long temporaries are the engine's account.
        """
        out_ch, in_ch, k = self.weights.shape
        stacked = not (in_ch == 1 and out_ch == 1) and k > 1
        weights = self.weights.size * itemsize * (2 if stacked else 1)
        return weights + batch * in_ch * (self.history + (k * block if stacked else 0)) * itemsize

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0) -> "ConvRunner":
        """The streaming state and forward pass of this layer (see :mod:`wavedil.conv`)."""
        from .conv import ConvRunner

        return ConvRunner(self.weights, self.bias, self.dilation, self.activation, batch, dtype, block, gain_in)

    def graph_nodes(self, g: Any, x: int, index: int) -> int:
        """Add this layer to a coverage graph (see :mod:`wavedil.coverage`); returns its output node."""
        return g.node(f"layer {index}", (x, self.dilation, self.kernel_size), row=True)

    def rows(self) -> list[dict[str, Any]]:
        """The report row of this layer (see :func:`wavedil.receptive.analyze`)."""
        return [
            {
                "kind": self.kind,
                "kernel_size": self.kernel_size,
                "dilation": self.dilation,
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "activation": self.activation if isinstance(self.activation, str) else self.activation.describe(),
                "parameters": self.parameters,
                "macs_per_sample": self.macs_per_sample,
                "span": self.span,
            }
        ]

    def to_dict(self) -> dict[str, Any]:
        """The layer in the spec schema (mono taps as a flat list)."""
        if self.in_channels == 1 and self.out_channels == 1:
            weights: Any = self.weights[0, 0].tolist()
            bias: Any = float(self.bias[0])
        else:
            weights = self.weights.tolist()
            bias = self.bias.tolist()
        return {
            "dilation": self.dilation,
            "kernel_size": self.kernel_size,
            "weights": weights,
            "bias": bias,
            # A parametrized activation in NAM's form ({"type": "LeakyReLU", "negative_slope": 0.2}).
            "activation": self.activation if isinstance(self.activation, str) else self.activation.to_nam(),
        }


#: What a stack holds. Every layer has ``in_channels``, ``out_channels``,
#: ``history`` (past samples it needs besides the current one; None for a
#: recurrent model, whose memory has no bound), ``parameters``,
#: ``macs_per_sample``, ``is_linear``, ``rows()``, ``activation_names()``,
#: ``block_rows()`` and ``stacks_taps`` (see :func:`wavedil.engine.block_size_for`), ``graph_nodes()`` and ``runner(batch, dtype, block,
#: gain_in)``, whose result streams blocks (``prime``, ``run``, ``gain_out``).
Layer = Any


@dataclass(frozen=True, eq=False)
class Stack:
    """A chain of layers (:class:`Conv1d`, a NAM model such as :class:`~wavedil.models.wavenet.WaveNet`) and its edge rule.

    Parameters
    ----------
    layers : tuple of layers (see :data:`Layer`)
        Applied in order; each layer's ``in_channels`` equals the previous
        layer's ``out_channels``.
    padding : {"causal", "same"}
        ``causal``: ``y[t]`` depends on ``x[<=t]`` only, the input taken as
        preceded by endless silence. ``same``: the causal output of the input
        followed by silence, shifted earlier by ``(receptive_field - 1) // 2``.
    name : str, optional
        A label for reports.
    description : str, optional
        One line saying what the stack does.
    sample_rate : int, optional
        The rate the stack was made for, in Hz (a trained model's); audio at
        another rate is refused unless resampled.
    metadata : mapping
        Free-form facts about a model (name, gear, loudness, ...).
    submodels : tuple of mapping
        For a model read from a NAM ``SlimmableContainer``: each submodel's
        ``max_value``, ``architecture``, ``receptive_field``, ``parameters``,
        ``macs_per_sample`` and whether it is the ``active`` one.
    """

    layers: tuple[Layer, ...]
    padding: str = "causal"
    name: str | None = None
    description: str | None = None
    sample_rate: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    submodels: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise SpecError("a stack needs at least one layer", field="layers")
        # Texts from files end up in reports and on terminals: a lone surrogate (JSON "\ud800") cannot be printed.
        for key in ("name", "description"):
            value = getattr(self, key)
            if isinstance(value, str):
                object.__setattr__(self, key, _printable(value))
        object.__setattr__(self, "metadata", {k: _printable(v) if isinstance(v, str) else v for k, v in self.metadata.items()})
        if self.padding not in PADDINGS:
            raise SpecError(f"must be one of {', '.join(PADDINGS)}, got {self.padding!r}", field="padding")
        if self.padding == "same" and self.is_recurrent:
            raise SpecError("same needs a finite receptive field; a recurrent model (LSTM) runs causal only", field="padding")
        for i, (prev, layer) in enumerate(zip(self.layers, self.layers[1:]), start=2):
            if layer.in_channels != prev.out_channels:
                raise SpecError(
                    f"takes {layer.in_channels} input channel(s) but layer {i - 1} "
                    f"gives {prev.out_channels}",
                    layer=i,
                    field="weights",
                )

    @property
    def in_channels(self) -> int:
        return self.layers[0].in_channels

    @property
    def out_channels(self) -> int:
        return self.layers[-1].out_channels

    @property
    def is_mono(self) -> bool:
        """True when the stack maps one channel to one channel.

        A mono stack runs over each channel of a multi-channel file separately.
        """
        return self.in_channels == 1 and self.out_channels == 1

    @property
    def receptive_field(self) -> int | None:
        """``1 + sum_l (k_l - 1) * d_l``, in samples; None for a recurrent stack (unbounded)."""
        histories = [layer.history for layer in self.layers]
        return None if None in histories else 1 + sum(histories)

    @property
    def is_recurrent(self) -> bool:
        """True when a layer keeps state with no bound on its memory (an LSTM)."""
        return self.receptive_field is None

    @property
    def lookahead(self) -> int:
        """Samples of future input an output sample depends on (0 when causal)."""
        rf = self.receptive_field
        # A recurrent stack is causal (see __post_init__), so rf is finite here.
        return (rf - 1) // 2 if self.padding == "same" and rf is not None else 0

    @property
    def parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    @property
    def macs_per_sample(self) -> int:
        return sum(layer.macs_per_sample for layer in self.layers)

    @property
    def is_linear(self) -> bool:
        return all(layer.is_linear for layer in self.layers)

    def replace(self, **changes: Any) -> "Stack":
        """A copy with some fields changed (``padding=...``, ``name=...``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The stack in the spec schema, ready for ``json.dumps``."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        out["padding"] = self.padding
        if self.sample_rate:
            out["sample_rate"] = self.sample_rate
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out


# ---------------------------------------------------------------------------
# Parsing


_STACK_KEYS = {"padding", "layers", "name", "description", "sample_rate"}
_LAYER_KEYS = {"type", "dilation", "kernel_size", "weights", "bias", "activation"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(value: Any, limit: int, *, layer: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be a positive integer, got {value!r}", layer=layer, field=name)
    if value < 1:
        raise SpecError(f"must be a positive integer, got {value}", layer=layer, field=name)
    if value > limit:
        raise SpecError(f"{value} exceeds the limit of {limit}", layer=layer, field=name)
    return value


def _nested_shape(value: Any, depth: int) -> tuple[int, ...] | None:
    """Shape of a regular nested list of numbers of the given depth, else None."""
    if depth == 0:
        return () if _is_number(value) else None
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
    if all(_is_number(v) for v in value):
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
        if _is_number(value):
            arr = np.full(out_channels, float(value))
        elif isinstance(value, list) and all(_is_number(v) for v in value):
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


_LIMITS = {
    "kernel_size": MAX_KERNEL_SIZE,
    "dilation": MAX_DILATION,
    "channels": MAX_CHANNELS,
    "layers": MAX_LAYERS,
    "parameters": MAX_PARAMETERS,
}


def _parse_element(raw: Any, index: int, in_channels: int, base_dir: Path | None) -> Layer:
    if not isinstance(raw, Mapping):
        raise SpecError(f"must be a table/object, got {type(raw).__name__}", layer=index)
    kind = raw.get("type", "conv")
    if kind == "wavenet":
        return parse_wavenet(raw, layer=index, in_channels=in_channels, base_dir=base_dir, limits=_LIMITS)
    if kind != "conv":
        raise SpecError(f"unknown layer type {kind!r}; known: conv, wavenet", layer=index, field="type")
    return _parse_layer(raw, index)


def _parse_layer(raw: Mapping[str, Any], index: int) -> Conv1d:
    unknown = sorted(set(map(str, raw)) - _LAYER_KEYS)
    if unknown:
        raise SpecError(
            f"unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(_LAYER_KEYS))}",
            layer=index,
            field=str(unknown[0]),
        )
    dilation = _positive_int(raw.get("dilation", 1), MAX_DILATION, layer=index, name="dilation")
    if "weights" not in raw:
        raise SpecError("is required", layer=index, field="weights")
    weights = _parse_weights(raw["weights"], layer=index)
    if "kernel_size" in raw:
        k = _positive_int(raw["kernel_size"], MAX_KERNEL_SIZE, layer=index, name="kernel_size")
        if k != weights.shape[2]:
            raise SpecError(
                f"is {k} but weights have {weights.shape[2]} tap(s)",
                layer=index,
                field="kernel_size",
            )
    bias = _parse_bias(raw.get("bias", 0.0), weights.shape[0], layer=index)
    act = raw.get("activation", "linear")
    if isinstance(act, Mapping):
        # NAM's form, with parameters: { type = "LeakyReLU", negative_slope = 0.2 }.
        try:
            parsed: str | Activation = parse_nam_activation(act, field="activation")
        except SpecError as exc:
            raise SpecError(exc.reason, layer=index, field="activation") from None
        return Conv1d(weights=weights, bias=bias, dilation=dilation, activation=parsed)
    if not isinstance(act, str) or act.lower() not in ACTIVATIONS:
        raise SpecError(
            f"unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}, or a table such as "
            "{ type = \"LeakyReLU\", negative_slope = 0.2 }",
            layer=index,
            field="activation",
        )
    return Conv1d(weights=weights, bias=bias, dilation=dilation, activation=act.lower())


def _check_totals(layers: Sequence[Layer]) -> None:
    rf = 1 + sum(layer.history for layer in layers)
    if rf > MAX_RECEPTIVE_FIELD:
        raise SpecError(f"receptive field {rf} samples exceeds the limit of {MAX_RECEPTIVE_FIELD}", field="layers")
    params = sum(layer.parameters for layer in layers)
    if params > MAX_PARAMETERS:
        raise SpecError(f"{params} parameters exceed the limit of {MAX_PARAMETERS}", field="layers")


def parse_spec(data: Mapping[str, Any], *, source: str | None = None, base_dir: str | os.PathLike[str] | None = None) -> Stack:
    """Build a :class:`Stack` from a spec mapping (the parsed TOML or JSON).

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
    try:
        if not isinstance(data, Mapping):
            raise SpecError(f"the document must be a table/object, got {type(data).__name__}")
        unknown = sorted(set(map(str, data)) - _STACK_KEYS)
        if unknown:
            raise SpecError(
                f"unknown top-level field(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(_STACK_KEYS))}",
                field=str(unknown[0]),
            )
        raw_layers = data.get("layers")
        if not isinstance(raw_layers, list) or not raw_layers:
            raise SpecError("must be a non-empty list of layers", field="layers")
        if len(raw_layers) > MAX_LAYERS:
            raise SpecError(f"{len(raw_layers)} layers exceed the limit of {MAX_LAYERS}", field="layers")
        padding = data.get("padding", "causal")
        if padding not in PADDINGS:
            raise SpecError(f"must be one of {', '.join(PADDINGS)}, got {padding!r}", field="padding")
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                raise SpecError("must be a string", field=key)
        sample_rate = data.get("sample_rate")
        if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 1 <= sample_rate <= MAX_SAMPLE_RATE):
            raise SpecError(f"must be a positive integer (Hz), got {sample_rate!r}", field="sample_rate")
        layers: list[Layer] = []
        channels = 1
        for i, raw in enumerate(raw_layers, start=1):
            layers.append(_parse_element(raw, i, channels, Path(base_dir) if base_dir is not None else None))
            channels = layers[-1].out_channels
        _check_totals(layers)
        return Stack(
            layers=tuple(layers),
            padding=padding,
            name=data.get("name"),
            description=data.get("description"),
            sample_rate=sample_rate,
        )
    except SpecError as exc:
        raise exc.located(source) if source else exc


def read_data_file(path: Path, limit: int, kind: str) -> bytes:
    """The bytes of a spec or model file: a regular file of at most ``limit`` bytes.

    Anything else (a directory, a FIFO, a device such as ``/dev/zero``,
    through a symlink too) is refused before it is opened, so nothing blocks
    or reads without end; the limit holds on the bytes actually read, not
    only on what ``stat`` says. Every failure is a :class:`SpecError`
    naming the file.
    """
    source = str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise SpecError(f"is a directory, not a {kind}", source=source)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"is not a regular file (a FIFO, socket or device), not a {kind}", source=source)
        if info.st_size > limit:
            raise SpecError(f"is {info.st_size} bytes, over the limit of {limit}", source=source)
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise SpecError(f"is over the limit of {limit} bytes", source=source)
        return data
    except FileNotFoundError:
        raise SpecError("no such file", source=source) from None
    except PermissionError:
        raise SpecError("permission denied", source=source) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", source=source) from None


def load_spec(path: str | os.PathLike[str], *, model_size: float | None = None) -> Stack:
    """Read a stack from a ``.toml`` or ``.json`` spec, or a ``.nam`` model.

    The format follows the extension; any other extension is tried as TOML,
    then JSON. The file is parsed as data only and may be at most
    :data:`MAX_SPEC_BYTES` long. ``.nam`` files are read by
    :func:`wavedil.formats.nam.load_nam`, which takes ``model_size``.

    Raises
    ------
    SpecError
        If the file is missing, too large, malformed or invalid.
    """
    path = Path(path)
    if path.suffix.lower() == ".nam":
        # Imported here: the NAM reader builds on this module.
        from .formats.nam import load_nam

        return load_nam(path, model_size=model_size)
    source = str(path)
    raw = read_data_file(path, MAX_SPEC_BYTES, "spec file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("is not UTF-8 text", source=source) from None
    suffix = path.suffix.lower()
    data = _parse_document(text, suffix, source)
    return parse_spec(data, source=source, base_dir=path.parent)


def _parse_document(text: str, suffix: str, source: str) -> Any:
    if suffix == ".json":
        return _parse_json(text, source)
    if suffix == ".toml":
        return _parse_toml(text, source)
    try:
        return _parse_toml(text, source)
    except SpecError:
        return _parse_json(text, source)


def _parse_json(text: str, source: str) -> Any:
    return parse_json_document(text, source, "a spec")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats: JSON would keep the last silently, TOML refuses it."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _number_reason(exc: ValueError) -> str:
    # Python refuses to convert integers of more digits than its limit; say so without naming its internals.
    if "integer string conversion" in str(exc):
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    return str(exc)


def parse_json_document(text: str, source: str, holder: str) -> Any:
    """Parse the JSON text of a spec or model; every failure is a :class:`SpecError` naming ``source``.

    ``NaN`` and ``Infinity``, a key repeated in one object, integers too long
    to read and nesting too deep are refused. ``holder`` names the kind of
    document in messages ("a spec", "a .nam file").
    """

    def reject_constant(name: str) -> float:
        raise ValueError(f"{name} is not a number {holder} may hold")

    try:
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise SpecError(f"the key {_printable(str(exc.args[0]))[:80]!r} appears twice in one object", source=source) from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", source=source) from None
    except RecursionError:
        raise SpecError("malformed JSON: nested too deeply", source=source) from None
    except ValueError as exc:
        raise SpecError(f"malformed JSON: {_number_reason(exc)}", source=source) from None


def _parse_toml(text: str, source: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"malformed TOML: {exc}", source=source) from None
    except RecursionError:
        raise SpecError("malformed TOML: nested too deeply", source=source) from None
    except ValueError as exc:  # an integer too long to read
        raise SpecError(f"malformed TOML: {_number_reason(exc)}", source=source) from None


# ---------------------------------------------------------------------------
# Shorthand and presets


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
    if taps is None:
        if kernel_size is None:
            raise SpecError("give a kernel size or the taps", field="kernel_size")
        _positive_int(kernel_size, MAX_KERNEL_SIZE, layer=None, name="kernel_size")  # type: ignore[arg-type]
        taps = [1.0 / kernel_size] * kernel_size
    else:
        taps = [float(t) for t in taps]
        if not taps:
            raise SpecError("give at least one tap", field="taps")
        if kernel_size is not None and kernel_size != len(taps):
            raise SpecError(f"kernel size {kernel_size} does not match {len(taps)} tap(s)", field="taps")
        if not all(math.isfinite(t) for t in taps):
            raise SpecError("taps must be finite numbers", field="taps")
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


@dataclass(frozen=True)
class Preset:
    """A named, documented stack."""

    name: str
    summary: str
    spec: Mapping[str, Any]

    def build(self) -> Stack:
        return parse_spec({"name": self.name, "description": self.summary, **self.spec}, source=f"preset {self.name}")


def _mono(dilation: int, taps: Sequence[float], activation: str = "linear", bias: float = 0.0) -> dict[str, Any]:
    return {"dilation": dilation, "weights": list(taps), "activation": activation, "bias": bias}


#: The preset ``apply`` uses when no stack is given.
DEFAULT_PRESET = "smooth"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "smooth",
            "16-sample moving average (kernel 2, dilations 1,2,4,8): a gentle low-pass, -3 dB near 1.2 kHz at 44.1 kHz",
            {"layers": [_mono(d, [0.5, 0.5]) for d in (1, 2, 4, 8)]},
        ),
        Preset(
            "lowpass-64",
            "64-sample moving average (kernel 2, dilations 1..32): a dark low-pass, -3 dB near 300 Hz at 44.1 kHz",
            {"layers": [_mono(d, [0.5, 0.5]) for d in (1, 2, 4, 8, 16, 32)]},
        ),
        Preset(
            "seed",
            "the seed example: kernel 3, dilations 1,2,4, uniform taps, receptive field 15",
            {"layers": [_mono(d, [1 / 3, 1 / 3, 1 / 3]) for d in (1, 2, 4)]},
        ),
        Preset(
            "presence",
            "high-shelf lift (taps 1.6, -0.6): brighter attack and consonants, unity at DC, +6.8 dB at Nyquist",
            {"layers": [_mono(1, [1.6, -0.6])]},
        ),
        Preset(
            "comb",
            "feed-forward comb, dilation 40: notches at 551 Hz and every 1.1 kHz above at 44.1 kHz, a hollow colour",
            {"layers": [_mono(40, [0.5, 0.5])]},
        ),
        Preset(
            "echo",
            "multi-tap echo: repeats at 2048, 4096 and 6144 samples (46, 93, 139 ms at 44.1 kHz), each quieter",
            {"layers": [_mono(2048, [0.7, 0.3]), _mono(4096, [1.0, 0.4])]},
        ),
        Preset(
            "wavenet",
            "the WaveNet paper's topology: gated residual blocks, 32 channels, kernel 2, dilations 1..512 x3; "
            "seeded random weights, for shapes, receptive field and speed, not for sound",
            {
                "layers": [
                    {
                        "type": "wavenet",
                        "init": {"seed": 0},
                        "head_scale": 0.02,
                        "arrays": [
                            {
                                "channels": 32,
                                "kernel_size": 2,
                                "dilations": [2**i for i in range(10)] * 3,
                                "activation": "tanh",
                                "gated": True,
                                "head_size": 1,
                            }
                        ],
                    }
                ]
            },
        ),
        Preset(
            "drive",
            "soft-clip overdrive: gain 6 into tanh, then a 4-sample smoothing, peak -3 dBFS",
            {"layers": [_mono(1, [6.0], "tanh"), _mono(1, [0.35, 0.35]), _mono(2, [0.5, 0.5])]},
        ),
    )
}


def preset(name: str) -> Stack:
    """Return the stack of the preset called ``name`` (see :data:`PRESETS`)."""
    try:
        return PRESETS[name].build()
    except KeyError:
        raise SpecError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}", field="preset") from None


# ---------------------------------------------------------------------------
# Writing


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(stack: Stack) -> str:
    """The stack as a TOML spec that :func:`load_spec` reads back to the same stack."""
    doc = stack.to_dict()
    lines = [f"{key} = {_toml_value(value)}" for key, value in doc.items() if key != "layers"]
    for layer in doc["layers"]:
        lines += ["", "[[layers]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in layer.items()]
    return "\n".join(lines) + "\n"
