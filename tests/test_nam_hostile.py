"""Hostile .nam files and paths: one Error line each, nothing overwritten, nothing hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wavedil.errors import SpecError
from wavedil.formats.nam import check_version, parse_nam

LINEAR = {"version": "0.5.4", "architecture": "Linear", "config": {"receptive_field": 2, "bias": False}, "weights": [1.0, 0.5]}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, text=True, timeout=60)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("kind", ["fifo", "device", "device_link"])
def test_a_model_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    path = tmp_path / "m.nam"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block until a writer comes
    elif kind == "device_link":
        path.symlink_to("/dev/zero")  # reading it would never end
    else:
        path = Path("/dev/zero")
    line = one_error_line(run("report", "--spec", str(path)))
    assert "not a regular file" in line and str(path) in line


@pytest.mark.parametrize(
    "weights, message",
    [([1.0, 1e39], "beyond float32"), ([1.0, 10**400], "too large"), ([1.0, -3.5e38], "beyond float32")],
)
def test_weights_beyond_float32_are_refused(weights, message):
    with pytest.raises(SpecError, match=message):
        parse_nam(dict(LINEAR, weights=weights))


def test_activation_parameters_beyond_float32_are_refused():
    from wavedil.activations import parse_nam_activation

    for value in (1e39, 10**400, 1e308):
        with pytest.raises(SpecError):
            parse_nam_activation({"type": "LeakyHardtanh", "min_val": -1, "max_val": 1, "min_slope": 0.1, "max_slope": value}, field="a")


def test_a_huge_container_max_value_is_a_spec_error():
    sub = dict(LINEAR, sample_rate=48000)
    doc = {"version": "0.7.0", "architecture": "SlimmableContainer", "config": {"submodels": [{"max_value": 10**30, "model": sub}]}}
    with pytest.raises(SpecError, match="max_value"):
        parse_nam(doc)


@pytest.mark.parametrize("version", ["0.7.0\n", "\u0660.\u0667.\u0660", " 0.7.0"])
def test_versions_that_only_look_like_semver_are_refused(version):
    with pytest.raises(SpecError, match="unsupported file version"):
        check_version(version)


def test_no_output_or_report_replaces_the_model(tmp_path):
    import soundfile as sf

    model = tmp_path / "m.nam"
    model.write_text(json.dumps(LINEAR))
    before = model.read_bytes()
    sf.write(tmp_path / "in.wav", np.zeros(64), 48000)
    cases = [
        ("report", "--spec", str(model), "-o", str(model), "--force"),
        ("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(model), "--report", str(model), "--force"),
        ("apply", str(tmp_path / "in.wav"), "-o", str(model), "--spec", str(model), "--force"),
    ]
    for args in cases:
        assert "replace the --spec file" in one_error_line(run(*args))
        assert model.read_bytes() == before
    assert not (tmp_path / "out.wav").exists()


def test_a_byte_order_mark_is_read_past(tmp_path):
    from wavedil.formats.nam import load_nam

    path = tmp_path / "bom.nam"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(LINEAR).encode())
    assert load_nam(path).receptive_field == 2
