"""The receptive-field report: its typed parts and how it is rendered.

:func:`wavedil.receptive.analyze` returns a :class:`Report`, a tree of frozen
dataclasses. ``report.to_dict()`` gives the JSON document whose keys the
README's table documents (scripts read them); ``report["key"]`` reads the same
keys (a read-only mapping, for code written against the JSON). Three formats:
``text`` (an aligned table for terminals), ``markdown`` (to paste into docs)
and ``json``. :data:`FORMAT_NAMES` maps every accepted spelling (``md``,
``txt``, ...) to its format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from .errors import Setting, UsageError

#: The report's formats.
FORMATS = ("text", "markdown", "json")
#: Every spelling a command accepts for a format (``--format``, ``--report-format``), and the format it means.
FORMAT_NAMES = {"text": "text", "txt": "text", "markdown": "markdown", "md": "markdown", "json": "json"}
#: The file extension each format is written with.
EXTENSIONS = {"text": ".txt", "markdown": ".md", "json": ".json"}

_COLUMNS = (
    ("index", "#"),
    ("kind", "kind"),
    ("kernel_size", "kernel"),
    ("dilation", "dilation"),
    ("channels", "channels"),
    ("activation", "activation"),
    ("parameters", "params"),
    ("macs_per_sample", "MACs/sample"),
    ("span", "span"),
    ("receptive_field", "RF"),
    ("receptive_field_ms", "RF ms"),
)


def format_name(name: str) -> str:
    """The format a spelling means: ``md`` -> ``markdown``, ``txt`` -> ``text``.

    Examples
    --------
    >>> format_name("md"), format_name("TXT"), format_name("json")
    ('markdown', 'text', 'json')
    """
    try:
        return FORMAT_NAMES[name.lower()]
    except KeyError:
        aliases = ", ".join(alias for alias, fmt in FORMAT_NAMES.items() if alias != fmt)
        raise UsageError(f"unknown report format {name!r}; known: {', '.join(FORMATS)} (or {aliases})") from None


def extension_for(name: str) -> str:
    """The file extension a report in format ``name`` (or an alias of it) is written with.

    Examples
    --------
    >>> extension_for("md"), extension_for("markdown"), extension_for("text")
    ('.md', '.md', '.txt')
    """
    return EXTENSIONS[format_name(name)]


def format_for_path(path: str | Path) -> str:
    """The report format a file name asks for: json, markdown, or text.

    Examples
    --------
    >>> format_for_path("a.json"), format_for_path("a.md"), format_for_path("a.txt")
    ('json', 'markdown', 'text')
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".md", ".markdown"):
        return "markdown"
    return "text"


# -- the typed report ----------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: records as dicts, tuples as lists."""
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Reason):
        return str(value)
    return value


