"""What a run will allocate, planned from the stack and the audio before anything is allocated.

A stack's memory is its weights, each layer's history (``(k-1)*d`` past
samples per channel and signal, however short the audio) and the block
buffers (proportional to the block size and the widest signal). None of it
depends on the length of the file, except when a whole file is held (with
``resample``). :func:`plan_filter` adds these up from the layers' own
accounts (``layer.memory_bytes``), and :func:`check_plan` refuses a plan over
the limit with the figures, before the first array is made, so a hostile
spec or model cannot make the process swap or be killed.

The limit defaults to :func:`default_memory_limit`: half the machine's
physical memory, at most 8 GiB.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from .engines import Engine, for_stack, resolve_engine
from .errors import MemoryLimitError, Setting, WavedilError

#: The default limit's ceiling, in bytes.
MAX_DEFAULT_LIMIT = 8 * 1024**3

# K, M, G, T and KiB... are powers of 1024; KB, MB, GB, TB powers of 1000.
_UNITS = {"": 1, "b": 1}
for _i, _p in enumerate("kmgt", start=1):
    _UNITS |= {_p: 1024**_i, _p + "ib": 1024**_i, _p + "b": 1000**_i}


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes a run needs, part by part.

    ``parts`` are ``(what, bytes)`` pairs such as ``("layer state", 12345)``;
    ``block_size`` is the block the figures were planned for.
    """

    parts: tuple[tuple[str, int], ...]
    block_size: int

    @property
    def total(self) -> int:
        return sum(n for _, n in self.parts)

    def describe(self) -> str:
        """``1.2 GiB (layer state 1.0 GiB, block buffers 180 MiB, ...)``: the total and its largest parts."""
        shown = sorted((p for p in self.parts if p[1]), key=lambda p: -p[1])
        return f"{format_bytes(self.total)} ({', '.join(f'{what} {format_bytes(n)}' for what, n in shown)})"


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``512 B``, ``3.5 KiB``, ``60.0 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """Bytes from a size such as ``4G``, ``512MiB``, ``1.5GB`` or ``1000000`` (K, M, G, T are powers of 1024).

    Raises
    ------
    WavedilError
        For anything else, a size of zero, or one beyond 2**62 bytes.

    Examples
    --------
    >>> parse_size("4G"), parse_size("1.5 GB"), parse_size("65536")
    (4294967296, 1500000000, 65536)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", text or "")
    if not m or m.group(2).lower() not in _UNITS or len(m.group(1)) > 30:
        raise WavedilError(f"not a size: {text!r} (examples: 4G, 512M, 1.5GB, 1000000)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not 1 <= value <= 2**62:
        raise WavedilError(f"a memory size must be between 1 byte and 4 EiB, got {text!r}")
    return int(value)


def physical_memory() -> int | None:
    """The machine's physical memory in bytes, when the system says."""
    try:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * page if pages > 0 and page > 0 else None


