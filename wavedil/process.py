"""Filter audio files: read in blocks, run the engine, write atomically.

Memory is bounded by the block size whatever the file's length. A run is a
chain of small stages, each a function or class below:

    source -> block reader (NaN policy) -> engine -> gain/clip -> sink (progress)

The *source* opens a file or a stream; the *reader* yields float blocks and
refuses (or, with ``sanitize``, zeroes) NaN and infinite samples; the
*engine* is a :class:`~wavedil.engine.StreamingFilter` over the whole input,
segments of it on an executor, or the whole input resampled to a model's
rate; *gain/clip* applies the normalising gain, checks for overflow, tracks
the peak and clips integer outputs; the *sink* writes a temporary file
renamed into place when complete (or a WAV stream), and reports progress as
blocks are written, so that it counts audio done, not audio read. One :class:`Options`
configures the chain, for :func:`process_file` as for the batch runners.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any, BinaryIO, Union

import numpy as np
import soundfile as sf

from .audio import (
    COMPRESSED_FORMATS,
    WavStreamWriter,
    atomic_output,
    bits_encoding_problem,
    choose_subtype,
    clips,
    downgraded,
    open_input,
    os_reason,
    output_format,
    read_damage,
    same_file,
    sndfile_reason,
)
from .engine import StreamingFilter, block_size_for
from .engines import Engine, resolve_engine, usable
from .errors import AudioError, MemoryLimitError, SampleRateError, Setting, UsageError, WavedilError
from .memory import plan_and_check, plan_whole_file, signal_layout
from .segments import Segment, choose_segment_frames, ordered_results, plan_segments, run_segment
from .stack import Stack

#: An input or output: a path, or an open binary stream (a pipe, ``sys.stdin.buffer``).
Target = Union[str, "os.PathLike[str]", BinaryIO]

#: How a stream is named in messages and results: the name the shell gives a standard stream.
STREAM_NAME = "-"

#: Called with the seconds of input audio just processed.
Progress = Callable[[float], None]

#: Most frames per block a run may ask for (2**24, 6 minutes at 48 kHz): larger blocks only cost memory.
MAX_BLOCK_SIZE = 2**24

#: The largest sample a FLOAT file holds: a larger finite one is written as infinity.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The largest finite sample: beyond it the output overflowed to infinity.
_FLOAT64_MAX = float(np.finfo(np.float64).max)


def is_stream(target: Target) -> bool:
    """Whether ``target`` is an open stream rather than a path.

    >>> import io
    >>> is_stream("in.wav"), is_stream(io.BytesIO())
    (False, True)
    """
    return not isinstance(target, (str, os.PathLike))


def name_of(target: Target) -> str:
    """``target`` as messages and results name it: the path, or :data:`STREAM_NAME` for a stream.

    >>> import io
    >>> name_of("in.wav"), name_of(io.BytesIO())
    ('in.wav', '-')
    """
    return STREAM_NAME if is_stream(target) else os.fspath(target)


@dataclass(frozen=True)
class Options:
    """How audio is processed: one set of options for :func:`process_file` and the batch runners.

    Parameters
    ----------
    overwrite : bool
        Replace an existing output (and report).
    subtype : str, optional
        libsndfile subtype to write, e.g. ``PCM_24`` or ``FLOAT``; default: the
        input's, or the closest the output's format holds (float input as
        FLAC: ``PCM_24``); :attr:`FileResult.subtype_downgraded_from` says
        when that loses resolution.
    bits, encoding : optional
        sox's ``-b`` and ``-e`` instead of ``subtype``: 8, 16, 24, 32 or 64
        bits; ``float``, ``signed`` or ``unsigned`` (see
        :func:`wavedil.audio.choose_subtype`).
    compression : float, optional
        0 (fastest, largest, best quality) to 1 (smallest): libsndfile's
        compression level for FLAC (levels 0-8), Ogg Vorbis and Opus
        (quality 1 - level) and MP3 (bit rate). Other formats refuse it.
    normalize : bool
        Scale the output to a peak of ``peak_db`` dBFS instead of clipping
        (the engine runs twice: the input must be a file, not a stream).
    peak_db : float
        Target peak for ``normalize``, in dB relative to full scale.
    dtype : str
        ``float32`` or ``float64`` arithmetic.
    block_size : int, optional
        Frames per block, 1 to :data:`MAX_BLOCK_SIZE` (a memory bound; the
        output does not depend on it). Default: the engine's choice.
    resample : bool
        When the stack names a sample rate (a trained model) and the file has
        another, resample to the model's rate with
        :func:`scipy.signal.resample_poly`, filter, and resample back (the
        whole file is held in memory). Without it such a file is refused.
    sanitize : bool
        Replace NaN and infinite input samples by zero (and count them)
        instead of refusing the file.
    memory_limit : int, optional
        Bytes a run may use (see :mod:`wavedil.memory`); default:
        :func:`wavedil.memory.default_memory_limit`.
    skip_existing : bool
        For batches (:func:`wavedil.batch.run_jobs`): keep an existing output
        and report the job as skipped.
    engine : str, optional
        ``auto``, ``numpy`` or ``numba`` (see :mod:`wavedil.engines`);
        default: the ``WAVEDIL_ENGINE`` environment variable, else ``auto``.
        Resolved when the options are made (:attr:`chosen_engine`; the
        environment variable is read then, and a named ``numba`` whose
        kernels cannot load is refused then): every worker process, segment
        and cluster task of a run computes on that engine, whatever its own
        environment. ``engine`` keeps the name asked for, ``auto`` included,
        so that :func:`dataclasses.replace` with another engine takes it;
        ``auto`` keeps a stack the kernels do not pay for on NumPy (see
        :func:`wavedil.engines.kernels_pay`).
    fast_tanh : bool
        NAM's plugin approximation of tanh (within 4e-4) instead of the
        accurate one: what the plugin's users hear.

    Raises
    ------
    UsageError
        For a value that cannot work: a block size out of range, a peak that
        is not a finite number, an unknown ``dtype`` or ``engine``, the
        ``numba`` engine without Numba installed.

    Examples
    --------
    >>> Options(dtype="float64").dtype
    'float64'
    >>> Options(engine="numpy", fast_tanh=True).chosen_engine
    Engine(name='numpy', fast_tanh=True)
    >>> Options(block_size=0)
    Traceback (most recent call last):
    ...
    wavedil.errors.UsageError: block size must be 1 to 16777216 frames, got 0
    """

    overwrite: bool = False
    subtype: str | None = None
    normalize: bool = False
    peak_db: float = -1.0
    dtype: str = "float32"
    block_size: int | None = None
    resample: bool = False
    sanitize: bool = False
    memory_limit: int | None = None
    skip_existing: bool = False
    engine: str | None = None
    fast_tanh: bool = False
    bits: int | None = None
    encoding: str | None = None
    compression: float | None = None

    def __post_init__(self) -> None:
        if self.subtype is not None and (self.bits is not None or self.encoding is not None):
            raise UsageError("give the subtype, or bits and encoding, not both")
        problem = bits_encoding_problem(self.bits, self.encoding)
        if problem:
            raise UsageError(problem)
        if self.compression is not None and not (math.isfinite(self.compression) and 0.0 <= self.compression <= 1.0):
            raise UsageError(f"compression must be a level from 0 to 1, got {self.compression}")
        if self.block_size is not None and not 1 <= self.block_size <= MAX_BLOCK_SIZE:
            raise UsageError(f"block size must be 1 to {MAX_BLOCK_SIZE} frames, got {self.block_size}")
        if not math.isfinite(self.peak_db):
            raise UsageError(f"the peak for normalisation must be a finite number of dB, not {self.peak_db}")
        try:
            dtype = np.dtype(self.dtype).name
        except TypeError:
            dtype = str(self.dtype)
        if dtype not in ("float32", "float64"):
            raise UsageError(f"the arithmetic is float32 or float64, not {self.dtype!r}")
        object.__setattr__(self, "dtype", dtype)  # np.float64 and "float64" alike
        # Resolved here, in the process that hands the work out: the resolution travels to workers with the
        # options (pickled), while a replace() in this process resolves the name asked for again.
        resolved = resolve_engine(self.engine, fast_tanh=bool(self.fast_tanh))
        if not resolved.auto:
            resolved = usable(resolved)  # a named numba whose kernels cannot load: a usage error now, not per file
        object.__setattr__(self, "engine", "auto" if resolved.auto else resolved.name)
        object.__setattr__(self, "_resolved", resolved)

    @property
    def chosen_engine(self) -> Engine:
        """The resolved engine with its tanh: what every filter of the run is built with (``auto`` still asks each stack)."""
        return self._resolved  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FileResult:
    """What :func:`process_file` did: the ``audio`` object of a report (:meth:`to_dict`)."""

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
    #: The engine the run was built with: ``numpy`` or ``numba`` (see :mod:`wavedil.engines`).
    engine: str = "numpy"
    #: Whether tanh was NAM's plugin approximation.
    fast_tanh: bool = False
    #: The engine that ran each layer of the stack (a layer without a compiled kernel runs on ``numpy``).
    layer_engines: tuple[str, ...] = ()
    #: ``(source, from_rate, to_rate)`` of each impulse response resampled to the rate the stack ran at.
    resampled_responses: tuple[tuple[str, int, int], ...] = ()
    #: The input's subtype when the output's, chosen without a request, holds less (float to PCM_24, PCM_16 to Vorbis).
    subtype_downgraded_from: str | None = None

    @property
    def seconds_audio(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report's ``audio`` object: the fields in the README's order, with ``seconds``."""
        d = asdict(self)
        return {
            **{k: d[k] for k in ("input", "output", "frames")},
            "seconds": self.seconds_audio,
            **{k: d[k] for k in ("sample_rate", "channels", "out_channels", "format", "subtype", "clipped_samples", "sanitized_samples", "peak", "gain")},
        }


