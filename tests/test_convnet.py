"""NAM's ConvNet: against NAM 0.13's PyTorch ConvNet and its exporter, and a plain loop of the Core's reading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import wavedil
from wavedil.errors import SpecError
from wavedil.models.convnet import convnet_from_nam
from wavedil.stack import Conv1d, Stack


def _stack(doc) -> Stack:
    return Stack(layers=convnet_from_nam(doc["config"], np.array(doc["weights"], dtype=np.float64)))


# ---------------------------------------------------------------------------
# A plain loop of NeuralAmpModelerCore's ConvNet (convnet.cpp), independent of wavedil's layers


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def _core_activation(spec):
    """The Core's scalar formula for an activation config, as f(value, channel)."""
    kind = spec if isinstance(spec, str) else spec["type"]
    if kind == "Tanh":
        return lambda v, c: math.tanh(v)
    if kind == "Fasttanh":

        def fast(v, c):
            a = abs(v)
            num = v * (2.45550750702956 + 2.45550750702956 * a + (0.893229853513558 + 0.821226666969744 * a) * v * v)
            return num / (2.44506634652299 + (2.44506634652299 + v * v) * abs(v + 0.814642734961073 * v * a))

        return fast
    if kind == "ReLU":
        return lambda v, c: max(v, 0.0)
    if kind == "Sigmoid":
        return lambda v, c: _sigmoid(v)
    if kind == "SiLU":
        return lambda v, c: v * _sigmoid(v)
    if kind == "PReLU":
        slopes = spec.get("negative_slopes")
        return lambda v, c: v if v > 0 else (slopes[c] if slopes else spec.get("negative_slope", 0.01)) * v
    if kind == "LeakyHardtanh":
        lo, hi, s_lo, s_hi = (spec[k] for k in ("min_val", "max_val", "min_slope", "max_slope"))
        return lambda v, c: (v - lo) * s_lo + lo if v < lo else ((v - hi) * s_hi + hi if v > hi else v)
    raise AssertionError(kind)


def core_loop(config, flat, x):
    """The Core's ConvNet over ``x`` (n, in_channels) after its prewarm of 1 + sum(dilations) zeros."""
    c, dil = config["channels"], config["dilations"]
    cin0, cout, groups = config.get("in_channels", 1), config.get("out_channels", 1), config.get("groups", 1)
    bn = config["batchnorm"]
    act = _core_activation(config["activation"])
    it = iter(flat)
    blocks = []
    for li, d in enumerate(dil):
        cin = cin0 if li == 0 else c
        ipg, opg = cin // groups, c // groups
        w = [[[0.0, 0.0] for _ in range(cin)] for _ in range(c)]
        for g in range(groups):
            for i in range(opg):
                for j in range(ipg):
                    for k in range(2):
                        w[g * opg + i][g * ipg + j][k] = next(it)  # k = 0: the older tap
        if bn:
            bias = [0.0] * c
            mean, var, gain, shift = ([next(it) for _ in range(c)] for _ in range(4))
            eps = next(it)
        else:
            bias = [next(it) for _ in range(c)]
        blocks.append((d, cin, w, bias, (mean, var, gain, shift, eps) if bn else None))
    head_w = [[next(it) for _ in range(c)] for _ in range(cout)]
    head_b = [next(it) for _ in range(cout)]
    assert next(it, None) is None

    warm = 1 + sum(dil)
    seq = [[0.0] * cin0 for _ in range(warm)] + [list(map(float, row)) for row in x]
    for d, cin, w, bias, norm in blocks:
        out = []
        for t in range(len(seq)):
            past = seq[t - d] if t >= d else [0.0] * cin  # the ring buffer starts zeroed
            row = []
            for o in range(c):
                z = bias[o] + sum(w[o][i][1] * seq[t][i] + w[o][i][0] * past[i] for i in range(cin))
                if norm:
                    mean, var, gain, shift, eps = norm
                    z = (z - mean[o]) / math.sqrt(var[o] + eps) * gain[o] + shift[o]
                row.append(act(z, o))
            out.append(row)
        seq = out
    y = [[head_b[o] + sum(head_w[o][i] * v[i] for i in range(c)) for o in range(cout)] for v in seq]
    return np.array(y[warm:])


