"""What the report's commands and API promise, checked against independent references."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from scipy.signal import freqz

import wavedil
from wavedil import frequency
from wavedil.cli.main import cli
from wavedil.errors import UsageError
from wavedil.plan import parse_target, plan, render_plan
from wavedil.receptive import ReportCache
from wavedil.report import FORMAT_NAMES, extension_for, format_name


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# -- formats: one set of names --------------------------------------------------


@pytest.mark.parametrize("alias, name", [("md", "markdown"), ("markdown", "markdown"), ("txt", "text"), ("text", "text")])
def test_report_format_aliases_give_the_same_output(alias, name):
    got = invoke("report", "--preset", "seed", "--sample-rate", "48000", "--format", alias)
    want = invoke("report", "--preset", "seed", "--sample-rate", "48000", "--format", name)
    assert got.exit_code == 0, got.output
    assert got.output == want.output
    first = got.output.splitlines()[0]
    assert first.startswith("## seed: ") if name == "markdown" else first.startswith("seed: ")


def test_format_names_map_every_alias_and_refuse_others():
    assert {format_name(a) for a in FORMAT_NAMES} == {"text", "markdown", "json"}
    with pytest.raises(UsageError) as err:
        format_name("html")
    assert str(err.value) == "unknown report format 'html'; known: text, markdown, json (or txt, md)"
    assert [extension_for(a) for a in ("md", "markdown", "txt", "text", "json")] == [".md", ".md", ".txt", ".txt", ".json"]


# -- report -o, --diagram, --freq, --audio ------------------------------------------


def test_report_to_a_file_is_what_stdout_shows(tmp_path):
    out = tmp_path / "r.json"
    assert invoke("report", "--preset", "comb", "--format", "json", "-o", str(out)).output == ""
    shown = invoke("report", "--preset", "comb", "--format", "json").output
    assert json.loads(out.read_text()) == json.loads(shown)
    again = invoke("report", "--preset", "comb", "-o", str(out))
    assert again.exit_code == 1 and "already exists" in again.output


def test_diagram_follows_the_text_report():
    r = invoke("report", "--kernel-size", "2", "--dilations", "1,4", "--sample-rate", "48000", "--diagram")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-4:] == [
        "dilation tree of one output sample: 6 offsets, 1 per column (oldest left, current right)",
        "output   .....o",
        "layer 1  .o...o",
        "input    oo..oo",
    ]


def test_freq_gives_the_gain_at_each_frequency_as_freqz_does():
    r = invoke("report", "--kernel-size", "2", "--dilations", "1,2", "--sample-rate", "48000", "--freq", "100,6000,12000", "--format", "json")
    gains = json.loads(r.output)["frequency_response"]["gains"]
    h = np.convolve([0.5, 0.5], [0.5, 0, 0.5])
    _, resp = freqz(h, worN=[100.0, 6000.0, 12000.0], fs=48000)
    assert [g["frequency"] for g in gains] == [100.0, 6000.0, 12000.0]
    np.testing.assert_allclose([g["gain_db"] for g in gains], 20 * np.log10(np.maximum(np.abs(resp), 1e-15)), atol=1e-9)


def test_audio_averages_the_effective_field_over_the_file(tmp_path):
    # tanh(x[t] + x[t-1]): over loud audio the gate saturates, so the sensitivity is far below noise's.
    path = tmp_path / "loud.wav"
    sf.write(path, np.full(48000, 0.9), 48000, subtype="FLOAT")
    spec = tmp_path / "gate.json"
    spec.write_text(json.dumps({"layers": [{"dilation": 1, "weights": [2.0, 2.0], "activation": "tanh"}]}))
    args = ["report", "--spec", str(spec), "--format", "json"]
    over_file = json.loads(invoke(*args, "--audio", str(path)).output)["effective_receptive_field"]
    over_noise = json.loads(invoke(*args).output)["effective_receptive_field"]
    assert (over_file["source"], over_noise["source"]) == ("input audio", "seeded noise")
    want = 2 * (1 - np.tanh(3.6) ** 2)  # dy/dx[t-i] = 2 * (1 - y^2) at y = tanh(2 * 0.9 + 2 * 0.9)
    np.testing.assert_allclose(over_file["profile"], [want, want], rtol=1e-6)


# -- plan text and markdown ---------------------------------------------------------


def test_plan_text_and_markdown_tables():
    text = invoke("plan", "--target", "8", "--format", "txt").output.splitlines()
    assert text[0] == "target 8 samples, kernel 2"
    assert text[2].split() == ["#", "schedule", "layers", "RF", "RF", "ms", "params", "MACs/sample", "holes", "dilations"]
    assert text[4].split() == ["1", "doubling", "3", "8", "-", "9", "6", "none", "1,2,4"]
    md = invoke("plan", "--target", "8", "--format", "md").output.splitlines()
    assert md[4] == "| 1 | doubling | 3 | 8 | - | 9 | 6 | none | 1,2,4 |"
    assert invoke("plan", "--target", "8", "--format", "markdown").output.splitlines() == md


def test_render_plan_json_is_the_candidates():
    cands = plan(100, 3)
    assert json.loads(render_plan(cands, 100, 3, "json")) == cands


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "100ms"], "a duration needs a sample rate; give one, e.g. --sample-rate 48000"),
        (["--target", "16000000", "--max-dilation", "1"], "a larger maximum dilation (--max-dilation 1048576) reaches it in fewer"),
    ],
)
def test_plan_argument_mistakes_are_usage_errors_naming_the_option(args, message):
    r = invoke("plan", *args)
    assert r.exit_code == 2 and message in r.output


def test_the_library_names_the_setting_not_the_option():
    with pytest.raises(UsageError) as err:
        parse_target("100ms", None)
    assert str(err.value) == "target '100ms': a duration needs a sample rate; give one, e.g. sample_rate=48000"


# -- figures fixed by this change ---------------------------------------------------


def test_a_same_padded_stack_hears_its_whole_field():
    # Same padding shifts the output; the fields count every offset the output depends on.
    for activation in ("linear", "tanh"):
        stack = wavedil.stack_from_dilations([1, 2, 4], kernel_size=3, activation=activation)
        causal = wavedil.analyze(stack)
        same = wavedil.analyze(stack.replace(padding="same"))
        assert same.measured_receptive_field == causal.measured_receptive_field == 15 and same.measured_note is None
        assert same.effective_receptive_field == causal.effective_receptive_field


def test_deliberate_gaps_are_a_note_not_a_gridding_warning():
    for name in ("comb", "echo"):
        text = wavedil.render(wavedil.analyze(wavedil.preset(name)))
        assert "WARNING: gridding" not in text and "note: sparse taps:" in text
    assert "WARNING: gridding" in wavedil.render(wavedil.analyze(wavedil.stack_from_dilations([1, 4], kernel_size=2)))


def test_listed_notches_are_the_zeros_of_a_doubling_stack():
    # 1 + z^-d has zeros at odd multiples of fs / (2d) up to Nyquist: the stack of d = 1..64 at 48 kHz has every one of them.
    h = wavedil.probe.impulse_response(wavedil.stack_from_dilations([2**i for i in range(7)], kernel_size=2))[:, 0, 0]
    fr = frequency.frequency_response(h, 48000)
    zeros = sorted({round(m * 48000 / (2 * d), 6) for d in (2**i for i in range(7)) for m in range(1, d + 1, 2)})
    assert fr.notch_count == len(zeros)
    np.testing.assert_allclose(fr.notches_hz, zeros[: frequency.MAX_NOTCHES], atol=0.0051)


def test_response_at_is_freqz():
    h = np.random.default_rng(3).normal(size=1000)
    f = np.array([0.0, 17.5, 440.0, 12345.6, 24000.0])
    _, want = freqz(h, worN=f, fs=48000)
    np.testing.assert_allclose(frequency.response_at(h, f, 48000), want, rtol=1e-10, atol=1e-10)


# -- the batch's analysis -------------------------------------------------------------


def test_a_cache_analyzes_each_rate_once_and_redoes_only_the_audios_part(tmp_path, monkeypatch):
    from wavedil import receptive

    calls = []
    real = receptive._analysis
    monkeypatch.setattr(receptive, "_analysis", lambda *a: calls.append(a[1]) or real(*a))
    stack = wavedil.preset("drive")
    cache = ReportCache(stack)
    excerpts = np.full((8, 2 * stack.receptive_field, 1), 0.5)
    facts = {"input": "a.wav", "output": "b.wav", "frames": 10, "seconds": 0.5, "sample_rate": 20, "channels": 1, "out_channels": 1,
             "format": "WAV", "subtype": "PCM_16", "clipped_samples": 0, "sanitized_samples": 0, "peak": 0.5, "gain": 1.0}
    first = cache.report(44100, excerpts, facts)
    second = cache.report(44100, None, facts)
    assert calls == [44100] and cache.report(48000).sample_rate == 48000 and calls == [44100, 48000]
    direct = wavedil.analyze(stack, 44100, audio=excerpts)
    assert first.effective_receptive_field == direct.effective_receptive_field
    assert first.to_dict() == {**direct.to_dict(), "audio": facts}
    assert second.effective_receptive_field == wavedil.analyze(stack, 44100).effective_receptive_field
    assert pickle.loads(pickle.dumps(cache)).report(44100, None, facts) == second


def test_a_linear_stack_ignores_the_audio():
    analysis = ReportCache(wavedil.preset("smooth")).analysis(48000)
    assert analysis.positions == 0 and analysis.for_file(np.ones((8, 32, 1))) is analysis.report


def test_a_skipped_probe_names_the_setting_and_the_cli_names_the_option():
    stack = wavedil.preset("wavenet")
    r = wavedil.analyze(stack, 48000, probe_seconds=1e-4)
    why = r.skipped["effective_receptive_field"]
    assert why.startswith("the probe would take about ") and "; raising probe_seconds=" in why
    shown = invoke("report", "--preset", "wavenet", "--probe-seconds", "0.0001").output
    assert "; raising --probe-seconds " in shown and "probe_seconds=" not in shown


# -- pictures -------------------------------------------------------------------------


def test_plot_leaves_the_backend_alone_and_shows_the_echo_taps(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    from wavedil import plot

    before = matplotlib.get_backend()
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("plot switched the backend"))
    stack = wavedil.preset("echo")
    labels, image, step = plot._tree_image(stack)
    # Taps at 0, 2048, 4096 and 6144 back: every one shows in the input row, however wide a column is.
    taps = [0, 2048, 4096, 6144]
    assert labels[-1] == "input" and step > 1
    columns = np.flatnonzero(image[-1])
    assert len(columns) == len(taps) and columns.tolist() == sorted(image.shape[1] - 1 - (t // step) for t in taps)
    plot.plot_stack(stack, wavedil.analyze(stack), tmp_path / "echo.png")
    assert (tmp_path / "echo.png").read_bytes()[:4] == b"\x89PNG" and matplotlib.get_backend() == before
