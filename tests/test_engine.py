"""The engine against the formula: a plain loop, scipy.signal.lfilter, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

import wavedil
from wavedil.engine import StreamingFilter
from wavedil.spec import parse_spec, stack_from_dilations

from reference import dense_kernel, stack_loop

MONO_LINEAR = [
    {"dilation": 2, "weights": [0.5, 0.3, 0.2]},
    {"dilation": 4, "weights": [0.5, 0.3, 0.2]},
    {"dilation": 1, "weights": [1.5, -0.7]},
]
MONO_NONLINEAR = [
    {"dilation": 1, "weights": [0.9, -0.4, 0.3], "bias": 0.2, "activation": "tanh"},
    {"dilation": 3, "weights": [0.7, 0.6], "bias": -0.1, "activation": "relu"},
    {"dilation": 5, "weights": [1.2, -0.8, 0.1], "bias": 0.3, "activation": "sigmoid"},
    {"dilation": 2, "weights": [2.0, -1.0], "bias": -0.5},
]
JOINT = [
    {"dilation": 1, "weights": [[[0.6, 0.2], [0.1, -0.3]], [[-0.2, 0.4], [0.5, 0.1]], [[0.3, 0.3], [0.3, 0.3]]], "bias": [0.1, -0.2, 0.05], "activation": "tanh"},
    {"dilation": 4, "weights": [[[0.5, 0.2, 0.1], [0.3, -0.1, 0.0], [0.2, 0.2, 0.2]], [[-0.4, 0.1, 0.3], [0.6, 0.0, -0.2], [0.1, -0.1, 0.1]]], "bias": [0.0, 0.3], "activation": "relu"},
    {"dilation": 2, "weights": [[[1.0, -0.5], [0.2, 0.1]], [[0.3, 0.3], [0.9, -0.2]]]},
]


def signal(n: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.5, (n, channels))


@pytest.mark.parametrize("padding", ["causal", "same"])
@pytest.mark.parametrize("layers", [MONO_LINEAR, MONO_NONLINEAR], ids=["linear", "nonlinear"])
def test_mono_stack_equals_the_loop(layers, padding):
    x = signal(300)
    want = stack_loop(layers, x, padding)
    stack = parse_spec({"padding": padding, "layers": layers})
    got64 = wavedil.apply(stack, x, dtype=np.float64)
    got32 = wavedil.apply(stack, x)
    assert got64.shape == x.shape and got32.dtype == np.float32
    np.testing.assert_allclose(got64, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got32, want, rtol=1e-5, atol=2e-6)


def test_a_biased_layer_starts_from_its_steady_state_not_zeros():
    # tanh(0.2) feeds the next layer's past: the first output sample shows it.
    layers = MONO_NONLINEAR[:2]
    x = np.zeros((4, 1))
    got = wavedil.apply(parse_spec({"layers": layers}), x, dtype=np.float64)
    first = np.tanh(0.2)
    steady = max(0.0, -0.1 + (0.7 + 0.6) * first)
    np.testing.assert_allclose(got[:, 0], [steady] * 4, rtol=1e-14)


def test_joint_channels_equal_the_loop():
    x = signal(257, channels=2, seed=3)
    stack = parse_spec({"layers": JOINT})
    assert stack.in_channels == 2 and stack.out_channels == 2
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), stack_loop(JOINT, x), rtol=1e-12, atol=1e-12)


def test_a_mono_stack_runs_over_every_channel_alone():
    x = signal(400, channels=3, seed=4)
    stack = parse_spec({"layers": MONO_NONLINEAR})
    got = wavedil.apply(stack, x, dtype=np.float64)
    for ch in range(3):
        np.testing.assert_allclose(got[:, ch], stack_loop(MONO_NONLINEAR, x[:, ch : ch + 1])[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["causal", "same"])
def test_linear_stack_equals_lfilter_with_the_dense_kernel(padding):
    x = signal(5000, seed=1)[:, 0]
    stack = parse_spec({"padding": padding, "layers": MONO_LINEAR})
    h = dense_kernel(MONO_LINEAR)
    assert len(h) == stack.receptive_field == 14
    look = stack.lookahead
    want = lfilter(h, [1.0], np.concatenate([x, np.zeros(look)]))[look:]
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wavedil.apply(stack, x), want, rtol=1e-5, atol=1e-6)


def test_kernel_2_dilations_1_2_4_8_is_the_16_sample_moving_average():
    x = signal(3000, seed=2)[:, 0]
    stack = stack_from_dilations([1, 2, 4, 8], kernel_size=2)
    assert stack.receptive_field == 16
    want = lfilter(np.full(16, 1 / 16), [1.0], x)
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want, rtol=1e-13, atol=1e-15)
    # Taps of 1/2 are exact in binary: float32 differs from the float64 sum by rounding only.
    np.testing.assert_allclose(wavedil.apply(stack, x.astype(np.float32)), want, rtol=1e-6, atol=1e-6)


def test_receptive_fields_3_7_15():
    stack = stack_from_dilations([1, 2, 4], kernel_size=3)
    assert stack.receptive_field == 15
    fields = np.cumsum([0] + [(3 - 1) * d for d in (1, 2, 4)])[1:] + 1
    assert fields.tolist() == [3, 7, 15]
    report = wavedil.analyze(stack, 48000)
    assert [layer["receptive_field"] for layer in report["layers"]] == [3, 7, 15]
    assert report["receptive_field"] == 15 and report["receptive_field_ms"] == pytest.approx(15 / 48)


def test_empty_and_short_inputs():
    stack = parse_spec({"padding": "same", "layers": MONO_NONLINEAR})
    assert wavedil.apply(stack, np.zeros(0)).shape == (0,)
    x = signal(3)
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), stack_loop(MONO_NONLINEAR, x, "same"), rtol=1e-12, atol=1e-12)


# -- properties -----------------------------------------------------------------------


layer_strategy = st.fixed_dictionaries(
    {
        "dilation": st.integers(1, 9),
        "weights": st.lists(st.floats(-1.5, 1.5).filter(lambda v: abs(v) > 0.05), min_size=1, max_size=4),
        "bias": st.floats(-0.5, 0.5),
        "activation": st.sampled_from(["linear", "tanh", "relu", "sigmoid"]),
    }
)


@settings(max_examples=60, deadline=None)
@given(layers=st.lists(layer_strategy, min_size=1, max_size=4), t=st.integers(0, 150), seed=st.integers(0, 2**16))
def test_causality(layers, t, seed):
    stack = parse_spec({"layers": layers})
    x = signal(200, seed=seed)
    changed = x.copy()
    changed[t + 1 :] = np.random.default_rng(seed + 1).normal(0.0, 5.0, (200 - t - 1, 1))
    a = wavedil.apply(stack, x, dtype=np.float64)
    b = wavedil.apply(stack, changed, dtype=np.float64)
    assert np.array_equal(a[: t + 1], b[: t + 1])


@settings(max_examples=60, deadline=None)
@given(
    dilations=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    kernel=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_receptive_field_is_exact(dilations, kernel, seed):
    rng = np.random.default_rng(seed)
    # Nonzero taps, a nonlinearity: the oldest input still reaches the output, one older does not.
    layers = [
        {"dilation": d, "weights": (rng.uniform(0.3, 1.0, kernel) * rng.choice([-1, 1], kernel)).tolist(), "bias": 0.1, "activation": "tanh"}
        for d in dilations
    ]
    stack = parse_spec({"layers": layers})
    rf = stack.receptive_field
    assert rf == 1 + sum((kernel - 1) * d for d in dilations)
    n = rf + 20
    t = n - 1
    x = rng.normal(0.0, 0.3, (n, 1))
    base = wavedil.apply(stack, x, dtype=np.float64)[t, 0]
    inside, outside = x.copy(), x.copy()
    inside[t - rf + 1] += 0.5
    outside[t - rf] += 0.5
    assert wavedil.apply(stack, inside, dtype=np.float64)[t, 0] != base
    assert wavedil.apply(stack, outside, dtype=np.float64)[t, 0] == base


@settings(max_examples=50, deadline=None)
@given(
    layers=st.lists(layer_strategy, min_size=1, max_size=4),
    cuts=st.lists(st.integers(1, 80), min_size=1, max_size=8),
    block_size=st.integers(1, 70),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_block_size_and_chunking_do_not_change_the_output(layers, cuts, block_size, same, seed):
    stack = parse_spec({"padding": "same" if same else "causal", "layers": layers})
    x = signal(sum(cuts), seed=seed)
    assume(len(x) > 0)
    whole = wavedil.apply(stack, x, dtype=np.float64)
    f = StreamingFilter(stack, 1, dtype=np.float64, block_size=block_size)
    parts, start = [], 0
    for n in cuts:
        parts.append(f.process(x[start : start + n]))
        start += n
    parts.append(f.flush())
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-12)


def test_a_long_chain_of_small_first_taps_stays_in_range():
    # 72 layers whose first tap is 0.25: their product, 1e-43, is below float32's range,
    # yet each layer has unit gain at DC and the output stays of the input's size.
    dilations = [1, 2, 4, 8] * 18
    stack = stack_from_dilations(dilations, taps=[0.25, 0.75])
    x = signal(2000, seed=5)[:, 0]
    want = lfilter(dense_kernel([{"dilation": d, "weights": [0.25, 0.75]} for d in dilations]), [1.0], x)
    got = wavedil.apply(stack, x)
    assert np.all(np.isfinite(got)) and np.max(np.abs(want)) > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want, rtol=1e-9, atol=1e-12)
