"""Recurrent models (LSTM) through the pipeline: never cut into segments, reported by their memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import wavedil
from wavedil.errors import WavedilError
from wavedil.formats.nam import parse_nam
from wavedil.models.lstm import weight_count
from wavedil.segments import choose_segment_frames, plan_segments


def lstm_doc(hidden: int = 4, layers: int = 1, seed: int = 0) -> dict:
    n = weight_count(layers, 1, hidden, 1)
    weights = np.random.default_rng(seed).uniform(-0.6, 0.6, n).tolist()
    return {
        "version": "0.7.0",
        "architecture": "LSTM",
        "config": {"input_size": 1, "hidden_size": hidden, "num_layers": layers},
        "weights": weights,
        "sample_rate": 48000,
    }


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, text=True, timeout=300)


def test_an_lstm_is_never_cut_into_segments():
    stack = parse_nam(lstm_doc())
    assert stack.receptive_field is None and stack.is_recurrent
    with pytest.raises(WavedilError, match="recurrent"):
        plan_segments(10_000, stack, segment_frames=1024, block_size=1024)
    # One segment spanning the input: nothing to split.
    assert choose_segment_frames(1_000_000, stack, workers=4) >= 1_000_000


def test_parallel_jobs_run_an_lstm_file_whole_and_equal_the_serial_run(tmp_path):
    model = tmp_path / "lstm.nam"
    model.write_text(json.dumps(lstm_doc(hidden=3)))
    x = np.random.default_rng(1).normal(0, 0.3, 300_000).astype(np.float32)
    sf.write(tmp_path / "di.wav", x, 48000, subtype="FLOAT")
    one = run("apply", str(tmp_path / "di.wav"), "-o", str(tmp_path / "one.wav"), "--spec", str(model), "-j", "1", "-q")
    two = run("apply", str(tmp_path / "di.wav"), "-o", str(tmp_path / "two.wav"), "--spec", str(model), "-j", "2", "-q")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, _ = sf.read(tmp_path / "one.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "two.wav", dtype="float32")
    assert np.array_equal(a, b)
    np.testing.assert_allclose(a, wavedil.apply(wavedil.load_spec(model), x), rtol=0, atol=1e-6)


def test_report_of_an_lstm_gives_memory_not_a_field(tmp_path):
    model = tmp_path / "lstm.nam"
    model.write_text(json.dumps(lstm_doc()))
    proc = run("report", "--spec", str(model), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["receptive_field"] is None and report["recurrent"] is True
    assert report["memory"]["samples"] is None or report["memory"]["samples"] > 0
    text = run("report", "--spec", str(model)).stdout
    assert "recurrent" in text and "measured memory" in text
    diagram = run("report", "--spec", str(model), "--diagram")
    assert diagram.returncode == 2 and "recurrent" in diagram.stderr
    sf.write(tmp_path / "di.wav", np.zeros(100), 48000)
    same = run("apply", str(tmp_path / "di.wav"), "-o", str(tmp_path / "x.wav"), "--spec", str(model), "--padding", "same")
    assert same.returncode == 1 and same.stderr.startswith("Error: padding:") and "recurrent" in same.stderr
    assert "di.wav" not in same.stderr  # the model and option are at fault, not the audio
    assert "Traceback" not in same.stderr and not (tmp_path / "x.wav").exists()


def test_a_wavenet_conditioned_by_an_lstm_is_recurrent():
    cond = lstm_doc(hidden=2)
    arr = {
        "input_size": 1, "condition_size": 1, "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
        "channels": 2, "kernel_sizes": [2], "dilations": [1], "activation": ["Tanh"], "gating_mode": ["none"],
        "secondary_activation": [None],
    }  # fmt: skip
    # rechannel 2, conv 2*2*2 + 2, mixin 2, layer1x1 4 + 2, head 2 + 1, head_scale
    n = 2 + 10 + 2 + 6 + 3 + 1
    doc = {
        "version": "0.7.0", "architecture": "WaveNet", "sample_rate": 48000,
        "config": {"layers": [arr], "head": None, "head_scale": 1.0, "condition_dsp": cond},
        "weights": np.random.default_rng(2).uniform(-0.5, 0.5, n).tolist(),
    }  # fmt: skip
    stack = parse_nam(doc)
    assert stack.is_recurrent
    x = np.random.default_rng(0).normal(0, 0.3, 500)
    whole = wavedil.apply(stack, x, dtype=np.float64)
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64, block_size=7), whole, rtol=1e-12, atol=1e-14)
    assert wavedil.analyze(stack)["recurrent"] is True
