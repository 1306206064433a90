"""Pictures of a stack: the dilation tree, the effective receptive field and,
for linear stacks, the frequency response. Needs matplotlib, an optional extra
(``pip install wavedil[plot]``).

The figure is drawn object-oriented on its own Agg canvas: no pyplot, no
global backend, so a notebook's backend is left as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .audio import atomic_output
from .coverage import tree_rows
from .diagram import ALL, column_states
from .errors import WavedilError
from .frequency import magnitude_grid
from .probe import impulse_response
from .report import Report, samples_text
from .stack import Stack

FORMATS = (".png", ".svg")

#: Most columns of the dilation tree's picture; a wider field is summarized as ``--diagram`` does.
MAX_COLUMNS = 240


def _tree_image(stack: Stack) -> tuple[list[str], np.ndarray, int]:
    """Row labels, the image (1 where every offset of a column reaches the output, 0.5 some, 0 none) and the offsets per column."""
    rows = tree_rows(stack)
    step = max(1, -(-stack.receptive_field // MAX_COLUMNS))
    image = np.array([column_states(reached[::-1], step) / ALL for _, reached in rows])
    labels = ["output" if i == 0 else label for i, (label, _) in enumerate(rows)]
    return labels, image, step


def _draw_tree(ax: Any, stack: Stack, title: str) -> None:
    rf = stack.receptive_field
    labels, image, step = _tree_image(stack)
    # Each column is drawn as wide as its offsets; a summarized column that some offsets reach shows grey.
    ax.imshow(image, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1.25,
              extent=(-rf + 0.5, 0.5, len(labels) - 0.5, -0.5))
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7 if len(labels) > 12 else 9)
    ax.set_xlabel("offset from the current sample (samples)" + (f"; a column is {step:,} offsets, grey where only some reach" if step > 1 else ""))
    ax.set_title(f"{title}: dilation tree of one output sample (receptive field {rf:,})")


def _draw_effective(ax: Any, report: Report) -> None:
    """The sensitivity against samples back (log axis, oldest left): a field that decays fast still fills the panel."""
    erf = report.effective_receptive_field
    if erf is None:
        ax.text(0.5, 0.5, f"not computed: {report.skipped.get('effective_receptive_field', '')}", ha="center", va="center", wrap=True)
        ax.set_axis_off()
        return
    profile = np.asarray(erf.profile)
    back = 1 + np.arange(len(profile)) * erf.profile_step  # 1 = the current sample
    ax.semilogx(back, profile, lw=1, drawstyle="steps-mid")
    for m, style, share in ((erf.samples_50, "--", 50), (erf.samples_95, ":", 95)):
        ax.axvline(max(m, 1), color="C1", ls=style, label=f"{share}% within {samples_text(m)}")
    ax.set_xlim(report.receptive_field + 0.5, 0.8)
    ax.set_xlabel("samples back, 1 = the current sample (log scale)")
    ax.set_ylabel("|dy / dx|")
    ax.set_title(f"effective receptive field ({erf.source})")
    ax.legend(loc="upper left")


def _draw_response(ax: Any, stack: Stack, report: Report) -> None:
    fr = report.frequency_response
    f, mag = magnitude_grid(impulse_response(stack)[:, 0, 0], 4097, fr.sample_rate)
    db = 20 * np.log10(np.maximum(mag[1:], 1e-15))
    ax.semilogx(f[1:], db, lw=1)
    # Deep notches get 90 dB below the peak; a shallow response (an echo's ripple) fills the panel.
    ax.set_ylim(max(-100.0, fr.peak_gain_db - 90, float(db.min()) - 6), fr.peak_gain_db + 6)
    ax.set_xlabel("frequency (Hz)" + (" at an assumed 48 kHz" if fr.assumed_sample_rate else ""))
    ax.set_ylabel("gain (dB)")
    ax.set_title("frequency response" + (f" ({fr.notch_count} notches)" if fr.notch_count else ""))
    ax.grid(True, which="both", alpha=0.3)


def plot_stack(
    stack: Stack,
    report: Report,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
) -> None:
    """Draw ``stack`` with the figures of its ``report`` (from :func:`wavedil.analyze`) to a .png or .svg file.

    Raises
    ------
    WavedilError
        If the extension is not .png or .svg, matplotlib is missing, or the
        file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise WavedilError(f"{path}: a plot is written as .png or .svg, not {path.suffix or '(no extension)'}")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise WavedilError(f"{path}: plotting needs matplotlib: pip install 'wavedil[plot]'") from None

    panels = 3 if report.frequency_response else 2
    fig = Figure(figsize=(10, 3.2 * panels), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1)
    _draw_tree(axes[0], stack, report.name or "stack")
    _draw_effective(axes[1], report)
    if report.frequency_response:
        _draw_response(axes[2], stack, report)
    rf, sr = stack.receptive_field, report.sample_rate
    if sr:
        fig.suptitle(f"{rf:,} samples = {1000 * rf / sr:.2f} ms at {sr:,} Hz")
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format=path.suffix.lower().lstrip("."))