class _Record(Mapping[str, Any]):
    """A frozen dataclass that reads as the JSON object it stands for.

    ``to_dict()`` gives the object (nested records as dicts); ``record[key]``
    and iteration see the same keys, with nested records as records.
    """

    #: Fields left out of the JSON object when they hold this value (as today's reports do).
    _OMITTED: ClassVar[Mapping[str, Any]] = {}

    def _keys(self) -> list[str]:
        return [f.name for f in fields(self) if not (f.name in self._OMITTED and getattr(self, f.name) == self._OMITTED[f.name])]  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, with every nested record as a dict and every tuple as a list."""
        return {key: _plain(getattr(self, key)) for key in self._keys()}

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        value = getattr(self, key)
        # As in the JSON: a sequence is a list (its records stay records).
        return list(value) if isinstance(value, tuple) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


class Reason(str):
    """Why a figure was not computed, with the settings that would compute it.

    It is the text (``str``), with the settings spelled as Python keywords;
    :meth:`describe` spells them otherwise (a command line's options).

    Examples
    --------
    >>> why = Reason("over the bound of 15 s", hint="{0} runs it", settings=(Setting("probe_seconds", 20.0),))
    >>> why
    'over the bound of 15 s; probe_seconds=20.0 runs it'
    >>> why.describe(lambda s: "--probe-seconds 20")
    'over the bound of 15 s; --probe-seconds 20 runs it'
    """

    reason: str
    hint: str
    settings: tuple[Setting, ...]

    def __new__(cls, reason: str, *, hint: str = "", settings: tuple[Setting, ...] = ()) -> "Reason":
        self = super().__new__(cls, _worded(reason, hint, settings, str))
        self.reason, self.hint, self.settings = reason, hint, tuple(settings)
        return self

    def describe(self, name: Callable[[Setting], str] = str) -> str:
        """The reason with its hint, each setting spelled by ``name``."""
        return _worded(self.reason, self.hint, self.settings, name)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to and from worker processes) with its parts, not as the plain text.
        return (_reason, (self.reason, self.hint, self.settings))


def _reason(reason: str, hint: str, settings: tuple[Setting, ...]) -> Reason:
    return Reason(reason, hint=hint, settings=settings)


def _worded(reason: str, hint: str, settings: tuple[Setting, ...], name: Callable[[Setting], str]) -> str:
    return reason + ("; " + hint.format(*(name(s) for s in settings)) if hint else "")


@dataclass(frozen=True)
class LayerRow(_Record):
    """One row of the layer table: a layer's shape and costs, and the field built up to it."""

    index: int
    kind: str
    kernel_size: int
    dilation: int
    in_channels: int
    out_channels: int
    activation: str
    parameters: int
    macs_per_sample: int
    #: ``(k-1)*d+1`` samples; None for a recurrent layer.
    span: int | None
    #: Cumulative, in samples (None when recurrent).
    receptive_field: int | None
    receptive_field_ms: float | None


@dataclass(frozen=True)
class DenseEquivalent(_Record):
    """One dense convolution over the same field: its size and its costs relative to the stack."""

    kernel_size: int
    channels: int
    parameters: int
    macs_per_sample: int
    parameters_ratio: float | None
    macs_ratio: float | None


@dataclass(frozen=True)
class CoverageSummary(_Record):
    """Which offsets of the field the output hears: ``holes`` lists at most 4096 of the ``hole_count``."""

    complete: bool
    holes: tuple[int, ...]
    hole_fraction: float
    hole_count: int


@dataclass(frozen=True)
class EffectiveField(_Record):
    """How the sensitivity ``|dy[t]/dx[t-i]|`` spreads over offsets ``i`` (see :func:`wavedil.probe.effective_receptive_field`)."""

    samples_50: int
    samples_95: int
    profile: tuple[float, ...]
    profile_step: int
    #: ``impulse response``, ``input audio`` or ``seeded noise``.
    source: str
    #: Positions averaged (None for an impulse response).
    positions: int | None


@dataclass(frozen=True)
class Gain(_Record):
    """The gain at one frequency (Hz), in dB."""

    frequency: float
    gain_db: float


@dataclass(frozen=True)
class FrequencyResponse(_Record):
    """Gains and comb notches of a linear mono stack (see :func:`wavedil.frequency.frequency_response`)."""

    sample_rate: int
    gains: tuple[Gain, ...]
    dc_gain_db: float
    nyquist_gain_db: float
    peak_gain_db: float
    notches_hz: tuple[float, ...]
    notch_count: int
    #: True when no rate was known and :data:`~wavedil.receptive.FALLBACK_SAMPLE_RATE` was used.
    assumed_sample_rate: bool = False


@dataclass(frozen=True)
class Speed(_Record):
    """The engine's measured throughput, and which engine it was (see :func:`wavedil.probe.measure_speed`)."""

    seconds_audio: float
    seconds_wall: float
    samples_per_second: float
    realtime_factor: float
    realtime_cpu_share: float
    #: ``numpy`` or ``numba``: the engine the run was built with.
    engine: str
    #: Whether tanh was NAM's plugin approximation.
    fast_tanh: bool
    #: The engine that ran each layer (a layer without a compiled kernel runs on ``numpy``).
    layer_engines: tuple[str, ...]

    def engine_text(self) -> str:
        """The engine in words: ``numba``, ``numba, fast tanh``, and the layers that ran on another engine.

        >>> Speed(1.0, 0.1, 480000.0, 10.0, 0.1, "numba", False, ("numba", "numpy")).engine_text()
        'numba (layer 2 on numpy)'
        """
        return engine_words(self.engine, self.fast_tanh, self.layer_engines)


def engine_words(engine: str, fast_tanh: bool, layer_engines: Sequence[str]) -> str:
    """An engine as reports and result lines say it: its name, ``fast tanh``, and the layers that ran on another engine.

    >>> engine_words("numba", True, ["numba"])
    'numba, fast tanh'
    >>> engine_words("numba", False, ["numpy", "numba", "numpy"])
    'numba (layers 1, 3 on numpy)'
    >>> engine_words("numba", False, ["numpy"])
    'numba (every layer on numpy)'
    """
    text = engine + (", fast tanh" if fast_tanh else "")
    others = [(i, name) for i, name in enumerate(layer_engines, start=1) if name != engine]
    if not others:
        return text
    if len(others) == len(layer_engines) and len(set(layer_engines)) == 1:
        return f"{text} (every layer on {layer_engines[0]})"
    by_engine: dict[str, list[str]] = {}
    for i, name in others:
        by_engine.setdefault(name, []).append(str(i))
    parts = [f"layer{'s' if len(ids) > 1 else ''} {', '.join(ids)} on {name}" for name, ids in by_engine.items()]
    return f"{text} ({'; '.join(parts)})"


@dataclass(frozen=True)
class Memory(_Record):
    """How long an impulse's effect lasts in a recurrent stack (see :func:`wavedil.probe.measured_memory`)."""

    samples: int | None
    ms: float | None
    threshold_db: float
    probe_samples: int


@dataclass(frozen=True)
class Submodel(_Record):
    """One submodel of a NAM ``SlimmableContainer`` (A2)."""

    max_value: float
    architecture: str
    version: str
    receptive_field: int | None
    parameters: int
    macs_per_sample: int
    active: bool
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRow(_Record):
    """One stage of a chain (:func:`wavedil.chain`): its layers and its own figures."""

    index: int
    name: str
    kind: str
    #: Its layers are rows ``first_layer .. last_layer`` of ``layers`` (1-based).
    first_layer: int
    last_layer: int
    receptive_field: int | None
    receptive_field_ms: float | None
    parameters: int
    macs_per_sample: int
    model_sample_rate: int | None


@dataclass(frozen=True)
class AudioFacts(_Record):
    """What filtering one file gave (``apply``'s reports): the ``audio`` object.

    ``skipped`` marks a report made for an output that already existed: what
    only filtering measures (clipped and sanitized samples, peak, gain) is None.
    """

    input: str
    output: str
    frames: int
    seconds: float
    sample_rate: int | None
    channels: int | None
    out_channels: int
    format: str
    subtype: str
    clipped_samples: int | None
    sanitized_samples: int | None
    peak: float | None
    gain: float | None
    skipped: bool = False

    _OMITTED: ClassVar[Mapping[str, Any]] = {"skipped": False}


@dataclass(frozen=True)
class Report(_Record):
    """The receptive-field report of a stack; the README's table documents each key.

    Examples
    --------
    >>> from wavedil.receptive import analyze
    >>> from wavedil.spec import stack_from_dilations
    >>> r = analyze(stack_from_dilations([1, 4], kernel_size=2))
    >>> r.receptive_field, r.coverage.holes, r.to_dict()["coverage"]["holes"]
    (6, (2, 3), [2, 3])
    """

    name: str | None
    description: str | None
    padding: str
    sample_rate: int | None
    in_channels: int
    out_channels: int
    parameters: int
    macs_per_sample: int
    macs_per_second: int | None
    linear: bool
    model_sample_rate: int | None
    metadata: dict[str, Any]
    speed: Speed | None
    submodels: tuple[Submodel, ...]
    receptive_field: int | None
    receptive_field_ms: float | None
    history: int | None
    lookahead: int
    layers: tuple[LayerRow, ...]
    dense_equivalent: DenseEquivalent | None
    coverage: CoverageSummary | None
    gridding: tuple[str, ...]
    measured_receptive_field: int | None
    measured_note: str | None
    effective_receptive_field: EffectiveField | None
    frequency_response: FrequencyResponse | None
    recurrent: bool
    memory: Memory | None
    #: The figures a bound left out, each with its :class:`Reason`.
    skipped: dict[str, Reason]
    #: ``apply`` only: what filtering the file gave.
    audio: AudioFacts | None = None
    #: A chain's stages, in order (absent for a single stack).
    stages: tuple[StageRow, ...] = ()

    _OMITTED: ClassVar[Mapping[str, Any]] = {"audio": None, "stages": ()}

    def with_audio(self, facts: AudioFacts | Mapping[str, Any]) -> "Report":
        """The report with a file's ``audio`` object (an :class:`AudioFacts`, or its keys as a mapping)."""
        return replace(self, audio=facts if isinstance(facts, AudioFacts) else AudioFacts(**facts))


# -- rendering -----------------------------------------------------------------


def render(report: Report, fmt: str = "text", *, option: Callable[[Setting], str] = str) -> str:
    """Render ``report`` as ``text``, ``markdown`` or ``json`` (or an alias of one, see :data:`FORMAT_NAMES`); ends with a newline.

    ``option`` spells the settings a note suggests (Python keywords by
    default; a command line passes its option names).

    Raises
    ------
    UsageError
        For a format that is none of those.
    """
    fmt = format_name(fmt)
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(report, option)
    return _text(report, option)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _cells(layer: LayerRow) -> list[str]:
    row = dict(layer, channels=f"{layer.in_channels}->{layer.out_channels}")
    return [_num(row[key]) for key, _ in _COLUMNS]


def _samples(n: int, sr: int | None) -> str:
    return samples_text(n) + (f" ({1000.0 * n / sr:,.3f} ms)" if sr else "")


def samples_text(n: int) -> str:
    """A count of samples in words.

    >>> samples_text(1), samples_text(4097)
    ('1 sample', '4,097 samples')
    """
    return f"{n:,} sample" + ("" if n == 1 else "s")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}x this stack"


