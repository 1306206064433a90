"""The named stacks: :data:`PRESETS`, each a documented spec, and :func:`preset` to build one.

``wavedil presets`` lists them; ``apply`` uses :data:`DEFAULT_PRESET` when no
stack is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SpecError
from .spec import parse_spec
from .stack import Stack


@dataclass(frozen=True)
class Preset:
    """A named, documented stack: ``spec`` is its spec mapping, without name and description."""

    name: str
    summary: str
    spec: Mapping[str, Any]

    def build(self) -> Stack:
        return parse_spec({"name": self.name, "description": self.summary, **self.spec}, source=f"preset {self.name}")


def _mono(dilation: int, taps: Sequence[float], activation: str = "linear", bias: float = 0.0) -> dict[str, Any]:
    return {"dilation": dilation, "weights": list(taps), "activation": activation, "bias": bias}


#: The preset ``apply`` uses when no stack is given.
DEFAULT_PRESET = "smooth"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "smooth",
            "16-sample moving average (kernel 2, dilations 1,2,4,8): a gentle low-pass, -3 dB near 1.2 kHz at 44.1 kHz",
            {"layers": [_mono(d, [0.5, 0.5]) for d in (1, 2, 4, 8)]},
        ),
        Preset(
            "lowpass-64",
            "64-sample moving average (kernel 2, dilations 1..32): a dark low-pass, -3 dB near 300 Hz at 44.1 kHz",
            {"layers": [_mono(d, [0.5, 0.5]) for d in (1, 2, 4, 8, 16, 32)]},
        ),
        Preset(
            "seed",
            "the seed example: kernel 3, dilations 1,2,4, uniform taps, receptive field 15",
            {"layers": [_mono(d, [1 / 3, 1 / 3, 1 / 3]) for d in (1, 2, 4)]},
        ),
        Preset(
            "presence",
            "high-shelf lift (taps 1.6, -0.6): brighter attack and consonants, unity at DC, +6.8 dB at Nyquist",
            {"layers": [_mono(1, [1.6, -0.6])]},
        ),
        Preset(
            "comb",
            "feed-forward comb, dilation 40: notches at 551 Hz and every 1.1 kHz above at 44.1 kHz, a hollow colour",
            {"layers": [_mono(40, [0.5, 0.5])]},
        ),
        Preset(
            "echo",
            "multi-tap echo: repeats at 2048, 4096 and 6144 samples (46, 93, 139 ms at 44.1 kHz), each quieter",
            {"layers": [_mono(2048, [0.7, 0.3]), _mono(4096, [1.0, 0.4])]},
        ),
        Preset(
            "wavenet",
            "the WaveNet paper's topology: gated residual blocks, 32 channels, kernel 2, dilations 1..512 x3; "
            "seeded random weights, for shapes, receptive field and speed, not for sound",
            {
                "layers": [
                    {
                        "type": "wavenet",
                        "init": {"seed": 0},
                        "head_scale": 0.02,
                        "arrays": [
                            {
                                "channels": 32,
                                "kernel_size": 2,
                                "dilations": [2**i for i in range(10)] * 3,
                                "activation": "tanh",
                                "gated": True,
                                "head_size": 1,
                            }
                        ],
                    }
                ]
            },
        ),
        Preset(
            "drive",
            "soft-clip overdrive: gain 6 into tanh, then a 4-sample smoothing, peak -3 dBFS",
            {"layers": [_mono(1, [6.0], "tanh"), _mono(1, [0.35, 0.35]), _mono(2, [0.5, 0.5])]},
        ),
    )
}


def preset(name: str) -> Stack:
    """Return the stack of the preset called ``name`` (see :data:`PRESETS`).

    Raises
    ------
    SpecError
        For a name that is not one of :data:`PRESETS` (field ``preset``).

    Examples
    --------
    >>> preset("seed").receptive_field
    15
    """
    try:
        return PRESETS[name].build()
    except KeyError:
        raise SpecError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}", field="preset") from None
