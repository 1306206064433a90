"""Every WaveNet option of file versions 0.5-0.7 against a plain loop of NeuralAmpModelerCore's formulas.

Random configs (kernel sizes, activations with parameters, gating and
blending, bottleneck, head kernels, head1x1, layer1x1 on and off, groups,
every FiLM slot, a post-stack head, a condition model) with random weights
are run by the engine and by :mod:`core_reference`, which reads the flat
weights in the Core's order on its own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core_reference
import wavedil
from wavedil.errors import SpecError
from wavedil.formats.nam import check_version, parse_nam, to_nam
from wavedil.models.wavenet_flat import ArraySettings, from_flat, seeded_weights

ACTIVATIONS = [
    "Tanh",
    "ReLU",
    "Sigmoid",
    "SiLU",
    "Hardswish",
    "Softsign",
    "Hardtanh",
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.7, "min_slope": 0.05, "max_slope": 0.1},
]


def _weight_count(doc_config: dict) -> int:
    """How many numbers the Core reads for this config: the reference's cursor position on an oversized vector."""
    try:
        core_reference.wavenet({"config": doc_config, "weights": np.zeros(1 << 16)}, np.zeros((1, 1)))
    except AssertionError as exc:
        return exc.args[0][0]
    raise AssertionError("a vector of 65536 weights cannot fit exactly")


@st.composite
def layer_arrays(draw, input_size: int, condition_size: int, first: bool, last: bool, skip_width: int | None):
    n = draw(st.integers(1, 3))
    channels = draw(st.integers(1, 4))
    layer1x1 = draw(st.booleans())
    bottleneck = draw(st.integers(1, 4)) if layer1x1 else channels
    groups_input = draw(st.sampled_from([g for g in (1, 2) if channels % g == 0 and bottleneck % g == 0]))
    modes = [draw(st.sampled_from(["none", "gated", "blended"])) for _ in range(n)]
    head1x1 = draw(st.booleans())
    h1_out = skip_width if (skip_width is not None and head1x1) else draw(st.integers(1, 3))
    if skip_width is not None and not head1x1:
        bottleneck = skip_width  # the skip sum continues at the previous head's width
        if not layer1x1:
            channels = bottleneck
        groups_input = 1
    head_size = 1 if last else draw(st.integers(1, 3))
    arr = {
        "input_size": input_size,
        "condition_size": condition_size,
        "head": {"out_channels": head_size, "kernel_size": draw(st.integers(1, 3)), "bias": draw(st.booleans())},
        "channels": channels,
        "bottleneck": bottleneck,
        "kernel_sizes": [draw(st.integers(1, 4)) for _ in range(n)],
        "dilations": [draw(st.integers(1, 5)) for _ in range(n)],
        "activation": [draw(st.sampled_from(ACTIVATIONS)) for _ in range(n)],
        "gating_mode": modes,
        "secondary_activation": [None if m == "none" else draw(st.sampled_from(ACTIVATIONS)) for m in modes],
        "groups_input": groups_input,
        "groups_input_mixin": 1,
        "layer1x1": {"active": layer1x1, "groups": 1},
        "head1x1": {"active": head1x1, "out_channels": h1_out, "groups": 1},
    }
    for slot in core_reference.FILM_SLOTS:
        if slot == "layer1x1_post_film" and not layer1x1:
            continue
        if slot == "head1x1_post_film" and not head1x1:
            continue
        if draw(st.integers(0, 3)) == 0:
            arr[slot] = {"active": True, "shift": draw(st.booleans()), "groups": 1}
    # Per-channel PReLU on the bottleneck, now and then.
    if draw(st.booleans()):
        arr["activation"][0] = {"type": "PReLU", "negative_slopes": [0.1 * (i + 1) for i in range(bottleneck)]}
    return arr