def default_memory_limit() -> int:
    """Half the physical memory, at most :data:`MAX_DEFAULT_LIMIT` (8 GiB); 8 GiB when unknown."""
    total = physical_memory()
    return MAX_DEFAULT_LIMIT if total is None else min(MAX_DEFAULT_LIMIT, total // 2)


def signal_layout(stack, channels: int) -> tuple[int, int]:
    """``(batch, out_channels)`` of the engine for audio of ``channels`` channels.

    A stack taking that many channels runs them jointly (batch 1); a mono
    stack runs each channel as a signal of its own.

    Raises
    ------
    WavedilError
        When the stack fits neither way.
    """
    if stack.in_channels == channels:
        return 1, stack.out_channels
    if stack.is_mono:
        return channels, channels
    raise WavedilError(f"the stack takes {stack.in_channels} input channel(s) but the audio has {channels}")


def plan_filter(stack, channels: int, *, dtype: DTypeLike = np.float32, block_size: int, engine: str | Engine | None = None) -> MemoryPlan:
    """The memory a :class:`~wavedil.engine.StreamingFilter` of ``stack`` allocates for ``channels`` channels.

    ``weights`` are the model's float64 arrays; ``layer state`` every
    layer's history and its own buffers, as each layer accounts for them
    (``layer.memory_bytes(batch, itemsize, block, engine)``, ``engine`` as
    :func:`wavedil.engines.resolve_engine` resolves it); ``block buffers`` the
    engine's two ping-pong buffers and two temporaries of ``batch * widest *
    block`` samples, and the input and output frames of one block.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> plan = plan_filter(stack_from_dilations([1, 2**20], kernel_size=2), 2, block_size=1024)
    >>> format_bytes(dict(plan.parts)["layer state"])
    '8.0 MiB'
    """
    batch, out_channels = signal_layout(stack, channels)
    itemsize = np.dtype(dtype).itemsize
    block = int(block_size)
    widest = max(max(layer.in_channels, layer.out_channels) for layer in stack.layers)
    resolved = for_stack(resolve_engine(engine), stack)
    state = sum(layer.memory_bytes(batch, itemsize, block, resolved) for layer in stack.layers)
    # Two ping-pong buffers and two block-long temporaries (a tap's product, an activation's) as wide as
    # the widest signal; the frames read, the frames written and the float64 copy the writer converts.
    buffers = 4 * batch * widest * block * itemsize + block * (channels + out_channels) * itemsize + block * out_channels * 8
    weights = 8 * stack.parameters
    return MemoryPlan((("weights", weights), ("layer state", state), ("block buffers", buffers)), block)


def plan_whole_file(frames: int, channels: int, out_channels: int, ratio: float) -> tuple[str, int]:
    """The part of a plan that holds a whole file resampled by ``ratio`` (``frames`` at the file's rate)."""
    at_rate = math.ceil(frames * ratio)
    return ("whole file (resampling)", 8 * (frames * (channels + out_channels) * 2 + at_rate * (channels + out_channels) * 2))


def check_plan(plan: MemoryPlan, limit: int | None = None, *, shrink: Sequence[int] = ()) -> None:
    """Refuse ``plan`` if it needs more than ``limit`` bytes (default :func:`default_memory_limit`).

    ``shrink`` lists smaller block sizes worth suggesting, with their plans'
    totals computed by the caller as ``(block_size, total)`` pairs; the
    message names the largest that fits, and blames the block size only then.

    Raises
    ------
    MemoryLimitError
        With the planned figure, its largest parts and the limit.
    """
    limit = default_memory_limit() if limit is None else limit
    if plan.total <= limit:
        return
    hint, settings = "the limit is {0}", (Setting("memory_limit", limit),)
    fits = [b for b, total in shrink if total <= limit]
    if fits:
        hint, settings = "{1} would fit; " + hint, settings + (Setting("block_size", max(fits)),)
    raise MemoryLimitError(f"the run needs {plan.describe()}, over the memory limit of {format_bytes(limit)}", hint=hint, settings=settings)


def plan_and_check(
    stack,
    channels: int,
    *,
    dtype: DTypeLike,
    block_size: int,
    limit: int | None = None,
    extra: Sequence[tuple[str, int]] = (),
    copies: int = 1,
    engine: str | Engine | None = None,
) -> MemoryPlan:
    """:func:`plan_filter` for ``copies`` filters at once (worker processes) plus ``extra`` parts, checked.

    When the plan is over the limit, smaller power-of-two block sizes are
    planned too, so that the message can say which block size would fit.

    Raises
    ------
    MemoryLimitError
        See :func:`check_plan`.
    """

    def plan_for(block: int) -> MemoryPlan:
        base = plan_filter(stack, channels, dtype=dtype, block_size=block, engine=engine)
        parts = base.parts if copies == 1 else tuple((f"{what} ({copies} workers)", copies * n) for what, n in base.parts)
        return MemoryPlan(parts + tuple(extra), block)

    plan = plan_for(block_size)
    limit = default_memory_limit() if limit is None else limit
    if plan.total > limit:
        smaller = []
        b = 1 << (max(1, block_size).bit_length() - 1)
        while b >= 64:
            if b < block_size:
                smaller.append((b, plan_for(b).total))
            b //= 2
        check_plan(plan, limit, shrink=smaller)
    return plan
