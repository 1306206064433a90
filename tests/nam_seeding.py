"""Seeded weights for NAM's PyTorch models, shared by the conformance tests and the fixture script."""

from __future__ import annotations

import math
from typing import Any


def randomize(model: Any, seed: int, gain: float = 1.0, spread: float = 0.3) -> None:
    """Seeded weights for every parameter: N(0, gain^2/fan_in) for matrices, U(-spread, spread) for vectors.

    Scaled by fan-in so each layer's output has the size of its input: neither
    vanishing (a test of nothing) nor saturating every activation. Vectors are
    biases, PReLU slopes and LSTM biases. A BatchNorm's scale is drawn near 1
    and its running statistics (buffers, not parameters) near those of a
    signal of the test input's size.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * gain / math.sqrt(p[0].numel()))
            else:
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * spread)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(0.02 + torch.rand(m.running_var.shape, generator=g) * 0.05)
