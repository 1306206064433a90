"""Render a receptive-field report (see :func:`wavedil.receptive.analyze`).

Three formats: ``text`` (an aligned table for terminals), ``markdown`` (to
paste into docs) and ``json`` (stable keys for scripts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FORMATS = ("text", "markdown", "json")

_COLUMNS = (
    ("index", "#"),
    ("kind", "kind"),
    ("kernel_size", "kernel"),
    ("dilation", "dilation"),
    ("channels", "channels"),
    ("activation", "activation"),
    ("parameters", "params"),
    ("macs_per_sample", "MACs/sample"),
    ("span", "span"),
    ("receptive_field", "RF"),
    ("receptive_field_ms", "RF ms"),
)


def format_for_path(path: str | Path) -> str:
    """The report format a file name asks for: json, markdown, or text."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".md", ".markdown"):
        return "markdown"
    return "text"


def render(report: Mapping[str, Any], fmt: str = "text") -> str:
    """Render ``report`` as ``text``, ``markdown`` or ``json``; ends with a newline."""
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "text":
        return _text(report)
    raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _cells(layer: Mapping[str, Any]) -> list[str]:
    row = dict(layer, channels=f"{layer['in_channels']}->{layer['out_channels']}")
    return [_num(row[key]) for key, _ in _COLUMNS]


def _samples(n: int, sr: int | None) -> str:
    return f"{n:,} samples" + (f" ({1000.0 * n / sr:,.3f} ms)" if sr else "")


def _summary(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    sr = report["sample_rate"]
    if report["receptive_field"] is None:
        rf, history = "recurrent: unbounded (the state carries the whole past)", "unbounded"
    else:
        rf = f"{report['receptive_field']:,} samples"
        if report["receptive_field_ms"] is not None:
            rf += f" = {report['receptive_field_ms']:.3f} ms at {sr:,} Hz"
        history = f"{report['history']:,}"
    lines = [
        ("receptive field", rf),
        ("history / lookahead", f"{history} / {report['lookahead']:,} samples"),
        ("padding", report["padding"]),
        ("channels in -> out", f"{report['in_channels']} -> {report['out_channels']}"),
        ("parameters", f"{report['parameters']:,}"),
        ("MACs per sample", f"{report['macs_per_sample']:,}"),
    ]
    if report["macs_per_second"] is not None:
        lines.append(("MACs per second", f"{report['macs_per_second']:,} at {sr:,} Hz"))
    dense = report.get("dense_equivalent")
    if dense:
        lines.append(
            (
                "dense equivalent",
                f"one kernel of {dense['kernel_size']:,} taps, {dense['channels']} channel(s): {dense['parameters']:,} parameters "
                f"({_ratio(dense['parameters_ratio'])}), {dense['macs_per_sample']:,} MACs/sample ({_ratio(dense['macs_ratio'])})",
            )
        )
    cov = report.get("coverage")
    if cov:
        if cov["complete"]:
            text = "complete: every offset 0..RF-1 is reached"
        else:
            shown = ", ".join(map(str, cov["holes"][:12])) + (", ..." if cov["hole_count"] > 12 else "")
            text = f"{cov['hole_count']:,} hole(s), {100 * cov['hole_fraction']:.1f}% of the field, at offsets {shown}"
        lines.append(("coverage", text))
    if report.get("measured_receptive_field") is not None:
        lines.append(("measured receptive field", _samples(report["measured_receptive_field"], sr)))
    memory = report.get("memory")
    if memory:
        if memory["samples"] is None:
            text = f"beyond the {memory['probe_samples']:,}-sample probe"
        else:
            text = _samples(memory["samples"], sr)
        lines.append(("measured memory", f"{text}: an impulse's effect stays below {memory['threshold_db']:g} dB after it"))
    for sub in report.get("submodels") or []:
        rf_sub = "recurrent" if sub["receptive_field"] is None else f"RF {sub['receptive_field']:,}"
        mark = " (running)" if sub["active"] else ""
        lines.append(
            (
                f"submodel {sub['max_value']:g}",
                f"{sub['architecture']}, {rf_sub}, {sub['parameters']:,} parameters, {sub['macs_per_sample']:,} MACs/sample{mark}",
            )
        )
    erf = report.get("effective_receptive_field")
    if erf:
        lines.append(
            (
                "effective receptive field",
                f"50% within {_samples(erf['samples_50'], sr)}, 95% within {_samples(erf['samples_95'], sr)} "
                f"(squared sensitivity, from {erf['source']}" + (f", {erf['positions']} positions)" if erf.get("positions") else ")"),
            )
        )
    fr = report.get("frequency_response")
    if fr:
        at = f"at {fr['sample_rate']:,} Hz" + (" (assumed)" if fr.get("assumed_sample_rate") else "")
        gains = ", ".join(f"{g['frequency']:g} Hz {g['gain_db']:+.1f} dB" for g in fr["gains"])
        lines.append(("frequency response", f"{at}: DC {fr['dc_gain_db']:+.1f} dB, Nyquist {fr['nyquist_gain_db']:+.1f} dB"))
        if gains:
            lines.append(("gains", gains))
        if fr["notch_count"]:
            shown = ", ".join(f"{f:g}" for f in fr["notches_hz"][:12]) + (", ..." if fr["notch_count"] > 12 else "")
            lines.append(("comb notches", f"{fr['notch_count']} (>= 30 dB deep) at {shown} Hz"))
    speed = report.get("speed")
    if speed:
        lines.append(
            (
                "speed",
                f"{speed['realtime_factor']:,.1f}x real time ({speed['samples_per_second']:,.0f} samples/s); "
                f"real time needs {100 * speed['realtime_cpu_share']:.2f}% of one core",
            )
        )
    lines += [(key.replace("_", " "), str(value)) for key, value in report.get("metadata", {}).items()]
    audio = report.get("audio")
    if audio:
        lines += [
            ("input", audio["input"]),
            ("output", f"{audio['output']} ({audio['format']}/{audio['subtype']})"),
            ("audio", f"{audio['frames']:,} frames = {audio['seconds']:.3f} s, {audio['channels']} -> {audio['out_channels']} ch"),
        ]
        if audio.get("skipped"):
            # The output existed and was not made again: what filtering measures is unknown.
            lines.append(("skipped", "the output existed; clipped samples, peak and gain were not measured"))
        else:
            lines += [
                ("clipped samples", f"{audio['clipped_samples']:,}"),
                ("output peak / gain", f"{audio['peak']:.4f} / {audio['gain']:.4f}"),
            ]
    return lines


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}x this stack"


