"""Hostile audio inputs and outputs: files that are not files, cut short, corrupt,
too loud for the stack, a full disk, names at the filesystem's limit.

Every failure must be one ``Error:`` line naming the file, exit 1, and no
output; nothing may hang, so the cases that hung before run in a subprocess
with a timeout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import wavedil
from wavedil import audio
from wavedil.audio import WavStreamWriter, remove_stale_temps, write_text
from wavedil.cli.main import cli as cli_main
from wavedil.errors import AudioError, SpecError, WavedilError
from wavedil.process import file_segment, process_file
from wavedil.segments import plan_segments

#: Long enough for a test that would hang to fail, short beside the suite.
HANG = 20


def run(*args: str, stderr: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wavedil", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        text=True,
        timeout=HANG,
    )


def error_line(proc: subprocess.CompletedProcess[str], name: str | Path) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {name}: "), proc.stderr
    return lines[0]


def noise(path: Path, n: int = 4000, channels: int = 2, subtype: str = "PCM_16", **kw) -> np.ndarray:
    x = np.random.default_rng(n).normal(0.0, 0.2, (n, channels)).clip(-0.9, 0.9)
    sf.write(path, x, 48000, subtype=subtype, **kw)
    return x


# -- non-regular files ---------------------------------------------------------


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "fifo.wav")
    return folder / "fifo.wav"


def _device_link(folder: Path) -> Path:
    (folder / "random.wav").symlink_to("/dev/urandom")
    return folder / "random.wav"


def _socket(folder: Path) -> Path:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(folder / "sock.wav"))
    s.close()
    return folder / "sock.wav"


@pytest.mark.skipif(not os.path.exists("/dev/urandom"), reason="needs /dev/zero and /dev/urandom")
@pytest.mark.parametrize("make", [_fifo, lambda folder: Path("/dev/zero"), _device_link, _socket], ids=["fifo", "zero", "symlink", "socket"])
def test_non_regular_inputs_are_refused_as_such(tmp_path, make):
    bad = make(tmp_path)
    with pytest.raises(AudioError, match=f"^{bad}: is not a regular file \\(a FIFO, socket or device\\)"):
        process_file(bad, tmp_path / "out.wav", wavedil.preset("smooth"))
    assert not (tmp_path / "out.wav").exists()


def test_split_precheck_does_not_open_a_fifo(tmp_path):
    """With -j 2 the pre-check for cutting a long file into segments opened a FIFO and blocked for ever."""
    fifo = _fifo(tmp_path)
    proc = run("apply", str(fifo), "-o", str(tmp_path / "out.wav"), "-j", "2")
    assert "is not a regular file" in error_line(proc, fifo)
    assert not (tmp_path / "out.wav").exists()


def test_progress_precheck_does_not_open_a_fifo(tmp_path):
    """The progress line (stderr on a terminal) read every input's length first, a FIFO's too."""
    fifo = _fifo(tmp_path)
    noise(tmp_path / "good.wav")
    controller, terminal = os.openpty()
    try:
        proc = run("apply", str(fifo), str(tmp_path / "good.wav"), "-d", str(tmp_path / "out"), "-j", "1", stderr=terminal)
    finally:
        os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal's other end is closed: all is read
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.returncode == 1
    assert f"Error: {fifo}: is not a regular file".encode() in seen
    assert (tmp_path / "out" / "good.wav").exists() and not (tmp_path / "out" / "fifo.wav").exists()


def test_npz_weights_that_are_not_a_regular_file_are_refused(tmp_path):
    os.mkfifo(tmp_path / "w.npz")
    layer = {"type": "wavenet", "arrays": [{"channels": 1, "kernel_size": 2, "dilations": [1]}], "weights": "w.npz"}
    (tmp_path / "net.json").write_text(json.dumps({"layers": [layer]}))
    noise(tmp_path / "in.wav")
    proc = run("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--spec", str(tmp_path / "net.json"))
    line = error_line(proc, tmp_path / "net.json")
    assert "layer 1: weights" in line and "is not a regular file" in line
    assert not (tmp_path / "out.wav").exists()


def test_a_directory_as_npz_weights_is_named_so(tmp_path):
    (tmp_path / "adir.npz").mkdir()
    layer = {"type": "wavenet", "arrays": [{"channels": 1, "kernel_size": 2, "dilations": [1]}], "weights": "adir.npz"}
    with pytest.raises(SpecError, match=r"layer 1: weights: .*adir\.npz: is a directory"):
        wavedil.parse_spec({"layers": [layer]}, source="net.json", base_dir=tmp_path)


# -- truncated and corrupt files -----------------------------------------------


def cli(*args: str):
    """``wavedil ARGS`` in this process: (exit code, the lines on stderr)."""
    result = CliRunner().invoke(cli_main, list(args))
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


#: What each format's cut file is refused for (4000 stereo 16-bit frames: 16,000 bytes of audio; AIFF's
#: SSND chunk counts 8 more). libsndfile refuses a cut CAF as it opens it, and FLAC's decoder says it in its own words.
TRUNCATED = {
    "wav": r"truncated: the header declares 16000 bytes of audio but (\d+) are present",
    "aiff": r"truncated: the header declares 16008 bytes of audio but (\d+) are present",
    "au": r"truncated: the header declares 16000 bytes of audio but (\d+) are present",
    "w64": r"truncated: the header declares a file of (\d+) bytes but it holds (\d+)",
    "rf64": r"truncated: the header declares 4000 frames but the data ends at frame (\d+)",
    "caf": r"not a readable audio file \(Supported file format but file is malformed\)",
    "flac": r"read failed at frame 0: Error : flac decoder lost sync\.",
}


@pytest.mark.parametrize("ext", sorted(TRUNCATED))
def test_truncated_files_are_refused_in_every_format(tmp_path, ext):
    path = tmp_path / f"cut.{ext}"
    noise(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    code, lines = cli("apply", str(path), "-o", str(tmp_path / "out.wav"))
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"Error: {path}: "), lines
    # The word "truncated" is in the test's folder name: the reason after the path is matched whole.
    m = re.fullmatch(TRUNCATED[ext], lines[0][len(f"Error: {path}: ") :])
    assert m, lines
    if ext == "w64":
        assert int(m.group(2)) < int(m.group(1)) == len(data)
    elif m.groups():
        assert int(m.group(1)) < (4000 if ext == "rf64" else 16000)
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_an_ogg_cut_inside_a_page_is_refused(tmp_path, subtype):
    path = tmp_path / "cut.ogg"
    noise(path, n=48000 * 3, channels=1, subtype=subtype, format="OGG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(AudioError, match="cut.ogg: truncated: the file ends inside an Ogg page"):
        process_file(path, tmp_path / "out.wav", wavedil.preset("smooth"))
    assert not (tmp_path / "out.wav").exists()


def test_a_raw_input_is_refused_without_a_traceback(tmp_path):
    """soundfile asks for a rate and channels to read a .raw file, with a TypeError."""
    noise(tmp_path / "take.raw", format="RAW")
    code, lines = cli("apply", str(tmp_path / "take.raw"), "-o", str(tmp_path / "out.wav"))
    assert code == 1 and lines == [f"Error: {tmp_path / 'take.raw'}: headerless raw audio (.raw): its sample rate, channels and sample format are unknown"]


def test_a_wav_stream_of_unknown_length_is_not_truncated(tmp_path):
    """A WAV written to a pipe ('-o -' from standard input) says "until the end" in its header: it is whole."""
    x = np.random.default_rng(1).normal(0.0, 0.2, (3001, 1))
    with open(tmp_path / "stream.wav", "wb") as f:
        writer = WavStreamWriter(f, 48000, 1, "FLOAT", None)
        writer.write(x)
        writer.close()
    result = process_file(tmp_path / "stream.wav", tmp_path / "out.wav", wavedil.preset("smooth"))
    assert result.frames == 3001 and sf.info(tmp_path / "out.wav").frames == 3001


def test_a_wav_cut_short_while_it_is_read_is_refused(tmp_path):
    src = tmp_path / "in.wav"
    noise(src, n=8000)
    whole = src.stat().st_size

    def cut_after_first_block(seconds: float) -> None:
        if src.stat().st_size == whole:
            os.truncate(src, whole // 2)

    with pytest.raises(AudioError, match=r"in\.wav: truncated: the header declares 8000 frames but the data ends at frame"):
        process_file(src, tmp_path / "out.wav", wavedil.preset("smooth"), block_size=256, progress=cut_after_first_block)
    assert [p.name for p in tmp_path.iterdir()] == ["in.wav"]


def test_an_ogg_with_damaged_pages_is_refused(tmp_path):
    path = tmp_path / "in.ogg"
    noise(path, n=48000 * 3, channels=1, subtype="VORBIS")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    code, lines = cli("apply", str(path), "-o", str(tmp_path / "out.wav"))
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"Error: {path}: damaged: "), lines
    assert not (tmp_path / "out.wav").exists()


# -- output beyond the float range ---------------------------------------------

GAIN_10 = {"layers": [{"weights": [10.0]}]}


@pytest.fixture()
def loud(tmp_path) -> Path:
    """A FLOAT file whose samples are near float32's largest from frame 10."""
    x = np.full((4000, 1), 3e38)
    x[1::2] *= -1
    x[:10] = 0.01
    sf.write(tmp_path / "loud.wav", x, 48000, subtype="FLOAT")
    return tmp_path / "loud.wav"


