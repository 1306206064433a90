"""Filter audio files: read in blocks, run the engine, write atomically.

Memory is bounded by the block size whatever the file's length: the input is
read block by block, each block goes through a :class:`StreamingFilter`, and
the output is written as it comes, to a temporary file renamed into place when
complete. ``-`` stands for standard input or output (a WAV stream).
"""

from __future__ import annotations

import contextlib

import math
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import DTypeLike
from scipy.signal import resample_poly

from .audio import (
    WavStreamWriter,
    atomic_output,
    choose_subtype,
    clips,
    open_input,
    os_reason,
    output_format,
    read_damage,
    same_file,
    sndfile_reason,
)
from .engine import StreamingFilter, block_size_for
from .errors import AudioError, MemoryLimitError, WavedilError
from .memory import plan_and_check, plan_whole_file, signal_layout
from .segments import Segment, choose_segment_frames, ordered_results, plan_segments, run_segment
from .spec import Stack

#: The path that means standard input (as input) or standard output (as output).
STDIO = "-"

#: Called with the seconds of input audio just processed.
Progress = Callable[[float], None]

#: The largest sample a FLOAT file holds: a larger finite one is written as infinity.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The largest finite sample: beyond it the output overflowed to infinity.
_FLOAT64_MAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class FileResult:
    """What :func:`process_file` did."""

    input: str
    output: str
    frames: int
    sample_rate: int
    channels: int
    out_channels: int
    format: str
    subtype: str
    #: Output samples beyond full scale that were clipped (integer subtypes).
    clipped_samples: int
    #: Largest absolute output sample, after any gain.
    peak: float
    #: Gain applied by normalisation (1.0 without it).
    gain: float
    #: NaN or infinite input samples replaced by zero (with ``sanitize``).
    sanitized_samples: int = 0

    @property
    def seconds_audio(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def process_file(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    stack: Stack,
    *,
    force: bool = False,
    subtype: str | None = None,
    normalize: bool = False,
    peak_db: float = -1.0,
    dtype: DTypeLike = np.float32,
    block_size: int | None = None,
    resample: bool = False,
    sanitize: bool = False,
    progress: Progress | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    memory_limit: int | None = None,
) -> FileResult:
    """Filter the audio file ``input`` with ``stack`` into ``output``.

    The output format follows ``output``'s extension, the subtype follows the
    input's (unless ``subtype`` is given or the format cannot hold it) and the
    sample rate is kept. Samples beyond full scale are clipped for integer
    subtypes and counted; with ``normalize`` the output is instead scaled so
    its peak is ``peak_db`` dBFS (the engine then runs twice, to find the
    peak and to write). An output that overflows to infinity or NaN (a loud
    input through a stack with gain), or beyond what a FLOAT file holds, is
    an error: nothing is written.

    Parameters
    ----------
    input, output : path or "-"
        Audio files; ``output`` must differ from ``input``. ``-`` reads a
        stream from standard input, or writes a WAV stream to standard output.
    stack : Stack
    force : bool
        Replace an existing ``output``.
    subtype : str, optional
        libsndfile subtype to write, e.g. ``PCM_24`` or ``FLOAT``.
    normalize : bool
        Scale the output to a peak of ``peak_db`` dBFS (not with ``-`` as input).
    peak_db : float
        Target peak for ``normalize``, in dB relative to full scale.
    dtype : dtype
        ``float32`` or ``float64`` arithmetic.
    block_size : int, optional
        Frames per block (memory bound; the output does not depend on it).
        Default: the engine's choice for the stack and the file's channels.
    resample : bool
        When the stack names a sample rate (a trained model) and the file has
        another, resample to the model's rate with
        :func:`scipy.signal.resample_poly`, filter, and resample back. This
        holds the whole file in memory. Without it such a file is refused.
    sanitize : bool
        Replace NaN and infinite input samples by zero (and count them)
        instead of refusing the file.
    progress : callable, optional
        Called with the seconds of input audio processed, after each block.
    executor : concurrent.futures.Executor, optional
        With ``workers`` > 1, the file is cut into segments that run on this
        executor (a pool from :func:`wavedil.workers.worker_pool` or a
        ``dask.distributed.Client``); see :mod:`wavedil.segments`. The output
        is the same, bit for bit. Standard input and ``resample`` run here.
    workers : int
        Segments in flight at once.
    memory_limit : int, optional
        Bytes the run may use: its needs (the stack's state and buffers,
        times the workers for segments, plus a whole file when resampling)
        are planned from the stack and the file's header, and a plan over
        the limit is refused before anything is allocated. Segments that
        would exceed it run in this process instead, when that fits. Default:
        :func:`wavedil.memory.default_memory_limit`.

    Raises
    ------
    AudioError, OutputExistsError, WavedilError
        With a one-line message naming the file.

    Examples
    --------
    >>> from wavedil import preset
    >>> result = process_file("in.wav", "out.wav", preset("smooth"))  # doctest: +SKIP
    >>> result.clipped_samples  # doctest: +SKIP
    0
    """
    in_name, out_name = str(input), str(output)
    if not math.isfinite(peak_db):
        raise WavedilError(f"{out_name}: the peak for normalisation (--peak-db) must be a finite number of dB, not {peak_db}")
    to_stdout = out_name == STDIO
    if in_name != STDIO and not to_stdout and same_file(input, output):
        raise AudioError(f"{out_name}: the output is the input file; choose another output path")
    fmt = "WAV" if to_stdout else output_format(output)
    with _open_source(in_name) as src:
        block_size = block_size or block_size_for(stack, src.channels)
        sub = choose_subtype(fmt, src.subtype, subtype, path=out_name, input_format=src.format)
        if to_stdout and sub not in WavStreamWriter.subtypes and not subtype:
            # An input subtype a WAV stream cannot hold (u-law, ADPCM...): float loses nothing.
            sub = "FLOAT"
        model_rate = stack.sample_rate
        if model_rate and model_rate != src.samplerate and not resample:
            raise AudioError(
                f"{in_name}: the audio is at {src.samplerate} Hz but the model runs at {model_rate} Hz; "
                "add --resample to convert it"
            )
        converting = bool(model_rate) and model_rate != src.samplerate
        # A recurrent model's state reaches back to the first sample: it runs whole, never in segments.
        split = (
            executor is not None and workers > 1 and in_name != STDIO and src.seekable() and not converting and not stack.is_recurrent
        )
        try:
            if split:
                try:
                    _plan_memory(stack, src, dtype, block_size, memory_limit, converting=converting, split_workers=workers)
                except MemoryLimitError:
                    split = False  # segments side by side need more than one run: this process runs it alone
            if not split:
                _plan_memory(stack, src, dtype, block_size, memory_limit, converting=converting, split_workers=0)
            filt = StreamingFilter(stack, src.channels, dtype=dtype, block_size=block_size, memory_limit=memory_limit)
        except WavedilError as exc:
            raise exc.prefixed(in_name) from None
        reader = _Reader(src, in_name, block_size, sanitize, progress)

        def output_blocks() -> Iterator[np.ndarray]:
            if converting:
                return _resampled(reader, filt, model_rate)
            if split:
                assert executor is not None
                return _segmented(reader, stack, executor, workers, dtype, block_size, memory_limit)
            return _filtered(reader, filt)

        gain = 1.0
        arithmetic = np.dtype(dtype).name
        # Overflow is checked on the output and reported as an error naming
        # the file: NumPy's warnings about it would only be noise on stderr.
        with np.errstate(over="ignore", invalid="ignore"):
            if normalize:
                if not src.seekable():
                    raise AudioError(f"{in_name}: --normalize reads the input twice and needs a file, not a stream")
                peak, frame = 0.0, 0
                for y in output_blocks():
                    block_peak = float(np.max(np.abs(y), initial=0.0))
                    if not block_peak <= _FLOAT64_MAX:  # infinity or NaN
                        raise _overflow(in_name, y, frame, _FLOAT64_MAX, arithmetic)
                    peak = max(peak, block_peak)
                    frame += len(y)
                gain = 10.0 ** (peak_db / 20.0) / peak if peak > 0 else 1.0
                src.seek(0)
                filt.reset()
                reader = _Reader(src, in_name, block_size, sanitize, progress)
            clipped = 0
            peak_out = 0.0
            clip = clips(sub)
            # Finite samples beyond full scale are clipped for integer subtypes; a FLOAT
            # file holds them up to float32's largest, beyond which they would be infinity.
            limit = _FLOAT32_MAX if sub == "FLOAT" else _FLOAT64_MAX
            frame = 0
            known_frames = src.frames if src.seekable() else None
            with _sink(out_name, force, src.samplerate, filt.out_channels, fmt, sub, known_frames) as write:
                for y in output_blocks():
                    if gain != 1.0:
                        y *= y.dtype.type(gain)
                    if y.size:
                        block_peak = float(np.max(np.abs(y)))
                        if not block_peak <= limit:  # NaN fails too
                            raise _overflow(in_name, y, frame, limit, arithmetic)
                        peak_out = max(peak_out, block_peak)
                    if clip:
                        n_over = int(np.count_nonzero(np.abs(y) > 1.0))
                        if n_over:
                            clipped += n_over
                            np.clip(y, -1.0, 1.0, out=y)
                    write(y)
                    frame += len(y)
        return FileResult(
            input=in_name,
            output=out_name,
            frames=reader.frames,
            sample_rate=src.samplerate,
            channels=src.channels,
            out_channels=filt.out_channels,
            format=fmt,
            subtype=sub,
            clipped_samples=clipped,
            peak=peak_out,
            gain=gain,
            sanitized_samples=reader.sanitized,
        )


def _plan_memory(
    stack: Stack, src: sf.SoundFile, dtype: DTypeLike, block_size: int, limit: int | None, *, converting: bool, split_workers: int
) -> None:
    """Refuse a run whose planned memory is over ``limit``, before any buffer exists (see :mod:`wavedil.memory`).

    Resampling holds the whole file at both rates; segments on ``split_workers``
    workers hold one segment's input and output each, and this process up to
    two segments' outputs per worker in flight.
    """
    extra = []
    itemsize = np.dtype(dtype).itemsize
    out_channels = signal_layout(stack, src.channels)[1]
    if converting:
        frames = src.frames if src.seekable() else 0
        extra.append(plan_whole_file(frames, src.channels, out_channels, stack.sample_rate / src.samplerate))
    if split_workers:
        seg = choose_segment_frames(src.frames, stack, split_workers, block_size)
        reach = seg + (stack.receptive_field or 1)
        extra.append(("segments", itemsize * split_workers * (reach * src.channels + 3 * seg * out_channels)))
    plan_and_check(stack, src.channels, dtype=dtype, block_size=block_size, limit=limit, extra=extra, copies=max(1, split_workers))


@contextmanager
def _open_source(name: str) -> Iterator[sf.SoundFile]:
    if name != STDIO:
        with open_input(name) as f:
            yield f
        return
    if sys.stdin is None or sys.stdin.isatty():
        raise AudioError("-: no audio on standard input (pipe a WAV stream in, or give a file)")
    try:
        f = sf.SoundFile(sys.stdin.buffer.fileno(), closefd=False)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"-: standard input is not an audio stream libsndfile can read ({exc})") from None
    with f:
        yield f


