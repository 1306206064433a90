"""The forward pass: a stack run block by block with its state carried along.

Each layer keeps the last ``(k-1)*d`` samples of its input, so a signal cut
into blocks of any size gives the same output as the signal processed at once
(to float rounding), and memory is bounded by the block, not the signal.

Before the first block every layer is put in the steady state that endless
silence produces: its history holds the constant that the layers below output
for a silent input. A layer with a bias therefore does not start from zeros,
and the output equals the response of the network to the input preceded by
silence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .blas import one_blas_thread
from .engines import Engine, resolve_engine, usable
from .errors import Setting, WavedilError
from .memory import plan_and_check, signal_layout
from .stack import Stack

#: Most samples per block for cheap stacks: long blocks spread the per-call
#: cost of NumPy over many samples.
MAX_BLOCK_SIZE = 524288
#: Fewest samples per block for wide stacks, whose buffers must stay in cache.
MIN_BLOCK_SIZE = 1024
#: Bytes of a plain layer's widest buffer per block: about an L1 cache.
CONV_BLOCK_BYTES = 64 * 1024
#: Bytes of a WaveNet layer's stacked GEMM input per block. A WaveNet layer
#: makes about ten NumPy calls per block, so longer blocks pay even when they
#: spill into L2 (measured: 18% faster for NAM's standard capture and 7% for
#: the WaveNet paper's shape at 4096-8192 samples than at 1024).
WAVENET_BLOCK_BYTES = 2 * 1024 * 1024


def block_size_for(stack: Stack, channels: int = 1) -> int:
    """The block size the engine uses for ``stack`` on ``channels`` channels unless told otherwise.

    The longest power of two, at most :data:`MAX_BLOCK_SIZE` samples in all
    (a mono stack runs each channel as a signal of its own, side by side) and
    at least :data:`MIN_BLOCK_SIZE`, for which every layer's float32 buffer of
    ``layer.block_rows()`` rows fits its budget (a layer with no rows, such as
    a mono convolution, has no limit): :data:`WAVENET_BLOCK_BYTES` for a
    layer whose GEMMs read stacked taps (``layer.stacks_taps``: a WaveNet,
    ``kernel_size * channels + condition_size + 1`` rows for its median
    layer), :data:`CONV_BLOCK_BYTES` otherwise.
    """
    size = MAX_BLOCK_SIZE
    signals = channels if stack.is_mono and stack.in_channels != channels else 1
    while size > MIN_BLOCK_SIZE and size * signals > MAX_BLOCK_SIZE:
        size //= 2
    for layer in stack.layers:
        rows = layer.block_rows()
        budget = WAVENET_BLOCK_BYTES if layer.stacks_taps else CONV_BLOCK_BYTES
        while rows is not None and size > MIN_BLOCK_SIZE and size * rows * 4 > budget:
            size //= 2
    return size


class StreamingFilter:
    """Run a stack over audio frames block by block.

    Feed frames shaped ``(n, channels)`` (soundfile's layout) to
    :meth:`process` in order, then call :meth:`flush` once; the concatenated
    outputs have exactly as many frames as the input.

    A mono stack (one channel in and out) runs over each channel separately;
    a stack whose ``in_channels`` equals the file's channel count takes all
    channels together and outputs ``stack.out_channels`` channels.

    Parameters
    ----------
    stack : Stack
        The layers and padding.
    channels : int
        Channels of the input frames.
    dtype : dtype
        ``float32`` (default) or ``float64``: the arithmetic precision.
    block_size : int, optional
        Longest run of frames pushed through the layers at once; bounds the
        memory of the buffers. Default: :func:`block_size_for` the stack and channels.
    memory_limit : int, optional
        Bytes the filter may allocate; its needs are planned first
        (:func:`wavedil.memory.plan_filter`) and a plan over the limit is
        refused before anything is allocated. Default:
        :func:`wavedil.memory.default_memory_limit`.
    engine : str or Engine, optional
        ``auto``, ``numpy`` or ``numba`` (see :mod:`wavedil.engines`);
        default: the ``WAVEDIL_ENGINE`` environment variable, else ``auto``
        (compiled kernels when Numba is installed).
    fast_tanh : bool
        Compute tanh with NAM's plugin approximation (within 4e-4) instead
        of the accurate one: what the plugin's users hear.

    Raises
    ------
    MemoryLimitError
        When the plan exceeds ``memory_limit``, with the figures.

    Examples
    --------
    >>> import numpy as np
    >>> from wavedil.spec import stack_from_dilations
    >>> f = StreamingFilter(stack_from_dilations([1, 2], kernel_size=2), channels=1)
    >>> y = np.concatenate([f.process(np.ones((3, 1))), f.flush()])
    >>> y[:, 0].tolist()
    [0.25, 0.5, 0.75]
    """

    def __init__(
        self,
        stack: Stack,
        channels: int,
        *,
        dtype: DTypeLike = np.float32,
        block_size: int | None = None,
        memory_limit: int | None = None,
        engine: str | Engine | None = None,
        fast_tanh: bool = False,
    ) -> None:
        self.stack = stack
        self.engine = usable(resolve_engine(engine, fast_tanh=fast_tanh), stack)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise WavedilError(f"dtype must be float32 or float64, got {self.dtype}")
        if block_size is None:
            block_size = block_size_for(stack, int(channels))
        if block_size < 1:
            raise WavedilError(f"block size must be positive, got {block_size}")
        self.block_size = int(block_size)
        self.channels = int(channels)
        self._batch, self.out_channels = signal_layout(stack, self.channels)
        self._joint = stack.in_channels == self.channels
        self.memory_plan = plan_and_check(stack, self.channels, dtype=self.dtype, block_size=self.block_size, limit=memory_limit, engine=self.engine)
        self._runners: list[Any] = []
        gain = 1.0
        for index, layer in enumerate(stack.layers, start=1):
            try:
                # Weights beyond the working precision would become infinities: say so instead.
                with np.errstate(over="raise"):
                    runner = layer.runner(self._batch, self.dtype, self.block_size, gain, engine=self.engine)
            except FloatingPointError:
                raise WavedilError(
                    f"layer {index}: weights beyond the range of {self.dtype.name} (about {np.finfo(self.dtype).max:.1e})",
                    hint="float64 arithmetic ({0}) holds them",
                    settings=(Setting("dtype", "float64"),),
                ) from None
            self._runners.append(runner)
            gain = runner.gain_out
        if self.engine.compiled:
            from .conv import fuse_chains

            # Consecutive mono layers run as one compiled chain (wavedil.conv.MonoChain).
            self._runners = fuse_chains(self._runners)
        # The gain the last layers deferred, applied once to the output.
        self._gain = None if gain == 1.0 else self.dtype.type(gain)
        # Layers write into two buffers in turn; each reads its input where the previous one wrote it.
        widest = max(max(layer.in_channels, layer.out_channels) for layer in stack.layers)
        self._buffers = [np.empty((self._batch, widest, self.block_size), dtype=self.dtype) for _ in range(2)]
        self.reset()

    def reset(self) -> None:
        """Forget all input: return to the steady state of endless silence."""
        steady = np.zeros(self.stack.in_channels, dtype=self.dtype)
        with np.errstate(over="ignore", invalid="ignore"), one_blas_thread():
            for runner in self._runners:
                steady = runner.prime(steady)
        self._to_skip = self.stack.lookahead

    @property
    def layer_engines(self) -> list[str]:
        """Which engine runs each layer: ``numba`` where a compiled kernel does, else ``numpy``."""
        return [e for runner in self._runners for e in getattr(runner, "layer_engines", [getattr(runner, "engine", "numpy")])]

    @property
    def latency(self) -> int:
        """Frames the output lags the input by before :meth:`flush` (``same`` padding)."""
        return self.stack.lookahead

    def _run(self, block: np.ndarray, out: np.ndarray) -> None:
        """Filter ``block`` (n, channels) into ``out`` (n, out_channels)."""
        n = len(block)
        # (batch, channels, n): a view of the frames when they are contiguous in the working
        # dtype (mono audio), else one pass that transposes and converts them.
        x = block.T[None] if self._joint else block.T[:, None, :]
        if x.dtype != self.dtype or x.strides[-1] != x.itemsize:
            staged = self._buffers[1][:, : x.shape[1], :n]
            np.copyto(staged, x, casting="unsafe")
            x = staged
        for i, runner in enumerate(self._runners):
            y = self._buffers[i % 2][:, : runner.out_channels, :n]
            runner.run(x, y)
            x = y
        y = x[0] if self._joint else x[:, 0, :]
        # One pass moves the output out of the cache-sized buffer, with any deferred gain.
        if self._gain is None:
            np.copyto(out, y.T)
        else:
            np.multiply(y.T, self._gain, out=out)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Filter the next frames; returns ``(m, out_channels)`` output frames.

        ``m`` equals the number of input frames for causal padding; for
        ``same`` padding the first :attr:`latency` output frames are held back
        until enough input has arrived, and :meth:`flush` returns the rest.
        """
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise WavedilError(f"expected frames shaped (n, {self.channels}), got {frames.shape}")
        n = frames.shape[0]
        out = np.empty((n, self.out_channels), dtype=self.dtype)
        # Overflow is not warned about: it shows as inf or NaN in the output, which callers check
        # (process_file refuses to write it).
        with np.errstate(over="ignore", invalid="ignore"), one_blas_thread():
            for start in range(0, n, self.block_size):
                stop = min(start + self.block_size, n)
                self._run(frames[start:stop], out[start:stop])
        if self._to_skip:
            skip = min(self._to_skip, n)
            self._to_skip -= skip
            out = out[skip:]
        return out

    def flush(self) -> np.ndarray:
        """Feed the silence that ``same`` padding appends; returns the last frames.

        Call once, after the last :meth:`process`. Returns an empty array for
        causal padding.
        """
        lookahead = self.stack.lookahead
        if not lookahead:
            return np.empty((0, self.out_channels), dtype=self.dtype)
        # All the silence, even after an input shorter than the lookahead:
        # process() still drops the frames before the first output.
        return self.process(np.zeros((lookahead, self.channels), dtype=self.dtype))


def apply(
    stack: Stack,
    x: np.ndarray,
    *,
    dtype: DTypeLike = np.float32,
    block_size: int | None = None,
    engine: str | Engine | None = None,
    fast_tanh: bool = False,
) -> np.ndarray:
    """Filter a whole signal with a stack.

    ``y[t] = act_L(... act_1(b_1 + sum_j w_1[j] @ x[t - j*d_1]) ...)``, the
    input taken as preceded by silence (``causal``) or also followed by it and
    centred (``same``).

    Parameters
    ----------
    stack : Stack
    x : ndarray, shape (n,) or (n, channels)
        Samples (any real dtype; converted to ``dtype``).
    dtype : dtype
        ``float32`` or ``float64`` arithmetic.
    block_size : int, optional
        Frames per block; the result does not depend on it beyond rounding.
        Default: :func:`block_size_for` the stack.
    engine : str or Engine, optional
        ``auto``, ``numpy`` or ``numba`` (see :class:`StreamingFilter`).
    fast_tanh : bool
        NAM's plugin approximation of tanh (see :class:`StreamingFilter`).

    Returns
    -------
    ndarray
        Same number of frames as ``x``; 1-D when ``x`` is 1-D and the output
        has one channel.

    Examples
    --------
    >>> import numpy as np
    >>> from wavedil.spec import stack_from_dilations
    >>> stack = stack_from_dilations([1], taps=[1.0, -1.0])
    >>> apply(stack, np.array([1.0, 2.0, 4.0]), dtype=np.float64).tolist()
    [1.0, 1.0, 2.0]
    """
    x = np.asarray(x)
    one_d = x.ndim == 1
    frames = x[:, None] if one_d else x
    if frames.ndim != 2:
        raise WavedilError(f"x must be 1-D or 2-D (frames, channels), got shape {x.shape}")
    f = StreamingFilter(stack, frames.shape[1], dtype=dtype, block_size=block_size, engine=engine, fast_tanh=fast_tanh)
    y = f.process(frames)
    tail = f.flush()
    if len(tail):
        y = np.concatenate((y, tail))
    return y[:, 0] if one_d and y.shape[1] == 1 else y