def _totals(report: Report) -> list[tuple[str, str]]:
    """Field, lookahead, padding, channels and costs."""
    sr = report.sample_rate
    if report.receptive_field is None:
        rf, history = "recurrent: unbounded (the state carries the whole past)", "unbounded"
    else:
        rf = f"{report.receptive_field:,} samples"
        if report.receptive_field_ms is not None:
            rf += f" = {report.receptive_field_ms:.3f} ms at {sr:,} Hz"
        history = f"{report.history:,}"
    lines = [
        ("receptive field", rf),
        ("history / lookahead", f"{history} / {report.lookahead:,} samples"),
        ("padding", report.padding),
        ("channels in -> out", f"{report.in_channels} -> {report.out_channels}"),
        ("parameters", f"{report.parameters:,}"),
        ("MACs per sample", f"{report.macs_per_sample:,}"),
    ]
    if report.macs_per_second is not None:
        lines.append(("MACs per second", f"{report.macs_per_second:,} at {sr:,} Hz"))
    dense = report.dense_equivalent
    if dense:
        lines.append(
            (
                "dense equivalent",
                f"one kernel of {dense.kernel_size:,} taps, {dense.channels} channel(s): {dense.parameters:,} parameters "
                f"({_ratio(dense.parameters_ratio)}), {dense.macs_per_sample:,} MACs/sample ({_ratio(dense.macs_ratio)})",
            )
        )
    return lines