@contextmanager
def _sink(
    name: str, force: bool, rate: int, channels: int, fmt: str, sub: str, frames: int | None
) -> Iterator[Callable[[np.ndarray], None]]:
    """A function that writes output blocks, to a temporary file renamed into place or to stdout."""
    if name == STDIO:
        try:
            writer = WavStreamWriter(sys.stdout.buffer, rate, channels, sub, frames)
            yield writer.write
            writer.close()
        except BrokenPipeError:
            raise AudioError("-: the reader of standard output went away") from None
        except OSError as exc:
            raise AudioError(f"-: write failed: {os_reason(exc)}") from None
        return
    with atomic_output(name, force=force) as tmp:
        try:
            dst = sf.SoundFile(tmp, "w", samplerate=rate, channels=channels, format=fmt, subtype=sub)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{name}: cannot write {fmt}/{sub}: {sndfile_reason(None, exc)}") from None

        def write(y: np.ndarray) -> None:
            try:
                dst.write(y)
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise AudioError(f"{name}: write failed: {_reason(dst, exc)}") from None

        try:
            yield write
        except BaseException:
            # What went wrong is the caller's (a worker died, Ctrl-C): report that, not the close.
            with contextlib.suppress(Exception):
                dst.close()
            raise
        try:
            dst.close()
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            # Closing flushes the last bytes: a full disk can show here too.
            raise AudioError(f"{name}: write failed: {_reason(dst, exc)}") from None


