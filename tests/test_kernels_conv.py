"""The compiled plain convolution (wavedil.kernels.conv) against the NumPy engine, a plain loop and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

import wavedil  # noqa: E402
from wavedil.activations import Activation  # noqa: E402
from wavedil.conv import ConvRunner, MonoChain  # noqa: E402
from wavedil.engine import StreamingFilter  # noqa: E402
from wavedil.engines import Engine  # noqa: E402
from wavedil.spec import stack_from_dilations  # noqa: E402
from wavedil.stack import Conv1d, Stack  # noqa: E402

NUMBA = Engine("numba")
#: Computed in the kernel, then some NumPy applies after it (gelu, softsign), parametrized ones and a PReLU.
ACTIVATIONS = [
    "linear",
    "tanh",
    "relu",
    "sigmoid",
    "hardtanh",
    "leaky_relu",
    "gelu",
    "softsign",
    Activation("leaky_relu", {"negative_slope": 0.3}),
    Activation("prelu", {"negative_slope": -0.5}),
    Activation("leaky_hardtanh", {"min_val": -0.5, "max_val": 0.7, "min_slope": 0.1, "max_slope": 0.2}),
]


def filtered(stack: Stack, x: np.ndarray, engine: str | Engine, block: int, pieces: list[int], *, fast: bool = False, dtype=np.float32) -> np.ndarray:
    """``x`` (n, channels) through a StreamingFilter fed in ``pieces`` (the rest in one), blocks of ``block``."""
    f = StreamingFilter(stack, x.shape[1], dtype=dtype, block_size=block, engine=engine, fast_tanh=fast)
    out, start = [], 0
    for n in pieces + [len(x)]:
        out.append(f.process(x[start : start + n]))
        start = min(start + n, len(x))
    return np.concatenate(out + [f.flush()])


@st.composite
def stacks(draw: st.DrawFn) -> Stack:
    """One to three layers with random kernel sizes, dilations (some longer than the blocks), channels and activations."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    channels = [draw(st.integers(1, 8)) for _ in range(draw(st.integers(2, 4)))]
    layers = []
    for c_in, c_out in zip(channels, channels[1:]):
        k = draw(st.integers(1, 6))
        layers.append(
            Conv1d(
                weights=rng.normal(0, 1.0 / np.sqrt(c_in * k), (c_out, c_in, k)),
                bias=rng.normal(0, 0.3, c_out) if draw(st.booleans()) else np.zeros(c_out),
                dilation=draw(st.sampled_from([1, 2, 3, 7, 40, 300])),
                activation=draw(st.sampled_from(ACTIVATIONS)),
            )
        )
    return Stack(layers=tuple(layers))


@settings(max_examples=40, deadline=None)
@given(
    stack=stacks(),
    block=st.sampled_from([1, 7, 64, 333, 5000]),
    pieces=st.lists(st.integers(0, 700), max_size=4),
    fast=st.booleans(),
)
def test_engines_agree(stack, block, pieces, fast):
    x = np.random.default_rng(len(pieces)).normal(0, 0.5, (1500, stack.in_channels)).astype(np.float32)
    want = filtered(stack, x, "numpy", 4096, [], fast=fast)
    got = filtered(stack, x, "numba", block, pieces, fast=fast)
    assert np.max(np.abs(got - want)) <= 1e-5 * max(np.max(np.abs(want)), 1e-3)


def test_layers_report_their_engine():
    rng = np.random.default_rng(0)
    wide = Conv1d(rng.normal(size=(32, 16, 3)), np.zeros(32), 2, "tanh")
    stack = Stack(
        layers=(
            Conv1d(rng.normal(size=(1, 1, 2)), 0.0, 1),
            Conv1d(rng.normal(size=(1, 1, 3)), 0.1, 4, "tanh"),
            Conv1d(rng.normal(size=(16, 1, 2)), np.zeros(16), 1),
            Conv1d(rng.normal(size=(16, 16, 3)), np.zeros(16), 1, "relu"),
            wide,
            Conv1d(rng.normal(size=(1, 32, 1)), 0.0, 1),
        )
    )
    f = StreamingFilter(stack, 1, engine="numba")
    # The first two run as one chain; the 32x16 layer stays with BLAS (see wavedil.conv._compiled_pays).
    assert isinstance(f._runners[0], MonoChain)
    assert f.layer_engines == ["numba", "numba", "numba", "numba", "numpy", "numba"]
    assert StreamingFilter(stack, 1, engine="numpy").layer_engines == ["numpy"] * 6