def _coverage_line(cov: CoverageSummary) -> str:
    if cov.complete:
        return "complete: every offset 0..RF-1 is reached"
    shown = ", ".join(map(str, cov.holes[:12])) + (", ..." if cov.hole_count > 12 else "")
    return f"{cov.hole_count:,} hole(s), {100 * cov.hole_fraction:.1f}% of the field, at offsets {shown}"


def _measured(report: Report) -> list[tuple[str, str]]:
    """Coverage, the measured field or memory, and the submodels."""
    sr = report.sample_rate
    lines = []
    if report.coverage:
        lines.append(("coverage", _coverage_line(report.coverage)))
    if report.measured_receptive_field is not None:
        lines.append(("measured receptive field", _samples(report.measured_receptive_field, sr)))
    memory = report.memory
    if memory:
        text = f"beyond the {memory.probe_samples:,}-sample probe" if memory.samples is None else _samples(memory.samples, sr)
        lines.append(("measured memory", f"{text}: an impulse's effect stays below {memory.threshold_db:g} dB after it"))
    for sub in report.submodels:
        rf_sub = "recurrent" if sub.receptive_field is None else f"RF {sub.receptive_field:,}"
        mark = " (running)" if sub.active else ""
        lines.append(
            (
                f"submodel {sub.max_value:g}",
                f"{sub.architecture}, {rf_sub}, {sub.parameters:,} parameters, {sub.macs_per_sample:,} MACs/sample{mark}",
            )
        )
    return lines


