"""Batches, long files, pipes and bad input through the real command line."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.audio import TEMP_MARK
from wavedil.batch import Job, LocalWorkers, Options, run_jobs
from wavedil.cli.main import cli
from wavedil.errors import SpecError

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(*args: str, cwd: Path | None = None, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, cwd=cwd, input=stdin, timeout=timeout)


def write(path: Path, seconds: float = 0.5, rate: int = 48000, channels: int = 1, subtype: str = "PCM_16", seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0, 0.2, (int(seconds * rate), channels)).clip(-0.99, 0.99)
    sf.write(path, x, rate, subtype=subtype)
    return sf.read(path, always_2d=True)[0]


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TEMP_MARK in p.name]


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode()
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    return lines[0]


SMOOTH = wavedil.preset("smooth")


def smooth(x: np.ndarray) -> np.ndarray:
    return wavedil.apply(SMOOTH, x)


# -- many inputs ----------------------------------------------------------------


def test_batch_with_a_bad_file_reports_it_and_does_the_rest(tmp_path):
    good = [tmp_path / f"take{i}.wav" for i in range(3)]
    for i, p in enumerate(good):
        write(p, seed=i)
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    proc = run("apply", *map(str, good[:2]), str(bad), str(good[2]), "-d", str(tmp_path / "out"), "--json", "--jobs", "2")
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(lines) == 5 and lines[-1]["summary"] is True
    by_input = {d["input"]: d for d in lines[:-1]}
    assert by_input[str(bad)]["status"] == "error" and str(bad) in by_input[str(bad)]["error"]
    for p in good:
        d = by_input[str(p)]
        assert d["status"] == "ok" and d["error"] is None
        assert set(d) >= {"input", "output", "status", "error", "seconds_audio", "seconds_wall", "clipped_samples"}
        assert d["seconds_audio"] == pytest.approx(0.5)
        y = sf.read(d["output"], always_2d=True)[0]
        np.testing.assert_allclose(y, smooth(sf.read(p, always_2d=True)[0]), atol=1 / 32768 + 1e-6)
    summary = lines[-1]
    assert (summary["files"], summary["ok"], summary["error"], summary["skipped"]) == (4, 3, 1, 0)
    assert one_error_line(proc).startswith(f"Error: {bad}")
    assert not (tmp_path / "out" / "broken.wav").exists() and not temps(tmp_path)


def test_recursive_keeps_layout_with_suffix_ext_and_reports(tmp_path):
    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    write(src / "one.wav")
    write(src / "a" / "two.flac", channels=2)
    write(src / "a" / "b" / "three.wav", rate=44100)
    (src / "a" / "notes.txt").write_text("not audio, not picked up")
    proc = run("apply", str(src), "-d", str(tmp_path / "out"), "--recursive", "--suffix", "_s", "--ext", "flac", "--report-dir", str(tmp_path / "rep"), "-q")
    assert proc.returncode == 0, proc.stderr
    for rel in ("one_s.flac", "a/two_s.flac", "a/b/three_s.flac"):
        assert sf.info(tmp_path / "out" / rel).format == "FLAC"
    report = json.loads((tmp_path / "rep" / "a" / "b" / "three_s.json").read_text())
    assert report["sample_rate"] == 44100 and report["audio"]["input"].endswith("three.wav")
    assert proc.stdout == b""


def test_directory_without_recursive_is_an_error(tmp_path):
    (tmp_path / "folder").mkdir()
    proc = run("apply", str(tmp_path / "folder"), "-d", str(tmp_path / "out"))
    assert proc.returncode == 1 and "--recursive" in one_error_line(proc)


def test_same_output_twice_in_one_batch(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    write(tmp_path / "x" / "take.wav", seed=1)
    write(tmp_path / "y" / "take.wav", seed=2)
    proc = run("apply", str(tmp_path / "x" / "take.wav"), str(tmp_path / "y" / "take.wav"), "-d", str(tmp_path / "out"), "--json")
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()][:-1]
    assert sorted(d["status"] for d in lines) == ["error", "ok"]
    assert "same output" in [d for d in lines if d["status"] == "error"][0]["error"]


def test_parallel_batch_equals_serial(tmp_path):
    files = [tmp_path / f"f{i}.wav" for i in range(4)]
    for i, p in enumerate(files):
        write(p, seed=i, channels=2)
    assert run("apply", *map(str, files), "-d", str(tmp_path / "serial"), "--jobs", "1", "--preset", "drive").returncode == 0
    assert run("apply", *map(str, files), "-d", str(tmp_path / "parallel"), "--jobs", "2", "--preset", "drive").returncode == 0
    for p in files:
        assert (tmp_path / "serial" / p.name).read_bytes() == (tmp_path / "parallel" / p.name).read_bytes()


# -- resume after kill -9 -------------------------------------------------------


def test_killed_run_leaves_no_partial_output_and_resume_finishes(tmp_path):
    src = tmp_path / "long.wav"
    write(src, seconds=40, rate=48000)
    out = tmp_path / "out"
    out.mkdir()
    # The WaveNet preset is slow enough to be caught mid-write.
    proc = subprocess.Popen([sys.executable, "-m", "wavedil", "apply", str(src), "-d", str(out), "--preset", "wavenet"])
    deadline = time.time() + 60
    while not temps(out) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stale = temps(out)
    assert stale and all(p.name.startswith(".") for p in stale)
    assert not (out / "long.wav").exists()
    second = tmp_path / "short.wav"
    write(second, seconds=0.2)
    done = run("apply", str(src), str(second), "-d", str(out), "--skip-existing", "--preset", "smooth", "--json")
    assert done.returncode == 0, done.stderr
    assert not temps(out)
    statuses = [json.loads(line)["status"] for line in done.stdout.decode().splitlines()[:-1]]
    assert statuses == ["ok", "ok"]
    again = run("apply", str(src), str(second), "-d", str(out), "--skip-existing", "--json")
    assert [json.loads(line)["status"] for line in again.stdout.decode().splitlines()[:-1]] == ["skipped", "skipped"]
    assert again.returncode == 0


def _kill_workers(times: int) -> Callable[[float], None]:
    """A progress callback that kills the worker processes of this process, the first ``times`` times it is called.

    Progress comes from a worker as it finishes a block, so the worker is in
    the middle of a file: a kill then stands for the OOM killer, not for a
    process cut off while it sends a result (which CPython's pools cannot survive).
    """
    calls = []

    def on_progress(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) <= times:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)

    return on_progress


def _jobs(tmp_path: Path, count: int, seconds: float) -> list[Job]:
    jobs = []
    for i in range(count):
        write(tmp_path / f"in{i}.wav", seconds=seconds, seed=i)
        jobs.append(Job(str(tmp_path / f"in{i}.wav"), str(tmp_path / "out" / f"in{i}.wav")))
    return jobs


def test_workers_killed_mid_batch_cost_a_retry_not_the_files(tmp_path):
    stack = wavedil.preset("wavenet")
    jobs = _jobs(tmp_path, 2, 1.0)
    results = run_jobs(jobs, stack, Options(), LocalWorkers(2), on_progress=_kill_workers(1))
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    serial = [Job(j.input, str(tmp_path / "serial" / Path(j.output).name)) for j in jobs]
    assert [r.status for r in run_jobs(serial, stack, Options(), LocalWorkers(1))] == ["ok", "ok"]
    for job, ref in zip(jobs, serial):
        assert Path(job.output).read_bytes() == Path(ref.output).read_bytes()
    assert not temps(tmp_path / "out")


def test_files_whose_workers_keep_dying_are_errors_and_leave_nothing(tmp_path):
    jobs = _jobs(tmp_path, 2, 1.0)
    results = run_jobs(jobs, wavedil.preset("wavenet"), Options(), LocalWorkers(2), on_progress=_kill_workers(1000))
    for job, r in zip(jobs, results):
        assert r.status == "error" and r.error == f"{job.input}: a worker process died on this file (killed, or out of memory?)"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


class _BreaksOnce:
    """Stands for a process pool whose first incarnation loses a worker: its futures fail as CPython's do."""

    made = 0

    def __init__(self, workers: int) -> None:
        type(self).made += 1
        self.broken = type(self).made == 1
        self.threads = ThreadPoolExecutor(workers)

    def submit(self, fn, *args):
        if self.broken:
            fut: Future = Future()
            fut.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
            return fut
        return self.threads.submit(fn, *args)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.threads.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_a_long_file_whose_segment_worker_died_runs_again_on_a_new_pool(tmp_path, monkeypatch):
    monkeypatch.setattr(_BreaksOnce, "made", 0)
    monkeypatch.setattr("wavedil.batch.worker_pool", _BreaksOnce)
    (job,) = _jobs(tmp_path, 1, 8.0)
    stack = wavedil.preset("drive")
    (result,) = run_jobs([job], stack, Options(block_size=4096), LocalWorkers(2))
    assert result.status == "ok" and _BreaksOnce.made == 2
    (ref,) = run_jobs([Job(job.input, str(tmp_path / "serial.wav"))], stack, Options(block_size=4096), LocalWorkers(1))
    assert Path(job.output).read_bytes() == Path(ref.output).read_bytes()
    assert not temps(tmp_path / "out")


def _default_ctrl_c() -> None:
    # A shell starts background jobs with Ctrl-C ignored, and an ignored signal stays ignored
    # across exec: the command under test gets Ctrl-C as a terminal would give it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path):
    src = tmp_path / "long.wav"
    write(src, seconds=40)
    out = tmp_path / "out.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wavedil", "apply", str(src), "-o", str(out), "--preset", "wavenet"],
        stderr=subprocess.PIPE,
        preexec_fn=_default_ctrl_c,
    )
    deadline = time.time() + 60
    while not temps(tmp_path) and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"Traceback" not in err and b"interrupted" in err
    assert not out.exists() and not temps(tmp_path)


