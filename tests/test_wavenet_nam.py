"""WaveNet blocks (spec form) and .nam files: against a plain loop of the Core's formulas (core_reference)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter, resample_poly

import core_reference
import wavedil
from wavedil.errors import SampleRateError, SpecError
from wavedil.formats.nam import load_nam, parse_nam, save_nam, to_nam
from wavedil.models.wavenet import WaveNet
from wavedil.models.wavenet_flat import ArraySettings, from_flat, seeded_weights


def arrays(*specs: dict) -> list[ArraySettings]:
    out = []
    prev = None
    for s in specs:
        kw = dict(
            input_size=1 if prev is None else prev["channels"],
            condition_size=1,
            activation="tanh",
            gated=False,
            head_bias=True,
        )
        kw.update(s)
        kw["dilations"] = tuple(kw["dilations"])
        out.append(ArraySettings(**kw))
        prev = kw
    return out


def make_net(settings_list: list[ArraySettings], seed: int = 0, head_scale: float = 0.5) -> WaveNet:
    return from_flat(settings_list, seeded_weights(settings_list, seed), head_scale)


def loop_reference(net: WaveNet, x: np.ndarray) -> np.ndarray:
    """The network's ``.nam`` document evaluated sample by sample by :mod:`core_reference`, input preceded by silence."""
    return core_reference.run(to_nam(net), x, net.history)


def stack_of(net: WaveNet, sample_rate: int | None = None) -> wavedil.Stack:
    return wavedil.Stack(layers=(net,), sample_rate=sample_rate)