@st.composite
def wavenet_docs(draw):
    cond_dsp = None
    condition_size = 1
    if draw(st.integers(0, 3)) == 0:
        inner = {"layers": [draw(layer_arrays(1, 1, True, True, None))], "head": None, "head_scale": 0.5}
        inner["layers"][0]["head"]["out_channels"] = condition_size = draw(st.integers(1, 2))
        cond_dsp = {"version": "0.7.0", "architecture": "WaveNet", "config": inner, "sample_rate": 48000}
    n_arrays = draw(st.integers(1, 2))
    arrays, input_size, skip = [], 1, None
    for a in range(n_arrays):
        arr = draw(layer_arrays(input_size, condition_size, a == 0, a == n_arrays - 1, skip))
        arrays.append(arr)
        input_size = arr["channels"]
        skip = arr["head"]["out_channels"]
    config = {"layers": arrays, "head": None, "head_scale": 0.5}
    if draw(st.booleans()):
        config["head"] = {"channels": 2, "out_channels": 1, "kernel_sizes": [draw(st.integers(1, 3)), 2], "activation": "Tanh"}
    if cond_dsp is not None:
        config["condition_dsp"] = cond_dsp
    return config


def _fill(config: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    if "condition_dsp" in config:
        inner = config["condition_dsp"]
        inner["weights"] = list(rng.uniform(-0.7, 0.7, _weight_count(inner["config"])))
    doc = {"version": "0.7.0", "architecture": "WaveNet", "config": config, "sample_rate": 48000}
    doc["weights"] = list(rng.uniform(-0.7, 0.7, _weight_count(config)))
    return json.loads(json.dumps(doc))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=wavenet_docs(), seed=st.integers(0, 2**16))
def test_every_option_matches_the_core_formulas(config, seed):
    doc = _fill(config, seed)
    stack = parse_nam(doc)
    x = np.random.default_rng(seed).normal(0, 0.5, 48)
    got = wavedil.apply(stack, x, dtype=np.float64).reshape(len(x), -1)
    want = core_reference.run(doc, x, stack.receptive_field + 2)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=wavenet_docs(), seed=st.integers(0, 2**16), block=st.integers(1, 17))
def test_every_option_is_block_size_invariant_and_causal(config, seed, block):
    stack = parse_nam(_fill(config, seed))
    x = np.random.default_rng(seed).normal(0, 0.5, 64)
    whole = wavedil.apply(stack, x, dtype=np.float64)
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64, block_size=block), whole, rtol=1e-10, atol=1e-12)
    # Causality and the receptive field: a kick at t - RF + 1 moves y[t], one at t - RF cannot.
    rf, t = stack.receptive_field, 63
    if rf <= t:
        outside = x.copy()
        outside[t - rf] += 1.0
        assert np.array_equal(wavedil.apply(stack, outside, dtype=np.float64)[t], whole[t])
    later = x.copy()
    later[t] += 1.0
    np.testing.assert_array_equal(wavedil.apply(stack, later, dtype=np.float64)[:t], whole[:t])


def _a2_like(max_values=(0.5, 1.0)) -> dict:
    subs = []
    for i, mv in enumerate(max_values):
        channels = 2 + i
        arr = {
            "input_size": 1,
            "condition_size": 1,
            "head": {"out_channels": 1, "kernel_size": 3, "bias": True},
            "channels": channels,
            "kernel_sizes": [3, 2],
            "dilations": [1, 2],
            "activation": [{"type": "LeakyReLU", "negative_slope": 0.01}] * 2,
            "gating_mode": ["none", "none"],
            "secondary_activation": [None, None],
            "bottleneck": channels,
            "layer1x1": {"active": True, "groups": 1},
        }
        config = {"layers": [arr], "head": None, "head_scale": 0.1}
        sub = {"version": "0.7.0", "architecture": "WaveNet", "config": config, "sample_rate": 48000}
        sub["weights"] = list(np.random.default_rng(i).uniform(-0.5, 0.5, _weight_count(config)))
        subs.append({"max_value": mv, "model": sub})
    return {"version": "0.7.0", "architecture": "SlimmableContainer", "config": {"submodels": subs}, "sample_rate": 48000}


