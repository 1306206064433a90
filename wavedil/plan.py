"""Propose dilation schedules that reach a target receptive field.

Every candidate is a mono stack of ``kernel_size``-tap layers; its cost is
``kernel_size`` multiply-accumulates and ``kernel_size + 1`` parameters per
layer. A schedule has no holes (gridding) exactly when no dilation exceeds the
receptive field built before it; the candidates:

- ``doubling``: dilations 1, 2, 4, ... (capped at ``max_dilation``, then repeated);
- ``geometric``: dilations 1, k, k^2, ... the fastest growth without holes
  (the same as doubling for kernel 2);
- ``repeated``: a block 1, 2, ..., 2^m repeated, as in WaveNet;
- ``gridded``: dilations 1, k+1, (k+1)^2, ... fewer layers, but with holes.

The last dilation of the doubling and geometric schedules is shortened so
the field just reaches the target.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .coverage import coverage
from .errors import Setting, UsageError
from .limits import MAX_DILATION, MAX_LAYERS, MAX_RECEPTIVE_FIELD
from .report import format_name
from .spec import stack_from_dilations
from .stack import Stack

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|samples)?\s*$", re.IGNORECASE)


def parse_target(text: str, sample_rate: int | None) -> int:
    """A target receptive field in samples from ``"4800"``, ``"100ms"`` or ``"0.5s"``.

    Examples
    --------
    >>> parse_target("100ms", 48000), parse_target("4800", None)
    (4800, 4800)
    """
    m = _TARGET.match(text)
    if not m:
        raise UsageError(f"target {text!r}: give samples (4800) or a duration (100ms, 0.5s)")
    value, unit = float(m.group(1)), (m.group(2) or "samples").lower()
    if unit != "samples" and not sample_rate:
        raise UsageError(f"target {text!r}: a duration needs a sample rate", hint="give one, e.g. {0}", settings=(Setting("sample_rate", 48000),))
    exact = value if unit == "samples" else value * (1e-3 if unit == "ms" else 1.0) * sample_rate  # type: ignore[operator]
    # Bounded as a float first: hundreds of digits make an infinity, which no integer holds.
    if not exact <= MAX_RECEPTIVE_FIELD + 1:
        raise UsageError(f"target {text!r}: must be 1 to {MAX_RECEPTIVE_FIELD} samples")
    if unit == "samples":
        if value != int(value):
            raise UsageError(f"target {text!r}: a number of samples must be whole")
        samples = int(value)
    else:
        samples = math.ceil(exact - 1e-9)
    if not 1 <= samples <= MAX_RECEPTIVE_FIELD:
        raise UsageError(f"target {text!r}: must be 1 to {MAX_RECEPTIVE_FIELD} samples, got {samples}")
    return samples


def _grow(target: int, k: int, ratio: int, cap: int, trim: bool) -> list[int]:
    """Dilations 1, r, r^2, ... (capped) until the field reaches ``target``."""
    dilations: list[int] = []
    rf, d = 1, 1
    while rf < target:
        step = min(d, cap)
        if trim:
            step = min(step, math.ceil((target - rf) / (k - 1)))
        dilations.append(step)
        rf += (k - 1) * step
        d *= ratio
        if len(dilations) > MAX_LAYERS:
            raise UsageError(
                f"reaching {target} samples needs more than {MAX_LAYERS} layers",
                hint="a larger maximum dilation ({0}) reaches it in fewer",
                settings=(Setting("max_dilation", MAX_DILATION),),
            )
    return dilations or [1]


def _repeated(target: int, k: int, cap: int) -> list[int] | None:
    """The block 1..2^m (2^m <= cap) repeated the fewest times: the WaveNet schedule."""
    best: list[int] | None = None
    m = 0
    while 2**m <= cap:
        block = [2**i for i in range(m + 1)]
        per_block = (k - 1) * (2 ** (m + 1) - 1)
        repeats = math.ceil((target - 1) / per_block)
        if repeats >= 2 and (best is None or repeats * len(block) < len(best)):
            best = block * repeats
        m += 1
    return best


def plan(target: int, kernel_size: int, *, max_dilation: int | None = None, sample_rate: int | None = None) -> list[dict[str, Any]]:
    """Schedules of ``kernel_size``-tap layers whose receptive field is at least ``target`` samples.

    Returns a list of candidates, the cheapest complete one first (then the
    rest by cost, schedules with holes last), each with ``name``,
    ``kernel_size``, ``dilations``, ``layers``, ``receptive_field``,
    ``receptive_field_ms``, ``parameters``, ``macs_per_sample`` and
    ``coverage`` (``complete``, ``holes``, ``hole_fraction``).

    Examples
    --------
    >>> best = plan(1024, 2)[0]
    >>> best["dilations"], best["receptive_field"], best["coverage"]["complete"]
    ([1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 1024, True)
    """
    if kernel_size < 2:
        raise UsageError("planning needs a kernel size of at least 2: one tap never widens the field")
    cap = max_dilation or MAX_DILATION
    if not 1 <= cap <= MAX_DILATION:
        raise UsageError(f"max_dilation must be 1 to {MAX_DILATION}, got {cap}")
    schedules = {
        "doubling": _grow(target, kernel_size, 2, cap, trim=True),
        "geometric": _grow(target, kernel_size, kernel_size, cap, trim=True),
        "repeated": _repeated(target, kernel_size, cap),
        "gridded": _grow(target, kernel_size, kernel_size + 1, cap, trim=False),
    }
    seen: set[tuple[int, ...]] = set()
    out = []
    for name, dilations in schedules.items():
        if dilations is None or tuple(dilations) in seen:
            continue
        seen.add(tuple(dilations))
        stack = stack_from_dilations(dilations, kernel_size=kernel_size)
        cov = coverage(stack)
        rf = stack.receptive_field
        out.append(
            {
                "name": name,
                "kernel_size": kernel_size,
                "dilations": dilations,
                "layers": len(dilations),
                "receptive_field": rf,
                "receptive_field_ms": 1000.0 * rf / sample_rate if sample_rate else None,
                "parameters": stack.parameters,
                "macs_per_sample": stack.macs_per_sample,
                "coverage": {"complete": cov.complete, "holes": cov.holes[:4096], "hole_fraction": cov.hole_fraction},
            }
        )
    out.sort(key=lambda c: (not c["coverage"]["complete"], c["macs_per_sample"], c["parameters"], c["receptive_field"]))
    return out


def candidate_stack(candidate: dict[str, Any]) -> Stack:
    """The candidate as a stack with uniform taps ``1/k`` (a smoothing filter), ready for ``apply``."""
    k = candidate["kernel_size"]
    return stack_from_dilations(
        candidate["dilations"],
        kernel_size=k,
        name=f"plan {candidate['name']}",
        description=f"{candidate['name']} schedule, kernel {k}, receptive field {candidate['receptive_field']} samples",
    )


#: Columns of the plan's table.
_HEADER = ["#", "schedule", "layers", "RF", "RF ms", "params", "MACs/sample", "holes", "dilations"]


def _plan_row(i: int, c: dict[str, Any]) -> list[str]:
    """One candidate's cells: long schedules show their first 14 dilations and their count."""
    d = c["dilations"]
    shown = ",".join(map(str, d)) if len(d) <= 16 else ",".join(map(str, d[:14])) + f",... ({len(d)})"
    return [
        str(i),
        c["name"],
        str(c["layers"]),
        f"{c['receptive_field']:,}",
        "-" if c["receptive_field_ms"] is None else f"{c['receptive_field_ms']:.2f}",
        f"{c['parameters']:,}",
        f"{c['macs_per_sample']:,}",
        "none" if c["coverage"]["complete"] else f"{100 * c['coverage']['hole_fraction']:.1f}%",
        shown,
    ]


def render_plan(
    candidates: list[dict[str, Any]],
    target: int,
    kernel_size: int,
    fmt: str = "text",
    *,
    max_dilation: int | None = None,
    sample_rate: int | None = None,
) -> str:
    """The candidates of :func:`plan` as ``text`` (an aligned table), ``markdown`` or ``json`` (or an alias, see :data:`~wavedil.report.FORMAT_NAMES`).

    Examples
    --------
    >>> print(render_plan(plan(8, 2), 8, 2, "md"))
    target 8 samples, kernel 2
    <BLANKLINE>
    | # | schedule | layers | RF | RF ms | params | MACs/sample | holes | dilations |
    |---|---|---|---|---|---|---|---|---|
    | 1 | doubling | 3 | 8 | - | 9 | 6 | none | 1,2,4 |
    | 2 | repeated | 6 | 10 | - | 18 | 12 | none | 1,2,1,2,1,2 |
    | 3 | gridded | 3 | 14 | - | 9 | 6 | 42.9% | 1,3,9 |
    """
    fmt = format_name(fmt)
    if fmt == "json":
        return json.dumps(candidates, indent=2)
    rows = [_plan_row(i, c) for i, c in enumerate(candidates, start=1)]
    intro = f"target {target:,} samples" + (f" ({1000 * target / sample_rate:.2f} ms at {sample_rate:,} Hz)" if sample_rate else "")
    intro += f", kernel {kernel_size}" + (f", dilations at most {max_dilation}" if max_dilation else "")
    if fmt == "markdown":
        lines = [intro, "", "| " + " | ".join(_HEADER) + " |", "|" + "|".join("---" for _ in _HEADER) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(_HEADER)]
        # The schedule's name and its dilations read left-aligned; the figures right-aligned.
        fmt_row = "  ".join(f"{{:<{w}}}" if i in (1, 8) else f"{{:>{w}}}" for i, w in enumerate(widths))
        lines = [intro, "", fmt_row.format(*_HEADER), fmt_row.format(*("-" * w for w in widths))]
        lines += [fmt_row.format(*r) for r in rows]
    return "\n".join(lines)
