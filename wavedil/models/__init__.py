"""The model architectures of ``.nam`` files, found by the name NAM writes (the Core's registry).

Each architecture module turns a document's ``config`` and flat ``weights``
into wavedil layers (objects of the layer protocol described in
:mod:`wavedil.stack`): ``WaveNet`` (:mod:`.wavenet`, read by :mod:`.wavenet_config`), ``LSTM`` (:mod:`.lstm`),
``ConvNet`` (:mod:`.convnet`), ``Linear`` (:mod:`.linear`). A
``SlimmableContainer`` holds whole documents and is resolved by the reader
(:mod:`wavedil.formats.nam`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ModelContext:
    """What a builder gets besides ``config`` and ``weights``.

    ``nested`` builds a nested ``.nam`` document (a WaveNet's
    ``condition_dsp``) into a single layer, checked against the same limits.
    """

    version: str
    sample_rate: int | None
    limits: Mapping[str, int]
    nested: Callable[[Any, str], Any]


Builder = Callable[[Mapping[str, Any], np.ndarray, ModelContext], tuple[Any, ...]]


def _wavenet(config: Mapping[str, Any], weights: np.ndarray, ctx: ModelContext) -> tuple[Any, ...]:
    from .wavenet_config import wavenet_from_nam

    cond = None
    raw_cond = config.get("condition_dsp")
    if raw_cond is not None:
        cond = ctx.nested(raw_cond, "config.condition_dsp")
    return (wavenet_from_nam(config, weights, limits=ctx.limits, version=ctx.version, condition_model=cond),)


def _lstm(config: Mapping[str, Any], weights: np.ndarray, ctx: ModelContext) -> tuple[Any, ...]:
    from .lstm import lstm_from_nam

    return (lstm_from_nam(config, weights, sample_rate=ctx.sample_rate),)


def _convnet(config: Mapping[str, Any], weights: np.ndarray, ctx: ModelContext) -> tuple[Any, ...]:
    from .convnet import convnet_from_nam

    return convnet_from_nam(config, weights, limits=ctx.limits)


def _linear(config: Mapping[str, Any], weights: np.ndarray, ctx: ModelContext) -> tuple[Any, ...]:
    from .linear import linear_from_nam

    return (linear_from_nam(config, weights, limits=ctx.limits),)


#: Architecture name in a ``.nam`` file -> builder of its layers.
ARCHITECTURES: dict[str, Builder] = {
    "WaveNet": _wavenet,
    "LSTM": _lstm,
    "ConvNet": _convnet,
    "Linear": _linear,
}
