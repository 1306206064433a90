"""The engine choice from the outside: how it is resolved, that one choice reaches every filter a run builds
(segments, worker processes), what fast tanh changes, and how the run reports which engine computed it.

The NumPy engine is the reference; the numba engine is tested where Numba is installed. Until a layer kind
has a compiled kernel its runner reports ``numpy`` under the numba engine too, so these tests compare with
what the filter itself reports rather than assuming a kernel exists.
"""

from __future__ import annotations

import pickle
from concurrent.futures import Executor, Future
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil import engines
from wavedil.activations import fast_tanh
from wavedil.batch import JobResult
from wavedil.engine import StreamingFilter
from wavedil.engines import Engine, resolve_engine
from wavedil.errors import Setting, UsageError
from wavedil.probe import measure_speed
from wavedil.process import FileResult, Options, process_file
from wavedil.segments import parallel_apply, plan_segments, run_segment
from wavedil.stack import Conv1d, Stack
from wavedil.workers import worker_pool

NAM = Path(__file__).resolve().parent / "fixtures" / "nam" / "v0_5"
HAS_NUMBA = engines.numba_installed()
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (the 'fast' extra)")
#: The engines this machine can run: the reference always, the compiled one when Numba is installed.
ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]


def nam(name: str) -> Stack:
    return wavedil.load_spec(NAM / f"{name}.nam")


#: Splittable stacks with a tanh: plain layers (a preset), a NAM ConvNet, a NAM WaveNet (A1 nano).
SPLITTABLE = {"drive": lambda: wavedil.preset("drive"), "convnet": lambda: nam("convnet"), "wavenet": lambda: nam("wavenet_a1_nano")}


def noise(n: int, seed: int = 0, scale: float = 0.4) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("WAVEDIL_ENGINE", raising=False)
    return monkeypatch


# ---------------------------------------------------------------------------
# Resolution: the argument, else WAVEDIL_ENGINE, else auto


def test_the_argument_comes_before_the_environment(no_env):
    no_env.setattr(engines, "numba_installed", lambda: True)
    no_env.setenv("WAVEDIL_ENGINE", "numba")
    assert resolve_engine("numpy") == Engine("numpy", False)
    assert resolve_engine(None).name == "numba"


def test_the_environment_comes_before_auto_and_is_read_as_written_loosely(no_env):
    no_env.setattr(engines, "numba_installed", lambda: True)
    no_env.setenv("WAVEDIL_ENGINE", " NumPy ")
    assert resolve_engine().name == "numpy"
    no_env.setenv("WAVEDIL_ENGINE", "")  # set but empty: as if unset
    assert resolve_engine().name == "numba"


@pytest.mark.parametrize("installed, want", [(True, "numba"), (False, "numpy")])
def test_auto_takes_numba_exactly_when_it_is_installed(no_env, installed, want):
    no_env.setattr(engines, "numba_installed", lambda: installed)
    assert resolve_engine("auto").name == resolve_engine(None).name == want


def test_an_engine_is_returned_as_it_is_and_fast_tanh_is_carried():
    chosen = Engine("numpy", True)
    assert resolve_engine(chosen) is chosen
    assert resolve_engine("numpy", fast_tanh=True) == chosen


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_an_unknown_name_is_a_usage_error_naming_where_it_came_from(no_env, source):
    if source == "environment":
        no_env.setenv("WAVEDIL_ENGINE", "fortran")
    with pytest.raises(UsageError) as caught:
        resolve_engine("fortran" if source == "argument" else None)
    named = "engine" if source == "argument" else "WAVEDIL_ENGINE"
    assert str(caught.value).startswith(f"{named} must be one of auto, numpy, numba, got 'fortran'")


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_numba_without_numba_is_a_usage_error_with_the_remedies(no_env, source):
    no_env.setattr(engines, "numba_installed", lambda: False)
    if source == "environment":
        no_env.setenv("WAVEDIL_ENGINE", "numba")
    with pytest.raises(UsageError) as caught:
        resolve_engine("numba" if source == "argument" else None)
    assert caught.value.settings == (Setting("engine", "numpy"),)
    assert 'pip install "wavedil[fast]"' in str(caught.value) and "engine='numpy'" in str(caught.value)


