"""Long convolutions streamed block by block: uniformly partitioned overlap-save (UPOLS).

An impulse response ``h`` of ``L`` taps is cut into ``K = ceil(L / P)``
partitions ``h_k = h[kP : (k+1)P]`` of ``P`` taps, each transformed once,
``H_k = rfft(h_k, 2P)``. The input is taken in frames of ``P`` samples; frame
``j``'s spectrum ``X_j = rfft(x[(j-1)P : (j+1)P])`` covers it and the frame
before. Overlap-save then gives frame ``j`` of the output exactly::

    y[jP + t] = irfft(sum_k X_{j-k} H_k)[P + t]        t = 0 .. P-1

which is ``y[n] = sum_m h[m] x[n - m]``: the past frames' spectra wait in a
frequency-domain delay line, so each frame costs one forward and one inverse
FFT of ``2P`` points and ``K`` products of ``P + 1`` bins, whatever the
length of the response (direct convolution costs ``L`` multiply-adds per
sample).

A block need not fill a frame: the frame's unknown future is taken as zeros,
which changes none of the outputs computed now (they are causal), and the
frame is transformed again when more of it arrives. Blocks that are
multiples of ``P`` (the engine's) transform each frame once.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

#: Partition lengths are powers of two from this...
MIN_PARTITION = 256
#: ...to this (longer partitions only add latency to nothing and memory to the FFTs).
MAX_PARTITION = 16384


def partition_size(length: int, block: int) -> int:
    """The partition ``P`` for a response of ``length`` taps run in blocks of ``block`` samples.

    A quarter of the response rounded up to a power of two, within
    :data:`MIN_PARTITION` and :data:`MAX_PARTITION`, and no longer than the
    block unless the block is shorter than :data:`MIN_PARTITION` (a block
    shorter than the partition transforms a frame once per block; tiny
    partitions would cost far more, one product per partition and sample).

    >>> partition_size(24000, 8192), partition_size(100, 65536), partition_size(24000, 1000), partition_size(24000, 1)
    (8192, 256, 512, 256)
    """
    p = 1 << max(0, (max(1, length) - 1).bit_length() - 2)
    p = min(max(p, MIN_PARTITION), MAX_PARTITION)
    return min(p, max(MIN_PARTITION, 1 << (max(1, block).bit_length() - 1)))


def partition_memory(length: int, channels: int, batch: int, itemsize: int, block: int) -> int:
    """Bytes a :class:`PartitionedRunner` holds and its FFTs allocate.

    The responses' spectra; per signal and channel the delay line, the frame,
    the current spectrum, the sum of products and the past frames' share,
    and the inverse FFT's output with room for the FFT's own work copy.
    """
    p = partition_size(length, block)
    k = -(-length // p)
    bins = (p + 1) * 2 * itemsize
    # While the spectra are made: the padded response and its spectra in float64, beside the kept ones.
    building = channels * k * (p * 8 + (p + 1) * 16)
    return channels * k * bins + building + batch * channels * (k * bins + 2 * p * itemsize + 3 * bins + 2 * (2 * p * itemsize + bins))


class PartitionedRunner:
    """Streaming state and forward pass of a long convolution, channel by channel.

    ``y[b, c, n] = sum_m h[c, m] x[b, c, n - m]``, the input preceded by
    silence (or by the constant :meth:`prime` sets).

    Parameters
    ----------
    taps : ndarray, shape (channels, length)
        The response of each channel (one row for a mono response).
    batch : int
        Independent signals processed side by side.
    dtype : numpy dtype
        float32 or float64: the FFTs run in this precision.
    block : int
        Most samples per call (sets the partition, see :func:`partition_size`).
    """

    def __init__(self, taps: np.ndarray, batch: int, dtype: np.dtype, block: int) -> None:
        channels, length = taps.shape
        self.dtype = np.dtype(dtype)
        self.out_channels = channels
        self.p = p = partition_size(length, block)
        self.k = k = -(-length // p)
        padded = np.zeros((channels, k * p), dtype=np.float64)
        padded[:, :length] = taps
        # H[c, k] = rfft(h_k, 2P), computed in float64 and stored in the working precision.
        self.spectra = scipy.fft.rfft(padded.reshape(channels, k, p), n=2 * p, axis=-1).astype(np.result_type(self.dtype, np.complex64))
        self.dc = taps.sum(axis=1)
        # frame[..., :P] is the last whole frame, frame[..., P:] the current one (zeros beyond ``pos``).
        self.frame = np.zeros((batch, channels, 2 * p), dtype=self.dtype)
        self.pos = 0
        # The past frames' spectra, newest first from ``head`` on (a ring of K - 1).
        self.line = np.zeros((k - 1, batch, channels, p + 1), dtype=self.spectra.dtype)
        self.head = 0
        # sum_{k>=1} X_{j-k} H_k for the current frame, made when it starts.
        self.past = np.zeros((batch, channels, p + 1), dtype=self.spectra.dtype)
        self.gain_out = 1.0

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Take the input as the constant ``steady_in`` (shape (channels,)) forever before; returns the constant output."""
        value = np.asarray(steady_in, dtype=np.float64)[None, :, None]
        self.frame[...] = 0
        self.frame[..., : self.p] = value
        self.pos = 0
        # Every past frame's window holds the constant: its spectrum is 2P * value at DC only.
        self.line[...] = 0
        self.line[..., 0] = 2 * self.p * value[..., 0]
        self.head = 0
        return (np.asarray(steady_in, dtype=np.float64) * self.dc).astype(self.dtype)

    def _start_frame(self) -> None:
        """The past frames' share of the current frame: sum over k >= 1 of X_{j-k} H_k."""
        self.past[...] = 0
        for age in range(1, self.k):
            spectrum = self.line[(self.head + age - 1) % (self.k - 1)]
            self.past += spectrum * self.spectra[None, :, age]

    def run(self, x: np.ndarray, y: np.ndarray) -> None:
        """Filter ``x`` (batch, channels, n) into ``y`` (batch, channels, n)."""
        n, p, i = x.shape[-1], self.p, 0
        while i < n:
            if self.pos == 0:
                self._start_frame()
            m = min(p - self.pos, n - i)
            self.frame[..., p + self.pos : p + self.pos + m] = x[..., i : i + m]
            spectrum = scipy.fft.rfft(self.frame, axis=-1)
            total = spectrum * self.spectra[None, :, 0]
            total += self.past
            y[..., i : i + m] = scipy.fft.irfft(total, n=2 * p, axis=-1)[..., p + self.pos : p + self.pos + m]
            self.pos += m
            i += m
            if self.pos == p:
                # The frame is whole: its spectrum joins the delay line, and it becomes the previous frame.
                if self.k > 1:
                    self.head = (self.head - 1) % (self.k - 1)
                    self.line[self.head] = spectrum
                self.frame[..., :p] = self.frame[..., p:]
                self.frame[..., p:] = 0
                self.pos = 0
