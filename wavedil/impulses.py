"""Impulse responses (a cabinet, a room) as a stage: read from an audio file and streamed by FFT.

The layer computes, channel by channel, ::

    y[t] = sum_m h[m] x[t - m]        m = 0 .. L-1

with :mod:`wavedil.partitioned`'s uniformly partitioned overlap-save, so a
1-second response costs a few FFTs per block instead of 48,000
multiply-adds per sample. A response is made for one sample rate: run at
another, it is resampled to it (:meth:`ImpulseResponse.at_rate`), scaled by
the ratio of the rates so that its frequency response keeps its level.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .engines import NUMPY, Engine
from .errors import AudioError, SpecError
from .limits import MAX_CHANNELS, MAX_SAMPLE_RATE

if TYPE_CHECKING:
    from .stack import Stack

#: Longest impulse response, in frames, read or resampled (about 87 s at 48 kHz; a cabinet's is under a second).
MAX_IR_FRAMES = 1 << 22
#: Most samples of an impulse response, all channels together (64 MiB in float64).
MAX_IR_SAMPLES = 1 << 23


@dataclass(frozen=True, eq=False)
class ImpulseResponse:
    """A convolution with a measured response, one per channel or one for all.

    Parameters
    ----------
    taps : ndarray, shape (length,) or (length, channels)
        The response; ``taps[0]`` meets the current sample. One channel is
        applied to every channel of the audio (a mono stage); ``channels``
        columns apply column ``c`` to channel ``c``.
    sample_rate : int, optional
        The rate the response was recorded at, in Hz; None: the audio's.
    source : str, optional
        Where it came from (a file name), for reports.
    resampled_from : int, optional
        The rate it was recorded at when :meth:`at_rate` made it.
    normalized : bool
        Scale the response to unit energy, ``sum h**2 = 1`` over all its
        channels, at whatever rate it runs (again after :meth:`at_rate`).
    """

    taps: np.ndarray
    sample_rate: int | None = None
    source: str | None = None
    resampled_from: int | None = None
    normalized: bool = False

    kind = "ir"
    stacks_taps = False

    def __post_init__(self) -> None:
        taps = np.array(self.taps, dtype=np.float64)
        if taps.ndim == 1:
            taps = taps[:, None]
        if taps.ndim != 2 or taps.shape[0] < 1 or not 1 <= taps.shape[1] <= MAX_CHANNELS:
            raise SpecError(f"an impulse response must have shape (length,) or (length, channels), got {taps.shape}", field="ir")
        if not np.isfinite(taps).all():
            raise SpecError("the impulse response holds NaN or infinite samples", field="ir")
        if taps.shape[0] > MAX_IR_FRAMES or taps.size > MAX_IR_SAMPLES:
            raise SpecError(
                f"{taps.shape[0]:,} frames x {taps.shape[1]} channel(s) is more than an impulse response may have "
                f"({MAX_IR_FRAMES:,} frames, {MAX_IR_SAMPLES:,} samples in all)",
                field="ir",
            )
        if self.sample_rate is not None and (isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, (int, np.integer)) or not 1 <= self.sample_rate <= MAX_SAMPLE_RATE):
            raise SpecError(f"a sample rate is a whole number of Hz from 1 to {MAX_SAMPLE_RATE:,}, got {self.sample_rate!r}", field="sample_rate")
        if not isinstance(self.normalized, bool):
            raise SpecError(f"normalized is True or False, got {self.normalized!r}", field="normalize")
        if self.normalized:
            peak = float(np.max(np.abs(taps)))
            if peak == 0.0:
                raise SpecError("a silent impulse response cannot be normalized", field="ir")
            # The norm through the peak: squares of a float file's large samples would overflow.
            taps = taps / (peak * math.sqrt(float(np.sum((taps / peak) ** 2))))
        taps.setflags(write=False)
        object.__setattr__(self, "taps", taps)

    @property
    def length(self) -> int:
        return int(self.taps.shape[0])

    @property
    def kernel_size(self) -> int:
        return self.length

    @property
    def dilation(self) -> int:
        return 1

    @property
    def in_channels(self) -> int:
        return int(self.taps.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.taps.shape[1])

    @property
    def history(self) -> int:
        return self.length - 1

    @property
    def parameters(self) -> int:
        return int(self.taps.size)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-adds per output sample of the direct form (the FFTs do the same work in far fewer)."""
        return int(self.taps.size)

    @property
    def is_linear(self) -> bool:
        return True

    @property
    def kernels_pay(self) -> bool:
        return False

    def activation_names(self) -> set[str]:
        return {"linear"}

    def block_rows(self) -> int | None:
        return None

    def probe_ns_per_sample(self, block: int) -> float:
        """Nominal nanoseconds per sample and channel in float64 (see :func:`wavedil.probe.probe_time`).

        Two FFTs of ``2P`` points per ``P`` samples and ``K`` products of
        ``P + 1`` bins: ``3 log2(2P) + 3K``, calibrated on a 2-core Zen 3
        machine (a 24,000-tap response: 35 ns a sample in float32).
        """
        from .partitioned import partition_size

        p = partition_size(self.length, block)
        return 3.0 * math.log2(2 * p) + 3.0 * -(-self.length // p)

    def memory_bytes(self, batch: int, itemsize: int, block: int, engine: Engine = NUMPY) -> int:
        """Bytes the runner keeps (see :func:`wavedil.partitioned.partition_memory`)."""
        from .partitioned import partition_memory

        return partition_memory(self.length, self.in_channels, batch, itemsize, block)

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> Any:
        """The streaming state and forward pass (:class:`wavedil.partitioned.PartitionedRunner`).

        The convolution is linear: a gain deferred by the layers before it
        passes through to the next.
        """
        from .partitioned import PartitionedRunner

        runner = PartitionedRunner(self.taps.T, batch, dtype, block)
        runner.gain_out = gain_in
        return runner

    def graph_nodes(self, g: Any, x: int, index: int) -> int:
        return g.node(f"layer {index}", (x, 1, self.length), row=True)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": self.kind,
                "kernel_size": self.length,
                "dilation": 1,
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "activation": "linear",
                "parameters": self.parameters,
                "macs_per_sample": self.macs_per_sample,
                "span": self.length,
            }
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "ir", "source": self.source, "sample_rate": self.sample_rate, "taps": self.taps.tolist()}

    def at_rate(self, rate: int) -> "ImpulseResponse":
        """This response for audio at ``rate`` Hz: itself, or resampled (``scipy.signal.resample_poly``).

        ``h_rate[n] = (sample_rate / rate) * h(n / rate)``, ``h`` interpolated
        by a polyphase filter: the factor keeps the level of the frequency
        response (the sum of the taps, for one, is kept).
        """
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 1 <= rate <= MAX_SAMPLE_RATE:
            raise SpecError(f"a sample rate is a whole number of Hz from 1 to {MAX_SAMPLE_RATE:,}, got {rate!r}", field="sample_rate")
        if not self.sample_rate or self.sample_rate == rate:
            return self
        from scipy.signal import resample_poly

        g = math.gcd(int(rate), int(self.sample_rate))
        up, down = int(rate) // g, int(self.sample_rate) // g
        # Checked before resample_poly allocates it.
        frames = -(-self.length * up // down)
        if frames > MAX_IR_FRAMES or frames * self.in_channels > MAX_IR_SAMPLES:
            name = self.source or "the impulse response"
            raise SpecError(
                f"{name}: resampled from {self.sample_rate} Hz to {rate} Hz it would be {frames:,} frames x {self.in_channels} channel(s), "
                f"more than an impulse response may have ({MAX_IR_FRAMES:,} frames, {MAX_IR_SAMPLES:,} samples in all)"
            )
        taps = resample_poly(self.taps, up, down, axis=0) * (self.sample_rate / rate)
        return replace(self, taps=taps, sample_rate=int(rate), resampled_from=self.resampled_from or self.sample_rate)


def ir(path: str | os.PathLike[str], *, normalize: bool = False, sample_rate: int | None = None) -> "Stack":
    """A stage that convolves with the impulse response in an audio file.

    ``y[t] = sum_m h[m] x[t - m]``: a mono file applies to every channel of
    the audio, a file of ``C`` channels applies channel ``c`` to channel
    ``c`` of audio with ``C`` channels.

    Parameters
    ----------
    path : str or path
        Any file libsndfile reads whole (WAV, FLAC, AIFF, ...), at most
        :data:`MAX_IR_FRAMES` frames.
    normalize : bool
        Scale the response to unit energy (``sum h**2 = 1`` over all its
        channels, at the rate it runs): responses recorded at different
        levels then sound alike in level on broadband input.
    sample_rate : int, optional
        Resample the response to this rate now (Hz). Otherwise the run
        resamples it to the audio's rate when they differ.

    Returns
    -------
    Stack
        One :class:`ImpulseResponse` layer, named after the file; join it to
        others with ``+`` or :func:`wavedil.chain`.

    Raises
    ------
    AudioError
        The file is missing, not audio, too long or silent (one line naming it).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from wavedil import apply
    >>> path = os.path.join(tempfile.mkdtemp(), "cab.wav")
    >>> sf.write(path, np.array([0.5, 0.25]), 48000, subtype="FLOAT")
    >>> apply(ir(path), np.array([1.0, 0.0, 2.0]), dtype=np.float64).round(12).tolist()
    [0.5, 0.25, 1.0]
    """
    from .audio import open_input
    from .stack import Stack

    if not isinstance(normalize, bool):
        raise SpecError(f"normalize is True or False, got {normalize!r}", field="normalize")
    name = str(path)
    with open_input(path) as f:
        if f.frames > MAX_IR_FRAMES:
            raise AudioError(f"{name}: {f.frames} frames is longer than an impulse response may be ({MAX_IR_FRAMES})")
        if f.channels > MAX_CHANNELS or f.frames * f.channels > MAX_IR_SAMPLES:
            raise AudioError(f"{name}: {f.frames} frames x {f.channels} channels is more than an impulse response may have ({MAX_IR_SAMPLES:,} samples in all)")
        # The limits hold on what is read, whatever the header says.
        taps = f.read(min(MAX_IR_FRAMES, MAX_IR_SAMPLES // f.channels) + 1, dtype="float64", always_2d=True)
        rate = int(f.samplerate)
    if len(taps) > MAX_IR_FRAMES or taps.size > MAX_IR_SAMPLES:
        raise AudioError(f"{name}: longer than an impulse response may be ({MAX_IR_FRAMES} frames, {MAX_IR_SAMPLES:,} samples in all)")
    if len(taps) == 0:
        raise AudioError(f"{name}: holds no samples")
    if not np.isfinite(taps).all():
        raise AudioError(f"{name}: holds NaN or infinite samples")
    if not np.any(taps):
        raise AudioError(f"{name}: is silent: an impulse response of zeros would silence the audio")
    try:
        layer = ImpulseResponse(taps, sample_rate=rate, source=os.path.basename(name), normalized=normalize)
        if sample_rate is not None:
            layer = layer.at_rate(sample_rate)
    except SpecError as exc:
        raise AudioError(f"{name}: {exc.reason}") from None
    label = f"IR {os.path.basename(name)}" + (" (normalized)" if normalize else "")
    return Stack(layers=(layer,), name=label)
