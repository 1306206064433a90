"""The workloads, each timed beside its peers.

Every time is the median of at least ``repeat`` warm runs (quick jobs run
more often, see :func:`measure`): each job runs once untimed first (a peer
whose full run is slow warms up on one second of the input).
Inputs are seeded white noise scaled by 0.1, float32, and everything goes
through wavedil's public API.

A workload is a function ``(repeat, earlier) -> Result``, ``earlier`` holding
the results of the workloads already run (W4 takes W2's single-worker time
from it).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import soundfile as sf

import wavedil
from wavedil.segments import parallel_apply
from wavedil.workers import worker_pool

from . import peers

T = TypeVar("T")

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


# ---------------------------------------------------------------------------
# Results and timing


@dataclass
class Result:
    """One workload's figures.

    ``seconds`` is wavedil's median time; ``peers`` maps a peer's name to its
    median time, ``None`` when the peer is absent; ``met`` says whether the
    target holds.
    """

    name: str
    label: str
    audio_seconds: float
    seconds: float
    runs: tuple[float, ...]
    target: str
    met: bool
    peers: dict[str, float | None] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio processed per second of wall time (``None`` for a workload without audio)."""
        return self.audio_seconds / self.seconds if self.audio_seconds else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``name``, ``seconds``, ``realtime_factor``, ``peak_rss_mb``, ``peers``, and details."""
        return {
            "name": self.name,
            "seconds": _round(self.seconds),
            "realtime_factor": None if self.realtime_factor is None else round(self.realtime_factor, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "peers": {k: None if v is None else _round(v) for k, v in self.peers.items()},
            "title": self.label,
            "target": self.target,
            "met": self.met,
            "runs": [_round(t) for t in self.runs],
            "notes": self.notes,
            **self.extra,
        }


def _round(seconds: float) -> float:
    return float(f"{seconds:.4g}")


@dataclass(frozen=True)
class Timing:
    """The untimed warm-up call's duration, and the timed runs that follow it."""

    first: float
    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


#: Quick jobs run more than ``repeat`` times, until their timed runs add up to this many seconds...
MIN_TIMED_SECONDS = 1.0
#: ... but never more than this many runs.
MAX_RUNS = 25


def measure(run: Callable[[], T], repeat: int, *, warmup: Callable[[], object] | None = None) -> tuple[Timing, T]:
    """Call ``warmup`` (default: ``run``) once, then time calls of ``run``; return the last output.

    ``run`` is timed ``repeat`` times, and more when those runs are quick: until
    the timed runs add up to :data:`MIN_TIMED_SECONDS` (at most
    :data:`MAX_RUNS` runs), so the median of a job of a few tens of
    milliseconds is less at the mercy of one busy moment on the machine.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    start = time.perf_counter()
    (warmup or run)()
    first = time.perf_counter() - start
    times: list[float] = []
    result: T | None = None
    while len(times) < repeat or (len(times) < MAX_RUNS and sum(times) < MIN_TIMED_SECONDS):
        # Drop the previous output before the next run: outputs kept alive would make each run
        # take fresh memory from the system, slower than the steady state being measured.
        result = None
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return Timing(first, tuple(times)), cast(T, result)


def noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Seeded white noise scaled by 0.1, float32, mono."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(round(seconds * rate), dtype=np.float32) * np.float32(0.1)


def agreement(ours: np.ndarray, theirs: np.ndarray) -> str:
    """How closely a peer's output matches wavedil's, as a phrase for the notes."""
    ours, theirs = np.asarray(ours), np.asarray(theirs).reshape(np.shape(ours))
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    return f"max |difference| {diff:.1e} at output peak {float(np.max(np.abs(ours))):.3f}"


def _peer_timing(
    name: str,
    runner: peers.Runner | None,
    x: np.ndarray,
    y: np.ndarray,
    repeat: int,
    notes: list[str],
    *,
    warmup_frames: int | None = None,
) -> float | None:
    """Time a peer on ``x`` (None when absent) and note how its output agrees with wavedil's ``y``."""
    if runner is None:
        notes.append(f"{name} absent (install torch and neural-amp-modeler to run it)")
        return None
    warm = (lambda: runner(x[:warmup_frames])) if warmup_frames else None
    timing, out = measure(lambda: runner(x), repeat, warmup=warm)
    warmed = f", warmed up on {warmup_frames:,} samples" if warmup_frames else ""
    notes.append(f"{name} output: {agreement(y, out)}{warmed}")
    return timing.median


def _wavenet_note(stack: wavedil.Stack, rate: int) -> str:
    rf = stack.receptive_field
    return f"receptive field {rf:,} samples ({1000 * rf / rate:.0f} ms at {rate // 1000} kHz), {stack.parameters:,} parameters"


# ---------------------------------------------------------------------------
# The workloads


