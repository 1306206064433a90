"""Chains: stacks, captures, impulse responses and gains run one after another, in one pass.

``chain(a, b, c)`` (or ``a + b + c``) is one :class:`~wavedil.stack.Stack`
whose layers are the stages' layers in order, with each stage's place kept in
:attr:`~wavedil.stack.Stack.stages` for reports. Every layer keeps its own
streaming state, so the chain runs block by block like any stack, and its
receptive field is that of its layers::

    receptive_field = 1 + sum_i (RF_i - 1)

Channels: a mono stage (one channel in and out: a capture, a gain, a mono
IR) runs on every channel of whatever reaches it; a stage of ``C`` channels
(a stereo spec, an IR of ``C`` channels) takes exactly ``C``. A mono stage in
a chain that has such a stage runs as ``C`` copies (:class:`PerChannel`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .engines import NUMPY, Engine
from .errors import SpecError, WavedilError
from .fields import refuse_unknown
from .limits import MAX_LAYERS, check_totals
from .stack import Layer, Stack, Stage, unwrapped


@dataclass(frozen=True, eq=False)
class PerChannel:
    """A mono layer run on each of ``channels`` channels apart: ``channels`` in, ``channels`` out.

    The channels share the layer's weights; each has a runner, and so a state, of its own.
    """

    layer: Layer
    channels: int

    @property
    def kind(self) -> str:
        return str(self.layer.kind)

    stacks_taps = False

    @property
    def in_channels(self) -> int:
        return self.channels

    @property
    def out_channels(self) -> int:
        return self.channels

    @property
    def history(self) -> int | None:
        return self.layer.history  # type: ignore[no-any-return]

    @property
    def parameters(self) -> int:
        return int(self.layer.parameters)

    @property
    def macs_per_sample(self) -> int:
        return int(self.layer.macs_per_sample) * self.channels

    @property
    def is_linear(self) -> bool:
        return bool(self.layer.is_linear)

    @property
    def kernels_pay(self) -> bool:
        return bool(getattr(self.layer, "kernels_pay", False))

    def __getattr__(self, name: str) -> Any:
        # What the report and the analysis read of a layer (kernel_size, dilation, sample_rate...).
        if name.startswith("__") or name == "layer":
            raise AttributeError(name)
        return getattr(self.layer, name)

    def activation_names(self) -> set[str]:
        return set(self.layer.activation_names())

    def block_rows(self) -> int | None:
        rows = self.layer.block_rows()
        return None if rows is None else rows * self.channels

    def memory_bytes(self, batch: int, itemsize: int, block: int, engine: Engine = NUMPY) -> int:
        return int(self.layer.memory_bytes(batch, itemsize, block, engine)) * self.channels

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> "PerChannelRunner":
        return PerChannelRunner(self.layer, batch, dtype, block, gain_in, self.channels, engine)

    def graph_nodes(self, g: Any, x: int, index: int) -> int:
        return int(self.layer.graph_nodes(g, x, index))

    def rows(self) -> list[dict[str, Any]]:
        rows = [dict(row) for row in self.layer.rows()]
        for row in rows:
            row["in_channels"] = row["out_channels"] = self.channels
            row["macs_per_sample"] = row["macs_per_sample"] * self.channels if row.get("macs_per_sample") is not None else None
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"type": "per_channel", "channels": self.channels, "layer": self.layer.to_dict()}


class PerChannelRunner:
    """One runner of a mono layer per channel, each over the batch's signals: channel ``c`` reads and writes rows ``c``."""

    def __init__(self, layer: Layer, batch: int, dtype: np.dtype, block: int, gain_in: float, channels: int, engine: Engine) -> None:
        self.inners = [layer.runner(batch, dtype, block, gain_in, engine=engine) for _ in range(channels)]
        self.out_channels = channels
        self.gain_out = self.inners[0].gain_out
        self.engine = getattr(self.inners[0], "engine", "numpy")

    @property
    def layer_engines(self) -> list[str]:
        return list(getattr(self.inners[0], "layer_engines", [self.engine]))

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(inner.prime(steady_in[c : c + 1])) for c, inner in enumerate(self.inners)])

    def run(self, x: np.ndarray, y: np.ndarray) -> None:
        for c, inner in enumerate(self.inners):
            inner.run(x[:, c : c + 1], y[:, c : c + 1])


