"""A batch analyzes its stack once per sample rate; each file's report adds only what depends on the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import wavedil
import wavedil.receptive as receptive
from wavedil.batch import LocalWorkers, collect_jobs, run_jobs


def test_a_batch_analyzes_its_stack_once_per_rate(tmp_path, monkeypatch):
    calls = []
    real = receptive._analysis
    monkeypatch.setattr(receptive, "_analysis", lambda stack, rate, *a, **k: calls.append(rate) or real(stack, rate, *a, **k))
    rng = np.random.default_rng(0)
    for name, rate in (("a.wav", 48000), ("b.wav", 48000), ("c.wav", 44100), ("d.wav", 48000)):
        sf.write(tmp_path / name, rng.normal(0, 0.1, 4800), rate)
    jobs, errors = collect_jobs(sorted(str(p) for p in tmp_path.glob("*.wav")), outdir=str(tmp_path / "out"), report_dir=str(tmp_path / "r"))
    stack = wavedil.preset("smooth")
    results = run_jobs(jobs, stack, wavedil.Options(), LocalWorkers(1))
    assert [r.status for r in results] == ["ok"] * 4 and errors == []
    assert sorted(calls) == [44100, 48000]
    for name, rate in (("a", 48000), ("c", 44100)):
        saved = json.loads((tmp_path / "r" / f"{name}.json").read_text())
        alone = wavedil.analyze(stack, rate).with_audio(saved["audio"])
        assert saved == alone.to_dict()  # what a single analysis gives, with the file's own facts
        assert saved["audio"]["input"].endswith(f"{name}.wav")


def test_a_resampled_file_reports_progress_while_it_is_filtered(tmp_path, monkeypatch):
    from wavedil.engine import StreamingFilter

    stack = wavedil.parse_spec({"sample_rate": 48000, "layers": [{"dilation": 1, "weights": [0.5, 0.5]}]})
    x = np.random.default_rng(1).normal(0, 0.1, 3 * 44100)
    sf.write(tmp_path / "in.wav", x, 44100, subtype="FLOAT")
    events: list[tuple[str, float]] = []
    real = StreamingFilter.process
    monkeypatch.setattr(StreamingFilter, "process", lambda self, frames: events.append(("filter", len(frames))) or real(self, frames))
    wavedil.process_file(tmp_path / "in.wav", tmp_path / "out.wav", stack, resample=True, block_size=4096, progress=lambda s: events.append(("progress", s)))
    kinds = [kind for kind, _ in events]
    last_filter = len(kinds) - 1 - kinds[::-1].index("filter")
    assert "progress" in kinds[:last_filter]  # the line moves while the engine works, not only once it is done
    assert sum(s for kind, s in events if kind == "progress") == pytest.approx(3.0, rel=1e-4)
    y = sf.read(tmp_path / "out.wav")[0]
    up = resample_poly(x, 160, 147)
    want = resample_poly(wavedil.apply(stack, up, dtype=np.float32, block_size=4096).astype(np.float64), 147, 160)[: len(x)]
    np.testing.assert_allclose(y, want, atol=1e-6)
