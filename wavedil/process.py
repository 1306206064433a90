"""Filter audio files: read in blocks, run the engine, write atomically.

Memory is bounded by the block size whatever the file's length: the input is
read block by block, each block goes through a :class:`StreamingFilter`, and
the output is written as it comes to a temporary file renamed into place when
complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from numpy.typing import DTypeLike
from scipy.signal import resample_poly

from .audio import atomic_output, choose_subtype, clips, open_input, output_format, same_file
from .engine import DEFAULT_BLOCK_SIZE, StreamingFilter
from .errors import AudioError, WavedilError
from .spec import Stack


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
    block_size: int = DEFAULT_BLOCK_SIZE,
    resample: bool = False,
) -> FileResult:
    """Filter the audio file ``input`` with ``stack`` into ``output``.

    The output format follows ``output``'s extension, the subtype follows the
    input's (unless ``subtype`` is given or the format cannot hold it) and the
    sample rate is kept. Samples beyond full scale are clipped for integer
    subtypes and counted; with ``normalize`` the output is instead scaled so
    its peak is ``peak_db`` dBFS (the engine then runs twice, to find the
    peak and to write).

    Parameters
    ----------
    input, output : path
        Audio files; ``output`` must differ from ``input``.
    stack : Stack
    force : bool
        Replace an existing ``output``.
    subtype : str, optional
        libsndfile subtype to write, e.g. ``PCM_24`` or ``FLOAT``.
    normalize : bool
        Scale the output to a peak of ``peak_db`` dBFS.
    peak_db : float
        Target peak for ``normalize``, in dB relative to full scale.
    dtype : dtype
        ``float32`` or ``float64`` arithmetic.
    block_size : int
        Frames per block (memory bound; the output does not depend on it).
    resample : bool
        When the stack names a sample rate (a trained model) and the file has
        another, resample to the model's rate with
        :func:`scipy.signal.resample_poly`, filter, and resample back. This
        holds the whole file in memory. Without it such a file is refused.

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
    if same_file(input, output):
        raise AudioError(f"{out_name}: the output is the input file; choose another output path")
    fmt = output_format(output)
    with open_input(input) as src:
        sub = choose_subtype(fmt, src.subtype, subtype, path=out_name)
        try:
            filt = StreamingFilter(stack, src.channels, dtype=dtype, block_size=block_size)
        except WavedilError as exc:
            raise WavedilError(f"{in_name}: {exc}") from None
        model_rate = stack.sample_rate
        if model_rate and model_rate != src.samplerate and not resample:
            raise AudioError(
                f"{in_name}: the audio is at {src.samplerate} Hz but the model runs at {model_rate} Hz; "
                "add --resample to convert it"
            )
        converting = bool(model_rate) and model_rate != src.samplerate

        def output_blocks():
            if converting:
                return _resampled(src, filt, in_name, block_size, model_rate)
            return _filtered(src, filt, in_name, block_size)

        gain = 1.0
        if normalize:
            peak = max((float(np.max(np.abs(y), initial=0.0)) for y in output_blocks()), default=0.0)
            gain = 10.0 ** (peak_db / 20.0) / peak if peak > 0 else 1.0
            src.seek(0)
            filt.reset()
        clipped = 0
        peak_out = 0.0
        clip = clips(sub)
        with atomic_output(output, force=force) as tmp:
            try:
                dst = sf.SoundFile(tmp, "w", samplerate=src.samplerate, channels=filt.out_channels, format=fmt, subtype=sub)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(f"{out_name}: cannot write {fmt}/{sub}: {exc}") from None
            with dst:
                for y in output_blocks():
                    if gain != 1.0:
                        y *= y.dtype.type(gain)
                    if y.size:
                        peak_out = max(peak_out, float(np.max(np.abs(y))))
                    if clip:
                        over = np.abs(y) > 1.0
                        n_over = int(np.count_nonzero(over))
                        if n_over:
                            clipped += n_over
                            np.clip(y, -1.0, 1.0, out=y)
                    try:
                        dst.write(y)
                    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                        raise AudioError(f"{out_name}: write failed: {exc}") from None
        return FileResult(
            input=in_name,
            output=out_name,
            frames=src.frames,
            sample_rate=src.samplerate,
            channels=src.channels,
            out_channels=filt.out_channels,
            format=fmt,
            subtype=sub,
            clipped_samples=clipped,
            peak=peak_out,
            gain=gain,
        )


def _blocks(src: sf.SoundFile, name: str, block_size: int, dtype: str) -> Iterator[np.ndarray]:
    """Yield the input's blocks, refusing NaN and infinity."""
    start = 0
    try:
        for block in src.blocks(blocksize=block_size, dtype=dtype, always_2d=True):
            if not np.all(np.isfinite(block)):
                frame = start + int(np.argmax(~np.all(np.isfinite(block), axis=1)))
                raise AudioError(f"{name}: contains NaN or infinite samples (the first at frame {frame})")
            start += block.shape[0]
            yield block
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{name}: read failed at frame {start}: {exc}") from None


def _filtered(src: sf.SoundFile, filt: StreamingFilter, name: str, block_size: int) -> Iterator[np.ndarray]:
    """Yield output blocks of ``filt`` over the whole of ``src``, then its flush."""
    for block in _blocks(src, name, block_size, filt.dtype.name):
        yield filt.process(block)
    yield filt.flush()


def _resampled(src: sf.SoundFile, filt: StreamingFilter, name: str, block_size: int, rate: int) -> Iterator[np.ndarray]:
    """Resample the whole input to ``rate``, filter, resample back; yield the output in blocks."""
    x = np.concatenate([np.empty((0, src.channels)), *_blocks(src, name, block_size, "float64")])
    g = math.gcd(rate, src.samplerate)
    up, down = rate // g, src.samplerate // g
    at_rate = resample_poly(x, up, down, axis=0) if len(x) else np.empty((0, src.channels))
    y = np.concatenate([filt.process(at_rate), filt.flush()]).astype(np.float64)
    back = resample_poly(y, down, up, axis=0) if len(y) else np.empty((0, filt.out_channels))
    # resample_poly rounds lengths up; keep exactly the input's frame count.
    if len(back) < len(x):
        back = np.concatenate([back, np.zeros((len(x) - len(back), back.shape[1]))])
    back = back[: len(x)].astype(filt.dtype)
    for start in range(0, len(back), block_size):
        yield back[start : start + block_size]
