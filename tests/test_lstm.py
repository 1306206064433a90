"""NAM's LSTM: against the equations as a plain loop written here, and against NAM's own PyTorch code."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.engines import Engine, resolve_engine
from wavedil.errors import SpecError, WavedilError
from wavedil.models.lstm import LSTM, LSTMRunner, lstm_from_nam, weight_count
from wavedil.probe import measured_memory
from wavedil.limits import MAX_CHANNELS, MAX_LAYERS
from wavedil.stack import Stack

F64 = np.dtype(np.float64)
HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")
ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]


def tolerance(engine: str, want: np.ndarray, *, fast: bool = False) -> float:
    """How far a float64 run may be from the float64 loop: both engines compute its formulas in float64 (libm's
    tanh and exp); with fast tanh the compiled kernel's constants are float32 (wavedil.kernels.tanh)."""
    return 1e-7 * float(np.max(np.abs(want))) if fast and engine != "numpy" else 1e-12


def config(num_layers: int, input_size: int, hidden_size: int, out_channels: int = 1) -> dict:
    cfg = {"num_layers": num_layers, "input_size": input_size, "hidden_size": hidden_size}
    if input_size != 1:
        cfg["in_channels"] = input_size
    if out_channels != 1:
        cfg["out_channels"] = out_channels
    return cfg


def flat_weights(cfg: dict, seed: int, scale: float = 0.8) -> np.ndarray:
    n = weight_count(cfg["num_layers"], cfg["input_size"], cfg["hidden_size"], cfg.get("out_channels", 1))
    return np.random.default_rng(seed).uniform(-scale, scale, n)


def core_fast_tanh(x: float) -> float:
    """NeuralAmpModelerCore's fast_tanh (NAM/activations.h), written out in float64."""
    ax, x2 = abs(x), x * x
    return (x * (2.45550750702956 + 2.45550750702956 * ax + (0.893229853513558 + 0.821226666969744 * ax) * x2)) / (
        2.44506634652299 + (2.44506634652299 + x2) * abs(x + 0.814642734961073 * x * ax)
    )


def loop_reference(cfg: dict, flat: np.ndarray, x: np.ndarray, prewarm: int, steady: list[float] | None = None, *, fast: bool = False) -> np.ndarray:
    """The LSTM equations sample by sample, reading the flat vector in the Core's order.

    ``x`` is (in_channels, n). The state starts from the file's h and c, then
    ``prewarm`` samples of ``steady`` (silence by default) run before ``x``.
    Returns (out_channels, n).
    """
    L, I, H = cfg["num_layers"], cfg["input_size"], cfg["hidden_size"]
    O = cfg.get("out_channels", 1)
    it = iter(float(v) for v in flat)
    W, b, h, c = [], [], [], []
    for l in range(L):
        cols = (I if l == 0 else H) + H
        W.append([[next(it) for _ in range(cols)] for _ in range(4 * H)])
        b.append([next(it) for _ in range(4 * H)])
        h.append([next(it) for _ in range(H)])
        c.append([next(it) for _ in range(H)])
    head_w = [[next(it) for _ in range(H)] for _ in range(O)]
    head_b = [next(it) for _ in range(O)]
    assert next(it, None) is None

    def sig(v: float) -> float:
        # The Core's lstm.cpp with fast tanh: fast_sigmoid for every gate, fast_tanh for g and the cell.
        return 0.5 * (core_fast_tanh(0.5 * v) + 1.0) if fast else 1.0 / (1.0 + math.exp(-v))

    tanh = core_fast_tanh if fast else math.tanh

    def step(u: list[float]) -> list[float]:
        for l in range(L):
            v = list(u) + h[l]
            z = [b[l][k] + sum(W[l][k][j] * v[j] for j in range(len(v))) for k in range(4 * H)]
            for j in range(H):
                i, f, g, o = sig(z[j]), sig(z[H + j]), tanh(z[2 * H + j]), sig(z[3 * H + j])
                c[l][j] = f * c[l][j] + i * g
                h[l][j] = o * tanh(c[l][j])
            u = h[l]
        return [head_b[o] + sum(head_w[o][j] * u[j] for j in range(H)) for o in range(O)]

    steady = [0.0] * I if steady is None else steady
    for _ in range(prewarm):
        step(steady)
    xs = np.asarray(x, dtype=np.float64)
    return np.array([step(list(xs[:, t])) for t in range(xs.shape[1])]).T


