"""The dilation tree of one output sample, drawn in the terminal.

Rows are signals, from the output (top) down to the input (bottom); columns
are past offsets, the oldest on the left and the current sample on the right,
as in the figures of the WaveNet paper. ``o`` marks a sample that reaches the
output, ``.`` one that does not. A field wider than the terminal is
summarized: each column then stands for several offsets and shows ``#`` when
all of them reach the output, ``+`` when some do, ``.`` when none does.
"""

from __future__ import annotations

import math

import numpy as np

from .coverage import tree_rows
from .spec import Stack

#: Columns of marks unless the caller says otherwise.
DEFAULT_WIDTH = 96


def render_tree(stack: Stack, width: int = DEFAULT_WIDTH) -> str:
    """The dilation tree of ``stack`` as text lines (see the module docstring).

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> print(render_tree(stack_from_dilations([1, 2], kernel_size=2)))
    dilation tree of one output sample: 4 offsets, 1 per column (oldest left, current right)
    output   ...o
    layer 1  .o.o
    input    oooo
    """
    rows = tree_rows(stack)
    rf = stack.receptive_field
    step = max(1, math.ceil(rf / max(1, width)))
    labels = ["output" if i == 0 else label for i, (label, _) in enumerate(rows)]
    # The output row is also the last layer's row; show it under one name.
    pad = max(len(label) for label in labels)
    head = (
        f"dilation tree of one output sample: {rf:,} offsets, {step:,} per column "
        "(oldest left, current right)"
    )
    lines = [head]
    for label, (_, reached) in zip(labels, rows):
        lines.append(f"{label:<{pad}}  {_marks(reached[::-1], step)}")
    return "\n".join(lines)


def _marks(reached: np.ndarray, step: int) -> str:
    if step == 1:
        return "".join("o" if r else "." for r in reached)
    n = len(reached)
    # Bins are aligned to the current sample (right edge), so the oldest bin may be partial.
    start = n % step
    bins = [reached[:start]] if start else []
    bins += [reached[i : i + step] for i in range(start, n, step)]
    return "".join("#" if b.all() else "+" if b.any() else "." for b in bins)
