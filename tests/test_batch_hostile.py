"""Batches and options as an attacker or a careless user would use them: nothing is lost, nothing escapes, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import wavedil
from wavedil.audio import TEMP_MARK
from wavedil.batch import MAX_BLOCK_SIZE, Options, collect_jobs
from wavedil.cli.main import cli
from wavedil.errors import SpecError, WavedilError
from wavedil.workers import max_workers, worker_pool

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
FIXTURES = Path(__file__).parent / "fixtures" / "nam" / "v0_5"


def write(path: Path, seconds: float = 0.1, seed: int = 0) -> bytes:
    x = np.random.default_rng(seed).normal(0, 0.2, int(seconds * 48000)).clip(-0.99, 0.99)
    sf.write(path, x, 48000, subtype="PCM_16")
    return path.read_bytes()


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_error(result, code: int = 1) -> str:
    """The single ``Error:`` line of a failed in-process run."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def usage_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr


def every_file(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


# -- a batch never replaces what it reads ---------------------------------------------------


def test_an_output_that_is_another_input_of_the_batch_is_refused_and_the_input_kept(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    write(d / "a.wav", seed=1)
    kept = write(d / "a_s.wav", seed=2)
    result = invoke("apply", str(d / "a.wav"), str(d / "a_s.wav"), "-d", str(d), "--suffix", "_s", "--force", "-j", "1", "--json")
    assert result.exit_code == 1
    assert (d / "a_s.wav").read_bytes() == kept
    by_input = {r["input"]: r for r in map(json.loads, result.stdout.splitlines()[:-1])}
    refused = by_input[str(d / "a.wav")]
    assert refused["status"] == "error" and "another input of this batch" in refused["error"]
    # The job whose output replaces nothing still runs.
    assert by_input[str(d / "a_s.wav")]["status"] == "ok" and (d / "a_s_s.wav").exists()


def test_an_output_hard_linked_to_an_input_is_refused(tmp_path):
    d, out = tmp_path / "d", tmp_path / "out"
    d.mkdir()
    out.mkdir()
    write(d / "b.wav", seed=1)
    kept = write(d / "c.wav", seed=2)
    os.link(d / "c.wav", out / "b.wav")  # b's output is the very file c's input is
    result = invoke("apply", str(d / "b.wav"), str(d / "c.wav"), "-d", str(out), "--force", "-j", "1")
    assert result.exit_code == 1
    assert f"{out / 'b.wav'}: the output of {d / 'b.wav'} would replace {d / 'c.wav'}" in result.stderr
    assert (d / "c.wav").read_bytes() == (out / "b.wav").read_bytes() == kept


def test_a_report_that_is_an_input_of_the_batch_is_refused(tmp_path):
    write(tmp_path / "a.wav")
    notes = tmp_path / "a.json"
    notes.write_text('{"mine": true}')
    # a.wav's report is tmp/a.json, which the same batch reads (and refuses: it is not audio).
    result = invoke("apply", str(tmp_path / "a.wav"), str(notes), "-d", str(tmp_path / "out"), "--report-dir", str(tmp_path), "-j", "1")
    assert result.exit_code == 1
    assert f"{notes}: the report of {tmp_path / 'a.wav'} would replace {notes}" in result.stderr
    assert notes.read_text() == '{"mine": true}'
    assert not (tmp_path / "out" / "a.wav").exists()


@pytest.mark.parametrize("option, value", [("--suffix", "/../../x"), ("--suffix", "_a/b"), ("--suffix", ".."), ("--suffix", "x\0y"), ("--ext", "../wav"), ("--ext", "/wav")])
def test_a_suffix_or_extension_with_a_path_is_a_usage_error(tmp_path, option, value):
    write(tmp_path / "in.wav")
    (tmp_path / "out").mkdir()
    before = every_file(tmp_path)
    result = invoke("apply", str(tmp_path / "in.wav"), "-d", str(tmp_path / "out"), option, value)
    assert f"Invalid value for '{option}'" in usage_error(result)
    assert every_file(tmp_path) == before


def test_collect_jobs_refuses_a_suffix_with_a_path(tmp_path):
    with pytest.raises(WavedilError, match="not part of a file name"):
        collect_jobs([str(tmp_path / "in.wav")], outdir=str(tmp_path / "out"), suffix="/../x")


def test_no_output_lands_outside_outdir_through_a_symbolic_link(tmp_path):
    src, out, elsewhere = tmp_path / "src", tmp_path / "out", tmp_path / "elsewhere"
    (src / "sub").mkdir(parents=True)
    out.mkdir()
    elsewhere.mkdir()
    write(src / "sub" / "x.wav")
    write(src / "y.wav")
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    result = invoke("apply", str(src), "-d", str(out), "--recursive", "-j", "1")
    assert result.exit_code == 1
    assert f"{out / 'sub' / 'x.wav'}: resolves to {elsewhere / 'x.wav'}, outside {out}" in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert (out / "y.wav").exists()


# -- resuming and bad inputs -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "txt"])
def test_skip_existing_writes_the_report_a_killed_run_did_not(tmp_path, fmt):
    write(tmp_path / "in.wav", seconds=0.2)
    args = ["apply", str(tmp_path / "in.wav"), "-d", str(tmp_path / "out"), "--report-dir", str(tmp_path / "rep"), "--report-format", fmt, "-j", "1"]
    assert invoke(*args).exit_code == 0
    report = tmp_path / "rep" / f"in.{fmt}"
    full = report.read_text()
    report.unlink()  # as if the run had been killed between the audio and the report
    audio = (tmp_path / "out" / "in.wav").read_bytes()
    result = invoke(*args, "--skip-existing", "--json")
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["status"] == "skipped" and line["report"] == str(report)
    assert (tmp_path / "out" / "in.wav").read_bytes() == audio
    if fmt == "txt":
        text = report.read_text()
        assert "9,600 frames" in text and "the output existed" in text and "output peak / gain" not in text
        return
    first, again = json.loads(full), json.loads(report.read_text())
    assert set(again) == set(first)
    assert set(again["audio"]) == set(first["audio"]) | {"skipped"}
    assert again["audio"]["skipped"] is True
    for key in ("input", "output", "frames", "sample_rate", "channels", "out_channels", "format", "subtype"):
        assert again["audio"][key] == first["audio"][key], key
    assert again["audio"]["peak"] is None and again["audio"]["clipped_samples"] is None
    assert {k: v for k, v in again.items() if k != "audio"} == {k: v for k, v in first.items() if k != "audio"}


def _missing(tmp: Path) -> Path:
    return tmp / "missing.wav"


def _not_audio(tmp: Path) -> Path:
    (tmp / "text.wav").write_text("not audio")
    return tmp / "text.wav"


def _unreadable(tmp: Path) -> Path:
    write(tmp / "locked.wav")
    (tmp / "locked.wav").chmod(0)
    return tmp / "locked.wav"


@pytest.mark.parametrize("make", [_missing, _not_audio, pytest.param(_unreadable, marks=pytest.mark.skipif(RUNNING_AS_ROOT, reason="root reads files whatever their permissions"))])
def test_a_bad_input_makes_no_output_or_report_folders(tmp_path, make):
    bad = make(tmp_path)
    result = invoke("apply", str(bad), "-d", str(tmp_path / "out" / "deep"), "--report-dir", str(tmp_path / "rep" / "deep"), "-j", "1")
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "rep").exists()


# -- one rule for paths: a file of the wrong kind is an error in the input (exit 1) ----------------


def _paths(tmp: Path) -> dict[str, Path]:
    write(tmp / "in.wav")
    (tmp / "folder").mkdir()
    (tmp / "afile").write_text("a file")
    return {"in": tmp / "in.wav", "folder": tmp / "folder", "file": tmp / "afile"}


@pytest.mark.parametrize(
    "args",
    [
        ["apply", "{in}", "-o", "{tmp}/o.wav", "--spec", "{folder}"],
        ["apply", "{in}", "-d", "{file}"],
        ["apply", "{in}", "-d", "{tmp}/out", "--report-dir", "{file}"],
        ["apply", "{in}", "-o", "{tmp}/o.wav", "--report", "{folder}"],
        ["report", "--spec", "{folder}"],
        ["report", "-o", "{folder}"],
        ["report", "--audio", "{folder}", "--preset", "drive"],
        ["report", "--plot", "{folder}"],
        ["plan", "--target", "100", "--write", "{folder}"],
    ],
)
def test_a_path_naming_the_wrong_kind_of_file_is_one_error_line(tmp_path, args):
    paths = {k: str(v) for k, v in _paths(tmp_path).items()}
    result = invoke(*(a.format(tmp=tmp_path, **paths) for a in args))
    one_error(result, 1)


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root reads files whatever their permissions")
def test_an_unreadable_spec_is_one_error_line(tmp_path):
    spec = tmp_path / "stack.toml"
    spec.write_text("[[layers]]\nweights = [1.0]\n")
    spec.chmod(0)
    assert "permission denied" in one_error(invoke("report", "--spec", str(spec)), 1)


# -- limits of the options ------------------------------------------------------------------------


def test_jobs_beyond_four_per_core_are_a_usage_error(tmp_path):
    write(tmp_path / "in.wav")
    cap = max_workers()
    result = invoke("apply", str(tmp_path / "in.wav"), "-d", str(tmp_path / "out"), "-j", str(cap + 1))
    assert f"at most {cap}" in usage_error(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", [str(2**62), str(10**30), str(MAX_BLOCK_SIZE + 1)])
def test_a_huge_block_size_is_a_usage_error_naming_the_cap(tmp_path, size):
    write(tmp_path / "in.wav")
    result = invoke("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav"), "--block-size", size)
    assert str(MAX_BLOCK_SIZE) in usage_error(result)
    with pytest.raises(WavedilError, match=str(MAX_BLOCK_SIZE)):
        Options(block_size=int(size))


@pytest.mark.parametrize("stacks", ["3000", "1000000000"])
def test_stacks_beyond_the_layer_limit_are_refused_before_the_layers_are_built(stacks):
    # A value given on the command line: a usage mistake, exit 2, as for every number out of range.
    message = usage_error(invoke("report", "--dilations", "1,2", "--kernel-size", "2", "--stacks", stacks))
    assert message.splitlines()[-1] == f"Error: Invalid value for '--stacks': 2 dilation(s) x {stacks} make {2 * int(stacks)} layers, over the limit of 4096"


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--target", "9" * 400],
        ["plan", "--target", "9" * 400 + "ms", "--sample-rate", "48000"],
        ["plan", "--target", "9" * 5000 + "s", "--sample-rate", "48000"],
    ],
)
def test_a_target_of_hundreds_of_digits_is_a_usage_error(args):
    # A target out of range is an argument that cannot work: exit 2, as for every number out of range.
    assert "must be 1 to 16777216 samples" in usage_error(invoke(*args))


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--sample-rate", "1" + "0" * 30],
        ["plan", "--target", "100", "--sample-rate", "10000001"],
        ["report", "--freq", "nan"],
        ["report", "--freq", "100," + "9" * 400],
        ["report", "--taps", "0.5,inf", "--dilations", "1"],
        ["report", "--diagram", "--diagram-width", "9" * 30],
    ],
)
def test_numbers_out_of_range_are_usage_errors(args):
    usage_error(invoke(*args))