def test_the_package_exports_the_engine_choice():
    assert wavedil.resolve_engine is resolve_engine and wavedil.Engine is Engine
    assert {"Engine", "resolve_engine"} <= set(wavedil.__all__)


# ---------------------------------------------------------------------------
# Options: resolved once, where the work is handed out


def test_options_resolve_the_engine_when_made_and_keep_it(no_env):
    no_env.setenv("WAVEDIL_ENGINE", "numpy")
    opts = Options(fast_tanh=True)
    assert (opts.engine, opts.chosen_engine) == ("numpy", Engine("numpy", True))
    # Changed later (a worker's own environment, say), the environment no longer matters: nor when
    # the options are copied with other settings, nor when they travel to another process.
    no_env.setenv("WAVEDIL_ENGINE", "fortran")
    assert replace(opts, overwrite=True).engine == "numpy"
    assert pickle.loads(pickle.dumps(opts)).chosen_engine == Engine("numpy", True)


def test_options_refuse_a_bad_environment_and_numba_without_numba(no_env):
    no_env.setenv("WAVEDIL_ENGINE", "fortran")
    with pytest.raises(UsageError, match="WAVEDIL_ENGINE"):
        Options()
    no_env.delenv("WAVEDIL_ENGINE")
    no_env.setattr(engines, "numba_installed", lambda: False)
    with pytest.raises(UsageError, match="numba is not installed"):
        Options(engine="numba")


@pytest.mark.parametrize("engine", ENGINES)
def test_process_file_runs_on_the_options_engine_and_says_so(tmp_path, no_env, engine):
    x = noise(6000)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    stack = nam("wavenet_a1_nano")
    result = process_file(tmp_path / "in.wav", tmp_path / "out.wav", stack, engine=engine, fast_tanh=True)
    built = wavedil.StreamingFilter(stack, 1, engine=engine, fast_tanh=True)
    assert (result.engine, result.fast_tanh, list(result.layer_engines)) == (engine, True, built.layer_engines)
    y = sf.read(tmp_path / "out.wav", dtype="float32")[0]
    assert np.array_equal(y, wavedil.apply(stack, x, engine=engine, fast_tanh=True))


@needs_numba
@pytest.mark.parametrize("name", ["drive", "convnet", "wavenet", "lstm"])
def test_the_engines_agree_through_the_pipeline(tmp_path, name):
    stack = nam("lstm") if name == "lstm" else SPLITTABLE[name]()
    x = noise(8000, seed=3)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    out = {}
    for engine in ("numpy", "numba"):
        process_file(tmp_path / "in.wav", tmp_path / f"{engine}.wav", stack, engine=engine)
        out[engine] = sf.read(tmp_path / f"{engine}.wav", dtype="float64")[0]
    peak = np.max(np.abs(out["numpy"]))
    assert peak > 0 and np.max(np.abs(out["numba"] - out["numpy"])) <= 1e-5 * peak


# ---------------------------------------------------------------------------
# Fast tanh: NAM's plugin approximation, in place of the accurate tanh


def one_tanh_layer() -> Stack:
    w = np.array([[[1.3, -0.7, 0.45]]])
    return Stack(layers=(Conv1d(w, np.array([0.1]), dilation=2, activation="tanh"),), name="one tanh layer")


def pre_activation(x: np.ndarray) -> np.ndarray:
    """``b + sum_j w[j] x[t - 2j]`` by a plain loop (silence before the input), float64."""
    w, b = [1.3, -0.7, 0.45], 0.1
    z = np.empty(len(x))
    for t in range(len(x)):
        z[t] = b + sum(w[j] * x[t - 2 * j] for j in range(3) if t - 2 * j >= 0)
    return z


def test_fast_tanh_is_the_plugins_approximation_applied_where_tanh_was():
    x = noise(3000, seed=1, scale=1.5).astype(np.float64)  # up to |z| of about 10: the approximation's whole range
    z = pre_activation(x)
    accurate = wavedil.apply(one_tanh_layer(), x, dtype=np.float64, engine="numpy")
    fast = wavedil.apply(one_tanh_layer(), x, dtype=np.float64, engine="numpy", fast_tanh=True)
    np.testing.assert_allclose(accurate, np.tanh(z), rtol=0, atol=1e-14)
    np.testing.assert_allclose(fast, fast_tanh(z.copy()), rtol=0, atol=1e-14)
    # The expected change, no more: within the approximation's 4.4e-4, and audible in a float32 file.
    change = np.max(np.abs(fast - accurate))
    assert 1e-5 < change <= 4.4e-4


