"""The peers wavedil is measured against, each optional.

A peer returns a callable that runs its job once, or None when what it needs
is not installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
from scipy.signal import oaconvolve

import wavedil
from wavedil.formats.nam import to_nam


def oaconvolve_dense(stack: wavedil.Stack, x: np.ndarray) -> Callable[[], np.ndarray]:
    """scipy.signal.oaconvolve with the one dense kernel a linear mono stack equals, cut to the input's length."""
    impulse = np.zeros(stack.receptive_field, dtype=np.float32)
    impulse[0] = 1.0
    kernel = wavedil.apply(stack, impulse)
    return lambda: oaconvolve(x, kernel)[: len(x)]


def nam_pytorch(stack: wavedil.Stack, x: np.ndarray) -> Callable[[], np.ndarray] | None:
    """NAM's PyTorch reference (neural-amp-modeler 0.12.3) on the same weights, one thread, no autograd."""
    try:
        import torch
        from nam.models._from_nam import init_from_nam
    except ImportError:
        return None
    torch.set_num_threads(1)
    (net,) = stack.layers
    model = init_from_nam(json.loads(json.dumps(to_nam(net))))
    model.eval()
    signal = torch.from_numpy(x)

    def run() -> np.ndarray:
        with torch.no_grad():
            return model(signal).numpy()

    return run