@pytest.mark.parametrize("kind", ["toml", "json"])
def test_an_integer_of_thousands_of_digits_in_a_spec_is_one_error_line(tmp_path, kind):
    digits = "9" * 5000
    spec = tmp_path / f"stack.{kind}"
    if kind == "toml":
        spec.write_text(f"[[layers]]\ndilation = {digits}\nweights = [1.0]\n")
    else:
        spec.write_text(f'{{"layers": [{{"dilation": {digits}, "weights": [1.0]}}]}}')
    line = one_error(invoke("report", "--spec", str(spec)), 1)
    assert line.startswith(f"Error: {spec}: ") and "digits" in line


@pytest.mark.parametrize(
    "layer, field",
    [
        ({"weights": [1.0, 10**400]}, "weights"),
        ({"weights": [[[10**400]]]}, "weights"),
        ({"weights": [1.0], "bias": 10**400}, "bias"),
        ({"weights": [1.0], "bias": [-(10**400)]}, "bias"),
        ({"type": "wavenet", "head_scale": 10**400, "init": {"seed": 1}, "arrays": [{"channels": 2, "kernel_size": 2, "dilations": [1]}]}, "head_scale"),
        ({"type": "wavenet", "head_scale": 10**200, "init": {"seed": 1}, "arrays": [{"channels": 2, "kernel_size": 2, "dilations": [1]}]}, None),
    ],
)
def test_integers_beyond_any_float_are_spec_errors(layer, field):
    if field is None:  # large but a float: a valid (if loud) scale
        wavedil.parse_spec({"layers": [layer]})
        return
    with pytest.raises(SpecError) as exc:
        wavedil.parse_spec({"layers": [layer]})
    assert exc.value.field == field