@pytest.mark.parametrize(
    "options,fragment",
    [
        ({}, "overflows to infinity (first at frame 10)"),
        ({"normalize": True}, "overflows to infinity (first at frame 10)"),
        ({"subtype": "PCM_16"}, "overflows to infinity (first at frame 10)"),
        ({"dtype": np.float64}, "overflows what a FLOAT file holds (first at frame 10)"),
    ],
    ids=["float32", "normalize", "pcm16", "float64-to-FLOAT"],
)
def test_an_output_that_overflows_is_an_error_not_infinity(tmp_path, loud, options, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning about the overflow may reach stderr
        with pytest.raises(AudioError, match=re.escape(f"{loud}: the stack's output {fragment}")):
            process_file(loud, tmp_path / "out.wav", wavedil.parse_spec(GAIN_10), block_size=256, **options)
    assert not (tmp_path / "out.wav").exists()


def test_segments_on_workers_overflow_without_a_warning(loud):
    """A segment computed on a worker process: its warnings would reach the terminal; the writer reports the overflow."""
    stack = wavedil.parse_spec(GAIN_10)
    segment = plan_segments(4000, stack, segment_frames=1024, block_size=64)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, _ = file_segment(str(loud), segment, stack, "float32", 64, False)
    assert np.isfinite(y[:10]).all() and np.isinf(y[10:]).all()


def test_a_loud_output_that_fits_is_written(tmp_path, loud):
    result = process_file(loud, tmp_path / "out.wav", wavedil.parse_spec(GAIN_10), dtype=np.float64, subtype="DOUBLE")
    y = sf.read(tmp_path / "out.wav")[0]
    assert np.isfinite(y).all() and result.peak == pytest.approx(3e39)


def test_peak_db_must_be_finite(tmp_path):
    noise(tmp_path / "in.wav")
    for value in ("nan", "inf", "-inf"):
        code, lines = cli("apply", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--normalize", "--peak-db", value)
        assert code == 2 and "--peak-db" in lines[-1]
    with pytest.raises(WavedilError, match="finite"):
        process_file(tmp_path / "in.wav", tmp_path / "out.wav", wavedil.preset("smooth"), normalize=True, peak_db=float("nan"))
    assert not (tmp_path / "out.wav").exists()


# -- a full disk -----------------------------------------------------------------


@pytest.fixture()
def full_disk(monkeypatch):
    """Temporary outputs that are links to /dev/full, where every write fails with ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")

    def temp_on_full_disk(target):
        link = Path(target).parent / f".{Path(target).name}.wavedil-full.tmp"
        link.symlink_to("/dev/full")
        return link

    monkeypatch.setattr(audio, "temp_path_for", temp_on_full_disk)


@pytest.mark.parametrize("ext", ["wav", "raw"])  # WAV fails as its header is written, RAW on the first samples
def test_a_full_disk_says_so_for_audio(tmp_path, full_disk, ext):
    noise(tmp_path / "in.wav")
    with pytest.raises(AudioError, match="no space left on device"):
        process_file(tmp_path / "in.wav", tmp_path / f"out.{ext}", wavedil.preset("smooth"))
    assert [p.name for p in tmp_path.iterdir()] == ["in.wav"]


def test_a_full_disk_says_so_for_reports(tmp_path, full_disk):
    with pytest.raises(AudioError, match="report.json: cannot write: no space left on device"):
        write_text(tmp_path / "report.json", "{}" * 10000)
    assert not list(tmp_path.iterdir())


def test_a_full_filesystem_says_so(tmp_path):
    """The real thing, where a private mount is allowed (root, or user namespaces)."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare")
    noise(tmp_path / "in.wav", n=48000)
    full = tmp_path / "full"
    full.mkdir()
    script = 'mount -t tmpfs -o size=64k wavedil-full "$1" || exit 0; echo mounted; shift; exec "$@"'
    proc = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", str(full),
         sys.executable, "-m", "wavedil", "apply", str(tmp_path / "in.wav"), "-o", str(full / "out.wav")],
        capture_output=True, text=True, timeout=HANG,
    )  # fmt: skip
    if "mounted" not in proc.stdout:
        pytest.skip(f"cannot mount a small filesystem here: {proc.stderr.strip()}")
    assert error_line(proc, full / "out.wav").endswith("write failed: no space left on device")