SHAPES = {
    "plain": arrays(dict(channels=2, kernel_size=2, dilations=[1, 2], head_size=1)),
    "gated": arrays(dict(channels=2, kernel_size=3, dilations=[1, 3], head_size=1, gated=True)),
    "two_arrays": arrays(
        dict(channels=3, kernel_size=2, dilations=[1, 2, 4], head_size=2, activation="relu", head_bias=False),
        dict(channels=2, kernel_size=3, dilations=[1, 2], head_size=1, activation="hardtanh"),
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_tiny_wavenet_matches_the_loop(name):
    net = make_net(SHAPES[name], seed=3)
    x = np.random.default_rng(1).normal(0, 0.5, 40)
    got = wavedil.apply(stack_of(net), x, dtype=np.float64)
    np.testing.assert_allclose(got, loop_reference(net, x)[:, 0], rtol=1e-10, atol=1e-12)


def test_wavenet_output_starts_in_the_steady_state_of_silence():
    net = make_net(SHAPES["two_arrays"], seed=5)
    y = wavedil.apply(stack_of(net), np.zeros(64), dtype=np.float64)
    # Biases make the silent output non-zero, and constant from the first sample.
    assert abs(y[0]) > 1e-6
    np.testing.assert_allclose(y, y[0], rtol=0, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from(sorted(SHAPES)),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
)
def test_wavenet_block_size_invariance(shape, cuts, seed):
    net = make_net(SHAPES[shape], seed=seed)
    x = np.random.default_rng(seed).normal(0, 0.5, (120, 2))
    whole = wavedil.apply(stack_of(net), x, dtype=np.float64)
    f = wavedil.StreamingFilter(stack_of(net), channels=2, dtype=np.float64)
    parts, start = [], 0
    for c in cuts * 20:
        if start >= len(x):
            break
        parts.append(f.process(x[start : start + c]))
        start += c
    parts.append(f.process(x[start:]))
    parts.append(f.flush())
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-14)


def test_wavenet_receptive_field_is_exact():
    net = make_net(SHAPES["two_arrays"], seed=2)
    rf = stack_of(net).receptive_field
    assert rf == 1 + (2 - 1) * 7 + (3 - 1) * 3
    x = np.random.default_rng(0).normal(0, 0.5, 80)
    t = 60
    base = wavedil.apply(stack_of(net), x, dtype=np.float64)
    inside, outside = x.copy(), x.copy()
    inside[t - rf + 1] += 1.0
    outside[t - rf] += 1.0
    assert wavedil.apply(stack_of(net), inside, dtype=np.float64)[t] != base[t]
    assert wavedil.apply(stack_of(net), outside, dtype=np.float64)[t] == base[t]


# ---------------------------------------------------------------------------
# .nam files


STANDARD = arrays(
    dict(channels=16, kernel_size=3, dilations=[2**i for i in range(10)], head_size=8, head_bias=False),
    dict(channels=8, kernel_size=3, dilations=[2**i for i in range(10)], head_size=1, head_bias=True),
)


def write_nam(path, net: WaveNet, **kw) -> None:
    path.write_text(json.dumps(to_nam(net, **kw)))


def test_standard_capture_report_figures(tmp_path):
    path = tmp_path / "standard.nam"
    write_nam(path, make_net(STANDARD, head_scale=0.02), metadata={"name": "Test Amp", "gear_type": "amp", "loudness": -18.5})
    report = wavedil.analyze(load_nam(path))
    assert report["receptive_field"] == 4093
    assert report["sample_rate"] == 48000
    assert round(report["receptive_field_ms"], 1) == 85.3
    assert report["parameters"] == 13801
    assert report["metadata"] == {"name": "Test Amp", "gear_type": "amp", "loudness": -18.5}
    assert report["layers"][-1]["receptive_field"] == 4093
    text = wavedil.render(report, "text")
    assert "4,093 samples = 85.271 ms at 48,000 Hz" in text and "Test Amp" in text


def test_nam_round_trip_and_tap_order(tmp_path):
    net = make_net(SHAPES["gated"], seed=11)
    path = tmp_path / "m.nam"
    write_nam(path, net)
    loaded = load_nam(path).layers[0]
    for a, b in zip(net.arrays, loaded.arrays):
        for la, lb in zip(a.layers, b.layers):
            np.testing.assert_array_equal(la.conv.weight, lb.conv.weight)
    doc = json.loads(path.read_text())
    # In the file (PyTorch order) the first conv's last tap meets the current sample.
    first_conv = np.array(doc["weights"][2 : 2 + 4 * 2 * 3]).reshape(4, 2, 3)
    np.testing.assert_array_equal(first_conv[:, :, ::-1], net.arrays[0].layers[0].conv.weight)


@pytest.mark.parametrize("version", ["0.7.0", "0.5.4"])
def test_save_nam_writes_a_file_that_reads_back_and_runs_the_same(tmp_path, version):
    net = make_net(SHAPES["two_arrays"], seed=7, head_scale=0.3)
    path = tmp_path / "saved.nam"
    save_nam(net, path, sample_rate=44100, metadata={"name": "Saved"}, version=version)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert (doc["version"], doc["architecture"], doc["sample_rate"]) == (version, "WaveNet", 44100)
    stack = load_nam(path)
    assert (stack.sample_rate, stack.name, stack.receptive_field) == (44100, "Saved", 1 + net.history)
    x = np.random.default_rng(2).normal(0, 0.5, 60)
    got = wavedil.apply(stack, x, dtype=np.float64)
    # The written document run sample by sample with the Core's formulas, and the network it was written from.
    np.testing.assert_allclose(got, core_reference.run(doc, x, net.history)[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got, wavedil.apply(stack_of(net), x, dtype=np.float64))


def test_missing_sample_rate_means_48k(tmp_path):
    doc = to_nam(make_net(SHAPES["plain"]), sample_rate=None)
    assert "sample_rate" not in doc
    assert parse_nam(doc).sample_rate == 48000


def test_nam_linear_architecture_matches_lfilter(tmp_path):
    # NeuralAmpModelerCore puts weights[0] on the current sample (NAM's Python 0.13.0 and earlier
    # reversed them; the plugin is the reference), so the taps are lfilter's b as they stand.
    taps = [0.1, -0.2, 0.3, 0.5]
    doc = {"version": "0.5.2", "architecture": "Linear", "config": {"receptive_field": 4, "bias": True}, "weights": taps + [0.05]}
    stack = parse_nam(doc)
    x = np.random.default_rng(0).normal(size=200)
    want = lfilter(taps, [1.0], x) + 0.05
    np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), want, rtol=1e-12, atol=1e-12)


