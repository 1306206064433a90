"""Receptive-field analysis: published figures, coverage, measured and effective fields, planner."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import freqz

import wavedil
from wavedil.cli.main import cli
from wavedil.coverage import coverage, tree_rows
from wavedil.diagram import render_tree
from wavedil.plan import parse_target, plan
from wavedil import probe
from wavedil.probe import effective_receptive_field, impulse_response, measured_receptive_field
from wavedil.receptive import dense_equivalent
from wavedil.models.wavenet_flat import ArraySettings, from_flat, seeded_weights


def mono(dilations, kernel_size=None, taps=None):
    return wavedil.stack_from_dilations(dilations, kernel_size=kernel_size, taps=taps)


def reached_by_brute_force(stack_dilations, k):
    """Offsets reached by enumerating every choice of tap in every layer."""
    offsets = {0}
    for d in stack_dilations:
        offsets = {o + j * d for o in offsets for j in range(k)}
    return offsets


# -- published figures --------------------------------------------------------


def test_seed_figures_3_7_15():
    r = wavedil.analyze(mono([1, 2, 4], kernel_size=3), 48000)
    assert [layer["receptive_field"] for layer in r["layers"]] == [3, 7, 15]
    assert r["receptive_field"] == 15 and r["history"] == 14 and r["lookahead"] == 0


def test_wavenet_paper_block_hears_1024():
    stack = mono([2**i for i in range(10)], kernel_size=2)
    assert stack.receptive_field == 1024
    assert wavedil.analyze(stack)["coverage"]["complete"]


@pytest.mark.parametrize("k,dilations,stacks", [(2, [1, 2, 4, 8], 1), (3, [1, 2, 4, 8, 16, 32], 2), (5, [1, 3], 3)])
def test_tcn_residual_block_field_is_the_oldest_reachable_offset(k, dilations, stacks):
    # keras-tcn: two convolutions per residual block; the skip adds no field. The reference
    # enumerates every path of taps, independently of the formula the stack implements.
    schedule = [d for d in dilations for _ in range(2)] * stacks
    assert mono(schedule, kernel_size=k).receptive_field == max(reached_by_brute_force(schedule, k)) + 1


def test_same_padding_lookahead():
    stack = mono([1, 2, 4], kernel_size=3).replace(padding="same")
    assert wavedil.analyze(stack)["lookahead"] == 7


# -- coverage -----------------------------------------------------------------


@pytest.mark.parametrize(
    "k,dilations,holes",
    [
        (2, [1, 4], [2, 3]),
        (2, [1, 2, 4], []),
        (2, [2], [1]),
        (3, [1, 4], [3, 7]),
        (2, [1, 3, 9], [2, 5, 6, 7, 8, 11]),
    ],
)
def test_coverage_holes_on_known_cases(k, dilations, holes):
    cov = wavedil.analyze(mono(dilations, kernel_size=k))["coverage"]
    assert cov["holes"] == holes
    assert cov["complete"] == (not holes)
    rf = 1 + (k - 1) * sum(dilations)
    assert cov["hole_fraction"] == pytest.approx(len(holes) / rf)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 4), dilations=st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_coverage_equals_brute_force_enumeration(k, dilations):
    stack = mono(dilations, kernel_size=k)
    want = reached_by_brute_force(dilations, k)
    got = set(np.flatnonzero(coverage(stack).reached).tolist())
    assert got == want


def test_wavenet_residual_paths_reach_the_same_holes():
    # A WaveNet block with dilations 1, 4 (kernel 2) still misses offsets 2 and 3:
    # residual and skip paths add offset 0, never the gap.
    s = [ArraySettings(1, 1, 2, 2, (1, 4), "tanh", False, 1, True)]
    stack = wavedil.Stack(layers=(from_flat(s, seeded_weights(s, 0), 1.0),))
    assert coverage(stack).holes == [2, 3]
    complete = [ArraySettings(1, 1, 2, 2, (1, 2, 4), "tanh", True, 1, True)]
    assert coverage(wavedil.Stack(layers=(from_flat(complete, seeded_weights(complete, 0), 1.0),))).complete


def test_gridding_warning_names_a_fix():
    r = wavedil.analyze(mono([1, 4], kernel_size=2))
    fix = "layer 2: dilation 4 exceeds the receptive field before it (2); use a dilation of at most 2, or insert layers before it so the field reaches 4"
    assert r["gridding"] == [fix]
    lines = wavedil.render(r, "text").splitlines()
    assert lines[lines.index(f"  fix: {fix}") - 1].startswith("WARNING: gridding: the output never hears 2 of the past offsets")


# -- measured receptive field ---------------------------------------------------


def test_measured_field_sees_vanishing_far_taps():
    stack = mono([1, 2], taps=[0.5, 0.5, 0.0])
    r = wavedil.analyze(stack)
    assert r["receptive_field"] == 7 and r["measured_receptive_field"] == 4
    assert r["measured_note"] == (
        "the output does not depend on the oldest 3 offset(s): their taps vanish (zero weights) or their influence is below float64 resolution"
    )


@settings(max_examples=40, deadline=None)
@given(
    taps=st.lists(st.floats(0.2, 1.0) | st.floats(-1.0, -0.2), min_size=2, max_size=3),
    dilations=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    activation=st.sampled_from(["linear", "tanh", "sigmoid", "gelu"]),
)
def test_measured_equals_analytic_on_random_stacks(taps, dilations, activation):
    stack = wavedil.stack_from_dilations(dilations, taps=taps, activation=activation)
    assert measured_receptive_field(stack) == stack.receptive_field


@settings(max_examples=30, deadline=None)
@given(
    taps=st.lists(st.floats(0.2, 1.0) | st.floats(-1.0, -0.2), min_size=2, max_size=3),
    dilations=st.lists(st.integers(1, 9), min_size=1, max_size=3),
)
def test_measured_never_exceeds_analytic_with_relu(taps, dilations):
    # A ReLU path can be dead wherever the probe looks (taps -1, -1 twice even
    # silence the output): never more than the analytic field, possibly less.
    stack = wavedil.stack_from_dilations(dilations, taps=taps, activation="relu")
    assert 0 <= measured_receptive_field(stack) <= stack.receptive_field


def test_measured_field_of_a_wavenet_equals_the_analytic():
    s = [ArraySettings(1, 1, 3, 2, (1, 2, 4, 8), "tanh", False, 1, True)]
    stack = wavedil.Stack(layers=(from_flat(s, seeded_weights(s, 1), 1.0),))
    assert measured_receptive_field(stack) == stack.receptive_field == 16


# -- effective receptive field ----------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 4, 6, 8])
def test_erf_of_moving_averages(n):
    stack = mono([2**i for i in range(n)], kernel_size=2)
    erf = effective_receptive_field(stack)
    size = 2**n
    assert erf["samples_95"] == math.ceil(0.95 * size)
    assert erf["samples_50"] == math.ceil(0.5 * size)
    np.testing.assert_allclose(erf["profile"], np.full(size, 1.0 / size))


def test_erf_is_the_impulse_response_for_linear_stacks():
    stack = mono([1, 3], taps=[1.0, -0.5, 0.25])
    h = np.convolve([1.0, -0.5, 0.25], [1.0, 0, 0, -0.5, 0, 0, 0.25])
    np.testing.assert_allclose(effective_receptive_field(stack)["profile"], np.abs(h), atol=1e-15)


def test_erf_of_a_nonlinear_stack_matches_analytic_derivative():
    # y = tanh(g * x[t] + g * x[t-1]): dy/dx[t-i] = g * (1 - y^2) for i = 0, 1.
    g = 0.8
    stack = wavedil.stack_from_dilations([1], taps=[g, g], activation="tanh")
    rng = np.random.default_rng(5)
    audio = rng.normal(0, 0.5, (6, 4, 1))
    erf = effective_receptive_field(stack, audio)
    s = 1  # the probed sample (RF - 1)
    d0 = g * (1 - np.tanh(g * audio[:, s, 0] + g * audio[:, s - 1, 0]) ** 2)
    d1 = g * (1 - np.tanh(g * audio[:, s + 1, 0] + g * audio[:, s, 0]) ** 2)
    want = np.sqrt([np.mean(d0**2), np.mean(d1**2)])
    np.testing.assert_allclose(erf["profile"], want, rtol=1e-6)
    assert erf["source"] == "input audio"


# -- dense equivalent, frequency response ------------------------------------------


def test_dense_equivalent_is_the_seed_claim_measured():
    stack = mono([2**i for i in range(13)], kernel_size=2)
    d = dense_equivalent(stack)
    assert d["kernel_size"] == 8192 and d["macs_per_sample"] == 8192 and d["channels"] == 1
    assert d["macs_ratio"] == pytest.approx(8192 / 26)


def test_frequency_response_matches_freqz_and_finds_comb_notches():
    stack = wavedil.stack_from_dilations([40], taps=[0.5, 0.5])
    fr = wavedil.analyze(stack, 44100, frequencies=[100.0, 551.25, 1000.0])["frequency_response"]
    h = np.zeros(41)
    h[0] = h[40] = 0.5
    _, resp = freqz(h, worN=[100.0, 1000.0], fs=44100)
    assert fr["gains"][0]["gain_db"] == pytest.approx(20 * np.log10(abs(resp[0])))
    assert fr["gains"][2]["gain_db"] == pytest.approx(20 * np.log10(abs(resp[1])))
    assert fr["gains"][1]["gain_db"] < -100
    # Notches of 0.5 + 0.5 z^-40 at odd multiples of fs / 80.
    assert fr["notch_count"] == 20
    np.testing.assert_allclose(fr["notches_hz"], [(2 * m + 1) * 44100 / 80 for m in range(20)], atol=0.01)


def test_no_frequency_response_for_nonlinear_stacks():
    assert wavedil.analyze(wavedil.preset("drive"))["frequency_response"] is None


def test_impulse_response_equals_the_convolved_upsampled_taps():
    stack = mono([1, 2, 4], kernel_size=3)
    h = np.array([1.0])
    for d in (1, 2, 4):
        up = np.zeros(2 * d + 1)
        up[::d] = 1 / 3
        h = np.convolve(h, up)
    np.testing.assert_allclose(impulse_response(stack)[:, 0, 0], h, atol=1e-15)


# -- pictures -------------------------------------------------------------------


def test_diagram_of_the_seed_stack():
    text = render_tree(mono([1, 2, 4], kernel_size=3))
    assert text.splitlines()[1:] == [
        "output   ..............o",
        "layer 2  ......o...o...o",
        "layer 1  ..o.o.o.o.o.o.o",
        "input    ooooooooooooooo",
    ]


def test_diagram_summarizes_wide_fields():
    text = render_tree(mono([2**i for i in range(12)], kernel_size=2), width=64)
    lines = text.splitlines()
    assert "64 per column" in lines[0]
    assert all(len(line.split()[-1]) == 64 for line in lines[1:])
    assert lines[-1].split()[-1] == "#" * 64


def test_tree_rows_of_a_gridded_stack_show_the_holes():
    rows = tree_rows(mono([1, 4], kernel_size=2))
    assert rows[-1][1].tolist() == [True, True, False, False, True, True]


def test_plot_writes_png_and_svg(tmp_path):
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(cli, ["report", "--preset", "comb", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = CliRunner().invoke(cli, ["report", "--preset", "drive", "--plot", str(tmp_path / "p.svg")])
    assert result.exit_code == 0 and b"<svg" in (tmp_path / "p.svg").read_bytes()[:400]
    result = CliRunner().invoke(cli, ["report", "--preset", "drive", "--plot", str(tmp_path / "p.jpg")])
    assert result.exit_code == 1 and ".png or .svg" in result.output


# -- planner ------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("target", [15, 1000, 4800])
def test_plan_candidates_reach_the_target_and_order_by_cost(k, target):
    cands = plan(target, k)
    assert cands and cands[0]["coverage"]["complete"]
    for c in cands:
        stack = wavedil.stack_from_dilations(c["dilations"], kernel_size=k)
        assert c["receptive_field"] == stack.receptive_field >= target
        assert c["coverage"]["complete"] == coverage(stack).complete
        assert c["macs_per_sample"] == k * len(c["dilations"])
    complete = [c for c in cands if c["coverage"]["complete"]]
    assert [c["macs_per_sample"] for c in complete] == sorted(c["macs_per_sample"] for c in complete)
    assert cands.index(complete[-1]) < len(complete)


def test_plan_respects_max_dilation():
    for c in plan(4800, 2, max_dilation=512):
        assert max(c["dilations"]) <= 512


def test_plan_targets():
    assert parse_target("100ms", 48000) == 4800
    assert parse_target("0.5s", 44100) == 22050
    assert parse_target("4800", None) == 4800
    with pytest.raises(wavedil.WavedilError):
        parse_target("100ms", None)
    with pytest.raises(wavedil.WavedilError):
        parse_target("fast", 48000)


def test_plan_cli_writes_a_spec_ready_for_apply(tmp_path):
    spec = tmp_path / "plan.toml"
    r = CliRunner().invoke(cli, ["plan", "--target", "100ms", "--sample-rate", "48000", "--kernel-size", "3", "--write", str(spec), "--format", "json"])
    assert r.exit_code == 0, r.output
    cands = json.loads(r.output)
    assert {"dilations", "kernel_size", "receptive_field", "parameters", "coverage"} <= set(cands[0])
    stack = wavedil.load_spec(spec)
    assert stack.receptive_field == cands[0]["receptive_field"] >= 4800
    assert [layer.dilation for layer in stack.layers] == cands[0]["dilations"]


# -- every stack gets the report in every format --------------------------------


@pytest.mark.parametrize("name", sorted(wavedil.PRESETS))
@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_every_preset_reports_in_every_format(name, fmt):
    r = CliRunner().invoke(cli, ["report", "--preset", name, "--format", fmt, "--sample-rate", "48000"])
    assert r.exit_code == 0, r.output
    if fmt == "json":
        doc = json.loads(r.output)
        for key in ("coverage", "measured_receptive_field", "effective_receptive_field", "dense_equivalent"):
            assert key in doc
        assert set(doc["coverage"]) >= {"complete", "holes", "hole_fraction"}
        assert set(doc["effective_receptive_field"]) >= {"samples_50", "samples_95", "profile"}
        assert doc["measured_receptive_field"] <= doc["receptive_field"]
    else:
        assert "receptive field" in r.output and "coverage" in r.output


def test_speed_is_reported_without_asserting_a_time():
    r = CliRunner().invoke(cli, ["report", "--preset", "smooth", "--speed", "--format", "json"])
    speed = json.loads(r.output)["speed"]
    timing = {"seconds_audio", "seconds_wall", "samples_per_second", "realtime_factor", "realtime_cpu_share"}
    assert set(speed) == timing | {"engine", "fast_tanh", "layer_engines"}  # and which engine was timed
    assert speed["seconds_audio"] == 5.0  # 5 s of noise at the assumed 48 kHz


def test_speed_is_the_best_of_three_runs(monkeypatch):
    # A clock whose three runs take 0.5, 0.25 and 0.4 s: the figures are those of the fastest.
    ticks = iter([0.0, 0.5, 1.0, 1.25, 2.0, 2.4])
    monkeypatch.setattr(probe.time, "perf_counter", lambda: next(ticks))
    speed = probe.measure_speed(mono([1, 2], kernel_size=2), 48000, seconds=1.0)
    assert (speed.seconds_audio, speed.seconds_wall) == (1.0, 0.25)
    assert (speed.samples_per_second, speed.realtime_factor, speed.realtime_cpu_share) == (192000.0, 4.0, 0.25)