def test_container_runs_the_full_size_model_unless_told():
    doc = _a2_like((0.25, 0.5, 1.0))
    full = parse_nam(doc)
    assert [s["active"] for s in full.submodels] == [False, False, True]
    assert full.layers[0].arrays[0].channels == 4
    for size, index in ((0.0, 0), (0.25, 0), (0.3, 1), (0.5, 1), (0.51, 2), (1.0, 2)):
        stack = parse_nam(doc, model_size=size)
        assert [s["active"] for s in stack.submodels].index(True) == index
        x = np.random.default_rng(0).normal(0, 0.5, 50)
        want = core_reference.run(doc["config"]["submodels"][index]["model"], x, 20)
        np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want[:, 0], rtol=1e-10, atol=1e-12)
    report = wavedil.analyze(full)
    assert [s["max_value"] for s in report["submodels"]] == [0.25, 0.5, 1.0]
    assert report["submodels"][1]["parameters"] < report["submodels"][2]["parameters"]
    assert "submodel 0.5" in wavedil.render(report)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["config"]["submodels"].reverse(), "ascending max_value"),
        (lambda d: d["config"]["submodels"][-1].update(max_value=0.9), "at least 1"),
        (lambda d: d["config"].update(submodels=[]), "non-empty"),
        (lambda d: d["config"]["submodels"][0]["model"].update(version="0.9.0"), r"submodels\[0\]\.model\.version"),
        (lambda d: d["config"]["submodels"][0]["model"].update(architecture="SlimmableContainer"), "cannot hold a container"),
    ],
)
def test_bad_containers_name_the_field(mutate, message):
    doc = _a2_like()
    mutate(doc)
    with pytest.raises(SpecError, match=message):
        parse_nam(doc)


@pytest.mark.parametrize("version", ["0.5.0", "0.5.4", "0.6.0", "0.7.0", "0.7.12"])
def test_versions_read(version):
    assert check_version(version) == version


@pytest.mark.parametrize("version", ["0.4.9", "0.8.0", "1.0.0", "banana", "0.7", "0.7.0-beta", 7, None])
def test_versions_refused_name_the_version(version):
    with pytest.raises(SpecError, match="unsupported file version"):
        check_version(version)


def test_layer1x1_post_film_applies_in_blended_layers_only():
    """The Core reads layer1x1_post_film's weights in every mode but applies it only when blended."""

    def doc(mode: str, film_weight: float) -> dict:
        arr = {
            "input_size": 1, "condition_size": 1, "head": {"out_channels": 1, "kernel_size": 1, "bias": False},
            "channels": 1, "kernel_sizes": [1, 1], "dilations": [1, 1], "activation": ["Tanh"] * 2, "gating_mode": [mode] * 2,
            "secondary_activation": [None if mode == "none" else "Sigmoid"] * 2,
            "layer1x1_post_film": {"active": True, "shift": False, "groups": 1},
        }  # fmt: skip
        mid = 1 if mode == "none" else 2
        # Per layer: conv (mid taps, mid biases), mixin (mid), layer1x1 (weight, bias), the FiLM (weight, bias).
        layer = [0.5] * mid + [0.0] * mid + [0.3] * mid + [2.0, 0.0] + [film_weight, 0.0]
        weights = [1.0] + layer * 2 + [1.0] + [1.0]  # rechannel, two layers, head, head_scale
        return {"version": "0.7.0", "architecture": "WaveNet", "config": {"layers": [arr], "head": None, "head_scale": 1.0}, "weights": weights}

    x = np.linspace(-1, 1, 9)
    for mode in ("none", "gated"):
        a = wavedil.apply(parse_nam(doc(mode, 3.0)), x, dtype=np.float64)
        b = wavedil.apply(parse_nam(doc(mode, -5.0)), x, dtype=np.float64)
        np.testing.assert_array_equal(a, b)  # the FiLM's weights change nothing
    a = wavedil.apply(parse_nam(doc("blended", 3.0)), x, dtype=np.float64)
    b = wavedil.apply(parse_nam(doc("blended", -5.0)), x, dtype=np.float64)
    assert not np.allclose(a, b)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _documents() -> list[dict]:
    from wavedil.models.lstm import weight_count

    a2 = _a2_like()
    lstm = {
        "version": "0.7.0", "architecture": "LSTM", "config": {"input_size": 1, "hidden_size": 2, "num_layers": 1},
        "weights": [0.1] * weight_count(1, 1, 2, 1), "sample_rate": 48000,
    }  # fmt: skip
    convnet = {
        "version": "0.5.4", "architecture": "ConvNet",
        "config": {"channels": 2, "dilations": [1, 2], "batchnorm": False, "activation": "Tanh"},
    }  # fmt: skip
    # Two blocks (first 1->2: 2*1*2 + 2; second 2->2: 2*2*2 + 2), then the head 2 + 1.
    convnet["weights"] = [0.1] * (6 + 10 + 3)
    cond = a2["config"]["submodels"][0]["model"]
    wavenet = json.loads(json.dumps(a2["config"]["submodels"][1]["model"]))
    wavenet["config"]["condition_dsp"] = json.loads(json.dumps(cond))
    wavenet["config"]["layers"][0]["condition_size"] = 1
    # A WaveNet written by wavedil's own writer from a spec (the 0.7 layout of the 0.5 keys).
    settings = [ArraySettings(1, 1, 2, 2, (1, 2), "tanh", True, 1, True)]
    written = to_nam(from_flat(settings, seeded_weights(settings, 0), 1.0))
    return [a2, lstm, convnet, wavenet, written]