def run(lstm: LSTM, x: np.ndarray, *, engine: str | None = None, dtype=F64, block: int | None = None, steady=None, fast: bool = False) -> np.ndarray:
    """Prime then run ``x`` (batch, in, n) in one call; returns (batch, out, n)."""
    batch, _, n = x.shape
    chosen = Engine(engine, fast) if engine is not None else resolve_engine(None, fast_tanh=fast)
    r = LSTMRunner(lstm, batch, np.dtype(dtype), block or max(n, 1), engine=chosen)
    r.prime(np.zeros(lstm.in_channels) if steady is None else np.asarray(steady))
    out = np.empty((batch, lstm.out_channels, n), dtype=dtype)
    r.run(x.astype(dtype), out)
    return out


SHAPES = {
    "core_example": (1, 1, 3, 1),
    "deep_multichannel": (3, 2, 4, 2),
    "one_unit_three_outputs": (2, 1, 1, 3),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_matches_the_loop(name, engine):
    cfg = config(*SHAPES[name])
    flat = flat_weights(cfg, seed=len(name))
    lstm = lstm_from_nam(cfg, flat, sample_rate=101)  # prewarm int(50.5) = 50 samples
    assert lstm.prewarm_samples == 50
    x = np.random.default_rng(3).normal(0, 0.7, (cfg["input_size"], 300))
    want = loop_reference(cfg, flat, x, prewarm=50)
    got = run(lstm, x[None], engine=engine)[0]
    assert np.max(np.abs(got - want)) < tolerance(engine, want)


@pytest.mark.parametrize("engine", ENGINES)
def test_prime_runs_the_steady_input_from_the_file_state(engine):
    cfg = config(2, 2, 3)
    flat = flat_weights(cfg, seed=7)
    lstm = lstm_from_nam(cfg, flat, sample_rate=40)
    steady = [0.3, -0.2]
    x = np.random.default_rng(4).normal(0, 0.5, (2, 50))
    want = loop_reference(cfg, flat, x, prewarm=20, steady=steady)
    got = run(lstm, x[None], engine=engine, steady=steady)[0]
    assert np.max(np.abs(got - want)) < tolerance(engine, want)
    r = LSTMRunner(lstm, 1, F64, 16, engine=engine)
    # prime returns the output of the last prewarm sample: the loop's after 20 samples of steady input.
    last = loop_reference(cfg, flat, np.array([steady]).T, prewarm=19, steady=steady)[:, 0]
    assert np.allclose(r.prime(np.array(steady)), last, rtol=0, atol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=25, deadline=None)
@given(
    block=st.integers(1, 40),
    cuts=st.lists(st.integers(1, 90), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
)
def test_block_size_invariance(engine, block, cuts, seed):
    cfg = config(2, 1, 3, 2)
    lstm = lstm_from_nam(cfg, flat_weights(cfg, seed), sample_rate=None)
    x = np.random.default_rng(seed).normal(0, 0.5, (2, 1, sum(cuts)))
    whole = run(lstm, x, engine=engine)
    # Pieces longer than the runner's block are cut again inside run().
    r = LSTMRunner(lstm, 2, F64, block, engine=engine)
    r.prime(np.zeros(1))
    pieces, start = [], 0
    for n in cuts:
        out = np.empty((2, 2, n))
        r.run(x[..., start : start + n], out)
        pieces.append(out)
        start += n
    assert np.max(np.abs(np.concatenate(pieces, axis=-1) - whole)) < 1e-12


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_signals_are_independent(engine):
    """A stereo file through a mono LSTM: each channel as if alone."""
    cfg = config(2, 1, 4)
    lstm = lstm_from_nam(cfg, flat_weights(cfg, 11), sample_rate=200)
    x = np.random.default_rng(5).normal(0, 0.5, (2, 1, 400))
    both = run(lstm, x, engine=engine)
    for ch in range(2):
        alone = run(lstm, x[ch : ch + 1], engine=engine)
        assert np.max(np.abs(both[ch] - alone[0])) < 1e-13
    assert np.max(np.abs(both[0] - both[1])) > 1e-3


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_fast_tanh_is_the_cores(name, dtype, engine):
    """With fast tanh, every gate and the cell use the Core's fast_tanh and fast_sigmoid (its lstm.cpp)."""
    cfg = config(*SHAPES[name])
    flat = flat_weights(cfg, seed=len(name) + 1, scale=1.5)
    lstm = lstm_from_nam(cfg, flat, sample_rate=101)
    x = np.random.default_rng(9).normal(0, 1.0, (cfg["input_size"], 400))
    want = loop_reference(cfg, flat, x, prewarm=50, fast=True)
    got = run(lstm, x[None], engine=engine, dtype=dtype, fast=True)[0]
    # A float32 output (and the compiled kernel's float32 arithmetic) is held to the engines' rule.
    tol = tolerance(engine, want, fast=True) if dtype == np.float64 else 1e-5 * np.max(np.abs(want))
    assert np.max(np.abs(got - want)) < tol
    accurate = loop_reference(cfg, flat, x, prewarm=50)
    assert np.max(np.abs(want - accurate)) > 1e-4  # the approximation is visible, so the test can fail


@needs_numba
def test_fast_tanh_through_the_filter():
    cfg = config(1, 1, 3)
    flat = flat_weights(cfg, seed=5, scale=1.5)
    stack = Stack(layers=(lstm_from_nam(cfg, flat, sample_rate=100),))
    x = np.random.default_rng(1).normal(0, 1.0, 500)
    want = loop_reference(cfg, flat, x[None], prewarm=50, fast=True)[0]
    for engine in ("numpy", "numba"):
        got = wavedil.apply(stack, x, engine=engine, fast_tanh=True, dtype=np.float64)
        assert np.max(np.abs(got - want)) < 1e-5 * np.max(np.abs(want))


@needs_numba
def test_numba_matches_numpy():
    cfg = config(3, 2, 8, 2)
    lstm = lstm_from_nam(cfg, flat_weights(cfg, 2, scale=1.5), sample_rate=300)
    x = np.random.default_rng(6).normal(0, 1.0, (3, 2, 2000))
    a = run(lstm, x, engine="numpy")
    b = run(lstm, x, engine="numba")
    assert np.max(np.abs(a - b)) <= 1e-6 * np.max(np.abs(a))


def test_engine_choice(monkeypatch):
    lstm = lstm_from_nam(config(1, 1, 2), np.zeros(39), sample_rate=None)
    monkeypatch.setenv("WAVEDIL_ENGINE", "numpy")
    assert LSTMRunner(lstm, 1, F64, 8).engine == "numpy"
    assert lstm.runner(1, F64, 8).engine == "numpy"
    monkeypatch.setenv("WAVEDIL_ENGINE", "fortran")
    with pytest.raises(WavedilError, match="WAVEDIL_ENGINE"):
        LSTMRunner(lstm, 1, F64, 8)
    monkeypatch.delenv("WAVEDIL_ENGINE")
    assert LSTMRunner(lstm, 1, F64, 8).engine == ("numba" if HAS_NUMBA else "numpy")
    if HAS_NUMBA:
        monkeypatch.setenv("WAVEDIL_ENGINE", "numba")
        assert LSTMRunner(lstm, 1, F64, 8).engine == "numba"


@pytest.mark.parametrize("engine", ENGINES)
def test_gain_in_and_float32(engine):
    cfg = config(1, 1, 5)
    lstm = lstm_from_nam(cfg, flat_weights(cfg, 9), sample_rate=100)
    x = np.random.default_rng(8).normal(0, 0.5, (1, 1, 500))
    want = run(lstm, x, engine=engine)
    r = LSTMRunner(lstm, 1, F64, 500, gain_in=4.0, engine=engine)
    r.prime(np.zeros(1))
    got = np.empty_like(want)
    x_in = x / 4.0
    r.run(x_in, got)
    assert r.gain_out == 1.0
    assert np.max(np.abs(got - want)) < 1e-12
    assert np.array_equal(x_in, x / 4.0)  # the input is never written
    f32 = run(lstm, x, engine=engine, dtype=np.float32)
    assert f32.dtype == np.float32
    # NumPy computes in float64 whatever the dtype; the compiled kernel in float32, as the Core does.
    assert np.max(np.abs(f32 - want)) < (1e-6 if engine == "numpy" else 1e-5 * np.max(np.abs(want)))


def test_weight_count_is_checked_exactly():
    cfg = config(2, 1, 3)
    n = weight_count(2, 1, 3, 1)
    assert n == (48 + 12 + 6) + (72 + 12 + 6) + 4
    lstm_from_nam(cfg, np.zeros(n), sample_rate=None)
    for wrong in (n - 1, n + 1, 0):
        with pytest.raises(SpecError) as err:
            lstm_from_nam(cfg, np.zeros(wrong), sample_rate=None)
        assert err.value.field == "weights"
        assert f"expected {n}" in str(err.value) and f"found {wrong}" in str(err.value)


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"input_size": 1, "hidden_size": 3}, "config.num_layers"),
        ({"num_layers": 1, "hidden_size": 3}, "config.input_size"),
        ({"num_layers": 1, "input_size": 1}, "config.hidden_size"),
        ({"num_layers": True, "input_size": 1, "hidden_size": 3}, "config.num_layers"),
        ({"num_layers": 0, "input_size": 1, "hidden_size": 3}, "config.num_layers"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": -2}, "config.hidden_size"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": 3.0}, "config.hidden_size"),
        ({"num_layers": 1, "input_size": "1", "hidden_size": 3}, "config.input_size"),
        ({"num_layers": MAX_LAYERS + 1, "input_size": 1, "hidden_size": 3}, "config.num_layers"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": MAX_CHANNELS + 1}, "config.hidden_size"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": 3, "out_channels": 0}, "config.out_channels"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": 3, "in_channels": False}, "config.in_channels"),
        ({"num_layers": 1, "input_size": 2, "hidden_size": 3}, "config.in_channels"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": 3, "in_channels": 2}, "config.in_channels"),
        ({"num_layers": 1, "input_size": 1, "hidden_size": 3, "bidirectional": True}, "config.bidirectional"),
        ({"num_layers": 100, "input_size": 1, "hidden_size": 1024}, "config"),
    ],
)
def test_bad_config_names_the_field(cfg, field):
    with pytest.raises(SpecError) as err:
        lstm_from_nam(cfg, np.zeros(70), sample_rate=48000)
    assert err.value.field == field