@pytest.mark.parametrize("engine", ENGINES)
def test_fast_tanh_reaches_every_engine(engine):
    x = noise(3000, seed=2, scale=1.5)
    want = fast_tanh(pre_activation(x.astype(np.float64)))
    got = wavedil.apply(one_tanh_layer(), x, engine=engine, fast_tanh=True)
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))


# ---------------------------------------------------------------------------
# Segments and worker processes: the one engine everywhere, the same output bit for bit


class HereAfterChange(Executor):
    """Runs each submitted call at once, in this process, after WAVEDIL_ENGINE changed to a name that cannot resolve.

    Work that resolved its engine itself, after it was handed out, would raise.
    """

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        self.monkeypatch.setenv("WAVEDIL_ENGINE", "fortran")
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(SPLITTABLE))
def test_segments_take_the_engine_resolved_before_they_were_handed_out(no_env, engine, name):
    stack = SPLITTABLE[name]()
    x = noise(20_000, seed=4)
    serial = wavedil.apply(stack, x, engine=engine, block_size=1024)
    no_env.setenv("WAVEDIL_ENGINE", engine)  # the choice, read once by parallel_apply
    joined = parallel_apply(stack, x, HereAfterChange(no_env), workers=2, segment_frames=4096, block_size=1024)
    assert np.array_equal(joined, serial)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_files_segments_take_the_engine_resolved_before_they_were_handed_out(tmp_path, no_env, engine):
    stack = nam("wavenet_a1_nano")
    sf.write(tmp_path / "in.wav", noise(40_000, seed=7), 48000, subtype="FLOAT")
    no_env.setenv("WAVEDIL_ENGINE", engine)
    opts = Options(block_size=1024)  # the choice, read once here
    split = process_file(tmp_path / "in.wav", tmp_path / "split.wav", stack, opts, executor=HereAfterChange(no_env), workers=4)
    assert split.engine == engine
    serial = wavedil.apply(stack, sf.read(tmp_path / "in.wav", dtype="float32")[0], engine=engine, block_size=1024)
    assert np.array_equal(sf.read(tmp_path / "split.wav", dtype="float32")[0], serial)


@settings(max_examples=20, deadline=None)
@given(
    engine=st.sampled_from(["numpy", "numba"] if HAS_NUMBA else ["numpy"]),
    block=st.sampled_from([16, 64, 256]),
    blocks_per_segment=st.integers(1, 12),
    n=st.integers(0, 3000),
    fast=st.booleans(),
)
def test_segments_joined_equal_the_serial_run_on_each_engine(engine, block, blocks_per_segment, n, fast):
    stack = wavedil.preset("drive")
    x = noise(n, seed=n)[:, None]
    serial = wavedil.apply(stack, x, engine=engine, fast_tanh=fast, block_size=block)
    segments = plan_segments(n, stack, segment_frames=block * blocks_per_segment, block_size=block)
    parts = [run_segment(stack, x[s.read_start : s.read_stop], s, block_size=block, engine=engine, fast_tanh=fast) for s in segments]
    joined = np.concatenate(parts) if parts else np.empty((0, 1), np.float32)
    assert np.array_equal(joined, serial)


@pytest.fixture(scope="module")
def pool():
    with worker_pool(2) as p:
        yield p


@pytest.mark.parametrize("engine", ENGINES)
def test_two_worker_processes_give_the_one_process_output_on_each_engine(pool, engine):
    stack = nam("wavenet_a1_nano")
    x = noise(60_000, seed=5)
    serial = wavedil.apply(stack, x, engine=engine)
    assert np.array_equal(parallel_apply(stack, x, pool, workers=2, engine=engine), serial)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_file_in_segments_on_workers_is_the_serial_file(tmp_path, pool, engine):
    stack = nam("wavenet_a1_nano")
    sf.write(tmp_path / "in.wav", noise(60_000, seed=6), 48000, subtype="FLOAT")
    opts = Options(engine=engine, block_size=1024)
    serial = process_file(tmp_path / "in.wav", tmp_path / "serial.wav", stack, opts)
    split = process_file(tmp_path / "in.wav", tmp_path / "split.wav", stack, opts, executor=pool, workers=2)
    # The samples, not the bytes: a FLOAT file's PEAK chunk holds the time it was written.
    assert np.array_equal(sf.read(tmp_path / "split.wav", dtype="float32")[0], sf.read(tmp_path / "serial.wav", dtype="float32")[0])
    assert (split.engine, split.layer_engines) == (serial.engine, serial.layer_engines)