PATH_KEYS = st.sampled_from(
    ["config", "layers", "submodels", "model", "condition_dsp", 0, 1, "channels", "dilations", "kernel_sizes", "weights",
     "activation", "head", "head_scale", "architecture", "version", "gating_mode", "secondary_activation", "bottleneck",
     "layer1x1", "head1x1", "active", "groups", "groups_input", "max_value", "hidden_size", "num_layers", "input_size",
     "batchnorm", "sample_rate", "out_channels", "kernel_size", "negative_slope", "type", "conv_pre_film", "shift"]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 4), path=st.lists(PATH_KEYS, min_size=1, max_size=6), value=JSONISH, size=st.none() | st.floats(0, 1))
def test_hostile_documents_raise_only_spec_errors(which, path, value, size):
    """Any value at any place of a valid document of each architecture: a SpecError or a model, nothing else."""
    doc = _documents()[which]
    node = doc
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    try:
        node[path[-1]] = value
    except (TypeError, IndexError):
        pass
    try:
        stack = parse_nam(doc, model_size=size)
    except SpecError:
        return
    wavedil.apply(stack, np.zeros(8), dtype=np.float64)


def test_the_fuzzed_documents_are_valid_to_begin_with():
    for doc in _documents():
        stack = parse_nam(doc)
        assert np.all(np.isfinite(wavedil.apply(stack, np.ones(16), dtype=np.float64)))


def test_texts_a_terminal_cannot_print_are_replaced():
    doc = {
        "version": "0.5.4", "architecture": "Linear", "config": {"receptive_field": 2, "bias": False}, "weights": [1.0, 0.5],
        "metadata": {"name": "amp\ud800", "gear_make": "\udfff", "gear_model": "x\x1b]0;owned\x07\ny"},
    }  # fmt: skip
    stack = parse_nam(json.loads(json.dumps(doc)))
    text = wavedil.render(wavedil.analyze(stack))
    text.encode("utf-8")  # a lone surrogate would raise here, and in click.echo
    assert stack.name == "amp?" and stack.metadata["gear_make"] == "?"
    # An escape sequence (here one that retitles the terminal) or a line break never reaches the terminal.
    assert stack.metadata["gear_model"] == "x?]0;owned??y" and "\x1b" not in text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=wavenet_docs(), seed=st.integers(0, 2**16))
def test_every_offset_the_output_hears_is_in_the_coverage(config, seed):
    """Coverage is a structural superset of what the engine hears (a FiLM before the conv brings the condition to every tap)."""
    from wavedil.coverage import coverage

    stack = parse_nam(_fill(config, seed))
    rf = stack.receptive_field
    reached = coverage(stack).reached
    x = np.random.default_rng(seed).normal(0, 0.5, 2 * rf + 1)
    t = len(x) - 1
    base = wavedil.apply(stack, x, dtype=np.float64)[t]
    for offset in range(rf):
        kicked = x.copy()
        kicked[t - offset] += 0.5
        if not np.array_equal(wavedil.apply(stack, kicked, dtype=np.float64)[t], base):
            assert reached[offset], f"the output hears offset {offset}, which the coverage graph misses"
