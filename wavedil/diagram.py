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
from .stack import Stack

#: Columns of marks unless the caller says otherwise.
DEFAULT_WIDTH = 96
#: What :func:`column_states` says of a column: none of its offsets reaches the output, some do, all do.
NONE, SOME, ALL = 0, 1, 2


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
    marks = ".o" if step == 1 else ".+#"
    lines = [head]
    for label, (_, reached) in zip(labels, rows):
        states = column_states(reached[::-1], step)
        lines.append(f"{label:<{pad}}  " + "".join(marks[min(s, len(marks) - 1)] for s in states))
    return "\n".join(lines)


def column_states(reached: np.ndarray, step: int) -> np.ndarray:
    """For each column of ``step`` offsets of ``reached`` (oldest first): :data:`ALL`, :data:`SOME` or :data:`NONE` reach.

    Columns are aligned to the current sample (the right edge), so the
    oldest column may be partial.

    Examples
    --------
    >>> column_states(np.array([True, False, True, True, False, False]), 2).tolist()
    [1, 2, 0]
    >>> column_states(np.array([True, True, False]), 2).tolist()
    [2, 1]
    """
    n = len(reached)
    first = n % step
    starts = np.arange(first, n, step)
    if first:
        starts = np.concatenate([[0], starts])
    counts = np.add.reduceat(reached.astype(np.int64), starts)
    sizes = np.diff(np.append(starts, n))
    return np.where(counts == sizes, ALL, np.where(counts > 0, SOME, NONE))
