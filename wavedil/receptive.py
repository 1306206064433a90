"""Receptive-field analysis of a stack: what it hears, where its holes are, what it costs.

For a plain stack of causal layers with kernel sizes ``k_l`` and dilations
``d_l`` the output at ``t`` depends on ``x[t - RF + 1 .. t]`` with::

    RF = 1 + sum_l (k_l - 1) * d_l

:func:`analyze` gathers the per-layer figures, the totals, the dense
equivalent, the coverage (holes), the measured and effective receptive
fields, and for linear mono stacks the frequency response, into a
:class:`~wavedil.report.Report` whose JSON keys are part of the public
interface (scripts read the JSON report).

A batch of files reports one stack many times: :class:`ReportCache` analyzes
it once per sample rate and recomputes, for each file, only what depends on
the audio (the effective field of a nonlinear stack, over the file's own
excerpts) and adds the file's ``audio`` facts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .coverage import MAX_GRAPH_CELLS, coverage, graph_cells, gridding_fixes
from .engine import block_size_for
from .engines import NUMPY, Engine, resolve_engine
from .errors import Setting
from .frequency import frequency_response
from .memory import default_memory_limit, format_bytes, plan_filter
from .probe import (
    DEFAULT_POSITIONS,
    MAX_MEMORY_PROBE,
    PROBE_SECONDS,
    ProbeOverflow,
    effective_receptive_field,
    impulse_measures,
    impulse_response,
    kick_positions,
    measure_speed,
    measured_memory,
    measured_receptive_field,
    probe_channels,
    probe_memory,
    probe_time,
    rounding_floor,
)
from .report import (
    AudioFacts,
    StageRow,
    CoverageSummary,
    DenseEquivalent,
    EffectiveField,
    FrequencyResponse,
    LayerRow,
    Memory,
    Reason,
    Report,
    Speed,
    Submodel,
)
from .stack import Stack

#: Rate used for the frequency response and speed when none is known, in Hz.
FALLBACK_SAMPLE_RATE = 48000
#: Holes listed at most in the report (``hole_count`` gives them all).
MAX_LISTED_HOLES = 4096
#: Seconds of audio :func:`analyze` times for ``speed`` (less when the probe bound says so).
SPEED_SECONDS = 5.0
#: Fewest samples a shortened probe may run; below it the probe is skipped.
MIN_PROBE_SAMPLES = 1024

#: Why a probe's figures are left out when the stack's output overflows float64.
_OVERFLOW = Reason("the stack's output overflows float64 (its gain is beyond about 1e308)")

#: What an audio argument may be: a file, or excerpts shaped (positions, 2*RF, channels).
AudioSource = np.ndarray | str | os.PathLike[str] | None


@dataclass(frozen=True)
class _Bounds:
    """What one probe of the engine may cost (estimated seconds and bytes), and the engine it runs on."""

    seconds: float
    memory_limit: int
    engine: Engine = NUMPY

    @classmethod
    def of(cls, probe_seconds: float, memory_limit: int | None, engine: Engine = NUMPY) -> "_Bounds":
        """The bounds :func:`analyze` takes (``memory_limit`` None: the default limit)."""
        return cls(float(probe_seconds), default_memory_limit() if memory_limit is None else int(memory_limit), engine)

    @property
    def figures(self) -> Engine:
        """The engine of the probes that compute figures (fields, memory): the NumPy reference, with the tanh asked for.

        Only the speed probe runs on :attr:`engine`: figures do not depend on
        the engine beyond rounding, and the reference needs no compiled
        float64 kernels (a report stays under a second).
        """
        return Engine("numpy", self.engine.fast_tanh)

    def refuse(self, stack: Stack, signals: int, length: int) -> Reason | None:
        """Why a probe of ``signals`` signals of ``length`` samples may not run, or None."""
        cost = probe_time(stack, signals, length)
        if cost > self.seconds:
            return Reason(
                f"the probe would take about {cost:.3g} s (estimated), over the report's bound of {self.seconds:g} s",
                hint="raising {0} runs it",
                settings=(Setting("probe_seconds", math.ceil(cost)),),
            )
        need = probe_memory(stack, signals, length)
        if need > self.memory_limit:
            return self.over_memory("the probe would need", need)
        return None

    def over_memory(self, what: str, need: int) -> Reason:
        """Why ``need`` bytes (``what`` needs them) may not be allocated."""
        return Reason(
            f"{what} {format_bytes(need)}, over the memory limit of {format_bytes(self.memory_limit)}",
            hint="raising {0} runs it",
            settings=(Setting("memory_limit", need),),
        )

    def longest(self, stack: Stack, signals: int, want: int) -> int:
        """The longest signal, up to ``want`` samples, of which ``signals`` fit the time bound (at least one sample)."""
        per = probe_time(stack, signals, want) / want
        return max(1, min(want, int(self.seconds / per) if per > 0 else want))

    def positions(self, stack: Stack) -> tuple[int, Reason | None]:
        """Positions the effective field of a nonlinear stack may average: all, fewer when they cost too much, or none (and why)."""
        per_position = 2 * probe_channels(stack)
        length = 2 * stack.receptive_field
        positions = DEFAULT_POSITIONS
        while positions > 1 and self.refuse(stack, per_position * positions, length):
            positions //= 2
        why = self.refuse(stack, per_position * positions, length)
        return (0, why) if why else (positions, None)


def _ms(samples: int, sample_rate: int | None) -> float | None:
    return None if not sample_rate else 1000.0 * samples / sample_rate


def dense_equivalent(stack: Stack) -> DenseEquivalent:
    """What one dense convolution with the same receptive field and channels costs.

    The dense layer spans the receptive field and is as wide as the stack's
    widest signal (``C`` channels in and out; ``C = 1`` for a mono stack):
    ``macs_per_sample = RF * C * C`` and ``parameters = RF * C * C + C``. The
    ratios divide them by the stack's own figures.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> d = dense_equivalent(stack_from_dilations([2**i for i in range(13)], kernel_size=2))
    >>> d.kernel_size, d.macs_ratio
    (8192, 315.0769230769231)
    """
    rf = stack.receptive_field
    width = max(max(row["in_channels"], row["out_channels"]) for layer in stack.layers for row in layer.rows())
    macs = rf * width * width
    params = macs + width
    return DenseEquivalent(
        kernel_size=rf,
        channels=width,
        parameters=params,
        macs_per_sample=macs,
        parameters_ratio=params / stack.parameters if stack.parameters else None,
        macs_ratio=macs / stack.macs_per_sample if stack.macs_per_sample else None,
    )


def _layer_rows(stack: Stack, sample_rate: int | None) -> tuple[LayerRow, ...]:
    """Each layer's row with the field built up to it (None throughout for a recurrent stack)."""
    rows: list[LayerRow] = []
    rf: int | None = None if stack.is_recurrent else 1
    for layer in stack.layers:
        for row in layer.rows():
            if rf is not None:
                rf += row["span"] - 1
            rows.append(LayerRow(index=len(rows) + 1, **row, receptive_field=rf, receptive_field_ms=None if rf is None else _ms(rf, sample_rate)))
    return tuple(rows)