def _bad(doc) -> str:
    with pytest.raises(SpecError) as info:
        parse_nam(doc)
    return str(info.value)


def test_bad_nam_documents_name_the_problem():
    good = to_nam(make_net(SHAPES["plain"]))
    n = len(good["weights"])
    msg = _bad(dict(good, weights=good["weights"][:-3]))
    assert f"expected {n} numbers" in msg and f"found {n - 3}" in msg
    msg = _bad(dict(good, architecture="Transformer"))
    assert "unsupported architecture 'Transformer'" in msg and "WaveNet" in msg and "LSTM" in msg
    msg = _bad(dict(good, architecture="Sequential"))
    assert "Sequential" in msg and "plugin engine has no parser" in msg
    both = json.loads(json.dumps(good))
    both["config"]["layers"][0]["kernel_size"] = 2
    assert "kernel_size or kernel_sizes, not both" in _bad(both)
    film = json.loads(json.dumps(good))
    film["config"]["layers"][0]["film_params"] = {}
    assert "film_params" in _bad(film)
    head = json.loads(json.dumps(good))
    head["config"]["head"] = {"channels": 4}
    assert "head" in _bad(head)
    act = json.loads(json.dumps(good))
    act["config"]["layers"][0]["activation"] = "Swishy"
    assert "Swishy" in _bad(act)
    assert "weights" in _bad({"version": "0.5.0", "architecture": "WaveNet", "config": good["config"]})


