"""Stack specs: the documented forms, the checks that name layer and field, presets, shorthand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import wavedil
from wavedil.documents import read_data_file
from wavedil.limits import MAX_NAM_BYTES, MAX_SPEC_BYTES
from wavedil.presets import DEFAULT_PRESET, PRESETS
from wavedil.spec import load_spec, parse_spec, stack_from_dilations
from wavedil.toml_writer import to_toml

#: The repository's samples, found from this file: the tests run from any folder.
SAMPLES = Path(__file__).resolve().parent.parent / "samples"

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
        assert load_spec(SAMPLES / name).receptive_field == rf
    assert load_spec(SAMPLES / "stereo_mix.toml").in_channels == 2


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
        ({"weights": [1.0], "dilation": -1}, "dilation", "positive"),
        ({"weights": [0.5, 0.5], "kernel_size": 10**9}, "kernel_size", "limit"),
        ({"weights": [[[1.0, 2.0]], [[1.0, 2.0]]], "kernel_size": 3}, "kernel_size", "2 tap"),
        ({"weights": [[[1.0, 2.0], [1.0, 2.0, 3.0]]]}, "weights", "regular nested list"),
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


# -- the issue's form, field by field --------------------------------------------------


ISSUE_FORM_JSON = {
    "padding": "causal",
    "layers": [{"dilation": 2, "weights": [0.5, 0.3, 0.2], "bias": 0.0, "activation": "linear"}],
}


def _same_layers(a: wavedil.Stack, b: wavedil.Stack) -> bool:
    return a.padding == b.padding and len(a.layers) == len(b.layers) and all(
        np.array_equal(x.weights, y.weights) and np.array_equal(x.bias, y.bias) and (x.dilation, x.activation) == (y.dilation, y.activation)
        for x, y in zip(a.layers, b.layers)
    )


def test_the_issue_form_in_json_is_the_same_stack(tmp_path):
    (tmp_path / "s.toml").write_text(ISSUE_FORM)
    (tmp_path / "s.json").write_text(json.dumps(ISSUE_FORM_JSON))
    a, b = load_spec(tmp_path / "s.toml"), load_spec(tmp_path / "s.json")
    assert _same_layers(a, b)
    # The optional fields default to what the issue's form spells out.
    minimal = parse_spec({"layers": [{"dilation": 2, "weights": [0.5, 0.3, 0.2]}]})
    assert _same_layers(a, minimal)
    assert minimal.layers[0].bias.tolist() == [0.0] and minimal.layers[0].activation == "linear"
    assert parse_spec({"layers": [{"weights": [1.0]}]}).layers[0].dilation == 1


@pytest.mark.parametrize("padding", ["causal", "same"])
@pytest.mark.parametrize("activation", ["linear", "tanh", "relu", "sigmoid"])
def test_every_documented_activation_and_padding_parses_from_toml(tmp_path, activation, padding):
    text = ISSUE_FORM.replace('padding = "causal"', f'padding = "{padding}"').replace('activation = "linear"', f'activation = "{activation}"')
    (tmp_path / "s.toml").write_text(text)
    stack = load_spec(tmp_path / "s.toml")
    assert stack.padding == padding and stack.layers[0].activation == activation
    assert stack.lookahead == (2 if padding == "same" else 0)  # (RF - 1) // 2 with RF 5


def test_kernel_size_given_and_matching_is_accepted(tmp_path):
    (tmp_path / "s.toml").write_text(ISSUE_FORM + "kernel_size = 3\n")
    assert load_spec(tmp_path / "s.toml").layers[0].kernel_size == 3
    joint = parse_spec({"layers": [{"kernel_size": 2, "weights": [[[1.0, 2.0], [3.0, 4.0]]]}]})
    assert joint.layers[0].weights.shape == (1, 2, 2) and joint.in_channels == 2


def test_kernel_size_mismatch_in_toml_names_file_layer_and_field(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(ISSUE_FORM + "\n[[layers]]\nkernel_size = 4\nweights = [1.0, 0.0, 0.0]\n")
    with pytest.raises(wavedil.SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: layer 2: kernel_size: is 4 but weights have 3 tap(s)"
    assert (info.value.layer, info.value.field) == (2, "kernel_size")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[[layers]]\nweights = [0.5, 0.5]\nkernel_size = 1000000000\n", "kernel_size"),
        ("[[layers]]\nweights = [0.5, 0.5]\ndilation = 1099511627776\n", "dilation"),
    ],
    ids=["1e9-taps", "dilation-2^40"],
)
def test_hostile_sizes_in_a_file_name_file_layer_and_field(tmp_path, text, field):
    path = tmp_path / "hostile.toml"
    path.write_text("[[layers]]\nweights = [1.0]\n" + text)
    with pytest.raises(wavedil.SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: layer 2: {field}: ") and "limit" in str(info.value)


@pytest.mark.parametrize(
    ("kernel", "dilations", "stacks", "fields"),
    [
        (3, [1, 2, 4], 1, [3, 7, 15]),
        (2, [1, 2, 4, 8], 1, [2, 4, 8, 16]),
        (2, [1, 2, 4, 8], 2, [2, 4, 8, 16, 17, 19, 23, 31]),
        (3, [1, 2, 4], 3, [3, 7, 15, 17, 21, 29, 31, 35, 43]),
    ],
)
def test_receptive_field_per_layer_is_cumulative(kernel, dilations, stacks, fields):
    stack = stack_from_dilations(dilations, kernel_size=kernel, stacks=stacks)
    assert [l.dilation for l in stack.layers] == dilations * stacks
    assert [1 + sum(l.history for l in stack.layers[: i + 1]) for i in range(len(stack.layers))] == fields
    assert stack.receptive_field == fields[-1]
    assert [row["receptive_field"] for row in wavedil.analyze(stack)["layers"]] == fields
    assert all(l.weights.ravel().tolist() == [1 / kernel] * kernel for l in stack.layers)


def test_shorthand_errors_name_the_field():
    with pytest.raises(wavedil.SpecError) as info:
        stack_from_dilations([1, 0, 4], kernel_size=2)
    assert info.value.field == "dilations" and "positive" in str(info.value)
    with pytest.raises(wavedil.SpecError, match="taps"):
        stack_from_dilations([1, 2], kernel_size=3, taps=[0.5, 0.5])
    with pytest.raises(wavedil.SpecError, match="stacks"):
        stack_from_dilations([1, 2], kernel_size=2, stacks=0)


def test_every_preset_has_a_one_line_description_and_runs():
    x = np.random.default_rng(0).normal(0.0, 0.1, 64)
    for name in PRESETS:
        stack = wavedil.preset(name)
        assert stack.name == name and stack.description == PRESETS[name].summary
        assert stack.description.strip() and len(stack.description.splitlines()) == 1
        y = wavedil.apply(stack, x)
        assert y.shape == x.shape and np.all(np.isfinite(y))


def test_a_spec_may_be_64_mib_and_no_more(tmp_path):
    assert MAX_SPEC_BYTES == MAX_NAM_BYTES == 64 * 2**20
    doc = json.dumps({"layers": [{"weights": [0.5, 0.5]}]}).encode()
    at_limit = tmp_path / "padded.json"
    at_limit.write_bytes(doc + b" " * (MAX_SPEC_BYTES - len(doc)))
    assert at_limit.stat().st_size == MAX_SPEC_BYTES
    assert load_spec(at_limit).layers[0].weights.ravel().tolist() == [0.5, 0.5]
    for name in ("over.json", "over.nam"):
        over = tmp_path / name
        with open(over, "wb") as f:
            f.truncate(MAX_SPEC_BYTES + 1)  # sparse: 64 MiB and one byte, none of them written
        with pytest.raises(wavedil.SpecError) as info:
            load_spec(over)
        assert str(info.value) == f"{over}: is {MAX_SPEC_BYTES + 1} bytes, over the limit of {MAX_SPEC_BYTES}"


def test_the_size_limit_holds_on_the_bytes_read_not_on_what_stat_says():
    # A /proc file is a regular file whose stat size is 0 whatever it holds: only the bytes read show its length.
    path = Path("/proc/self/maps")
    if not path.exists():
        pytest.skip("needs Linux's /proc")
    assert path.stat().st_size == 0
    with pytest.raises(wavedil.SpecError) as info:
        read_data_file(path, 100, "spec file")
    assert str(info.value) == f"{path}: is over the limit of 100 bytes"
    assert len(read_data_file(path, 10**7, "spec file")) > 100