def chain(*stages: Stack, padding: str | None = None, name: str | None = None) -> Stack:
    """Stages run one after another, in one pass: ``y = stage_n(... stage_2(stage_1(x)))``.

    Parameters
    ----------
    *stages : Stack
        Stacks, captures (:func:`wavedil.load_spec`), impulse responses
        (:func:`wavedil.ir`), gains (:func:`wavedil.gain`) or chains, in order.
    padding : {"causal", "same"}, optional
        The edge rule of the whole chain. Default: the stages' own when there
        is one stage or they all say ``causal``; stages that say ``same`` in
        a chain of several need it given here (a stage's own centring would
        apply to its part only).
    name : str, optional
        A label for reports; default: the stages' names joined by ``" > "``.

    Returns
    -------
    Stack
        Its ``receptive_field`` is ``1 + sum_i (RF_i - 1)``, its ``stages`` say
        where each stage's layers are. A mono stage in a chain with a stage of
        ``C`` channels runs on each of the ``C`` channels (:class:`PerChannel`).

    Raises
    ------
    SpecError
        Stages whose channels do not meet, models made for different sample
        rates, or ``same`` stages without ``padding``.

    Examples
    --------
    >>> import numpy as np
    >>> from wavedil import apply, gain, stack_from_dilations
    >>> smooth = stack_from_dilations([1, 2], taps=[0.5, 0.5])
    >>> both = chain(gain(6.0206), smooth)
    >>> both.receptive_field, [s.kind for s in both.stages]
    (4, ['gain', 'stack'])
    >>> apply(both, np.array([1.0, 0.0, 0.0, 0.0]), dtype=np.float64).round(6).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    if not stages:
        raise SpecError("a chain needs at least one stage", field="stages")
    if name is not None and not isinstance(name, str):
        raise SpecError(f"a chain's name is a string, got {type(name).__name__}", field="name")
    parts: list[_Part] = []
    for i, stage in enumerate(stages, start=1):
        if not isinstance(stage, Stack):
            raise SpecError(f"a chain's stages are stacks, got {type(stage).__name__}", field="stages")
        if stage.stages and stage.padding == "same" and padding is None:
            raise SpecError(
                f"stage {i} ({stage.name}) is a chain with padding 'same', which centres that chain alone: give this chain's padding"
            )
        parts.extend(_stages_of(stage))
    if len(parts) == 1 and padding in (None, stages[0].padding) and name is None:
        return stages[0]
    if padding is None and len(parts) == 1:
        padding = parts[0].padding
    rates = {s.sample_rate for s in parts if s.sample_rate}
    if len(rates) > 1:
        listed = ", ".join(f"stage {i} ({s.name}) {s.sample_rate} Hz" for i, s in enumerate(parts, start=1) if s.sample_rate)
        raise SpecError(f"the stages were made for different sample rates: {listed}")
    own = {s.padding for s in parts}
    if padding is None:
        if "same" in own:
            which = next(i for i, s in enumerate(parts, start=1) if s.padding == "same")
            raise SpecError(
                f"stage {which} ({parts[which - 1].name}) has padding 'same', which a chain of several stages "
                "takes for the whole chain only: give the chain's padding"
            )
        padding = "causal"
    layers = _layers(parts)
    _check_totals(stages)
    at, placed = 0, []
    for part, count in zip(parts, (len(p.layers) for p in parts)):
        placed.append(Stage(part.name, part.kind, at, count, part.sample_rate, part.source))
        at += count
    return Stack(
        layers=tuple(layer for group in layers for layer in group),
        padding=padding,
        name=name or " > ".join(p.name for p in parts),
        sample_rate=rates.pop() if rates else None,
        stages=tuple(placed),
        submodels=tuple(sub for stage in stages for sub in stage.submodels),
    )


@dataclass
class _Totals:
    """The layers, receptive field and parameters of stages so far, against a stack's limits."""

    layers: int = 0
    history: int | None = 0
    parameters: int = 0

    def add(self, stage: Stack) -> None:
        self.layers += len(stage.layers)
        rf = stage.receptive_field
        self.history = None if rf is None or self.history is None else self.history + rf - 1
        self.parameters += stage.parameters
        if self.layers > MAX_LAYERS:
            raise SpecError(f"{self.layers:,} layers exceed the limit of {MAX_LAYERS:,}", field="stages")
        check_totals(None if self.history is None else 1 + self.history, self.parameters, field="stages")