def _reason(dst: sf.SoundFile, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return os_reason(exc)
    return sndfile_reason(dst, exc)


def _overflow(name: str, y: np.ndarray, start: int, limit: float, arithmetic: str) -> AudioError:
    """The error for an output block ``y`` (from frame ``start``) with a sample beyond ``limit``, infinity or NaN."""
    # Infinity tested apart: compared with a float32 block, a Python float is taken as float32.
    bad = ~np.isfinite(y) | (np.abs(y) > limit)
    frame = start + int(np.argmax(bad.reshape(len(y), -1).any(axis=1)))
    if np.isfinite(y).all():
        return AudioError(
            f"{name}: the stack's output overflows what a FLOAT file holds (first at frame {frame}); "
            "--subtype DOUBLE holds it"
        )
    hint = "; --dtype float64 may hold it" if arithmetic == "float32" else ""
    return AudioError(f"{name}: the stack's output overflows to infinity (first at frame {frame}){hint}")


class _Reader:
    """Blocks of the input as float arrays, checked for NaN and infinity."""

    def __init__(self, src: sf.SoundFile, name: str, block_size: int, sanitize: bool, progress: Progress | None) -> None:
        self.src, self.name, self.block_size = src, name, block_size
        self.sanitize, self.progress = sanitize, progress
        self.frames = 0
        self.sanitized = 0

    def blocks(self, dtype: str) -> Iterator[np.ndarray]:
        try:
            while True:
                # read() with a count works on streams too, unlike blocks().
                block = self.src.read(self.block_size, dtype=dtype, always_2d=True)
                if not len(block):
                    self._check_whole()
                    return
                bad = ~np.isfinite(block)
                if bad.any():
                    if not self.sanitize:
                        frame = self.frames + int(np.argmax(bad.any(axis=1)))
                        raise AudioError(_bad_samples(self.name, frame, self.src.subtype, block.dtype))
                    self.sanitized += int(np.count_nonzero(bad))
                    block[bad] = 0.0
                self.frames += len(block)
                if self.progress:
                    self.progress(len(block) / self.src.samplerate)
                yield block
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{self.name}: read failed at frame {self.frames}: {exc}") from None

    def _check_whole(self) -> None:
        """At the end of the data: refuse what libsndfile skipped, and data shorter than declared.

        libsndfile counts a file's frames from its header when it opens it; a
        file cut short since (while it is read) ends early without an error.
        """
        damage = read_damage(self.src)
        if damage:
            raise AudioError(f"{self.name}: damaged: {damage}")
        if self.src.seekable() and self.frames < self.src.frames:
            raise AudioError(
                f"{self.name}: truncated: the header declares {self.src.frames} frames "
                f"but the data ends at frame {self.frames}"
            )


def _bad_samples(name: str, frame: int, subtype: str, dtype: np.dtype) -> str:
    """The message for an input sample that is not finite in the working precision."""
    if subtype == "DOUBLE" and dtype == np.float32:
        # A finite float64 sample beyond float32's range reads as infinity in float32 arithmetic.
        return (
            f"{name}: contains NaN or infinite samples, or samples beyond float32's range (the first at frame {frame}); "
            "--dtype float64 reads finite ones as they are, --sanitize replaces them by zero"
        )
    return f"{name}: contains NaN or infinite samples (the first at frame {frame}); --sanitize replaces them by zero"


def _filtered(reader: _Reader, filt: StreamingFilter) -> Iterator[np.ndarray]:
    """Output blocks of ``filt`` over the whole input, then its flush."""
    for block in reader.blocks(filt.dtype.name):
        yield filt.process(block)
    yield filt.flush()


def _segmented(
    reader: _Reader, stack: Stack, executor: Executor, workers: int, dtype: DTypeLike, block_size: int, memory_limit: int | None
) -> Iterator[np.ndarray]:
    """Output of the whole input computed in segments on ``executor``, in order."""
    src = reader.src
    frames = src.frames
    seg_len = choose_segment_frames(frames, stack, workers, block_size)
    segments = plan_segments(frames, stack, segment_frames=seg_len, block_size=block_size)
    name = np.dtype(dtype).name
    submitted = (
        executor.submit(file_segment, reader.name, s, stack, name, block_size, reader.sanitize, memory_limit) for s in segments
    )
    for seg, (y, sanitized) in zip(segments, ordered_results(submitted, 2 * workers)):
        reader.frames += seg.frames
        reader.sanitized += sanitized
        if reader.progress:
            reader.progress(seg.frames / src.samplerate)
        yield y


def file_segment(
    path: str, segment: Segment, stack: Stack, dtype: str, block_size: int, sanitize: bool, memory_limit: int | None = None
) -> tuple[np.ndarray, int]:
    """Read the input ``segment`` needs from ``path`` and compute its output.

    Returns the output frames and the count of NaN or infinite samples replaced
    by zero in the segment's own frames (with ``sanitize``; without it such
    samples are an error naming the first bad frame).
    """
    with open_input(path) as src:
        try:
            src.seek(segment.read_start)
            x = src.read(segment.read_stop - segment.read_start, dtype=dtype, always_2d=True)
            src_subtype = src.subtype
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{path}: read failed at frame {segment.read_start}: {exc}") from None
        damage = read_damage(src)
    if damage:
        raise AudioError(f"{path}: damaged: {damage}")
    if len(x) != segment.read_stop - segment.read_start:
        raise AudioError(f"{path}: read failed: the data ends at frame {segment.read_start + len(x)}, before its header says")
    bad = ~np.isfinite(x)
    sanitized = 0
    if bad.any():
        if not sanitize:
            frame = segment.read_start + int(np.argmax(bad.any(axis=1)))
            raise AudioError(_bad_samples(path, frame, src_subtype, x.dtype))
        own = bad[segment.start - segment.read_start : segment.stop - segment.read_start]
        sanitized = int(np.count_nonzero(own))
        x[bad] = 0.0
    # An overflow is reported by the process that writes the output (see process_file).
    with np.errstate(over="ignore", invalid="ignore"):
        return run_segment(stack, x, segment, dtype=dtype, block_size=block_size, memory_limit=memory_limit), sanitized


def _resampled(reader: _Reader, filt: StreamingFilter, rate: int) -> Iterator[np.ndarray]:
    """Resample the whole input to ``rate``, filter, resample back; yield the output in blocks."""
    src_rate = reader.src.samplerate
    x = np.concatenate([np.empty((0, reader.src.channels)), *reader.blocks("float64")])
    g = math.gcd(rate, src_rate)
    up, down = rate // g, src_rate // g
    at_rate = resample_poly(x, up, down, axis=0) if len(x) else np.empty((0, x.shape[1]))
    y = np.concatenate([filt.process(at_rate), filt.flush()]).astype(np.float64)
    back = resample_poly(y, down, up, axis=0) if len(y) else np.empty((0, filt.out_channels))
    # resample_poly rounds lengths up; keep exactly the input's frame count.
    if len(back) < len(x):
        back = np.concatenate([back, np.zeros((len(x) - len(back), back.shape[1]))])
    back = back[: len(x)].astype(filt.dtype)
    for start in range(0, len(back), reader.block_size):
        yield back[start : start + reader.block_size]


def describe(result: FileResult) -> dict[str, Any]:
    """The result as the ``audio`` object of a report."""
    return {
        "input": result.input,
        "output": result.output,
        "frames": result.frames,
        "seconds": result.seconds_audio,
        "sample_rate": result.sample_rate,
        "channels": result.channels,
        "out_channels": result.out_channels,
        "format": result.format,
        "subtype": result.subtype,
        "clipped_samples": result.clipped_samples,
        "sanitized_samples": result.sanitized_samples,
        "peak": result.peak,
        "gain": result.gain,
    }
