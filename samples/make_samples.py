"""Synthesize the audio in samples/ from scratch, deterministically.

Run from the repository root: ``python samples/make_samples.py``. Every file is
made by a seeded generator, so running it again gives the same bytes.

- ``pluck_44k1_mono.wav``: a plucked-string phrase (Karplus-Strong), 44.1 kHz, mono, 16-bit.
- ``drums_48k_stereo.wav``: kick, snare and hi-hat hits panned apart, 48 kHz, stereo, 24-bit.
- ``voice_48k_mono.wav``: a vowel-like buzz through formant resonators, 48 kHz, mono, 16-bit.
- ``chirp_44k1_stereo.wav``: a logarithmic sweep, left leading right, 44.1 kHz, stereo, 16-bit.
- ``di_guitar_48k_mono.wav``: the plucked phrase as a guitar's direct input (DI), quieter, 48 kHz, mono, 24-bit.
- ``cab_ir_48k.wav``: a synthetic guitar-cabinet impulse response, 85 ms, 48 kHz, mono, 24-bit.
- ``seeded_amp.nam``: a small WaveNet capture with seeded weights (it shows the re-amping commands;
  random weights are not a trained amp's tone), written by wavedil's own ``.nam`` writer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

HERE = Path(__file__).resolve().parent
SEED = 20261122


def pluck(freq: float, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong: a noise burst circulating in a delay line with a damped two-point average.

    The loop y[n] = x[n] + g/2 (y[n-N] + y[n-N-1]) is an IIR filter, so lfilter runs it.
    """
    period = int(round(sr / freq))
    n = int(seconds * sr)
    burst = np.zeros(n)
    burst[:period] = rng.uniform(-1.0, 1.0, period)
    burst[:period] -= burst[:period].mean()
    a = np.zeros(period + 2)
    a[0] = 1.0
    a[period] = a[period + 1] = -0.996 / 2
    return signal.lfilter([1.0], a, burst)


def pluck_phrase(sr: int = 44100) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    # An A-minor arpeggio, then a held chord.
    notes = [(220.0, 0.0), (261.63, 0.3), (329.63, 0.6), (440.0, 0.9), (329.63, 1.2), (261.63, 1.5)]
    out = np.zeros(int(3.0 * sr))
    for freq, start in notes:
        s = int(start * sr)
        tone = pluck(freq, 3.0 - start, sr, rng)
        out[s:s + tone.size] += tone
    for freq in (220.0, 261.63, 329.63):
        s = int(1.8 * sr)
        tone = pluck(freq, 1.2, sr, rng)
        out[s:s + tone.size] += 0.7 * tone
    return 0.8 * out / np.max(np.abs(out))


def drums(sr: int = 48000) -> np.ndarray:
    rng = np.random.default_rng(SEED + 1)
    n = int(2.0 * sr)
    left = np.zeros(n)
    right = np.zeros(n)
    t = np.arange(int(0.4 * sr)) / sr

    # Kick: a sine whose pitch falls from 120 to 45 Hz, with a fast decay.
    freq = 45.0 + 75.0 * np.exp(-t / 0.04)
    kick = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.18)
    # Snare: band-passed noise plus a 190 Hz body.
    b, a = signal.butter(2, [1200, 6000], btype="bandpass", fs=sr)
    snare = 0.6 * signal.lfilter(b, a, rng.standard_normal(t.size)) * np.exp(-t / 0.07)
    snare += 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    # Hi-hat: high-passed noise, short.
    b, a = signal.butter(4, 7000, btype="highpass", fs=sr)
    hat = 0.35 * signal.lfilter(b, a, rng.standard_normal(t.size)) * np.exp(-t / 0.02)

    def hit(sound: np.ndarray, at: float, pan: float) -> None:
        s = int(at * sr)
        m = min(sound.size, n - s)
        left[s:s + m] += np.cos(pan * np.pi / 2) * sound[:m]
        right[s:s + m] += np.sin(pan * np.pi / 2) * sound[:m]

    beat = 0.25
    for i in range(8):
        hit(hat, i * beat, 0.7)
        if i % 4 == 0:
            hit(kick, i * beat, 0.5)
        if i % 4 == 2:
            hit(snare, i * beat, 0.4)
    hit(kick, 7.5 * beat, 0.5)
    out = np.stack([left, right], axis=1)
    return 0.85 * out / np.max(np.abs(out))


