"""The five workloads, each timed beside its peers.

Every time is the median of ``repeat`` warm runs (one untimed run first), on
seeded noise at 0.1 RMS, float32, through wavedil's public API.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import wavedil
from wavedil.segments import parallel_apply
from wavedil.workers import worker_pool

from . import peers

#: W2's shape: a standard NAM capture (2 arrays x 10 layers, 16 and 8 channels, kernel 3, dilations 1..512).
STANDARD_CAPTURE = {
    "layers": [
        {
            "type": "wavenet",
            "init": {"seed": 0},
            "head_scale": 0.02,
            "arrays": [
                {"input_size": 1, "condition_size": 1, "channels": 16, "head_size": 8, "kernel_size": 3,
                 "dilations": [2**i for i in range(10)], "activation": "tanh", "gated": False, "head_bias": False},
                {"input_size": 16, "condition_size": 1, "channels": 8, "head_size": 1, "kernel_size": 3,
                 "dilations": [2**i for i in range(10)], "activation": "tanh", "gated": False, "head_bias": True},
            ],
        }
    ]
}

W1_DILATIONS = [2**i for i in range(13)]


@dataclass
class Result:
    """One workload's figures; ``peers`` maps a peer's name to its seconds (None when absent)."""

    name: str
    title: str
    seconds_audio: float
    seconds: float
    target: str
    met: bool | None
    peers: dict[str, float | None] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def realtime_factor(self) -> float:
        return self.seconds_audio / self.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "seconds": round(self.seconds, 4),
            "realtime_factor": round(self.realtime_factor, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "peers": {k: None if v is None else round(v, 4) for k, v in self.peers.items()},
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs after one warm-up run, and the last result."""
    result = run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 0.1).astype(np.float32)


def w1(repeat: int) -> Result:
    stack = wavedil.stack_from_dilations(W1_DILATIONS, kernel_size=2)
    x = noise(600, 48000)
    seconds, _ = timed(lambda: wavedil.apply(stack, x), repeat)
    oa = peers.oaconvolve_dense(stack, x)
    start = time.perf_counter()
    oa()
    first = time.perf_counter() - start
    oa_seconds, _ = timed(oa, repeat)
    return Result(
        "W1", "linear mono stack, kernel 2, dilations 1..4096 (RF 8192), 10 min at 48 kHz", 600.0, seconds,
        "4x faster than warm oaconvolve", oa_seconds / seconds >= 4.0,
        peers={"scipy oaconvolve (dense 8192 taps)": oa_seconds},
        note=f"oaconvolve's first (cold) call took {first:.2f} s",
    )


def w2(repeat: int) -> Result:
    stack = wavedil.parse_spec(STANDARD_CAPTURE)
    x = noise(60, 48000)
    seconds, _ = timed(lambda: wavedil.apply(stack, x), repeat)
    nam = peers.nam_pytorch(stack, x)
    nam_seconds = timed(nam, repeat)[0] if nam else None
    rtf = 60.0 / seconds
    return Result(
        "W2", "standard NAM capture shape (2 arrays x 10 layers, 16/8 channels, kernel 3), 60 s at 48 kHz", 60.0, seconds,
        ">= 45x real time", rtf >= 45.0, peers={"NAM PyTorch reference": nam_seconds},
    )


def w3(repeat: int) -> Result:
    stack = wavedil.preset("wavenet")
    x = noise(20, 16000)
    seconds, _ = timed(lambda: wavedil.apply(stack, x), repeat)
    nam = peers.nam_pytorch(stack, x)
    nam_seconds = timed(nam, repeat)[0] if nam else None
    return Result(
        "W3", "WaveNet paper shape (gated, 32 channels, kernel 2, dilations 1..512 x3), 20 s at 16 kHz", 20.0, seconds,
        ">= 4.5x real time", 20.0 / seconds >= 4.5, peers={"NAM PyTorch reference": nam_seconds},
        note="16 kHz, the WaveNet paper's sample rate",
    )


def w4(repeat: int, single: float | None = None) -> Result:
    stack = wavedil.parse_spec(STANDARD_CAPTURE)
    x = noise(60, 48000)
    serial_seconds, serial = timed(lambda: wavedil.apply(stack, x), repeat) if single is None else (single, wavedil.apply(stack, x))
    with worker_pool(2) as pool:
        seconds, split = timed(lambda: parallel_apply(stack, x, pool, workers=2), repeat)
    identical = bool(np.array_equal(split, serial))
    speedup = serial_seconds / seconds
    return Result(
        "W4", "W2 on 2 worker processes (segments with RF-1 warm-up)", 60.0, seconds,
        ">= 1.8x one worker, identical output", identical and speedup >= 1.8,
        peers={"wavedil, 1 worker": serial_seconds},
        note=f"output {'identical to' if identical else 'DIFFERS from'} one worker; speed-up {speedup:.2f}x",
    )


_MEASURE = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def _write_noise_file(path: Path, seconds: float, rate: int = 48000, channels: int = 2) -> None:
    rng = np.random.default_rng(1)
    chunk = rate * 60
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16") as f:
        left = int(seconds * rate)
        while left:
            n = min(chunk, left)
            f.write((rng.standard_normal((n, channels)) * 0.1).astype(np.float32))
            left -= n


def _apply_rss(src: Path, dst: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``wavedil apply`` child process."""
    cmd = [sys.executable, "-m", "wavedil", "apply", str(src), "-o", str(dst), "--kernel-size", "2",
           "--dilations", ",".join(map(str, W1_DILATIONS)), "-q", "--force", "-j", "1"]
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(out.stdout.split()[-1]) / 1024


def w5(repeat: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="wavedil-bench-", dir=os.environ.get("WAVEDIL_BENCH_TMP")) as tmp:
        folder = Path(tmp)
        short, long_ = folder / "one_minute.wav", folder / "one_hour.wav"
        _write_noise_file(short, 60)
        _write_noise_file(long_, 3600)
        short_rss = max(_apply_rss(short, folder / "out_short.wav")[1] for _ in range(repeat))
        runs = [_apply_rss(long_, folder / "out_long.wav") for _ in range(repeat)]
    seconds = statistics.median(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    return Result(
        "W5", "W1's stack over a one-hour stereo 48 kHz PCM_16 file, wavedil apply in a child process", 3600.0, seconds,
        "peak RSS <= 200 MB", rss <= 200.0, peak_rss_mb=rss,
        note=f"the same command on a one-minute file: {short_rss:.0f} MB; time includes reading and writing 2 x 691 MB",
    )


WORKLOADS: dict[str, Callable[..., Result]] = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5}
