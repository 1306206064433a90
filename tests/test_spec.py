"""Stack specs: the documented forms, the checks that name layer and field, presets, shorthand."""

from __future__ import annotations

import json

import numpy as np
import pytest

import wavedil
from wavedil.spec import DEFAULT_PRESET, PRESETS, load_spec, parse_spec, stack_from_dilations, to_toml

ISSUE_FORM = """\
padding = "causal"            # or "same"
[[layers]]
dilation = 2
weights = [0.5, 0.3, 0.2]     # mono taps; kernel_size is len(weights), or given and checked
bias = 0.0                    # optional, default 0
activation = "linear"         # optional: linear | tanh | relu | sigmoid
"""


def test_the_documented_toml_form_as_written(tmp_path):
    path = tmp_path / "stack.toml"
    path.write_text(ISSUE_FORM)
    stack = load_spec(path)
    (layer,) = stack.layers
    assert stack.padding == "causal" and layer.dilation == 2 and layer.kernel_size == 3
    assert layer.weights[0, 0].tolist() == [0.5, 0.3, 0.2] and layer.activation == "linear"
    assert stack.receptive_field == 5
    # y[t] = 0.5 x[t] + 0.3 x[t-2] + 0.2 x[t-4]
    y = wavedil.apply(stack, np.array([1.0, 0, 0, 0, 0, 0]), dtype=np.float64)
    assert y.tolist() == [0.5, 0.0, 0.3, 0.0, 0.2, 0.0]


def test_json_and_toml_share_one_schema(tmp_path):
    doc = {"padding": "same", "layers": [{"dilation": 2, "weights": [0.5, 0.3, 0.2], "bias": 0.1, "activation": "tanh"}, {"dilation": 4, "kernel_size": 2, "weights": [1.0, -1.0]}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    (tmp_path / "s.toml").write_text(to_toml(parse_spec(doc)))
    a, b = load_spec(tmp_path / "s.json"), load_spec(tmp_path / "s.toml")
    x = np.random.default_rng(0).normal(size=500)
    assert a.padding == b.padding == "same"
    assert np.array_equal(wavedil.apply(a, x), wavedil.apply(b, x))


def test_multichannel_weights_are_out_in_k():
    stack = parse_spec({"layers": [{"weights": [[[1.0, 0.5]], [[0.2, 0.0]], [[0.0, -1.0]]]}]})
    assert (stack.in_channels, stack.out_channels) == (1, 3)
    assert stack.layers[0].weights.shape == (3, 1, 2)


def test_the_sample_specs_load(tmp_path):
    for name, rf in (("seed.toml", 29), ("moving_average.json", 16), ("stereo_mix.toml", 7), ("softclip.toml", 4)):
        assert load_spec(f"samples/{name}").receptive_field == rf
    assert load_spec("samples/stereo_mix.toml").in_channels == 2


@pytest.mark.parametrize(
    ("layer", "field", "fragment"),
    [
        ({"dilation": 0, "weights": [1.0]}, "dilation", "positive"),
        ({"dilation": -3, "weights": [1.0]}, "dilation", "positive"),
        ({"dilation": 1.5, "weights": [1.0]}, "dilation", "positive"),
        ({"weights": [1.0, 2.0], "kernel_size": 3}, "kernel_size", "2 tap"),
        ({"weights": [[[1.0, 2.0]], [[1.0]]]}, "weights", ""),
        ({"weights": []}, "weights", ""),
        ({"weights": ["a"]}, "weights", ""),
        ({"weights": [1.0], "activation": "swish-ish"}, "activation", "unknown activation"),
        ({"weights": [1.0], "bias": [1.0, 2.0]}, "bias", ""),
        ({"weights": [1.0], "dilaton": 2}, "dilaton", "unknown field"),
        ({"dilation": 2}, "weights", "required"),
        ({"weights": [1.0], "dilation": 2**40}, "dilation", "limit"),
    ],
)
def test_invalid_layers_name_the_layer_and_field(tmp_path, layer, field, fragment):
    doc = {"layers": [{"weights": [1.0]}, layer]}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(wavedil.SpecError) as info:
        load_spec(tmp_path / "bad.json")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'bad.json'}: layer 2: {field}:"), message
    assert fragment in message
    assert "\n" not in message


def test_layers_that_do_not_chain():
    with pytest.raises(wavedil.SpecError, match="layer 2: weights: takes 2 input channel"):
        parse_spec({"layers": [{"weights": [1.0]}, {"weights": [[[1.0], [1.0]]]}]})


def test_hostile_sizes_are_refused_without_allocating():
    with pytest.raises(wavedil.SpecError, match="kernel_size"):
        parse_spec({"layers": [{"weights": [0.0], "kernel_size": 10**9}]})
    with pytest.raises(wavedil.SpecError, match="receptive field"):
        stack_from_dilations([2**20] * 40, kernel_size=2)


def test_malformed_documents(tmp_path):
    (tmp_path / "a.toml").write_text("[[layers]\ndilation = ")
    (tmp_path / "b.json").write_text('{"layers": [')
    (tmp_path / "c.yaml").write_text("layers: []")
    for name in ("a.toml", "b.json", "c.yaml"):
        with pytest.raises(wavedil.SpecError) as info:
            load_spec(tmp_path / name)
        assert str(info.value).startswith(str(tmp_path / name))


def test_shorthand():
    s = stack_from_dilations([1, 2, 4, 8], kernel_size=2)
    assert s.receptive_field == 16 and all(l.weights.ravel().tolist() == [0.5, 0.5] for l in s.layers)
    s = stack_from_dilations([1, 2], taps=[0.7, 0.3], stacks=3)
    assert [l.dilation for l in s.layers] == [1, 2] * 3 and s.receptive_field == 1 + 3 * 3
    assert s.layers[0].weights.ravel().tolist() == [0.7, 0.3]
    assert stack_from_dilations([1, 2, 4], kernel_size=3).receptive_field == 15


def test_presets_build_and_describe_themselves_in_one_line():
    assert DEFAULT_PRESET in PRESETS
    for name, p in PRESETS.items():
        stack = wavedil.preset(name)
        assert stack.receptive_field >= 1
        assert p.summary and "\n" not in p.summary
    assert wavedil.preset("wavenet").receptive_field == 3070
    with pytest.raises(wavedil.SpecError, match="unknown preset"):
        wavedil.preset("nope")


def test_the_default_preset_is_an_audible_low_pass():
    stack = wavedil.preset(DEFAULT_PRESET)
    h = wavedil.apply(stack, np.r_[1.0, np.zeros(63)], dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(h, 4096))
    assert spectrum[0] == pytest.approx(1.0)
    assert spectrum[int(4096 * 5000 / 44100)] < 0.5  # well down by 5 kHz at 44.1 kHz