# -- duplicate keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key",
    [
        ('{"layers": [{"dilation": 1, "weights": [1.0], "dilation": 4}]}', "dilation"),
        ('{"layers": [{"weights": [1.0]}], "layers": [{"weights": [0.5]}]}', "layers"),
    ],
)
def test_a_json_spec_with_a_repeated_key_is_refused(tmp_path, text, key):
    spec = tmp_path / "stack.json"
    spec.write_text(text)
    line = one_error(invoke("report", "--spec", str(spec)), 1)
    assert line == f"Error: {spec}: the key '{key}' appears twice in one object"


def test_a_nam_file_with_a_repeated_key_is_refused(tmp_path):
    text = (FIXTURES / "linear.nam").read_text(encoding="utf-8-sig")
    doc = json.loads(text)
    # The last "weights" would win silently: the model would run with weights its author never saw.
    body = json.dumps(doc)
    twice = body[:-1] + ', "weights": ' + json.dumps([0.0] * len(doc["weights"])) + "}"
    nam = tmp_path / "twice.nam"
    nam.write_text(twice)
    with pytest.raises(SpecError, match=r"the key 'weights' appears twice") as exc:
        wavedil.load_spec(nam)
    assert exc.value.source == str(nam)


# -- pipes and killed processes -----------------------------------------------------------------------


