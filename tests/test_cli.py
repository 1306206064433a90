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


def run_all(*calls: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Independent invocations side by side (each pays the interpreter's start-up), results in order."""
    procs = [subprocess.Popen([sys.executable, "-m", "wavedil", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in calls]
    done = []
    for args, p in zip(calls, procs):
        out, err = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


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
    ma, taps = run_all(
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "ma.wav"), "--kernel-size", "2", "--dilations", "1,2,4,8"),
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "t.wav"), "--taps", "0.6,0.4", "--dilations", "1,3", "--stacks", "2"),
    )
    assert ma.returncode == 0, ma.stderr
    want = lfilter(np.full(16, 1 / 16), [1.0], x[:, 0])
    np.testing.assert_allclose(sf.read(tmp_path / "ma.wav")[0], want, atol=1e-6)
    assert taps.returncode == 0, taps.stderr
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
    proc, other = run_all(
        ("report", "--kernel-size", "3", "--dilations", "1,2,4", "--sample-rate", "48000", "--format", "json"),
        ("report", "--kernel-size", "2", "--dilations", "1,2,4,8", "--format", "json"),
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["receptive_field"] == 15 and doc["sample_rate"] == 48000
    assert doc["receptive_field_ms"] == pytest.approx(15 / 48)
    assert [layer["receptive_field"] for layer in doc["layers"]] == [3, 7, 15]
    assert [(layer["kernel_size"], layer["dilation"]) for layer in doc["layers"]] == [(3, 1), (3, 2), (3, 4)]
    assert doc["parameters"] == 3 * (3 + 1) and doc["macs_per_sample"] == 9 and doc["padding"] == "causal"
    doc = json.loads(other.stdout)
    assert doc["receptive_field"] == 16 and doc["receptive_field_ms"] is None and doc["sample_rate"] is None


def test_report_text_and_markdown():
    text, md = (p.stdout for p in run_all(
        ("report", "--kernel-size", "3", "--dilations", "1,2,4", "--sample-rate", "48000"),
        ("report", "--kernel-size", "3", "--dilations", "1,2,4", "--format", "markdown"),
    ))
    assert "15 samples = 0.312 ms at 48,000 Hz" in text
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
    for line, (name, p) in zip(lines, wavedil.PRESETS.items()):
        assert p.summary in line and f"RF {wavedil.preset(name).receptive_field:>6}" in line
        assert line.endswith("(default)") == (name == wavedil.DEFAULT_PRESET)


def test_formats_subtypes_clipping_and_normalize(tmp_path):
    x = write(tmp_path / "in.wav", subtype="PCM_24")
    flac, pcm16, proc, normalized = run_all(
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.flac")),
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o16.wav"), "--subtype", "PCM_16"),
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "loud.wav"), "--taps", "4", "--dilations", "1", "--json"),
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "norm.wav"), "--taps", "4", "--dilations", "1", "--normalize"),
    )
    assert flac.returncode == 0, flac.stderr
    info = sf.info(tmp_path / "o.flac")
    assert info.format == "FLAC" and info.subtype == "PCM_24"
    assert pcm16.returncode == 0, pcm16.stderr
    assert sf.info(tmp_path / "o16.wav").subtype == "PCM_16"
    # Gain 4 drives PCM over full scale: clipped and counted; --normalize instead scales to -1 dBFS.
    result = json.loads(proc.stdout.splitlines()[0])
    over = int(np.count_nonzero(np.abs(4 * x) > 1.0))
    assert result["clipped_samples"] == over > 0
    assert f"{over} sample(s) beyond full scale were clipped" in proc.stderr
    loud = sf.read(tmp_path / "loud.wav")[0]
    np.testing.assert_allclose(loud, np.clip(4 * x[:, 0], -1.0, 1.0), atol=2**-23)
    assert normalized.returncode == 0, normalized.stderr
    norm = sf.read(tmp_path / "norm.wav")[0]
    assert np.max(np.abs(norm)) == pytest.approx(10 ** (-1 / 20), abs=1e-4)
    # Scaled, not clipped: the whole output is the filtered input times one gain.
    np.testing.assert_allclose(norm, 4 * x[:, 0] * (10 ** (-1 / 20) / np.max(np.abs(4 * x))), atol=2**-23 + 1e-7)


