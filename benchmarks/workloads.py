"""The workloads, each timed beside its peers.

Each measurement times both of wavedil's engines (numba when installed, and
NumPy, both with the accurate tanh) and the peers in turns, one run of each
per round, as medians of warm runs (see :mod:`benchmarks.timing`; a peer
whose full run is slow warms up on one second of the input). Inputs are
seeded white noise scaled by 0.1, float32, and everything goes through
wavedil's public API.

A workload is a function ``(settings, earlier) -> Result``, ``earlier``
holding the results of the workloads already run (W4 takes W2's
single-worker time from it). A workload that cannot run here raises
:class:`Skipped`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import wavedil
import wavedil.partitioned
from wavedil.engines import Engine, numba_installed, resolve_engine
from wavedil.segments import parallel_apply
from wavedil.workers import worker_pool

from . import nam_core, peers
from .timing import Job, Measured, Result, Skipped, interleave, measure, round_seconds, timed, unavailable

#: W1's and W5's schedule: kernel 2, dilations 1, 2, 4, ..., 4096 (13 layers, receptive field 8192).
W1_DILATIONS = [2**i for i in range(13)]

#: W2's and W4's stack: the standard NAM capture shape, with seeded weights.
STANDARD_CAPTURE: dict[str, Any] = {
    "layers": [
        {
            "type": "wavenet",
            "init": {"seed": 0},
            "head_scale": 0.02,
            "arrays": [
                {
                    "input_size": 1,
                    "condition_size": 1,
                    "channels": 16,
                    "kernel_size": 3,
                    "dilations": [2**i for i in range(10)],
                    "activation": "tanh",
                    "gated": False,
                    "head_size": 8,
                    "head_bias": False,
                },
                {
                    "input_size": 16,
                    "condition_size": 1,
                    "channels": 8,
                    "kernel_size": 3,
                    "dilations": [2**i for i in range(10)],
                    "activation": "tanh",
                    "gated": False,
                    "head_size": 1,
                    "head_bias": True,
                },
            ],
        }
    ]
}

def a2_document(seed: int = 0) -> dict[str, Any]:
    """A ``.nam`` document of NAM 0.13's A2 at full size, with seeded weights.

    The shape of the full-size submodel of the A2 example that ships with
    NeuralAmpModelerCore: 8 channels, one array of 23 layers with kernel
    sizes 6 and 15, LeakyReLU(0.01), a head of kernel 16; receptive field 6,347.
    """
    from wavedil.limits import LAYER_LIMITS as _LIMITS
    from wavedil.models.wavenet_config import nam_weight_count

    block = [1, 3, 7, 17, 41, 101, 239]
    dilations = block + block + [1, 13] + block
    kernels = [6] * 14 + [15, 15] + [6] * 7
    n = len(dilations)
    array = {
        "input_size": 1,
        "condition_size": 1,
        "head": {"out_channels": 1, "kernel_size": 16, "bias": True},
        "channels": 8,
        "bottleneck": 8,
        "kernel_sizes": kernels,
        "dilations": dilations,
        "activation": [{"type": "LeakyReLU", "negative_slope": 0.01}] * n,
        "gating_mode": ["none"] * n,
        "secondary_activation": [None] * n,
        "head1x1": {"active": False, "out_channels": 1, "groups": 1},
        "layer1x1": {"active": True, "groups": 1},
        "groups_input": 1,
        "groups_input_mixin": 1,
    }
    config = {"layers": [array], "head": None, "head_scale": 0.01}
    count = nam_weight_count(config, limits=_LIMITS)
    weights = np.random.default_rng(seed).uniform(-0.25, 0.25, count)
    weights[-1] = 0.01  # head_scale
    return {"version": "0.7.0", "architecture": "WaveNet", "config": config, "weights": weights.tolist(), "sample_rate": 48000}


def lstm_document(hidden_size: int = 3, num_layers: int = 1, seed: int = 0) -> dict[str, Any]:
    """A ``.nam`` LSTM document with seeded weights (default: the shape of the Core's example ``lstm.nam``)."""
    from wavedil.models.lstm import weight_count

    weights = np.random.default_rng(seed).uniform(-0.5, 0.5, weight_count(num_layers, 1, hidden_size, 1))
    config = {"input_size": 1, "hidden_size": hidden_size, "num_layers": num_layers}
    return {"version": "0.7.0", "architecture": "LSTM", "config": config, "weights": weights.tolist(), "sample_rate": 48000}


#: Temporary space W5 needs: a one-hour and a one-minute stereo PCM_16 file, and their outputs.
W5_SCRATCH_BYTES = 1_500_000_000


def engines_to_time() -> list[Engine]:
    """wavedil's engines, accurate tanh: numba (when installed) first, the headline figure, then NumPy."""
    return [Engine("numba"), Engine("numpy")] if numba_installed() else [Engine("numpy")]


def engine_jobs(stack: wavedil.Stack, x: np.ndarray, engines: list[Engine]) -> dict[str, Job]:
    """``wavedil.apply`` of ``stack`` on ``x`` on each engine, named by :meth:`Engine.describe`."""
    return {e.describe(): timed(lambda e=e: wavedil.apply(stack, x, engine=e)) for e in engines}


def compiled_layers_note(stack: wavedil.Stack) -> str | None:
    """Which of the stack's layers the numba engine runs with a compiled kernel (None without numba)."""
    if not numba_installed():
        return None
    used = wavedil.StreamingFilter(stack, stack.in_channels, engine="numba").layer_engines
    return f"numba engine: {used.count('numba')} of {len(used)} layers run compiled kernels, the others NumPy"


def engine_notes(measured: Mapping[str, Measured], headline: str) -> list[str]:
    """How each other engine's output agrees with the headline engine's."""
    y = measured[headline].output
    return [f"{name} engine output vs {headline}: {agreement(y, m.output)}" for name, m in measured.items() if name != headline]


def noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Seeded white noise scaled by 0.1, float32, mono."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(round(seconds * rate), dtype=np.float32) * np.float32(0.1)


def agreement(ours: np.ndarray, theirs: np.ndarray) -> str:
    """How closely a peer's output matches wavedil's, as a phrase for the notes."""
    ours, theirs = np.asarray(ours), np.asarray(theirs).reshape(np.shape(ours))
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    return f"max |difference| {diff:.1e} at output peak {float(np.max(np.abs(ours))):.3f}"


def _wavenet_note(stack: wavedil.Stack, rate: int) -> str:
    rf = stack.receptive_field
    return f"receptive field {rf:,} samples ({1000 * rf / rate:.0f} ms at {rate // 1000} kHz), {stack.parameters:,} parameters"


@dataclass(frozen=True)
class Settings:
    """What every workload is given: timed runs per measurement, and the builds of NAM's Core to compare with."""

    repeat: int = 3
    nam_core: tuple[nam_core.CoreBuild, ...] = ()


@dataclass(frozen=True)
class Figures:
    """A model workload's medians, in seconds, for its target.

    ``main`` is wavedil on its headline engine (accurate tanh), ``fast_tanh``
    the same engine with NAM's plugin tanh (None when not timed); ``engines``
    and ``peers`` as in :class:`Result`.
    """

    audio_seconds: float
    main: float
    fast_tanh: float | None
    engines: Mapping[str, float]
    peers: Mapping[str, float | None]

    def core(self, *, fast_tanh: bool) -> float | None:
        """The fastest build of NAM's Core with that tanh; None when no build ran the model."""
        label = nam_core.tanh_label(fast_tanh=fast_tanh)
        times = [t for name, t in self.peers.items() if name.startswith(nam_core.PEER_PREFIX) and name.endswith(label) and t is not None]
        return min(times, default=None)

    def realtime(self, factor: float) -> tuple[str, bool]:
        """The fallback target: ``factor`` x real time."""
        return f"≥{factor:g}x real time", self.audio_seconds / self.main >= factor


#: A model workload's target: its text and whether it holds.
Target = Callable[[Figures], tuple[str, bool]]


def core_jobs(doc: dict[str, Any], frames: int, builds: tuple[nam_core.CoreBuild, ...], folder: Path) -> dict[str, Job]:
    """Each Core build's ``benchmodel`` on ``doc`` (written to ``folder``), exact and fast tanh.

    Each job's time is the Core's own clock for its :data:`nam_core.SAMPLES`
    samples, scaled to ``frames``.
    """
    model = folder / "model.nam"
    model.write_text(json.dumps(doc), encoding="utf-8")
    scale = frames / nam_core.SAMPLES
    jobs = {}
    for build in builds:
        for fast in (False, True):

            def run(build: nam_core.CoreBuild = build, fast: bool = fast) -> tuple[float, None]:
                return nam_core.run_benchmodel(build, model, fast_tanh=fast) * scale, None

            jobs[nam_core.peer_name(build, fast_tanh=fast)] = Job(run)
    return jobs


def nam_jobs(doc: dict[str, Any], x: np.ndarray, rate: int, builds: tuple[nam_core.CoreBuild, ...], folder: Path) -> dict[str, Job]:
    """NAM's PyTorch model of ``doc`` on ``x`` and each Core build's (:func:`core_jobs`); absent ones say why."""
    jobs: dict[str, Job] = {}
    pytorch = peers.nam_pytorch_document(doc)
    if pytorch is None:
        jobs[peers.NAM_PYTORCH] = unavailable("not installed (pip install torch neural-amp-modeler)")
    else:
        jobs[peers.NAM_PYTORCH] = timed(lambda: pytorch(x), warmup=lambda: pytorch(x[:rate]))
    if not builds:
        jobs[nam_core.PEER_PREFIX.strip()] = unavailable("pass --nam-core DIR, a build folder of your NeuralAmpModelerCore checkout's tools")
    return {**jobs, **core_jobs(doc, len(x), builds, folder)}


def _core_note(builds: tuple[nam_core.CoreBuild, ...], frames: int) -> str:
    names = ", ".join(f"{b.name} ({b.tool})" for b in builds)
    return (
        f"NAM Core {names}: its benchmodel times {nam_core.SAMPLES:,} samples of silence in "
        f"{nam_core.BUFFER}-sample buffers after Reset and prewarm (the plugin's way), by its own clock, "
        f"scaled here to {frames:,} samples; it prints no output, so none is compared"
    )


def _model_workload(
    name: str,
    label: str,
    description: str,
    stack: wavedil.Stack,
    target: Target,
    settings: Settings,
    *,
    rate: int,
    seconds: float,
    doc: dict[str, Any] | None = None,
    fast_tanh: bool = False,
) -> Result:
    """A model on ``seconds`` of noise at ``rate``: wavedil's engines, NAM's PyTorch model and NAM's Core, interleaved.

    ``doc`` is the model's ``.nam`` document for the NAM peers (default: the
    stack's one WaveNet, written as one); ``fast_tanh`` adds the headline
    engine with NAM's plugin tanh.
    """
    from wavedil.formats.nam import to_nam

    x = noise(seconds, rate)
    doc = doc if doc is not None else to_nam(stack.layers[0])
    engines = engines_to_time()
    if fast_tanh:
        engines.append(replace(engines[0], fast_tanh=True))
    headline = engines[0].describe()
    notes = [description]
    if stack.receptive_field is not None:
        notes.append(_wavenet_note(stack, rate))
    with tempfile.TemporaryDirectory(prefix="wavedil-bench-") as tmp:
        jobs = {**engine_jobs(stack, x, engines), **nam_jobs(doc, x, rate, settings.nam_core, Path(tmp))}
        measured, absent = interleave(jobs, settings.repeat)
    names = [e.describe() for e in engines]
    notes += engine_notes({n: measured[n] for n in names}, headline)
    notes.append(compiled_layers_note(stack) or "numba not installed: the NumPy engine only (pip install wavedil[fast])")
    if peers.NAM_PYTORCH in measured:
        notes.append(f"{peers.NAM_PYTORCH} output: {agreement(measured[headline].output, measured[peers.NAM_PYTORCH].output)}, warmed up on {rate:,} samples")
    if settings.nam_core:
        notes.append(_core_note(settings.nam_core, len(x)))
    notes += [f"{peer} absent: {why}" for peer, why in absent.items()]
    peer_times = {n: (measured[n].timing.median if n in measured else None) for n in jobs if n not in names}
    figures = Figures(
        seconds,
        measured[headline].timing.median,
        measured[engines[-1].describe()].timing.median if fast_tanh else None,
        {n: measured[n].timing.median for n in names},
        peer_times,
    )
    text, met = target(figures)
    return Result(
        name,
        label,
        seconds,
        figures.main,
        measured[headline].timing.runs,
        text,
        met,
        peers=peer_times,
        engine=engines[0].name,
        engines=dict(figures.engines),
        notes=notes,
    )


# ---------------------------------------------------------------------------
# The workloads


def w1(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """Linear mono stack, kernel 2, dilations 1..4096, 10 min at 48 kHz; peer: oaconvolve with the dense kernel."""
    rate, seconds = 48_000, 600.0
    stack = wavedil.stack_from_dilations(W1_DILATIONS, kernel_size=2)
    x = noise(seconds, rate)
    engines = engines_to_time()
    headline = engines[0].describe()
    oaconvolve = peers.oaconvolve_dense(stack)
    jobs = {**engine_jobs(stack, x, engines), peers.OACONVOLVE: timed(lambda: oaconvolve(x))}
    measured = interleave(jobs, settings.repeat)[0]
    main, oa = measured[headline], measured[peers.OACONVOLVE]
    ratio = oa.timing.median / main.timing.median
    names = [e.describe() for e in engines]
    return Result(
        "W1",
        "linear mono, k=2, d=1..4096, 10 min 48 kHz",
        seconds,
        main.timing.median,
        main.timing.runs,
        "≥5x oaconvolve",
        ratio >= 5.0,
        peers={peers.OACONVOLVE: oa.timing.median},
        engine=engines[0].name,
        engines={n: measured[n].timing.median for n in names},
        notes=[
            (
                f"13 layers, receptive field {stack.receptive_field:,}; oaconvolve gets the equivalent dense "
                f"{stack.receptive_field:,}-tap kernel, output cut to the input's length"
            ),
            f"oaconvolve's first (cold) call took {oa.timing.first:.3f} s; that is not what is compared (warm calls are)",
            f"oaconvolve output: {agreement(main.output, oa.output)}",
            *engine_notes({n: measured[n] for n in names}, headline),
            compiled_layers_note(stack) or "numba not installed: the NumPy engine only",
        ],
        extra={"peer_first_call_seconds": {peers.OACONVOLVE: round_seconds(oa.timing.first)}},
    )


def _w2_target(f: Figures) -> tuple[str, bool]:
    fast, exact = f.core(fast_tanh=True), f.core(fast_tanh=False)
    if fast is None or exact is None:
        return f.realtime(45.0)
    text = "accurate tanh ≥ NAM Core fast tanh and ≥2.5x Core exact tanh (its fastest build)"
    return text, fast >= f.main and exact >= 2.5 * f.main


def w2(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """The standard NAM capture shape, 60 s at 48 kHz; peers: NAM's PyTorch reference and NAM's Core."""
    return _model_workload(
        "W2",
        "NAM standard WaveNet, 60 s 48 kHz",
        "2 layer arrays x 10 layers, 16 then 8 channels, kernel 3, dilations 1..512, head_size 8 then 1, "
        "head_bias false then true, tanh, not gated, seeded weights",
        wavedil.parse_spec(STANDARD_CAPTURE),
        _w2_target,
        settings,
        rate=48_000,
        seconds=60.0,
        fast_tanh=True,
    )


def _w3_target(f: Figures) -> tuple[str, bool]:
    if "numba" not in f.engines:
        return f.realtime(4.5)
    return "numba ≥2x the NumPy engine", f.engines["numpy"] >= 2.0 * f.engines["numba"]


def w3(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """The ``wavenet`` preset (the WaveNet paper's shape), 20 s at 16 kHz; peers: NAM's PyTorch reference and Core."""
    return _model_workload(
        "W3",
        "WaveNet paper preset, 20 s 16 kHz",
        "the `wavenet` preset: gated, 32 channels, kernel 2, dilations 1..512 x3; "
        "at 16 kHz, the WaveNet paper's sample rate (not 48 kHz)",
        wavedil.preset("wavenet"),
        _w3_target,
        settings,
        rate=16_000,
        seconds=20.0,
    )


def w4(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """W2 on two worker processes; its "peer" is wavedil on one worker, so the ratio is the speed-up.

    Workers and the one-worker run take the default engine (numba when installed: the compiled engine).
    """
    rate, seconds, workers = 48_000, 60.0, 2
    stack = wavedil.parse_spec(STANDARD_CAPTURE)
    engine = resolve_engine()  # what the worker processes resolve too
    x = noise(seconds, rate)
    serial = wavedil.apply(stack, x, engine=engine)  # the output parallel_apply must equal, bit for bit
    notes = [f"engine: {engine.describe()} in every worker ({compiled_layers_note(stack) or 'numba not installed'})"]
    if "W2" in earlier and engine.describe() in earlier["W2"].engines:
        single = earlier["W2"].engines[engine.describe()]
        notes.append("one-worker time taken from W2 in this run")
    else:
        single = measure(lambda: wavedil.apply(stack, x, engine=engine), settings.repeat)[0].median
        notes.append("one-worker time measured here (W2 not run)")
    start = time.perf_counter()
    pool = worker_pool(workers)  # started once, before timing
    started = time.perf_counter() - start
    with pool:
        timing, y = measure(lambda: parallel_apply(stack, x, pool, workers=workers), settings.repeat)
    identical = bool(np.array_equal(y, serial))
    speedup = single / timing.median
    notes.append(
        f"output {'identical to' if identical else 'DIFFERS from'} wavedil.apply on one worker (np.array_equal); "
        f"speed-up {speedup:.2f}x; starting the pool took {started:.2f} s (not timed)"
    )
    return Result(
        "W4",
        "W2 on 2 worker processes",
        seconds,
        timing.median,
        timing.runs,
        "≥1.8x 1 worker, identical",
        identical and speedup >= 1.8,
        peers={"wavedil 1 worker": single},
        engine=engine.name,
        engines={engine.describe(): timing.median},
        notes=notes,
        extra={"identical": identical, "speedup": round(speedup, 3)},
    )


# W5 measures a child's peak RSS from a fresh wrapper process, whose only child
# is the measured command: RUSAGE_CHILDREN then holds that child's figures alone.
_RSS_WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=sys.stderr.fileno()).returncode
seconds = time.perf_counter() - start
maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"returncode": code, "seconds": seconds, "maxrss": maxrss}))
"""


@dataclass(frozen=True)
class ChildRun:
    """Wall time and peak resident memory of one child process."""

    seconds: float
    peak_rss_mb: float


def run_measured(command: list[str]) -> ChildRun:
    """Run ``command`` as the only child of a fresh wrapper process; its wall time and peak RSS."""
    proc = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, *command], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"the peak-RSS wrapper failed: {proc.stderr.strip()}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["returncode"] != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... exited with {report['returncode']}: {proc.stderr.strip()}")
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    kib = report["maxrss"] / 1024 if sys.platform == "darwin" else report["maxrss"]
    return ChildRun(report["seconds"], kib / 1024)


def write_noise_wav(path: Path, seconds: float, rate: int = 48_000, channels: int = 2, chunk_seconds: float = 60.0) -> None:
    """A PCM_16 WAV of seeded noise at 0.1, written a chunk at a time so memory stays small."""
    rng = np.random.default_rng(1)
    frames, chunk = round(seconds * rate), round(chunk_seconds * rate)
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16", format="WAV") as f:
        for start in range(0, frames, chunk):
            block = rng.standard_normal((min(chunk, frames - start), channels), dtype=np.float32)
            block *= np.float32(0.1)
            f.write(block)


def apply_command(src: Path, dst: Path) -> list[str]:
    """``python -m wavedil apply`` with W1's stack, one worker, quiet."""
    return [
        sys.executable, "-m", "wavedil", "apply", str(src), "-o", str(dst),
        "--kernel-size", "2", "--dilations", ",".join(map(str, W1_DILATIONS)),
        "-q", "--force", "-j", "1",
    ]  # fmt: skip


def w5(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """Peak memory (and wall time) of W1's stack over a one-hour stereo 48 kHz PCM_16 file, through the CLI."""
    rate, seconds = 48_000, 3600.0
    scratch = os.environ.get("WAVEDIL_BENCH_TMP") or tempfile.gettempdir()
    free = shutil.disk_usage(scratch).free
    if free < W5_SCRATCH_BYTES:
        raise RuntimeError(
            f"W5 needs about {W5_SCRATCH_BYTES / 1e9:.1f} GB of temporary space; {scratch} has {free / 1e9:.1f} GB "
            "free (set WAVEDIL_BENCH_TMP to a folder with room)"
        )
    with tempfile.TemporaryDirectory(prefix="wavedil-bench-", dir=scratch) as tmp:
        folder = Path(tmp)
        hour, minute = folder / "one_hour.wav", folder / "one_minute.wav"
        start = time.perf_counter()
        write_noise_wav(hour, seconds, rate)
        written = time.perf_counter() - start
        size_mb = hour.stat().st_size / 1e6
        write_noise_wav(minute, 60.0, rate)
        baseline = run_measured(apply_command(minute, folder / "out_minute.wav"))
        runs = [run_measured(apply_command(hour, folder / "out_hour.wav")) for _ in range(settings.repeat)]
        out = sf.info(str(folder / "out_hour.wav"))
        complete = out.frames == round(seconds * rate) and out.channels == 2
    peak = max(r.peak_rss_mb for r in runs)
    wall = tuple(r.seconds for r in runs)
    return Result(
        "W5",
        "W1 stack, 1 h stereo 48 kHz file, CLI",
        seconds,
        statistics.median(wall),
        wall,
        "peak RSS ≤200 MB",
        peak <= 200.0 and complete,
        peak_rss_mb=peak,
        notes=[
            (
                f"`python -m wavedil apply` on a {size_mb:.0f} MB PCM_16 WAV (written in {written:.1f} s, then "
                "deleted), -j 1, in a child process; time is its wall time, reading and writing included"
            ),
            (
                f"peak RSS is the largest of {settings.repeat} runs (RUSAGE_CHILDREN of a fresh wrapper process); "
                f"the same command on a one-minute file peaks at {baseline.peak_rss_mb:.0f} MB"
            ),
            f"output {'complete' if complete else 'INCOMPLETE'}: {out.frames:,} frames x {out.channels} channels",
        ],
        extra={"peak_rss_mb_one_minute": round(baseline.peak_rss_mb, 1), "output_complete": complete},
    )


def _w6_target(f: Figures) -> tuple[str, bool]:
    exact = f.core(fast_tanh=False)
    if exact is None:
        return f.realtime(10.0)
    return "≥ NAM Core, exact tanh (its fastest build; A2 has no tanh)", exact >= f.main


def w6(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """NAM 0.13's A2 at full size, 60 s at 48 kHz; peers: NAM's PyTorch reference and NAM's Core."""
    from wavedil.formats.nam import parse_nam

    doc = a2_document()
    return _model_workload(
        "W6",
        "NAM A2 (full size), 60 s 48 kHz",
        "one array of 23 layers, 8 channels, kernel sizes 6 and 15, LeakyReLU, head kernel 16, seeded weights",
        parse_nam(doc),
        _w6_target,
        settings,
        rate=48_000,
        seconds=60.0,
        doc=doc,
    )


def _w7_target(f: Figures) -> tuple[str, bool]:
    exact, fast = f.core(fast_tanh=False), f.core(fast_tanh=True)
    if exact is None or fast is None or f.fast_tanh is None:
        return f.realtime(1.0)
    text = "≥ NAM Core (its fastest build), accurate vs exact tanh and fast vs fast tanh"
    return text, exact >= f.main and fast >= f.fast_tanh


def w7(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """An LSTM capture of the Core's example shape (hidden 3, one layer), 60 s at 48 kHz; peers: NAM's PyTorch and Core."""
    from wavedil.formats.nam import parse_nam

    doc = lstm_document()
    return _model_workload(
        "W7",
        "NAM LSTM (hidden 3), 60 s 48 kHz",
        "one LSTM layer of 3 cells and a linear head, seeded weights; NAM's PyTorch runs without the Core's prewarm",
        parse_nam(doc),
        _w7_target,
        settings,
        rate=48_000,
        seconds=60.0,
        doc=doc,
        fast_tanh=True,
    )


#: W8's commands: the start-up figures and the report examples, each in a fresh process.
STARTUP_COMMANDS: dict[str, list[str]] = {
    "wavedil --help": ["--help"],
    "wavedil presets": ["presets"],
    "report, kernel 2, dilations 1,2,4": ["report", "--kernel-size", "2", "--dilations", "1,2,4"],
    "report, kernel 2, dilations 1..4096 (RF 8192)": ["report", "--kernel-size", "2", "--dilations", ",".join(map(str, W1_DILATIONS))],
    "report, the README's example (dilations 1..512 x3, 48 kHz)": [
        "report", "--kernel-size", "2", "--dilations", "1,2,4,8,16,32,64,128,256,512", "--stacks", "3", "--sample-rate", "48000",
    ],
    "report, the wavenet preset (32 channels, gated)": ["report", "--preset", "wavenet", "--sample-rate", "16000"],
}  # fmt: skip
#: W8's targets, in seconds of wall time: the first three commands, and the reports.
STARTUP_TARGET, REPORT_TARGET = 0.3, 2.0


def _command_env(engine: Engine | None = None) -> dict[str, str]:
    """This environment without the thread variables ``python -m benchmarks`` sets: as a user's shell has it.

    With ``engine``, ``WAVEDIL_ENGINE`` chooses it.
    """
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    if engine is not None:
        env["WAVEDIL_ENGINE"] = engine.name
    return env


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=_command_env())
    return time.perf_counter() - start


def w8(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """Wall time of ``wavedil`` commands in fresh processes: start-up, and reports of long stacks."""
    script = shutil.which("wavedil")
    prefix = [script] if script else [sys.executable, "-m", "wavedil"]
    timings = {label: measure(lambda: _wall(prefix + argv), settings.repeat)[0] for label, argv in STARTUP_COMMANDS.items()}
    medians = {label: timing.median for label, timing in timings.items()}
    first = list(medians)[:3]
    met = all(medians[k] <= STARTUP_TARGET for k in first) and all(medians[k] <= REPORT_TARGET for k in medians if k not in first)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import wavedil.cli.main"], capture_output=True, text=True, env=_command_env())
    # The last line is the imported module itself; its second column is everything it imported, in microseconds.
    imported_ms = int(proc.stderr.strip().splitlines()[-1].split("|")[1]) / 1000
    return Result(
        "W8",
        "command start-up and reports, fresh processes",
        0.0,
        medians[first[0]],
        timings[first[0]].runs,
        f"≤{STARTUP_TARGET:g} s for the first three, ≤{REPORT_TARGET:g} s for the reports",
        met,
        notes=[f"{label}: {seconds:.3f} s" for label, seconds in medians.items()]
        + [f"`python -X importtime -c 'import wavedil.cli.main'`: {imported_ms:.0f} ms of imports"],
        extra={"commands": {k: round_seconds(v) for k, v in medians.items()}, "import_ms": round(imported_ms, 1)},
    )


_API_SCRIPT = """
import json, sys, time
import soundfile as sf
import wavedil
stack = wavedil.parse_spec(json.loads(sys.argv[1]))
x, rate = sf.read(sys.argv[2], dtype="float32")
wavedil.apply(stack, x[:rate])  # warm, as the command's first block is
start = time.perf_counter()
y = wavedil.apply(stack, x)
print(time.perf_counter() - start)
"""


def w9(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """W2's stack on 10 s of audio from a plain script (no thread variables) beside the command line's run of it.

    Each engine in turn, chosen for both by the ``WAVEDIL_ENGINE`` environment variable.
    """
    engines = engines_to_time()
    with tempfile.TemporaryDirectory(prefix="wavedil-bench-") as tmp:
        src = Path(tmp) / "ten.wav"
        sf.write(str(src), noise(10.0, 48_000), 48_000, subtype="FLOAT")
        spec = Path(tmp) / "capture.json"
        spec.write_text(json.dumps(STANDARD_CAPTURE))

        def api(engine: Engine) -> tuple[float, None]:
            command = [sys.executable, "-c", _API_SCRIPT, json.dumps(STANDARD_CAPTURE), str(src)]
            proc = subprocess.run(command, check=True, capture_output=True, text=True, env=_command_env(engine))
            return float(proc.stdout.strip().splitlines()[-1]), None

        def cli(engine: Engine) -> tuple[float, None]:
            command = [sys.executable, "-m", "wavedil", "apply", str(src), "-o", str(Path(tmp) / "out.wav"), "--spec", str(spec), "--json", "-j", "1", "--force"]
            proc = subprocess.run(command, check=True, capture_output=True, text=True, env=_command_env(engine))
            return float(json.loads(proc.stdout.splitlines()[0])["seconds_wall"]), None

        jobs = {}
        for e in engines:  # the warm-up runs fill numba's cache of compiled kernels, as a user's second run finds it
            jobs[f"script {e.name}"] = Job(lambda e=e: api(e))
            jobs[f"cli {e.name}"] = Job(lambda e=e: cli(e))
        measured = interleave(jobs, settings.repeat)[0]
    script = {e.name: measured[f"script {e.name}"].timing.median for e in engines}
    command = {e.name: measured[f"cli {e.name}"].timing.median for e in engines}
    headline = engines[0].name
    return Result(
        "W9",
        "W2's stack from a plain Python script vs the CLI, 10 s 48 kHz",
        10.0,
        script[headline],
        measured[f"script {headline}"].timing.runs,
        "≤1.2x the CLI's time, each engine",
        all(script[e] <= 1.2 * command[e] for e in script),
        peers={f"wavedil apply -j 1, {e} (its seconds_wall)": command[e] for e in command},
        engine=headline,
        engines=script,
        notes=[
            "both in fresh processes with no *_NUM_THREADS variables, WAVEDIL_ENGINE set to the engine; the script "
            "times wavedil.apply on the array, the command's time is its file's seconds_wall (reading and writing included)",
        ],
    )


# W10 times a first call in fresh processes: the numba engine's compile overhead over NumPy's first call.
_FIRST_CALL_SCRIPT = """
import json, sys, time
import numpy as np
import wavedil
stack = wavedil.parse_spec(json.loads(sys.argv[1]))
x = np.random.default_rng(0).standard_normal(int(sys.argv[3]), dtype=np.float32) * np.float32(0.1)
start = time.perf_counter()
wavedil.apply(stack, x, engine=sys.argv[2])
seconds = time.perf_counter() - start
layers = wavedil.StreamingFilter(stack, stack.in_channels, engine=sys.argv[2]).layer_engines
print(json.dumps({"seconds": seconds, "layers": layers}))
"""


def first_call(engine: str, cache: Path, kernels: Path, frames: int = 48_000) -> tuple[float, list[str]]:
    """Seconds of the standard capture's first ``wavedil.apply`` on ``frames`` samples in a fresh process.

    ``cache`` is numba's cache folder for that process (``NUMBA_CACHE_DIR``),
    ``kernels`` the folder where it looks for kernels compiled ahead of time
    (``WAVEDIL_KERNELS_DIR``); also returns which engine ran each layer.
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "WAVEDIL_KERNELS_DIR": str(kernels)}
    command = [sys.executable, "-c", _FIRST_CALL_SCRIPT, json.dumps(STANDARD_CAPTURE), engine, str(frames)]
    proc = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(report["seconds"]), list(report["layers"])


#: W10's targets, in seconds of compile overhead: a first run, and a later process.
COMPILE_TARGET, CACHED_TARGET = 10.0, 0.5


def w10(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """The numba engine's compile overhead on the standard capture: first run, cached, and compiled ahead of time.

    Each round starts a fresh process on NumPy, one on numba with an empty
    cache folder, one on numba with the cache that run filled, and one that
    finds the kernels compiled ahead of time (``wavedil compile``, built once
    before the rounds); the overhead is the numba process's first
    call minus NumPy's. A later process's figure is the better of the cached
    and the ahead-of-time ones: the issue offers either.
    """
    if not numba_installed():
        raise Skipped('numba is not installed (pip install "wavedil[fast]")')
    from wavedil.kernels.build import compile_kernels

    numpy_s, cold, cached, ahead = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="wavedil-bench-") as tmp:
        none, built_dir = Path(tmp) / "no-kernels", Path(tmp) / "kernels"
        none.mkdir()
        built = compile_kernels(built_dir)
        for round_ in range(settings.repeat):
            cache = Path(tmp) / f"numba-cache-{round_}"
            cache.mkdir()
            reference = first_call("numpy", cache, none)[0]
            compiled, layers = first_call("numba", cache, none)
            again = first_call("numba", cache, none)[0]
            loaded = first_call("numba", Path(tmp) / f"numba-cache-ahead-{round_}", built_dir)[0]
            numpy_s.append(reference)
            cold.append(compiled - reference)
            cached.append(again - reference)
            ahead.append(loaded - reference)
    first, second, third = statistics.median(cold), statistics.median(cached), statistics.median(ahead)
    later = min(second, third)
    return Result(
        "W10",
        "numba compile overhead, standard capture, fresh processes",
        0.0,
        first,
        tuple(cold),
        f"first run <{COMPILE_TARGET:g} s, later processes <{CACHED_TARGET:g} s",
        first < COMPILE_TARGET and later < CACHED_TARGET,
        engine="numba",
        notes=[
            (
                "first wavedil.apply of 1 s of 48 kHz noise in a fresh process: numba's minus NumPy's "
                f"({statistics.median(numpy_s):.3f} s), an empty NUMBA_CACHE_DIR, then again with the cache it filled, "
                "then with the kernels compiled ahead of time (wavedil compile)"
            ),
            f"compile overhead {first:.2f} s the first time, {second:.3f} s from Numba's cache (runs: {', '.join(f'{t:.3f}' for t in cached)})",
            f"ahead of time: {third:.3f} s (runs: {', '.join(f'{t:.3f}' for t in ahead)}); its build (every kernel, both precisions) took {built.seconds:.1f} s once",
            f"layers run by numba: {layers.count('numba')} of {len(layers)}",
        ],
        extra={
            "compile_seconds": round_seconds(first),
            "cached_seconds": round_seconds(second),
            "ahead_of_time_seconds": round_seconds(third),
            "ahead_of_time_build_seconds": round_seconds(built.seconds),
            "numpy_first_call_seconds": round_seconds(statistics.median(numpy_s)),
        },
    )


#: W11's cabinet: 500 ms at 48 kHz (24,000 taps), decaying seeded noise, like a long cabinet or a small room.
IR_SECONDS = 0.5


def w11(settings: Settings, earlier: Mapping[str, Result]) -> Result:
    """W2's capture then a 500 ms impulse response, 60 s at 48 kHz: the IR stage's share of the chain's time.

    Timed in turns: the chain, the capture alone, the IR stage alone (in the
    chain's blocks), and scipy's ``oaconvolve`` of the whole signal with the
    response as a peer. The target: the IR stage costs under 10% of the
    capture's time.
    """
    rate, seconds = 48_000, 60.0
    capture = wavedil.parse_spec(STANDARD_CAPTURE)
    rng = np.random.default_rng(11)
    taps = round(IR_SECONDS * rate)
    response = rng.standard_normal(taps) * np.exp(-np.arange(taps) / (0.08 * rate)) * 0.05
    cab = wavedil.Stack(layers=(wavedil.ImpulseResponse(response, sample_rate=rate),), name="IR 500 ms")
    chain = capture + cab
    block = wavedil.block_size_for(chain)
    x = noise(seconds, rate)
    engine = resolve_engine(None)
    whole = peers.oaconvolve_dense(cab)
    jobs = {
        "chain": timed(lambda: wavedil.apply(chain, x, engine=engine)),
        "capture": timed(lambda: wavedil.apply(capture, x, engine=engine)),
        "IR stage": timed(lambda: wavedil.apply(cab, x, block_size=block)),
        "scipy oaconvolve": timed(lambda: whole(x)),
    }
    measured = interleave(jobs, settings.repeat)[0]
    t = {k: m.timing.median for k, m in measured.items()}
    share = t["IR stage"] / t["capture"]
    serial = wavedil.apply(cab, measured["capture"].output, block_size=block)
    return Result(
        "W11",
        "A1 capture + 500 ms IR, 60 s 48 kHz",
        seconds,
        t["chain"],
        measured["chain"].timing.runs,
        "IR stage <10% of the capture's time",
        share < 0.10,
        peers={"wavedil capture alone": t["capture"], "wavedil IR stage alone": t["IR stage"], "scipy oaconvolve (whole signal at once)": t["scipy oaconvolve"]},
        engine=engine.describe(),
        engines={engine.describe(): t["chain"]},
        notes=[
            f"W2's stack, then a {taps:,}-tap response (seeded noise, 80 ms decay) as a chain (capture + IR), blocks of {block:,} samples",
            f"IR stage {t['IR stage']:.3f} s = {100 * share:.1f}% of the capture's {t['capture']:.3f} s; the chain minus the capture: {t['chain'] - t['capture']:.3f} s",
            f"partitions of {wavedil.partitioned.partition_size(taps, block):,} taps; direct convolution would be {taps:,} multiply-adds a sample",
            # Before the chain's field is full, the chain's IR hears the capture's answer to the silence before the input
            # (its bias), the IR run on the capture's output hears silence: they are compared after it.
            f"chain output vs the capture's output then the IR stage, from sample {chain.receptive_field:,} on: "
            + agreement(measured["chain"].output[chain.receptive_field :], serial[chain.receptive_field :]),
        ],
        extra={"ir_share": round(share, 4)},
    )


#: The workloads by name, in the order they run.
WORKLOADS: dict[str, Callable[[Settings, Mapping[str, Result]], Result]] = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W4": w4,
    "W5": w5,
    "W6": w6,
    "W7": w7,
    "W8": w8,
    "W9": w9,
    "W10": w10,
    "W11": w11,
}
