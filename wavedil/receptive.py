"""Receptive-field analysis of a stack: what it hears, what it costs.

For a plain stack of causal layers with kernel sizes ``k_l`` and dilations
``d_l`` the output at ``t`` depends on ``x[t - RF + 1 .. t]`` with::

    RF = 1 + sum_l (k_l - 1) * d_l

:func:`analyze` returns those figures as a plain mapping whose keys are part
of the public interface (scripts read the JSON report).
"""

from __future__ import annotations

from typing import Any

from .spec import Stack


def _ms(samples: int, sample_rate: int | None) -> float | None:
    return None if not sample_rate else 1000.0 * samples / sample_rate


def analyze(stack: Stack, sample_rate: int | None = None) -> dict[str, Any]:
    """The receptive-field report of ``stack`` as a JSON-ready mapping.

    Keys: ``name``, ``description``, ``padding``, ``sample_rate`` (Hz or
    None), ``in_channels``, ``out_channels``, ``receptive_field`` (samples),
    ``receptive_field_ms`` (or None), ``history`` (``RF - 1``),
    ``lookahead`` (0 for causal, ``(RF-1)//2`` for same), ``parameters``,
    ``macs_per_sample``, ``macs_per_second`` (or None), ``linear``, ``model_sample_rate`` (the
    rate a trained model runs at, or None), ``metadata`` (a model's name,
    gear, loudness... as its file gives them) and
    ``layers``: one mapping per layer with ``index`` (1-based), ``kind``,
    ``kernel_size``, ``dilation``, ``in_channels``, ``out_channels``,
    ``activation``, ``parameters``, ``macs_per_sample``, ``span``
    (``(k-1)*d + 1``), ``receptive_field`` (cumulative, samples) and
    ``receptive_field_ms``.

    Parameters
    ----------
    stack : Stack
    sample_rate : int, optional
        In Hz; gives the millisecond and per-second figures. Defaults to the
        stack's own rate (a trained model's), if it has one.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> r = analyze(stack_from_dilations([1, 2, 4], kernel_size=3), 48000)
    >>> [layer["receptive_field"] for layer in r["layers"]], round(r["receptive_field_ms"], 4)
    ([3, 7, 15], 0.3125)
    """
    sample_rate = sample_rate or stack.sample_rate
    rows = []
    rf = 1
    for layer in stack.layers:
        for row in layer.rows():
            rf += row["span"] - 1
            rows.append({"index": len(rows) + 1, **row, "receptive_field": rf, "receptive_field_ms": _ms(rf, sample_rate)})
    total_rf = stack.receptive_field
    return {
        "name": stack.name,
        "description": stack.description,
        "padding": stack.padding,
        "sample_rate": sample_rate,
        "in_channels": stack.in_channels,
        "out_channels": stack.out_channels,
        "receptive_field": total_rf,
        "receptive_field_ms": _ms(total_rf, sample_rate),
        "history": total_rf - 1,
        "lookahead": stack.lookahead,
        "parameters": stack.parameters,
        "macs_per_sample": stack.macs_per_sample,
        "macs_per_second": stack.macs_per_sample * sample_rate if sample_rate else None,
        "linear": stack.is_linear,
        "model_sample_rate": stack.sample_rate,
        "metadata": dict(stack.metadata),
        "layers": rows,
    }
