"""WaveNets in wavedil's spec form: ``[[layers]] type = "wavenet"``.

A spec names layer arrays in the layout of NAM's file version 0.5
(``channels``, ``kernel_size``, ``dilations``, ``activation``, ``gated``,
``head_size``, ``head_bias``) and gives the weights as NAM's flat vector,
a side ``.npz`` file, or a seed. The network itself, its equations and its
forward pass are :mod:`wavedil.models.wavenet`'s: a spec WaveNet and a
``.nam`` capture run the same code. The receptive field is
``1 + sum_a (k_a - 1) * sum(d_a)``.
"""

from __future__ import annotations

import math
import stat
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .activations import ACTIVATIONS, Activation, activation_from_name
from .errors import SpecError
from .models.wavenet import WaveNet, wavenet_from_nam

__all__ = ["ArraySettings", "WaveNet", "from_flat", "parse_wavenet", "seeded_weights", "weight_count"]

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


# ---------------------------------------------------------------------------
# Building from settings and a flat weight vector


def weight_count(settings: Sequence[ArraySettings]) -> int:
    """Length of the flat weight vector for these arrays (without head_scale)."""
    return sum(s.parameters for s in settings)


def from_flat(settings: Sequence[ArraySettings], flat: np.ndarray, head_scale: float) -> WaveNet:
    """Build a :class:`~wavedil.models.wavenet.WaveNet` from NAM's flat weight vector (PyTorch Conv1d order).

    ``flat`` holds the arrays' weights without ``head_scale`` (see
    :func:`weight_count`); the network is read by the same code as a
    ``.nam`` file of the 0.5 layout.

    Raises
    ------
    SpecError
        If the vector's length does not match the settings.
    """
    flat = np.asarray(flat, dtype=np.float64).ravel()
    expected = weight_count(settings)
    if flat.size != expected:
        raise SpecError(f"expected {expected} numbers for this architecture, found {flat.size}", field="weights")
    config = {
        "layers": [
            {
                "input_size": s.input_size,
                "condition_size": s.condition_size,
                "head_size": s.head_size,
                "channels": s.channels,
                "kernel_size": s.kernel_size,
                "dilations": list(s.dilations),
                "activation": s.activation,
                "gated": s.gated,
                "head_bias": s.head_bias,
            }
            for s in settings
        ],
        "head": None,
        "head_scale": float(head_scale),
        "in_channels": settings[0].input_size,
    }
    return wavenet_from_nam(config, np.append(flat, float(head_scale)), limits=_NO_LIMITS, parse_activation=_spec_activation)


#: Settings reaching from_flat were checked by parse_array_settings against the spec's limits.
_NO_LIMITS = {key: sys.maxsize for key in ("kernel_size", "dilation", "channels", "layers", "parameters")}


def _spec_activation(name: Any, *, field: str) -> Activation:
    """wavedil's activation names, as a spec's arrays hold them."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise SpecError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}", field=field)
    return activation_from_name(name)


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
    # float() first: NumPy cannot test an integer beyond 64 bits, and one beyond the float range is no scale.
    try:
        scale = float(head_scale) if _is_number(head_scale) else np.nan
    except OverflowError:
        scale = np.inf
    if not np.isfinite(scale):
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
        return from_flat(settings, flat, scale)
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
) -> ArraySettings:
    """Read and check one layer array's settings (``arrays[i]`` of a spec)."""
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
    act = act_raw.lower() if isinstance(act_raw, str) and act_raw.lower() in ACTIVATIONS else None
    if act is None:
        raise SpecError(
            f"unknown activation {act_raw!r}; known: {', '.join(ACTIVATIONS)}",
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


def _npy_header(member) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of a ``.npy`` stream (read with NumPy's own header parser)."""
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(member, max_header_size=10_000)
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _load_npz(name: str, expected: int, *, layer: int, base_dir: Path | None) -> np.ndarray:
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    field = "weights"
    try:
        # Opening a FIFO would block, a device would read without end: stat first.
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise SpecError(f"{path}: is a directory, not a .npz file", layer=layer, field=field)
        if not stat.S_ISREG(mode):
            raise SpecError(f"{path}: is not a regular file (a FIFO, socket or device), not a .npz file", layer=layer, field=field)
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo("weights.npy")
            except KeyError:
                raise SpecError(f"{path}: has no array named 'weights'", layer=layer, field=field) from None
            # np.load would read another member named 'weights' in its place: one member, the checked one.
            others = sorted(set(zf.namelist()) - {"weights.npy"}) or (["weights.npy"] if len(zf.namelist()) > 1 else [])
            if others:
                raise SpecError(f"{path}: holds {others[0]!r} besides one 'weights.npy'; a weights file holds that array only", layer=layer, field=field)
            if info.file_size > MAX_NPZ_BYTES:
                raise SpecError(f"{path}: 'weights' is {info.file_size} bytes, over the limit of {MAX_NPZ_BYTES}", layer=layer, field=field)
            # The array's own header says what np.load would allocate: check it before anything is.
            with zf.open(info) as member:
                shape, dtype = _npy_header(member)
            if dtype.kind not in "fiu" or dtype.hasobject or math.prod(shape) != expected:
                raise SpecError(f"{path}: 'weights' holds {math.prod(shape)} {dtype} values, expected {expected} numbers", layer=layer, field=field)
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