def test_bad_weights_and_sample_rate():
    cfg = config(1, 1, 3)
    good = np.zeros(70)
    with pytest.raises(SpecError, match="finite") as err:
        lstm_from_nam(cfg, np.where(np.arange(70) == 5, np.nan, 0.0), sample_rate=None)
    assert err.value.field == "weights"
    with pytest.raises(SpecError) as err:
        lstm_from_nam(cfg, good.reshape(7, 10), sample_rate=None)
    assert err.value.field == "weights"
    for rate in (0, True, 48000.5, "48000"):
        with pytest.raises(SpecError) as err:
            lstm_from_nam(cfg, good, sample_rate=rate)
        assert err.value.field == "sample_rate"
    with pytest.raises(SpecError) as err:
        lstm_from_nam([("num_layers", 1)], good, sample_rate=None)
    assert err.value.field == "config"


@pytest.mark.parametrize(("rate", "samples"), [(48000, 24000), (44100, 22050), (96000, 48000), (3, 1), (1, 1), (None, 1)])
def test_prewarm_length_is_the_cores(rate, samples):
    assert lstm_from_nam(config(1, 1, 3), np.zeros(70), sample_rate=rate).prewarm_samples == samples


def test_layer_protocol_and_round_trip():
    cfg = config(2, 2, 3, 2)
    flat = flat_weights(cfg, 1)
    lstm = lstm_from_nam(cfg, flat, sample_rate=48000)
    assert (lstm.in_channels, lstm.out_channels, lstm.hidden_size, lstm.num_layers) == (2, 2, 3, 2)
    assert lstm.history is None and not lstm.is_linear
    assert lstm.parameters == flat.size == weight_count(2, 2, 3, 2)
    assert lstm.macs_per_sample == 12 * 5 + 12 * 6 + 2 * 3
    assert lstm.activation_names() == {"sigmoid", "tanh"}
    rows = lstm.rows()
    assert [r["kind"] for r in rows] == ["lstm 1", "lstm 2", "lstm head"]
    assert [r["span"] for r in rows] == [None, None, 1]
    assert sum(r["parameters"] for r in rows) == lstm.parameters
    assert sum(r["macs_per_sample"] for r in rows) == lstm.macs_per_sample
    assert [(r["in_channels"], r["out_channels"]) for r in rows] == [(2, 3), (3, 3), (3, 2)]
    assert np.array_equal(lstm.flat_weights(), flat)
    d = lstm.to_dict()
    assert d["type"] == "lstm" and d["prewarm_samples"] == 24000 and d["sample_rate"] == 48000
    again = lstm_from_nam({k: d[k] for k in cfg} | {"in_channels": 2, "out_channels": 2}, np.array(d["weights"]), sample_rate=d["sample_rate"])
    assert np.array_equal(again.flat_weights(), flat)
    assert not lstm.weights[0].flags.writeable and not lstm.initial_cell.flags.writeable
    assert lstm.weights[1].shape == (12, 6) and lstm.head_weight.shape == (2, 3)
    with pytest.raises(SpecError):
        LSTM(lstm.weights, lstm.biases[:1], lstm.initial_hidden, lstm.initial_cell, lstm.head_weight, lstm.head_bias)