# ---------------------------------------------------------------------------
# Reporting which engine ran


def file_result(engine: str, layer_engines: tuple[str, ...]) -> FileResult:
    return FileResult("a.wav", "o.wav", 48000, 48000, 1, 1, "WAV", "FLOAT", 0, 0.5, 1.0, 0, engine, False, layer_engines)


def test_a_json_result_names_the_engine_and_lists_the_layers_only_when_one_ran_elsewhere():
    same = JobResult("a.wav", "o.wav", "ok", audio=file_result("numba", ("numba", "numba"))).to_dict()
    assert (same["engine"], same["fast_tanh"]) == ("numba", False) and "layer_engines" not in same
    mixed = JobResult("a.wav", "o.wav", "ok", audio=file_result("numba", ("numba", "numpy"))).to_dict()
    assert mixed["layer_engines"] == ["numba", "numpy"]
    skipped = JobResult("a.wav", "o.wav", "skipped").to_dict()
    assert (skipped["engine"], skipped["fast_tanh"]) == (None, None) and "layer_engines" not in skipped


@pytest.mark.parametrize("engine", ENGINES)
def test_the_speed_names_the_engine_it_timed(engine):
    stack = nam("lstm")
    speed = measure_speed(stack, 48000, seconds=0.05, repeats=1, engine=engine, fast_tanh=True)
    assert (speed.engine, speed.fast_tanh) == (engine, True)
    assert list(speed.layer_engines) == wavedil.StreamingFilter(stack, 1, engine=engine).layer_engines


def test_the_reports_speed_section_names_the_engine_in_every_format():
    report = wavedil.analyze(wavedil.preset("drive"), 48000, speed=True, probe_seconds=1.0, engine="numpy", fast_tanh=True)
    assert (report.speed.engine, report.speed.fast_tanh, report.speed.layer_engines) == ("numpy", True, ("numpy",) * 3)
    assert report.to_dict()["speed"]["engine"] == "numpy"
    for fmt in ("text", "markdown"):
        (line,) = [ln for ln in wavedil.render(report, fmt).splitlines() if "real time (" in ln]
        assert "on numpy, fast tanh;" in line


def test_the_words_for_an_engine_name_the_layers_that_ran_elsewhere():
    from wavedil.report import engine_words

    assert engine_words("numpy", False, ["numpy", "numpy"]) == "numpy"
    assert engine_words("numba", True, ["numba", "numpy", "numpy"]) == "numba, fast tanh (layers 2, 3 on numpy)"
    assert engine_words("numba", False, ["numpy", "numpy"]) == "numba (every layer on numpy)"


def test_kernels_that_cannot_load_leave_auto_on_numpy_and_refuse_numba_by_name(monkeypatch):
    """Numba installed but unusable (too new a NumPy, no cache location): auto falls back, a named numba is refused."""
    monkeypatch.setattr(engines, "numba_installed", lambda: True)
    monkeypatch.setattr(engines, "kernels_unavailable", lambda: "ImportError: Numba needs NumPy 2.3 or less")
    stack = nam("wavenet_a1_nano")  # a stack auto would run compiled
    monkeypatch.delenv("WAVEDIL_ENGINE", raising=False)
    assert StreamingFilter(stack, 1).engine.name == "numpy"
    # The options of a run keep auto's choice, through dataclasses.replace and pickling too; each filter then finds
    # the kernels missing. A named numba is refused when the options are made (a usage error, before any file).
    for options in (Options(), replace(Options(), overwrite=True), pickle.loads(pickle.dumps(Options()))):
        assert options.engine == "auto" and options.chosen_engine.auto
        assert StreamingFilter(stack, 1, engine=options.chosen_engine).engine.name == "numpy"
    with pytest.raises(UsageError, match="cannot load its compiled kernels"):
        replace(Options(), engine="numba")
    with pytest.raises(UsageError, match="cannot load its compiled kernels .*NumPy 2.3"):
        StreamingFilter(stack, 1, engine="numba")


