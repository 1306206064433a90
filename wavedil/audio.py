"""Audio file I/O with soundfile, and atomic writes that never leave a partial file.

Reading goes through libsndfile (WAV, FLAC, OGG, AIFF, ...). A file is
checked before any work starts: missing, empty, unreadable, not audio or
truncated files raise :class:`~wavedil.errors.AudioError` with a one-line
message naming the file.

Writing goes to a hidden temporary file beside the target
(``.NAME.wavedil-XXXX.tmp``) that is renamed into place only when complete,
so the target is either absent, its old self, or the whole new file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioError, OutputExistsError

#: Marker in temporary file names, so stale ones can be recognised.
TEMP_MARK = ".wavedil-"

_FORMAT_ALIASES = {"AIF": "AIFF", "OGA": "OGG", "OPUS": "OGG", "WAVE": "WAV"}
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}


def output_format(path: str | os.PathLike[str]) -> str:
    """The libsndfile major format for a file name, from its extension.

    Raises
    ------
    AudioError
        If the extension names no format libsndfile can write.
    """
    ext = Path(path).suffix.lstrip(".").upper()
    fmt = _FORMAT_ALIASES.get(ext, ext)
    if fmt not in sf.available_formats():
        known = ", ".join(sorted(k.lower() for k in sf.available_formats()))
        shown = f"'.{ext.lower()}'" if ext else "(none)"
        raise AudioError(f"{path}: cannot tell the audio format from the extension {shown}; use one of {known}")
    return fmt


def choose_subtype(fmt: str, input_subtype: str | None, requested: str | None, *, path: str) -> str:
    """The subtype to write: ``requested``, else the input's if ``fmt`` allows it, else ``fmt``'s default."""
    if requested:
        sub = requested.upper()
        if sub not in sf.available_subtypes() or not sf.check_format(fmt, sub):
            allowed = ", ".join(sorted(sf.available_subtypes(fmt)))
            raise AudioError(f"{path}: subtype {requested} cannot be written as {fmt}; it takes {allowed}")
        return sub
    if fmt == "OGG" and Path(path).suffix.lower() == ".opus":
        return "OPUS"
    if input_subtype and sf.check_format(fmt, input_subtype):
        return input_subtype
    return sf.default_subtype(fmt)


def clips(subtype: str) -> bool:
    """Whether samples beyond full scale are clipped when written as ``subtype``."""
    return subtype not in _FLOAT_SUBTYPES


_DATA_SIZE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def open_input(path: str | os.PathLike[str]) -> sf.SoundFile:
    """Open an audio file for reading, after checking it is whole.

    Raises
    ------
    AudioError
        With a one-line message naming the file: missing, a directory,
        unreadable, empty, not audio, or shorter than its header declares.
    """
    name = str(path)
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(f"{name}: no such file") from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if p.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    if st.st_size == 0:
        raise AudioError(f"{name}: is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise AudioError(f"{name}: permission denied")
    try:
        f = sf.SoundFile(name)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{name}: not a readable audio file ({_libsndfile_reason(exc)})") from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot read: {exc.strerror or exc}") from None
    # libsndfile quietly reads a truncated WAV up to its end; its log says so.
    m = _DATA_SIZE.search(f.extra_info)
    if m and int(m.group(2)) < int(m.group(1)):
        declared, present = int(m.group(1)), int(m.group(2))
        f.close()
        raise AudioError(f"{name}: truncated: the header declares {declared} bytes of audio but {present} are present")
    return f


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
    """A fresh hidden temporary path in the target's directory."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARK}", suffix=".tmp", dir=target.parent or ".")
    os.close(fd)
    # mkstemp makes the file private (0600); give the output the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


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
        raise AudioError(f"{target}: cannot write in {target.parent or '.'}: {exc.strerror or exc}") from None
    try:
        yield tmp
        _commit(tmp, target, force=force)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(target: Path, *, force: bool) -> None:
    """Refuse early an output that exists (without ``force``) or whose folder is missing."""
    if target.is_dir():
        raise AudioError(f"{target}: is a directory")
    if target.exists() and not force:
        raise OutputExistsError(f"{target}: already exists (use --force to replace it)")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise AudioError(f"{target}: the folder {parent} does not exist")


def _commit(tmp: Path, target: Path, *, force: bool) -> None:
    try:
        if force:
            os.replace(tmp, target)
            return
        # link() fails if the target appeared meanwhile: no silent clobbering.
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise OutputExistsError(f"{target}: already exists (use --force to replace it)") from None
        except OSError:
            # Filesystems without hard links: check, then rename.
            if target.exists():
                raise OutputExistsError(f"{target}: already exists (use --force to replace it)") from None
            os.replace(tmp, target)
            return
        tmp.unlink()
    except OSError as exc:
        if isinstance(exc, OutputExistsError):
            raise
        raise AudioError(f"{target}: cannot write: {exc.strerror or exc}") from None


def write_text(target: str | os.PathLike[str], text: str, *, force: bool = False) -> None:
    """Write a text file atomically (same rules as :func:`atomic_output`)."""
    with atomic_output(target, force=force) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AudioError(f"{target}: cannot write: {exc.strerror or exc}") from None


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
