"""Audio file I/O with soundfile, and atomic writes that never leave a partial file.

Reading goes through libsndfile (WAV, FLAC, OGG, AIFF, ...). A file is
checked before any work starts: missing, empty, unreadable, not a regular
file, not audio or truncated files raise :class:`~wavedil.errors.AudioError`
with a one-line message naming the file.

Writing goes to a hidden temporary file beside the target
(``.NAME.wavedil-PID@HOST-XXXX.tmp``) that is renamed into place only when
complete, so the target is either absent, its old self, or the whole new file.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import stat
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioError, OutputExistsError, Setting

#: Marker in temporary file names, so stale ones can be recognised.
TEMP_MARK = ".wavedil-"
# ".NAME.wavedil-PID@HOST-RANDOM.tmp": the writer's process, so a later run can
# tell a temporary file of a killed run from one still being written. NAME may
# hold any character a file name can, a line break included (hence DOTALL).
_TEMP_NAME = re.compile(r"\..*\.wavedil-(?P<pid>\d+)@(?P<host>.+)-[A-Za-z0-9_]+\.tmp", re.DOTALL)
#: Longest file name when the filesystem does not say.
_NAME_MAX = 255

_FORMAT_ALIASES = {"AIF": "AIFF", "OGA": "OGG", "OPUS": "OGG", "WAVE": "WAV"}
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}
#: Formats libsndfile writes that wavedil does not, and why.
_NOT_WRITTEN = {
    # libsndfile writes its header to an AppleDouble "._" file beside it: the rename that puts a
    # complete output in place would leave that behind, and the output would not open.
    "SD2": "Sound Designer II keeps its header in a separate resource file",
}


def output_format(path: str | os.PathLike[str]) -> str:
    """The libsndfile major format for a file name, from its extension.

    Raises
    ------
    AudioError
        If the extension names no format libsndfile can write.
    """
    ext = Path(path).suffix.lstrip(".").upper()
    fmt = _FORMAT_ALIASES.get(ext, ext)
    if fmt not in sf.available_formats() or fmt in _NOT_WRITTEN:
        known = ", ".join(sorted(k.lower() for k in sf.available_formats() if k not in _NOT_WRITTEN))
        shown = f"'.{ext.lower()}'" if ext else "(none)"
        why = f" ({_NOT_WRITTEN[fmt]})" if fmt in _NOT_WRITTEN else ""
        raise AudioError(f"{path}: cannot write the audio format of the extension {shown}{why}; use one of {known}")
    return fmt


#: Bits of resolution of the plain subtypes (u-law and A-law decode to 16 bits); codecs count 0.
_RESOLUTION = {"DOUBLE": 64, "FLOAT": 32, "PCM_32": 32, "PCM_24": 24, "PCM_16": 16, "ULAW": 16, "ALAW": 16, "PCM_S8": 8, "PCM_U8": 8}
#: What ``encoding`` (sox's ``-e``) may be.
ENCODINGS = ("float", "signed", "unsigned")
#: What ``bits`` (sox's ``-b``) may be.
BITS = (8, 16, 24, 32, 64)
#: The formats libsndfile compresses with a level (``compression``): FLAC, Ogg (Vorbis, Opus), MP3.
COMPRESSED_FORMATS = frozenset({"FLAC", "OGG", "MP3"})


def choose_subtype(
    fmt: str,
    input_subtype: str | None,
    requested: str | None,
    *,
    path: str,
    input_format: str | None = None,
    bits: int | None = None,
    encoding: str | None = None,
) -> str:
    """The subtype to write: ``requested`` (or the one ``bits`` and ``encoding`` name), else the input's, else the closest.

    Without a request, the input's subtype when ``fmt`` holds it; otherwise
    the finest plain subtype of ``fmt`` no finer than the input's (float or
    32-bit input written as FLAC becomes 24-bit, as sox and ffmpeg do);
    otherwise ``fmt``'s default. A codec (MP3, Vorbis, ADPCM, ...) is carried
    over only within its own format: libsndfile lists MP3 as a WAV subtype it
    cannot write, and a WAV of PCM is what anyone filtering an MP3 into a
    .wav expects.

    ``bits`` and ``encoding`` are sox's ``-b`` and ``-e``: ``float`` is 32 or
    64 bits (``FLOAT``, ``DOUBLE``), ``signed`` 8 to 32 (``PCM_S8`` ...
    ``PCM_32``; without ``bits``, the input's integer width, else 24),
    ``unsigned`` 8 (``PCM_U8``); ``bits`` alone is signed (or float for 64;
    8 bits is unsigned where the format has no signed 8-bit, as in WAV).

    >>> choose_subtype("FLAC", "FLOAT", None, path="out.flac")
    'PCM_24'
    >>> choose_subtype("WAV", "PCM_24", None, path="out.wav", bits=8)
    'PCM_U8'
    """
    if requested is None and (bits is not None or encoding is not None):
        requested = _named_subtype(fmt, input_subtype, bits, encoding, path)
    if requested:
        sub = requested.upper()
        if sub not in sf.available_subtypes() or not sf.check_format(fmt, sub):
            allowed = ", ".join(sorted(sf.available_subtypes(fmt)))
            raise AudioError(f"{path}: subtype {sub} cannot be written as {fmt}; it takes {allowed}")
        return sub
    if fmt == "OGG" and Path(path).suffix.lower() == ".opus":
        return "OPUS"
    plain = bool(input_subtype) and input_subtype in _RESOLUTION
    if input_subtype and sf.check_format(fmt, input_subtype) and (plain or input_format == fmt):
        return input_subtype
    if plain:
        finest = _RESOLUTION[input_subtype]  # type: ignore[index]
        held = [sub for sub in sf.available_subtypes(fmt) if sub in _RESOLUTION and _RESOLUTION[sub] <= finest and sf.check_format(fmt, sub)]
        if held:
            # The finest the format holds; a float stays float where it can (FLOAT before PCM_32).
            return max(held, key=lambda sub: (_RESOLUTION[sub], sub in _FLOAT_SUBTYPES, sub != "PCM_U8"))
    return sf.default_subtype(fmt)


def bits_encoding_problem(bits: int | None, encoding: str | None) -> str | None:
    """What is wrong with a ``bits`` and ``encoding`` pair whatever the format, or None.

    >>> bits_encoding_problem(16, "unsigned")
    'unsigned samples are 8 bits (PCM_U8), not 16'
    """
    if encoding is not None and encoding not in ENCODINGS:
        return f"encoding {encoding!r} is none of {', '.join(ENCODINGS)}"
    if bits is not None and bits not in BITS:
        return f"{bits} bits is none of {', '.join(map(str, BITS))}"
    if encoding == "float" and bits not in (None, 32, 64):
        return f"float samples are 32 or 64 bits, not {bits}"
    if encoding == "unsigned" and bits not in (None, 8):
        return f"unsigned samples are 8 bits (PCM_U8), not {bits}"
    if encoding == "signed" and bits == 64:
        return "signed integer samples are 8 to 32 bits, not 64"
    return None


def _named_subtype(fmt: str, input_subtype: str | None, bits: int | None, encoding: str | None, path: str) -> str:
    """The subtype ``bits`` and ``encoding`` name (see :func:`choose_subtype`)."""
    problem = bits_encoding_problem(bits, encoding)
    if problem:
        raise AudioError(f"{path}: {problem}")
    if encoding == "float" or (encoding is None and bits == 64):
        return "DOUBLE" if bits == 64 else "FLOAT"
    if encoding == "unsigned":
        return "PCM_U8"
    if bits is None:
        bits = _RESOLUTION[input_subtype] if input_subtype in ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32") else 24  # type: ignore[index]
    if bits == 8:
        return "PCM_U8" if encoding is None and not sf.check_format(fmt, "PCM_S8") else "PCM_S8"
    return f"PCM_{bits}"


def downgraded(input_subtype: str | None, output_subtype: str) -> bool:
    """Whether writing ``input_subtype`` audio as ``output_subtype`` loses resolution: float to integer, fewer bits, or a lossy codec.

    >>> downgraded("FLOAT", "PCM_24"), downgraded("PCM_16", "PCM_24"), downgraded("PCM_16", "VORBIS")
    (True, False, True)
    """
    if not input_subtype or input_subtype not in _RESOLUTION:
        return False
    if input_subtype in _FLOAT_SUBTYPES and output_subtype not in _FLOAT_SUBTYPES:
        return True
    return _RESOLUTION.get(output_subtype, 0) < _RESOLUTION[input_subtype]


def clips(subtype: str) -> bool:
    """Whether samples beyond full scale are clipped when written as ``subtype``."""
    return subtype not in _FLOAT_SUBTYPES


# libsndfile reads a truncated file up to its end and says so only in its log: the
# size the header declares, then "(should be N)" with the bytes present. WAV and
# CAF name the chunk "data", AIFF "SSND", AU "Data Size"; W64 only checks the
# whole file ("riff"), RF64 compares frame counts.
_SHORT_DATA = re.compile(r"^\s*(data|SSND|Data Size|riff)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_SHORT_FRAMES = re.compile(r"Calculated frame count (\d+) does not match value from 'ds64' chunk of (\d+)")
# The size a streaming writer (WavStreamWriter below, sox, ffmpeg) puts in a
# header it cannot go back to: "until the end of the file", not a truncation.
_UNKNOWN_SIZE = 0xFFFFFFFF
# W64 chunks are aligned on 8 bytes: a file that ends without the last padding is whole.
_W64_ALIGN = 8
# An Ogg file cut inside a page: the partial page is "junk" to libsndfile, which
# then counts the frames up to the last whole page. (Cut exactly between pages,
# the file only lacks its end-of-stream flag, as an unfinished live recording
# does: that is read as a shorter whole stream.)
_OGG_CUT = re.compile(r"^Ogg ?: Junk after the last page", re.MULTILINE)
# What libsndfile logs when libogg drops an Ogg page whose checksum fails.
_OGG_DAMAGE = re.compile(r"Skipped (\d+) bytes looking for the next page|libogg reports a hole at (\d+) bytes")


#: Input formats whose files are checked whole (see :func:`open_input`); libsndfile reads others
#: (NIST, PAF, VOC, MAT, IRCAM, ...) up to where they end without saying they were cut.
VERIFIED_FORMATS = frozenset({"WAV", "WAVEX", "AIFF", "AU", "W64", "RF64", "CAF", "FLAC", "OGG", "MP3"})


def check_input(path: str | os.PathLike[str]) -> None:
    """Refuse an input that cannot be an audio file, before anything opens it.

    Only a regular file is opened: opening a FIFO blocks until a writer
    comes, and a device such as ``/dev/zero`` reads without end; both are
    refused from ``stat`` alone (through a symlink too).

    Raises
    ------
    AudioError
        With a one-line message naming the file: missing, a directory, not a
        regular file, empty or unreadable.
    """
    name = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(f"{name}: no such file") from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(f"{name}: is not a regular file (a FIFO, socket or device), not an audio file")
    if st.st_size == 0:
        raise AudioError(f"{name}: is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{name}: permission denied")


def open_input(path: str | os.PathLike[str]) -> sf.SoundFile:
    """Open an audio file for reading, after checking it is whole.

    Raises
    ------
    AudioError
        With a one-line message naming the file: as :func:`check_input`,
        or not audio, or of a format outside :data:`VERIFIED_FORMATS`, or
        shorter than its header declares.
    """
    name = str(path)
    check_input(path)
    try:
        f = sf.SoundFile(name)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{name}: not a readable audio file ({_libsndfile_reason(exc)})") from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except TypeError:
        # soundfile takes a .raw name for headerless audio and asks for its rate, channels and sample format.
        raise AudioError(f"{name}: headerless raw audio (.raw): its sample rate, channels and sample format are unknown") from None
    if f.format not in VERIFIED_FORMATS:
        fmt = f.format
        f.close()
        raise AudioError(
            f"{name}: {fmt} files are not read: wavedil cannot tell a whole one from a truncated one; "
            f"convert it to WAV or FLAC (it reads {', '.join(sorted(VERIFIED_FORMATS))})"
        )
    problem = _truncation(f.extra_info)
    if problem:
        f.close()
        raise AudioError(f"{name}: truncated: {problem}")
    return f


def _truncation(log: str) -> str | None:
    """What libsndfile's log says is missing from a file it opened, or None."""
    for m in _SHORT_DATA.finditer(log):
        chunk, declared, present = m.group(1), int(m.group(2)), int(m.group(3))
        if declared == _UNKNOWN_SIZE or present >= declared:
            continue
        if chunk == "riff":
            if declared - present >= _W64_ALIGN:
                return f"the header declares a file of {declared} bytes but it holds {present}"
            continue
        return f"the header declares {declared} bytes of audio but {present} are present"
    m = _SHORT_FRAMES.search(log)
    if m and int(m.group(1)) < int(m.group(2)):
        return f"the header declares {m.group(2)} frames but the data ends at frame {m.group(1)}"
    if _OGG_CUT.search(log):
        return "the file ends inside an Ogg page"
    return None


def read_damage(f: sf.SoundFile) -> str | None:
    """What libsndfile skipped as damaged while reading ``f`` so far, or None.

    libogg drops an Ogg page whose checksum fails and libsndfile decodes on
    from the next good page, logging the gap: the audio then has a hole.
    """
    m = _OGG_DAMAGE.search(f.extra_info)
    if not m:
        return None
    if m.group(1):
        return f"{m.group(1)} bytes of Ogg pages failed their checksum and were skipped"
    return f"Ogg pages are missing at byte {m.group(2)}"


def sndfile_reason(f: sf.SoundFile | None, exc: BaseException) -> str:
    """Why libsndfile failed on the file ``f`` (None: on opening a file), naming the system's reason when it has one.

    soundfile reports every system error as "System error."; libsndfile keeps
    the system's message (for example "No space left on device") with the
    file, or for a failed open, with the library.
    """
    try:
        handle = sf._ffi.NULL if f is None else f._file
        text = sf._ffi.string(sf._snd.sf_strerror(handle)).decode("utf-8", "replace")
    except (AttributeError, TypeError):  # soundfile's private interface changed: its own message then
        text = ""
    m = re.fullmatch(r"System error\s*:\s*(.+?)\.?", text.strip())
    if m:
        return m.group(1)[:1].lower() + m.group(1)[1:]
    return str(exc) or type(exc).__name__


def os_reason(exc: OSError) -> str:
    """The system's reason for a failed file operation, as wavedil's messages give it."""
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or str(exc)


def _libsndfile_reason(exc: Exception) -> str:
    text = str(exc)
    # soundfile prefixes "Error opening '<path>': "; the path is already in our message.
    text = re.sub(r"^Error opening .*?: ", "", text)
    return text.strip().rstrip(".") or type(exc).__name__


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two paths name the same file (existing or not)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def temp_path_for(target: str | os.PathLike[str]) -> Path:
    """A fresh hidden temporary path in the target's directory, naming this process.

    The target's name is shortened in the temporary name when needed, so that
    a target as long as the filesystem allows still gets a temporary file.
    """
    target = Path(target)
    folder = target.parent or Path(".")
    owner = f"{TEMP_MARK}{os.getpid()}@{socket.gethostname()}-"
    # mkstemp adds 8 random characters between the prefix and the suffix.
    room = _name_max(folder) - len(os.fsencode(f".{owner}XXXXXXXX.tmp"))
    fd, tmp = tempfile.mkstemp(prefix=f".{_shortened(target.name, room)}{owner}", suffix=".tmp", dir=folder)
    os.close(fd)
    # mkstemp makes the file private (0600); give the output the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return _NAME_MAX


def _shortened(name: str, room: int) -> str:
    """``name`` cut to at most ``room`` bytes in the filesystem's encoding, never inside a character."""
    raw = os.fsencode(name)
    if len(raw) <= room:
        return name
    raw = raw[: max(room, 0)]
    # Drop a UTF-8 sequence cut short: its continuation bytes, then its lead byte.
    while raw and raw[-1] & 0xC0 == 0x80:
        raw = raw[:-1]
    if raw and raw[-1] >= 0xC0:
        raw = raw[:-1]
    return os.fsdecode(raw)


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that killed runs on this host left in ``directory``.

    Only files whose writing process is gone are removed; those of live
    processes, and those written from other hosts (a shared filesystem), stay.
    Returns the removed paths.
    """
    removed = []
    host = socket.gethostname()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.fullmatch(entry.name)
        if not m or m.group("host") != host or _alive(int(m.group("pid"))):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_output(target: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it into place on success.

    On any exception the temporary file is removed and ``target`` is left as
    it was. Without ``force`` an existing target is never replaced, even one
    that appeared while the work ran.

    Raises
    ------
    OutputExistsError
        If ``target`` exists and ``force`` is false.
    AudioError
        If the directory cannot be written.
    """
    target = Path(target)
    check_writable(target, force=force)
    try:
        tmp = temp_path_for(target)
    except OSError as exc:
        raise AudioError(f"{target}: cannot write in {target.parent or '.'}: {os_reason(exc)}") from None
    try:
        yield tmp
        _commit(tmp, target, force=force)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(target: Path, *, force: bool) -> None:
    """Refuse early an output that exists (without ``force``), that is not a regular file, or whose folder is missing."""
    if target.is_dir():
        raise AudioError(f"{target}: is a directory")
    _refuse_special(target)
    if target.exists() and not force:
        raise _exists(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise AudioError(f"{target}: the folder {parent} does not exist")


def _refuse_special(target: Path) -> None:
    """A device, FIFO or socket is never an output: renaming over it would replace the node itself (``/dev/null``)."""
    try:
        mode = target.stat().st_mode
    except OSError:  # nothing there (or a dangling link): a new file
        return
    if not stat.S_ISREG(mode):
        raise AudioError(f"{target}: is not a regular file (a FIFO, socket or device); outputs go to regular files ('-' for standard output)")


def _exists(target: Path) -> OutputExistsError:
    return OutputExistsError(f"{target}: already exists", hint="{0} replaces it", settings=(Setting("overwrite"),))


def _commit(tmp: Path, target: Path, *, force: bool) -> None:
    try:
        if force:
            _refuse_special(target)  # again: one may have appeared while the work ran
            os.replace(tmp, target)
            return
        # link() fails if the target appeared meanwhile: no silent clobbering.
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise _exists(target) from None
        except OSError:
            # Filesystems without hard links: check, then rename.
            if target.exists():
                raise _exists(target) from None
            os.replace(tmp, target)
            return
        tmp.unlink()
    except OSError as exc:
        if isinstance(exc, OutputExistsError):
            raise
        raise AudioError(f"{target}: cannot write: {os_reason(exc)}") from None


def write_text(target: str | os.PathLike[str], text: str, *, force: bool = False) -> None:
    """Write a text file atomically (same rules as :func:`atomic_output`)."""
    with atomic_output(target, force=force) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AudioError(f"{target}: cannot write: {os_reason(exc)}") from None


def read_excerpts(path: str | os.PathLike[str], frames: int, count: int) -> np.ndarray:
    """``count`` excerpts of ``frames`` frames, evenly spaced through an audio file.

    Returns an array shaped (count, frames, channels), zero-padded where the
    file is shorter; only the excerpts are read, never the whole file.
    """
    with open_input(path) as f:
        out = np.zeros((count, frames, f.channels))
        span = max(0, f.frames - frames)
        for i in range(count):
            f.seek(span * i // max(1, count - 1) if count > 1 else 0)
            block = f.read(frames, dtype="float64", always_2d=True)
            out[i, : len(block)] = block
    return out


#: Subtypes :class:`WavStreamWriter` writes: (WAVE format tag, bytes per sample, numpy dtype).
_WAV_STREAM_SUBTYPES = {
    "PCM_U8": (1, 1, "u1"),
    "PCM_16": (1, 2, "<i2"),
    "PCM_24": (1, 3, None),
    "PCM_32": (1, 4, "<i4"),
    "FLOAT": (3, 4, "<f4"),
    "DOUBLE": (3, 8, "<f8"),
}
_KSDATAFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


class WavStreamWriter:
    """Write a WAV file to a stream that cannot seek (a pipe on stdout).

    libsndfile refuses to write WAV to a pipe because it patches the sizes in
    the header when the file is closed. This writer puts them in the header
    up front: exact when the frame count is known, else ``0xFFFFFFFF``, the
    convention of streaming tools (sox, ffmpeg) for "until the end".
    ``WAVE_FORMAT_EXTENSIBLE`` is used for more than two channels or more than
    16 bits, as the format's specification asks.
    """

    subtypes = tuple(_WAV_STREAM_SUBTYPES)

    def __init__(self, stream, samplerate: int, channels: int, subtype: str, frames: int | None = None) -> None:
        if subtype not in _WAV_STREAM_SUBTYPES:
            raise AudioError(f"-: a WAV stream can hold {', '.join(_WAV_STREAM_SUBTYPES)}, not {subtype}")
        tag, width, self._dtype = _WAV_STREAM_SUBTYPES[subtype]
        self._stream = stream
        self._subtype = subtype
        self._channels = channels
        extensible = channels > 2 or width > 2
        fmt_size = 40 if extensible else 16
        block_align = width * channels
        data_size = _UNKNOWN_SIZE if frames is None else frames * block_align
        riff_size = _UNKNOWN_SIZE if frames is None else 4 + (8 + fmt_size) + (8 + data_size)
        if data_size != _UNKNOWN_SIZE and riff_size > _UNKNOWN_SIZE:
            data_size = riff_size = _UNKNOWN_SIZE
        fmt = struct.pack(
            "<HHIIHH",
            0xFFFE if extensible else tag,
            channels,
            samplerate,
            samplerate * block_align,
            block_align,
            8 * width,
        )
        if extensible:
            mask = (1 << channels) - 1 if channels <= 18 else 0
            fmt += struct.pack("<HHI", 22, 8 * width, mask) + struct.pack("<H", tag) + _KSDATAFORMAT_TAIL
        header = b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
        header += b"fmt " + struct.pack("<I", fmt_size) + fmt
        header += b"data" + struct.pack("<I", data_size)
        self._stream.write(header)

    def write(self, frames: np.ndarray) -> None:
        """Write float frames shaped (n, channels) in [-1, 1].

        Integers are made as libsndfile makes them (round to 32 bits, then
        shift right), so a pipe carries the same samples a file would.
        """
        x = np.asarray(frames, dtype=np.float64)
        if self._subtype in ("FLOAT", "DOUBLE"):
            data = x.astype(self._dtype).tobytes()
        else:
            bits = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}[self._subtype]
            i32 = np.clip(np.rint(x * 2.0**31), -(2**31), 2**31 - 1).astype(np.int64) >> (32 - bits)
            if bits == 8:
                data = (i32 + 128).astype("u1").tobytes()
            elif bits == 24:
                data = i32.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
            else:
                data = i32.astype(self._dtype).tobytes()
        self._stream.write(data)

    def close(self) -> None:
        self._stream.flush()