def test_python_m_the_script_and_the_library_without_click():
    code = "import sys, wavedil; wavedil.apply(wavedil.preset('smooth'), [0.0, 1.0]); print('click' in sys.modules)"
    library = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    script = Path(sys.executable).parent / "wavedil"
    version = subprocess.Popen([str(script), "--version"], stdout=subprocess.PIPE, text=True) if script.exists() else None
    assert "Usage" in run("--help").stdout
    assert library.communicate(timeout=120)[0].strip() == "False" and library.returncode == 0
    if version is not None:
        assert version.communicate(timeout=120)[0].strip() == f"wavedil, version {wavedil.__version__}" and version.returncode == 0


# -- bad input: one line, nothing left behind -------------------------------------------


BAD_SPECS = {
    "dilation-zero": ("[[layers]]\ndilation = 0\nweights = [1.0]\n", "layer 1: dilation: must be a positive integer"),
    "dilation-negative": ("[[layers]]\nweights = [1.0]\n[[layers]]\ndilation = -1\nweights = [1.0]\n", "layer 2: dilation: must be a positive integer"),
    "weights-mismatch": ("[[layers]]\nkernel_size = 3\nweights = [1.0, 2.0]\n", "layer 1: kernel_size: is 3 but weights have 2 tap(s)"),
    "weights-ragged": ("[[layers]]\nweights = [[[1.0, 2.0]], [[1.0]]]\n", "layer 1: weights"),
    "weights-do-not-chain": ("[[layers]]\nweights = [1.0]\n[[layers]]\nweights = [[[1.0], [1.0]]]\n", "layer 2: weights: takes 2 input channel"),
    "activation": ('[[layers]]\nweights = [1.0]\nactivation = "swish"\n', "layer 1: activation: unknown activation"),
    "toml": ("[[layers]\nweights = [1.0\n", "malformed TOML"),
    "json": ('{"layers": [{"weights": [1.0]}', "malformed JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_invalid_specs_through_apply(tmp_path, case):
    text, where = BAD_SPECS[case]
    spec = tmp_path / ("stack.json" if case.startswith("json") else "stack.toml")
    spec.write_text(text)
    write(tmp_path / "in.wav")
    before = (tmp_path / "in.wav").read_bytes()
    line = error_line(run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(spec)))
    assert line.startswith(f"Error: {spec}: ") and where in line, line
    assert leftovers(tmp_path, {"in.wav", spec.name}) == []
    assert (tmp_path / "in.wav").read_bytes() == before


def test_malformed_json_spec(tmp_path):
    (tmp_path / "stack.json").write_text('{"layers": [{"weights": [1.0]}')
    line = error_line(run("report", "--spec", str(tmp_path / "stack.json")))
    assert str(tmp_path / "stack.json") in line and "JSON" in line


def test_missing_spec_and_unknown_preset(tmp_path):
    missing, unknown = run_all(("report", "--spec", str(tmp_path / "nope.toml")), ("report", "--preset", "nope"))
    assert str(tmp_path / "nope.toml") in error_line(missing) and missing.returncode == 1
    # A preset name is an option's value: a usage mistake, exit 2, naming the option.
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines()[-1].startswith("Error: Invalid value for '--preset': unknown preset 'nope'; known: smooth, ")


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
    assert "is the input" in line and str(tmp_path / "in.wav") in line
    assert (tmp_path / "in.wav").read_bytes() == before
    assert leftovers(tmp_path, {"in.wav", "out.wav"}) == []


def test_conflicting_stack_options_are_a_usage_error(tmp_path):
    write(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav"), "--preset", "smooth", "--dilations", "1,2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# -- channels fed jointly, same padding ----------------------------------------------------


JOINT_SPEC = """\
# two channels in, two out: [out][in][k]
[[layers]]
dilation = 3
weights = [[[0.6, 0.2], [0.1, -0.3]], [[-0.2, 0.4], [0.5, 0.1]]]
bias = [0.05, -0.1]
activation = "tanh"

[[layers]]
weights = [[[0.7], [0.3]]]
"""
JOINT_LAYERS = [
    {"dilation": 3, "weights": [[[0.6, 0.2], [0.1, -0.3]], [[-0.2, 0.4], [0.5, 0.1]]], "bias": [0.05, -0.1], "activation": "tanh"},
    {"dilation": 1, "weights": [[[0.7], [0.3]]]},
]


def test_a_spec_declaring_two_input_channels_takes_stereo_jointly(tmp_path):
    (tmp_path / "joint.toml").write_text(JOINT_SPEC)
    x = write(tmp_path / "in.wav", 2)
    write(tmp_path / "mono.wav", 1)
    proc, mono = run_all(
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(tmp_path / "joint.toml"), "--report", str(tmp_path / "r.json")),
        ("apply", str(tmp_path / "mono.wav"), "-o", str(tmp_path / "m.wav"), "--spec", str(tmp_path / "joint.toml")),
    )
    assert proc.returncode == 0, proc.stderr
    y = sf.read(tmp_path / "out.wav", always_2d=True)[0]
    assert y.shape == (len(x), 1)  # the last layer mixes the two channels into one
    np.testing.assert_allclose(y, stack_loop(JOINT_LAYERS, x), rtol=1e-5, atol=2e-6)
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["in_channels"], report["out_channels"], report["receptive_field"]) == (2, 1, 4)
    assert (report["audio"]["channels"], report["audio"]["out_channels"]) == (2, 1)
    # The same stack on a mono file: one line naming the file, nothing written.
    line = error_line(mono)
    assert line.startswith(f"Error: {tmp_path / 'mono.wav'}: ") and "2 input channel" in line
    assert leftovers(tmp_path, {"in.wav", "out.wav", "r.json", "joint.toml", "mono.wav"}) == []


