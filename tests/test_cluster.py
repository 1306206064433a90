"""Batches and long files on a Dask cluster: a LocalCluster of worker processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import wavedil
from wavedil.batch import Job, Options, run_jobs
from wavedil.segments import parallel_apply

distributed = pytest.importorskip("distributed")

from wavedil.cluster import ClusterExecutor, DaskCluster, connect  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c:
        yield c


@pytest.fixture()
def client(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wavedil", "apply", *args], check=False, capture_output=True, text=True, timeout=300)


def write(path: Path, seconds: float, channels: int = 1, seed: int = 0) -> None:
    x = np.random.default_rng(seed).normal(0.0, 0.2, (int(seconds * 48000), channels))
    sf.write(path, x, 48000, subtype="FLOAT")


def same_audio(a: Path, b: Path) -> bool:
    return np.array_equal(sf.read(a)[0], sf.read(b)[0])


def tasks_done(client, name: str) -> int:
    """Tasks of function ``name`` the scheduler has seen finish, over the module's cluster."""
    return client.run_on_scheduler(lambda dask_scheduler: sum(p.state_counts["memory"] for k, p in dask_scheduler.task_prefixes.items() if k == name))


def tasks_lost(client, name: str) -> int:
    """Times a task of function ``name`` was running on a worker that died."""
    return client.run_on_scheduler(lambda dask_scheduler: sum(p.suspicious for k, p in dask_scheduler.task_prefixes.items() if k == name))


