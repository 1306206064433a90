"""Activations: each against a plain scalar formula (NeuralAmpModelerCore's) and torch.nn; NAM's file forms."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import wavedil
from wavedil.activations import ACTIVATIONS, Activation, activation, activation_from_name, parse_nam_activation, plain
from wavedil.errors import SpecError
from wavedil.stack import Conv1d, Stack

SLOPES = (0.05, -0.3, 0.7, 1.5)  # per channel, including a negative one and one above 1
UNIT_SLOPES = (0.0, 0.2, 1.0, 0.5)  # all in [0, 1]
LHT = {"min_val": -0.4, "max_val": 0.3, "min_slope": 0.1, "max_slope": -0.05}


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def _fast_tanh(v: float) -> float:
    a = abs(v)
    num = v * (2.45550750702956 + 2.45550750702956 * a + (0.893229853513558 + 0.821226666969744 * a) * v * v)
    return num / (2.44506634652299 + (2.44506634652299 + v * v) * abs(v + 0.814642734961073 * v * a))


def _leaky_hardtanh(v: float, lo: float, hi: float, s_lo: float, s_hi: float) -> float:
    if v < lo:
        return (v - lo) * s_lo + lo
    if v > hi:
        return (v - hi) * s_hi + hi
    return v


# (activation, plain formula of (value, channel)) -- the formulas of the Core's activations.h.
PLAIN = {
    "Tanh": (Activation("tanh"), lambda v, c: math.tanh(v)),
    "Fasttanh": (Activation("fast_tanh"), lambda v, c: _fast_tanh(v)),
    "Hardtanh": (Activation("hardtanh"), lambda v, c: min(max(v, -1.0), 1.0)),
    "ReLU": (Activation("relu"), lambda v, c: v if v > 0 else 0.0),
    "LeakyReLU": (Activation("leaky_relu"), lambda v, c: v if v > 0 else 0.01 * v),
    "LeakyReLU(1.7)": (Activation("leaky_relu", {"negative_slope": 1.7}), lambda v, c: v if v > 0 else 1.7 * v),
    "LeakyReLU(-0.5)": (Activation("leaky_relu", {"negative_slope": -0.5}), lambda v, c: v if v > 0 else -0.5 * v),
    "PReLU(0.25)": (Activation("prelu", {"negative_slope": 0.25}), lambda v, c: v if v > 0 else 0.25 * v),
    "PReLU(unit slopes)": (Activation("prelu", {"negative_slopes": UNIT_SLOPES}), lambda v, c: v if v > 0 else UNIT_SLOPES[c] * v),
    "PReLU(per channel)": (Activation("prelu", {"negative_slopes": SLOPES}), lambda v, c: v if v > 0 else SLOPES[c] * v),
    "Sigmoid": (Activation("sigmoid"), lambda v, c: _sigmoid(v)),
    "SiLU": (Activation("silu"), lambda v, c: v * _sigmoid(v)),
    "Hardswish": (Activation("hardswish"), lambda v, c: v * min(max(v + 3.0, 0.0), 6.0) / 6.0),
    "Softsign": (Activation("softsign"), lambda v, c: v / (1.0 + abs(v))),
    "LeakyHardtanh": (Activation("leaky_hardtanh", LHT), lambda v, c: _leaky_hardtanh(v, *LHT.values())),
    "LeakyHardtanh()": (Activation("leaky_hardtanh"), lambda v, c: _leaky_hardtanh(v, -1.0, 1.0, 0.01, 0.01)),
    "linear": (Activation("linear"), lambda v, c: v),
}


def _inputs(dtype=np.float64) -> np.ndarray:
    """(batch 2, 4 channels, 64 samples): wide normal values and the kinks of every activation."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 3.0, (2, 4, 64))
    edges = [0.0, -1.0, 1.0, -3.0, 3.0, LHT["min_val"], LHT["max_val"], -30.0, 30.0, 1e-9, -1e-9]
    x[:, :, : len(edges)] = edges
    return x.astype(dtype)


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_every_activation_follows_the_plain_formula_in_place(name):
    act, formula = PLAIN[name]
    x = _inputs()
    want = np.array([[[formula(float(v), c) for v in row] for c, row in enumerate(batch)] for batch in x])
    got = act(x)
    assert got is x
    np.testing.assert_allclose(x, want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_float32_blocks_stay_float32_and_agree_with_float64(name):
    act, _ = PLAIN[name]
    x32 = _inputs(np.float32)
    want = act(x32.astype(np.float64))
    assert act(x32).dtype == np.float32
    np.testing.assert_allclose(x32, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["Tanh", "PReLU(per channel)", "LeakyHardtanh", "Hardswish", "Fasttanh"])
def test_a_strided_view_changes_only_itself(name):
    act, formula = PLAIN[name]
    base = np.full((2, 8, 40), -0.75)
    view = base[:, ::2, 1:-1:3]  # 4 channels, non-contiguous in both axes
    act(view)
    want = np.array([formula(-0.75, c) for c in range(4)])[None, :, None]
    np.testing.assert_allclose(view, np.broadcast_to(want, view.shape), rtol=1e-15)
    untouched = np.ones(base.shape, bool)
    untouched[:, ::2, 1:-1:3] = False
    assert np.all(base[untouched] == -0.75)


def test_per_channel_prelu_needs_its_channel_count_on_axis_minus_2():
    act = Activation("prelu", {"negative_slopes": SLOPES})
    with pytest.raises(ValueError, match="4 slopes"):
        act(np.zeros((1, 3, 5)))
    with pytest.raises(ValueError):
        act(np.zeros(4))
    act.check_channels(4, "x")
    with pytest.raises(SpecError, match="4 negative_slopes but is applied to 3 channels") as info:
        act.check_channels(3, "config.activation")
    assert info.value.field == "config.activation"
    Activation("prelu", {"negative_slope": 0.2}).check_channels(17, "x")  # one slope fits any count


# ---------------------------------------------------------------------------
# Against torch.nn (and NAM's own modules for its activations)


def _torch_modules(nn):
    prelu, unit = nn.PReLU(num_parameters=4).double(), nn.PReLU(num_parameters=4).double()
    prelu.weight.data.copy_(prelu.weight.data.new_tensor(SLOPES))
    unit.weight.data.copy_(unit.weight.data.new_tensor(UNIT_SLOPES))
    return {
        "Tanh": nn.Tanh(),
        "Hardtanh": nn.Hardtanh(),
        "ReLU": nn.ReLU(),
        "LeakyReLU": nn.LeakyReLU(),
        "LeakyReLU(1.7)": nn.LeakyReLU(1.7),
        "LeakyReLU(-0.5)": nn.LeakyReLU(-0.5),
        "PReLU(unit slopes)": unit,
        "PReLU(0.25)": nn.PReLU(init=0.25),
        "PReLU(per channel)": prelu,
        "Sigmoid": nn.Sigmoid(),
        "SiLU": nn.SiLU(),
        "Hardswish": nn.Hardswish(),
        "Softsign": nn.Softsign(),
        "linear": nn.Identity(),
    }


@pytest.mark.parametrize("name", [n for n in sorted(PLAIN) if n not in ("Fasttanh", "LeakyHardtanh", "LeakyHardtanh()")])
def test_matches_torch_nn(name):
    torch = pytest.importorskip("torch")
    module = _torch_modules(torch.nn)[name].double()
    x = _inputs()
    with torch.no_grad():
        want = module(torch.from_numpy(x.copy())).numpy()
    np.testing.assert_allclose(PLAIN[name][0](x), want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_named_activation_matches_its_torch_module_with_default_parameters(name):
    torch = pytest.importorskip("torch")
    # The torch.nn class name, without the parameters describe() adds.
    module = getattr(torch.nn, activation_from_name(name).describe().split("(")[0])()
    x = _inputs()
    with torch.no_grad():
        want = module(torch.from_numpy(x.copy())).numpy()
    np.testing.assert_allclose(ACTIVATIONS[name](x.copy()), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(activation_from_name(name)(x), want, rtol=1e-12, atol=1e-14)


def test_nam_python_exports_parse_to_the_same_functions():
    torch = pytest.importorskip("torch")
    acts = pytest.importorskip("nam.models._activations")
    nn = torch.nn
    prelu = nn.PReLU(num_parameters=4).double()
    with torch.no_grad():
        prelu.weight.copy_(torch.tensor(SLOPES, dtype=torch.float64))
    modules = [
        nn.LeakyReLU(0.2),
        nn.PReLU(init=0.3),
        prelu,
        nn.Hardtanh(),
        nn.Tanh(),
        nn.SiLU(),
        nn.Hardswish(),
        acts.get_activation({"name": "LeakyHardtanh", **LHT}),
        acts.get_activation("Softsign"),
    ]
    x = _inputs()
    for module in modules:
        exported = acts.export_activation_config(module)
        act = parse_nam_activation(exported, field="activation")
        with torch.no_grad():
            want = module.double()(torch.from_numpy(x.copy())).numpy()
        np.testing.assert_allclose(act(x.copy()), want, rtol=1e-14, atol=1e-15, err_msg=str(exported))


# ---------------------------------------------------------------------------
# Reading NAM's forms


@pytest.mark.parametrize(
    "value, name, params",
    [
        ("Tanh", "tanh", ()),
        ("Hardtanh", "hardtanh", ()),
        ("Fasttanh", "fast_tanh", ()),
        ("ReLU", "relu", ()),
        ("LeakyReLU", "leaky_relu", (("negative_slope", 0.01),)),
        ("PReLU", "prelu", (("negative_slope", 0.01),)),
        ("Sigmoid", "sigmoid", ()),
        ("SiLU", "silu", ()),
        ("Hardswish", "hardswish", ()),
        ("LeakyHardtanh", "leaky_hardtanh", (("min_val", -1.0), ("max_val", 1.0), ("min_slope", 0.01), ("max_slope", 0.01))),
        ("LeakyHardTanh", "leaky_hardtanh", (("min_val", -1.0), ("max_val", 1.0), ("min_slope", 0.01), ("max_slope", 0.01))),
        ("Softsign", "softsign", ()),
        ({"type": "Tanh"}, "tanh", ()),
        ({"type": "LeakyReLU"}, "leaky_relu", (("negative_slope", 0.01),)),
        ({"type": "LeakyReLU", "negative_slope": 0.2}, "leaky_relu", (("negative_slope", 0.2),)),
        ({"type": "LeakyReLU", "negative_slope": 2}, "leaky_relu", (("negative_slope", 2.0),)),
        ({"type": "PReLU"}, "prelu", (("negative_slope", 0.01),)),
        ({"type": "PReLU", "negative_slope": 0.1}, "prelu", (("negative_slope", 0.1),)),
        ({"type": "PReLU", "negative_slopes": [0.1, -0.2]}, "prelu", (("negative_slopes", (0.1, -0.2)),)),
        ({"type": "Hardtanh", "min_val": -1.0, "max_val": 1.0}, "hardtanh", ()),
        (
            {"type": "LeakyHardtanh", "max_slope": 0.5, "min_val": 0.0},
            "leaky_hardtanh",
            (("min_val", 0.0), ("max_val", 1.0), ("min_slope", 0.01), ("max_slope", 0.5)),
        ),
        ({"type": "Softsign"}, "softsign", ()),
    ],
)
def test_the_core_s_names_and_objects_parse(value, name, params):
    act = parse_nam_activation(value, field="config.activation")
    assert (act.name, act.params) == (name, params)


@pytest.mark.parametrize(
    "value, words",
    [
        ("tanh", ["unknown activation type 'tanh'", "known: Tanh, Hardtanh, Fasttanh"]),
        ("GELU", ["unknown activation type 'GELU'", "Softsign"]),
        ("Softsigmoid", ["'Softsigmoid'", "cannot run it", "known:"]),
        ("_Softsign", ["'_Softsign'", "NAM Python class name"]),
        ({"type": "Mish"}, ["unknown activation type 'Mish'", "known:"]),
        ({"negative_slope": 0.1}, ["needs a \"type\""]),
        ({"type": 3}, ["unknown activation type 3"]),
        (None, ["must be an activation name or an object", "NoneType"]),
        ([{"type": "Tanh"}], ["must be an activation name or an object", "list"]),
        ({"type": "LeakyReLU", "slope": 0.1}, ["unknown LeakyReLU parameter(s) slope", "known: negative_slope"]),
        ({"type": "Tanh", "negative_slope": 0.1}, ["unknown Tanh parameter(s) negative_slope", "it takes none"]),
        ({"type": "LeakyReLU", "negative_slope": "0.1"}, ["LeakyReLU negative_slope must be a finite number"]),
        ({"type": "LeakyReLU", "negative_slope": True}, ["must be a finite number, got True"]),
        ({"type": "LeakyReLU", "negative_slope": float("nan")}, ["must be a finite number"]),
        ({"type": "PReLU", "negative_slopes": []}, ["non-empty list of numbers"]),
        ({"type": "PReLU", "negative_slopes": 0.1}, ["non-empty list of numbers"]),
        ({"type": "PReLU", "negative_slopes": [0.1, "x"]}, ["negative_slopes must be finite numbers"]),
        ({"type": "PReLU", "negative_slopes": [0.1, float("inf")]}, ["negative_slopes must be finite numbers"]),
        ({"type": "PReLU", "negative_slopes": [0.1, 10**400]}, ["negative_slopes must be finite numbers"]),
        ({"type": "LeakyReLU", "negative_slope": 10**400}, ["LeakyReLU negative_slope must be a finite number"]),
        ({"type": "PReLU", "negative_slopes": [0.1] * 1025}, ["1025 negative_slopes", "limit of 1024"]),
        ({"type": "PReLU", "negative_slope": 0.1, "negative_slopes": [0.1]}, ["not both"]),
        ({"type": "PReLU", "weights": [0.1]}, ["unknown PReLU parameter(s) weights"]),
        ({"type": "Hardtanh", "min_val": -2.0, "max_val": 1.0}, ["Hardtanh bounds", "not [-1, 1]", "ignores them"]),
        ({"type": "Hardtanh", "lo": -1.0}, ["unknown Hardtanh parameter(s) lo"]),
        ({"type": "LeakyHardtanh", "min_val": 0.5, "max_val": 0.2}, ["min_val 0.5 exceeds max_val 0.2"]),
        ({"type": "LeakyHardtanh", "min_slope": None}, ["LeakyHardtanh min_slope must be a finite number"]),
    ],
)
def test_bad_activations_are_one_line_errors_naming_the_field(value, words):
    with pytest.raises(SpecError) as info:
        parse_nam_activation(value, field="config.layers[0].activation")
    msg = str(info.value)
    assert info.value.field == "config.layers[0].activation" and msg.startswith("config.layers[0].activation: ")
    assert "\n" not in msg
    for w in words:
        assert w in msg


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_to_nam_reads_back_to_the_same_activation(name):
    act = PLAIN[name][0]
    if act.name == "linear":
        with pytest.raises(SpecError, match="Identity has no NeuralAmpModelerCore equivalent"):
            act.to_nam()
        return
    assert parse_nam_activation(act.to_nam(), field="a") == act


def test_to_nam_forms_and_descriptions():
    assert Activation("tanh").to_nam() == "Tanh" and Activation("tanh").describe() == "Tanh"
    assert Activation("leaky_relu").to_nam() == "LeakyReLU"  # the default slope, as a bare name
    assert Activation("leaky_relu", {"negative_slope": 0.2}).to_nam() == {"type": "LeakyReLU", "negative_slope": 0.2}
    # PReLU is always written with its slope: a bare "PReLU" means 0.25 to NAM's Python, 0.01 to the Core.
    assert Activation("prelu").to_nam() == {"type": "PReLU", "negative_slope": 0.01}
    assert Activation("prelu", {"negative_slopes": [0.1, 0.2]}).to_nam() == {"type": "PReLU", "negative_slopes": [0.1, 0.2]}
    assert Activation("leaky_hardtanh", LHT).to_nam() == {"type": "LeakyHardtanh", **LHT}
    assert Activation("leaky_relu", {"negative_slope": 0.2}).describe() == "LeakyReLU(0.2)"
    assert Activation("prelu", {"negative_slopes": SLOPES}).describe() == "PReLU(0.05, -0.3, 0.7, 1.5)"
    assert Activation("prelu", {"negative_slopes": [0.1 * i for i in range(8)]}).describe() == "PReLU(8 slopes, 0..0.7)"
    assert Activation("leaky_hardtanh", LHT).describe() == "LeakyHardtanh(-0.4, 0.3, 0.1, -0.05)"
    assert Activation("fast_tanh").describe() == "Fasttanh"
    with pytest.raises(SpecError, match="GELU has no NeuralAmpModelerCore equivalent"):
        Activation("gelu").to_nam()


def test_activations_are_hashable_values_with_defaults_filled_in():
    a = Activation("leaky_relu")
    b = Activation("leaky_relu", (("negative_slope", 0.01),))
    c = Activation("leaky_relu", {"negative_slope": 0.02})
    assert a == b and hash(a) == hash(b) and a != c
    assert len({a, b, c, Activation("tanh"), activation_from_name("tanh")}) == 3
    assert Activation("leaky_hardtanh", {"max_slope": 0.01, "min_val": -1}) == Activation("leaky_hardtanh")


def test_activations_and_layers_holding_them_pickle_for_worker_processes():
    for act in (Activation("prelu", {"negative_slopes": SLOPES}), Activation("leaky_hardtanh", LHT), Activation("fast_tanh")):
        back = pickle.loads(pickle.dumps(act))
        assert back == act
        x = _inputs()
        np.testing.assert_array_equal(back(x.copy()), act(x.copy()))
    layer = Conv1d(weights=np.ones((4, 1, 2)), bias=np.zeros(4), activation=Activation("prelu", {"negative_slopes": SLOPES}))
    assert pickle.loads(pickle.dumps(layer)).activation == layer.activation


def test_names_and_the_in_place_lookup():
    for name in ACTIVATIONS:
        assert activation_from_name(name).name == name
        assert activation(name) is ACTIVATIONS[name]
    act = Activation("prelu", {"negative_slope": 0.3})
    assert activation(act) is act
    with pytest.raises(SpecError, match="unknown activation 'swish'") as info:
        activation_from_name("swish")
    assert info.value.field == "activation"
    with pytest.raises(SpecError, match="unknown Sigmoid parameter"):
        Activation("sigmoid", {"negative_slope": 0.1})
    with pytest.raises(SpecError, match="parameters must be a mapping or \\(key, value\\) pairs"):
        Activation("leaky_relu", "0.2")


def test_plain_keeps_a_name_whenever_no_parameter_needs_the_object():
    assert plain("tanh") == "tanh"
    assert plain(Activation("tanh")) == "tanh"
    assert plain(Activation("leaky_relu", {"negative_slope": 0.01})) == "leaky_relu"
    for act in (Activation("leaky_relu", {"negative_slope": 0.2}), Activation("fast_tanh"), Activation("prelu")):
        assert plain(act) is act


# ---------------------------------------------------------------------------
# A layer with a parametrized activation


def test_conv1d_takes_an_activation_object_and_runs_it():
    rng = np.random.default_rng(3)
    w = rng.normal(0.0, 0.7, (4, 2, 3))
    b = rng.normal(0.0, 0.3, 4)
    act = Activation("prelu", {"negative_slopes": SLOPES})
    layer = Conv1d(weights=w, bias=b, dilation=2, activation=act)
    assert layer.activation is act and not layer.is_linear
    assert layer.rows()[0]["activation"] == "PReLU(0.05, -0.3, 0.7, 1.5)"
    assert Conv1d(weights=w, bias=b, activation=Activation("relu")).activation == "relu"
    x = rng.normal(0.0, 1.0, (50, 2))
    got = wavedil.apply(Stack(layers=(layer,)), x, dtype=np.float64)
    # y[t, o] = prelu_o(b_o + sum_{i,j} w[o, i, j] x[t - 2j, i]), silence before the start
    for t in range(50):
        for o in range(4):
            z = b[o] + sum(w[o, i, j] * x[t - 2 * j, i] for i in range(2) for j in range(3) if t - 2 * j >= 0)
            assert got[t, o] == pytest.approx(z if z > 0 else SLOPES[o] * z, rel=1e-12, abs=1e-14)
    with pytest.raises(SpecError, match="4 negative_slopes but is applied to 2 channels") as info:
        Conv1d(weights=w[:2], bias=b[:2], activation=act)
    assert info.value.field == "activation"