def w1(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """Linear mono stack, kernel 2, dilations 1..4096, 10 min at 48 kHz; peer: oaconvolve with the dense kernel."""
    rate, seconds = 48_000, 600.0
    stack = wavedil.stack_from_dilations(W1_DILATIONS, kernel_size=2)
    x = noise(seconds, rate)
    timing, y = measure(lambda: wavedil.apply(stack, x), repeat)
    oaconvolve = peers.oaconvolve_dense(stack)
    oa_timing, oa_out = measure(lambda: oaconvolve(x), repeat)
    ratio = oa_timing.median / timing.median
    return Result(
        "W1",
        "linear mono, k=2, d=1..4096, 10 min 48 kHz",
        seconds,
        timing.median,
        timing.runs,
        "≥4x oaconvolve",
        ratio >= 4.0,
        peers={peers.OACONVOLVE: oa_timing.median},
        notes=[
            (
                f"13 layers, receptive field {stack.receptive_field:,}; oaconvolve gets the equivalent dense "
                f"{stack.receptive_field:,}-tap kernel, output cut to the input's length"
            ),
            f"oaconvolve's first (cold) call took {oa_timing.first:.3f} s; that is not what is compared (warm calls are)",
            f"oaconvolve output: {agreement(y, oa_out)}",
        ],
        extra={"peer_first_call_seconds": {peers.OACONVOLVE: _round(oa_timing.first)}},
    )


def _wavenet_workload(
    name: str,
    label: str,
    description: str,
    stack: wavedil.Stack,
    *,
    rate: int,
    seconds: float,
    target_x: float,
    repeat: int,
    peer: peers.Runner | None = None,
) -> Result:
    """A model on ``seconds`` of noise at ``rate`` beside NAM's PyTorch reference; the target in x real time.

    ``peer`` is NAM's model of the same weights (default: the stack's WaveNet written as a ``.nam`` document).
    """
    x = noise(seconds, rate)
    timing, y = measure(lambda: wavedil.apply(stack, x), repeat)
    notes = [description]
    if stack.receptive_field is not None:
        notes.append(_wavenet_note(stack, rate))
    nam_runner = peer if peer is not None else peers.nam_pytorch(stack)
    nam = _peer_timing(peers.NAM_PYTORCH, nam_runner, x, y, repeat, notes, warmup_frames=rate)
    return Result(
        name,
        label,
        seconds,
        timing.median,
        timing.runs,
        f"≥{target_x:g}x real time",
        seconds / timing.median >= target_x,
        peers={peers.NAM_PYTORCH: nam},
        notes=notes,
    )


def w2(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """The standard NAM capture shape, 60 s at 48 kHz; peer: NAM's PyTorch reference."""
    return _wavenet_workload(
        "W2",
        "NAM standard WaveNet, 60 s 48 kHz",
        "2 layer arrays x 10 layers, 16 then 8 channels, kernel 3, dilations 1..512, head_size 8 then 1, "
        "head_bias false then true, tanh, not gated, seeded weights",
        wavedil.parse_spec(STANDARD_CAPTURE),
        rate=48_000,
        seconds=60.0,
        target_x=45.0,
        repeat=repeat,
    )


def w3(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """The ``wavenet`` preset (the WaveNet paper's shape), 20 s at 16 kHz; peer: NAM's PyTorch reference."""
    return _wavenet_workload(
        "W3",
        "WaveNet paper preset, 20 s 16 kHz",
        "the `wavenet` preset: gated, 32 channels, kernel 2, dilations 1..512 x3; "
        "at 16 kHz, the WaveNet paper's sample rate (not 48 kHz)",
        wavedil.preset("wavenet"),
        rate=16_000,
        seconds=20.0,
        target_x=4.5,
        repeat=repeat,
    )


def w4(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """W2 on two worker processes; its "peer" is wavedil on one worker, so the ratio is the speed-up."""
    rate, seconds, workers = 48_000, 60.0, 2
    stack = wavedil.parse_spec(STANDARD_CAPTURE)
    x = noise(seconds, rate)
    serial = wavedil.apply(stack, x)  # the output parallel_apply must equal, bit for bit
    notes = []
    if "W2" in earlier:
        single = earlier["W2"].seconds
        notes.append("one-worker time taken from W2 in this run")
    else:
        single = measure(lambda: wavedil.apply(stack, x), repeat)[0].median
        notes.append("one-worker time measured here (W2 not run)")
    start = time.perf_counter()
    pool = worker_pool(workers)  # started once, before timing
    started = time.perf_counter() - start
    with pool:
        timing, y = measure(lambda: parallel_apply(stack, x, pool, workers=workers), repeat)
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


def w5(repeat: int, earlier: Mapping[str, Result]) -> Result:
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
        runs = [run_measured(apply_command(hour, folder / "out_hour.wav")) for _ in range(repeat)]
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
                f"peak RSS is the largest of {repeat} runs (RUSAGE_CHILDREN of a fresh wrapper process); "
                f"the same command on a one-minute file peaks at {baseline.peak_rss_mb:.0f} MB"
            ),
            f"output {'complete' if complete else 'INCOMPLETE'}: {out.frames:,} frames x {out.channels} channels",
        ],
        extra={"peak_rss_mb_one_minute": round(baseline.peak_rss_mb, 1), "output_complete": complete},
    )


def _nam_document_workload(name: str, label: str, description: str, doc: dict[str, Any], *, target_x: float, repeat: int) -> Result:
    """A ``.nam`` document's model on 60 s of 48 kHz noise beside NAM's PyTorch model of the same document."""
    from wavedil.formats.nam import parse_nam

    return _wavenet_workload(
        name,
        label,
        description,
        parse_nam(doc),
        rate=48_000,
        seconds=60.0,
        target_x=target_x,
        repeat=repeat,
        peer=peers.nam_pytorch_document(doc),
    )


def w6(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """NAM 0.13's A2 at full size, 60 s at 48 kHz; peer: NAM's PyTorch reference."""
    return _nam_document_workload(
        "W6",
        "NAM A2 (full size), 60 s 48 kHz",
        "one array of 23 layers, 8 channels, kernel sizes 6 and 15, LeakyReLU, head kernel 16, seeded weights",
        a2_document(),
        target_x=10.0,
        repeat=repeat,
    )


def w7(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """An LSTM capture of the Core's example shape (hidden 3, one layer), 60 s at 48 kHz; peer: NAM's PyTorch reference."""
    result = _nam_document_workload(
        "W7",
        "NAM LSTM (hidden 3), 60 s 48 kHz",
        "one LSTM layer of 3 cells and a linear head, seeded weights; NAM's PyTorch runs without the Core's prewarm",
        lstm_document(),
        target_x=1.0,
        repeat=repeat,
    )
    result.notes.append(f"recurrence engine: {_lstm_engine()} (numba when installed: pip install wavedil[fast])")
    return result


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


def _command_env() -> dict[str, str]:
    """This environment without the thread variables ``python -m benchmarks`` sets: as a user's shell has it."""
    return {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=_command_env())
    return time.perf_counter() - start


def w8(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """Wall time of ``wavedil`` commands in fresh processes: start-up, and reports of long stacks."""
    script = shutil.which("wavedil")
    prefix = [script] if script else [sys.executable, "-m", "wavedil"]
    timings = {label: measure(lambda: _wall(prefix + argv), repeat)[0] for label, argv in STARTUP_COMMANDS.items()}
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
        extra={"commands": {k: _round(v) for k, v in medians.items()}, "import_ms": round(imported_ms, 1)},
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


def w9(repeat: int, earlier: Mapping[str, Result]) -> Result:
    """W2's stack on 10 s of audio from a plain script (no thread variables) beside the command line's run of it."""
    with tempfile.TemporaryDirectory(prefix="wavedil-bench-") as tmp:
        src = Path(tmp) / "ten.wav"
        sf.write(str(src), noise(10.0, 48_000), 48_000, subtype="FLOAT")
        spec = Path(tmp) / "capture.json"
        spec.write_text(json.dumps(STANDARD_CAPTURE))

        def api() -> float:
            proc = subprocess.run([sys.executable, "-c", _API_SCRIPT, json.dumps(STANDARD_CAPTURE), str(src)], check=True, capture_output=True, text=True, env=_command_env())
            return float(proc.stdout.strip().splitlines()[-1])

        def cli() -> float:
            command = [sys.executable, "-m", "wavedil", "apply", str(src), "-o", str(Path(tmp) / "out.wav"), "--spec", str(spec), "--json", "-j", "1", "--force"]
            proc = subprocess.run(command, check=True, capture_output=True, text=True, env=_command_env())
            return float(json.loads(proc.stdout.splitlines()[0])["seconds_wall"])

        api_times, cli_times = [], []
        for _ in range(repeat):  # interleaved: the machine's drift falls on both alike
            api_times.append(api())
            cli_times.append(cli())
    api_s, cli_s = statistics.median(api_times), statistics.median(cli_times)
    return Result(
        "W9",
        "W2's stack from a plain Python script vs the CLI, 10 s 48 kHz",
        10.0,
        api_s,
        tuple(api_times),
        "≤1.2x the CLI's time",
        api_s <= 1.2 * cli_s,
        peers={"wavedil apply -j 1 (its seconds_wall)": cli_s},
        notes=[
            "both in fresh processes with no *_NUM_THREADS variables; the script times wavedil.apply on the array, "
            "the command's time is its file's seconds_wall (reading and writing included)",
        ],
    )


def _lstm_engine() -> str:
    """Which engine runs an LSTM's recurrence here: numba when installed, else NumPy."""
    from wavedil.formats.nam import parse_nam

    stack = parse_nam(lstm_document())
    return stack.layers[0].runner(1, np.dtype(np.float32), 16).engine


#: The workloads by name, in the order they run.
WORKLOADS: dict[str, Callable[[int, Mapping[str, Result]], Result]] = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W4": w4,
    "W5": w5,
    "W6": w6,
    "W7": w7,
    "W8": w8,
    "W9": w9,
}