def test_same_padding_from_the_command_line(tmp_path):
    (tmp_path / "stack.toml").write_text(SPEC)
    x = write(tmp_path / "in.wav", 2)
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(tmp_path / "stack.toml"), "--padding", "same", "--dtype", "float64")
    assert proc.returncode == 0, proc.stderr
    y = sf.read(tmp_path / "out.wav", always_2d=True)[0]
    want = np.hstack([stack_loop(SPEC_LAYERS, x[:, c : c + 1], "same") for c in range(2)])
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-7)
    # The lookahead is (RF - 1) // 2 = (8 - 1) // 2: the output leads the causal one by 3 samples.
    causal = np.hstack([stack_loop(SPEC_LAYERS, x[:, c : c + 1]) for c in range(2)])
    np.testing.assert_allclose(y[:-3], causal[3:], rtol=1e-6, atol=1e-7)


# -- the report is an output too ---------------------------------------------------------


def test_a_report_never_replaces_the_input_or_the_output(tmp_path):
    write(tmp_path / "in.wav")
    before = (tmp_path / "in.wav").read_bytes()
    is_input, is_output = run_all(
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--report", str(tmp_path / "in.wav"), "--force"),
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--report", str(tmp_path / "out.wav"), "--force"),
    )
    line = error_line(is_input)
    assert line.startswith(f"Error: {tmp_path / 'in.wav'}: ") and "the report is the input" in line
    assert (tmp_path / "in.wav").read_bytes() == before
    line = error_line(is_output)
    assert line.startswith(f"Error: {tmp_path / 'out.wav'}: ") and "the report is the output" in line
    assert leftovers(tmp_path, {"in.wav"}) == []


