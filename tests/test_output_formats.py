"""Output format control: the subtype chosen, sox's -b/-e, compression levels, and lengths kept in every container."""

from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf

import wavedil
from wavedil.audio import choose_subtype, downgraded
from wavedil.errors import AudioError, UsageError

from test_cli import run


def _tone(seconds: float = 1.0, rate: int = 48000, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.repeat(x[:, None], channels, axis=1)


@pytest.mark.parametrize(
    ("fmt", "input_subtype", "expected"),
    [
        ("FLAC", "FLOAT", "PCM_24"),  # as sox and ffmpeg write float input to FLAC
        ("FLAC", "DOUBLE", "PCM_24"),
        ("FLAC", "PCM_32", "PCM_24"),
        ("FLAC", "PCM_16", "PCM_16"),
        ("FLAC", "ULAW", "PCM_16"),
        ("WAV", "FLOAT", "FLOAT"),
        ("AIFF", "DOUBLE", "DOUBLE"),
        ("OGG", "PCM_16", "VORBIS"),
        ("WAV", "VORBIS", "PCM_16"),  # a codec is not carried into another format: the format's default
        ("WAV", "PCM_S8", "PCM_U8"),  # WAV's 8 bits are unsigned
    ],
)
def test_the_subtype_is_the_inputs_or_the_closest_the_format_holds(fmt, input_subtype, expected):
    assert choose_subtype(fmt, input_subtype, None, path="out") == expected


@pytest.mark.parametrize(
    ("fmt", "bits", "encoding", "expected"),
    [
        ("WAV", 16, None, "PCM_16"),
        ("WAV", 24, "signed", "PCM_24"),
        ("WAV", 32, None, "PCM_32"),
        ("WAV", 32, "float", "FLOAT"),
        ("WAV", None, "float", "FLOAT"),
        ("WAV", 64, None, "DOUBLE"),
        ("WAV", 8, None, "PCM_U8"),
        ("FLAC", 8, None, "PCM_S8"),
        ("WAV", None, "unsigned", "PCM_U8"),
        ("WAV", None, "signed", "PCM_16"),  # the input's width (PCM_16 below)
    ],
)
def test_bits_and_encoding_name_a_subtype_as_sox_does(fmt, bits, encoding, expected):
    assert choose_subtype(fmt, "PCM_16", None, path="out", bits=bits, encoding=encoding) == expected
    assert choose_subtype(fmt, "FLOAT", None, path="out", bits=bits, encoding=encoding) == (expected if encoding != "signed" or bits else "PCM_24")


@pytest.mark.parametrize(("bits", "encoding"), [(16, "unsigned"), (24, "float"), (64, "signed"), (12, None), (None, "mu-law")])
def test_impossible_bits_and_encodings_are_refused_before_any_file(bits, encoding):
    with pytest.raises(UsageError):
        wavedil.Options(bits=bits, encoding=encoding)


def test_a_subtype_the_format_cannot_hold_is_one_error_line():
    with pytest.raises(AudioError, match=r"out\.flac: subtype FLOAT cannot be written as FLAC; it takes PCM_16, PCM_24, PCM_S8"):
        choose_subtype("FLAC", "PCM_16", None, path="out.flac", encoding="float")
    assert downgraded("FLOAT", "PCM_24") and downgraded("PCM_24", "PCM_16") and downgraded("PCM_16", "MPEG_LAYER_III")
    assert downgraded("DOUBLE", "FLOAT") and not downgraded("PCM_16", "PCM_24") and not downgraded("VORBIS", "PCM_16")


def test_float_to_flac_writes_24_bit_and_says_so(tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, _tone(), 48000, subtype="FLOAT")
    result = wavedil.process_file(src, tmp_path / "out.flac", wavedil.gain(0))
    assert sf.info(tmp_path / "out.flac").subtype == "PCM_24" and result.subtype_downgraded_from == "FLOAT"
    p = run("apply", str(src), "-o", str(tmp_path / "cli.flac"), "--gain", "0")
    assert p.returncode == 0 and f"Note: {tmp_path / 'cli.flac'}: written as PCM_24: FLAC holds no FLOAT" in p.stderr
    # Asked for, it is not news: no note.
    p = run("apply", str(src), "-o", str(tmp_path / "asked.flac"), "--gain", "0", "-b", "16")
    assert p.returncode == 0 and "Note" not in p.stderr and sf.info(tmp_path / "asked.flac").subtype == "PCM_16"
    sf.write(tmp_path / "in16.wav", _tone(), 48000, subtype="PCM_16")
    assert wavedil.process_file(tmp_path / "in16.wav", tmp_path / "out16.flac", wavedil.gain(0)).subtype_downgraded_from is None


def test_compression_levels_reach_libsndfile_and_other_formats_refuse_them(tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, _tone(3.0), 48000, subtype="PCM_24")
    sizes = {}
    for level in (0.0, 1.0):
        out = tmp_path / f"c{level}.flac"
        wavedil.process_file(src, out, wavedil.gain(0), compression=level)
        sizes[level] = out.stat().st_size
        assert np.array_equal(sf.read(out)[0], sf.read(src)[0])  # lossless at every level
    assert sizes[1.0] < sizes[0.0]
    vorbis = {}
    for level in (0.0, 1.0):
        out = tmp_path / f"v{level}.ogg"
        wavedil.process_file(src, out, wavedil.gain(0), compression=level)
        vorbis[level] = out.stat().st_size
    assert vorbis[1.0] < vorbis[0.0]
    with pytest.raises(AudioError, match=r"out\.wav: WAV has no compression level"):
        wavedil.process_file(src, tmp_path / "out.wav", wavedil.gain(0), compression=0.5)
    assert not (tmp_path / "out.wav").exists()
    with pytest.raises(UsageError):
        wavedil.Options(compression=1.5)
    p = run("apply", str(src), "-o", str(tmp_path / "x.flac"), "--compression", "2")
    assert p.returncode == 2 and "'--compression'" in p.stderr
    p = run("apply", str(src), "-o", str(tmp_path / "x.wav"), "--compression", "0.5")
    assert p.returncode == 2 and "--compression: WAV has no compression level" in p.stderr and not (tmp_path / "x.wav").exists()
    # libsndfile takes MP3 levels up to 0.999: 1 is that.
    smallest = [wavedil.process_file(src, tmp_path / f"m{level}.mp3", wavedil.gain(0), compression=level) and (tmp_path / f"m{level}.mp3").stat().st_size for level in (0.0, 1.0)]
    assert smallest[1] < smallest[0]


#: Every extension whose format libsndfile writes for two channels at 48 kHz (HTK, SDS, SVX, WVE and XI do not;
#: SD2 is refused, below).
CONTAINERS = ["wav", "wavex", "aiff", "au", "caf", "w64", "rf64", "flac", "ogg", "opus", "mp3", "ircam", "nist", "voc", "paf", "avr", "mpc2k", "mat4", "mat5", "pvf"]


@pytest.mark.parametrize("ext", CONTAINERS)
def test_the_output_is_as_long_as_the_input_in_every_container(tmp_path, ext):
    src = tmp_path / "in.wav"
    frames = 12345  # no multiple of any codec's frame
    sf.write(src, _tone(frames / 48000), 48000, subtype="PCM_16")
    out = tmp_path / f"out.{ext}"
    wavedil.process_file(src, out, wavedil.gain(-1))
    assert sf.info(out).frames == frames


def test_sound_designer_ii_is_refused_with_its_reason(tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, _tone(0.1), 48000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"out\.sd2: cannot write .* \(Sound Designer II keeps its header in a separate resource file\)"):
        wavedil.process_file(src, tmp_path / "out.sd2", wavedil.gain(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
