"""The benchmark suite's plumbing, without timing anything: the NAM Core peer (driven by a fake
``benchmodel``), the command line, the interleaved rounds and the targets' logic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import nam_core
from benchmarks.timing import Job, Unavailable, interleave, unavailable
from benchmarks.workloads import Figures, _w2_target, _w7_target, core_jobs

ROOT = Path(__file__).resolve().parent.parent

# What the Core's tools/benchmodel prints, with its time depending on the tanh asked for, and the
# arguments it was given echoed to a file beside it (so a test can see what the peer passed).
FAKE_BENCHMODEL = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.txt"
if [ "$1" = "--no-fast-tanh" ]; then echo "Fast tanh: disabled"; ms=40; frac=40.5; else echo "Fast tanh: enabled"; ms=10; frac=10.25; fi
echo "Loading model $2"
echo "Running benchmark"
echo "Finished"
echo "${ms}ms"
echo "${frac}ms"
"""

REFUSING_BENCHMODEL = """#!/bin/sh
echo "Fast tanh: disabled"
echo "Loading model $2"
echo "terminate called after throwing an instance of 'std::runtime_error'" >&2
echo "  what():  No config parser registered for architecture: Transformer" >&2
exit 134
"""


def fake_build(folder: Path, script: str = FAKE_BENCHMODEL, place: str = "benchmodel") -> Path:
    tool = folder / place
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text(script)
    tool.chmod(0o755)
    return tool


def test_benchmodel_output_gives_its_fractional_milliseconds_as_seconds():
    text = "Fast tanh: enabled\nLoading model m.nam\nRunning benchmark\nFinished\n253ms\n253.095ms\n"
    assert nam_core.parse_benchmodel_output(text) == pytest.approx(0.253095)
    assert nam_core.parse_benchmodel_output("Finished\n7ms\n") == pytest.approx(0.007)


def test_benchmodel_output_without_a_time_is_refused():
    with pytest.raises(ValueError, match="no time"):
        nam_core.parse_benchmodel_output("Fast tanh: enabled\nLoading model m.nam\n")


def test_a_named_build_and_a_bare_folder(tmp_path):
    tool = fake_build(tmp_path / "o3native")
    named = nam_core.parse_core_option(f"mine={tmp_path / 'o3native'}")
    assert named == nam_core.CoreBuild("mine", tool)
    assert nam_core.parse_core_option(str(tmp_path / "o3native")).name == "o3native"


def test_a_cmake_build_folder_holds_the_tool_under_tools(tmp_path):
    tool = fake_build(tmp_path / "build", place="tools/benchmodel")
    assert nam_core.parse_core_option(str(tmp_path / "build")).tool == tool


def test_a_folder_without_an_executable_benchmodel_is_refused(tmp_path):
    with pytest.raises(nam_core.CoreBuildError, match="no executable benchmodel"):
        nam_core.parse_core_option(str(tmp_path))
    (tmp_path / "benchmodel").write_text("not executable")
    with pytest.raises(nam_core.CoreBuildError, match="no executable benchmodel"):
        nam_core.parse_core_option(str(tmp_path))


def test_two_builds_may_not_share_a_name(tmp_path):
    fake_build(tmp_path / "a")
    fake_build(tmp_path / "b")
    assert [b.name for b in nam_core.parse_core_options([f"x={tmp_path / 'a'}", str(tmp_path / "b")])] == ["x", "b"]
    with pytest.raises(nam_core.CoreBuildError, match="two builds named x"):
        nam_core.parse_core_options([f"x={tmp_path / 'a'}", f"x={tmp_path / 'b'}"])


def test_the_peer_asks_for_exact_or_fast_tanh_and_reads_the_time(tmp_path):
    build = nam_core.CoreBuild("fake", fake_build(tmp_path))
    model = tmp_path / "model.nam"
    assert nam_core.run_benchmodel(build, model, fast_tanh=False) == pytest.approx(0.0405)
    assert nam_core.run_benchmodel(build, model, fast_tanh=True) == pytest.approx(0.01025)
    assert (tmp_path / "calls.txt").read_text().splitlines() == [f"--no-fast-tanh {model}", str(model)]


def test_a_model_the_core_refuses_makes_the_peer_absent_with_its_message(tmp_path):
    build = nam_core.CoreBuild("fake", fake_build(tmp_path, REFUSING_BENCHMODEL))
    with pytest.raises(Unavailable, match="refused the model .exit 134.: +what\\(\\): +No config parser"):
        nam_core.run_benchmodel(build, tmp_path / "model.nam", fast_tanh=False)