def process_file(
    input: Target,
    output: Target,
    stack: Stack,
    options: Options | None = None,
    *,
    progress: Progress | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    **settings: Any,
) -> FileResult:
    """Filter the audio ``input`` with ``stack`` into ``output``.

    The output format follows ``output``'s extension (a stream gets WAV), the
    subtype follows the input's (unless ``subtype`` is given or the format
    cannot hold it) and the sample rate is kept. Samples beyond full scale are
    clipped for integer subtypes and counted; with ``normalize`` the output is
    instead scaled by

        gain = 10 ** (peak_db / 20) / max |y|

    so that its peak is ``peak_db`` dBFS (the chain then runs twice: to find
    the peak, silently, and to write). An output that overflows to infinity or
    NaN (a loud input through a stack with gain), or beyond what a FLOAT file
    holds, is an error: nothing is written.

    Parameters
    ----------
    input, output : path or binary stream
        Audio files; ``output`` must differ from ``input``. A stream (a file
        object such as ``sys.stdin.buffer``) is read as it comes, or gets a
        WAV stream; it is named ``-`` in messages and results.
    stack : Stack
    options : Options, optional
        How to process (see :class:`Options`); ``settings`` override its fields.
    progress : callable, optional
        Called with the seconds of audio done as blocks are written, the last
        once the output is complete (a normalizing run's first pass, which
        only measures, reports nothing).
    executor : concurrent.futures.Executor, optional
        With ``workers`` > 1, a file is cut into segments that run on this
        executor (a pool from :func:`wavedil.workers.worker_pool` or a
        ``dask.distributed.Client``); see :mod:`wavedil.segments`. The output
        is the same, bit for bit (to float rounding with an impulse response,
        whose FFT frames fall elsewhere in a segment). Streams, ``resample``
        and recurrent models run here.
    workers : int
        Segments in flight at once.
    **settings
        Fields of :class:`Options`, e.g. ``overwrite=True``, ``subtype="PCM_24"``.

    Raises
    ------
    AudioError, OutputExistsError, SampleRateError, MemoryLimitError
        With a one-line message naming the file.
    UsageError
        For options that cannot work (``normalize`` with a stream input).

    Examples
    --------
    >>> import math, numpy as np, soundfile as sf, tempfile, os, wavedil
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     src, dst = os.path.join(folder, "in.wav"), os.path.join(folder, "out.wav")
    ...     sf.write(src, np.full(4800, 0.5), 48000, subtype="FLOAT")
    ...     result = process_file(src, dst, wavedil.preset("smooth"), normalize=True, peak_db=-6.0)
    >>> round(20 * math.log10(result.peak), 3), result.clipped_samples
    (-6.0, 0)
    """
    opts = replace(options or Options(), **settings)
    in_name, out_name = name_of(input), name_of(output)
    if opts.normalize and is_stream(input):
        raise UsageError(f"{in_name}: normalizing reads the input twice: it needs a file, not a stream")
    if not is_stream(input) and not is_stream(output) and same_file(input, output):
        raise AudioError(f"{out_name}: the output is the input file; choose another output path")
    fmt = "WAV" if is_stream(output) else output_format(output)
    with open_source(input) as src:
        subtype = _output_subtype(fmt, src, opts, out_name, to_stream=is_stream(output))
        if opts.compression is not None and fmt not in COMPRESSED_FORMATS:
            raise AudioError(f"{out_name}: {fmt} has no compression level (FLAC, OGG and MP3 have)")
        # Impulse responses run at the rate the stack runs at: the model's, else the audio's.
        try:
            stack = stack.at_rate(stack.sample_rate or src.samplerate)
        except WavedilError as exc:
            raise exc.prefixed(in_name) from None
        chain = _Chain.build(src, in_name, stack, opts, executor if _may_split(input, src, stack, executor, workers) else None, workers)
        # Overflow is checked on the output and reported as an error naming
        # the file: NumPy's warnings about it would only be noise on stderr.
        with np.errstate(over="ignore", invalid="ignore"):
            gain = _normalizing_gain(chain, opts.peak_db) if opts.normalize else 1.0
            level = _Level(in_name, opts.dtype, gain=gain, limit=_FLOAT32_MAX if subtype == "FLOAT" else _FLOAT64_MAX, clip=clips(subtype))
            known_frames = src.frames if src.seekable() else None
            done = _Done(progress, src.samplerate)
            with open_sink(output, opts.overwrite, src.samplerate, chain.filt.out_channels, fmt, subtype, known_frames, opts.compression) as write:
                for y in chain.blocks(early=done.early):
                    write(level(y))
                    done.written(len(y))
            done.complete()
    return FileResult(
        input=in_name,
        output=out_name,
        frames=chain.reader.frames,
        sample_rate=src.samplerate,
        channels=src.channels,
        out_channels=chain.filt.out_channels,
        format=fmt,
        subtype=subtype,
        clipped_samples=level.clipped,
        peak=level.peak,
        gain=gain,
        sanitized_samples=chain.reader.sanitized,
        engine=chain.filt.engine.name,
        fast_tanh=chain.filt.engine.fast_tanh,
        layer_engines=tuple(chain.filt.layer_engines),
        resampled_responses=tuple(stack.resampled_responses()),
        subtype_downgraded_from=src.subtype if not (opts.subtype or opts.bits or opts.encoding) and downgraded(src.subtype, subtype) else None,
    )