def memory_samples(lstm: LSTM, sample_rate: int, threshold_db: float = -60.0, *, cap_seconds: float = 10.0) -> int | None:
    return measured_memory(Stack(layers=(lstm,)), sample_rate, threshold_db=threshold_db, probe_seconds=cap_seconds)["samples"]


def _memory_by_loop(cfg: dict, flat: np.ndarray, prewarm: int, cap: int, threshold_db: float) -> int | None:
    impulse = np.zeros((cfg["input_size"], cap))
    impulse[:, 0] = 0.1
    dev = np.max(np.abs(loop_reference(cfg, flat, impulse, prewarm) - loop_reference(cfg, flat, np.zeros_like(impulse), prewarm)), axis=0)
    above = np.flatnonzero(dev >= dev.max() * 10 ** (threshold_db / 20))
    m = int(above[-1]) + 1
    return m if m <= cap - cap // 4 else None


@pytest.mark.parametrize(("forget_bias", "short"), [(-6.0, True), (0.0, False)])
def test_memory_matches_the_loop(forget_bias, short):
    cfg = config(1, 1, 2)
    flat = flat_weights(cfg, 4, scale=0.5)
    flat[24 + 2 : 24 + 4] = forget_bias  # b_f: a forget gate near 0 makes the cell forget at once
    lstm = lstm_from_nam(cfg, flat, sample_rate=40)
    got = memory_samples(lstm, 400, threshold_db=-60.0, cap_seconds=1.0)
    assert got == _memory_by_loop(cfg, flat, prewarm=20, cap=400, threshold_db=-60.0)
    assert got is not None and (got < 10) == short