# -- long files: memory does not grow with length ------------------------------------


MEASURE = """
import resource, sys
import wavedil
wavedil.process_file(sys.argv[1], sys.argv[2], wavedil.preset("lowpass-64"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_file_length(tmp_path):
    peaks = []
    for minutes in (0.5, 5):
        src = tmp_path / f"{minutes}.wav"
        n = int(minutes * 60 * 48000)
        with sf.SoundFile(src, "w", 48000, 2, subtype="PCM_16") as f:
            rng = np.random.default_rng(0)
            for start in range(0, n, 480000):
                f.write(rng.normal(0, 0.1, (min(480000, n - start), 2)))
        out = subprocess.run([sys.executable, "-c", MEASURE, str(src), str(tmp_path / f"out{minutes}.wav")], capture_output=True, check=True)
        peaks.append(int(out.stdout.decode().split()[-1]))  # KiB
        assert sf.info(tmp_path / f"out{minutes}.wav").frames == n
    # Ten times the audio (55 MB more input) within a few MB of the same peak.
    assert peaks[1] - peaks[0] < 8 * 1024


# -- pipes --------------------------------------------------------------------


def test_stdin_to_stdout(tmp_path):
    x = write(tmp_path / "in.wav", channels=2, subtype="PCM_24")
    proc = run("apply", "-", "-o", "-", stdin=(tmp_path / "in.wav").read_bytes())
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "piped.wav").write_bytes(proc.stdout)
    y, rate = sf.read(tmp_path / "piped.wav", always_2d=True)
    assert rate == 48000 and sf.info(tmp_path / "piped.wav").subtype == "PCM_24" and y.shape == x.shape
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "file.wav")).returncode == 0
    assert np.array_equal(y, sf.read(tmp_path / "file.wav", always_2d=True)[0])


def test_pipe_chain_of_two_stages(tmp_path):
    write(tmp_path / "in.wav")
    first = run("apply", str(tmp_path / "in.wav"), "-o", "-", "--preset", "presence")
    second = run("apply", "-", "-o", "-", "--preset", "smooth", stdin=first.stdout)
    assert second.returncode == 0
    (tmp_path / "two.wav").write_bytes(second.stdout)
    assert sf.info(tmp_path / "two.wav").frames == 24000


def test_stdin_that_is_not_audio(tmp_path):
    proc = run("apply", "-", "-o", str(tmp_path / "o.wav"), stdin=b"hello")
    assert proc.returncode == 1 and one_error_line(proc).startswith("Error: -:")
    assert not (tmp_path / "o.wav").exists()


# -- bad input, one line each ---------------------------------------------------------


def _made(path: Path, data: bytes | None) -> Path:
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    return path


def _truncated(tmp: Path, keep: float) -> Path:
    write(tmp / "whole.wav", seconds=1)
    data = (tmp / "whole.wav").read_bytes()
    p = tmp / f"cut{keep}.wav"
    p.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data[:30])
    return p


@pytest.mark.parametrize(
    "make,fragment",
    [
        (lambda t: t / "missing.wav", "no such file"),
        (lambda t: _made(t / "adir.wav", None), "directory"),
        (lambda t: _made(t / "zero.wav", b""), "empty"),
        (lambda t: _made(t / "text.wav", b"hello world, not a riff"), "not a readable audio file"),
        (lambda t: _truncated(t, 2), "not a readable audio file"),
        (lambda t: _truncated(t, 0.6), "truncated"),
    ],
    ids=["missing", "directory", "zero-byte", "text", "truncated-header", "truncated-data"],
)
def test_bad_inputs_get_one_line_and_leave_nothing(tmp_path, make, fragment):
    bad = make(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = run("apply", str(bad), "-o", str(out / "o.wav"))
    line = one_error_line(proc)
    assert proc.returncode == 1 and str(bad) in line and fragment in line
    assert not list(out.iterdir())


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root reads files whatever their permissions")
def test_unreadable_input(tmp_path):
    p = tmp_path / "locked.wav"
    write(p)
    p.chmod(0)
    proc = run("apply", str(p), "-o", str(tmp_path / "o.wav"))
    assert proc.returncode == 1 and "permission denied" in one_error_line(proc)


def test_nan_refused_or_sanitized(tmp_path):
    x = np.random.default_rng(0).normal(0, 0.1, (1000, 2))
    x[10, 0] = np.nan
    x[500, 1] = np.inf
    x[501, 1] = -np.inf
    sf.write(tmp_path / "nan.wav", x, 48000, subtype="FLOAT")
    proc = run("apply", str(tmp_path / "nan.wav"), "-o", str(tmp_path / "o.wav"))
    assert proc.returncode == 1 and "NaN or infinite" in one_error_line(proc) and "frame 10" in proc.stderr.decode()
    assert not (tmp_path / "o.wav").exists()
    proc = run("apply", str(tmp_path / "nan.wav"), "-o", str(tmp_path / "o.wav"), "--sanitize", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout.decode().splitlines()[0])["sanitized_samples"] == 3
    clean = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    np.testing.assert_allclose(sf.read(tmp_path / "o.wav")[0], smooth(clean), atol=1e-6)


def test_zero_length_audio_and_shorter_than_the_field(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros((0, 2)), 48000)
    assert run("apply", str(tmp_path / "empty.wav"), "-o", str(tmp_path / "o.wav")).returncode == 0
    assert sf.info(tmp_path / "o.wav").frames == 0
    x = write(tmp_path / "short.wav", seconds=3 / 48000, subtype="FLOAT")
    assert run("apply", str(tmp_path / "short.wav"), "-o", str(tmp_path / "s.wav"), "--preset", "lowpass-64").returncode == 0
    y = sf.read(tmp_path / "s.wav", always_2d=True)[0]
    np.testing.assert_allclose(y[:, 0], np.cumsum(x[:, 0]) / 64, atol=1e-7)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_every_sample_format_round_trips(tmp_path, subtype):
    x = write(tmp_path / "in.wav", subtype=subtype, channels=2)
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav")).returncode == 0
    assert sf.info(tmp_path / "o.wav").subtype == subtype
    step = {"PCM_U8": 1 / 128, "PCM_16": 1 / 32768, "PCM_24": 2**-23, "PCM_32": 2**-31}.get(subtype, 0)
    np.testing.assert_allclose(sf.read(tmp_path / "o.wav", always_2d=True)[0], smooth(x), atol=step + 1e-6)


@pytest.mark.parametrize("channels", [1, 2, 3, 6, 8])
@pytest.mark.parametrize("rate", [8000, 44100, 192000])
def test_channels_and_rates(tmp_path, channels, rate):
    x = write(tmp_path / "in.wav", seconds=0.05, rate=rate, channels=channels, subtype="FLOAT")
    assert run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav")).returncode == 0
    y, r = sf.read(tmp_path / "o.wav", always_2d=True)
    assert r == rate and y.shape == x.shape
    np.testing.assert_allclose(y, smooth(x), atol=1e-6)


def test_output_folder_that_cannot_be_written(tmp_path):
    write(tmp_path / "in.wav")
    (tmp_path / "afile").write_text("a file, not a folder")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "afile" / "o.wav"))
    assert proc.returncode == 1 and str(tmp_path / "afile") in one_error_line(proc)
    proc = run("apply", str(tmp_path / "in.wav"), "-d", str(tmp_path / "afile" / "sub"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr.decode()


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root writes in folders whatever their permissions")
def test_read_only_output_folder(tmp_path):
    write(tmp_path / "in.wav")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(ro / "o.wav"))
    assert proc.returncode == 1 and "Permission denied" in one_error_line(proc)


def test_disk_full_while_writing(tmp_path, monkeypatch):
    write(tmp_path / "a.wav", seconds=1)
    write(tmp_path / "b.wav", seconds=1)
    real_write = sf.SoundFile.write
    calls = {"n": 0}

    def full_disk(self, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", full_disk)
    result = CliRunner().invoke(cli, ["apply", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "-d", str(tmp_path / "out"), "--jobs", "1", "--block-size", "4096"])
    assert result.exit_code == 1
    assert "write failed: no space left on device" in result.output
    outs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outs == ["b.wav"]  # a.wav failed and left nothing; b.wav still done
    assert not temps(tmp_path)


def test_output_equal_to_input_and_existing_output(tmp_path):
    write(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "in.wav"))
    assert proc.returncode == 1 and "is the input" in one_error_line(proc)
    proc = run("apply", str(tmp_path / "in.wav"), "-d", str(tmp_path))
    assert proc.returncode == 1 and "is the input" in one_error_line(proc)
    (tmp_path / "o.wav").write_bytes(b"keep me")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav"))
    assert proc.returncode == 1 and "--force" in one_error_line(proc)
    assert (tmp_path / "o.wav").read_bytes() == b"keep me"


# -- specs and .nam files are data -------------------------------------------------------


def test_hostile_spec_sizes_are_refused(tmp_path):
    cases = {
        "dilation": '[[layers]]\ndilation = 1099511627776\nweights = [0.5, 0.5]\n',
        "kernel": '[[layers]]\nkernel_size = 1000000000\nweights = [0.5, 0.5]\n',
        "wavenet": '[[layers]]\ntype = "wavenet"\ninit = { seed = 1 }\n[[layers.arrays]]\nchannels = 1000000\nkernel_size = 3\ndilations = [1]\n',
        "rf": "".join(f"[[layers]]\ndilation = {2**20}\nweights = [0.5, 0.5]\n" for _ in range(20)),
    }
    for name, text in cases.items():
        p = tmp_path / f"{name}.toml"
        p.write_text(text)
        with pytest.raises(SpecError, match="limit|exceeds|does not match|but weights"):
            wavedil.load_spec(p)
        proc = run("report", "--spec", str(p))
        assert proc.returncode == 1 and str(p) in one_error_line(proc)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=40,
)
LAYER_KEYS = st.sampled_from(["type", "dilation", "kernel_size", "weights", "bias", "activation", "arrays", "init", "head_scale", "channels", "dilations", "gated", "head_size"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSONISH, layer=st.dictionaries(LAYER_KEYS, JSONISH, max_size=6))
def test_spec_parser_fuzz_raises_only_spec_errors(doc, layer):
    for candidate in (doc, {"layers": [layer]}, {"layers": [layer, layer], "padding": doc}):
        try:
            wavedil.parse_spec(candidate)
        except SpecError:
            pass


def test_spec_files_are_never_evaluated(tmp_path):
    p = tmp_path / "evil.toml"
    p.write_text('[[layers]]\nweights = "__import__(\'os\').system(\'touch pwned\')"\n')
    proc = run("report", "--spec", str(p), cwd=tmp_path)
    assert proc.returncode == 1 and not (tmp_path / "pwned").exists()


CTRL_C_WHILE_STARTING = """
import os, signal, subprocess, sys
from wavedil.workers import worker_pool
if __name__ == "__main__":
    # Ctrl-C 0.1 s into the start of the workers (which takes longer: they are spawned interpreters).
    subprocess.Popen(["sh", "-c", f"sleep 0.1; kill -INT {os.getpid()}"])
    try:
        pool = worker_pool(2)
        pool.submit(os.getpid).result()
        import time; time.sleep(3)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
"""


def test_ctrl_c_while_the_workers_start_is_not_lost(tmp_path):
    """Workers start with Ctrl-C ignored; the parent holds one that comes meanwhile and gets it after."""
    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_WHILE_STARTING)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, preexec_fn=_default_ctrl_c)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