def _output_subtype(fmt: str, src: sf.SoundFile, opts: Options, out_name: str, *, to_stream: bool) -> str:
    requested = opts.subtype or opts.bits or opts.encoding
    subtype = choose_subtype(fmt, src.subtype, opts.subtype, path=out_name, input_format=src.format, bits=opts.bits, encoding=opts.encoding)
    if to_stream and subtype not in WavStreamWriter.subtypes and not requested:
        # An input subtype a WAV stream cannot hold (u-law, ADPCM...): float loses nothing.
        return "FLOAT"
    return subtype


# ---------------------------------------------------------------------------
# The chain: which engine, planned and checked before anything is allocated


def _may_split(input: Target, src: sf.SoundFile, stack: Stack, executor: Executor | None, workers: int) -> bool:
    """Whether the input may run in segments: a file, at the model's rate, a stack without memory of its whole past."""
    converting = bool(stack.sample_rate) and stack.sample_rate != src.samplerate
    return executor is not None and workers > 1 and not is_stream(input) and src.seekable() and not converting and not stack.is_recurrent


@dataclass
class _Chain:
    """The stages of one run after the source: the reader and the engine, around one filter."""

    src: sf.SoundFile
    name: str
    stack: Stack
    options: Options
    block_size: int
    filt: StreamingFilter
    #: Where segments run; None: the whole input runs here (filtered, or resampled).
    executor: Executor | None
    workers: int
    resampled: bool
    reader: _Reader | None = None

    @classmethod
    def build(cls, src: sf.SoundFile, name: str, stack: Stack, opts: Options, executor: Executor | None, workers: int) -> _Chain:
        """The chain for ``src``; segments on ``executor`` when the memory limit allows them."""
        block_size = opts.block_size or block_size_for(stack, src.channels)
        resampled = _needs_resampling(src, name, stack, opts)
        try:
            if executor is not None:
                try:
                    _plan_memory(stack, src, opts, block_size, resampled=resampled, split_workers=workers)
                except MemoryLimitError:
                    executor = None  # segments side by side need more than one run: this process runs it alone
            if executor is None:
                _plan_memory(stack, src, opts, block_size, resampled=resampled, split_workers=0)
            filt = StreamingFilter(
                stack, src.channels, dtype=opts.dtype, block_size=block_size, memory_limit=opts.memory_limit, engine=opts.chosen_engine
            )
        except WavedilError as exc:
            raise exc.prefixed(name) from None
        return cls(src, name, stack, opts, block_size, filt, executor, workers, resampled)

    def blocks(self, early: Progress | None = None) -> Iterator[np.ndarray]:
        """The output, block by block, from the start of the input.

        ``early`` takes the seconds of input an engine has done before it
        writes any output (the resampling one), so a long file's progress moves.
        """
        if self.reader is not None:  # a second pass (normalize): from the start, from silence
            self.src.seek(0)
            self.filt.reset()
        self.reader = _Reader(self.src, self.name, self.block_size, self.options.sanitize)
        if self.resampled:
            return _resampled(self.reader, self.filt, self.stack.sample_rate, early)
        if self.executor is not None:
            return _segmented(self.reader, self.stack, self.executor, self.workers, self.options)
        return _filtered(self.reader, self.filt)


