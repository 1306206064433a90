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


@pytest.mark.parametrize("padding", ["causal", "same"])
def test_joint_channels_equal_the_loop(padding):
    x = signal(257, channels=2, seed=3)
    stack = parse_spec({"padding": padding, "layers": JOINT})
    assert stack.in_channels == 2 and stack.out_channels == 2
    want = stack_loop(JOINT, x, padding)
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wavedil.apply(stack, x), want, rtol=1e-5, atol=2e-6)


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


# -- the reference itself, on values worked out by hand ----------------------------------


def test_the_reference_on_hand_computed_values():
    # y[t] = 0.5 x[t] + 0.3 x[t-2] + 0.2 x[t-4]
    impulse = np.array([[1.0], [0], [0], [0], [0], [0]])
    assert stack_loop([{"dilation": 2, "weights": [0.5, 0.3, 0.2]}], impulse)[:, 0].tolist() == [0.5, 0.0, 0.3, 0.0, 0.2, 0.0]
    # Silence before t = 0 is the steady state: layer 1 outputs relu(0.5) forever, which layer 2 sees as its past.
    layers = [{"dilation": 1, "weights": [1.0, 1.0], "bias": 0.5, "activation": "relu"}, {"dilation": 1, "weights": [1.0, -2.0]}]
    assert stack_loop(layers, np.zeros((2, 1)))[:, 0].tolist() == [0.5 - 1.0, 0.5 - 1.0]
    # x = [2, 0]: layer 1 gives relu(0.5 + 2 + 0) = 2.5, relu(0.5 + 0 + 2) = 2.5; layer 2: 2.5 - 2*0.5, 2.5 - 2*2.5.
    assert stack_loop(layers, np.array([[2.0], [0.0]]))[:, 0].tolist() == [1.5, -2.5]
    # [out][in][k]: out0 = x0[t] + 10 x1[t-1], out1 = -x0[t-1]
    joint = [{"dilation": 1, "weights": [[[1.0, 0.0], [0.0, 10.0]], [[0.0, -1.0], [0.0, 0.0]]], "bias": [0.0, 1.0]}]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert stack_loop(joint, x).tolist() == [[1.0, 1.0], [23.0, 0.0]]
    # same: RF 5, shifted 2 earlier, silence after the input.
    same = stack_loop([{"dilation": 2, "weights": [0.5, 0.3, 0.2]}], impulse, "same")[:, 0]
    np.testing.assert_allclose(same, [0.3, 0.0, 0.2, 0.0, 0.0, 0.0])
    assert stack_loop([{"dilation": 1, "weights": [0.0], "bias": 0.0, "activation": "sigmoid"}], np.zeros((1, 1)))[0, 0] == 0.5
    assert stack_loop([{"dilation": 1, "weights": [1.0], "activation": "tanh"}], np.ones((1, 1)))[0, 0] == pytest.approx(np.tanh(1.0))


def test_the_same_rule_with_a_nonlinear_steady_state():
    # same = causal output of the input followed by silence, shifted (RF-1)//2 earlier: check it on the engine directly.
    x = signal(40, seed=9)
    causal = parse_spec({"layers": MONO_NONLINEAR})
    same = causal.replace(padding="same")
    look = same.lookahead
    assert look == (causal.receptive_field - 1) // 2 == 8
    padded = wavedil.apply(causal, np.concatenate([x, np.zeros((look, 1))]), dtype=np.float64)
    np.testing.assert_allclose(wavedil.apply(same, x, dtype=np.float64), padded[look:], rtol=1e-13, atol=1e-14)


WIDER_INSIDE = [
    {"dilation": 1, "weights": [[[0.8, -0.3]], [[0.2, 0.5]], [[-0.6, 0.4]]], "bias": [0.1, 0.2, -0.3], "activation": "sigmoid"},
    {"dilation": 3, "weights": [[[0.5, 0.1, -0.2], [0.3, 0.3, 0.3], [-0.4, 0.2, 0.6]]], "bias": 0.1, "activation": "tanh"},
]


