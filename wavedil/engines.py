"""Which engine computes a layer: NumPy, or kernels compiled by Numba.

Two engines compute the same forward pass:

- ``numpy``: vectorized NumPy over blocks, BLAS for the channel mixing. The
  reference, and the fallback; it needs nothing beyond the runtime packages.
- ``numba``: kernels compiled by Numba (the ``fast`` extra:
  ``pip install "wavedil[fast]"``), one fused loop per layer over a block.
  Both give the same output to float rounding (tested to 1e-5 of the peak
  for every layer kind and model architecture).

``auto`` (the default) takes ``numba`` when Numba can be imported and the
stack has a layer the kernels make much faster (:func:`kernels_pay`: a
WaveNet, an LSTM, a smooth activation over several channels), and ``numpy``
otherwise, as pandas does with its ``performance`` extra. The choice comes
from the ``engine`` argument, else the ``WAVEDIL_ENGINE`` environment
variable, else ``auto``. A layer kind without a compiled kernel runs on
NumPy whatever the choice; a runner's ``engine`` attribute says which one
ran it.

``fast_tanh`` swaps the accurate tanh (a rational approximation within
1e-6 of the true value, see :mod:`wavedil.kernels.tanh`) for the cheaper
approximation NAM's plugin uses (within 4e-4): what plugin users hear.

Numba itself is imported only when a kernel is first built, so commands that
compute nothing never pay for it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import Setting, UsageError

#: The names an engine may be asked for by.
ENGINE_NAMES = ("auto", "numpy", "numba")


@dataclass(frozen=True)
class Engine:
    """A resolved engine choice.

    Attributes
    ----------
    name : str
        ``numpy`` or ``numba``: what layers with a compiled kernel run on.
    fast_tanh : bool
        Whether tanh is NAM's plugin approximation instead of the accurate one.
    """

    name: str = "numpy"
    fast_tanh: bool = False
    #: Chosen by ``auto`` (not asked for by name): it may fall back to NumPy (see :func:`usable`).
    auto: bool = field(default=False, compare=False, repr=False)

    def describe(self) -> str:
        """``numba`` or ``numpy``, with ``, fast tanh`` when asked for."""
        return self.name + (", fast tanh" if self.fast_tanh else "")

    def __post_init__(self) -> None:
        if self.name not in ("numpy", "numba"):
            raise UsageError(f"an engine is numpy or numba, got {self.name!r}")

    @property
    def compiled(self) -> bool:
        """Whether layers with a compiled kernel use it."""
        return self.name == "numba"


#: The reference engine, accurate tanh.
NUMPY = Engine()


def numba_installed() -> bool:
    """Whether Numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def resolve_engine(engine: str | Engine | None = None, *, fast_tanh: bool = False) -> Engine:
    """The engine to run with.

    Parameters
    ----------
    engine : str, Engine or None
        ``auto``, ``numpy`` or ``numba`` (an :class:`Engine` is kept, with
        ``fast_tanh`` added when asked for). None: the ``WAVEDIL_ENGINE``
        environment variable, else ``auto``.
    fast_tanh : bool
        Use NAM's plugin tanh approximation (see the module's notes).

    Raises
    ------
    UsageError
        For an unknown name, or ``numba`` when Numba is not installed.

    Examples
    --------
    >>> resolve_engine("numpy")
    Engine(name='numpy', fast_tanh=False)
    >>> resolve_engine("numpy", fast_tanh=True).fast_tanh
    True
    """
    if isinstance(engine, Engine):
        return engine if engine.fast_tanh or not fast_tanh else Engine(engine.name, True, auto=engine.auto)
    if engine is not None and not isinstance(engine, str):
        raise UsageError(f"engine must be one of {', '.join(ENGINE_NAMES)} or an Engine, got {engine!r}")
    given = "engine" if engine is not None else "WAVEDIL_ENGINE"
    name = (engine if engine is not None else os.environ.get("WAVEDIL_ENGINE", "")).strip().lower() or "auto"
    if name not in ENGINE_NAMES:
        # Named as it was given: the argument or the environment variable.
        raise UsageError(f"{given} must be one of {', '.join(ENGINE_NAMES)}, got {name!r}")
    if name == "auto":
        return Engine("numba" if numba_installed() else "numpy", bool(fast_tanh), auto=True)
    elif name == "numba" and not numba_installed():
        raise UsageError(
            "the numba engine was asked for but numba is not installed",
            hint='pip install "wavedil[fast]" installs it; {0} runs without it',
            settings=(Setting("engine", "numpy"),),
        )
    return Engine(name, bool(fast_tanh))