def _spectrum(report: Report) -> list[tuple[str, str]]:
    """The effective field, the frequency response and the speed."""
    sr = report.sample_rate
    lines = []
    erf = report.effective_receptive_field
    if erf:
        lines.append(
            (
                "effective receptive field",
                f"50% within {_samples(erf.samples_50, sr)}, 95% within {_samples(erf.samples_95, sr)} "
                f"(squared sensitivity, from {erf.source}" + (f", {erf.positions} positions)" if erf.positions else ")"),
            )
        )
    fr = report.frequency_response
    if fr:
        at = f"at {fr.sample_rate:,} Hz" + (" (assumed)" if fr.assumed_sample_rate else "")
        lines.append(("frequency response", f"{at}: DC {fr.dc_gain_db:+.1f} dB, Nyquist {fr.nyquist_gain_db:+.1f} dB"))
        if fr.gains:
            lines.append(("gains", ", ".join(f"{g.frequency:g} Hz {g.gain_db:+.1f} dB" for g in fr.gains)))
        if fr.notch_count:
            shown = ", ".join(f"{f:g}" for f in fr.notches_hz[:12]) + (", ..." if fr.notch_count > 12 else "")
            lines.append(("comb notches", f"{fr.notch_count} (>= 30 dB deep) at {shown} Hz"))
    speed = report.speed
    if speed:
        lines.append(
            (
                "speed",
                f"{speed.realtime_factor:,.1f}x real time ({speed.samples_per_second:,.0f} samples/s) on {speed.engine_text()}; "
                f"real time needs {100 * speed.realtime_cpu_share:.2f}% of one core",
            )
        )
    return lines


def _audio(audio: AudioFacts | None) -> list[tuple[str, str]]:
    """The file ``apply`` filtered, and what filtering it measured."""
    if not audio:
        return []
    lines = [
        ("input", audio.input),
        ("output", f"{audio.output} ({audio.format}/{audio.subtype})"),
        ("audio", f"{audio.frames:,} frames = {audio.seconds:.3f} s, {audio.channels} -> {audio.out_channels} ch"),
    ]
    if audio.skipped:
        # The output existed and was not made again: what filtering measures is unknown.
        return [*lines, ("skipped", "the output existed; clipped samples, peak and gain were not measured")]
    return [
        *lines,
        ("clipped samples", f"{audio.clipped_samples:,}"),
        ("output peak / gain", f"{audio.peak:.4f} / {audio.gain:.4f}"),
    ]


def _summary(report: Report) -> list[tuple[str, str]]:
    """The report's lines as (label, text): totals, measured figures, spectrum, metadata, audio."""
    metadata = [(key.replace("_", " "), str(value)) for key, value in report.metadata.items()]
    return _totals(report) + _measured(report) + _spectrum(report) + metadata + _audio(report.audio)


