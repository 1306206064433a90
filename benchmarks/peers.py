"""The peers wavedil is measured against.

Each function prepares a peer for one stack and returns a callable that runs
it on an input and returns its output (so the caller can time it and check
that it computes what wavedil does), or ``None`` when what the peer needs is
not installed. Optional packages are imported here, lazily, never at module load.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

import wavedil

#: Names the peers go by in the table and in the JSON output.
OACONVOLVE = "scipy oaconvolve"
NAM_PYTORCH = "NAM PyTorch"

#: A prepared peer: input signal in, output signal out.
Runner = Callable[[np.ndarray], np.ndarray]


def dense_kernel(stack: wavedil.Stack) -> np.ndarray:
    """The one FIR kernel a linear mono stack equals: its response to a unit impulse, RF taps long."""
    if not (stack.is_linear and stack.is_mono and stack.padding == "causal"):
        raise ValueError("only a causal, linear, mono stack has a dense FIR equivalent")
    impulse = np.zeros(stack.receptive_field, dtype=np.float32)
    impulse[0] = 1.0
    return wavedil.apply(stack, impulse)


def oaconvolve_dense(stack: wavedil.Stack) -> Runner:
    """``scipy.signal.oaconvolve`` with the stack's dense float32 kernel, cut to the input's length (causal)."""
    from scipy.signal import oaconvolve

    kernel = dense_kernel(stack)

    def run(x: np.ndarray) -> np.ndarray:
        return oaconvolve(x, kernel)[: len(x)]

    return run


def nam_pytorch(stack: wavedil.Stack) -> Runner | None:
    """NAM's own PyTorch WaveNet on the same weights (see :func:`nam_pytorch_document`).

    The stack's single WaveNet layer is written as a ``.nam`` document.
    """
    from wavedil.formats.nam import to_nam
    from wavedil.models.wavenet import WaveNet

    if len(stack.layers) != 1 or not isinstance(stack.layers[0], WaveNet):
        raise ValueError("the NAM peer runs stacks made of one WaveNet layer")
    return nam_pytorch_document(to_nam(stack.layers[0]))


def nam_pytorch_document(doc: dict) -> Runner | None:
    """NAM's own PyTorch model of a ``.nam`` document: one thread, under ``torch.no_grad()``.

    Loaded by neural-amp-modeler's ``init_from_nam`` (0.13.0 reads file
    version 0.7), as the project's tests do. Returns ``None`` when torch or
    neural-amp-modeler is not installed.
    """
    try:
        import torch
        from nam.models._from_nam import init_from_nam
    except ImportError:
        return None
    torch.set_num_threads(1)
    # Through JSON text, as from a file: plain lists and floats only.
    model = init_from_nam(json.loads(json.dumps(doc)))
    model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        signal = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        with torch.no_grad():
            return model(signal).numpy()

    return run