def kernels_pay(stack: Any) -> bool:
    """Whether ``auto`` runs this stack on the compiled kernels: it has a layer they make much faster.

    Those are a WaveNet with an array the kernels compute (1.5-2x faster
    than NumPy here), an LSTM (70x: NumPy steps it sample by sample) and a
    layer with a smooth activation over several channels (3.2-3.5x, as in
    NAM's Tanh ConvNets; see ``Conv1d.kernels_pay``). Other convolution
    stacks gain 1.03-1.5x (W1 of the benchmarks: 0.082 s against 0.101 s for
    ten minutes of audio), less than the 0.7-1.3 s Numba's start-up costs
    every process for most files, so ``auto`` keeps them on NumPy;
    ``engine="numba"`` still compiles them.

    Examples
    --------
    >>> import wavedil
    >>> kernels_pay(wavedil.preset("smooth")), kernels_pay(wavedil.preset("wavenet"))
    (False, True)
    """
    return any(getattr(layer, "kernels_pay", False) for layer in stack.layers)


def for_stack(engine: Engine, stack: Any) -> Engine:
    """``engine``, or NumPy when ``auto`` chose numba for a stack the kernels do not pay for (:func:`kernels_pay`).

    Examples
    --------
    >>> import wavedil
    >>> for_stack(Engine("numba", auto=True), wavedil.preset("smooth")).name
    'numpy'
    >>> for_stack(Engine("numba"), wavedil.preset("smooth")).name
    'numba'
    """
    if engine.auto and engine.compiled and not kernels_pay(stack):
        return Engine("numpy", engine.fast_tanh, auto=True)
    return engine


@functools.cache
def kernels_unavailable() -> str | None:
    """Why the compiled kernels cannot be loaded here, or None when they can.

    Numba may be installed yet fail to import (a NumPy newer than it
    supports), or find no place to cache compiled code: both show when the
    kernels' first module is imported, which imports Numba. A process that
    finds the kernels compiled ahead of time
    (:func:`wavedil.kernels.exports.ahead_of_time`) needs neither.
    """
    from .kernels.exports import ahead_of_time

    if ahead_of_time() is not None:
        return None
    try:
        importlib.import_module("wavedil.kernels.tanh")
    except Exception as exc:  # any failure to load them means: not usable here
        return f"{type(exc).__name__}: {exc}"
    return None


def usable(engine: Engine, stack: Any = None) -> Engine:
    """``engine``, or NumPy when ``auto`` chose numba and the kernels cannot be loaded or do not pay for ``stack``.

    Imports Numba (about 0.3 s) when the engine is numba: call it where the
    engine is about to run. With a ``stack``, ``auto`` keeps NumPy when no
    layer gains from the kernels (:func:`kernels_pay`), without importing
    Numba.

    Raises
    ------
    UsageError
        When numba was asked for by name and its kernels cannot be loaded.

    Examples
    --------
    >>> usable(resolve_engine("numpy"))
    Engine(name='numpy', fast_tanh=False)
    """
    if stack is not None:
        engine = for_stack(engine, stack)
    if not engine.compiled:
        return engine
    why = kernels_unavailable()
    if why is None:
        return engine
    if engine.auto:
        return Engine("numpy", engine.fast_tanh, auto=True)
    raise UsageError(
        f"the numba engine cannot load its compiled kernels ({why})",
        hint="{0} runs without them",
        settings=(Setting("engine", "numpy"),),
    )
