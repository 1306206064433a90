"""`wavedil apply` and `wavedil report` end to end, through the installed command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

import wavedil
from reference import stack_loop

SPEC = """\
padding = "causal"
[[layers]]
dilation = 2
weights = [0.5, 0.3, 0.2]
bias = 0.0
activation = "linear"

[[layers]]
dilation = 3
weights = [0.8, -0.4]
bias = 0.05
activation = "tanh"
"""
SPEC_LAYERS = [
    {"dilation": 2, "weights": [0.5, 0.3, 0.2]},
    {"dilation": 3, "weights": [0.8, -0.4], "bias": 0.05, "activation": "tanh"},
]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    return lines[0]


def write(path: Path, channels: int = 1, subtype: str = "FLOAT", rate: int = 48000, n: int = 4000) -> np.ndarray:
    x = np.random.default_rng(channels).normal(0.0, 0.2, (n, channels)).clip(-0.9, 0.9)
    sf.write(path, x, rate, subtype=subtype)
    return sf.read(path, always_2d=True)[0]


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("channels", [1, 2])
def test_a_spec_file_gives_the_formula_on_mono_and_stereo(tmp_path, channels):
    (tmp_path / "stack.toml").write_text(SPEC)
    x = write(tmp_path / "in.wav", channels)
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(tmp_path / "stack.toml"), "--dtype", "float64")
    assert proc.returncode == 0, proc.stderr
    y, rate = sf.read(tmp_path / "out.wav", always_2d=True)
    assert rate == 48000 and y.shape == x.shape and sf.info(tmp_path / "out.wav").subtype == "FLOAT"
    for ch in range(channels):
        want = stack_loop(SPEC_LAYERS, x[:, ch : ch + 1])[:, 0]
        np.testing.assert_allclose(y[:, ch], want, rtol=1e-6, atol=1e-7)  # float32 file


def test_pcm_input_stays_pcm_and_equals_the_formula_to_quantization(tmp_path):
    (tmp_path / "stack.toml").write_text(SPEC)
    x = write(tmp_path / "in.wav", 2, subtype="PCM_16")
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(tmp_path / "stack.toml")).returncode == 0
    assert sf.info(tmp_path / "out.wav").subtype == "PCM_16"
    y = sf.read(tmp_path / "out.wav", always_2d=True)[0]
    want = np.stack([stack_loop(SPEC_LAYERS, x[:, c : c + 1])[:, 0] for c in range(2)], axis=1)
    # One 16-bit step: libsndfile scales by 32767 when writing and 32768 when reading.
    assert np.max(np.abs(y - want)) <= 1.5 / 32768


def test_shorthand_is_the_moving_average(tmp_path):
    x = write(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "ma.wav"), "--kernel-size", "2", "--dilations", "1,2,4,8")
    assert proc.returncode == 0, proc.stderr
    want = lfilter(np.full(16, 1 / 16), [1.0], x[:, 0])
    np.testing.assert_allclose(sf.read(tmp_path / "ma.wav")[0], want, atol=1e-6)
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "t.wav"), "--taps", "0.6,0.4", "--dilations", "1,3", "--stacks", "2")
    assert proc.returncode == 0, proc.stderr
    h = np.array([1.0])
    for d in (1, 3, 1, 3):
        k = np.zeros(d + 1)
        k[0], k[d] = 0.6, 0.4
        h = np.convolve(h, k)
    np.testing.assert_allclose(sf.read(tmp_path / "t.wav")[0], lfilter(h, [1.0], x[:, 0]), atol=1e-6)


def test_the_default_preset_filters(tmp_path):
    x = write(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"))
    assert proc.returncode == 0, proc.stderr
    y = sf.read(tmp_path / "out.wav")[0]
    np.testing.assert_allclose(y, wavedil.apply(wavedil.preset(wavedil.DEFAULT_PRESET), x)[:, 0], atol=1e-7)
    assert np.std(y) < 0.5 * np.std(x)  # white noise through a low-pass loses most of its power


def test_report_figures_in_json(tmp_path):
    proc = run("report", "--kernel-size", "3", "--dilations", "1,2,4", "--sample-rate", "48000", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["receptive_field"] == 15 and doc["sample_rate"] == 48000
    assert doc["receptive_field_ms"] == pytest.approx(15 / 48)
    assert [layer["receptive_field"] for layer in doc["layers"]] == [3, 7, 15]
    assert [(layer["kernel_size"], layer["dilation"]) for layer in doc["layers"]] == [(3, 1), (3, 2), (3, 4)]
    assert doc["parameters"] == 3 * (3 + 1) and doc["macs_per_sample"] == 9 and doc["padding"] == "causal"
    doc = json.loads(run("report", "--kernel-size", "2", "--dilations", "1,2,4,8", "--format", "json").stdout)
    assert doc["receptive_field"] == 16 and doc["receptive_field_ms"] is None and doc["sample_rate"] is None


def test_report_text_and_markdown():
    text = run("report", "--kernel-size", "3", "--dilations", "1,2,4", "--sample-rate", "48000").stdout
    assert "15 samples = 0.312 ms at 48,000 Hz" in text
    md = run("report", "--kernel-size", "3", "--dilations", "1,2,4", "--format", "markdown").stdout
    assert md.lstrip().startswith("#") and "| 3 |" in md.replace("|  ", "| ")


@pytest.mark.parametrize(("name", "check"), [("r.json", lambda t: json.loads(t)["receptive_field"] == 16), ("r.md", lambda t: t.lstrip().startswith("#")), ("r.txt", lambda t: "receptive field" in t and not t.lstrip().startswith("{"))])
def test_apply_writes_the_report_by_extension(tmp_path, name, check):
    write(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--report", str(tmp_path / name))
    assert proc.returncode == 0, proc.stderr
    assert check((tmp_path / name).read_text())


def test_presets_lists_one_line_each():
    lines = run("presets").stdout.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == list(wavedil.PRESETS)


def test_formats_subtypes_clipping_and_normalize(tmp_path):
    x = write(tmp_path / "in.wav", subtype="PCM_24")
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.flac")).returncode == 0
    info = sf.info(tmp_path / "o.flac")
    assert info.format == "FLAC" and info.subtype == "PCM_24"
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o16.wav"), "--subtype", "PCM_16").returncode == 0
    assert sf.info(tmp_path / "o16.wav").subtype == "PCM_16"
    # Gain 4 drives PCM over full scale: clipped and counted; --normalize instead scales to -1 dBFS.
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "loud.wav"), "--taps", "4", "--dilations", "1", "--json")
    result = json.loads(proc.stdout.splitlines()[0])
    assert result["clipped_samples"] == int(np.count_nonzero(np.abs(4 * x) > 1.0)) > 0
    assert "clipped" in proc.stderr
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "norm.wav"), "--taps", "4", "--dilations", "1", "--normalize").returncode == 0
    assert np.max(np.abs(sf.read(tmp_path / "norm.wav")[0])) == pytest.approx(10 ** (-1 / 20), abs=1e-4)


def test_python_m_and_the_library_without_click():
    assert "Usage" in run("--help").stdout
    code = "import sys, wavedil; wavedil.apply(wavedil.preset('smooth'), [0.0, 1.0]); print('click' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


# -- bad input: one line, nothing left behind -------------------------------------------


BAD_SPECS = {
    "dilation-zero": ("[[layers]]\ndilation = 0\nweights = [1.0]\n", "layer 1: dilation"),
    "dilation-negative": ("[[layers]]\nweights = [1.0]\n[[layers]]\ndilation = -2\nweights = [1.0]\n", "layer 2: dilation"),
    "weights-mismatch": ("[[layers]]\nkernel_size = 3\nweights = [1.0, 2.0]\n", "layer 1: kernel_size"),
    "weights-ragged": ("[[layers]]\nweights = [[[1.0, 2.0]], [[1.0]]]\n", "layer 1: weights"),
    "activation": ('[[layers]]\nweights = [1.0]\nactivation = "swish"\n', "layer 1: activation"),
    "toml": ("[[layers]\nweights = [1.0\n", "TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_invalid_specs_through_apply(tmp_path, case):
    text, where = BAD_SPECS[case]
    (tmp_path / "stack.toml").write_text(text)
    write(tmp_path / "in.wav")
    before = (tmp_path / "in.wav").read_bytes()
    line = error_line(run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(tmp_path / "stack.toml")))
    assert str(tmp_path / "stack.toml") in line and where in line
    assert leftovers(tmp_path, {"in.wav", "stack.toml"}) == []
    assert (tmp_path / "in.wav").read_bytes() == before


def test_malformed_json_spec(tmp_path):
    (tmp_path / "stack.json").write_text('{"layers": [{"weights": [1.0]}')
    line = error_line(run("report", "--spec", str(tmp_path / "stack.json")))
    assert str(tmp_path / "stack.json") in line and "JSON" in line


def test_missing_spec_and_unknown_preset(tmp_path):
    line = error_line(run("report", "--spec", str(tmp_path / "nope.toml")))
    assert str(tmp_path / "nope.toml") in line
    assert "unknown preset" in error_line(run("report", "--preset", "nope"))


def test_existing_output_needs_force_and_output_is_never_the_input(tmp_path):
    write(tmp_path / "in.wav")
    before = (tmp_path / "in.wav").read_bytes()
    (tmp_path / "out.wav").write_bytes(b"an earlier result")
    line = error_line(run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav")))
    assert str(tmp_path / "out.wav") in line and "--force" in line
    assert (tmp_path / "out.wav").read_bytes() == b"an earlier result"
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--force").returncode == 0
    assert sf.info(tmp_path / "out.wav").frames == 4000
    line = error_line(run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "in.wav"), "--force"))
    assert "is the input" in line
    assert (tmp_path / "in.wav").read_bytes() == before
    assert leftovers(tmp_path, {"in.wav", "out.wav"}) == []


def test_conflicting_stack_options_are_a_usage_error(tmp_path):
    write(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav"), "--preset", "smooth", "--dilations", "1,2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
