"""Segments of a long signal, computed apart and joined, equal the serial run bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.segments import parallel_apply, plan_segments, run_segment
from wavedil.spec import parse_spec, stack_from_dilations
from wavedil.workers import worker_pool


def _biased_nonlinear() -> wavedil.Stack:
    return parse_spec(
        {
            "layers": [
                {"dilation": 3, "weights": [0.6, -0.3, 0.2], "bias": 0.1, "activation": "tanh"},
                {"dilation": 16, "weights": [[[0.5, 0.2]], [[-0.4, 0.3]]], "bias": [0.05, -0.02], "activation": "relu"},
                {"dilation": 1, "weights": [[[0.7], [0.3]]], "bias": 0.01, "activation": "sigmoid"},
            ]
        }
    )


STACKS = {
    "smooth": wavedil.preset("smooth"),
    "echo-same": wavedil.preset("echo").replace(padding="same"),
    "drive-same": wavedil.preset("drive").replace(padding="same"),
    "biased-nonlinear": _biased_nonlinear(),
    "wavenet-small": parse_spec(
        {
            "layers": [
                {
                    "type": "wavenet",
                    "init": {"seed": 3},
                    "arrays": [
                        {"channels": 4, "kernel_size": 3, "dilations": [1, 2, 4, 8, 16], "gated": True, "head_size": 2},
                        {"channels": 2, "kernel_size": 2, "dilations": [1, 4, 16], "activation": "tanh"},
                    ],
                }
            ]
        }
    ),
}


@pytest.fixture(scope="module")
def pool():
    with worker_pool(2) as p:
        yield p


@pytest.mark.parametrize("name", sorted(STACKS))
@pytest.mark.parametrize(("block_size", "segment_frames"), [(256, 256), (256, 1280), (1000, 3000), (4096, 8192)])
def test_worker_processes_equal_the_serial_run(pool, name, block_size, segment_frames):
    stack = STACKS[name]
    x = np.random.default_rng(7).normal(0.0, 0.3, (20_011, 2))
    serial = wavedil.apply(stack, x, block_size=block_size)
    split = parallel_apply(stack, x, pool, workers=2, block_size=block_size, segment_frames=segment_frames)
    assert split.dtype == serial.dtype and split.shape == serial.shape
    assert np.array_equal(split, serial)


def test_joint_channels_and_float64(pool):
    stack = wavedil.load_spec(Path(__file__).resolve().parent.parent / "samples" / "stereo_mix.toml")
    x = np.random.default_rng(1).normal(0.0, 0.3, (50_000, 2))
    serial = wavedil.apply(stack, x, dtype=np.float64)
    assert np.array_equal(parallel_apply(stack, x, pool, workers=2, dtype=np.float64, segment_frames=8192), serial)


@settings(max_examples=40, deadline=None)
@given(
    frames=st.integers(0, 5000),
    block_size=st.sampled_from([1, 7, 64, 512]),
    segments_per=st.integers(1, 6),
    dilations=st.lists(st.integers(1, 300), min_size=1, max_size=4),
    same=st.booleans(),
)
def test_plan_covers_every_frame_once_with_enough_warm_up(frames, block_size, segments_per, dilations, same):
    stack = stack_from_dilations(dilations, kernel_size=2).replace(padding="same" if same else "causal")
    seg = block_size * segments_per
    plan = plan_segments(frames, stack, segment_frames=seg, block_size=block_size)
    assert [s.start for s in plan] == list(range(0, frames, seg))
    assert sum(s.frames for s in plan) == frames
    look, hist = stack.lookahead, stack.receptive_field - 1
    for s in plan:
        assert s.read_start % block_size == 0
        assert s.read_start <= max(0, s.start + look - hist)
        assert s.read_stop == frames or s.read_stop % block_size == 0
        assert s.read_stop >= min(frames, s.stop + look)
        assert s.skip == s.start + look - s.read_start
        assert s.tail == max(0, s.stop + look - frames)


@settings(max_examples=40, deadline=None)
@given(
    frames=st.integers(1, 3000),
    block_size=st.sampled_from([1, 5, 64, 300]),
    segments_per=st.integers(1, 5),
    dilations=st.lists(st.integers(1, 64), min_size=1, max_size=3),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_split_joins_to_the_serial_output(frames, block_size, segments_per, dilations, same, seed):
    rng = np.random.default_rng(seed)
    taps = rng.normal(0.0, 0.5, 3).tolist()
    stack = stack_from_dilations(dilations, taps=taps).replace(padding="same" if same else "causal")
    x = rng.normal(0.0, 1.0, (frames, 1)).astype(np.float32)
    serial = wavedil.apply(stack, x, block_size=block_size)
    with ThreadPoolExecutor(1) as executor:
        split = parallel_apply(stack, x, executor, workers=2, block_size=block_size, segment_frames=block_size * segments_per)
    assert np.array_equal(split, serial)


def test_run_segment_checks_its_input_length():
    stack = wavedil.preset("smooth")
    seg = plan_segments(100, stack, segment_frames=64, block_size=64)[1]
    with pytest.raises(wavedil.WavedilError, match="needs"):
        run_segment(stack, np.zeros((3, 1), np.float32), seg, block_size=64)


def test_segment_length_must_sit_on_the_block_grid():
    with pytest.raises(wavedil.WavedilError, match="multiple of the block size"):
        plan_segments(100, wavedil.preset("smooth"), segment_frames=100, block_size=64)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, timeout=300, env=env)


def test_one_long_file_on_two_workers_equals_one_process(tmp_path):
    rate = 48000
    x = np.random.default_rng(5).normal(0.0, 0.2, (rate * 12, 2)).astype(np.float32)
    # NaN at a segment boundary and inside a warm-up region: counted once each.
    x[1 << 18, 0] = np.nan
    x[(1 << 18) - 5, 1] = np.inf
    sf.write(tmp_path / "long.wav", x, rate, subtype="FLOAT")
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.wav"
        proc = _cli("apply", str(tmp_path / "long.wav"), "-o", str(out), "--preset", "drive", "--padding", "same", "--sanitize", "-j", jobs, "--json", "--block-size", "4096")
        assert proc.returncode == 0, proc.stderr
        line = proc.stdout.decode().splitlines()[0]
        assert '"sanitized_samples": 2' in line
        outs[jobs] = sf.read(out, dtype="float32")[0]
    assert np.array_equal(outs["1"], outs["2"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_wide_wavenet_on_two_workers_equals_one_process(tmp_path):
    # 32-channel GEMMs are large enough for a multi-threaded BLAS to split them,
    # which changes their rounding: the command line runs one BLAS thread in every process.
    x = np.random.default_rng(6).normal(0.0, 0.2, 48000 * 4).astype(np.float32)
    sf.write(tmp_path / "take.wav", x, 48000, subtype="FLOAT")
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.wav"
        proc = _cli("apply", str(tmp_path / "take.wav"), "-o", str(out), "--preset", "wavenet", "-j", jobs, "--block-size", "1024", env={**os.environ, "OPENBLAS_NUM_THREADS": "2"})
        assert proc.returncode == 0, proc.stderr
        outs[jobs] = sf.read(out, dtype="float32")[0]
    assert np.array_equal(outs["1"], outs["2"])
    assert np.array_equal(outs["1"], wavedil.apply(wavedil.preset("wavenet"), x, block_size=1024))


def test_nan_without_sanitize_names_the_first_bad_frame_on_workers(tmp_path):
    x = np.zeros((48000 * 12, 1), np.float32)
    x[400_000, 0] = np.nan
    sf.write(tmp_path / "nan.wav", x, 48000, subtype="FLOAT")
    proc = _cli("apply", str(tmp_path / "nan.wav"), "-o", str(tmp_path / "o.wav"), "-j", "2", "--block-size", "4096")
    assert proc.returncode == 1
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error:") and "frame 400000" in err[0]
    assert not (tmp_path / "o.wav").exists() and not list(tmp_path.glob(".*.tmp"))


def test_workers_end_when_their_parent_is_killed():
    code = (
        "from wavedil.workers import worker_pool\nimport time\np = worker_pool(2)\n"
        "print(' '.join(str(q.pid) for q in p._processes.values()), flush=True)\ntime.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pids = [int(v) for v in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.kill()
    proc.wait()

    def running(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(running(p) for p in pids)
