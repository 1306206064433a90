"""Options given where they would do nothing, or values no run could use, are usage mistakes: exit 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from wavedil.cli.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def take(tmp_path):
    path = tmp_path / "in.wav"
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, 4800), 48000)
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--suffix", "_z"], "--suffix goes with -d OUTDIR; -o names the output itself"),
        (["--ext", "flac"], "--ext goes with -d OUTDIR; -o names the output itself"),
        (["--recursive"], "--recursive goes with -d OUTDIR; -o names the output itself"),
        (["--report-format", "md"], "--report-format goes with --report-dir; --report takes its format from its extension"),
        (["--peak-db", "-3"], "--peak-db goes with --normalize"),
        (["--force", "--skip-existing"], "--force replaces existing outputs, --skip-existing keeps them: give one"),
        (["--subtype", "nonsense"], "Invalid value for '--subtype': unknown subtype 'nonsense'; known: ALAC_16, "),
    ],
)
def test_options_that_would_do_nothing_are_refused(take, tmp_path, extra, message):
    result = _run("apply", str(take), "-o", str(tmp_path / "out.wav"), *extra)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(f"Error: {message}")
    assert not (tmp_path / "out.wav").exists()


def test_the_options_in_their_place_still_work(take, tmp_path):
    assert _run("apply", str(take), "-o", str(tmp_path / "a.wav"), "--normalize", "--peak-db", "-3", "--subtype", "pcm_24").exit_code == 0
    assert sf.info(str(tmp_path / "a.wav")).subtype == "PCM_24"
    result = _run("apply", str(take), "-d", str(tmp_path / "out"), "--suffix", "_z", "--ext", "flac", "--report-dir", str(tmp_path / "r"), "--report-format", "md")
    assert result.exit_code == 0 and (tmp_path / "out" / "in_z.flac").is_file() and (tmp_path / "r" / "in_z.md").is_file()


def test_report_to_dash_is_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run("report", "--preset", "seed", "--format", "json", "-o", "-")
    assert result.exit_code == 0 and '"receptive_field": 15' in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_normalized_output_that_clips_is_told_to_use_a_float_subtype(take, tmp_path):
    result = _run("apply", str(take), "-o", str(tmp_path / "loud.wav"), "--normalize", "--peak-db", "5")
    assert result.exit_code == 0
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warning.endswith("beyond full scale were clipped; use --subtype FLOAT to keep them")


@pytest.mark.parametrize("value", ["1,,2", "1,2,", ","])
def test_an_empty_item_in_a_list_is_refused(value):
    result = _run("report", "--kernel-size", "2", "--dilations", value)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: Invalid value for '--dilations': expected comma-separated integers, got {value!r}"


def test_freq_where_no_gain_table_can_appear_is_refused():
    beyond = _run("report", "--preset", "smooth", "--freq", "1000,30000")
    assert beyond.exit_code == 2
    assert beyond.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--freq': 30000 Hz is beyond Nyquist, 24000 Hz at 48,000 Hz (assumed; --sample-rate sets it)"
    )
    negative = _run("report", "--preset", "smooth", "--freq", "-5")
    assert negative.exit_code == 2 and negative.stderr.splitlines()[-1] == "Error: Invalid value for '--freq': -5 Hz: a frequency is 0 Hz or more"
    nonlinear = _run("report", "--preset", "drive", "--freq", "100")
    assert nonlinear.exit_code == 2 and nonlinear.stderr.splitlines()[-1].startswith("Error: --freq gives gains of a linear stack")
    table = _run("report", "--preset", "smooth", "--freq", "1000,30000", "--sample-rate", "96000", "--format", "json")
    assert table.exit_code == 0 and [g["frequency"] for g in json.loads(table.stdout)["frequency_response"]["gains"]] == [1000.0, 30000.0]


def test_an_audio_file_given_as_a_spec_is_named_as_such(take):
    result = _run("report", "--spec", str(take))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {take}: is not UTF-8 text, so not a spec file (a binary file such as audio?)"
