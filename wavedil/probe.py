"""Probing the real engine: measured and effective receptive fields, and speed.

The analytic receptive field counts taps; these functions ask the engine
itself which past samples change the output, and by how much:

- :func:`measured_receptive_field`: ``1 +`` the oldest offset whose
  perturbation changes the output. It is smaller than the analytic figure when
  the far taps vanish, and never larger (that would be a bug).
- :func:`effective_receptive_field`: how the sensitivity ``|dy[t]/dx[t-i]|``
  spreads over the offsets ``i``: the impulse response for linear stacks, the
  root-mean-square of central differences over several positions of real or
  seeded-noise audio for nonlinear ones.

Each takes the ``engine`` to probe (see :mod:`wavedil.engines`; default: the
``WAVEDIL_ENGINE`` environment variable, else ``auto``), as
:func:`wavedil.apply` does; :func:`measure_speed` says which one it timed.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from .engine import MIN_BLOCK_SIZE, StreamingFilter, block_size_for
from .engines import NUMPY, Engine, resolve_engine, usable
from .errors import UsageError, WavedilError
from .memory import plan_filter
from .report import EffectiveField, Memory, Speed
from .stack import Stack, unwrapped

#: Positions averaged by the effective receptive field of nonlinear stacks.
DEFAULT_POSITIONS = 8
#: Half-width of the central difference, relative to full scale.
_EPS = 1e-4
#: Estimated seconds one probe of a report may take by default (see :func:`probe_time`).
PROBE_SECONDS = 15.0
#: Longest signal :func:`measured_memory` runs (a recurrent model's memory beyond it is reported as unsettled).
MAX_MEMORY_PROBE = 2**19


def probe_block(stack: Stack, length: int) -> int:
    """The block a probe runs in: the engine's, never longer than the signals (whose buffers then stay small)."""
    return max(1, min(block_size_for(stack), length))


#: Nominal nanoseconds per multiply-add of a layer whose channels are mixed by GEMMs: this over the width
#: (measured: 3.3 ns at 16 channels, where per-call costs dominate; 0.4 ns at 64), at least the floor.
_GEMM_NS_WIDTH = 50.0
_GEMM_NS_MIN = 0.25
#: Nominal nanoseconds per tap and sample of a mono layer (a pass over the block each), and per sample copied.
_PASS_NS = 8.0
_COPY_NS = 1.0