def voice(sr: int = 48000) -> np.ndarray:
    """A glottal-like pulse train with vibrato, through resonators at the formants of 'a' then 'i'."""
    rng = np.random.default_rng(SEED + 2)
    n = int(2.0 * sr)
    t = np.arange(n) / sr
    f0 = 140.0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t)) * (1 + 0.15 * t / t[-1])
    phase = np.cumsum(f0) / sr
    # A sawtooth-like source, softened, with a little breath noise.
    source = (phase % 1.0) * 2 - 1
    source = signal.lfilter([1.0], [1.0, -0.9], np.diff(source, prepend=source[0]))
    source += 0.02 * rng.standard_normal(n)
    half = n // 2
    out = np.zeros(n)
    for seg, formants in ((slice(0, half), (730, 1090, 2440)), (slice(half, n), (270, 2290, 3010))):
        part = np.zeros(n)
        for f, bw in zip(formants, (90, 110, 170)):
            r = np.exp(-np.pi * bw / sr)
            a = [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
            part += signal.lfilter([1 - r], a, source)
        out[seg] = part[seg]
    envelope = np.minimum(1.0, np.minimum(t / 0.05, (t[-1] - t) / 0.1))
    out *= envelope
    return 0.7 * out / np.max(np.abs(out))


def chirp(sr: int = 44100) -> np.ndarray:
    t = np.arange(int(2.0 * sr)) / sr
    sweep = 0.5 * signal.chirp(t, f0=40.0, t1=t[-1], f1=16000.0, method="logarithmic")
    fade = np.minimum(1.0, np.minimum(t / 0.01, (t[-1] - t) / 0.01))
    sweep *= fade
    delay = int(0.004 * sr)
    right = np.concatenate([np.zeros(delay), sweep[:-delay]])
    return np.stack([sweep, 0.8 * right], axis=1)


def cabinet_ir(sr: int = 48000) -> np.ndarray:
    """A guitar cabinet's kind of response: a speaker's band (80 Hz to 5 kHz, steep above), a presence bump, a short decay.

    Decaying noise (an 8 ms envelope after a 0.3 ms onset) through a 4th-order
    band-pass and a +6 dB peak at 2.5 kHz (a second-order resonator), cut to
    4096 samples with a 5 ms fade and scaled to a peak of 0.9.
    """
    rng = np.random.default_rng(SEED + 4)
    n = 4096
    t = np.arange(n) / sr
    burst = rng.normal(0.0, 1.0, n) * np.exp(-t / 0.008) * np.minimum(1.0, t / 0.0003)
    band = signal.butter(4, [80.0, 5000.0], btype="bandpass", fs=sr, output="sos")
    shaped = signal.sosfilt(band, burst)
    b, a = signal.iirpeak(2500.0, Q=1.5, fs=sr)
    shaped = shaped + signal.lfilter(b, a, shaped)  # the band plus its resonance: about +6 dB at 2.5 kHz
    fade = int(0.005 * sr)
    shaped[-fade:] *= np.linspace(1.0, 0.0, fade)
    return 0.9 * shaped / np.max(np.abs(shaped))


def seeded_amp() -> dict:
    """A small A1-style WaveNet (8 channels, kernel 3, dilations 1..128, tanh) with seeded weights, as a .nam document."""
    from wavedil.formats.nam import to_nam
    from wavedil.spec import parse_spec

    net = parse_spec(
        {
            "layers": [
                {
                    "type": "wavenet",
                    "init": {"seed": SEED + 5},
                    "arrays": [{"channels": 8, "kernel_size": 3, "dilations": [1, 2, 4, 8, 16, 32, 64, 128], "activation": "tanh", "head_size": 1, "head_bias": True}],
                }
            ]
        }
    ).layers[0]
    return to_nam(net, sample_rate=48000, metadata={"name": "wavedil seeded amp", "gear_type": "amp", "tone_type": "seeded"})


def main() -> None:
    sf.write(HERE / "pluck_44k1_mono.wav", pluck_phrase(), 44100, subtype="PCM_16")
    sf.write(HERE / "drums_48k_stereo.wav", drums(), 48000, subtype="PCM_24")
    sf.write(HERE / "voice_48k_mono.wav", voice(), 48000, subtype="PCM_16")
    sf.write(HERE / "chirp_44k1_stereo.wav", chirp(), 44100, subtype="PCM_16")
    sf.write(HERE / "di_guitar_48k_mono.wav", 0.5 * pluck_phrase(48000), 48000, subtype="PCM_24")
    sf.write(HERE / "cab_ir_48k.wav", cabinet_ir(), 48000, subtype="PCM_24")
    (HERE / "seeded_amp.nam").write_text(json.dumps(seeded_amp()), encoding="utf-8")
    total = sum(p.stat().st_size for p in (*HERE.glob("*.wav"), HERE / "seeded_amp.nam"))
    print(f"wrote 7 files, {total / 1e6:.2f} MB in all")


if __name__ == "__main__":
    main()