def _needs_resampling(src: sf.SoundFile, name: str, stack: Stack, opts: Options) -> bool:
    """Whether the model's rate differs from the audio's; refused without ``resample``."""
    model_rate = stack.sample_rate
    if not model_rate or model_rate == src.samplerate:
        return False
    if not opts.resample:
        raise SampleRateError(
            f"{name}: the audio is at {src.samplerate} Hz but the model runs at {model_rate} Hz",
            audio_rate=src.samplerate,
            model_rate=model_rate,
            hint="{0} converts it",
            settings=(Setting("resample"),),
        )
    return True


def _plan_memory(stack: Stack, src: sf.SoundFile, opts: Options, block_size: int, *, resampled: bool, split_workers: int) -> None:
    """Refuse a run whose planned memory is over the limit, before any buffer exists (see :mod:`wavedil.memory`).

    Resampling holds the whole file at both rates; segments on ``split_workers``
    workers hold one segment's input and output each, and this process up to
    two segments' outputs per worker in flight.
    """
    extra = []
    itemsize = np.dtype(opts.dtype).itemsize
    out_channels = signal_layout(stack, src.channels)[1]
    if resampled:
        frames = src.frames if src.seekable() else 0
        extra.append(plan_whole_file(frames, src.channels, out_channels, stack.sample_rate / src.samplerate))
    if split_workers:
        seg = choose_segment_frames(src.frames, stack, split_workers, block_size)
        reach = seg + (stack.receptive_field or 1)
        extra.append(("segments", itemsize * split_workers * (reach * src.channels + 3 * seg * out_channels)))
    plan_and_check(
        stack, src.channels, dtype=opts.dtype, block_size=block_size, limit=opts.memory_limit, extra=extra,
        copies=max(1, split_workers), engine=opts.chosen_engine,
    )


