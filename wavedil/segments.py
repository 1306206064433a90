"""Split a long signal into segments that run independently and join exactly.

A causal stack's output at frame ``t`` depends on the input frames
``t - (RF-1) .. t`` only. A segment that outputs frames ``[start, stop)``
therefore needs the input from ``start - (RF-1)`` on, run from the steady
state of silence: that warm-up of ``RF-1`` frames makes its output exactly
the serial one. Warm-up starts and segment ends sit on the block grid of a
serial run (multiples of ``block_size``), so every block a segment computes
holds the same frames as in the serial run, goes through the same arithmetic,
and the joined output equals the serial output bit for bit (with an impulse
response to float rounding: its FFT windows reach up to two partitions before
the warm-up, where the segment holds silence; see :mod:`wavedil.partitioned`). A BLAS may split a
product differently, and round differently, on another thread count: the
engine runs one BLAS thread wherever it runs (:mod:`wavedil.blas`).

``same`` padding is the causal output shifted ``lookahead`` frames earlier,
of the input followed by ``lookahead`` frames of silence: a segment computes
causal frames ``[start + L, stop + L)`` and the last one feeds the silence.

The same split lets worker processes or a cluster share one long file. The
engine is resolved once, by the process that hands the segments out, and
every segment runs on it: a worker whose environment says otherwise
(``WAVEDIL_ENGINE``) still computes what the others do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .engine import StreamingFilter, block_size_for
from .engines import Engine, resolve_engine, usable
from .errors import WavedilError
from .memory import signal_layout
from .stack import Stack

#: Longest segment :func:`plan_segments` chooses on its own, in frames.
MAX_SEGMENT_FRAMES = 1 << 21


@dataclass(frozen=True)
class Segment:
    """One independently computable piece of a stack's output.

    Frames ``[start, stop)`` of the output come from feeding the input frames
    ``[read_start, read_stop)`` and then ``tail`` frames of silence to a
    causal filter in its silent steady state, and keeping ``stop - start``
    output frames from ``skip`` on.
    """

    index: int
    start: int
    stop: int
    read_start: int
    read_stop: int
    tail: int
    skip: int

    @property
    def frames(self) -> int:
        return self.stop - self.start


def choose_segment_frames(frames: int, stack: Stack, workers: int, block_size: int | None = None) -> int:
    """A segment length giving each worker about four segments.

    Never shorter than four warm-ups (so the overlap costs at most a quarter)
    nor longer than :data:`MAX_SEGMENT_FRAMES`; a multiple of ``block_size``.
    """
    block_size = block_size or block_size_for(stack)
    if stack.is_recurrent:
        # Never split: one segment as long as the input (see plan_segments).
        return max(block_size, -(-frames // block_size) * block_size)
    want = math.ceil(frames / max(1, 4 * workers))
    want = max(want, 4 * (stack.receptive_field - 1), 16 * block_size)
    want = min(want, MAX_SEGMENT_FRAMES)
    return max(block_size, -(-want // block_size) * block_size)


def plan_segments(
    frames: int,
    stack: Stack,
    *,
    segment_frames: int,
    block_size: int | None = None,
) -> list[Segment]:
    """Cut ``frames`` output frames into segments of ``segment_frames``.

    Parameters
    ----------
    frames : int
        Length of the input (and output), in frames.
    stack : Stack
    segment_frames : int
        Output frames per segment; must be a positive multiple of ``block_size``.
    block_size : int, optional
        The block size of the serial run the segments must match (default:
        the engine's choice for the stack).

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> stack = stack_from_dilations([1, 2, 4], kernel_size=3)      # RF 15
    >>> [(s.read_start, s.start, s.stop) for s in plan_segments(40, stack, segment_frames=16, block_size=8)]
    [(0, 0, 16), (0, 16, 32), (16, 32, 40)]
    """
    if stack.is_recurrent:
        raise WavedilError(
            "a recurrent model (LSTM) remembers its whole input: it cannot be cut into segments with a finite warm-up"
        )
    block_size = block_size or block_size_for(stack)
    if block_size < 1 or segment_frames < 1 or segment_frames % block_size:
        raise WavedilError(f"segment length {segment_frames} must be a positive multiple of the block size {block_size}")
    lookahead = stack.lookahead
    history = stack.receptive_field - 1
    out: list[Segment] = []
    for index, start in enumerate(range(0, frames, segment_frames)):
        stop = min(start + segment_frames, frames)
        first, last = start + lookahead, stop + lookahead  # causal frames wanted
        read_start = max(0, first - history) // block_size * block_size
        read_stop = min(frames, -(-last // block_size) * block_size)
        tail = max(0, last - frames)
        out.append(Segment(index, start, stop, read_start, read_stop, tail, first - read_start))
    return out


def run_segment(
    stack: Stack,
    x: np.ndarray,
    segment: Segment,
    *,
    dtype: DTypeLike = np.float32,
    block_size: int | None = None,
    memory_limit: int | None = None,
    engine: str | Engine | None = None,
    fast_tanh: bool = False,
) -> np.ndarray:
    """Output frames ``[segment.start, segment.stop)`` of ``stack`` over a signal.

    ``x`` holds the input frames ``[segment.read_start, segment.read_stop)``,
    shaped ``(n, channels)``. Returns ``(segment.frames, out_channels)``.
    ``memory_limit``, ``engine`` and ``fast_tanh`` are the filter's (see
    :class:`~wavedil.engine.StreamingFilter`).
    """
    if len(x) != segment.read_stop - segment.read_start:
        raise WavedilError(f"segment {segment.index} needs {segment.read_stop - segment.read_start} input frames, got {len(x)}")
    filt = StreamingFilter(
        stack.replace(padding="causal"), x.shape[1], dtype=dtype, block_size=block_size, memory_limit=memory_limit, engine=engine, fast_tanh=fast_tanh
    )
    parts = [filt.process(x)]
    if segment.tail:
        # A separate call, as the serial run's flush, so its blocks start where the input ends.
        parts.append(filt.process(np.zeros((segment.tail, x.shape[1]), dtype=filt.dtype)))
    y = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return y[segment.skip : segment.skip + segment.frames]


def _run_array_segment(stack: Stack, x: np.ndarray, segment: Segment, dtype: str, block_size: int | None, engine: Engine) -> np.ndarray:
    return run_segment(stack, x, segment, dtype=dtype, block_size=block_size, engine=engine)


def ordered_results(futures: Iterable[Future[Any]], window: int) -> Iterator[Any]:
    """Results of lazily submitted futures in order, at most ``window`` in flight.

    ``futures`` is an iterator that submits as it is consumed, so memory holds
    at most ``window`` segments' outputs however long the input.
    """
    pending: list[Future[Any]] = []
    it = iter(futures)
    for fut in it:
        pending.append(fut)
        if len(pending) >= window:
            break
    while pending:
        fut = pending.pop(0)
        result = fut.result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(nxt)
        yield result


def parallel_apply(
    stack: Stack,
    x: np.ndarray,
    executor: Executor,
    *,
    workers: int,
    segment_frames: int | None = None,
    dtype: DTypeLike = np.float32,
    block_size: int | None = None,
    engine: str | Engine | None = None,
    fast_tanh: bool = False,
) -> np.ndarray:
    """:func:`wavedil.apply` with segments run on ``executor``; the same output, bit for bit (see the module docstring).

    Parameters
    ----------
    stack : Stack
    x : ndarray, shape (n,) or (n, channels)
    executor : concurrent.futures.Executor
        Anything with ``submit(fn, *args)`` returning futures: a pool from
        :func:`wavedil.workers.worker_pool`, or a ``dask.distributed.Client``.
    workers : int
        How many segments run at once; sets the default segment length.
    segment_frames : int, optional
        Output frames per segment, a multiple of ``block_size``.
    engine : str or Engine, optional
        ``auto``, ``numpy`` or ``numba``, as for :func:`wavedil.apply`;
        resolved here, once, so that every segment runs on the same engine.
    fast_tanh : bool
        NAM's plugin approximation of tanh (see :mod:`wavedil.engines`).

    Examples
    --------
    >>> import numpy as np, wavedil
    >>> from wavedil.workers import worker_pool
    >>> x = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    >>> with worker_pool(2) as pool:                                    # doctest: +SKIP
    ...     y = parallel_apply(wavedil.preset("smooth"), x, pool, workers=2)
    >>> bool(np.array_equal(y, wavedil.apply(wavedil.preset("smooth"), x)))  # doctest: +SKIP
    True
    """
    x = np.asarray(x)
    one_d = x.ndim == 1
    frames = x[:, None] if one_d else x
    if frames.ndim != 2:
        raise WavedilError(f"x must be 1-D or 2-D (frames, channels), got shape {x.shape}")
    chosen = usable(resolve_engine(engine, fast_tanh=fast_tanh), stack)
    block_size = block_size or block_size_for(stack, frames.shape[1])
    # Convert once here, as the serial run converts each block: the same values reach the layers.
    frames = frames.astype(np.dtype(dtype), copy=False)
    seg_len = segment_frames or choose_segment_frames(len(frames), stack, workers, block_size)
    segments = plan_segments(len(frames), stack, segment_frames=seg_len, block_size=block_size)
    name = np.dtype(dtype).name
    submitted = (
        executor.submit(_run_array_segment, stack, frames[s.read_start : s.read_stop], s, name, block_size, chosen)
        for s in segments
    )
    parts = list(ordered_results(submitted, 2 * workers))
    # An empty input has no segments: its output shape comes from the layout, without building a filter here.
    y = np.concatenate(parts) if parts else np.empty((0, signal_layout(stack, frames.shape[1])[1]), dtype=dtype)
    return y[:, 0] if one_d and y.shape[1] == 1 else y