def _excerpts(stack: Stack, audio: AudioSource, positions: int) -> np.ndarray | None:
    """``positions`` probe excerpts for a nonlinear stack, with the channels it takes (a mono mix for mono stacks)."""
    if audio is None or stack.is_linear:
        return None
    if not isinstance(audio, np.ndarray):
        # The audio layer (soundfile) loads only when a file is read.
        from .audio import read_excerpts

        audio = read_excerpts(audio, 2 * stack.receptive_field, positions)
    audio = audio[:positions]
    if stack.is_mono and audio.shape[2] != 1:
        audio = audio.mean(axis=2, keepdims=True)
    return audio


def _measured_note(measured: int, analytic: int) -> str | None:
    if measured > analytic:
        return (
            f"BUG: the engine hears {measured} samples, more than the analytic {analytic}; "
            "please report this stack"
        )
    if measured < analytic:
        return (
            f"the output does not depend on the oldest {analytic - measured} offset(s): "
            "their taps vanish (zero weights) or their influence is below float64 resolution"
        )
    return None


def _coverage(stack: Stack, skipped: dict[str, Reason]) -> tuple[CoverageSummary | None, tuple[str, ...]]:
    """The holes of the field and, when there are some, the gridding fixes; None (and why) past the graph bound."""
    cells = graph_cells(stack)
    if cells > MAX_GRAPH_CELLS:
        skipped["coverage"] = Reason(f"{cells:.3g} signal-offsets, over the bound of {MAX_GRAPH_CELLS:.3g}")
        return None, ()
    cov = coverage(stack)
    holes = np.flatnonzero(~cov.reached)
    summary = CoverageSummary(
        complete=cov.complete,
        holes=tuple(holes[:MAX_LISTED_HOLES].tolist()),
        hole_fraction=cov.hole_fraction,
        hole_count=int(holes.size),
    )
    return summary, tuple(gridding_fixes(stack)) if holes.size else ()


