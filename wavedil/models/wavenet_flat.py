"""WaveNets of NAM's 0.5 layout built from array settings and a flat weight vector, or seeded.

The spec form of a WaveNet (:mod:`wavedil.spec_wavenet`) names each layer
array's shape (:class:`ArraySettings`: NAM's ``config.layers[i]`` of file
version 0.5) and gives its weights as NAM's flat vector, in PyTorch's Conv1d
order; :func:`from_flat` builds the network with the same reader as a
``.nam`` file (:mod:`wavedil.models.wavenet_config`), and
:func:`seeded_weights` draws a vector like PyTorch's default initialization.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS, Activation, activation_from_name
from ..errors import SpecError
from ..limits import LAYER_LIMITS
from .wavenet import WaveNet
from .wavenet_config import wavenet_from_nam


@dataclass(frozen=True)
class ArraySettings:
    """The shape of one layer array, before weights (NAM's ``config.layers[i]``)."""

    input_size: int
    condition_size: int
    channels: int
    kernel_size: int
    dilations: tuple[int, ...]
    activation: str
    gated: bool
    head_size: int
    head_bias: bool

    @property
    def mid(self) -> int:
        """Channels of the dilated convolution's output: doubled when gated."""
        return 2 * self.channels if self.gated else self.channels

    @property
    def history(self) -> int:
        return (self.kernel_size - 1) * sum(self.dilations)

    @property
    def layer_parameters(self) -> int:
        m, c = self.mid, self.channels
        return m * c * self.kernel_size + m + m * self.condition_size + c * c + c

    @property
    def layer_macs(self) -> int:
        m, c = self.mid, self.channels
        return m * c * self.kernel_size + m * self.condition_size + c * c

    @property
    def head_parameters(self) -> int:
        return self.head_size * self.channels + (self.head_size if self.head_bias else 0)

    @property
    def parameters(self) -> int:
        """Also the array's length in the flat (NAM) weight vector."""
        return self.channels * self.input_size + len(self.dilations) * self.layer_parameters + self.head_parameters

    @property
    def macs_per_sample(self) -> int:
        return (
            self.channels * self.input_size
            + len(self.dilations) * self.layer_macs
            + self.head_size * self.channels
        )


def weight_count(settings: Sequence[ArraySettings]) -> int:
    """Length of the flat weight vector for these arrays (without head_scale)."""
    return sum(s.parameters for s in settings)


def from_flat(settings: Sequence[ArraySettings], flat: np.ndarray, head_scale: float) -> WaveNet:
    """Build a :class:`~wavedil.models.wavenet.WaveNet` from NAM's flat weight vector (PyTorch Conv1d order).

    ``flat`` holds the arrays' weights without ``head_scale`` (see
    :func:`weight_count`); the network is read by the same code as a
    ``.nam`` file of the 0.5 layout.

    Raises
    ------
    SpecError
        If the vector's length does not match the settings.
    """
    flat = np.asarray(flat, dtype=np.float64).ravel()
    expected = weight_count(settings)
    if flat.size != expected:
        raise SpecError(f"expected {expected} numbers for this architecture, found {flat.size}", field="weights")
    config = {
        "layers": [
            {
                "input_size": s.input_size,
                "condition_size": s.condition_size,
                "head_size": s.head_size,
                "channels": s.channels,
                "kernel_size": s.kernel_size,
                "dilations": list(s.dilations),
                "activation": s.activation,
                "gated": s.gated,
                "head_bias": s.head_bias,
            }
            for s in settings
        ],
        "head": None,
        "head_scale": float(head_scale),
        "in_channels": settings[0].input_size,
    }
    return wavenet_from_nam(config, np.append(flat, float(head_scale)), limits=_NO_LIMITS, parse_activation=_spec_activation)


#: Settings reaching from_flat were checked by parse_array_settings against the spec's limits.
_NO_LIMITS = {key: sys.maxsize for key in LAYER_LIMITS}


def _spec_activation(name: Any, *, field: str) -> Activation:
    """wavedil's activation names, as a spec's arrays hold them."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise SpecError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}", field=field)
    return activation_from_name(name)


def seeded_weights(settings: Sequence[ArraySettings], seed: int) -> np.ndarray:
    """A flat weight vector drawn like PyTorch's default Conv1d init, from ``seed``.

    Each tensor is uniform in ``+-1/sqrt(fan_in)``. Meant for studying shapes,
    receptive fields and speed, not for sound.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for s in settings:
        m, c = s.mid, s.channels

        def draw(n: int, fan_in: int) -> np.ndarray:
            bound = 1.0 / np.sqrt(fan_in)
            return rng.uniform(-bound, bound, n)

        parts.append(draw(c * s.input_size, s.input_size))
        for _ in s.dilations:
            parts.append(draw(m * c * s.kernel_size, c * s.kernel_size))
            parts.append(draw(m, c * s.kernel_size))
            parts.append(draw(m * s.condition_size, s.condition_size))
            parts.append(draw(c * c, c))
            parts.append(draw(c, c))
        parts.append(draw(s.head_size * c, c))
        if s.head_bias:
            parts.append(draw(s.head_size, c))
    return np.concatenate(parts)