def test_truncated_and_hostile_nam_files(tmp_path):
    good = json.dumps(to_nam(make_net(SHAPES["plain"])))
    trunc = tmp_path / "trunc.nam"
    trunc.write_text(good[: len(good) // 2])
    with pytest.raises(SpecError, match="malformed JSON"):
        load_nam(trunc)
    huge = json.loads(good)
    huge["config"]["layers"][0]["channels"] = 10**9
    with pytest.raises(SpecError, match="limit"):
        parse_nam(huge)
    nan = tmp_path / "nan.nam"
    nan.write_text(good.replace('"head_scale": 0.5', '"head_scale": NaN'))
    with pytest.raises(SpecError):
        load_nam(nan)


def test_sample_rate_mismatch_is_refused_then_resampled(tmp_path):
    net = make_net(SHAPES["plain"], seed=4)
    model = tmp_path / "m.nam"
    write_nam(model, net, sample_rate=48000)
    x = np.random.default_rng(2).normal(0, 0.2, 4410)
    src = tmp_path / "in44.wav"
    sf.write(src, x, 44100, subtype="FLOAT")
    stack = load_nam(model)
    with pytest.raises(SampleRateError) as info:
        wavedil.process_file(src, tmp_path / "out.wav", stack)
    assert (info.value.audio_rate, info.value.model_rate) == (44100, 48000)
    assert str(info.value) == f"{src}: the audio is at 44100 Hz but the model runs at 48000 Hz; resample=True converts it"
    result = wavedil.process_file(src, tmp_path / "out.wav", stack, resample=True, dtype=np.float64)
    y, sr = sf.read(tmp_path / "out.wav")
    assert sr == 44100 and len(y) == len(x) and result.sample_rate == 44100
    up = resample_poly(x, 160, 147)
    want = resample_poly(wavedil.apply(stack, up, dtype=np.float64), 147, 160)[: len(x)]
    np.testing.assert_allclose(y, want, atol=1e-6)


# ---------------------------------------------------------------------------
# The spec form and the preset


def test_wavenet_spec_inline_npz_and_seed_agree(tmp_path):
    settings_list = SHAPES["gated"]
    flat = seeded_weights(settings_list, 7)
    np.savez(tmp_path / "w.npz", weights=flat)
    arr = {"channels": 2, "kernel_size": 3, "dilations": [1, 3], "gated": True, "head_size": 1}
    base = {"type": "wavenet", "head_scale": 0.5, "arrays": [arr]}
    seeded = wavedil.parse_spec({"layers": [dict(base, init={"seed": 7})]})
    inline = wavedil.parse_spec({"layers": [dict(base, weights=flat.tolist())]})
    (tmp_path / "s.json").write_text(json.dumps({"layers": [dict(base, weights="w.npz")]}))
    from_npz = wavedil.load_spec(tmp_path / "s.json")
    x = np.random.default_rng(0).normal(size=100)
    ref = loop_reference(make_net(settings_list, seed=7), x)[:, 0]
    for stack in (seeded, inline, from_npz):
        np.testing.assert_allclose(wavedil.apply(stack, x, dtype=np.float64), ref, rtol=1e-10, atol=1e-12)


def test_wavenet_spec_errors_name_layer_and_field(tmp_path):
    arr = {"channels": 2, "kernel_size": 3, "dilations": [1, 3], "head_size": 1}
    cases = [
        ({"type": "wavenet", "arrays": [arr]}, "weights"),
        ({"type": "wavenet", "arrays": [arr], "weights": [0.1, 0.2]}, "expected"),
        ({"type": "wavenet", "arrays": [dict(arr, dilations=[0])], "init": {"seed": 1}}, "arrays[1].dilations"),
        ({"type": "wavenet", "arrays": [dict(arr, activation="wobble")], "init": {"seed": 1}}, "arrays[1].activation"),
        ({"type": "wavenet", "arrays": [arr], "init": {"seed": -1}}, "init"),
        ({"type": "wavenet", "arrays": [arr], "weights": "missing.npz"}, "no such file"),
    ]
    for layer, fragment in cases:
        with pytest.raises(SpecError) as info:
            wavedil.parse_spec({"layers": [{"weights": [1.0]}, layer]}, source="net.toml", base_dir=tmp_path)
        assert "net.toml: layer 2" in str(info.value) and fragment in str(info.value)


def test_npz_is_never_unpickled(tmp_path):
    # As many values as the network needs, but Python objects: refused from the header, never unpickled.
    np.save(tmp_path / "weights.npy", np.array([object()] * 9, dtype=object), allow_pickle=True)
    import zipfile

    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as zf:
        zf.write(tmp_path / "weights.npy", "weights.npy")
    layer = {"type": "wavenet", "arrays": [{"channels": 1, "kernel_size": 2, "dilations": [1]}], "weights": "evil.npz"}
    with pytest.raises(SpecError, match="'weights' holds 9 object values, expected 9 numbers"):
        wavedil.parse_spec({"layers": [layer]}, base_dir=tmp_path)


def test_wavenet_preset_has_the_paper_receptive_field():
    stack = wavedil.preset("wavenet")
    assert stack.receptive_field == 3070
    (net,) = stack.layers
    layers = net.arrays[0].layers
    assert all(layer.gating == "gated" and layer.conv.kernel_size == 2 for layer in layers)
    assert [layer.conv.dilation for layer in layers] == [2**i for i in range(10)] * 3


def test_cli_applies_a_nam_file(tmp_path):
    net = make_net(SHAPES["two_arrays"], seed=9)
    model = tmp_path / "capture.nam"
    write_nam(model, net)
    x = np.random.default_rng(3).normal(0, 0.3, 3000)
    sf.write(tmp_path / "guitar.wav", x, 48000, subtype="FLOAT")
    proc = subprocess.run(
        [sys.executable, "-m", "wavedil", "apply", str(tmp_path / "guitar.wav"), "-o", str(tmp_path / "amp.wav"), "--spec", str(model), "--report", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    y, _ = sf.read(tmp_path / "amp.wav")
    want = wavedil.apply(stack_of(net), x.astype(np.float32))
    np.testing.assert_allclose(y, want, atol=1e-6)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["receptive_field"] == stack_of(net).receptive_field
