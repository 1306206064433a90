"""`--engine` and `--fast-tanh` on the command line: choosing, refusing, and saying which engine ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import wavedil
from wavedil import engines
from wavedil.cli.errors import option_for
from wavedil.cli.main import cli
from wavedil.errors import Setting

NAM = Path(__file__).resolve().parent / "fixtures" / "nam" / "v0_5"
needs_numba = pytest.mark.skipif(not engines.numba_installed(), reason="numba is not installed (the 'fast' extra)")
ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]


@pytest.fixture
def audio(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("WAVEDIL_ENGINE", raising=False)
    path = tmp_path / "in.wav"
    sf.write(path, (np.random.default_rng(0).standard_normal(6000) * 0.4).astype(np.float32), 48000, subtype="FLOAT")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_error(result) -> str:
    """The single ``Error:`` line of a failed run (click's usage lines aside)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def json_lines(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_remedy_renders_as_the_option():
    assert option_for(Setting("engine", "numpy")) == "--engine numpy"


@pytest.mark.parametrize("command", ["apply", "report"])
def test_both_commands_that_run_the_network_take_the_options(command):
    text = invoke(command, "--help").stdout
    assert "--engine [auto|numpy|numba]" in text and "WAVEDIL_ENGINE" in text
    assert "--fast-tanh" in text and "4e-4" in text and "plugin" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_apply_json_names_the_engine_and_the_layers_that_ran_elsewhere(audio, tmp_path, engine):
    spec = NAM / "wavenet_a1_nano.nam"
    (line, _summary) = json_lines(invoke("apply", str(audio), "-o", str(tmp_path / "out.wav"), "--spec", str(spec), "--engine", engine, "--json"))
    assert (line["engine"], line["fast_tanh"]) == (engine, False)
    layers = wavedil.StreamingFilter(wavedil.load_spec(spec), 1, engine=engine).layer_engines
    if all(name == engine for name in layers):
        assert "layer_engines" not in line
    else:
        assert line["layer_engines"] == layers


def test_fast_tanh_is_reported_and_changes_the_output_by_the_approximations_amount(audio, tmp_path):
    runs = {}
    for flag in ((), ("--fast-tanh",)):
        out = tmp_path / f"out{len(flag)}.wav"
        (line, _) = json_lines(invoke("apply", str(audio), "-o", str(out), "--preset", "drive", "--engine", "numpy", "--json", *flag))
        assert line["fast_tanh"] is bool(flag)
        runs[bool(flag)] = sf.read(out, dtype="float64")[0]
    change = np.max(np.abs(runs[True] - runs[False]))
    assert 1e-6 < change <= 4.4e-4  # drive: tanh, then a moving average of it


def test_the_environment_chooses_without_the_option_and_the_option_wins(audio, tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "numba_installed", lambda: True)
    monkeypatch.setenv("WAVEDIL_ENGINE", "numpy")
    (line, _) = json_lines(invoke("apply", str(audio), "-o", str(tmp_path / "a.wav"), "--json"))
    assert line["engine"] == "numpy"
    monkeypatch.setenv("WAVEDIL_ENGINE", "fortran")
    (line, _) = json_lines(invoke("apply", str(audio), "-o", str(tmp_path / "b.wav"), "--engine", "numpy", "--json"))
    assert line["engine"] == "numpy"


@pytest.mark.parametrize("command", ["apply", "report"])
def test_numba_without_numba_exits_2_naming_both_remedies(audio, tmp_path, monkeypatch, command):
    monkeypatch.setattr(engines, "numba_installed", lambda: False)
    args = ["apply", str(audio), "-o", str(tmp_path / "out.wav")] if command == "apply" else ["report", "--speed"]
    result = invoke(*args, "--engine", "numba")
    assert result.exit_code == 2
    error = one_error(result)
    assert "numba is not installed" in error and "--engine numpy" in error and 'pip install "wavedil[fast]"' in error
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("command", ["apply", "report"])
def test_a_bad_environment_value_exits_2_naming_the_variable(audio, tmp_path, monkeypatch, command):
    monkeypatch.setenv("WAVEDIL_ENGINE", "fortran")
    args = ["apply", str(audio), "-o", str(tmp_path / "out.wav")] if command == "apply" else ["report"]
    result = invoke(*args)
    assert result.exit_code == 2
    assert one_error(result) == "Error: WAVEDIL_ENGINE must be one of auto, numpy, numba, got 'fortran'"
    assert not (tmp_path / "out.wav").exists()


def test_an_unknown_engine_option_is_click_usage_error(audio, tmp_path):
    result = invoke("apply", str(audio), "-o", str(tmp_path / "out.wav"), "--engine", "fortran")
    assert result.exit_code == 2 and "'fortran' is not one of 'auto', 'numpy', 'numba'" in one_error(result)


def test_the_file_line_says_the_engine_once(audio, tmp_path):
    result = invoke("apply", str(audio), "-o", str(tmp_path / "out.wav"), "--preset", "drive", "--engine", "numpy", "--fast-tanh")
    assert result.exit_code == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert ", engine numpy, fast tanh, " in line and line.count("numpy") == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_the_reports_speed_names_the_engine(engine):
    base = ("report", "--preset", "drive", "--speed", "--probe-seconds", "1", "--engine", engine)
    speed = json.loads(invoke(*base, "--format", "json").stdout)["speed"]
    layers = wavedil.StreamingFilter(wavedil.preset("drive"), 1, engine=engine).layer_engines
    assert (speed["engine"], speed["fast_tanh"], speed["layer_engines"]) == (engine, False, layers)
    (line,) = [ln for ln in invoke(*base, "--fast-tanh").stdout.splitlines() if ln.startswith("speed")]
    assert f"on {engine}, fast tanh" in line


def test_files_run_on_worker_processes_name_the_engine_in_their_lines(audio, tmp_path):
    # Two files on two worker processes (whole files side by side), the choice from the environment.
    second = tmp_path / "in2.wav"
    second.write_bytes(audio.read_bytes())
    env = {**os.environ, "WAVEDIL_ENGINE": "numpy"}
    proc = subprocess.run(
        [sys.executable, "-m", "wavedil", "apply", str(audio), str(second), "-d", str(tmp_path / "out"), "-j", "2", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line.get("engine") for line in lines] == ["numpy", "numpy", None]


def test_report_engine_without_speed_is_a_usage_error():
    """The report's figures come from the NumPy reference: --engine only chooses what --speed times."""
    result = invoke("report", "--preset", "drive", "--engine", "numpy")
    assert result.exit_code == 2
    assert "--engine chooses what --speed times" in one_error(result)


def test_kernels_that_cannot_load_make_a_named_numba_one_usage_error_and_auto_plan_for_numpy(audio, tmp_path, monkeypatch):
    """Numba installed but unusable: --engine numba is refused before any file; auto plans (and runs) NumPy's buffers."""
    monkeypatch.setattr(engines, "numba_installed", lambda: True)
    monkeypatch.setattr(engines, "kernels_unavailable", lambda: "ImportError: Numba needs NumPy 2.3 or less")
    spec = str(NAM / "wavenet_a1_nano.nam")
    result = invoke("apply", str(audio), str(audio), "-d", str(tmp_path / "out"), "--spec", spec, "--engine", "numba")
    assert result.exit_code == 2
    assert one_error(result).startswith("Error: the numba engine cannot load its compiled kernels (ImportError: Numba needs NumPy 2.3")
    assert not (tmp_path / "out").exists()
    # auto falls back to NumPy, and a memory limit too small for NumPy's buffers is refused up front, naming the spec.
    result = invoke("apply", str(audio), "-o", str(tmp_path / "o.wav"), "--spec", spec, "--block-size", "65536", "--memory-limit", "20M")
    assert result.exit_code != 0 and one_error(result).startswith(f"Error: {spec}: ")