@pytest.mark.parametrize("padding", ["causal", "same"])
def test_a_mono_stack_with_wider_inner_layers_runs_per_channel(padding):
    stack = parse_spec({"padding": padding, "layers": WIDER_INSIDE})
    assert stack.is_mono and stack.receptive_field == 8
    x = signal(300, channels=2, seed=6)
    want = np.hstack([stack_loop(WIDER_INSIDE, x[:, c : c + 1], padding) for c in range(2)])
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wavedil.apply(stack, x), want, rtol=1e-5, atol=2e-6)


def test_a_one_to_many_layer_on_a_mono_signal():
    layers = [{"dilation": 2, "weights": [[[0.5, 0.2]], [[0.1, -0.3]]], "bias": [0.2, 0.0], "activation": "relu"}]
    x = signal(50, seed=8)
    got = wavedil.apply(parse_spec({"layers": layers}), x[:, 0], dtype=np.float64)
    assert got.shape == (50, 2)
    np.testing.assert_allclose(got, stack_loop(layers, x), rtol=1e-12, atol=1e-12)


def test_float32_by_default_float64_on_request():
    stack = parse_spec({"layers": MONO_NONLINEAR})
    x = signal(100, seed=10)
    assert wavedil.apply(stack, x).dtype == np.float32
    assert wavedil.apply(stack, x.astype(np.float32), dtype=np.float64).dtype == np.float64
    assert wavedil.apply(stack, x[:, 0]).shape == (100,)
    with pytest.raises(wavedil.WavedilError, match="float32 or float64"):
        wavedil.apply(stack, x, dtype=np.float16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [None, 1, 3, 15, 16, 1000])
def test_the_moving_average_is_exact_on_dyadic_samples(dtype, block_size):
    # Samples that are multiples of 2**-10 below 1: every partial sum and the final /16 are
    # exact in float32 too, so any rounding the engine added would show as a difference.
    x = np.random.default_rng(11).integers(-1000, 1000, 2000) / 1024
    stack = stack_from_dilations([1, 2, 4, 8], kernel_size=2)
    padded = np.concatenate([np.zeros(15), x])
    want = np.array([padded[t : t + 16].sum() for t in range(len(x))]) / 16
    got = wavedil.apply(stack, x.astype(dtype), dtype=dtype, block_size=block_size)
    assert got.dtype == dtype and np.array_equal(got, want.astype(dtype))


# -- properties over several channels -----------------------------------------------------


def _joint_layers(draw, channels: int, n_layers: int) -> list[dict]:
    layers, c_in = [], channels
    for i in range(n_layers):
        c_out = channels if i == n_layers - 1 else draw(st.integers(1, 3))
        k = draw(st.integers(1, 3))
        w = draw(st.lists(st.floats(-1.0, 1.0), min_size=c_out * c_in * k, max_size=c_out * c_in * k))
        layers.append(
            {
                "dilation": draw(st.integers(1, 6)),
                "weights": np.reshape(w, (c_out, c_in, k)).tolist(),
                "bias": draw(st.lists(st.floats(-0.5, 0.5), min_size=c_out, max_size=c_out)),
                "activation": draw(st.sampled_from(["linear", "tanh", "relu", "sigmoid"])),
            }
        )
        c_in = c_out
    return layers


@st.composite
def joint_stacks(draw):
    channels = draw(st.integers(2, 3))
    return channels, _joint_layers(draw, channels, draw(st.integers(1, 3)))


@settings(max_examples=40, deadline=None)
@given(spec=joint_stacks(), t=st.integers(0, 60), seed=st.integers(0, 2**16))
def test_causality_with_joint_channels(spec, t, seed):
    channels, layers = spec
    stack = parse_spec({"layers": layers})
    x = signal(80, channels, seed=seed)
    changed = x.copy()
    changed[t + 1 :] += np.random.default_rng(seed + 1).normal(0.0, 3.0, (80 - t - 1, channels))
    a = wavedil.apply(stack, x, dtype=np.float64)
    b = wavedil.apply(stack, changed, dtype=np.float64)
    assert np.array_equal(a[: t + 1], b[: t + 1])