# ---------------------------------------------------------------------------
# auto: the kernels for the stacks they pay for


def test_auto_keeps_plain_convolution_stacks_on_numpy_and_takes_numba_for_nam_models(no_env):
    no_env.setattr(engines, "numba_installed", lambda: True)
    rng = np.random.default_rng(0)
    wide_linear = Stack((Conv1d(rng.standard_normal((4, 4, 3)), np.zeros(4), dilation=2),))
    plain = [wavedil.preset(name) for name in ("smooth", "drive", "echo")] + [wide_linear]
    for stack in plain:
        assert not engines.kernels_pay(stack)
        assert engines.for_stack(resolve_engine(), stack) == Engine("numpy")
        # Asked for by name, numba is what runs.
        assert engines.for_stack(resolve_engine("numba"), stack) == Engine("numba")
    # A smooth activation over several channels (a NAM ConvNet) pays, as NAM's WaveNets and LSTMs do.
    wide_tanh = Stack((Conv1d(rng.standard_normal((4, 4, 3)), np.zeros(4), dilation=2, activation="tanh"),))
    for stack in (wide_tanh, nam("convnet"), wavedil.preset("wavenet"), nam("wavenet_a1_nano"), nam("lstm")):
        assert engines.kernels_pay(stack)
        assert engines.for_stack(resolve_engine(fast_tanh=True), stack) == Engine("numba", True)


def test_a_wavenet_whose_arrays_the_kernels_cannot_compute_stays_on_numpy_under_auto(no_env):
    """FiLM modulations run on NumPy whatever the engine: Numba's start-up would buy nothing."""
    no_env.setattr(engines, "numba_installed", lambda: True)
    film = wavedil.load_spec(NAM.parent / "core" / "wavenet_layer1x1_post_film.nam")
    assert not engines.kernels_pay(film)
    assert StreamingFilter(film, 1).engine.name == "numpy"


def test_options_replaced_with_a_named_engine_run_it(no_env, tmp_path):
    """process_file(..., engine=...) replaces the default options: the engine asked for is the one that runs."""
    no_env.setattr(engines, "numba_installed", lambda: True)
    auto = Options()
    assert (auto.engine, auto.chosen_engine.auto) == ("auto", True)
    named = replace(auto, engine="numpy")
    assert (named.engine, named.chosen_engine) == ("numpy", Engine("numpy"))
    assert not named.chosen_engine.auto and replace(named, overwrite=True).chosen_engine == Engine("numpy")
    assert replace(auto, fast_tanh=True).chosen_engine.fast_tanh


@needs_numba
def test_process_file_with_engine_numba_runs_numba_on_a_plain_stack(no_env, tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, noise(4800), 48000, subtype="FLOAT")
    result = process_file(src, tmp_path / "out.wav", wavedil.preset("smooth"), engine="numba")
    assert result.engine == "numba"
    assert process_file(src, tmp_path / "out2.wav", wavedil.preset("smooth")).engine == "numpy"


def test_auto_plans_the_memory_of_the_engine_that_will_run(no_env):
    from wavedil.memory import plan_filter

    no_env.setattr(engines, "numba_installed", lambda: True)
    stack = wavedil.preset("echo")
    auto = Engine("numba", auto=True)
    assert plan_filter(stack, 1, block_size=4096, engine=auto) == plan_filter(stack, 1, block_size=4096, engine="numpy")


@needs_numba
def test_a_plain_stack_under_auto_runs_without_importing_numba(tmp_path):
    """The Quick start's default stack: Numba's start-up (0.7-0.9 s a process) is not paid where it buys nothing."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, wavedil\n"
        "y = wavedil.apply(wavedil.preset('smooth'), np.ones(4096, dtype=np.float32))\n"
        "f = wavedil.StreamingFilter(wavedil.preset('smooth'), 1)\n"
        "print(f.engine.name, 'numba' in sys.modules)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "WAVEDIL_ENGINE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert out == ["numpy", "False"]


def test_engines_that_are_not_engines_are_usage_errors_and_fast_tanh_joins_an_engine():
    with pytest.raises(UsageError, match="got 3"):
        resolve_engine(3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="numpy or numba, got 'bogus'"):
        Engine("bogus")
    assert resolve_engine(Engine("numpy"), fast_tanh=True) == Engine("numpy", True)