def probe_time(stack: Stack, signals: int, length: int) -> float:
    """Estimated seconds to run ``signals`` signals of ``length`` samples through ``stack`` (float64).

    A deterministic model of the engine, calibrated on a 2-core Zen 3
    machine: per sample, each mono tap costs a pass over memory
    (:data:`_PASS_NS`), each multiply-add of a layer ``C`` channels wide
    ``max(_GEMM_NS_MIN, _GEMM_NS_WIDTH / C)``; per block, a layer whose history is longer than
    the block shifts it (:data:`_COPY_NS` per sample). An impulse response
    has its own model (``probe_ns_per_sample``: FFTs, not taps). It decides which
    probes a report runs, so its figures never depend on the machine's load.
    """
    per_sample = 0.0
    block = probe_block(stack, length)
    for layer in stack.layers:
        # A layer with a cost model of its own (an impulse response's FFTs) gives it per sample and channel.
        own = getattr(unwrapped(layer), "probe_ns_per_sample", None)
        if own is not None:
            per_sample += own(block) * layer.in_channels
            continue
        for row in layer.rows():
            width = max(row["in_channels"], row["out_channels"])
            ns = _PASS_NS if width == 1 else max(_GEMM_NS_MIN, _GEMM_NS_WIDTH / width)
            per_sample += ns * row["macs_per_sample"]
    batch = signals * probe_channels(stack) if stack.is_mono else 1
    copies = sum(
        layer.in_channels * layer.history
        for layer in stack.layers
        if layer.history is not None and layer.history > block and not hasattr(unwrapped(layer), "probe_ns_per_sample")
    )
    blocks = -(-length // block) * (1 if stack.is_mono else signals)
    return 1e-9 * (signals * length * per_sample + _COPY_NS * blocks * batch * copies)


def probe_memory(stack: Stack, signals: int, length: int) -> int:
    """Bytes a probe of ``signals`` signals of ``length`` samples allocates (float64).

    The signals and their perturbed copies, the outputs, and the engine's
    plan for them side by side (a mono stack) or one at a time.
    """
    c = probe_channels(stack)
    batch_channels = signals * c if stack.is_mono else c
    block = probe_block(stack, length)
    engine = plan_filter(stack, batch_channels, dtype=np.float64, block_size=block).total
    return 8 * signals * length * (2 * c + 2 * stack.out_channels) + engine


def rounding_floor(stack: Stack, *outputs: np.ndarray) -> float:
    """The largest output change that is rounding, not hearing: 0 for a stack computed without FFTs.

    A layer convolved through FFTs (an impulse response) spreads rounding
    noise of about 1e-16 of the signal over its whole frame, where the
    arithmetic of taps would give exact zeros: its changes up to 1e-9 of the
    outputs' peak are not taken as heard.
    """
    if not any(getattr(unwrapped(layer), "kind", None) == "ir" for layer in stack.layers):
        return 0.0
    return 1e-9 * max((float(np.max(np.abs(o))) for o in outputs if o.size), default=0.0)


def impulse_measures(h: np.ndarray, rf: int, floor: float = 0.0) -> tuple[int, EffectiveField]:
    """The measured receptive field and the effective one from an impulse response ``h`` (length >= ``rf``).

    For a linear stack both follow from ``h``: ``1 +`` its last offset above
    ``floor`` in magnitude (see :func:`rounding_floor`), and how its energy
    spreads over ``0..rf-1``.
    """
    hit = np.flatnonzero(np.any(np.abs(h) > floor, axis=(1, 2)))
    measured = int(hit[-1]) + 1 if hit.size else 0
    return measured, _spread(np.sum(h[:rf] ** 2, axis=(1, 2)), "impulse response")


class ProbeOverflow(WavedilError):
    """A probe's output overflowed float64: its figures would be meaningless."""


def _outputs(stack: Stack, xs: np.ndarray, engine: Engine | None) -> np.ndarray:
    """Run signals ``xs`` shaped (P, n, C) through the causal stack in float64: (P, n, out).

    Raises
    ------
    ProbeOverflow
        When an output is infinite or NaN.
    """
    return _check(_run_probe(stack, xs, engine))


def _causal(stack: Stack) -> Stack:
    """The stack with causal padding: a probe asks which past samples ``y[t]`` hears, lookahead included."""
    return stack if stack.padding == "causal" else stack.replace(padding="causal")


def _filters(stack: Stack, signals: int, length: int, engine: Engine | None) -> list[StreamingFilter]:
    """Float64 filters for ``signals`` probe signals: one for all of them side by side (a mono stack), else one each.

    Their block is the one the engine picks for that many channels, at most
    :data:`~wavedil.engine.MIN_BLOCK_SIZE` (the scratch buffers a copy of the
    state carries, see :func:`_continued`, grow with the block) and never
    longer than the signals.
    """
    c = probe_channels(stack)
    causal = _causal(stack)
    # Figures come from the NumPy reference unless an engine is named: it needs no compiled
    # float64 kernels, which a first report would otherwise wait for.
    engine = NUMPY if engine is None else engine
    if stack.is_mono:
        block = min(block_size_for(causal, signals * c), MIN_BLOCK_SIZE, length)
        return [StreamingFilter(causal, signals * c, dtype=np.float64, block_size=max(1, block), engine=engine)]
    return [StreamingFilter(causal, c, dtype=np.float64, block_size=probe_block(causal, length), engine=engine) for _ in range(signals)]


def _feed(stack: Stack, filters: list[StreamingFilter], xs: np.ndarray) -> np.ndarray:
    """Signals ``xs`` shaped (P, n, C) through ``filters`` (from :func:`_filters`): (P, n, out)."""
    p, n, c = xs.shape
    if stack.is_mono:
        # Independent signals side by side as channels: one pass through the engine.
        y = filters[0].process(xs.transpose(1, 0, 2).reshape(n, p * c))
        return y.reshape(n, p, -1).transpose(1, 0, 2)
    return np.stack([f.process(x) for f, x in zip(filters, xs)])


def _run_probe(stack: Stack, xs: np.ndarray, engine: Engine | None) -> np.ndarray:
    return _feed(stack, _filters(stack, xs.shape[0], xs.shape[1], engine), xs)


def _continued(stack: Stack, prefix: np.ndarray, tails: list[np.ndarray], engine: Engine | None) -> list[np.ndarray]:
    """The outputs over each of ``tails`` (P, m, C), each run after the same ``prefix`` (P, n, C).

    The prefix runs once; each tail continues from a copy of the state it
    left, which gives the outputs of ``concatenate([prefix, tail])`` from
    ``n`` on at a fraction of the cost.

    Raises
    ------
    ProbeOverflow
        When an output is infinite or NaN.
    """
    filters = _filters(stack, prefix.shape[0], prefix.shape[1] + max(t.shape[1] for t in tails), engine)
    if prefix.shape[1]:
        _check(_feed(stack, filters, prefix))
    # Every tail but the last runs on a copy of the state (the stack, the weights, shared); the last on the filters themselves.
    shared = {id(f.stack): f.stack for f in filters}
    outs = [_check(_feed(stack, copy.deepcopy(filters, dict(shared)), tail)) for tail in tails[:-1]]
    return [*outs, _check(_feed(stack, filters, tails[-1]))]


def _check(ys: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(ys)):
        raise ProbeOverflow("the stack's output overflows float64 (its gain is beyond about 1e308)")
    return ys


def probe_channels(stack: Stack) -> int:
    """Channels of one probe signal: 1 for a mono stack (run per channel), else the stack's input channels."""
    return 1 if stack.is_mono else stack.in_channels


def impulse_response(stack: Stack, length: int | None = None, *, engine: Engine | None = None) -> np.ndarray:
    """Response to a unit impulse, less the response to silence: (length, in, out).

    For a linear stack this is its equivalent FIR kernel, ``h[i] = dy[t]/dx[t-i]``.
    """
    c = probe_channels(stack)
    n = length or stack.receptive_field
    xs = np.zeros((c + 1, n, c))
    for ch in range(c):
        xs[ch, 0, ch] = 1.0
    ys = _outputs(stack, xs, engine)
    return (ys[:c] - ys[c]).transpose(1, 0, 2)


#: Activations that are flat over a whole range, so a path through them can be dead at a given input.
_DEAD_ZONES = {"relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "prelu", "leaky_hardtanh"}


def _activations(stack: Stack) -> set[str]:
    names: set[str] = set()
    for layer in stack.layers:
        names |= layer.activation_names()
    return names


def kick_positions(stack: Stack) -> int:
    """Positions :func:`measured_receptive_field` kicks by default: 32 with piecewise-flat activations, else 4."""
    return 32 if _activations(stack) & _DEAD_ZONES else 4


def measured_receptive_field(stack: Stack, *, seed: int = 0, positions: int | None = None, engine: Engine | None = None) -> int:
    """``1 +`` the oldest offset whose perturbation changes the output; 0 if none does.

    Linear stacks are read from their impulse response. Nonlinear ones are
    run on seeded noise with one sample kicked at each of ``positions``
    places; the latest output that moves says how far back the stack hears.
    Smooth activations keep every path alive, so 4 positions suffice; with
    piecewise-flat ones (ReLU, hardtanh, ...) 32 are probed, so that a unit
    dead at one place does not hide a path. The probe looks past the analytic
    field, so that a larger measured field, which would be a bug, shows.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> measured_receptive_field(stack_from_dilations([1, 2], taps=[0.5, 0.5, 0.0]))
    4
    """
    rf = stack.receptive_field
    reach = rf + max(16, rf // 8)
    if stack.is_linear:
        h = impulse_response(stack, reach, engine=engine)
        hit = np.flatnonzero(np.any(np.abs(h) > rounding_floor(stack, h), axis=(1, 2)))
        return int(hit[-1]) + 1 if hit.size else 0
    if positions is None:
        positions = kick_positions(stack)
    rng = np.random.default_rng(seed)
    s = reach - 1  # the kicked sample, with a full field of context before it
    base = rng.normal(0.0, 0.5, (positions, s + reach, probe_channels(stack)))
    kicked = base[:, s:].copy()
    kicked[:, 0, :] += rng.normal(0.0, 0.5, (positions, base.shape[2]))
    # The context before the kick is the same for both: it runs once.
    after_kick, unkicked = _continued(stack, base[:, :s], [kicked, base[:, s:]], engine)
    moved = np.abs(after_kick - unkicked) > rounding_floor(stack, after_kick, unkicked)
    hit = np.flatnonzero(np.any(moved, axis=(0, 2)))
    return int(hit[-1]) + 1 if hit.size else 0


def effective_receptive_field(
    stack: Stack,
    audio: np.ndarray | None = None,
    *,
    positions: int = DEFAULT_POSITIONS,
    seed: int = 0,
    engine: Engine | None = None,
) -> EffectiveField:
    """How the sensitivity ``|dy[t]/dx[t-i]|`` is spread over offsets ``i``.

    Returns ``samples_50`` and ``samples_95`` (the smallest ``m`` such that
    offsets ``0..m-1`` hold 50 / 95 percent of the squared sensitivity),
    ``profile`` (the sensitivity at each offset ``0..RF-1``: ``|h[i]|`` for a
    linear stack, else the root-mean-square over ``positions`` positions and
    all channel pairs; at most :data:`MAX_PROFILE_POINTS` values, each the
    root-mean-square over ``profile_step`` offsets), ``source`` (``impulse response``, ``input audio``
    or ``seeded noise``) and ``positions`` (how many were averaged; None
    for an impulse response).

    Parameters
    ----------
    stack : Stack
    audio : ndarray, shape (positions, 2*RF, channels), optional
        Excerpts of real audio to probe a nonlinear stack on; seeded noise
        otherwise.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> erf = effective_receptive_field(stack_from_dilations([1, 2, 4, 8], kernel_size=2))
    >>> erf.samples_50, erf.samples_95
    (8, 16)
    """
    rf = stack.receptive_field
    if stack.is_linear:
        return impulse_measures(impulse_response(stack, rf, engine=engine), rf)[1]
    else:
        c = probe_channels(stack)
        n = 2 * rf
        if audio is not None and len(audio):
            xs = np.asarray(audio, dtype=np.float64)[:, :n, :c]
            if xs.shape[1] < n:
                xs = np.concatenate([xs, np.zeros((xs.shape[0], n - xs.shape[1], c))], axis=1)
            source = "input audio"
        else:
            xs = np.random.default_rng(seed).normal(0.0, 0.25, (positions, n, c))
            source = "seeded noise"
        positions = xs.shape[0]
        s = rf - 1  # the perturbed sample has RF-1 samples of real context before it
        # The context runs once; each perturbed copy continues from its state over the RF outputs read.
        tails = []
        for ch in range(c):
            for sign in (1.0, -1.0):
                tail = xs[:, s : s + rf].copy()
                tail[:, 0, ch] += sign * _EPS
                tails.append(tail)
        outs = _continued(stack, xs[:, :s], tails, engine)
        energy = np.zeros(rf)
        for plus, minus in zip(outs[::2], outs[1::2]):
            sens = (plus - minus) / (2 * _EPS)
            energy += np.mean(np.sum(sens**2, axis=2), axis=0)
    return _spread(energy, source, None if stack.is_linear else positions)


#: Most points of an effective field's ``profile``; a longer field is shown in bins of ``profile_step`` offsets.
MAX_PROFILE_POINTS = 65536


def _spread(energy: np.ndarray, source: str, positions: int | None = None) -> EffectiveField:
    total = float(energy.sum())
    step = max(1, -(-len(energy) // MAX_PROFILE_POINTS))
    binned = energy
    if step > 1:
        # The mean energy of each bin of offsets (the oldest bin may be partial); its root is the RMS sensitivity.
        starts = np.arange(0, len(energy), step)
        binned = np.add.reduceat(energy, starts) / np.diff(np.append(starts, len(energy)))
    if total > 0:
        frac = np.cumsum(energy) / total
        # A hair of slack so that exact fractions (0.5 of a moving average) land on their sample.
        s50 = int(np.searchsorted(frac, 0.5 - 1e-12) + 1)
        s95 = int(np.searchsorted(frac, 0.95 - 1e-12) + 1)
    else:
        s50 = s95 = 0
    return EffectiveField(
        samples_50=s50,
        samples_95=s95,
        profile=tuple(np.sqrt(binned).tolist()),
        profile_step=step,
        source=source,
        positions=positions,
    )


def measured_memory(
    stack: Stack,
    sample_rate: int,
    *,
    threshold_db: float = -60.0,
    amplitude: float = 0.1,
    probe_seconds: float = 2.0,
    engine: Engine | None = None,
) -> Memory:
    """How long an impulse's effect lasts: the memory of a stack whose receptive field has no bound.

    The stack runs (float64, from its steady state of silence) on silence
    and on silence with one sample of ``amplitude`` at ``t = 0``;
    ``samples`` is ``1 +`` the last offset at which the outputs differ by
    ``threshold_db`` or more relative to their largest difference, within
    ``probe_seconds`` (at most :data:`MAX_MEMORY_PROBE` samples). It is None when the effect has not settled in the
    last quarter of the probe (the memory outlasts it), 0 when the impulse
    changes nothing.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> measured_memory(stack_from_dilations([1, 2], kernel_size=2), 48000).samples
    4
    """
    if not threshold_db < 0:
        raise UsageError(f"threshold_db must be negative, got {threshold_db}")
    n = max(4, min(int(probe_seconds * sample_rate), MAX_MEMORY_PROBE))
    c = probe_channels(stack)
    xs = np.zeros((2, n, c))
    xs[0, 0, :] = amplitude
    ys = _outputs(stack, xs, engine)
    diff = np.max(np.abs(ys[0] - ys[1]), axis=1)
    peak = float(diff.max())
    samples: int | None = 0
    if peak > 0.0:
        last = int(np.flatnonzero(diff >= peak * 10 ** (threshold_db / 20))[-1]) + 1
        samples = last if last <= n - n // 4 else None
    return Memory(
        samples=samples,
        ms=None if samples is None else 1000.0 * samples / sample_rate,
        threshold_db=threshold_db,
        probe_samples=n,
    )


def measure_speed(
    stack: Stack,
    sample_rate: int,
    *,
    seconds: float = 5.0,
    channels: int | None = None,
    block_size: int | None = None,
    repeats: int = 3,
    engine: str | Engine | None = None,
    fast_tanh: bool = False,
) -> Speed:
    """Time the engine (float32) on seeded noise; the best of ``repeats`` runs.

    Returns ``seconds_audio``, ``seconds_wall``, ``samples_per_second``,
    ``realtime_factor`` (audio seconds per wall second),
    ``realtime_cpu_share`` (the share of one core real time needs), and what
    was timed: ``engine`` (``numpy`` or ``numba``, resolved once from
    ``engine``), ``fast_tanh``, and ``layer_engines`` (the engine of each
    layer: one without a compiled kernel runs on ``numpy``). The filters are
    built before the clock starts, so a compiled kernel's first-use
    compilation is not timed.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> speed = measure_speed(stack_from_dilations([1, 2], kernel_size=2), 48000, seconds=0.1, engine="numpy")
    >>> speed.engine, speed.fast_tanh, speed.layer_engines
    ('numpy', False, ('numpy', 'numpy'))
    """
    chosen = usable(resolve_engine(engine, fast_tanh=fast_tanh), stack)
    ch = channels or (1 if stack.is_mono else stack.in_channels)
    block_size = block_size or block_size_for(stack)
    n = max(1, int(seconds * sample_rate))
    x = np.random.default_rng(0).normal(0.0, 0.25, (n, ch)).astype(np.float32)
    best = float("inf")
    for _ in range(repeats):
        f = StreamingFilter(stack, ch, block_size=block_size, engine=chosen)
        start = time.perf_counter()
        for i in range(0, n, block_size):
            f.process(x[i : i + block_size])
        f.flush()
        best = min(best, time.perf_counter() - start)
    rtf = (n / sample_rate) / best
    return Speed(
        seconds_audio=n / sample_rate,
        seconds_wall=best,
        samples_per_second=n / best,
        realtime_factor=rtf,
        realtime_cpu_share=1.0 / rtf,
        engine=chosen.name,
        fast_tanh=chosen.fast_tanh,
        layer_engines=tuple(f.layer_engines),
    )