def _check_totals(stages: "list[Stack] | tuple[Stack, ...]") -> None:
    """Refuse stages whose layers, receptive field or parameters together pass a stack's limits."""
    totals = _Totals()
    for stage in stages:
        totals.add(stage)


@dataclass(frozen=True)
class _Part:
    """A stage before placement: its layers, and what the chain needs to know of it."""

    name: str
    kind: str
    layers: tuple[Layer, ...]
    mono: bool
    in_channels: int
    out_channels: int
    sample_rate: int | None
    padding: str
    source: str | None


def _stages_of(stack: Stack) -> list[_Part]:
    """A stack's stages: its own when it is a chain (flattened), else itself."""
    if not stack.stages:
        return [_Part(stack.name or "stack", stack.kind, stack.layers, stack.is_mono, stack.in_channels, stack.out_channels, stack.sample_rate, stack.padding, None)]
    parts = []
    for s in stack.stages:
        layers = tuple(unwrapped(layer) for layer in stack.layers[s.first : s.first + s.count])
        mono = all(layer.in_channels == 1 and layer.out_channels == 1 for layer in layers)
        # The chain's own padding applies to it as a whole (checked by chain()), not to its stages.
        parts.append(_Part(s.name, s.kind, layers, mono, layers[0].in_channels, layers[-1].out_channels, s.sample_rate, "causal", s.source))
    return parts


def _layers(parts: list[_Part]) -> list[tuple[Layer, ...]]:
    """Each stage's layers, mono stages wrapped to the channel count that reaches them."""
    counts: list[int | None] = [None] * len(parts)
    current: int | None = None
    for i, part in enumerate(parts):
        if part.mono:
            counts[i] = current
            continue
        if current is None:
            # The first stage with set channels sets them for the mono stages before it.
            counts[:i] = [part.in_channels] * i
        elif current != part.in_channels:
            raise SpecError(
                f"stage {i + 1} ({part.name}) takes {part.in_channels} channel(s) but stage {i} ({parts[i - 1].name}) gives {current}"
            )
        current = part.out_channels
    return [
        tuple(PerChannel(layer, count) for layer in part.layers) if part.mono and count and count > 1 else part.layers
        for part, count in zip(parts, counts)
    ]


#: The keys of a chain file's stage, by the stage's kind (the first key names the kind).
_STAGE_KEYS = {"spec": ("spec", "model_size"), "preset": ("preset",), "ir": ("ir", "normalize"), "gain": ("gain",)}


