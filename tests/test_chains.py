"""Chains of stages, impulse responses and gains, against their stages run one after another and scipy."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.chains import PerChannel, chain
from wavedil.engines import numba_installed
from wavedil.errors import AudioError, SpecError
from wavedil.gains import gain
from wavedil.impulses import ImpulseResponse, ir
from wavedil.partitioned import MIN_PARTITION, PartitionedRunner, partition_size
from wavedil.segments import parallel_apply
from wavedil.spec import parse_spec, stack_from_dilations
from wavedil.stack import Stack


def _response(rng: np.random.Generator, length: int, channels: int = 1) -> np.ndarray:
    """A decaying noise response, like a cabinet's or a room's."""
    return rng.normal(0.0, 1.0, (length, channels)) * np.exp(-np.arange(length) / max(1.0, length / 6))[:, None]


def _ir_stage(taps: np.ndarray, rate: int | None = None) -> Stack:
    return Stack(layers=(ImpulseResponse(taps, sample_rate=rate),), name="IR test")


def _nonlinear(seed: int) -> Stack:
    rng = np.random.default_rng(seed)
    return parse_spec(
        {
            "layers": [
                {"dilation": 1, "kernel_size": 3, "weights": rng.normal(0, 0.6, 3).tolist(), "bias": 0.1, "activation": "tanh"},
                {"dilation": 4, "kernel_size": 2, "weights": rng.normal(0, 0.6, 2).tolist(), "activation": "linear"},
            ]
        }
    )


def _serial(stages: list[Stack], x: np.ndarray) -> np.ndarray:
    """The stages applied one after another to whole arrays, the input preceded by silence.

    A chain's input is preceded by endless silence, so each stage hears the
    previous stage's answer to that silence (a biased layer's constant), not
    silence: the input gets a lead of silence as long as the chain's
    receptive field, which is then cut from the output.
    """
    lead = 1 + sum(s.receptive_field - 1 for s in stages)
    x = np.concatenate([np.zeros((lead, *x.shape[1:])), x])
    for stage in stages:
        x = wavedil.apply(stage, x, dtype=np.float64)
    return x[lead:]


# --- the partitioned convolution ------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 3000),
    blocks=st.lists(st.integers(1, 2000), min_size=1, max_size=6),
    channels=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_partitioned_convolution_equals_fftconvolve_for_any_blocks(length, blocks, channels, seed):
    rng = np.random.default_rng(seed)
    h = _response(rng, length, channels).T
    n = sum(blocks)
    x = rng.normal(0.0, 1.0, (2, channels, n))
    runner = PartitionedRunner(h, 2, np.dtype(np.float64), max(blocks))
    runner.prime(np.zeros(channels))
    y = np.empty_like(x)
    at = 0
    for b in blocks:
        runner.run(x[..., at : at + b], y[..., at : at + b])
        at += b
    ref = np.array([[scipy.signal.fftconvolve(x[s, c], h[c])[:n] for c in range(channels)] for s in range(2)])
    assert np.max(np.abs(y - ref)) <= 1e-12 * max(1.0, np.max(np.abs(ref)))


def test_partitioned_convolution_in_float32_and_its_steady_state():
    rng = np.random.default_rng(3)
    h = _response(rng, 5000).T
    x = rng.normal(0.0, 1.0, (1, 1, 20000))
    runner = PartitionedRunner(h, 1, np.dtype(np.float32), 4096)
    assert (runner.p, runner.k) == (2048, 3)
    y = np.empty(x.shape, dtype=np.float32)
    runner.run(x.astype(np.float32), y)
    ref = scipy.signal.fftconvolve(x[0, 0], h[0])[:20000]
    assert np.max(np.abs(y[0, 0] - ref)) <= 2e-6 * np.max(np.abs(ref))
    # A constant input forever before: the output is the constant times the response's sum, from the first sample.
    steady = PartitionedRunner(h, 1, np.dtype(np.float64), 4096)
    level = steady.prime(np.array([0.25]))
    out = np.empty((1, 1, 9000))
    steady.run(np.full((1, 1, 9000), 0.25), out)
    assert level[0] == pytest.approx(0.25 * h.sum())
    assert np.max(np.abs(out - level[0])) <= 1e-12 * abs(level[0]) * 100


def test_partition_size_is_a_power_of_two_within_the_block():
    for length in (1, 100, 24000, 1 << 22):
        for block in (1, 7, 1024, 65536):
            p = partition_size(length, block)
            assert p & (p - 1) == 0 and p <= max(MIN_PARTITION, block)


# --- the IR stage -----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 4000), block_size=st.sampled_from([1, 17, 256, 1000, 4096]), seed=st.integers(0, 2**16))
def test_ir_stage_equals_fftconvolve_for_any_block_size(length, block_size, seed):
    rng = np.random.default_rng(seed)
    h = _response(rng, length)
    x = rng.normal(0.0, 1.0, 3000 if block_size > 1 else 300)
    y = wavedil.apply(_ir_stage(h), x, dtype=np.float64, block_size=block_size)
    ref = scipy.signal.fftconvolve(x, h[:, 0])[: len(x)]
    assert np.max(np.abs(y - ref)) <= 1e-12 * np.max(np.abs(ref))


def test_ir_stage_in_float32_on_stereo_audio_per_channel_and_mono():
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 0.3, (10000, 2))
    stereo, mono = _response(rng, 2000, 2), _response(rng, 2000, 1)
    y = wavedil.apply(_ir_stage(stereo), x)
    ref = np.stack([scipy.signal.fftconvolve(x[:, c], stereo[:, c])[:10000] for c in range(2)], axis=1)
    assert y.dtype == np.float32 and np.max(np.abs(y - ref)) <= 1e-5 * np.max(np.abs(ref))
    y = wavedil.apply(_ir_stage(mono), x)
    ref = np.stack([scipy.signal.fftconvolve(x[:, c], mono[:, 0])[:10000] for c in range(2)], axis=1)
    assert np.max(np.abs(y - ref)) <= 1e-5 * np.max(np.abs(ref))


def test_ir_reads_a_file_normalizes_and_resamples(tmp_path):
    rng = np.random.default_rng(7)
    h = _response(rng, 4410)[:, 0] * 0.2
    path = tmp_path / "cab 1.wav"
    sf.write(path, h, 44100, subtype="DOUBLE")
    stage = ir(path)
    assert stage.kind == "ir" and stage.name == "IR cab 1.wav"
    layer = stage.layers[0]
    assert layer.sample_rate == 44100 and np.array_equal(layer.taps[:, 0], h)
    unit = ir(path, normalize=True).layers[0]
    assert np.sum(unit.taps**2) == pytest.approx(1.0, rel=1e-12)
    # At 48 kHz: the same frequency response (within the interpolation's error), the same DC gain.
    moved = stage.at_rate(48000)
    assert moved.resampled_responses() == [("cab 1.wav", 44100, 48000)]
    assert moved.layers[0].taps.sum() == pytest.approx(h.sum(), rel=1e-3)
    freqs = np.array([100.0, 1000.0, 5000.0])
    _, a = scipy.signal.freqz(h, worN=freqs, fs=44100)
    _, b = scipy.signal.freqz(moved.layers[0].taps[:, 0], worN=freqs, fs=48000)
    assert np.max(np.abs(np.abs(b) - np.abs(a)) / np.abs(a)) < 0.02
    assert ir(path, sample_rate=48000).layers[0].length == moved.layers[0].length
    assert stage.at_rate(44100) is stage


def test_ir_refuses_bad_files_with_one_line(tmp_path, monkeypatch):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(100), 48000)
    with pytest.raises(AudioError, match=r"silent\.wav: is silent"):
        ir(silent)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([1.0, np.nan, 0.5]), 48000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: holds NaN"):
        ir(nan)
    long = tmp_path / "long.wav"
    sf.write(long, np.ones(300), 48000)
    monkeypatch.setattr("wavedil.impulses.MAX_IR_FRAMES", 200)
    with pytest.raises(AudioError, match=r"long\.wav: 300 frames is longer"):
        ir(long)
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioError, match="not a regular file"):
        ir(fifo)
    with pytest.raises(AudioError, match="no such file"):
        ir(tmp_path / "missing.wav")


# --- gains --------------------------------------------------------------------------------------


def test_gain_scales_and_folds_into_the_next_layer():
    x = np.random.default_rng(1).normal(0.0, 0.5, 2000)
    assert np.allclose(wavedil.apply(gain(-6), x, dtype=np.float64), x * 10 ** (-6 / 20), rtol=1e-15, atol=0)
    drive = _nonlinear(2)
    both = gain(12) + drive
    assert np.allclose(wavedil.apply(both, x, dtype=np.float64), wavedil.apply(drive, x * 10 ** (12 / 20), dtype=np.float64), rtol=1e-12, atol=1e-12)
    # After a nonlinear stage the factor reaches the output.
    after = drive + gain(-3)
    assert np.allclose(wavedil.apply(after, x, dtype=np.float64), wavedil.apply(drive, x, dtype=np.float64) * 10 ** (-3 / 20), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 201.0, -1e9, "loud", True])
def test_gain_refuses_what_is_not_a_finite_level(bad):
    with pytest.raises(SpecError, match="gain"):
        gain(bad)


# --- chains ------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["gain", "ir", "drive", "smooth"]), min_size=1, max_size=5),
    block_size=st.sampled_from([1, 64, 500, 4096]),
    seed=st.integers(0, 2**16),
)
def test_a_chain_equals_its_stages_run_one_after_another(kinds, block_size, seed):
    rng = np.random.default_rng(seed)
    stages = []
    for kind in kinds:
        if kind == "gain":
            stages.append(gain(float(rng.uniform(-12, 12))))
        elif kind == "ir":
            stages.append(_ir_stage(_response(rng, int(rng.integers(1, 1500)))))
        elif kind == "drive":
            stages.append(_nonlinear(int(rng.integers(0, 1000))))
        else:
            stages.append(stack_from_dilations([1, 2, 8], taps=rng.normal(0, 0.5, 2).tolist()))
    x = rng.normal(0.0, 0.5, 600 if block_size == 1 else 5000)
    whole = chain(*stages)
    assert whole.receptive_field == 1 + sum(s.receptive_field - 1 for s in stages)
    y = wavedil.apply(whole, x, dtype=np.float64, block_size=block_size)
    ref = _serial(stages, x)
    assert np.max(np.abs(y - ref)) <= 1e-10 * max(1.0, np.max(np.abs(ref)))


def test_a_chain_split_into_segments_equals_the_serial_run():
    rng = np.random.default_rng(11)
    stages = [gain(6), _nonlinear(3), _ir_stage(_response(rng, 3000)), gain(-3)]
    whole = chain(*stages)
    x = rng.normal(0.0, 0.3, (40000, 2)).astype(np.float32)
    serial = wavedil.apply(whole, x, block_size=1024)
    with ThreadPoolExecutor(2) as executor:
        split = parallel_apply(whole, x, executor, workers=2, block_size=1024, segment_frames=8192)
    # The FFT frames of a segment fall elsewhere than the serial run's: equal to float32 rounding, not bit for bit.
    assert np.max(np.abs(split - serial)) <= 1e-5 * np.max(np.abs(serial))
    plain = chain(gain(6), _nonlinear(3), gain(-3))
    with ThreadPoolExecutor(2) as executor:
        assert np.array_equal(parallel_apply(plain, x, executor, workers=2, block_size=1024, segment_frames=8192), wavedil.apply(plain, x, block_size=1024))


def test_stages_and_names_are_kept_and_chains_flatten():
    rng = np.random.default_rng(2)
    cab = _ir_stage(_response(rng, 100))
    a = gain(3) + _nonlinear(1)
    b = cab + gain(-3)
    whole = a + b
    assert [(s.name, s.kind, s.first, s.count) for s in whole.stages] == [
        ("gain +3 dB", "gain", 0, 1),
        ("stack", "stack", 1, 2),
        ("IR test", "ir", 3, 1),
        ("gain -3 dB", "gain", 4, 1),
    ]
    assert whole.name == "gain +3 dB > stack > IR test > gain -3 dB"
    assert chain(a, b).layers == whole.layers
    assert chain(cab) is cab
    with pytest.raises(TypeError):
        _ = cab + 3  # type: ignore[operator]


def test_mono_stages_run_per_channel_beside_a_stereo_response():
    rng = np.random.default_rng(4)
    drive, cab = _nonlinear(5), _ir_stage(_response(rng, 500, 2))
    whole = drive + cab + gain(-6)
    assert [type(layer) for layer in whole.layers] == [PerChannel, PerChannel, ImpulseResponse, PerChannel]
    assert (whole.in_channels, whole.out_channels, whole.is_mono) == (2, 2, False)
    x = rng.normal(0.0, 0.5, (3000, 2))
    ref = _serial([drive, cab, gain(-6)], x)
    assert np.max(np.abs(wavedil.apply(whole, x, dtype=np.float64, block_size=256) - ref)) <= 1e-10 * np.max(np.abs(ref))


def test_chains_refuse_what_does_not_fit():
    rng = np.random.default_rng(6)
    stereo, triple = _ir_stage(_response(rng, 10, 2)), _ir_stage(_response(rng, 10, 3))
    with pytest.raises(SpecError, match=r"stage 2 \(IR test\) takes 3 channel\(s\) but stage 1 \(IR test\) gives 2"):
        chain(stereo, triple)
    a, b = _nonlinear(1).replace(sample_rate=48000, name="amp"), _nonlinear(2).replace(sample_rate=44100, name="pedal")
    with pytest.raises(SpecError, match="different sample rates: stage 1 \\(amp\\) 48000 Hz, stage 2 \\(pedal\\) 44100 Hz"):
        chain(a, b)
    centred = _nonlinear(3).replace(padding="same", name="centred")
    with pytest.raises(SpecError, match=r"stage 2 \(centred\) has padding 'same'"):
        chain(gain(1), centred)
    both = chain(gain(1), centred, padding="same")
    x = rng.normal(0.0, 0.5, 500)
    assert np.allclose(wavedil.apply(both, x, dtype=np.float64), wavedil.apply(centred, x * 10 ** (1 / 20), dtype=np.float64), rtol=1e-12, atol=1e-14)
    with pytest.raises(SpecError, match="at least one stage"):
        chain()


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_gain_before_a_capture_after_a_biased_stage_starts_in_the_right_state(engine):
    """A deferred gain reaches a capture's steady state too: the capture after a stage that answers silence with a constant."""
    if engine == "numba" and not numba_installed():
        pytest.skip("numba is not installed")
    net = parse_spec(
        {
            "layers": [
                {
                    "type": "wavenet",
                    "init": {"seed": 8},
                    "arrays": [{"channels": 4, "kernel_size": 3, "dilations": [1, 2, 4], "activation": "tanh", "head_size": 1, "head_bias": True}],
                }
            ]
        }
    )
    stages = [_nonlinear(4), gain(20), net, gain(-6), net]
    x = np.random.default_rng(8).normal(0.0, 0.3, 3000)
    y = wavedil.apply(chain(*stages), x, dtype=np.float64, engine=engine)
    ref = _serial(stages, x)
    assert np.max(np.abs(y - ref)) <= 1e-9 * np.max(np.abs(ref))