def test_a_batch_equals_the_local_run(tmp_path, cluster):
    (tmp_path / "in").mkdir()
    for i in range(5):
        write(tmp_path / "in" / f"take{i}.wav", 0.5, channels=2, seed=i)
    proc = cli(str(tmp_path / "in"), "-r", "-d", str(tmp_path / "remote"), "--preset", "drive", "--json", "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["status"] for line in lines[:-1]] == ["ok"] * 5 and lines[-1]["ok"] == 5
    assert all(not line["input"].startswith("/") or line["input"].startswith(str(tmp_path)) for line in lines[:-1])
    assert cli(str(tmp_path / "in"), "-r", "-d", str(tmp_path / "local"), "--preset", "drive", "-j", "1").returncode == 0
    for i in range(5):
        assert same_audio(tmp_path / "remote" / f"take{i}.wav", tmp_path / "local" / f"take{i}.wav")
    assert not [p for p in (tmp_path / "remote").iterdir() if p.name.startswith(".")]
    # An interrupted batch: one output missing. The same command with --skip-existing finishes it.
    (tmp_path / "remote" / "take3.wav").unlink()
    proc = cli(str(tmp_path / "in"), "-r", "-d", str(tmp_path / "remote"), "--preset", "drive", "--json", "--skip-existing", "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    status = {Path(d["input"]).name: d["status"] for d in map(json.loads, proc.stdout.splitlines()[:-1])}
    assert status == {f"take{i}.wav": "skipped" if i != 3 else "ok" for i in range(5)}
    assert same_audio(tmp_path / "remote" / "take3.wav", tmp_path / "local" / "take3.wav")


def test_the_scheduler_from_the_environment(tmp_path, cluster):
    write(tmp_path / "a.wav", 0.2)
    env = {**os.environ, "WAVEDIL_SCHEDULER": cluster.scheduler_address}
    proc = subprocess.run([sys.executable, "-m", "wavedil", "apply", str(tmp_path / "a.wav"), "-d", str(tmp_path / "o"), "--json"], check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["status"] == "ok"


def test_one_long_file_in_segments_equals_the_local_run(tmp_path, cluster, client):
    write(tmp_path / "long.wav", 6.0, channels=2, seed=3)
    args = ["--preset", "drive", "--padding", "same", "--block-size", "1024"]
    before = tasks_done(client, "file_segment")
    proc = cli(str(tmp_path / "long.wav"), "-o", str(tmp_path / "remote.wav"), *args, "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    assert cli(str(tmp_path / "long.wav"), "-o", str(tmp_path / "local.wav"), *args, "-j", "1").returncode == 0
    assert same_audio(tmp_path / "remote.wav", tmp_path / "local.wav")
    # It did run as several segments on the workers (288,000 frames in segments of 36,864).
    assert tasks_done(client, "file_segment") - before >= 8


def test_segments_of_an_array_on_the_cluster(client):
    stack = wavedil.preset("wavenet")
    x = np.random.default_rng(2).normal(0.0, 0.3, 30_000).astype(np.float32)
    y = parallel_apply(stack, x, ClusterExecutor(client), workers=2, segment_frames=4096)
    assert np.array_equal(y, wavedil.apply(stack, x))


def test_a_bad_file_among_good_ones(tmp_path, cluster):
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "good1.wav", 0.3, seed=1)
    (tmp_path / "in" / "bad.wav").write_bytes(b"RIFF but not really audio")
    write(tmp_path / "in" / "good2.wav", 0.3, seed=2)
    proc = cli(str(tmp_path / "in"), "-r", "-d", str(tmp_path / "out"), "--json", "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 1
    status = {Path(d["input"]).name: d for d in map(json.loads, proc.stdout.splitlines()[:-1])}
    assert status["good1.wav"]["status"] == status["good2.wav"]["status"] == "ok"
    assert status["bad.wav"]["status"] == "error" and "bad.wav" in status["bad.wav"]["error"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.wav", "good2.wav"]
    assert [line for line in proc.stderr.splitlines() if line.startswith("Error:")] == [f"Error: {status['bad.wav']['error']}"]
    assert "Traceback" not in proc.stderr


def test_a_worker_killed_mid_batch_costs_only_a_retry(tmp_path, client):
    (tmp_path / "in").mkdir()
    jobs = []
    for i in range(6):
        write(tmp_path / "in" / f"f{i}.wav", 1.0, seed=i)
        jobs.append(Job(str(tmp_path / "in" / f"f{i}.wav"), str(tmp_path / "out" / f"f{i}.wav")))
    (tmp_path / "out").mkdir()
    stack = wavedil.preset("wavenet")
    pids = client.run(os.getpid)
    lost_before = tasks_lost(client, "run_file")
    killed = []

    def on_result(r):
        # Kill a worker while it runs one of the batch's files.
        busy = [w for w, keys in client.processing().items() if any(str(k).startswith("run_file-") for k in keys)]
        if busy and not killed:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    results = run_jobs(jobs, stack, Options(), DaskCluster(client), on_result=on_result)
    assert killed and [r.status for r in results] == ["ok"] * 6, [r.error for r in results]
    assert tasks_lost(client, "run_file") > lost_before  # a task was on the killed worker, and ran again
    for job in jobs:
        x = sf.read(job.input, dtype="float32")[0]
        np.testing.assert_array_equal(sf.read(job.output, dtype="float32")[0], wavedil.apply(stack, x))
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_without_dask_a_clear_error(tmp_path):
    write(tmp_path / "a.wav", 0.1)
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from wavedil.cli.main import main\n"
        f"sys.argv = ['wavedil', 'apply', {str(tmp_path / 'a.wav')!r}, '-o', {str(tmp_path / 'b.wav')!r}, '--scheduler', 'tcp://127.0.0.1:9']\n"
        "main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "Error: running on a Dask cluster needs dask.distributed, which is not installed; pip install 'wavedil[dask]'"
    assert not (tmp_path / "b.wav").exists()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    write(tmp_path / "a.wav", 0.1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    proc = cli(str(tmp_path / "a.wav"), "-o", str(tmp_path / "b.wav"), "--scheduler", f"tcp://127.0.0.1:{port}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"Error: tcp://127.0.0.1:{port}: cannot reach the Dask scheduler: connection refused (is the scheduler running?)"
    assert not (tmp_path / "b.wav").exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "tcp://127.0.0.1:port", "http://127.0.0.1:8786", "tcp://:8786"])
def test_a_malformed_address_is_a_clear_error(address):
    with pytest.raises(wavedil.WavedilError) as err:
        connect(address, timeout=1)
    assert str(err.value) == f"{address}: not a Dask scheduler address; expected tcp://HOST:PORT"


def test_a_server_that_does_not_answer_is_a_clear_error():
    # It accepts connections (the kernel does) and never speaks: a Client alone would wait forever.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(wavedil.WavedilError, match=r"cannot reach the Dask scheduler \(no Dask scheduler answered within 1 s\)"):
            connect(address, timeout=1)


def test_a_worker_address_is_not_a_scheduler(cluster):
    worker = next(iter(cluster.scheduler_info["workers"]))
    with pytest.raises(wavedil.WavedilError, match="this is a Dask Worker, not the scheduler"):
        connect(worker, timeout=5)


def test_a_batch_waits_for_workers_that_join_later(tmp_path):
    write(tmp_path / "a.wav", 0.3, seed=5)
    with distributed.LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0") as empty:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wavedil", "apply", str(tmp_path / "a.wav"), "-d", str(tmp_path / "out"), "--preset", "drive", "--json", "--scheduler", empty.scheduler_address],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not empty.scheduler.tasks:  # submitted, waiting for a worker
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.05)
            empty.scale(1)
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "the cluster has no workers yet" in err
    assert json.loads(out.splitlines()[0])["status"] == "ok"
    x = sf.read(tmp_path / "a.wav", dtype="float32")[0]
    np.testing.assert_array_equal(sf.read(tmp_path / "out" / "a.wav", dtype="float32")[0], wavedil.apply(wavedil.preset("drive"), x))


def test_wavedil_does_not_import_dask():
    code = "import sys, wavedil, wavedil.batch, wavedil.cluster, wavedil.cli.main; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_a_task_run_again_after_its_output_appeared_is_harmless(tmp_path):
    # A worker lost after the rename but before reporting: Dask runs the task again.
    from wavedil.batch import run_job
    from wavedil.cluster import _retry_safe

    write(tmp_path / "in.wav", 0.2)
    job = Job(str(tmp_path / "in.wav"), str(tmp_path / "out.wav"))
    options = _retry_safe(job, Options(skip_existing=True))
    first = run_job(job, wavedil.preset("smooth"), options)
    again = run_job(job, wavedil.preset("smooth"), options)
    assert first.status == again.status == "ok"
    # An output that existed before the batch stays protected.
    (tmp_path / "keep.wav").write_bytes(b"earlier work")
    kept = Job(str(tmp_path / "in.wav"), str(tmp_path / "keep.wav"))
    assert run_job(kept, wavedil.preset("smooth"), _retry_safe(kept, Options())).status == "error"
    assert (tmp_path / "keep.wav").read_bytes() == b"earlier work"
