"""The pipeline and the orchestrator as a library: one Options, streams passed in, Python in the messages,
the progress line and the closing summary as a person sees them (fake clock, fake terminal width)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from scipy.signal import lfilter

import wavedil
from wavedil.batch import Job, JobResult, LocalWorkers, Options, collect_jobs, run_jobs, summarize
from wavedil.cli.apply import _file_line, summary_line
from wavedil.cli.errors import describe
from wavedil.cli.main import cli
from wavedil.cli.progress import BAR_MARKS, ProgressLine
from wavedil.errors import AudioError, OutputExistsError, SampleRateError, UsageError
from wavedil.process import process_file

SMOOTH = wavedil.preset("smooth")  # the 16-sample moving average


def write(path: Path, frames: int = 24000, rate: int = 8000, channels: int = 1, subtype: str = "FLOAT", seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0, 0.2, (frames, channels)).clip(-0.99, 0.99)
    sf.write(path, x, rate, subtype=subtype)
    return sf.read(path, always_2d=True)[0]


# -- one pipeline ---------------------------------------------------------------------------------


def test_normalize_measures_its_peak_with_progress_off(tmp_path):
    """A 3 s file counts 3 s of progress with --normalize too, though the chain runs twice."""
    write(tmp_path / "in.wav", frames=24000, rate=8000)
    seen: list[float] = []
    process_file(tmp_path / "in.wav", tmp_path / "out.wav", SMOOTH, normalize=True, block_size=1000, progress=seen.append)
    assert len(seen) == 24 and sum(seen) == pytest.approx(3.0, abs=1e-12)


def test_the_peak_db_setting_sets_the_peak(tmp_path):
    x = write(tmp_path / "in.wav")[:, 0]
    result = process_file(tmp_path / "in.wav", tmp_path / "out.wav", SMOOTH, Options(normalize=True, peak_db=-6.0, dtype="float64"))
    y = sf.read(tmp_path / "out.wav")[0]
    filtered = lfilter(np.full(16, 1 / 16), [1.0], x)
    target = 10 ** (-6 / 20)
    assert result.gain == pytest.approx(target / np.max(np.abs(filtered)), rel=1e-12)
    np.testing.assert_allclose(y, filtered * result.gain, atol=2**-24)  # a FLOAT file
    assert np.max(np.abs(y)) == pytest.approx(target, rel=1e-6)


def test_options_and_keyword_settings_are_the_same_run(tmp_path):
    write(tmp_path / "in.wav")
    a = process_file(tmp_path / "in.wav", tmp_path / "a.wav", SMOOTH, Options(subtype="PCM_24", dtype="float64"))
    b = process_file(tmp_path / "in.wav", tmp_path / "b.wav", SMOOTH, subtype="PCM_24", dtype=np.float64)
    assert (a.subtype, b.subtype) == ("PCM_24", "PCM_24")
    assert np.array_equal(sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0])
    with pytest.raises(TypeError, match="force"):
        process_file(tmp_path / "in.wav", tmp_path / "c.wav", SMOOTH, force=True)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"block_size": 0}, "block size must be 1 to 16777216 frames, got 0"),
        ({"peak_db": float("inf")}, "the peak for normalisation must be a finite number of dB, not inf"),
        ({"dtype": "float16"}, "the arithmetic is float32 or float64, not 'float16'"),
    ],
)
def test_options_that_cannot_work_are_usage_errors(settings, message):
    with pytest.raises(UsageError) as info:
        Options(**settings)
    assert str(info.value) == message


def test_streams_are_passed_in_and_give_the_file_s_samples(tmp_path):
    write(tmp_path / "in.wav", subtype="PCM_16")
    process_file(tmp_path / "in.wav", tmp_path / "file.wav", SMOOTH)
    out = io.BytesIO()
    with open(tmp_path / "in.wav", "rb") as f:
        result = process_file(io.BytesIO(f.read()), out, SMOOTH)
    assert (result.input, result.output, result.subtype) == ("-", "-", "PCM_16")
    streamed = sf.read(io.BytesIO(out.getvalue()))[0]
    assert np.array_equal(streamed, sf.read(tmp_path / "file.wav")[0])


def test_a_stream_cannot_be_normalized(tmp_path):
    with pytest.raises(UsageError) as info:
        process_file(io.BytesIO(b"RIFF"), tmp_path / "out.wav", SMOOTH, normalize=True)
    assert str(info.value) == "-: normalizing reads the input twice: it needs a file, not a stream"
    with pytest.raises(UsageError):
        run_jobs([Job(io.BytesIO(b"RIFF"), str(tmp_path / "out.wav"))], SMOOTH, Options(normalize=True))
    assert not (tmp_path / "out.wav").exists()


def test_messages_speak_python_and_the_command_line_speaks_options(tmp_path):
    write(tmp_path / "in.wav")
    (tmp_path / "out.wav").write_bytes(b"keep")
    with pytest.raises(OutputExistsError) as exists:
        process_file(tmp_path / "in.wav", tmp_path / "out.wav", SMOOTH)
    assert str(exists.value) == f"{tmp_path / 'out.wav'}: already exists; overwrite=True replaces it"
    assert describe(exists.value) == f"{tmp_path / 'out.wav'}: already exists; --force replaces it"
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.0]), 8000, subtype="FLOAT")
    with pytest.raises(AudioError) as bad:
        process_file(nan, tmp_path / "o.wav", SMOOTH)
    assert str(bad.value) == f"{nan}: contains NaN or infinite samples (the first at frame 1); sanitize=True replaces them by zero"
    assert describe(bad.value).endswith("; --sanitize replaces them by zero")


def test_a_sample_rate_mismatch_carries_both_rates(tmp_path):
    write(tmp_path / "in.wav", rate=44100)
    stack = SMOOTH.replace(sample_rate=48000)
    with pytest.raises(SampleRateError) as info:
        process_file(tmp_path / "in.wav", tmp_path / "out.wav", stack)
    assert (info.value.audio_rate, info.value.model_rate) == (44100, 48000)
    assert describe(info.value) == f"{tmp_path / 'in.wav'}: the audio is at 44100 Hz but the model runs at 48000 Hz; --resample converts it"


@pytest.mark.parametrize(
    "kw, message",
    [
        ({}, "give either an output file or an output folder; output='FILE' or outdir='FOLDER'"),
        ({"output": "o.wav", "outdir": "out"}, "give either an output file or an output folder; output='FILE' or outdir='FOLDER'"),
        ({"output": "o.wav", "inputs": ["a.wav", "b.wav"]}, "an output file takes one input, got 2; outdir='FOLDER' takes several"),
        ({"outdir": "out", "report": "r.json"}, "a report file goes with one output file; report_dir='FOLDER' gives one report per output"),
        ({"output": "o.wav", "report_dir": "reports"}, "a report folder goes with an output folder; report='FILE' names the one report"),
    ],
)
def test_layouts_that_cannot_work_are_usage_errors(kw, message):
    inputs = kw.pop("inputs", ["a.wav"])
    with pytest.raises(UsageError) as info:
        collect_jobs(inputs, **kw)
    assert str(info.value) == message


def test_a_directory_without_recursive_names_the_setting(tmp_path):
    (tmp_path / "takes").mkdir()
    jobs, (error,) = collect_jobs([str(tmp_path / "takes")], outdir=str(tmp_path / "out"))
    assert jobs == [] and error.status == "error" and error.output is None
    assert error.error == f"{tmp_path / 'takes'}: is a directory; recursive=True processes the audio files in it"
    assert describe(error.cause) == f"{tmp_path / 'takes'}: is a directory; --recursive processes the audio files in it"


# -- one orchestrator, one result -------------------------------------------------------------------


def test_one_result_type_gives_the_json_line_and_the_report_s_audio(tmp_path):
    write(tmp_path / "a.wav", frames=8000)
    jobs, _ = collect_jobs([str(tmp_path / "a.wav")], outdir=str(tmp_path / "out"))
    (r,) = run_jobs(jobs, SMOOTH, Options(engine="numpy"))
    assert list(r.to_dict()) == [
        "input", "output", "status", "error", "seconds_audio", "seconds_wall", "clipped_samples", "sanitized_samples", "report",
        "engine", "fast_tanh",
    ]
    assert r.to_dict()["seconds_audio"] == 1.0 and r.audio.frames == 8000
    assert r.realtime_factor == pytest.approx(1.0 / r.seconds_filter)
    assert list(r.audio.to_dict()) == [
        "input", "output", "frames", "seconds", "sample_rate", "channels", "out_channels",
        "format", "subtype", "clipped_samples", "sanitized_samples", "peak", "gain",
    ]


def test_few_short_files_run_here_and_whole_files_run_on_workers_alike(tmp_path):
    x = [write(tmp_path / f"{i}.wav", frames=4000, seed=i) for i in range(3)]
    here, _ = collect_jobs([str(tmp_path / f"{i}.wav") for i in range(3)], outdir=str(tmp_path / "here"))
    pool, _ = collect_jobs([str(tmp_path / f"{i}.wav") for i in range(3)], outdir=str(tmp_path / "pool"))
    starts: list[int] = []
    assert [r.status for r in run_jobs(here, SMOOTH, Options(), LocalWorkers(1), on_start=lambda: starts.append(1))] == ["ok"] * 3
    assert [r.status for r in run_jobs(pool, SMOOTH, Options(), LocalWorkers(2), on_start=lambda: starts.append(2))] == ["ok"] * 3
    assert starts == [1, 2]
    for i, xi in enumerate(x):
        a, b = sf.read(tmp_path / "here" / f"{i}.wav")[0], sf.read(tmp_path / "pool" / f"{i}.wav")[0]
        assert np.array_equal(a, b)
        np.testing.assert_allclose(a, lfilter(np.full(16, 1 / 16), [1.0], xi[:, 0]), atol=1e-6)


# -- what a person sees -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("columns", [12, 20, 33, 40, 60, 80, 120])
def test_the_progress_line_fits_the_terminal(columns):
    clock = FakeClock()
    stream = io.StringIO()
    line = ProgressLine(12, 3600.0, enabled=True, stream=stream, clock=clock, columns=lambda: columns)
    line.start()
    for _ in range(40):
        clock.now += 0.5
        line.advance(60.0)
        line.file_done()
    drawn = [part for part in re.split(r"\r", stream.getvalue()) if part.strip()]
    assert drawn and all(len(part) <= columns - 1 and "\n" not in part for part in drawn)


def test_the_progress_line_reaches_100_percent_though_block_lengths_round():
    clock = FakeClock()
    line = ProgressLine(1, 1.0, enabled=False, clock=clock, columns=lambda: 200)
    line.start()
    for _ in range(10):
        clock.now += 0.1
        line.advance(0.1)  # ten tenths add up to 0.9999999999999999
    assert line.seconds < 1.0
    assert line.text().startswith("[" + "#" * BAR_MARKS + "] 100.0%")
    line.file_done()
    assert line.text().startswith("[" + "#" * BAR_MARKS + "] 100.0%  1/1 files")


def test_the_progress_line_shows_the_time_left_at_the_speed_so_far():
    clock = FakeClock()
    line = ProgressLine(3, 300.0, enabled=False, clock=clock, columns=lambda: 200)
    clock.now = 7.0  # before the work starts (workers starting): not counted
    line.start()
    clock.now = 12.0
    line.advance(100.0)  # 100 s of audio in 5 s: 20x; 200 s left take 10 s
    assert line.speed == 20.0
    assert line.text().endswith("  100.0 s audio  20x real time  ETA 0:10")
    clock.now = 60.0  # waiting for the next block does not lower the speed shown
    assert line.speed == 20.0


def test_the_progress_line_and_the_file_line_give_one_speed(tmp_path, monkeypatch):
    """A machine that filters at 250x real time: the clock moves only as audio is done."""
    write(tmp_path / "in.wav", frames=40000, rate=8000)
    clock = FakeClock()
    monkeypatch.setattr(time, "perf_counter", clock)
    line = ProgressLine(1, 5.0, enabled=False, clock=clock, columns=lambda: 200)

    def progress(seconds: float) -> None:
        clock.now += seconds / 250
        line.advance(seconds)

    jobs, _ = collect_jobs([str(tmp_path / "in.wav")], outdir=str(tmp_path / "out"))
    (r,) = run_jobs(jobs, SMOOTH, Options(block_size=4096), on_progress=progress, on_start=line.start)
    assert line.speed == pytest.approx(250.0) and r.realtime_factor == pytest.approx(250.0)
    assert "  250x real time" in line.text() and _file_line(r).endswith(", 250x real time")


def test_the_summary_line_counts_every_fate():
    results = [
        JobResult("a.wav", "o/a.wav", "ok", audio=_audio(8000, 8000)),
        JobResult("b.wav", "o/b.wav", "ok", audio=_audio(12000, 8000)),
        JobResult("c.wav", "o/c.wav", "error", "c.wav: no such file"),
        JobResult("d.wav", "o/d.wav", "skipped"),
    ]
    assert summary_line(summarize(results, seconds_wall=0.1)) == "4 files: 2 ok, 1 error, 1 skipped; 2.50 s of audio in 0.10 s, 25x real time"


def _audio(frames: int, rate: int) -> wavedil.FileResult:
    return wavedil.FileResult("x", "y", frames, rate, 1, 1, "WAV", "FLOAT", 0, 0.5, 1.0)


def test_a_plain_batch_ends_with_its_summary_and_json_or_quiet_without(tmp_path):
    for i in range(2):
        write(tmp_path / f"{i}.wav", frames=8000, seed=i)
    args = ["apply", str(tmp_path / "0.wav"), str(tmp_path / "1.wav"), str(tmp_path / "missing.wav"), "-j", "1"]
    plain = CliRunner().invoke(cli, [*args, "-d", str(tmp_path / "plain")])
    assert plain.exit_code == 1
    last = plain.stderr.splitlines()[-1]
    m = re.fullmatch(r"3 files: 2 ok, 1 error, 0 skipped; 2\.00 s of audio in (\d+\.\d\d) s, (.+)x real time", last)
    assert m, plain.stderr
    quiet = CliRunner().invoke(cli, [*args, "-d", str(tmp_path / "quiet"), "-q"])
    assert quiet.stderr.splitlines() == [f"Error: {tmp_path / 'missing.wav'}: no such file"]
    as_json = CliRunner().invoke(cli, [*args, "-d", str(tmp_path / "json"), "--json"])
    assert "files:" not in as_json.stderr and '"summary": true' in as_json.stdout.splitlines()[-1]
