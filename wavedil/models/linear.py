"""NAM's Linear architecture: one FIR filter, as NeuralAmpModelerCore runs it.

``y[t] = bias + sum_i weights[i] * x[t - i]``, ``i = 0 .. receptive_field - 1``:
the Core puts ``weights[0]`` on the current sample. NAM's Python up to 0.13.0
applied the taps the other way round (a PyTorch convolution's last tap meets
the current sample) and fixed its order afterwards to match the Core; wavedil
follows the Core, so a 0.12.3 or 0.13.0 Linear file sounds here as it does
in the plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import SpecError
from ..fields import boolean, refuse_unknown
from ..stack import Conv1d

_KEYS = ("bias", "implementation", "in_channels", "out_channels", "receptive_field")


def linear_from_nam(config: Mapping[str, Any], weights: np.ndarray, *, limits: Mapping[str, int]) -> Conv1d:
    """The :class:`~wavedil.stack.Conv1d` of a Linear ``.nam`` model.

    Parameters
    ----------
    config : mapping
        ``receptive_field`` (taps), ``bias`` (bool), optionally
        ``in_channels``/``out_channels`` (1) and ``implementation`` (the
        Core's direct or FFT choice; the same numbers either way).
    weights : ndarray
        ``receptive_field`` taps, ``weights[0]`` on the current sample, then the bias.

    Examples
    --------
    >>> layer = linear_from_nam({"receptive_field": 2, "bias": False}, np.array([1.0, 0.5]),
    ...                         limits={"kernel_size": 8})
    >>> layer.weights[0, 0].tolist()
    [1.0, 0.5]
    """
    refuse_unknown(config, _KEYS, what="Linear option", field="config")
    rf = config.get("receptive_field")
    limit = limits["kernel_size"]
    if isinstance(rf, bool) or not isinstance(rf, int) or not 1 <= rf <= limit:
        raise SpecError(f"must be an integer from 1 to {limit}, got {rf!r}", field="config.receptive_field")
    bias = boolean(config.get("bias", False), field="config.bias")
    for key in ("in_channels", "out_channels"):
        if config.get(key, 1) != 1:
            raise SpecError(f"must be 1 (wavedil runs mono Linear models), got {config[key]!r}", field=f"config.{key}")
    impl = config.get("implementation", "auto")
    if impl not in ("auto", "direct", "fft"):
        raise SpecError(f"must be auto, direct or fft, got {impl!r}", field="config.implementation")
    expected = rf + (1 if bias else 0)
    if weights.size != expected:
        raise SpecError(f"expected {expected} numbers for this config, found {weights.size}", field="weights")
    return Conv1d(weights=weights[:rf].reshape(1, 1, rf), bias=weights[rf:] if bias else 0.0, dilation=1)