def test_core_jobs_write_the_model_and_scale_the_time_to_the_workload(tmp_path):
    build = nam_core.CoreBuild("fake", fake_build(tmp_path / "core"))
    doc = {"version": "0.7.0", "architecture": "LSTM", "config": {}, "weights": []}
    jobs = core_jobs(doc, 3 * nam_core.SAMPLES, (build,), tmp_path)
    assert list(jobs) == ["NAM Core fake, exact tanh", "NAM Core fake, fast tanh"]
    assert jobs["NAM Core fake, exact tanh"].run() == (pytest.approx(3 * 0.0405), None)
    assert jobs["NAM Core fake, fast tanh"].run() == (pytest.approx(3 * 0.01025), None)
    assert (tmp_path / "model.nam").read_text().startswith('{"version": "0.7.0"')


def test_interleave_runs_the_jobs_in_rounds_and_leaves_out_the_unavailable():
    calls: list[str] = []

    def job(name: str) -> Job:
        def run() -> tuple[float, str]:
            calls.append(name)
            return 1.0, f"{name} output"  # as a job that reports its own time

        return Job(run)

    measured, absent = interleave({"a": job("a"), "b": job("b"), "c": unavailable("not built")}, 3)
    # One warm-up each, then rounds of one run of each.
    assert calls == ["a", "b"] * 4
    assert measured["a"].timing.runs == (1.0, 1.0, 1.0) and measured["b"].output == "b output"
    assert absent == {"c": "not built"}


def figures(main: float, peers: dict[str, float | None], fast_tanh: float | None = None) -> Figures:
    return Figures(60.0, main, fast_tanh, {"numba": main}, peers)


def test_w2_target_is_the_core_when_present_else_real_time():
    core = {"NAM Core a, exact tanh": 30.0, "NAM Core a, fast tanh": 12.0, "NAM Core b, exact tanh": 20.0, "NAM Core b, fast tanh": 9.0}
    assert _w2_target(figures(8.0, core))[1]  # 9 >= 8 (b, fast) and 20 >= 2.5 * 8 (b, exact)
    assert not _w2_target(figures(8.5, core))[1]  # 20 < 2.5 * 8.5
    assert not _w2_target(figures(9.5, core))[1]  # slower than b's fast tanh
    assert _w2_target(figures(1.0, {"NAM Core": None})) == ("≥45x real time", True)
    assert _w2_target(figures(2.0, {"NAM Core": None})) == ("≥45x real time", False)


def test_w7_target_compares_like_tanh_with_like():
    core = {"NAM Core a, exact tanh": 1.0, "NAM Core a, fast tanh": 0.5, "NAM Core b, exact tanh": None}
    assert _w7_target(figures(0.9, core, fast_tanh=0.5))[1]
    assert not _w7_target(figures(0.9, core, fast_tanh=0.6))[1]
    assert not _w7_target(figures(1.1, core, fast_tanh=0.4))[1]


def run_benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_core_folder_without_benchmodel_is_one_error_line_and_exit_2(tmp_path):
    proc = run_benchmarks("--only", "W7", "--nam-core", f"o3={tmp_path}")
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("python -m benchmarks: error: --nam-core: no executable benchmodel in ")


def test_the_command_line_takes_the_core_builds(tmp_path):
    fake_build(tmp_path / "native")
    script = (
        "from benchmarks.__main__ import parse_arguments; "
        f"a = parse_arguments(['--only', 'w7,W2', '--nam-core', {str(tmp_path / 'native')!r}, '--nam-core', 'x={tmp_path / 'native'}']); "
        "print(a.names, [b.name for b in a.settings.nam_core], a.settings.repeat, a.json)"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['W2', 'W7'] ['native', 'x'] 3 False"


def test_without_numba_only_the_numpy_engine_is_timed_and_the_compile_workload_is_skipped(monkeypatch):
    from benchmarks import workloads
    from benchmarks.timing import Skipped

    monkeypatch.setattr(workloads, "numba_installed", lambda: False)
    assert [e.describe() for e in workloads.engines_to_time()] == ["numpy"]
    assert workloads.compiled_layers_note(workloads.wavedil.parse_spec(workloads.STANDARD_CAPTURE)) is None
    with pytest.raises(Skipped, match="numba is not installed"):
        workloads.w10(workloads.Settings(), {})