@dataclass(frozen=True)
class _Probed:
    """What running the engine measured: the measured and effective fields, and the response of a linear mono stack."""

    measured: int | None = None
    effective: EffectiveField | None = None
    response: FrequencyResponse | None = None


def _linear_probes(
    stack: Stack, sample_rate: int | None, frequencies: Sequence[float] | None, bounds: _Bounds, skipped: dict[str, Reason]
) -> _Probed:
    """One impulse response gives the measured field, the effective one and the frequency response."""
    rf = stack.receptive_field
    reach = rf + max(16, rf // 8)
    why = bounds.refuse(stack, probe_channels(stack) + 1, reach)
    if why:
        skipped.update({"measured_receptive_field": why, "effective_receptive_field": why})
        if stack.is_mono:
            skipped["frequency_response"] = why
        return _Probed()
    # A gain near float64's range overflows the energies: those figures are left out, not inf.
    with np.errstate(all="ignore"):
        try:
            h = impulse_response(stack, reach, engine=bounds.figures)
        except ProbeOverflow:
            skipped["measured_receptive_field"] = _OVERFLOW
            return _overflowed(stack, _Probed(), skipped)
        measured, erf = impulse_measures(h, rf, rounding_floor(stack, h))
        if not np.all(np.isfinite(erf.profile)):
            return _overflowed(stack, _Probed(measured), skipped)
        fr = None
        if stack.is_mono:
            fr = frequency_response(h[:rf, 0, 0], sample_rate or FALLBACK_SAMPLE_RATE, frequencies)
            fr = replace(fr, assumed_sample_rate=sample_rate is None)
            if not all(np.isfinite(v) for v in (fr.peak_gain_db, fr.dc_gain_db, fr.nyquist_gain_db)):
                return _overflowed(stack, _Probed(measured), skipped)
    return _Probed(measured, erf, fr)


def _overflowed(stack: Stack, probed: _Probed, skipped: dict[str, Reason]) -> _Probed:
    """``probed`` without the effective field and response, which an overflow made meaningless."""
    skipped["effective_receptive_field"] = _OVERFLOW
    if stack.is_mono:
        skipped["frequency_response"] = _OVERFLOW
    return probed


def _nonlinear_measured(stack: Stack, bounds: _Bounds, skipped: dict[str, Reason]) -> int | None:
    """The measured field of a nonlinear stack, from kicks on seeded noise; None (and why) when over a bound."""
    reach = stack.receptive_field + max(16, stack.receptive_field // 8)
    why = bounds.refuse(stack, 2 * kick_positions(stack), 2 * reach - 1)
    if why:
        skipped["measured_receptive_field"] = why
        return None
    try:
        return measured_receptive_field(stack, engine=bounds.figures)
    except ProbeOverflow:
        skipped["measured_receptive_field"] = _OVERFLOW
        return None


def _nonlinear_effective(stack: Stack, audio: AudioSource, positions: int, skipped: dict[str, Reason], engine: Engine) -> EffectiveField | None:
    """The effective field of a nonlinear stack over ``positions`` excerpts of ``audio`` (seeded noise without it)."""
    try:
        with np.errstate(all="ignore"):
            erf = effective_receptive_field(stack, _excerpts(stack, audio, positions), positions=positions, engine=engine)
        if not np.all(np.isfinite(erf.profile)):
            raise ProbeOverflow(_OVERFLOW)
    except ProbeOverflow:
        skipped["effective_receptive_field"] = _OVERFLOW
        return None
    skipped.pop("effective_receptive_field", None)
    return erf


def _speed(stack: Stack, sample_rate: int, bounds: _Bounds, skipped: dict[str, Reason]) -> Speed | None:
    """The engine's speed over :data:`SPEED_SECONDS` of noise, fewer when the probe bound says so (three runs)."""
    c = probe_channels(stack)
    samples = int(SPEED_SECONDS * sample_rate)
    samples = max(MIN_PROBE_SAMPLES, bounds.longest(stack, 3, samples))
    why = bounds.refuse(stack, 3, samples)
    if why is None:
        block = block_size_for(stack)
        need = plan_filter(stack, c, block_size=block).total + 4 * samples * c
        if need > bounds.memory_limit:
            why = bounds.over_memory("timing needs", need)
    if why:
        skipped["speed"] = why
        return None
    return measure_speed(stack, sample_rate, seconds=samples / sample_rate, engine=bounds.engine)


def _memory(stack: Stack, sample_rate: int | None, bounds: _Bounds, skipped: dict[str, Reason]) -> Memory | None:
    """A recurrent stack's measured memory over two signals (silence, and an impulse), shortened to fit the bound."""
    rate = sample_rate or FALLBACK_SAMPLE_RATE
    samples = max(MIN_PROBE_SAMPLES, bounds.longest(stack, 2, min(int(2.0 * rate), MAX_MEMORY_PROBE)))
    why = bounds.refuse(stack, 2, samples)
    if why:
        skipped["memory"] = why
        return None
    try:
        return measured_memory(stack, rate, probe_seconds=samples / rate, engine=bounds.figures)
    except ProbeOverflow:
        skipped["memory"] = _OVERFLOW
        return None


def _totals(stack: Stack, sample_rate: int | None, speed: Speed | None) -> dict[str, Any]:
    """The report's fields every stack has, whatever its field."""
    return {
        "name": stack.name,
        "description": stack.description,
        "padding": stack.padding,
        "sample_rate": sample_rate,
        "in_channels": stack.in_channels,
        "out_channels": stack.out_channels,
        "parameters": stack.parameters,
        "macs_per_sample": stack.macs_per_sample,
        "macs_per_second": stack.macs_per_sample * sample_rate if sample_rate else None,
        "linear": stack.is_linear,
        "model_sample_rate": stack.sample_rate,
        "metadata": dict(stack.metadata),
        "speed": speed,
        "submodels": tuple(Submodel(**s) for s in stack.submodels),
        "layers": _layer_rows(stack, sample_rate),
        "stages": _stage_rows(stack, sample_rate),
    }


def _stage_rows(stack: Stack, sample_rate: int | None) -> tuple[StageRow, ...]:
    """A chain's stages with their own figures, and where their rows are in the layer table."""
    rows_per_layer = [len(layer.rows()) for layer in stack.layers]
    out = []
    for i, stage in enumerate(stack.stages, start=1):
        layers = stack.layers[stage.first : stage.first + stage.count]
        histories = [layer.history for layer in layers]
        rf = None if None in histories else 1 + sum(histories)
        first = 1 + sum(rows_per_layer[: stage.first])
        out.append(
            StageRow(
                index=i,
                name=stage.name,
                kind=stage.kind,
                first_layer=first,
                last_layer=first + sum(rows_per_layer[stage.first : stage.first + stage.count]) - 1,
                receptive_field=rf,
                receptive_field_ms=None if rf is None else _ms(rf, sample_rate),
                parameters=sum(layer.parameters for layer in layers),
                macs_per_sample=sum(layer.macs_per_sample for layer in layers),
                model_sample_rate=stage.sample_rate,
            )
        )
    return tuple(out)


def _recurrent_report(stack: Stack, sample_rate: int | None, bounds: _Bounds, skipped: dict[str, Reason], speed: Speed | None) -> Report:
    """A recurrent stack's report: no receptive field or analyses of it, a measured memory instead."""
    return Report(
        **_totals(stack, sample_rate, speed),
        receptive_field=None,
        receptive_field_ms=None,
        history=None,
        lookahead=0,
        dense_equivalent=None,
        coverage=None,
        gridding=(),
        measured_receptive_field=None,
        measured_note="recurrent: the output depends on the whole past; see memory",
        effective_receptive_field=None,
        frequency_response=None,
        recurrent=True,
        memory=_memory(stack, sample_rate, bounds, skipped),
        skipped=skipped,
    )


@dataclass(frozen=True)
class StackAnalysis:
    """A stack's report at one sample rate, and how to redo the part that depends on the audio.

    Everything in a report depends on the stack and the sample rate alone,
    except the effective field of a nonlinear stack, which is averaged over
    excerpts of the input (seeded noise without one). :meth:`for_file`
    recomputes that part for one file and adds the file's ``audio`` facts.
    :meth:`ReportCache.analysis` makes one.

    Attributes
    ----------
    stack : Stack
    report : Report
        The report without audio facts (the effective field over seeded
        noise).
    positions : int
        Positions the effective field of a nonlinear stack averages within
        the bounds (0 for a linear stack, or when the bound skips it).
    engine : Engine
        The engine the effective field's probes run on (the NumPy reference).
    """

    stack: Stack
    report: Report
    positions: int = 0
    engine: Engine = NUMPY

    def for_file(self, audio: AudioSource = None, facts: AudioFacts | Mapping[str, Any] | None = None) -> Report:
        """The report of one file: the effective field over ``audio`` (nonlinear stacks only), and ``facts`` as ``audio``.

        ``audio`` is the input file (or excerpts of it); None keeps the
        effective field over seeded noise (an input read from a stream).

        Examples
        --------
        >>> from wavedil.presets import preset
        >>> analysis = ReportCache(preset("drive")).analysis(48000)
        >>> excerpts = np.full((8, 8, 1), 0.25)
        >>> analysis.for_file(excerpts).effective_receptive_field.source
        'input audio'
        """
        report = self.report
        if audio is not None and self.positions:
            skipped = dict(report.skipped)
            erf = _nonlinear_effective(self.stack, audio, self.positions, skipped, self.engine)
            report = replace(report, effective_receptive_field=erf, skipped=skipped)
        return report if facts is None else report.with_audio(facts)


def _analysis(stack: Stack, sample_rate: int | None, audio: AudioSource, frequencies: Sequence[float] | None, speed: bool, bounds: _Bounds) -> StackAnalysis:
    """The work of :func:`analyze`, kept with what :meth:`StackAnalysis.for_file` needs to redo the audio's part."""
    sample_rate = sample_rate or stack.rate
    if sample_rate:
        # Impulse responses run at the rate the stack runs at, as in apply: a model's own, else the audio's.
        stack = stack.at_rate(stack.sample_rate or sample_rate)
    skipped: dict[str, Reason] = {}
    timed = _speed(stack, sample_rate or FALLBACK_SAMPLE_RATE, bounds, skipped) if speed else None
    if stack.is_recurrent:
        return StackAnalysis(stack, _recurrent_report(stack, sample_rate, bounds, skipped, timed))
    rf = stack.receptive_field
    cov, gridding = _coverage(stack, skipped)
    positions = 0
    if stack.is_linear:
        probed = _linear_probes(stack, sample_rate, frequencies, bounds, skipped)
    else:
        measured = _nonlinear_measured(stack, bounds, skipped)
        positions, why = bounds.positions(stack)
        if why:
            skipped["effective_receptive_field"] = why
        probed = _Probed(measured, _nonlinear_effective(stack, audio, positions, skipped, bounds.figures) if positions else None)
    report = Report(
        **_totals(stack, sample_rate, timed),
        receptive_field=rf,
        receptive_field_ms=_ms(rf, sample_rate),
        history=rf - 1,
        lookahead=stack.lookahead,
        dense_equivalent=dense_equivalent(stack),
        coverage=cov,
        gridding=gridding,
        measured_receptive_field=probed.measured,
        measured_note=_measured_note(probed.measured, rf) if probed.measured is not None else f"not measured: {skipped['measured_receptive_field']}",
        effective_receptive_field=probed.effective,
        frequency_response=probed.response,
        recurrent=False,
        memory=None,
        skipped=skipped,
    )
    return StackAnalysis(stack, report, positions, bounds.figures)


def analyze(
    stack: Stack,
    sample_rate: int | None = None,
    *,
    audio: AudioSource = None,
    frequencies: Sequence[float] | None = None,
    speed: bool = False,
    probe_seconds: float = PROBE_SECONDS,
    memory_limit: int | None = None,
    engine: str | Engine | None = None,
    fast_tanh: bool = False,
) -> Report:
    """The receptive-field report of ``stack``.

    The analyses that run the engine (measured and effective receptive
    fields, frequency response, memory, speed) are bounded: a probe whose
    estimated time (:func:`~wavedil.probe.probe_time`) exceeds
    ``probe_seconds`` or which would need more than ``memory_limit`` bytes
    is shortened (fewer positions, a shorter signal)
    or skipped, and ``skipped`` says which and why. The coverage is skipped
    when its sets would exceed :data:`~wavedil.coverage.MAX_GRAPH_CELLS`.
    So a report of any stack within the spec limits takes seconds.

    Parameters
    ----------
    stack : Stack
    sample_rate : int, optional
        In Hz; gives the millisecond and per-second figures. Defaults to the
        stack's own rate (a trained model's), if it has one.
    audio : path, or ndarray shaped (positions, 2*RF, channels), optional
        The actual input (an audio file, of which evenly spaced excerpts are
        read, or the excerpts themselves), over which the effective receptive
        field of a nonlinear stack is averaged; seeded noise otherwise.
    frequencies : sequence of float, optional
        Where to report the gain of a linear mono stack, in Hz.
    speed : bool
        Time the engine on this machine (adds ``speed``).
    probe_seconds : float
        Estimated seconds each probe may take (default :data:`~wavedil.probe.PROBE_SECONDS`).
    memory_limit : int, optional
        Bytes each probe may allocate (default :func:`~wavedil.memory.default_memory_limit`).
    engine : str or Engine, optional
        The engine ``speed`` times, as for :func:`wavedil.apply` (it names
        it); resolved once, here. The figures come from the NumPy reference.
    fast_tanh : bool
        Probe with NAM's plugin approximation of tanh (see :mod:`wavedil.engines`).

    Returns
    -------
    Report
        ``report.to_dict()`` has the keys documented in the README's report
        table; ``render(report, fmt)`` prints it.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> r = analyze(stack_from_dilations([1, 2, 4], kernel_size=3), 48000)
    >>> [layer.receptive_field for layer in r.layers], round(r.receptive_field_ms, 4)
    ([3, 7, 15], 0.3125)
    """
    bounds = _Bounds.of(probe_seconds, memory_limit, resolve_engine(engine, fast_tanh=fast_tanh))
    return _analysis(stack, sample_rate, audio, frequencies, speed, bounds).report


class ReportCache:
    """The reports of one stack for many files: the stack is analyzed once per sample rate.

    A batch keeps one cache for its stack and asks it for each file's report
    (:meth:`report`); only the effective field of a nonlinear stack is
    recomputed per file (over the file's excerpts), and the file's ``audio``
    facts are added. The cache pickles with what it holds, so a batch may fill
    it before handing it to worker processes. The probes run on ``engine``
    (as for :func:`analyze`), resolved once, here.

    Examples
    --------
    >>> from wavedil.presets import preset
    >>> cache = ReportCache(preset("smooth"))
    >>> cache.report(44100) is cache.report(44100), cache.report(48000).sample_rate
    (True, 48000)
    """

    def __init__(self, stack: Stack, *, probe_seconds: float = PROBE_SECONDS, memory_limit: int | None = None, engine: str | Engine | None = None) -> None:
        self.stack = stack
        self.probe_seconds = probe_seconds
        self.memory_limit = memory_limit
        # Resolved once: a cache that travels to worker processes probes on the engine chosen here.
        self.engine = resolve_engine(engine)
        self._analyses: dict[int | None, StackAnalysis] = {}

    def analysis(self, sample_rate: int | None) -> StackAnalysis:
        """The stack's analysis at a model's own rate, else at ``sample_rate`` (a file's); made on first use."""
        rate = self.stack.sample_rate or sample_rate
        if rate not in self._analyses:
            self._analyses[rate] = _analysis(self.stack, rate, None, None, False, _Bounds.of(self.probe_seconds, self.memory_limit, self.engine))
        return self._analyses[rate]

    def report(self, sample_rate: int | None, audio: AudioSource = None, facts: AudioFacts | Mapping[str, Any] | None = None) -> Report:
        """One file's report: see :meth:`StackAnalysis.for_file`."""
        return self.analysis(sample_rate).for_file(audio, facts)