# ---------------------------------------------------------------------------
# Source and sink


@contextmanager
def open_source(input: Target) -> Iterator[sf.SoundFile]:
    """The input, open for reading: a checked file (:func:`wavedil.audio.open_input`) or a stream.

    A stream is read through its file descriptor when it has one (a pipe),
    else as a file object.

    Raises
    ------
    AudioError
        For a file, as :func:`~wavedil.audio.open_input`; for a stream, a
        terminal or data that is not audio.
    """
    if not is_stream(input):
        with open_input(input) as f:
            yield f
        return
    stream: Any = input
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        raise AudioError(f"{STREAM_NAME}: the input stream is a terminal, not audio (pipe a WAV stream in, or give a file)")
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both: an in-memory stream
        fd = None
    try:
        f = sf.SoundFile(stream if fd is None else fd, closefd=False)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{STREAM_NAME}: the input stream is not audio libsndfile can read ({exc})") from None
    with f:
        yield f


#: The highest MP3 compression level libsndfile takes (1 is taken as this).
MAX_MP3_COMPRESSION = 0.999


@contextmanager
def open_sink(
    output: Target, overwrite: bool, rate: int, channels: int, fmt: str, subtype: str, frames: int | None, compression: float | None = None
) -> Iterator[Callable[[np.ndarray], None]]:
    """A function that writes output blocks: to a temporary file renamed into place when complete, or to a stream."""
    if is_stream(output):
        with _stream_sink(output, rate, channels, subtype, frames) as write:
            yield write
        return
    name = os.fspath(output)
    with atomic_output(name, force=overwrite) as tmp:
        try:
            if compression is not None and fmt == "MP3":
                # libsndfile 1.2 refuses MP3 levels above 0.999 (its smallest bit rate is reached by then).
                compression = min(compression, MAX_MP3_COMPRESSION)
            dst = sf.SoundFile(tmp, "w", samplerate=rate, channels=channels, format=fmt, subtype=subtype, compression_level=compression)
        except (sf.LibsndfileError, RuntimeError) as exc:
            what = f" at compression level {compression}" if compression is not None else ""
            raise AudioError(f"{name}: cannot write {fmt}/{subtype}{what}: {sndfile_reason(None, exc)}") from None

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