# -- temporary file names ----------------------------------------------------------


def test_an_output_name_at_the_filesystem_limit_works(tmp_path):
    noise(tmp_path / "in.wav")
    out = tmp_path / ("é" * 118 + ".wav")  # 240 bytes in UTF-8
    assert len(os.fsencode(out.name)) == 240
    process_file(tmp_path / "in.wav", out, wavedil.preset("smooth"))
    assert sf.info(out).frames == 4000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.wav", out.name])


def test_temporary_names_are_short_enough_and_recognised(tmp_path):
    for name in ("a" * 255, "é" * 127 + "x", "line\nbreak.wav"):
        tmp = audio.temp_path_for(tmp_path / name)
        assert len(os.fsencode(tmp.name)) <= 255
        assert tmp.name.encode("utf-8")  # never cut inside a character
        assert audio._TEMP_NAME.fullmatch(tmp.name)
        tmp.unlink()


def test_stale_temps_with_a_line_break_in_their_name_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    host = socket.gethostname()
    stale = tmp_path / f".take\n2.wav.wavedil-{dead.pid}@{host}-ab_12.tmp"
    live = tmp_path / f".take\n3.wav.wavedil-{os.getpid()}@{host}-cd_34.tmp"
    elsewhere = tmp_path / f".take\n4.wav.wavedil-{dead.pid}@not-{host}-ef_56.tmp"
    for p in (stale, live, elsewhere):
        p.write_bytes(b"partial")
    assert remove_stale_temps(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, elsewhere.name])