def chain_from_document(
    data: Mapping[str, Any],
    *,
    source: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    model_size: float | None = None,
    padding: str | None = None,
) -> Stack:
    """A chain from a chain file's document: ``[[chain]]`` tables, each one stage, in order.

    The schema (TOML; JSON alike)::

        name = "re-amp"          # optional
        padding = "causal"       # optional: the whole chain's edge rule
        [[chain]]
        gain = 6                 # dB
        [[chain]]
        spec = "amp.nam"         # a spec or a capture; model_size = 0.5 for an A2 container
        [[chain]]
        ir = "cab.wav"           # an impulse response; normalize = true for unit energy
        [[chain]]
        preset = "smooth"        # a named stack (wavedil presets)

    Paths are relative to the chain file's folder. A stage's file cannot be
    a chain file itself. ``model_size`` is the size of the A2 containers of
    stages that give none, ``padding`` overrides the file's (and lets its
    stages say ``same``). Each stage's :attr:`~wavedil.stack.Stage.source`
    is its file.

    Raises
    ------
    SpecError, AudioError
        Naming the chain file and the stage (``chain[2].ir``) at fault.
    """
    from .gains import gain
    from .impulses import ir
    from .presets import PRESETS, preset
    from .spec import load_spec

    where = source or "the chain"
    try:
        refuse_unknown(data, ("chain", "name", "description", "padding"), what="top-level field")
    except SpecError as exc:
        raise exc.located(where) from None
    raw = data.get("chain")
    if not isinstance(raw, list) or not raw:
        raise SpecError("must be a non-empty list of stages", source=source, field="chain")
    if len(raw) > MAX_LAYERS:
        raise SpecError(f"{len(raw)} stages exceed the limit of {MAX_LAYERS}", source=source, field="chain")
    own = data.get("padding")
    if own is not None and own not in ("causal", "same"):
        raise SpecError(f"must be causal or same, got {own!r}", source=source, field="padding")
    padding = padding or own
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise SpecError("must be a string", source=source, field="name")
    folder = Path(base_dir) if base_dir is not None else Path(".")
    stages, sources = [], []
    totals = _Totals()
    for i, entry in enumerate(raw, start=1):
        at = f"chain[{i}]"
        if not isinstance(entry, Mapping):
            raise SpecError(f"a stage is a table, got {type(entry).__name__}", source=source, field=at)
        kinds = [k for k in _STAGE_KEYS if k in entry]
        if len(kinds) != 1:
            raise SpecError(f"a stage has one of {', '.join(_STAGE_KEYS)}, got {', '.join(map(str, entry)) or 'none'}", source=source, field=at)
        kind = kinds[0]
        value = entry[kind]
        sources.append(str(folder / value) if kind in ("spec", "ir") and isinstance(value, str) else None)
        try:
            refuse_unknown(entry, _STAGE_KEYS[kind], what="field", field=at)
            if kind == "gain":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise SpecError(f"a number of dB, got {value!r}", field=f"{at}.gain")
                stages.append(gain(float(value)))
                continue
            if not isinstance(value, str) or not value:
                raise SpecError(f"a {'name' if kind == 'preset' else 'file path'}, got {value!r}", field=f"{at}.{kind}")
            if kind == "preset":
                if value not in PRESETS:
                    raise SpecError(f"unknown preset {value!r}; known: {', '.join(PRESETS)}", field=f"{at}.preset")
                stages.append(preset(value))
            elif kind == "ir":
                normalize = entry.get("normalize", False)
                if not isinstance(normalize, bool):
                    raise SpecError(f"true or false, got {normalize!r}", field=f"{at}.normalize")
                stages.append(ir(folder / value, normalize=normalize))
            else:
                size = entry.get("model_size", model_size)
                if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float)) or not 0.0 <= size <= 1.0):
                    raise SpecError(f"a number from 0 to 1, got {size!r}", field=f"{at}.model_size")
                stages.append(load_spec(folder / value, model_size=size, chains=False))
        except SpecError as exc:
            if exc.source:
                # An error in the stage's own file: named after the chain file and the stage.
                raise SpecError(exc._subject(), source=where, field=f"{at}.{kind}", hint=exc.hint, settings=exc.settings) from None
            field = exc.field if exc.field and exc.field.startswith(at) else f"{at}.{kind}"
            raise SpecError(exc.reason, source=where, field=field, hint=exc.hint, settings=exc.settings) from None
        except WavedilError as exc:
            raise exc.prefixed(f"{where}: {at}.{kind}") from None
        # The totals so far: a file of many large stages is refused as soon as they pass a limit, not once all are built.
        try:
            totals.add(stages[-1])
        except SpecError as exc:
            raise SpecError(exc.reason, source=where, field=at) from None
    try:
        # Named, so that even one stage stays a chain that records its file.
        made = chain(*stages, padding=padding, name=name or Path(where).stem)
    except SpecError as exc:
        raise exc.located(where) from None
    return replace(made, stages=tuple(replace(stage, source=src or stage.source) for stage, src in zip(made.stages, sources)))