@contextmanager
def _stream_sink(stream: Any, rate: int, channels: int, subtype: str, frames: int | None) -> Iterator[Callable[[np.ndarray], None]]:
    try:
        writer = WavStreamWriter(stream, rate, channels, subtype, frames)
        yield writer.write
        writer.close()
    except BrokenPipeError:
        raise AudioError(f"{STREAM_NAME}: the reader of the output stream went away") from None
    except OSError as exc:
        raise AudioError(f"{STREAM_NAME}: write failed: {os_reason(exc)}") from None


class _Done:
    """Progress as the sink sees it: a block counts once written, the last once the output is complete.

    Closing a file flushes what the system still holds of it, which takes
    time in proportion to its size: holding the last block back until then
    makes the seconds reported add up to the input's length exactly when the
    output is whole. An engine that does its work before writing anything
    (resampling filters the whole input first) reports it as it goes
    (:meth:`early`), and the blocks written later count only for what it did
    not report.
    """

    def __init__(self, progress: Progress | None, rate: int) -> None:
        self.progress, self.rate = progress, rate
        self.held = 0.0
        self.ahead = 0.0

    def early(self, seconds: float) -> None:
        """``seconds`` of input are done, before their output is written."""
        self._advance(seconds)
        self.ahead += seconds

    def written(self, frames: int) -> None:
        seconds = frames / self.rate
        used = min(self.ahead, seconds)
        self.ahead -= used
        self._advance(seconds - used)

    def _advance(self, seconds: float) -> None:
        if self.progress and seconds > 0:
            if self.held:
                self.progress(self.held)
            self.held = seconds

    def complete(self) -> None:
        if self.progress and self.held:
            self.progress(self.held)


