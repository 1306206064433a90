"""Chains from the shell: stage options in order, chain files, IRs and gains, their errors and reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import wavedil
from wavedil.formats.nam import save_nam
from wavedil.spec import parse_spec

from test_cli import error_line, run, run_all

RATE = 48000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DI track, a small seeded capture, a TOML stack, a cabinet response (at 44.1 kHz) and a stereo one."""
    d = tmp_path_factory.mktemp("chains")
    rng = np.random.default_rng(20261127)
    sf.write(d / "di.wav", rng.normal(0.0, 0.1, 12000), RATE, subtype="FLOAT")
    sf.write(d / "stereo.wav", rng.normal(0.0, 0.1, (6000, 2)), RATE, subtype="FLOAT")
    net = parse_spec(
        {"layers": [{"type": "wavenet", "init": {"seed": 3}, "arrays": [{"channels": 4, "kernel_size": 3, "dilations": [1, 2, 4], "activation": "tanh"}]}]}
    ).layers[0]
    save_nam(net, d / "amp.nam", sample_rate=RATE)
    (d / "smooth.toml").write_text('[[layers]]\ndilation = 2\nweights = [0.5, 0.5]\n')
    cab = rng.normal(0.0, 1.0, 900) * np.exp(-np.arange(900) / 150.0)
    sf.write(d / "cab.wav", 0.3 * cab / np.max(np.abs(cab)), 44100, subtype="DOUBLE")
    sf.write(d / "cab48.wav", 0.3 * cab / np.max(np.abs(cab)), RATE, subtype="DOUBLE")
    sf.write(d / "cab_stereo.wav", rng.normal(0.0, 0.2, (300, 2)), RATE, subtype="DOUBLE")
    return d


def _read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32")[0]


def test_stages_run_in_the_order_given_and_none_is_dropped(files, tmp_path):
    """The issue's command, --preset twice and --spec twice: each equals the library's chain of the same stages."""
    calls = {
        "reamp": ("--gain", "6", "--spec", str(files / "amp.nam"), "--ir", str(files / "cab48.wav"), "--gain", "-3"),
        "two_presets": ("--preset", "drive", "--preset", "smooth"),
        "two_specs": ("--spec", str(files / "amp.nam"), "--spec", str(files / "smooth.toml")),
        "reversed": ("--gain", "-3", "--ir", str(files / "cab48.wav"), "--spec", str(files / "amp.nam"), "--gain", "6"),
    }
    procs = run_all(*(("apply", str(files / "di.wav"), "-o", str(tmp_path / f"{k}.wav"), *args) for k, args in calls.items()))
    for p in procs:
        assert p.returncode == 0, p.stderr
    x = _read(files / "di.wav")
    amp, cab = wavedil.load_spec(files / "amp.nam"), wavedil.ir(files / "cab48.wav")
    expected = {
        "reamp": wavedil.gain(6) + amp + cab + wavedil.gain(-3),
        "two_presets": wavedil.preset("drive") + wavedil.preset("smooth"),
        "two_specs": amp + wavedil.load_spec(files / "smooth.toml"),
        "reversed": wavedil.gain(-3) + cab + amp + wavedil.gain(6),
    }
    for key, stack in expected.items():
        y = wavedil.apply(stack, x, engine="numpy")
        assert np.max(np.abs(_read(tmp_path / f"{key}.wav") - y)) <= 1e-5 * np.max(np.abs(y)), key
    # The order matters: a capture is nonlinear.
    assert not np.allclose(_read(tmp_path / "reamp.wav"), _read(tmp_path / "reversed.wav"), atol=1e-3)


def test_an_ir_at_another_rate_is_resampled_and_said(files, tmp_path):
    p = run("apply", str(files / "di.wav"), "-o", str(tmp_path / "out.wav"), "--ir", str(files / "cab.wav"), "--json")
    assert p.returncode == 0, p.stderr
    line = json.loads(p.stdout.splitlines()[0])
    assert line["resampled_responses"] == [{"source": "cab.wav", "from_rate": 44100, "to_rate": 48000}]
    p = run("apply", str(files / "di.wav"), "-o", str(tmp_path / "out2.wav"), "--ir", str(files / "cab.wav"))
    assert "Note: " in p.stderr and "impulse response cab.wav resampled from 44100 Hz to 48000 Hz" in p.stderr
    y = wavedil.apply(wavedil.ir(files / "cab.wav", sample_rate=RATE), _read(files / "di.wav"))
    assert np.max(np.abs(_read(tmp_path / "out2.wav") - y)) <= 1e-5 * np.max(np.abs(y))