def test_a_chain_is_held_to_the_limits_of_a_stack():
    with pytest.raises(SpecError, match=r"layers exceed the limit of 4,096"):
        chain(*[wavedil.preset("smooth")] * 1025)
    with pytest.raises(SpecError, match="receptive field 16777217 samples exceeds the limit"):
        chain(*[stack_from_dilations([2**20], kernel_size=2)] * 17)
    with pytest.raises(SpecError, match="a chain's name is a string"):
        chain(gain(1), gain(2), name=5)  # type: ignore[arg-type]


def test_a_normalized_response_has_unit_energy_at_the_rate_it_runs(tmp_path):
    path = tmp_path / "cab.wav"
    sf.write(path, _response(np.random.default_rng(9), 600)[:, 0] * 0.1, 8000, subtype="DOUBLE")
    for rate in (8000, 44100, 48000):
        assert np.sum(ir(path, normalize=True).layers[0].at_rate(rate).taps ** 2) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(SpecError, match="normalize is True or False"):
        ir(path, normalize="no")  # type: ignore[arg-type]
    for bad in (0, -1, 44100.5, True):
        with pytest.raises(SpecError, match="a sample rate is a whole number of Hz"):
            ir(path).layers[0].at_rate(bad)  # type: ignore[arg-type]


def test_a_response_resampled_past_the_limit_is_refused_before_it_is_made(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    sf.write(path, np.ones(1000) * 0.1, 8000)
    monkeypatch.setattr("wavedil.impulses.MAX_IR_FRAMES", 5000)
    with pytest.raises(AudioError, match=r"long\.wav: long\.wav: resampled from 8000 Hz to 48000 Hz it would be 6,000 frames"):
        ir(path, sample_rate=48000)


def test_a_chain_file_is_refused_at_the_stage_that_passes_a_limit():
    """Not after building every stage: the totals are checked as the stages come."""
    document = {"chain": [{"preset": "smooth"}] * 1025}  # 4 layers each: the 1025th passes 4,096
    with pytest.raises(SpecError, match=r"chain\[1025\]: 4,100 layers exceed the limit of 4,096"):
        parse_spec(document, source="many.toml")