def _reason(dst: sf.SoundFile, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return os_reason(exc)
    return sndfile_reason(dst, exc)


# ---------------------------------------------------------------------------
# Gain and clipping


class _Level:
    """The gain/clip stage: scales by ``gain``, refuses overflow beyond ``limit``, tracks the peak, clips (``clip``).

    ``arithmetic`` is the run's dtype name, for the remedy an overflow suggests.
    """

    def __init__(self, name: str, arithmetic: str, *, gain: float = 1.0, limit: float = _FLOAT64_MAX, clip: bool = False) -> None:
        self.name, self.arithmetic = name, arithmetic
        self.gain, self.limit, self.clip = gain, limit, clip
        self.frame = 0
        self.peak = 0.0
        self.clipped = 0

    def __call__(self, y: np.ndarray) -> np.ndarray:
        if self.gain != 1.0:
            y *= y.dtype.type(self.gain)
        if y.size:
            block_peak = float(np.max(np.abs(y)))
            if not block_peak <= self.limit:  # NaN fails too
                raise _overflow(self.name, y, self.frame, self.limit, self.arithmetic)
            self.peak = max(self.peak, block_peak)
        if self.clip:
            n_over = int(np.count_nonzero(np.abs(y) > 1.0))
            if n_over:
                self.clipped += n_over
                np.clip(y, -1.0, 1.0, out=y)
        self.frame += len(y)
        return y


def _normalizing_gain(chain: _Chain, peak_db: float) -> float:
    """The gain that brings the output's peak to ``peak_db`` dBFS, measured through the chain (nothing written, no progress)."""
    level = _Level(chain.name, chain.options.dtype)
    for y in chain.blocks():
        level(y)
    return 10.0 ** (peak_db / 20.0) / level.peak if level.peak > 0 else 1.0


def _overflow(name: str, y: np.ndarray, start: int, limit: float, arithmetic: str) -> AudioError:
    """The error for an output block ``y`` (from frame ``start``) with a sample beyond ``limit``, infinity or NaN."""
    # Infinity tested apart: compared with a float32 block, a Python float is taken as float32.
    bad = ~np.isfinite(y) | (np.abs(y) > limit)
    frame = start + int(np.argmax(bad.reshape(len(y), -1).any(axis=1)))
    if np.isfinite(y).all():
        return AudioError(
            f"{name}: the stack's output overflows what a FLOAT file holds (first at frame {frame})",
            hint="{0} holds it",
            settings=(Setting("subtype", "DOUBLE"),),
        )
    message = f"{name}: the stack's output overflows to infinity (first at frame {frame})"
    if arithmetic == "float32":
        return AudioError(message, hint="{0} may hold it", settings=(Setting("dtype", "float64"),))
    return AudioError(message)


# ---------------------------------------------------------------------------
# Reader and engines


class _Reader:
    """Blocks of the input as float arrays, checked for NaN and infinity."""

    def __init__(self, src: sf.SoundFile, name: str, block_size: int, sanitize: bool) -> None:
        self.src, self.name, self.block_size, self.sanitize = src, name, block_size, sanitize
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
                self.sanitized += _checked(block, self.sanitize, self.name, self.frames, self.src.subtype)
                self.frames += len(block)
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


def _checked(x: np.ndarray, sanitize: bool, name: str, first_frame: int, subtype: str, own: slice = slice(None)) -> int:
    """The NaN policy: refuse a block ``x`` (from ``first_frame``) with NaN or infinite samples, or zero them.

    Returns how many of the frames in ``own`` were replaced (with ``sanitize``).
    """
    bad = ~np.isfinite(x)
    if not bad.any():
        return 0
    if not sanitize:
        raise _bad_samples(name, first_frame + int(np.argmax(bad.any(axis=1))), subtype, x.dtype)
    replaced = int(np.count_nonzero(bad[own]))
    x[bad] = 0.0
    return replaced


def _bad_samples(name: str, frame: int, subtype: str, dtype: np.dtype) -> AudioError:
    """The error for an input sample that is not finite in the working precision."""
    if subtype == "DOUBLE" and dtype == np.float32:
        # A finite float64 sample beyond float32's range reads as infinity in float32 arithmetic.
        return AudioError(
            f"{name}: contains NaN or infinite samples, or samples beyond float32's range (the first at frame {frame})",
            hint="{0} reads finite ones as they are, {1} replaces them by zero",
            settings=(Setting("dtype", "float64"), Setting("sanitize")),
        )
    return AudioError(
        f"{name}: contains NaN or infinite samples (the first at frame {frame})",
        hint="{0} replaces them by zero",
        settings=(Setting("sanitize"),),
    )


def _filtered(reader: _Reader, filt: StreamingFilter) -> Iterator[np.ndarray]:
    """The whole-input engine: output blocks of ``filt`` over the input, then its flush."""
    for block in reader.blocks(filt.dtype.name):
        yield filt.process(block)
    yield filt.flush()


def _segmented(reader: _Reader, stack: Stack, executor: Executor, workers: int, opts: Options) -> Iterator[np.ndarray]:
    """The segmented engine: the output of the whole input computed in segments on ``executor``, in order."""
    frames = reader.src.frames
    block_size = reader.block_size
    seg_len = choose_segment_frames(frames, stack, workers, block_size)
    segments = plan_segments(frames, stack, segment_frames=seg_len, block_size=block_size)
    submitted = (
        executor.submit(file_segment, reader.name, s, stack, opts.dtype, block_size, opts.sanitize, opts.memory_limit, opts.chosen_engine)
        for s in segments
    )
    for seg, (y, sanitized) in zip(segments, ordered_results(submitted, 2 * workers)):
        reader.sanitized += sanitized
        reader.frames += seg.frames
        yield y


def file_segment(
    path: str,
    segment: Segment,
    stack: Stack,
    dtype: str,
    block_size: int,
    sanitize: bool,
    memory_limit: int | None = None,
    engine: Engine | None = None,
) -> tuple[np.ndarray, int]:
    """Read the input ``segment`` needs from ``path`` and compute its output on ``engine`` (resolved by the caller).

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
    own = slice(segment.start - segment.read_start, segment.stop - segment.read_start)
    sanitized = _checked(x, sanitize, path, segment.read_start, src_subtype, own)
    # An overflow is reported by the process that writes the output (see process_file).
    with np.errstate(over="ignore", invalid="ignore"):
        return run_segment(stack, x, segment, dtype=dtype, block_size=block_size, memory_limit=memory_limit, engine=engine), sanitized


def _resampled(reader: _Reader, filt: StreamingFilter, rate: int, early: Progress | None = None) -> Iterator[np.ndarray]:
    """The resampling engine: the whole input resampled to ``rate``, filtered, resampled back; in blocks."""
    from scipy.signal import resample_poly  # scipy's import costs a second: only runs that resample pay it

    src_rate = reader.src.samplerate
    x = np.concatenate([np.empty((0, reader.src.channels)), *reader.blocks("float64")])
    g = math.gcd(rate, src_rate)
    up, down = rate // g, src_rate // g
    at_rate = resample_poly(x, up, down, axis=0) if len(x) else np.empty((0, x.shape[1]))
    # Block by block, as the filter itself would cut it (the same arithmetic), reporting as it goes.
    pieces = []
    for start in range(0, len(at_rate), filt.block_size):
        block = at_rate[start : start + filt.block_size]
        pieces.append(filt.process(block))
        if early:
            early(len(block) / rate)
    y = np.concatenate([np.empty((0, filt.out_channels), dtype=filt.dtype), *pieces, filt.flush()]).astype(np.float64)
    back = resample_poly(y, down, up, axis=0) if len(y) else np.empty((0, filt.out_channels))
    # resample_poly rounds lengths up; keep exactly the input's frame count.
    if len(back) < len(x):
        back = np.concatenate([back, np.zeros((len(x) - len(back), back.shape[1]))])
    back = back[: len(x)].astype(filt.dtype)
    for start in range(0, len(back), reader.block_size):
        yield back[start : start + reader.block_size]
