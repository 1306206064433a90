"""Resource bombs: the memory plan, the report's cost bound, and headers that claim too much.

Each run's memory is planned from the stack and the audio before anything is
allocated, and the plan is checked here against what NumPy really allocates
(tracemalloc sees NumPy's buffers). Reports of stacks within the spec limits
skip or shorten the probes that would take too long, and say so.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil import probe
from wavedil.coverage import _shift_or, coverage
from wavedil.engine import StreamingFilter, block_size_for
from wavedil.engines import numba_installed
from wavedil.errors import MemoryLimitError, SpecError, WavedilError
from wavedil.formats.nam import parse_nam, to_nam
from wavedil.memory import format_bytes, parse_size, plan_and_check, plan_filter
from wavedil.receptive import analyze
from wavedil.report import render
from wavedil.spec import parse_spec, stack_from_dilations

FIXTURES = Path(__file__).parent / "fixtures" / "nam"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _seeded_wavenet(channels: int, dilations: list[int], **array) -> wavedil.Stack:
    arr = {"channels": channels, "kernel_size": 3, "dilations": dilations, **array}
    return parse_spec({"layers": [{"type": "wavenet", "init": {"seed": 3}, "arrays": [arr]}]})


def _stacks() -> dict[str, wavedil.Stack]:
    rng = np.random.default_rng(0)
    multi = {
        "layers": [
            {"dilation": 64, "weights": rng.normal(size=(16, 1, 3)).tolist(), "activation": "tanh"},
            {"dilation": 128, "weights": rng.normal(size=(16, 16, 3)).tolist(), "activation": "relu"},
            {"weights": rng.normal(size=(1, 16, 1)).tolist()},
        ]
    }
    stacks = {
        "mono chain": stack_from_dilations([1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 2, kernel_size=3),
        "smooth": wavedil.preset("smooth"),
        "channels": parse_spec(multi),
        "wavenet preset": wavedil.preset("wavenet"),
        "gated wavenet": _seeded_wavenet(8, [1, 2, 4, 8, 16], gated=True),
    }
    response = rng.normal(size=(20000, 1)) * np.exp(-np.arange(20000) / 3000)[:, None]
    cab = wavedil.Stack(layers=(wavedil.ImpulseResponse(response, sample_rate=48000),))
    stacks["chain with an IR"] = wavedil.gain(6) + wavedil.preset("drive") + cab + wavedil.gain(-3)
    stereo = wavedil.Stack(layers=(wavedil.ImpulseResponse(rng.normal(size=(3000, 2)), sample_rate=48000),))
    stacks["mono stages around a stereo IR"] = wavedil.preset("drive") + stereo + wavedil.gain(-3)
    for name in ("wavenet_layer1x1_post_film", "lstm_unsettled_state"):
        stacks[name] = parse_nam(json.loads((FIXTURES / "core" / f"{name}.nam").read_text()))
    return stacks


STACKS = _stacks()


@pytest.mark.parametrize("name", sorted(STACKS))
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_plan_covers_what_the_engine_allocates(name, channels, dtype):
    """Every byte NumPy allocates for a filter and two blocks is planned, and the plan is at most 3.5x of it."""
    stack = STACKS[name]
    if not stack.is_mono and stack.in_channels != channels:
        pytest.skip("the stack takes another channel count")
    block = block_size_for(stack)
    plan = plan_filter(stack, channels, dtype=dtype, block_size=block)
    x = np.random.default_rng(1).normal(size=(block, channels)).astype(dtype)
    StreamingFilter(stack, channels, dtype=dtype, block_size=block).process(x[:8])  # compiled kernels load outside the count
    tracemalloc.start()
    try:
        f = StreamingFilter(stack, channels, dtype=dtype, block_size=block)
        f.process(x)
        f.process(x[: block // 3])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    planned = plan.total - dict(plan.parts)["weights"]  # the model's own arrays exist before the filter
    assert peak <= planned, f"{name}: allocated {format_bytes(peak)}, planned {plan.describe()}"
    assert planned <= 3.5 * peak + 2**20, f"{name}: planned {plan.describe()} for {format_bytes(peak)}"


def test_a_plan_over_the_limit_is_refused_before_anything_is_allocated():
    stack = stack_from_dilations([2**20] * 8, kernel_size=2)  # 8 Mi samples of history per channel
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError, match=r"needs 144\.0 MiB \(layer state 128\.0 MiB, block buffers 16\.0 MiB.*over the memory limit of 64\.0 MiB; the limit is memory_limit=67108864"):
            StreamingFilter(stack, 4, dtype=np.float32, memory_limit=64 * 2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert StreamingFilter(stack, 4, dtype=np.float32, memory_limit=256 * 2**20).memory_plan.total <= 256 * 2**20


def test_the_message_suggests_a_block_size_only_when_the_block_is_the_cause():
    wide = _seeded_wavenet(64, [1, 2, 4, 8])
    # The NumPy engine's buffers grow with the block; the compiled kernels' stop at their chunk.
    with pytest.raises(MemoryLimitError, match=r"block_size=\d+ would fit"):
        plan_and_check(wide, 1, dtype=np.float32, block_size=2**16, limit=40 * 2**20, engine="numpy")
    if numba_installed():
        plan_and_check(wide, 1, dtype=np.float32, block_size=2**16, limit=40 * 2**20, engine="numba")
    deep = stack_from_dilations([2**20] * 8, kernel_size=2)
    with pytest.raises(MemoryLimitError) as exc:
        plan_and_check(deep, 1, dtype=np.float32, block_size=1024, limit=16 * 2**20)
    assert "--block-size" not in str(exc.value)


@pytest.mark.parametrize(
    ("text", "size"), [("4G", 4 * 2**30), ("512M", 512 * 2**20), ("1.5GB", 1_500_000_000), ("65536", 65536), (" 2 GiB ", 2 * 2**30)]
)
def test_sizes_parse(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "12Q", "-1G", "0", "nan", "1e400", "9" * 40, "5EiB"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(WavedilError):
        parse_size(text)


def _spec(tmp_path: Path, layers: list[dict]) -> Path:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"layers": layers}))
    return path


def test_a_spec_whose_histories_exceed_the_limit_is_refused_at_once(tmp_path):
    """1024 channels of 2^20 samples of history per layer: 16 GiB, refused with the figure before any file is read."""
    rng = np.random.default_rng(0)
    layers = []
    for _ in range(4):
        layers.append({"weights": rng.normal(size=(1024, 1, 1)).tolist(), "activation": "tanh"})
        layers.append({"dilation": 2**20, "weights": rng.normal(size=(1, 1024, 2)).tolist()})
    spec = _spec(tmp_path, layers)
    audio = tmp_path / "in.wav"
    sf.write(audio, np.zeros(100), 48000)
    line = one_error_line(run("apply", str(audio), "-o", str(tmp_path / "out.wav"), "--spec", str(spec), "--memory-limit", "8G"))
    assert line.startswith(f"Error: {spec}: the run needs 16.0 GiB (layer state 16.0 GiB") and "memory limit of 8.0 GiB" in line
    assert not (tmp_path / "out.wav").exists()


def test_many_channels_through_a_wide_stack_are_refused_naming_the_file(tmp_path):
    audio = tmp_path / "wide.wav"
    sf.write(audio, np.zeros((100, 64), np.float32), 48000, subtype="FLOAT")
    # 64 signals through 30 layers of 32 channels: over 100 MiB on either engine (the compiled one's
    # buffers stop at its chunk, NumPy's grow with the block).
    proc = run("apply", str(audio), "-o", str(tmp_path / "out.wav"), "--preset", "wavenet", "--memory-limit", "100M")
    line = one_error_line(proc)
    assert line.startswith(f"Error: {audio}: the run needs ") and "over the memory limit of 100.0 MiB" in line
    assert not (tmp_path / "out.wav").exists()
    # The same file with room for it runs.
    assert run("apply", str(audio), "-o", str(tmp_path / "out.wav"), "--preset", "smooth", "--memory-limit", "100M").returncode == 0


def test_the_limit_comes_from_the_environment_too(tmp_path):
    audio = tmp_path / "in.wav"
    sf.write(audio, np.zeros(100), 48000)
    proc = subprocess.run(
        [sys.executable, "-m", "wavedil", "apply", str(audio), "-o", str(tmp_path / "o.wav"), "--kernel-size", "2", "--dilations", "1048576,1048576"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WAVEDIL_MEMORY_LIMIT": "1M"},
    )
    assert "over the memory limit of 1.0 MiB" in one_error_line(proc)


def test_an_npz_header_that_claims_terabytes_is_refused_before_loading(tmp_path):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as z:
        z.writestr("weights.npy", data)
    spec = {"layers": [{"type": "wavenet", "weights": "bomb.npz", "arrays": [{"channels": 2, "kernel_size": 2, "dilations": [1]}]}]}
    with pytest.raises(SpecError, match=r"holds 1099511627776 float64 values, expected \d+ numbers"):
        parse_spec(spec, base_dir=tmp_path)


def test_a_nam_file_gets_the_receptive_field_limit_of_a_spec():
    doc = to_nam(_seeded_wavenet(2, [1] * 8).layers[0], version="0.5.4")
    doc["config"]["layers"][0]["dilations"] = [2**20] * 8  # RF 1 + 16 * 2^20 > 2^24, the same weights
    with pytest.raises(SpecError, match="receptive field 16777217 samples exceeds the limit of 16777216"):
        parse_nam(json.loads(json.dumps(doc)))


# -- the report's cost bound ---------------------------------------------------


def test_a_report_skips_the_probes_a_huge_layer_would_make_take_hours():
    """One 65,536-tap layer at dilation 256 (RF 16.8M): the analytic figures are there, the probes are skipped with the reason."""
    stack = parse_spec({"layers": [{"dilation": 256, "kernel_size": 65536, "weights": [1 / 65536] * 65536}]})
    r = analyze(stack, 48000)
    assert r["receptive_field"] == 65535 * 256 + 1
    assert r["coverage"]["hole_count"] == 65535 * 255
    assert r["measured_receptive_field"] is None and r["effective_receptive_field"] is None and r["frequency_response"] is None
    assert set(r["skipped"]) == {"measured_receptive_field", "effective_receptive_field", "frequency_response"}
    assert all("over the report's bound of 15 s" in why for why in r["skipped"].values())
    assert r["measured_note"].startswith("not measured: the probe would take about")
    text = render(r, "text")
    assert "effective receptive field not computed" in text


def test_a_larger_bound_runs_what_a_smaller_one_skips():
    stack = wavedil.preset("wavenet")
    small = analyze(stack, 48000, probe_seconds=1e-4)
    assert small["measured_receptive_field"] is None and small["effective_receptive_field"] is None
    big = analyze(stack, 48000, probe_seconds=1e6)
    assert big["skipped"] == {}
    assert big["measured_receptive_field"] == stack.receptive_field
    assert big["effective_receptive_field"]["positions"] == probe.DEFAULT_POSITIONS


def test_the_effective_field_averages_fewer_positions_rather_than_none():
    stack = parse_spec({"layers": [{"dilation": 1, "weights": [0.5, 0.5], "activation": "tanh"}, {"dilation": 2, "weights": [0.5, 0.5]}]})
    one = probe.probe_time(stack, 2, 2 * stack.receptive_field)
    r = analyze(stack, 48000, probe_seconds=2.5 * one)  # room for two positions, not eight
    assert r["effective_receptive_field"]["positions"] == 2
    assert "effective_receptive_field" not in r["skipped"]


def test_probes_over_the_memory_limit_are_skipped():
    r = analyze(wavedil.preset("wavenet"), 48000, memory_limit=2**20)
    assert "over the memory limit of 1.0 MiB" in r["skipped"]["measured_receptive_field"]


def test_a_long_profile_is_binned(monkeypatch):
    monkeypatch.setattr(probe, "MAX_PROFILE_POINTS", 16)
    stack = stack_from_dilations([1, 2, 4, 8, 16], kernel_size=2)  # RF 32, uniform taps
    erf = analyze(stack)["effective_receptive_field"]
    assert erf["profile_step"] == 2 and len(erf["profile"]) == 16
    h = analyze(stack, probe_seconds=1e6)  # same stack: the bins are the RMS of the offsets' sensitivities
    full = np.repeat(1 / 32, 32)
    np.testing.assert_allclose(erf["profile"], np.sqrt((full[0::2] ** 2 + full[1::2] ** 2) / 2))
    assert h["effective_receptive_field"]["profile_step"] == 2


def test_a_recurrent_memory_probe_is_bounded_in_length():
    doc = json.loads((FIXTURES / "core" / "lstm_unsettled_state.nam").read_text())
    doc["sample_rate"] = 10_000_000
    r = analyze(parse_nam(doc))
    assert r["memory"]["probe_samples"] == probe.MAX_MEMORY_PROBE


def test_the_dilation_tree_of_a_huge_graph_is_refused_not_drawn(tmp_path):
    spec = _spec(tmp_path, [{"dilation": 2**20, "weights": [0.5, 0.5]} for _ in range(15)] + [{"weights": [1.0]}] * 16)
    line = one_error_line(run("report", "--spec", str(spec), "--diagram"))
    assert "dilation tree" in line and "--diagram and --plot" in line


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 300),
    dilation=st.integers(1, 40),
    kernel_size=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_windowed_shift_or_equals_the_plain_loop(n, dilation, kernel_size, seed):
    rng = np.random.default_rng(seed)
    src = rng.random(n) < rng.random() * 0.3
    dst = rng.random(n) < 0.1
    expected = dst.copy()
    for j in range(kernel_size):
        s = j * dilation
        if s < n:
            expected[s:] |= src[: n - s]
    _shift_or(dst, src, dilation, kernel_size)
    np.testing.assert_array_equal(dst, expected)


def test_coverage_of_a_long_kernel_is_exact():
    stack = parse_spec({"layers": [{"dilation": 3, "kernel_size": 40, "weights": [0.025] * 40}, {"dilation": 1, "weights": [0.5, 0.5]}]})
    reached = coverage(stack).reached
    expected = np.zeros(stack.receptive_field, bool)
    for j in range(40):
        expected[3 * j] = expected[3 * j + 1] = True
    np.testing.assert_array_equal(reached, expected)


def test_a_report_of_a_gain_beyond_float64_says_so_without_infinities_or_warnings():
    proc = run("report", "--dilations", "1", "--taps", "1e308,1e308", "--format", "json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    r = json.loads(proc.stdout, parse_constant=lambda name: pytest.fail(f"{name} in the JSON report"))
    assert r["measured_receptive_field"] == 2
    assert r["effective_receptive_field"] is None and r["frequency_response"] is None
    assert set(r["skipped"]) == {"effective_receptive_field", "frequency_response"}
    assert all("overflows float64" in why for why in r["skipped"].values())


def test_notches_beyond_the_listed_ones_are_counted_and_long_kernels_use_the_grid(monkeypatch):
    from wavedil import frequency

    kernel = np.full(16, 1 / 16)  # a 16-sample moving average: notches at multiples of 3 kHz at 48 kHz
    full = frequency.frequency_response(kernel, 48000)
    assert full["notches_hz"] == [3000.0 * i for i in range(1, 9)] and full["notch_count"] == 8
    monkeypatch.setattr(frequency, "MAX_NOTCHES", 3)
    few = frequency.frequency_response(kernel, 48000)
    assert few["notches_hz"] == full["notches_hz"][:3] and few["notch_count"] == 8
    monkeypatch.setattr(frequency, "MAX_REFINED_TAPS", 8)
    step = 24000 / 8192  # the grid: max(8192, 16 * taps) frequencies up to Nyquist
    grid = frequency.frequency_response(kernel, 48000)
    assert grid["notch_count"] == 8
    np.testing.assert_allclose(grid["notches_hz"], full["notches_hz"][:3], atol=step)


# -- found by a hostile review ---------------------------------------------------


def test_an_npz_with_a_second_weights_member_is_refused(tmp_path):
    """np.load would read a raw member named 'weights' instead of the checked 'weights.npy'."""
    stack_doc = {"type": "wavenet", "arrays": [{"channels": 2, "kernel_size": 2, "dilations": [1]}], "weights": "w.npz"}
    np.save(tmp_path / "weights.npy", np.zeros(3))
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as z:
        z.write(tmp_path / "weights.npy", "weights.npy")
        z.writestr("weights", b"\x93NUMPY" + bytes(100))
    with pytest.raises(SpecError, match="holds 'weights' besides one 'weights.npy'"):
        parse_spec({"layers": [stack_doc]}, base_dir=tmp_path)


def test_weights_beyond_float32_need_float64_arithmetic(tmp_path):
    audio = tmp_path / "in.wav"
    sf.write(audio, np.random.default_rng(0).normal(0, 0.1, 4800), 48000)
    proc = run("apply", str(audio), "-o", str(tmp_path / "o.wav"), "--taps", "1e300,1", "--dilations", "1")
    line = one_error_line(proc)
    assert "layer 1: weights beyond the range of float32" in line and "--dtype float64" in line
    assert "RuntimeWarning" not in proc.stderr and not (tmp_path / "o.wav").exists()


def test_an_overflowing_nonlinear_probe_is_skipped_not_misread():
    stack = parse_spec({"layers": [{"weights": [1e300], "activation": "tanh"}, {"weights": [1e300, 1e300]}, {"weights": [1e300]}]})
    r = analyze(stack)
    assert r["measured_receptive_field"] is None and "overflows float64" in r["skipped"]["measured_receptive_field"]
    assert r["effective_receptive_field"] is None


@pytest.mark.parametrize("command", [["report", "--preset", "smooth"], ["presets"], ["plan", "--target", "4800"]])
def test_a_full_standard_output_is_one_error_line(command):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "wavedil", *command], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr == "Error: standard output: no space left on device\n", proc.stderr


def test_a_json_batch_to_a_full_standard_output_runs_to_its_end(tmp_path):
    audio = tmp_path / "in.wav"
    sf.write(audio, np.zeros(480), 48000)
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "wavedil", "apply", str(audio), "-d", str(tmp_path / "out"), "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    line = one_error_line(proc)
    assert line.startswith("Error: standard output failed (no space left on device)") and "1 ok" in line
    assert (tmp_path / "out" / "in.wav").exists()


def test_an_mp3_filtered_into_a_wav_is_pcm(tmp_path):
    sf.write(tmp_path / "in.mp3", np.random.default_rng(0).normal(0, 0.1, (4800, 2)), 48000, format="MP3")
    proc = run("apply", str(tmp_path / "in.mp3"), "-o", str(tmp_path / "out.wav"))
    assert proc.returncode == 0, proc.stderr
    assert sf.info(tmp_path / "out.wav").subtype == "PCM_16"


@pytest.mark.parametrize("fmt", ["NIST", "PAF", "VOC", "MAT5", "IRCAM"])
def test_formats_whose_truncation_cannot_be_seen_are_not_read(tmp_path, fmt):
    path = tmp_path / f"in.{fmt.lower()}"
    sf.write(path, np.zeros((4800, 1)), 48000, format=fmt, subtype=sf.default_subtype(fmt))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 9 // 10])  # cut: libsndfile would read it without a word
    line = one_error_line(run("apply", str(path), "-o", str(tmp_path / "out.wav")))
    assert f"{fmt} files are not read" in line and "convert it to WAV or FLAC" in line


def test_finite_doubles_beyond_float32_are_named_as_such(tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, np.full((480, 1), 1e300), 48000, subtype="DOUBLE")
    line = one_error_line(run("apply", str(path), "-o", str(tmp_path / "o.wav")))
    assert "samples beyond float32's range" in line and "--dtype float64" in line


def test_segments_that_do_not_fit_run_in_one_process(tmp_path):
    """-j 2 on one long file within a limit that one process fits: it runs, as -j 1 does, and writes the same bytes."""
    path = tmp_path / "long.wav"
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, (44100 * 30, 2)), 44100, subtype="PCM_16")
    one = run("apply", str(path), "-o", str(tmp_path / "one.wav"), "--memory-limit", "64M", "-j", "1")
    two = run("apply", str(path), "-o", str(tmp_path / "two.wav"), "--memory-limit", "64M", "-j", "2")
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert (tmp_path / "one.wav").read_bytes() == (tmp_path / "two.wav").read_bytes()


def test_a_bad_limit_in_the_environment_is_named_as_such(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "wavedil", "report"], capture_output=True, text=True, timeout=60, env={**os.environ, "WAVEDIL_MEMORY_LIMIT": "foo"}
    )
    assert proc.returncode == 2 and "(from WAVEDIL_MEMORY_LIMIT)" in proc.stderr


def test_every_error_survives_the_ways_workers_and_pickling_helpers_rebuild_it():
    """cls.__new__(cls, *args) is how tblib (installed by Dask) rebuilds an exception: a MemoryError subclass refused it."""
    import copy
    import inspect
    import pickle

    import wavedil.errors as errors

    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.WavedilError)]
    assert errors.MemoryLimitError in classes
    for cls in classes:
        assert isinstance(cls.__new__(cls, "the run needs 1 GiB"), cls)
        exc = cls("the run needs 1 GiB")
        assert str(exc.prefixed("in.wav")) == "in.wav: the run needs 1 GiB"
        assert str(pickle.loads(pickle.dumps(exc))) == str(copy.copy(exc)) == "the run needs 1 GiB"


def test_a_memory_refusal_is_one_line_after_dask_installed_its_pickling(tmp_path):
    """With tblib's pickling in place (any process that imported Dask's distributed), the refusal stays one Error line."""
    import subprocess
    import sys

    pytest.importorskip("tblib")
    spec = Path(__file__).resolve().parent / "fixtures" / "nam" / "v0_5" / "wavenet_a1_nano.nam"
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros(4800, dtype=np.float32), 48000)
    code = (
        # Installed after wavedil's errors exist, as when Dask's distributed is imported later in a process.
        "import sys; from wavedil.cli.main import cli\n"
        "from tblib import pickling_support; pickling_support.install()\n"
        f"sys.argv = ['wavedil', 'apply', {str(src)!r}, '-o', {str(tmp_path / 'out.wav')!r}, '--spec', {str(spec)!r},"
        " '--engine', 'numpy', '--block-size', '65536', '--memory-limit', '20M']\n"
        "cli()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith(f"Error: {spec}: the run needs ") and "memory limit" in run.stderr