def test_json_to_a_closed_pipe_finishes_the_batch_and_says_so(tmp_path):
    for name in ("a", "b"):
        write(tmp_path / f"{name}.wav")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every write meets a closed pipe
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "wavedil", "apply", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "-d", str(tmp_path / "out"), "--json", "-j", "1"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: standard output was closed"), err
    assert "2 ok" in lines[0]
    assert (tmp_path / "out" / "a.wav").exists() and (tmp_path / "out" / "b.wav").exists()


def test_no_leaked_semaphore_warning_when_the_command_is_killed(tmp_path):
    write(tmp_path / "long.wav", seconds=20)
    write(tmp_path / "short.wav", seconds=2)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wavedil", "apply", str(tmp_path / "long.wav"), str(tmp_path / "short.wav"), "-d", str(out), "-j", "2", "--preset", "wavenet"],
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while not any(TEMP_MARK in p.name for p in out.iterdir()) and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    # Standard error ends when the last process holding it does: the workers, then multiprocessing's resource tracker.
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert "leaked semaphore" not in err.decode() and "Traceback" not in err.decode(), err.decode()


def test_a_pool_whose_workers_die_as_they_start_is_an_error():
    with pytest.raises(WavedilError, match="died as they started"):
        worker_pool(1, initializer=os._exit, initargs=(3,))