def test_a_stereo_response_runs_per_channel_with_mono_stages_around_it(files, tmp_path):
    out = tmp_path / "st.wav"
    p = run("apply", str(files / "stereo.wav"), "-o", str(out), "--preset", "drive", "--ir", str(files / "cab_stereo.wav"), "--gain", "-3")
    assert p.returncode == 0, p.stderr
    x = _read(files / "stereo.wav")
    y = wavedil.apply(wavedil.preset("drive") + wavedil.ir(files / "cab_stereo.wav") + wavedil.gain(-3), x)
    assert _read(out).shape == (6000, 2) and np.max(np.abs(_read(out) - y)) <= 1e-5 * np.max(np.abs(y))
    line = error_line(run("apply", str(files / "di.wav"), "-o", str(tmp_path / "mono.wav"), "--ir", str(files / "cab_stereo.wav")))
    assert line == f"Error: {files / 'di.wav'}: the stack takes 2 input channel(s) but the audio has 1"


def test_a_chain_file_equals_the_same_options(files, tmp_path):
    chain_file = files / "reamp.toml"
    chain_file.write_text('name = "re-amp"\n[[chain]]\ngain = 6\n[[chain]]\nspec = "amp.nam"\n[[chain]]\nir = "cab48.wav"\nnormalize = true\n[[chain]]\ngain = -3\n')
    a, b = tmp_path / "file.wav", tmp_path / "options.wav"
    procs = run_all(
        ("apply", str(files / "di.wav"), "-o", str(a), "--spec", str(chain_file), "--report", str(tmp_path / "file.json")),
        ("apply", str(files / "di.wav"), "-o", str(b), "--gain", "6", "--spec", str(files / "amp.nam"), "--ir", str(files / "cab48.wav"), "--ir-normalize", "--gain", "-3"),
    )
    assert [p.returncode for p in procs] == [0, 0], [p.stderr for p in procs]
    assert np.array_equal(_read(a), _read(b))
    report = json.loads((tmp_path / "file.json").read_text())
    assert report["name"] == "re-amp"
    assert [(s["index"], s["kind"]) for s in report["stages"]] == [(1, "gain"), (2, "model"), (3, "ir"), (4, "gain")]
    assert report["receptive_field"] == 1 + sum(s["receptive_field"] - 1 for s in report["stages"])
    assert report["layers"][report["stages"][2]["first_layer"] - 1]["kind"] == "ir"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[chain]]\ngain = "loud"\n', "chain[1].gain: a number of dB, got 'loud'"),
        ('[[chain]]\ngain = 3\nir = "cab48.wav"\n', "chain[1]: a stage has one of spec, preset, ir, gain, got gain, ir"),
        ('[[chain]]\nir = "cab48.wav"\nnormalise = true\n', "chain[1]: unknown field(s) normalise; known: ir, normalize"),
        ('[[chain]]\npreset = "fuzz"\n', "chain[1].preset: unknown preset 'fuzz'"),
        ('[[chain]]\nir = "missing.wav"\n', "chain[1].ir: "),
        ('[[chain]]\nspec = "bad.toml"\n', "chain[1].spec: "),
        ("[[chain]]\ngain = 300\n", "chain[1].gain: a gain must be finite and within +-200 dB"),
        ("chain = []\n", "chain: must be a non-empty list of stages"),
    ],
)
def test_a_bad_chain_file_is_one_error_line_naming_the_stage(files, tmp_path, text, message):
    (files / "bad.toml").write_text('[[chain]]\ngain = 1\n')
    path = tmp_path / "chain.toml"
    path.write_text(text)
    line = error_line(run("apply", str(files / "di.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(path)))
    assert line.startswith(f"Error: {path}: ") and message in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--ir-normalize",), "--ir-normalize goes with --ir"),
        (("--dilations", "1,2", "--kernel-size", "2", "--dilations", "4"), "--dilations given 2 times"),
        (("--gain", "inf"), "a gain is a finite number of dB"),
        (("--gain", "250"), "a gain is a finite number of dB within +-200"),
    ],
)
def test_stage_options_misused_are_usage_errors(files, tmp_path, args, message):
    p = run("apply", str(files / "di.wav"), "-o", str(tmp_path / "out.wav"), *args)
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr


def test_stage_files_are_inputs_no_output_replaces(files, tmp_path):
    cab = tmp_path / "cab.wav"
    cab.write_bytes((files / "cab48.wav").read_bytes())
    line = error_line(run("apply", str(files / "di.wav"), "-o", str(cab), "--ir", str(cab), "--force"))
    assert line == f"Error: {cab}: the output would replace the --ir file; choose another path"
    line = error_line(run("report", "--gain", "1", "--ir", str(cab), "-o", str(cab), "--force"))
    assert "-o would replace the --ir file" in line


def test_the_report_shows_each_stage_then_the_whole(files):
    p = run("report", "--gain", "6", "--spec", str(files / "amp.nam"), "--ir", str(files / "cab.wav"), "--gain", "-3")
    assert p.returncode == 0, p.stderr
    text = p.stdout
    titles = [line for line in text.splitlines() if line.startswith("stage ")]
    assert len(titles) == 4 and titles[1].startswith("stage 2: ") and titles[1].endswith(" (model)")
    assert [titles[0], titles[2], titles[3]] == ["stage 1: gain +6 dB (gain)", "stage 3: IR cab.wav (ir)", "stage 4: gain -3 dB (gain)"]
    assert "the whole chain: " in text
    # The IR runs at the capture's rate: resampled from 44.1 kHz, 900 taps become 980.
    assert "980 samples" in text
    assert "BUG" not in text


def test_a_capture_in_a_chain_keeps_its_sample_rate_rule(files, tmp_path):
    """44.1 kHz audio through a 48 kHz capture and a 48 kHz IR: refused, or resampled with --resample (the IR stays at 48 kHz)."""
    src = tmp_path / "di44.wav"
    sf.write(src, np.random.default_rng(5).normal(0.0, 0.1, 8820), 44100, subtype="FLOAT")
    stages = ("--gain", "3", "--spec", str(files / "amp.nam"), "--ir", str(files / "cab48.wav"))
    line = error_line(run("apply", str(src), "-o", str(tmp_path / "no.wav"), *stages))
    assert "the audio is at 44100 Hz but the model runs at 48000 Hz" in line and "--resample" in line
    out = tmp_path / "yes.wav"
    p = run("apply", str(src), "-o", str(out), *stages, "--resample")
    assert p.returncode == 0 and "Note" not in p.stderr, p.stderr
    y, rate = sf.read(out, dtype="float32")
    assert rate == 44100 and len(y) == 8820
    chain = wavedil.gain(3) + wavedil.load_spec(files / "amp.nam") + wavedil.ir(files / "cab48.wav")
    reference = wavedil.process_file(src, tmp_path / "lib.wav", chain, resample=True)
    assert reference.resampled_responses == () and np.array_equal(sf.read(tmp_path / "lib.wav", dtype="float32")[0], y)


def test_files_a_chain_file_names_are_inputs_too(files, tmp_path):
    folder = tmp_path / "kept"
    folder.mkdir()
    for name in ("amp.nam", "cab48.wav"):
        (folder / name).write_bytes((files / name).read_bytes())
    chain_file = folder / "chain.toml"
    chain_file.write_text('[[chain]]\nspec = "amp.nam"\n[[chain]]\nir = "cab48.wav"\n')
    before = {name: (folder / name).read_bytes() for name in ("amp.nam", "cab48.wav")}
    for args in (("-o", str(folder / "cab48.wav")), ("-o", str(tmp_path / "o.wav"), "--report", str(folder / "amp.nam"))):
        line = error_line(run("apply", str(files / "di.wav"), "--spec", str(chain_file), "--force", *args))
        assert "would replace the chain file's stage file" in line
    assert "would replace the chain file's stage file" in error_line(run("report", "--spec", str(chain_file), "-o", str(folder / "amp.nam"), "--force"))
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_chain_files_take_padding_and_model_size_from_the_command_line(files, tmp_path):
    centred = files / "centred.toml"
    centred.write_text('padding = "same"\n[[layers]]\nweights = [0.5, 0.5]\n')
    chain_file = tmp_path / "c.toml"
    chain_file.write_text(f'[[chain]]\ngain = 1\n[[chain]]\nspec = "{centred}"\n')
    line = error_line(run("report", "--spec", str(chain_file), "--format", "json"))
    assert line.startswith(f"Error: {chain_file}: ") and "has padding 'same'" in line
    p = run("report", "--spec", str(chain_file), "--padding", "same", "--format", "json")
    assert p.returncode == 0 and json.loads(p.stdout)["lookahead"] == 0  # RF 2: (2-1)//2


def test_a_report_of_a_chain_with_an_lstm_gives_its_stage_no_field(files):
    lstm = Path(__file__).parent / "fixtures" / "nam" / "core" / "lstm_unsettled_state.nam"
    p = run("report", "--gain", "3", "--spec", str(lstm), "--format", "json")
    assert p.returncode == 0, p.stderr
    stages = json.loads(p.stdout)["stages"]
    assert [s["kind"] for s in stages] == ["gain", "model"] and stages[1]["receptive_field"] is None and stages[1]["receptive_field_ms"] is None
