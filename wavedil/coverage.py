"""Which past samples a stack can hear: coverage, holes, and the dilation tree.

A stack is seen as a graph of signals joined by taps: an edge from ``a`` to
``b`` with offsets ``{0, d, 2d, ..., (k-1)d}`` says that ``b[t]`` reads
``a[t - j*d]``. Residual, skip and conditioning paths are edges at offset 0.
Weights are ignored here (a zero tap still counts as a path): this is the
analytic structure, which :mod:`wavedil.probe` checks against the engine.

Sets of offsets are boolean arrays indexed by offset (0 = the current sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .stack import Conv1d, Stack


@dataclass
class _Graph:
    """Signals (nodes, in topological order) and the taps between them."""

    labels: list[str] = field(default_factory=list)
    #: Edges into each node: (source node, dilation, kernel_size).
    inputs: list[list[tuple[int, int, int]]] = field(default_factory=list)
    #: Nodes that are drawn as rows of the dilation tree.
    rows: list[int] = field(default_factory=list)

    def node(self, label: str, *edges: tuple[int, int, int], row: bool = False) -> int:
        self.labels.append(label)
        self.inputs.append(list(edges))
        if row:
            self.rows.append(len(self.labels) - 1)
        return len(self.labels) - 1


def build_graph(stack: Stack) -> tuple[_Graph, int]:
    """The signal graph of ``stack`` and the index of its output node (each layer adds its own nodes)."""
    g = _Graph()
    x = g.node("input", row=True)
    for i, layer in enumerate(stack.layers, start=1):
        x = layer.graph_nodes(g, x, i)
    # The output is drawn as the top row; make sure it is a row exactly once.
    if g.rows[-1] != x:
        g.rows.append(x)
    return g, x


#: Above this kernel size a shift-or runs as a sliding window (cost independent of the kernel).
_WINDOW_KERNEL = 8
#: Largest ``signals * receptive_field`` the coverage graph and the dilation tree are computed for (bytes of sets).
MAX_GRAPH_CELLS = 2**28


def _shift_or(dst: np.ndarray, src: np.ndarray, dilation: int, kernel_size: int) -> None:
    """dst[i] |= src[i - j*d] for j in 0..k-1 (in place).

    A long kernel is a window of ``k`` along each residue class modulo ``d``:
    counts from a cumulative sum say where the window holds a True, so the
    cost is a few passes over the array whatever ``k`` is.
    """
    n = len(src)
    k = min(kernel_size, -(-n // dilation))  # taps beyond the array read nothing
    if k <= _WINDOW_KERNEL:
        for j in range(k):
            s = j * dilation
            dst[s:] |= src[: n - s]
        return
    rows = -(-n // dilation)
    grid = np.zeros(rows * dilation, dtype=np.int32)
    grid[:n] = src
    counts = np.cumsum(grid.reshape(rows, dilation), axis=0)
    window = counts.copy()
    window[k:] -= counts[:-k]
    dst |= window.reshape(-1)[:n] > 0


def graph_cells(stack: Stack) -> int:
    """``signals * receptive_field``: the size of the coverage computation (see :data:`MAX_GRAPH_CELLS`)."""
    g, _ = build_graph(stack)
    return len(g.labels) * (stack.receptive_field or 0)


def _forward_sets(g: _Graph, length: int, keep: set[int]) -> dict[int, np.ndarray]:
    """Offsets of the input each node depends on; only ``keep`` nodes are returned."""
    last_use: dict[int, int] = {}
    for node, edges in enumerate(g.inputs):
        for src, _, _ in edges:
            last_use[src] = node
    sets: dict[int, np.ndarray] = {}
    for node, edges in enumerate(g.inputs):
        s = np.zeros(length, dtype=bool)
        if not edges:
            s[0] = True
        for src, d, k in edges:
            _shift_or(s, sets[src], d, k)
        sets[node] = s
        # Free what no later node reads: memory stays near a few sets.
        for src, _, _ in edges:
            if last_use.get(src) == node and src not in keep:
                del sets[src]
    return {n: sets[n] for n in keep}


@dataclass(frozen=True)
class Coverage:
    """The offsets some path from input to output reaches."""

    receptive_field: int
    #: Boolean array of length ``receptive_field``: True where the output hears that offset.
    reached: np.ndarray

    @property
    def holes(self) -> list[int]:
        return np.flatnonzero(~self.reached).tolist()

    @property
    def complete(self) -> bool:
        return bool(self.reached.all())

    @property
    def hole_fraction(self) -> float:
        return float((~self.reached).sum() / len(self.reached))

    def to_dict(self) -> dict[str, object]:
        return {"complete": self.complete, "holes": self.holes, "hole_fraction": self.hole_fraction}


def coverage(stack: Stack) -> Coverage:
    """The exact set of past offsets (0 = current sample) the stack's output depends on structurally.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> coverage(stack_from_dilations([1, 4], kernel_size=2)).holes
    [2, 3]
    """
    g, out = build_graph(stack)
    rf = stack.receptive_field
    return Coverage(receptive_field=rf, reached=_forward_sets(g, rf, {out})[out])


def gridding_fixes(stack: Stack) -> list[str]:
    """For plain chains with holes: the layers whose dilation outruns the field before them."""
    fixes = []
    rf = 1
    for i, layer in enumerate(stack.layers, start=1):
        if isinstance(layer, Conv1d) and layer.kernel_size > 1 and layer.dilation > rf:
            fixes.append(
                f"layer {i}: dilation {layer.dilation} exceeds the receptive field before it ({rf}); "
                f"use a dilation of at most {rf}, or insert layers before it so the field reaches {layer.dilation}"
            )
        rf += layer.history
    return fixes


def tree_rows(stack: Stack) -> list[tuple[str, np.ndarray]]:
    """The dilation tree of one output sample: for each drawn signal, the offsets that reach the output.

    Rows run from the output (first) to the input (last); each is a boolean
    array over offsets ``0 .. receptive_field - 1``.
    """
    g, out = build_graph(stack)
    rf = stack.receptive_field
    needed: list[np.ndarray | None] = [None] * len(g.labels)
    needed[out] = np.zeros(rf, dtype=bool)
    needed[out][0] = True
    for node in range(out, -1, -1):
        mine = needed[node]
        if mine is None:
            continue
        for src, d, k in g.inputs[node]:
            if needed[src] is None:
                needed[src] = np.zeros(rf, dtype=bool)
            _shift_or(needed[src], mine, d, k)
    rows = []
    for node in reversed(g.rows):
        arr = needed[node]
        rows.append((g.labels[node], arr if arr is not None else np.zeros(rf, dtype=bool)))
    return rows
