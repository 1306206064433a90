"""Pictures of a stack: the dilation tree, the effective receptive field and,
for linear stacks, the frequency response. Needs matplotlib, an optional extra
(``pip install wavedil[plot]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .audio import atomic_output
from .coverage import tree_rows
from .errors import WavedilError
from .frequency import magnitude_grid
from .probe import impulse_response
from .spec import Stack

FORMATS = (".png", ".svg")


#: Most columns of the dilation tree's picture; a wider field is binned.
MAX_COLUMNS = 4096


def _binned(reached: np.ndarray, step: int) -> np.ndarray:
    """The share of each run of ``step`` offsets that is reached (the last run may be partial)."""
    if step == 1:
        return reached.astype(float)
    starts = np.arange(0, len(reached), step)
    return np.add.reduceat(reached.astype(np.int64), starts) / np.diff(np.append(starts, len(reached)))


def plot_stack(
    stack: Stack,
    report: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    force: bool = False,
) -> None:
    """Draw ``stack`` with the figures of its ``report`` (from :func:`wavedil.analyze`) to a .png or .svg file.

    Raises
    ------
    WavedilError
        If matplotlib is missing, the extension is not .png or .svg, or the
        file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise WavedilError(f"{path}: a plot is written as .png or .svg, not {path.suffix or '(no extension)'}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise WavedilError(f"{path}: plotting needs matplotlib: pip install 'wavedil[plot]'") from None

    fr = report.get("frequency_response")
    panels = 3 if fr else 2
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3.2 * panels), constrained_layout=True)
    rf = stack.receptive_field
    sr = report.get("sample_rate")
    title = report.get("name") or "stack"

    rows = tree_rows(stack)
    # At most MAX_COLUMNS columns, each the share of its offsets that reach the output.
    step = max(1, -(-rf // MAX_COLUMNS))
    image = np.array([_binned(reached[::-1], step) for _, reached in rows])
    ax = axes[0]
    ax.imshow(image, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1.25,
              extent=(-rf + 0.5, 0.5, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(["output" if i == 0 else label for i, (label, _) in enumerate(rows)], fontsize=7 if len(rows) > 12 else 9)
    ax.set_xlabel("offset from the current sample (samples)")
    ax.set_title(f"{title}: dilation tree of one output sample (receptive field {rf:,})")

    erf = report["effective_receptive_field"]
    ax = axes[1]
    if erf is None:
        ax.text(0.5, 0.5, f"not computed: {report['skipped'].get('effective_receptive_field', '')}", ha="center", va="center", wrap=True)
        ax.set_axis_off()
    else:
        profile = np.asarray(erf["profile"])
        offsets = np.arange(len(profile)) * erf.get("profile_step", 1)
        ax.plot(-offsets, profile, lw=1)
        for key, style in (("samples_50", "--"), ("samples_95", ":")):
            m = erf[key]
            ax.axvline(-(m - 1) if m else 0, color="C1", ls=style, label=f"{key[-2:]}% within {m:,} samples")
        ax.set_xlim(-rf + 0.5, 0.5)
        ax.set_xlabel("offset from the current sample (samples)")
        ax.set_ylabel("|dy / dx|")
        ax.set_title(f"effective receptive field ({erf['source']})")
        ax.legend(loc="upper left")

    if fr:
        rate = fr["sample_rate"]
        f, mag = magnitude_grid(impulse_response(stack)[:, 0, 0], 4097, rate)
        ax = axes[2]
        ax.semilogx(f[1:], 20 * np.log10(np.maximum(mag[1:], 1e-15)), lw=1)
        ax.set_ylim(max(-100.0, fr["peak_gain_db"] - 90), fr["peak_gain_db"] + 6)
        ax.set_xlabel("frequency (Hz)" + (" at an assumed 48 kHz" if fr.get("assumed_sample_rate") else ""))
        ax.set_ylabel("gain (dB)")
        ax.set_title("frequency response" + (f" ({fr['notch_count']} notches)" if fr["notch_count"] else ""))
        ax.grid(True, which="both", alpha=0.3)
    if sr:
        fig.suptitle(f"{rf:,} samples = {1000 * rf / sr:.2f} ms at {sr:,} Hz")
    fmt = path.suffix.lower().lstrip(".")
    try:
        with atomic_output(path, force=force) as tmp:
            fig.savefig(tmp, format=fmt)
    finally:
        plt.close(fig)