def test_memory_edge_cases():
    cfg = config(1, 1, 2)
    deaf = np.full(39, 0.3)
    deaf[0:24:3] = 0.0  # W_ih: the first column of W is the input's
    assert memory_samples(lstm_from_nam(cfg, deaf, sample_rate=None), 100) == 0
    # Forget gate 1, and g = tanh(0.3 x): silence leaves the cell alone, the impulse moves it for good.
    sticky = np.full(39, 0.3)
    sticky[24 + 2 : 24 + 4] = 30.0  # b_f
    sticky[24 + 4 : 24 + 6] = 0.0  # b_g
    sticky[[13, 14, 16, 17]] = 0.0  # the g rows (4 and 5) of W_hh
    assert memory_samples(lstm_from_nam(cfg, sticky, sample_rate=None), 100, cap_seconds=2.0) is None
    with pytest.raises(ValueError):
        memory_samples(lstm_from_nam(cfg, sticky, sample_rate=None), 100, threshold_db=3.0)


# ---------------------------------------------------------------------------
# NAM's own PyTorch code, when installed


@pytest.fixture(scope="module")
def nam_export(tmp_path_factory):
    torch = pytest.importorskip("torch")
    recurrent = pytest.importorskip("nam.models.recurrent")
    torch.manual_seed(0)
    model = recurrent.LSTM(hidden_size=5, num_layers=2, sample_rate=48000)
    model.eval()
    out = tmp_path_factory.mktemp("nam")
    model.export(out)
    doc = json.loads((out / "model.nam").read_text())
    return torch, model, doc


