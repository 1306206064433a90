"""WaveNet residual blocks: gated dilated layers with residual and skip paths.

A WaveNet is a chain of *layer arrays*. Array ``a`` takes the previous
array's output ``y`` (the raw input ``x`` for the first) and the raw input as
its condition ``c``::

    r = R @ y                                      # 1x1 rechannel, no bias
    for each layer l (dilation d_l):
        z = b_l + sum_j W_l[j] @ r[t - j*d_l]      # dilated conv, mid channels
        z += M_l @ c                               # conditioning 1x1, no bias
        p = act(z)                  (plain)
        p = act(z[:C]) * sigmoid(z[C:])            (gated: mid = 2*C)
        r = r + O_l @ p + o_l                      # residual 1x1
        s = s + p                                  # skip sum (starts from the
                                                   # previous array's head)
    head = H @ s (+ h)                             # head 1x1 to head_size
    y = r

The network outputs ``head_scale * head`` of the last array. This is the
layout of Neural Amp Modeler's WaveNet (file version 0.5), so its captures
run here unchanged; the receptive field is ``1 + sum_a (k_a - 1) * sum(d_a)``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .activations import ACTIVATIONS, activation as _activation
from .errors import SpecError

#: Largest side .npz weight file, uncompressed, in bytes.
MAX_NPZ_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class ArraySettings:
    """The shape of one layer array, before weights (NAM's ``config.layers[i]``)."""

    input_size: int
    condition_size: int
    channels: int
    kernel_size: int
    dilations: tuple[int, ...]
    activation: str
    gated: bool
    head_size: int
    head_bias: bool

    @property
    def mid(self) -> int:
        """Channels of the dilated convolution's output: doubled when gated."""
        return 2 * self.channels if self.gated else self.channels

    @property
    def history(self) -> int:
        return (self.kernel_size - 1) * sum(self.dilations)

    @property
    def layer_parameters(self) -> int:
        m, c = self.mid, self.channels
        return m * c * self.kernel_size + m + m * self.condition_size + c * c + c

    @property
    def layer_macs(self) -> int:
        m, c = self.mid, self.channels
        return m * c * self.kernel_size + m * self.condition_size + c * c

    @property
    def head_parameters(self) -> int:
        return self.head_size * self.channels + (self.head_size if self.head_bias else 0)

    @property
    def parameters(self) -> int:
        """Also the array's length in the flat (NAM) weight vector."""
        return self.channels * self.input_size + len(self.dilations) * self.layer_parameters + self.head_parameters

    @property
    def macs_per_sample(self) -> int:
        return (
            self.channels * self.input_size
            + len(self.dilations) * self.layer_macs
            + self.head_size * self.channels
        )


@dataclass(frozen=True, eq=False)
class LayerArray:
    """One WaveNet layer array: its settings and weights.

    Taps are in wavedil's order: ``conv_weights[l][..., 0]`` meets the current sample.
    """

    settings: ArraySettings
    rechannel: np.ndarray  # (channels, input_size)
    conv_weights: tuple[np.ndarray, ...]  # each (mid, channels, kernel_size)
    conv_biases: tuple[np.ndarray, ...]  # each (mid,)
    mixers: tuple[np.ndarray, ...]  # each (mid, condition_size)
    out_weights: tuple[np.ndarray, ...]  # each (channels, channels)
    out_biases: tuple[np.ndarray, ...]  # each (channels,)
    head_weight: np.ndarray  # (head_size, channels)
    head_bias_values: np.ndarray | None  # (head_size,)


@dataclass(frozen=True, eq=False)
class WaveNet:
    """A WaveNet: layer arrays, and the scale of the final head output.

    Used as one element of a :class:`~wavedil.spec.Stack`. See the module
    docstring for the computation.
    """

    arrays: tuple[LayerArray, ...]
    head_scale: float = 1.0

    kind = "wavenet"

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrays", tuple(self.arrays))
        if not self.arrays:
            raise SpecError("a WaveNet needs at least one layer array", field="arrays")
        settings = [arr.settings for arr in self.arrays]
        first = settings[0]
        for i, (prev, arr) in enumerate(zip(settings, settings[1:]), start=2):
            if arr.input_size != prev.channels:
                raise SpecError(
                    f"array {i} takes input_size {arr.input_size} but array {i - 1} has {prev.channels} channels",
                    field="input_size",
                )
            if prev.head_size != arr.channels:
                raise SpecError(
                    f"array {i - 1} has head_size {prev.head_size} but its head feeds array {i}, "
                    f"which has {arr.channels} channels",
                    field="head_size",
                )
        for i, arr in enumerate(settings, start=1):
            if arr.condition_size != first.input_size:
                raise SpecError(
                    f"array {i} has condition_size {arr.condition_size} but the network input has "
                    f"{first.input_size} channel(s)",
                    field="condition_size",
                )

    @property
    def settings(self) -> tuple[ArraySettings, ...]:
        return tuple(arr.settings for arr in self.arrays)

    @property
    def in_channels(self) -> int:
        return self.settings[0].input_size

    @property
    def out_channels(self) -> int:
        return self.settings[-1].head_size

    @property
    def history(self) -> int:
        return sum(s.history for s in self.settings)

    @property
    def span(self) -> int:
        return self.history + 1

    @property
    def parameters(self) -> int:
        return sum(s.parameters for s in self.settings)

    @property
    def macs_per_sample(self) -> int:
        return sum(s.macs_per_sample for s in self.settings)

    @property
    def is_linear(self) -> bool:
        return False

    def rows(self) -> list[dict[str, Any]]:
        """One report row per 1x1 rechannel, dilated layer and head."""
        rows: list[dict[str, Any]] = []
        for a, s in enumerate(self.settings, start=1):
            act = f"{s.activation}*sigmoid" if s.gated else s.activation
            rechannel = s.channels * s.input_size
            rows.append(_row(f"wavenet {a} rechannel", 1, 1, s.input_size, s.channels, "linear", rechannel, rechannel))
            for d in s.dilations:
                rows.append(_row(f"wavenet {a} layer", s.kernel_size, d, s.channels, s.channels, act, s.layer_parameters, s.layer_macs))
            rows.append(_row(f"wavenet {a} head", 1, 1, s.channels, s.head_size, "linear", s.head_parameters, s.head_size * s.channels))
        return rows

    def flat_weights(self) -> np.ndarray:
        """The weights as NAM's flat vector (PyTorch order, taps reversed), without head_scale."""
        parts: list[np.ndarray] = []
        for arr in self.arrays:
            parts.append(arr.rechannel.ravel())
            for i in range(len(arr.settings.dilations)):
                parts.append(arr.conv_weights[i][:, :, ::-1].ravel())
                parts.append(arr.conv_biases[i])
                parts.append(arr.mixers[i].ravel())
                parts.append(arr.out_weights[i].ravel())
                parts.append(arr.out_biases[i])
            parts.append(arr.head_weight.ravel())
            if arr.head_bias_values is not None:
                parts.append(arr.head_bias_values)
        return np.concatenate(parts)

    def config(self) -> list[dict[str, Any]]:
        """The layer-array settings, in NAM's key names (activations in wavedil's names)."""
        return [dict(asdict(s), dilations=list(s.dilations)) for s in self.settings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "wavenet",
            "head_scale": self.head_scale,
            "arrays": self.config(),
            "weights": self.flat_weights().tolist(),
        }


def _row(kind: str, k: int, d: int, cin: int, cout: int, act: str, params: int, macs: int) -> dict[str, Any]:
    return {
        "kind": kind,
        "kernel_size": k,
        "dilation": d,
        "in_channels": cin,
        "out_channels": cout,
        "activation": act,
        "parameters": params,
        "macs_per_sample": macs,
        "span": (k - 1) * d + 1,
    }


# ---------------------------------------------------------------------------
# Building from settings and a flat weight vector


def weight_count(settings: Sequence[ArraySettings]) -> int:
    """Length of the flat weight vector for these arrays (without head_scale)."""
    return sum(s.parameters for s in settings)


def from_flat(settings: Sequence[ArraySettings], flat: np.ndarray, head_scale: float) -> WaveNet:
    """Build a :class:`WaveNet` from NAM's flat weight vector (PyTorch Conv1d order).

    PyTorch convolutions are cross-correlations whose last tap meets the
    current sample, so the taps are reversed into wavedil's order here.

    Raises
    ------
    SpecError
        If the vector's length does not match the settings.
    """
    flat = np.asarray(flat, dtype=np.float64).ravel()
    expected = weight_count(settings)
    if flat.size != expected:
        raise SpecError(f"expected {expected} numbers for this architecture, found {flat.size}", field="weights")
    pos = 0

    def take(*shape: int) -> np.ndarray:
        nonlocal pos
        n = int(np.prod(shape))
        out = flat[pos : pos + n].reshape(shape)
        pos += n
        return out

    arrays = []
    for s in settings:
        m, c = s.mid, s.channels
        rechannel = take(c, s.input_size)
        convs, conv_b, mixers, outs, out_b = [], [], [], [], []
        for _ in s.dilations:
            convs.append(np.ascontiguousarray(take(m, c, s.kernel_size)[:, :, ::-1]))
            conv_b.append(take(m))
            mixers.append(take(m, s.condition_size))
            outs.append(take(c, c))
            out_b.append(take(c))
        head_w = take(s.head_size, c)
        head_b = take(s.head_size) if s.head_bias else None
        arrays.append(
            LayerArray(
                settings=s,
                rechannel=_ro(rechannel),
                conv_weights=tuple(map(_ro, convs)),
                conv_biases=tuple(map(_ro, conv_b)),
                mixers=tuple(map(_ro, mixers)),
                out_weights=tuple(map(_ro, outs)),
                out_biases=tuple(map(_ro, out_b)),
                head_weight=_ro(head_w),
                head_bias_values=None if head_b is None else _ro(head_b),
            )
        )
    return WaveNet(arrays=tuple(arrays), head_scale=float(head_scale))


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def seeded_weights(settings: Sequence[ArraySettings], seed: int) -> np.ndarray:
    """A flat weight vector drawn like PyTorch's default Conv1d init, from ``seed``.

    Each tensor is uniform in ``+-1/sqrt(fan_in)``. Meant for studying shapes,
    receptive fields and speed, not for sound.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for s in settings:
        m, c = s.mid, s.channels

        def draw(n: int, fan_in: int) -> np.ndarray:
            bound = 1.0 / np.sqrt(fan_in)
            return rng.uniform(-bound, bound, n)

        parts.append(draw(c * s.input_size, s.input_size))
        for _ in s.dilations:
            parts.append(draw(m * c * s.kernel_size, c * s.kernel_size))
            parts.append(draw(m, c * s.kernel_size))
            parts.append(draw(m * s.condition_size, s.condition_size))
            parts.append(draw(c * c, c))
            parts.append(draw(c, c))
        parts.append(draw(s.head_size * c, c))
        if s.head_bias:
            parts.append(draw(s.head_size, c))
    return np.concatenate(parts)


# ---------------------------------------------------------------------------
# The spec form: [[layers]] type = "wavenet"

_WAVENET_KEYS = {"type", "arrays", "head_scale", "init", "weights"}
_ARRAY_KEYS = {
    "input_size",
    "condition_size",
    "channels",
    "kernel_size",
    "dilations",
    "activation",
    "gated",
    "head_size",
    "head_bias",
}


def parse_wavenet(raw: Mapping[str, Any], *, layer: int, in_channels: int, base_dir: Path | None, limits: Mapping[str, int]) -> WaveNet:
    """Build a WaveNet from its spec table (see the README for the schema).

    ``in_channels`` is what the element before it outputs (the stack input for
    the first element); ``base_dir`` is where a side ``.npz`` file is looked for.
    """
    unknown = sorted(set(map(str, raw)) - _WAVENET_KEYS)
    if unknown:
        raise SpecError(
            f"unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(_WAVENET_KEYS))}",
            layer=layer,
            field=str(unknown[0]),
        )
    raw_arrays = raw.get("arrays")
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
    total = weight_count(settings)
    if total > limits["parameters"]:
        raise SpecError(f"{total} parameters exceed the limit of {limits['parameters']}", layer=layer, field="arrays")
    head_scale = raw.get("head_scale", 1.0)
    if not _is_number(head_scale) or not np.isfinite(head_scale):
        raise SpecError(f"must be a finite number, got {head_scale!r}", layer=layer, field="head_scale")
    has_init, has_weights = "init" in raw, "weights" in raw
    if has_init == has_weights:
        raise SpecError("give either weights (a list or a .npz file) or init = { seed = N }", layer=layer, field="weights")
    if has_init:
        init = raw["init"]
        seed = init.get("seed") if isinstance(init, Mapping) else None
        if not isinstance(init, Mapping) or set(init) != {"seed"} or isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SpecError("must be { seed = N } with N a non-negative integer", layer=layer, field="init")
        flat = seeded_weights(settings, seed)
    else:
        flat = _weights_value(raw["weights"], total, layer=layer, base_dir=base_dir)
    try:
        return from_flat(settings, flat, float(head_scale))
    except SpecError as exc:
        raise SpecError(exc.reason, layer=layer, field=exc.field) from None


def parse_array_settings(
    arr: Any,
    *,
    layer: int | None,
    array: int,
    default_input: int | None,
    default_condition: int | None,
    limits: Mapping[str, int],
    activation_names: Mapping[str, str] | None = None,
) -> ArraySettings:
    """Read and check one layer array's settings (spec or .nam ``config.layers[i]``)."""
    where = f"arrays[{array}]"
    if not isinstance(arr, Mapping):
        raise SpecError(f"must be a table/object, got {type(arr).__name__}", layer=layer, field=where)
    unknown = sorted(set(map(str, arr)) - _ARRAY_KEYS)
    if unknown:
        raise SpecError(
            f"unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(_ARRAY_KEYS))}",
            layer=layer,
            field=f"{where}.{unknown[0]}",
        )

    def integer(key: str, default: int | None, limit: int) -> int:
        value = arr.get(key, default)
        if value is None:
            raise SpecError("is required", layer=layer, field=f"{where}.{key}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"must be a positive integer, got {value!r}", layer=layer, field=f"{where}.{key}")
        if value > limit:
            raise SpecError(f"{value} exceeds the limit of {limit}", layer=layer, field=f"{where}.{key}")
        return value

    channels = integer("channels", None, limits["channels"])
    kernel_size = integer("kernel_size", None, limits["kernel_size"])
    input_size = integer("input_size", default_input, limits["channels"])
    condition_size = integer("condition_size", default_condition, limits["channels"])
    head_size = integer("head_size", 1, limits["channels"])
    dilations = arr.get("dilations")
    if not isinstance(dilations, list) or not dilations:
        raise SpecError("must be a non-empty list of positive integers", layer=layer, field=f"{where}.dilations")
    if len(dilations) > limits["layers"]:
        raise SpecError(f"{len(dilations)} layers exceed the limit of {limits['layers']}", layer=layer, field=f"{where}.dilations")
    for d in dilations:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise SpecError(f"must hold positive integers, got {d!r}", layer=layer, field=f"{where}.dilations")
        if d > limits["dilation"]:
            raise SpecError(f"dilation {d} exceeds the limit of {limits['dilation']}", layer=layer, field=f"{where}.dilations")
    act_raw = arr.get("activation", "tanh")
    names = activation_names if activation_names is not None else {n: n for n in ACTIVATIONS}
    act = names.get(act_raw if activation_names is not None else str(act_raw).lower()) if isinstance(act_raw, str) else None
    if act is None:
        raise SpecError(
            f"unknown activation {act_raw!r}; known: {', '.join(names)}",
            layer=layer,
            field=f"{where}.activation",
        )
    gated = arr.get("gated", False)
    head_bias = arr.get("head_bias", True)
    for key, value in (("gated", gated), ("head_bias", head_bias)):
        if not isinstance(value, bool):
            raise SpecError(f"must be true or false, got {value!r}", layer=layer, field=f"{where}.{key}")
    return ArraySettings(
        input_size=input_size,
        condition_size=condition_size,
        channels=channels,
        kernel_size=kernel_size,
        dilations=tuple(dilations),
        activation=act,
        gated=gated,
        head_size=head_size,
        head_bias=head_bias,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _weights_value(value: Any, expected: int, *, layer: int, base_dir: Path | None) -> np.ndarray:
    if isinstance(value, str):
        return _load_npz(value, expected, layer=layer, base_dir=base_dir)
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise SpecError("must be a flat list of numbers or the name of a .npz file", layer=layer, field="weights")
    if len(value) != expected:
        raise SpecError(f"expected {expected} numbers, found {len(value)}", layer=layer, field="weights")
    flat = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(flat)):
        raise SpecError("must be finite numbers", layer=layer, field="weights")
    return flat


def _load_npz(name: str, expected: int, *, layer: int, base_dir: Path | None) -> np.ndarray:
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    field = "weights"
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo("weights.npy")
            except KeyError:
                raise SpecError(f"{path}: has no array named 'weights'", layer=layer, field=field) from None
            if info.file_size > MAX_NPZ_BYTES:
                raise SpecError(f"{path}: 'weights' is {info.file_size} bytes, over the limit of {MAX_NPZ_BYTES}", layer=layer, field=field)
        with np.load(path, allow_pickle=False) as npz:
            flat = np.asarray(npz["weights"], dtype=np.float64).ravel()
    except SpecError:
        raise
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", layer=layer, field=field) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SpecError(f"{path}: not a readable .npz file ({exc})", layer=layer, field=field) from None
    if flat.size != expected:
        raise SpecError(f"{path}: expected {expected} numbers, found {flat.size}", layer=layer, field=field)
    if not np.all(np.isfinite(flat)):
        raise SpecError(f"{path}: weights must be finite numbers", layer=layer, field=field)
    return flat


# ---------------------------------------------------------------------------
# The forward pass


_TANH = _activation("tanh")


class _LayerState:
    """One layer's input with its history: ``buf[..., :history]`` holds the past."""

    def __init__(self, w_cat: np.ndarray, o_aug: np.ndarray, dilation: int, kernel_size: int, batch: int, channels: int, block: int, dtype: np.dtype) -> None:
        self.w_cat = w_cat
        self.o_aug = o_aug
        self.dilation = dilation
        self.kernel_size = kernel_size
        self.history = (kernel_size - 1) * dilation
        self.buf = np.zeros((batch, channels, self.history + block), dtype=dtype)

    def shift(self, n: int) -> None:
        """Keep the last ``history`` samples after a block of ``n``."""
        h = self.history
        if h:
            # A memmove when the regions overlap (history longer than the block).
            self.buf[..., :h] = self.buf[..., n : n + h]


class _ArrayRunner:
    """The forward pass of one layer array over blocks of up to ``block`` samples.

    Per layer, the k taps, the conditioning input and the bias are one GEMM:
    ``z = [W_0 .. W_{k-1} M b] @ [r[t]; r[t-d]; ..; c[t]; 1]``, and the
    residual 1x1 with its bias another, ``[O o] @ [p; 1]``, written straight
    into the next layer's input buffer. All buffers are allocated once.
    """

    def __init__(self, arr: LayerArray, batch: int, dtype: np.dtype, block: int) -> None:
        s = arr.settings
        c, k, cond = s.channels, s.kernel_size, s.condition_size
        self.channels, self.gated, self.cond = c, s.gated, cond
        self.act = _activation(s.activation)
        self.rechannel = np.ascontiguousarray(arr.rechannel, dtype=dtype)
        self.layers = []
        for w, b, m, o, ob, d in zip(arr.conv_weights, arr.conv_biases, arr.mixers, arr.out_weights, arr.out_biases, s.dilations):
            w_cat = np.concatenate([w[:, :, j] for j in range(k)] + [m, b[:, None]], axis=1)
            if s.gated:
                w_cat[c:] *= 0.5  # exact: a power of two
            o_aug = np.concatenate([o, ob[:, None]], axis=1)
            self.layers.append(_LayerState(w_cat.astype(dtype), o_aug.astype(dtype), d, k, batch, c, block, dtype))
        self.head = np.ascontiguousarray(arr.head_weight, dtype=dtype)
        self.head_bias = None if arr.head_bias_values is None else arr.head_bias_values.astype(dtype)[:, None]
        # Shared by the layers: the stacked GEMM input, whose last rows hold the
        # condition and a row of ones; the activations with a row of ones; the skip sum.
        self.stacked = np.empty((batch, k * c + cond + 1, block), dtype=dtype)
        self.stacked[:, -1] = 1
        self.z = np.empty((batch, s.mid, block), dtype=dtype)
        self.p = np.empty((batch, c + 1, block), dtype=dtype)
        self.p[:, -1] = 1
        self.skip = np.empty((batch, c, block), dtype=dtype)
        self.out = np.empty((batch, c, block), dtype=dtype)
        self.head_out = np.empty((batch, s.head_size, block), dtype=dtype)

    def __call__(self, y: np.ndarray, cond: np.ndarray, skip_in: np.ndarray | None, prime: bool) -> tuple[np.ndarray, np.ndarray]:
        n = y.shape[-1]
        c = self.channels
        layers = self.layers
        stacked = self.stacked[..., :n]
        stacked[:, -1 - self.cond : -1] = cond
        z, p, pa = self.z[..., :n], self.p[:, :c, :n], self.p[..., :n]
        skip = self.skip[..., :n]
        first = layers[0]
        r = first.buf[..., first.history : first.history + n]
        np.matmul(self.rechannel, y, out=r)
        for i, layer in enumerate(layers):
            h, d = layer.history, layer.dilation
            buf = layer.buf
            if prime:
                buf[..., :h] = r[..., :1]
            for j in range(layer.kernel_size):
                stacked[:, j * c : (j + 1) * c] = buf[..., h - j * d : h - j * d + n]
            np.matmul(layer.w_cat, stacked, out=z)
            if self.gated:
                # sigmoid(g) = (1 + tanh(g/2)) / 2: the gate's rows of w_cat are
                # halved, and one tanh call serves both halves (SciPy's expit
                # costs nearly twice NumPy's tanh).
                a, gate = z[:, :c], z[:, c:]
                if self.act is _TANH:
                    np.tanh(z, out=z)
                else:
                    self.act(a)
                    np.tanh(gate, out=gate)
                np.add(gate, 1, out=gate)
                np.multiply(a, gate, out=p)
                np.multiply(p, 0.5, out=p)
            elif self.act is _TANH:
                np.tanh(z, out=p)
            else:
                np.copyto(p, z)
                self.act(p)
            if i == 0:
                if skip_in is None:
                    np.copyto(skip, p)
                else:
                    np.add(skip_in, p, out=skip)
            else:
                np.add(skip, p, out=skip)
            if i + 1 < len(layers):
                nxt = layers[i + 1]
                r_next = nxt.buf[..., nxt.history : nxt.history + n]
            else:
                r_next = self.out[..., :n]
            np.matmul(layer.o_aug, pa, out=r_next)
            np.add(r_next, r, out=r_next)
            layer.shift(n)
            r = r_next
        head = self.head_out[..., :n]
        np.matmul(self.head, skip, out=head)
        if self.head_bias is not None:
            head += self.head_bias
        return r, head


class WaveNetRunner:
    """Streaming forward pass of a :class:`WaveNet` on (batch, channels, time) arrays.

    The same protocol as :class:`~wavedil.conv.ConvRunner`: :meth:`run`
    reads the input where it lies and writes the output.
    """

    def __init__(self, net: WaveNet, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0) -> None:
        self.arrays = [_ArrayRunner(arr, batch, dtype, block) for arr in net.arrays]
        self.head_scale = dtype.type(net.head_scale)
        self.gain_in = None if gain_in == 1.0 else dtype.type(gain_in)
        self.gain_out = 1.0
        # Room for the input with a deferred gain applied (the input itself is never written).
        self.scaled = np.empty((batch, net.in_channels, block), dtype=dtype) if self.gain_in is not None else None
        self.out_channels = net.out_channels
        self.dtype = dtype

    def _forward(self, x: np.ndarray, out: np.ndarray, prime: bool) -> None:
        if self.scaled is not None:
            x = np.multiply(x, self.gain_in, out=self.scaled[..., : x.shape[-1]])
        y, skip = x, None
        for arr in self.arrays:
            y, skip = arr(y, x, skip, prime)
        assert skip is not None
        np.multiply(skip, self.head_scale, out=out)

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Put every layer in the steady state of the constant input; return the constant output."""
        batch = self.arrays[0].stacked.shape[0]
        x = np.repeat(steady_in[None, :, None].astype(self.dtype), batch, axis=0)
        out = np.empty((batch, self.out_channels, 1), dtype=self.dtype)
        self._forward(x, out, prime=True)
        return out[0, :, 0].copy()

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        """Filter ``x`` (batch, in, n) into ``out`` (batch, out, n)."""
        self._forward(x, out, prime=False)
