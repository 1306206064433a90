"""A batch analyzes its stack once per sample rate; each file's report adds only what depends on the file."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

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