def _warnings(report: Report, option: Callable[[Setting], str]) -> list[str]:
    """Lines a reader must not miss: gridding and a suspicious measured field."""
    out = []
    cov = report.coverage
    if cov and not cov.complete and _sparse_by_design(report):
        out.append(
            f"note: sparse taps: the output hears {report.receptive_field - cov.hole_count:,} of the {report.receptive_field:,} "
            "offsets in its field: every layer spaces its taps beyond the field before it, as a comb or an echo does, "
            "so the gaps are the point (not gridding)."
        )
    elif cov and not cov.complete:
        out.append(
            f"WARNING: gridding: the output never hears {cov.hole_count:,} of the past offsets in its field "
            "(see coverage). Choose each dilation no larger than the receptive field built before it, "
            "or add layers with the missing dilations."
        )
        out += [f"  fix: {fix}" for fix in report.gridding]
    note = report.measured_note
    if note and "measured_receptive_field" not in report.skipped:
        out.append(("!!! " if note.startswith("BUG") else "note: ") + f"measured receptive field: {note}")
    out += [f"note: {what.replace('_', ' ')} not computed: {_spelled(why, option)}" for what, why in report.skipped.items()]
    return out


def _sparse_by_design(report: Report) -> bool:
    """Whether every layer that spreads the field (kernel > 1) outruns the field before it: a tapped delay line.

    Such gaps are deliberate (a comb, an echo); gridding is a layer that
    outruns a field the layers before it had filled.
    """
    spreading = [row for row in report.layers if row.kernel_size > 1]
    return bool(spreading) and len(report.gridding) == len(spreading)


def _spelled(why: str, option: Callable[[Setting], str]) -> str:
    return why.describe(option) if isinstance(why, Reason) else why


def _title(report: Report) -> str:
    title = report.name or "stack"
    if report.description:
        title += f": {report.description}"
    return title


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join("{:>%d}" % w for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)]


def _stage_lines(stage: StageRow, sample_rate: int | None) -> tuple[str, list[tuple[str, str]]]:
    """A stage's section: its title and its lines (the whole chain's figures follow them)."""
    layers = f"{stage.first_layer}" if stage.first_layer == stage.last_layer else f"{stage.first_layer}..{stage.last_layer}"
    rf = "recurrent: unbounded" if stage.receptive_field is None else _samples(stage.receptive_field, sample_rate)
    lines = [("layers", layers), ("receptive field", rf), ("parameters", f"{stage.parameters:,}"), ("MACs per sample", f"{stage.macs_per_sample:,}")]
    if stage.model_sample_rate:
        lines.append(("made for", f"{stage.model_sample_rate:,} Hz"))
    return f"stage {stage.index}: {stage.name} ({stage.kind})", lines


def _text(report: Report, option: Callable[[Setting], str]) -> str:
    lines = []
    for stage in report.stages:
        title, rows = _stage_lines(stage, report.sample_rate)
        lines += [title, *(f"  {k:<16}  {v}" for k, v in rows), ""]
    if report.stages:
        lines.append(f"the whole chain: {_title(report)}")
    else:
        lines.append(_title(report))
    lines.append("")
    summary = _summary(report)
    width = max(len(k) for k, _ in summary)
    lines += [f"{k:<{width}}  {v}" for k, v in summary]
    warnings = _warnings(report, option)
    if warnings:
        lines += ["", *warnings]
    lines.append("")
    lines += _table([h for _, h in _COLUMNS], [_cells(layer) for layer in report.layers])
    return "\n".join(lines) + "\n"


def _markdown(report: Report, option: Callable[[Setting], str]) -> str:
    lines = [f"## {_title(report)}", ""]
    for stage in report.stages:
        title, rows = _stage_lines(stage, report.sample_rate)
        lines += [f"### {title}", "", *(f"- **{k}**: {v}" for k, v in rows), ""]
    if report.stages:
        lines += ["### the whole chain", ""]
    lines += [f"- **{k}**: {v}" for k, v in _summary(report)]
    warnings = _warnings(report, option)
    if warnings:
        lines += ["", *(f"> {w}" for w in warnings)]
    lines.append("")
    header = [h for _, h in _COLUMNS]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" for _ in header) + "|")
    lines += ["| " + " | ".join(_cells(layer)) + " |" for layer in report.layers]
    return "\n".join(lines) + "\n"