def _warnings(report: Mapping[str, Any]) -> list[str]:
    """Lines a reader must not miss: gridding and a suspicious measured field."""
    out = []
    cov = report.get("coverage")
    if cov and not cov["complete"]:
        out.append(
            f"WARNING: gridding: the output never hears {cov['hole_count']:,} of the past offsets in its field "
            "(see coverage). Choose each dilation no larger than the receptive field built before it, "
            "or add layers with the missing dilations."
        )
        out += [f"  fix: {fix}" for fix in report.get("gridding", [])]
    note = report.get("measured_note")
    if note and "measured_receptive_field" not in report.get("skipped", {}):
        out.append(("!!! " if note.startswith("BUG") else "note: ") + f"measured receptive field: {note}")
    out += [f"note: {what.replace('_', ' ')} not computed: {why}" for what, why in report.get("skipped", {}).items()]
    return out


def _title(report: Mapping[str, Any]) -> str:
    title = report["name"] or "stack"
    if report["description"]:
        title += f": {report['description']}"
    return title


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join("{:>%d}" % w for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)]


def _text(report: Mapping[str, Any]) -> str:
    lines = [_title(report), ""]
    summary = _summary(report)
    width = max(len(k) for k, _ in summary)
    lines += [f"{k:<{width}}  {v}" for k, v in summary]
    warnings = _warnings(report)
    if warnings:
        lines += ["", *warnings]
    lines.append("")
    lines += _table([h for _, h in _COLUMNS], [_cells(layer) for layer in report["layers"]])
    return "\n".join(lines) + "\n"


def _markdown(report: Mapping[str, Any]) -> str:
    lines = [f"## {_title(report)}", ""]
    lines += [f"- **{k}**: {v}" for k, v in _summary(report)]
    warnings = _warnings(report)
    if warnings:
        lines += ["", *(f"> {w}" for w in warnings)]
    lines.append("")
    header = [h for _, h in _COLUMNS]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" for _ in header) + "|")
    lines += ["| " + " | ".join(_cells(layer)) + " |" for layer in report["layers"]]
    return "\n".join(lines) + "\n"
