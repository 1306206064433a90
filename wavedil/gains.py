"""A gain in decibels as a stage: the input and output knobs of NAM's plugin around a capture.

``y[t] = 10**(gain_db / 20) * x[t]`` on every channel. It costs nothing
in the engine: the factor is handed to the next layer, which folds it into its
weights or its input scaling, or to the output's last pass (see the deferred
gain of :class:`wavedil.conv.ConvRunner`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .engines import NUMPY, Engine
from .errors import SpecError

if TYPE_CHECKING:
    from .stack import Stack

#: Largest gain or cut, in dB (a factor of 1e10 either way: beyond it float32 audio is lost).
MAX_GAIN_DB = 200.0


@dataclass(frozen=True, eq=False)
class Gain:
    """Multiply every channel by ``10**(gain_db / 20)``.

    Parameters
    ----------
    gain_db : float
        In decibels, within +-:data:`MAX_GAIN_DB` (negative cuts).
    """

    gain_db: float

    kind = "gain"
    stacks_taps = False
    in_channels = 1
    out_channels = 1
    kernel_size = 1
    dilation = 1
    history = 0
    parameters = 0
    macs_per_sample = 0
    is_linear = True
    kernels_pay = False

    def __post_init__(self) -> None:
        try:
            if isinstance(self.gain_db, bool):
                raise TypeError
            value = float(self.gain_db)
        except (TypeError, ValueError):
            raise SpecError(f"a gain is a number of dB, got {self.gain_db!r}", field="gain") from None
        if not math.isfinite(value) or abs(value) > MAX_GAIN_DB:
            raise SpecError(f"a gain must be finite and within +-{MAX_GAIN_DB:g} dB, got {self.gain_db!r}", field="gain")
        object.__setattr__(self, "gain_db", value)

    @property
    def factor(self) -> float:
        """``10**(gain_db / 20)``."""
        return float(10.0 ** (self.gain_db / 20.0))

    def activation_names(self) -> set[str]:
        return {"linear"}

    def block_rows(self) -> int | None:
        return None

    def memory_bytes(self, batch: int, itemsize: int, block: int, engine: Engine = NUMPY) -> int:
        return 0

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> "GainRunner":
        return GainRunner(gain_in * self.factor)

    def graph_nodes(self, g: Any, x: int, index: int) -> int:
        return g.node(f"layer {index}", (x, 1, 1))

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": f"gain {self.gain_db:+g} dB",
                "kernel_size": 1,
                "dilation": 1,
                "in_channels": 1,
                "out_channels": 1,
                "activation": "linear",
                "parameters": 0,
                "macs_per_sample": 0,
                "span": 1,
            }
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "gain", "gain_db": self.gain_db}


class GainRunner:
    """Passes its input on and defers its factor (with any deferred before it) to the next layer."""

    out_channels = 1
    engine = "numpy"

    def __init__(self, gain_out: float) -> None:
        self.gain_out = gain_out

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        return np.array(steady_in, copy=True)

    def run(self, x: np.ndarray, y: np.ndarray) -> None:
        np.copyto(y, x)


def gain(db: float) -> "Stack":
    """A stage that multiplies the audio by ``10**(db / 20)``.

    Examples
    --------
    >>> import numpy as np
    >>> from wavedil import apply
    >>> apply(gain(-6.0206), np.array([1.0, -0.5]), dtype=np.float64).round(4).tolist()
    [0.5, -0.25]
    """
    from .stack import Stack

    return Stack(layers=(Gain(db),), name=f"gain {float(db):+g} dB")