def test_nam_export_is_read_as_nam_wrote_it(nam_export):
    torch, model, doc = nam_export
    lstm = lstm_from_nam(doc["config"], np.array(doc["weights"]), sample_rate=int(doc["sample_rate"]))
    core = model._core
    with torch.no_grad():
        h, c = model._get_initial_state()  # what NAM's export stores: the state after its own burn-in
        for l in range(2):
            w = torch.cat([getattr(core, f"weight_ih_l{l}"), getattr(core, f"weight_hh_l{l}")], dim=1).numpy()
            b = (getattr(core, f"bias_ih_l{l}") + getattr(core, f"bias_hh_l{l}")).numpy()
            assert np.array_equal(lstm.weights[l], w.astype(np.float64))
            assert np.array_equal(lstm.biases[l], b.astype(np.float64))
        assert np.array_equal(lstm.initial_hidden, h[:, 0].numpy().astype(np.float64))
        assert np.array_equal(lstm.initial_cell, c[:, 0].numpy().astype(np.float64))
        assert np.array_equal(lstm.head_weight, model._head.weight.numpy().astype(np.float64))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("source", ["exported_model", "nam_import"])
def test_matches_nam_pytorch(nam_export, source, engine):
    """NAM's forward pass from the file's state, after the Core's prewarm made explicit.

    NAM's Python runs its LSTM from its own learned initial state with no
    prewarm, and its export stores a different state (after 48000 silent
    samples from zeros). The Core starts from the stored state and prewarms
    int(0.5 * sample_rate) silent samples: the torch model is given the
    stored state and that silence prepended, then the prefix is dropped.
    """
    torch, model, doc = nam_export
    lstm = lstm_from_nam(doc["config"], np.array(doc["weights"]), sample_rate=int(doc["sample_rate"]))
    p = lstm.prewarm_samples
    x = np.random.default_rng(2).normal(0, 0.3, 6000).astype(np.float32)
    padded = torch.from_numpy(np.concatenate([np.zeros(p, np.float32), x]))[None]
    with torch.no_grad():
        if source == "exported_model":
            h, c = model._get_initial_state()
            want = model._forward(padded, initial_state=(h, c))[0, p:].numpy()
        else:
            from nam.models._from_nam import init_from_nam

            imported = init_from_nam(json.loads(json.dumps(doc)))
            imported.eval()
            want = imported(padded)[0, p:].numpy()  # imported: starts from the file's h and c
    peak = np.max(np.abs(want))
    assert peak > 1e-3
    # float32 too: the compiled kernel then computes in float32 with the rational tanh, as the Core and PyTorch
    # compute in float32.
    for dtype in (np.float64, np.float32):
        got = run(lstm, x[None, None].astype(dtype), engine=engine, dtype=dtype)[0, 0]
        assert np.max(np.abs(got - want)) <= 1e-5 * peak