def test_gain_in_is_folded_into_the_taps():
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(3, 2, 4)), rng.normal(size=3)
    x = rng.normal(size=(2, 2, 900))
    plain = ConvRunner(w, b, 5, "tanh", 2, np.dtype(np.float64), 900, engine=NUMBA)
    scaled = ConvRunner(w, b, 5, "tanh", 2, np.dtype(np.float64), 900, 4.0, engine=NUMBA)
    assert plain.engine == scaled.engine == "numba"
    want, got = np.empty((2, 3, 900)), np.empty((2, 3, 900))
    plain.run(x, want)
    scaled.run(x / 4.0, got)
    assert np.max(np.abs(got - want)) < 1e-12


def dilated_loop(x: np.ndarray, taps: list[float], d: int) -> np.ndarray:
    """``y[t] = sum_j taps[j] * x[t - j*d]``, silence before the start, in float64."""
    y = np.zeros(len(x))
    for t in range(len(x)):
        for j, w in enumerate(taps):
            if t - j * d >= 0:
                y[t] += w * x[t - j * d]
    return y


@pytest.mark.parametrize("block", [1, 37, 4096])
def test_fused_linear_chain_is_the_dilated_sum(block):
    from scipy.signal import convolve, lfilter

    rng = np.random.default_rng(2)
    taps = [[0.7, -0.4], [1.2, 0.5, -0.3], [0.25, 0.25, 0.25, 0.25], [-0.9, 0.6]]
    dilations = [1, 3, 50, 1200]
    stack = Stack(layers=tuple(Conv1d(np.array(t)[None, None], 0.0, d) for t, d in zip(taps, dilations)))
    x = rng.normal(size=3000)
    f = StreamingFilter(stack, 1, dtype=np.float64, block_size=block, engine="numba")
    assert [type(r) for r in f._runners] == [MonoChain]
    got = f.process(x[:, None])[:, 0]
    want = x
    for t, d in zip(taps, dilations):
        want = dilated_loop(want, t, d)
    assert np.max(np.abs(got - want)) < 1e-12 * np.max(np.abs(want)) * 100
    fir = [1.0]
    for t, d in zip(taps, dilations):
        dilated = np.zeros((len(t) - 1) * d + 1)
        dilated[::d] = t
        fir = convolve(fir, dilated)
    assert np.max(np.abs(lfilter(fir, [1.0], x) - got)) < 1e-10
    assert np.max(np.abs(convolve(x, fir)[: len(x)] - got)) < 1e-10


def test_moving_average_float32():
    """W1's shape: the 2**13-sample moving average, long dilations read from the rings in small blocks."""
    stack = stack_from_dilations([2**i for i in range(13)], kernel_size=2)
    x = np.random.default_rng(3).normal(size=20000).astype(np.float32)
    got = wavedil.apply(stack, x, engine="numba", block_size=300)
    want = np.convolve(x.astype(np.float64), np.full(8192, 1 / 8192))[: len(x)]
    assert np.max(np.abs(got - want)) < 1e-5 * np.max(np.abs(want))
    assert np.array_equal(got, wavedil.apply(stack, x, engine="numba"))


def test_long_dilation_in_short_blocks():
    """A history far longer than the block (2**14 against 64): the ring is written 64 samples at a time."""
    rng = np.random.default_rng(4)
    stack = Stack(layers=(Conv1d(rng.normal(size=(2, 1, 3)), rng.normal(size=2), 2**14, "tanh"), Conv1d(rng.normal(size=(1, 2, 2)), 0.0, 2**13)))
    x = rng.normal(size=(70000, 1)).astype(np.float32)
    want = filtered(stack, x, "numpy", 4096, [])
    got = filtered(stack, x, "numba", 64, [1000, 1])
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))