@settings(max_examples=50, deadline=None)
@given(
    spec=joint_stacks(),
    per_channel=st.booleans(),
    cuts=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    block_size=st.one_of(st.just(1), st.integers(1, 50)),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_block_size_invariance_in_float32_and_with_channels(spec, per_channel, cuts, block_size, same, seed):
    channels, layers = spec
    if per_channel:
        # A mono stack over every channel of the file alone: collapse the drawn stack to 1 -> 1.
        layers = [{**l, "weights": np.asarray(l["weights"])[:1, :1].tolist(), "bias": l["bias"][:1]} for l in layers]
    stack = parse_spec({"padding": "same" if same else "causal", "layers": layers})
    x = signal(sum(cuts), channels, seed=seed)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        whole = wavedil.apply(stack, x, dtype=dtype)
        f = StreamingFilter(stack, channels, dtype=dtype, block_size=block_size)
        parts, start = [], 0
        for n in cuts:
            parts.append(f.process(x[start : start + n]))
            start += n
        parts.append(f.flush())
        got = np.concatenate(parts)
        assert got.shape == whole.shape == (len(x), channels)
        np.testing.assert_allclose(got, whole, rtol=tol, atol=tol)
    if not per_channel:
        np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), stack_loop(layers, x, stack.padding), rtol=1e-9, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    dilations=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    kernel=st.integers(2, 4),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_receptive_field_of_linear_stacks_is_exact(dilations, kernel, same, seed):
    # Linear stacks with nonzero taps: the oldest input reaches the output with weight
    # prod(w_last), so it changes y[t] (causal) or y[t - lookahead] (same); one older does not.
    rng = np.random.default_rng(seed)
    layers = [{"dilation": d, "weights": (rng.uniform(0.3, 1.0, kernel) * rng.choice([-1, 1], kernel)).tolist()} for d in dilations]
    stack = parse_spec({"padding": "same" if same else "causal", "layers": layers})
    rf = stack.receptive_field
    n = rf + 20
    t = n - 1 - stack.lookahead  # the output sample whose window ends at the last input
    x = rng.normal(0.0, 0.3, (n, 1))
    base = wavedil.apply(stack, x, dtype=np.float64)[t, 0]
    inside, outside = x.copy(), x.copy()
    inside[n - rf] += 0.5
    outside[n - rf - 1] += 0.5
    assert wavedil.apply(stack, inside, dtype=np.float64)[t, 0] != base
    assert wavedil.apply(stack, outside, dtype=np.float64)[t, 0] == base


def test_default_block_sizes_follow_the_buffer_budgets():
    from wavedil.engine import CONV_BLOCK_BYTES, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, WAVENET_BLOCK_BYTES, block_size_for

    assert block_size_for(stack_from_dilations([1, 2, 4, 8], kernel_size=2)) == MAX_BLOCK_SIZE  # mono: no buffer is wide
    wide = parse_spec({"layers": [{"dilation": 1, "weights": np.full((2, 2, 3), 0.1).tolist()}]})
    # 2 channels x 3 taps = 6 rows: 2048 is the longest power of two within the budget.
    assert block_size_for(wide) == 2048 and 2048 * 6 * 4 <= CONV_BLOCK_BYTES < 4096 * 6 * 4
    # The W3 shape: 2 taps x 32 channels + condition + bias = 66 rows of float32.
    assert block_size_for(wavedil.preset("wavenet")) == 4096 and 4096 * 66 * 4 <= WAVENET_BLOCK_BYTES < 8192 * 66 * 4
    huge = parse_spec({"layers": [{"dilation": 1, "weights": np.full((512, 512, 3), 0.001).tolist()}]})
    assert block_size_for(huge) == MIN_BLOCK_SIZE