def test_an_existing_report_without_force_is_refused_before_any_audio_is_written(tmp_path):
    write(tmp_path / "in.wav")
    (tmp_path / "r.json").write_text("an earlier report")
    line = error_line(run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--report", str(tmp_path / "r.json")))
    assert line.startswith(f"Error: {tmp_path / 'r.json'}: ") and "--force" in line
    assert (tmp_path / "r.json").read_text() == "an earlier report"
    assert leftovers(tmp_path, {"in.wav", "r.json"}) == []  # no out.wav, no temporary file


def test_the_package_loads_numpy_only_when_used_and_leaves_the_environment_alone():
    code = (
        "import os, sys\n"
        "before = dict(os.environ)\n"
        "import wavedil, wavedil.cli.main\n"
        "assert 'numpy' not in sys.modules\n"
        "assert sorted(wavedil.__all__) == sorted(wavedil._HOMES)\n"
        "assert all(getattr(wavedil, n) is not None for n in wavedil.__all__)\n"
        "assert 'numpy' in sys.modules and dict(os.environ) == before\n"
    )
    env = {"OPENBLAS_NUM_THREADS": "4", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        wavedil.nothing  # noqa: B018


@pytest.mark.parametrize(
    "args, message",
    [
        (("{a}", "{b}", "-d", "{out}", "--report", "{r}"), "a report file goes with one output file; --report-dir FOLDER gives one report per output"),
        (("{a}", "{b}", "-o", "{o}"), "an output file takes one input, got 2; --outdir FOLDER takes several"),
        (("{a}",), "give either an output file or an output folder; --output FILE or --outdir FOLDER"),
        (("{a}", "-o", "{o}", "--report-dir", "{out}"), "a report folder goes with an output folder; --report FILE names the one report"),
        (("-", "-o", "{o}", "--normalize"), "normalizing reads each input twice: a stream input cannot be normalized"),
        (("{a}", "-o", "-", "--json"), "--json prints on stdout, which -o - uses for audio"),
        (("-", "-o", "{o}", "--scheduler", "tcp://127.0.0.1:1"), "standard input and output stay on this machine; run without --scheduler"),
    ],
)
def test_usage_mistakes_exit_2_before_any_work(tmp_path, args, message):
    write(tmp_path / "a.wav")
    write(tmp_path / "b.wav")
    paths = {"a": tmp_path / "a.wav", "b": tmp_path / "b.wav", "out": tmp_path / "out", "o": tmp_path / "o.wav", "r": tmp_path / "r.json"}
    proc = run("apply", *(arg.format(**paths) for arg in args))
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == f"Error: {message}", proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]


@pytest.mark.parametrize("name, alias, ext", [("md", "markdown", ".md"), ("txt", "text", ".txt")])
def test_report_format_names_and_their_aliases(tmp_path, name, alias, ext):
    """``--report-format md`` and ``markdown`` (``txt`` and ``text``) write the same report, as ``report --format`` renders it."""
    write(tmp_path / "in.wav")
    base = ("apply", str(tmp_path / "in.wav"), "-d", str(tmp_path / "out"), "--force", "-q")
    short, long, as_json = run_all(
        (*base, "--report-dir", str(tmp_path / "short"), "--report-format", name),
        (*base, "--report-dir", str(tmp_path / "long"), "--report-format", alias),
        (*base, "--report-dir", str(tmp_path / "json")),
    )
    assert short.returncode == long.returncode == as_json.returncode == 0, short.stderr + long.stderr + as_json.stderr
    text = (tmp_path / "short" / f"in{ext}").read_text()
    assert (tmp_path / "long" / f"in{ext}").read_text() == text
    saved = json.loads((tmp_path / "json" / "in.json").read_text())
    report = wavedil.analyze(wavedil.preset("smooth"), 48000).with_audio(saved["audio"])
    assert report.to_dict() == saved  # the same report as the JSON one
    assert text == wavedil.render(report, "markdown" if name == "md" else "text")


def test_peak_db_sets_the_normalized_peak(tmp_path):
    x = write(tmp_path / "in.wav")[:, 0]
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--normalize", "--peak-db", "-12", "--dtype", "float64")
    assert proc.returncode == 0, proc.stderr
    y = sf.read(tmp_path / "out.wav")[0]
    filtered = lfilter(np.full(16, 1 / 16), [1.0], x)  # the default preset
    np.testing.assert_allclose(y, filtered * 10 ** (-12 / 20) / np.max(np.abs(filtered)), atol=2**-24)
    assert np.max(np.abs(y)) == pytest.approx(10 ** (-12 / 20), rel=1e-6)