def _random_doc(config, seed):
    rng = np.random.default_rng(seed)
    c, groups = config["channels"], config.get("groups", 1)
    flat = []
    for li in range(len(config["dilations"])):
        cin = config.get("in_channels", 1) if li == 0 else c
        flat += list(rng.normal(0.0, 1.0 / math.sqrt(cin // groups * 2), c * (cin // groups) * 2))
        if config["batchnorm"]:
            flat += list(rng.normal(0, 0.3, c)) + list(rng.uniform(0.2, 2.0, c)) + list(rng.normal(1, 0.3, c)) + list(rng.normal(0, 0.3, c)) + [1e-3]
        else:
            flat += list(rng.normal(0.0, 0.3, c))
    cout = config.get("out_channels", 1)
    flat += list(rng.normal(0.0, 0.5, cout * c)) + list(rng.normal(0.0, 0.2, cout))
    return {"version": "0.7.0", "architecture": "ConvNet", "config": config, "weights": [float(v) for v in flat]}


LOOP_CONFIGS = {
    "groups_bn_prelu": dict(
        channels=4, dilations=[1, 3, 2], batchnorm=True, groups=2, in_channels=2, out_channels=3,
        activation={"type": "PReLU", "negative_slopes": [0.05, -0.3, 0.7, 1.5]},
    ),
    "leaky_hardtanh": dict(
        channels=3, dilations=[2, 1, 4], batchnorm=False,
        activation={"type": "LeakyHardtanh", "min_val": -0.4, "max_val": 0.3, "min_slope": 0.1, "max_slope": -0.05},
    ),
    "fasttanh_bn": dict(channels=2, dilations=[1, 2, 4, 8], batchnorm=True, activation="Fasttanh"),
    "stereo_in_silu": dict(channels=3, dilations=[5, 1], batchnorm=False, in_channels=2, activation="SiLU"),
    "depthwise_groups": dict(channels=4, dilations=[1, 2], batchnorm=True, groups=4, in_channels=4, out_channels=2, activation="Tanh"),
}


@pytest.mark.parametrize("name", sorted(LOOP_CONFIGS))
def test_matches_a_plain_loop_of_the_core(name):
    config = LOOP_CONFIGS[name]
    doc = _random_doc(config, seed=len(name))
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 0.8, (240, config.get("in_channels", 1)))
    x[:15] = 0.0  # silence first: the output starts in the steady state the Core's prewarm reaches
    want = core_loop(config, doc["weights"], x)
    stack = _stack(doc)
    assert stack.receptive_field == 1 + sum(config["dilations"])
    got = wavedil.apply(stack, x, dtype=np.float64).reshape(want.shape)
    peak = np.max(np.abs(want))
    assert np.max(np.abs(got - want)) <= 1e-12 * peak
    got32 = wavedil.apply(stack, x.astype(np.float32)).reshape(want.shape)
    assert np.max(np.abs(got32 - want)) <= 1e-5 * peak


def test_the_layers_are_kernel_2_blocks_and_a_linear_1x1_head():
    config = LOOP_CONFIGS["groups_bn_prelu"]
    layers = convnet_from_nam(config, np.array(_random_doc(config, 1)["weights"]))
    assert all(isinstance(layer, Conv1d) for layer in layers)
    assert [(l.kernel_size, l.dilation, l.in_channels, l.out_channels) for l in layers] == [(2, 1, 2, 4), (2, 3, 4, 4), (2, 2, 4, 4), (1, 1, 4, 3)]
    assert layers[-1].activation == "linear" and layers[0].activation.describe() == "PReLU(0.05, -0.3, 0.7, 1.5)"
    # groups 2: output channels 0-1 read input channel 0 only, 2-3 input channel 1 only
    assert np.all(layers[0].weights[:2, 1] == 0) and np.all(layers[0].weights[2:, 0] == 0)
    assert np.all(layers[1].weights[:2, 2:] == 0) and np.all(layers[1].weights[2:, :2] == 0)


def test_the_file_s_taps_run_oldest_first_and_batchnorm_folds_into_them():
    # One channel, batchnorm: y = head * relu(((0.5 x[t-3] + 2 x[t]) - m) / sqrt(v + eps) * g + h) + hb
    m, v, g, h, eps = 0.2, 3.0, 1.5, -0.1, 1.0
    flat = [0.5, 2.0, m, v, g, h, eps, 4.0, 0.25]
    (block, head) = convnet_from_nam({"channels": 1, "dilations": [3], "batchnorm": True, "activation": "ReLU"}, np.array(flat))
    s = g / 2.0
    assert block.weights.tolist() == [[[2.0 * s, 0.5 * s]]] and block.bias.tolist() == [h - s * m]
    assert head.weights.tolist() == [[[4.0]]] and head.bias.tolist() == [0.25]


# ---------------------------------------------------------------------------
# NAM 0.13's PyTorch ConvNet, exported by NAM's own code


NAM_CASES = {
    # name: (activation as NAM's ConvNet takes it, batchnorm, whether the file needs NAM's activation exporter)
    "tanh": ("Tanh", False, False),
    "tanh_bn": ("Tanh", True, False),
    "relu_bn": ("ReLU", True, False),
    "sigmoid": ("Sigmoid", False, False),
    "silu_bn": ("SiLU", True, False),
    "hardswish": ("Hardswish", False, False),
    "hardtanh_bn": ("Hardtanh", True, False),
    "leaky_default_bn": ("LeakyReLU", True, False),
    # NAM's ConvNet export writes only the class name; these carry parameters, so the
    # activation is written by NAM's activation exporter (the form its WaveNet files use).
    "leaky_0.2": ({"name": "LeakyReLU", "negative_slope": 0.2}, False, True),
    "prelu_channels_bn": ({"name": "PReLU", "num_parameters": 3}, True, True),
    "leaky_hardtanh_bn": ({"name": "LeakyHardtanh", "min_val": -0.3, "max_val": 0.5, "min_slope": 0.2, "max_slope": 0.05}, True, True),
    "softsign": ("Softsign", False, True),
}


def _nam_model(torch, activation, batchnorm, seed):
    from nam.models.conv_net import ConvNet

    torch.manual_seed(seed)
    model = ConvNet(channels=3, dilations=[1, 2, 4, 8, 3], batchnorm=batchnorm, activation=activation, sample_rate=48000)
    blocks = [m for name, m in model._net.named_children() if name.startswith("block_")]
    with torch.no_grad():
        slopes = torch.empty(3).uniform_(-0.2, 0.6)
        for block in blocks:
            for m in block.modules():
                if isinstance(m, torch.nn.BatchNorm1d):
                    # Trained-looking statistics, so the folding is tested (fresh ones are 0 and 1).
                    m.running_mean.normal_(0.0, 0.3)
                    m.running_var.uniform_(0.2, 2.0)
                    m.weight.normal_(1.0, 0.3)
                    m.bias.normal_(0.0, 0.3)
                    m.eps = 1e-3
                if isinstance(m, torch.nn.PReLU):
                    m.weight.copy_(slopes)  # the Core's ConvNet has one activation for every block
    model.eval()
    return model, blocks


@pytest.mark.parametrize("name", sorted(NAM_CASES))
def test_matches_nam_pytorch_convnet(name, tmp_path):
    torch = pytest.importorskip("torch")
    acts = pytest.importorskip("nam.models._activations")
    activation, batchnorm, rewrite = NAM_CASES[name]
    model, blocks = _nam_model(torch, activation, batchnorm, seed=len(name))
    model.export(tmp_path)
    doc = json.loads((tmp_path / "model.nam").read_text())
    assert doc["architecture"] == "ConvNet" and doc["config"]["batchnorm"] is batchnorm
    if rewrite:
        doc["config"]["activation"] = acts.export_activation_config(blocks[0].activation)
    x = np.random.default_rng(2).normal(0.0, 0.5, 3000)
    with torch.no_grad():
        # pad_start: NAM pads receptive_field - 1 zeros, so output t answers input t.
        want = model.double()(torch.from_numpy(x)[None], pad_start=True)[0].numpy()
    got = wavedil.apply(_stack(doc), x, dtype=np.float64)
    assert got.shape == want.shape
    # NAM stores eps as float32, which moves results by ~1e-11.
    assert np.max(np.abs(got - want)) <= 1e-9 * np.max(np.abs(want))


def test_nam_python_s_own_softsign_export_is_refused_as_the_core_refuses_it(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("nam")
    model, _ = _nam_model(torch, "Softsign", False, seed=0)
    model.export(tmp_path)
    doc = json.loads((tmp_path / "model.nam").read_text())
    with pytest.raises(SpecError, match="'_Softsign'") as info:
        _stack(doc)
    assert info.value.field == "config.activation"


# ---------------------------------------------------------------------------
# Bad files


GOOD = dict(channels=2, dilations=[1, 2], batchnorm=False, activation="Tanh")


@pytest.mark.parametrize(
    "change, n_weights, field, words",
    [
        ({"head": 1}, None, "config", ["unknown ConvNet option(s) head", "known: channels"]),
        ({"channels": "2"}, None, "config.channels", ["must be a positive integer, got '2'"]),
        ({"channels": True}, None, "config.channels", ["must be a positive integer, got True"]),
        ({"channels": 0}, None, "config.channels", ["must be a positive integer, got 0"]),
        ({"channels": 1025}, None, "config.channels", ["1025 exceeds the limit of 1024"]),
        ({"channels": 2.0}, None, "config.channels", ["must be a positive integer"]),
        ({"dilations": []}, None, "config.dilations", ["non-empty list"]),
        ({"dilations": 2}, None, "config.dilations", ["non-empty list"]),
        ({"dilations": [1, 0]}, None, "config.dilations", ["must be a positive integer, got 0"]),
        ({"dilations": [1, 2**21]}, None, "config.dilations", ["2097152 exceeds the limit of 1048576"]),
        ({"dilations": [1] * 4097}, None, "config.dilations", ["4097 blocks exceed the limit of 4096"]),
        ({"batchnorm": 1}, None, "config.batchnorm", ["must be true or false, got 1"]),
        ({"activation": "tanh"}, None, "config.activation", ["unknown activation type 'tanh'"]),
        ({"activation": {"type": "PReLU", "negative_slopes": [0.1, 0.2, 0.3]}}, None, "config.activation", ["3 negative_slopes but is applied to 2 channels"]),
        ({"groups": 2}, None, "config.groups", ["in_channels 1 is not divisible by groups 2"]),
        ({"groups": 2, "in_channels": 2, "channels": 3}, None, "config.groups", ["channels 3 is not divisible by groups 2"]),
        ({"in_channels": 0}, None, "config.in_channels", ["must be a positive integer, got 0"]),
        ({"out_channels": False}, None, "config.out_channels", ["positive integer"]),
        # per block 2*c_in*2 taps + 2 biases, or + 4*2 + 1 batchnorm numbers; the head 2 + 1
        ({}, 20, "weights", ["expected 19 numbers for this config, found 20"]),
        ({}, 18, "weights", ["expected 19 numbers for this config, found 18"]),
        ({"batchnorm": True}, 19, "weights", ["expected 33 numbers for this config, found 19"]),
    ],
)
def test_bad_configs_are_one_line_errors_naming_the_field(change, n_weights, field, words):
    with pytest.raises(SpecError) as info:
        convnet_from_nam({**GOOD, **change}, np.linspace(-1.0, 1.0, 19 if n_weights is None else n_weights))
    msg = str(info.value)
    assert info.value.field == field and "\n" not in msg
    for w in words:
        assert w in msg


def test_missing_keys_and_impossible_batchnorm_statistics():
    for key in ("channels", "dilations", "batchnorm", "activation"):
        with pytest.raises(SpecError, match="is required") as info:
            convnet_from_nam({k: v for k, v in GOOD.items() if k != key}, np.zeros(19))
        assert info.value.field == f"config.{key}"
    # running_var + eps = 0 would divide by zero in the Core's sqrt
    flat = [1.0, 1.0, 0.0, -1e-3, 1.0, 0.0, 1e-3, 1.0, 0.0]
    with pytest.raises(SpecError, match="block 1: batchnorm running_var \\+ eps must be positive") as info:
        convnet_from_nam({"channels": 1, "dilations": [1], "batchnorm": True, "activation": "ReLU"}, np.array(flat))
    assert info.value.field == "weights"


def test_grouped_expansion_is_bounded_before_it_is_allocated():
    config = dict(channels=1024, dilations=[1] * 30, batchnorm=False, groups=1024, in_channels=1024, activation="Tanh")
    n = 30 * (1024 * 2 + 1024) + 1024 + 1
    with pytest.raises(SpecError, match="groups expanded\\) exceed the limit of 50000000") as info:
        convnet_from_nam(config, np.zeros(n))
    assert info.value.field == "config"
