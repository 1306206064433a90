"""NAM's ConvNet, as NeuralAmpModelerCore reads and runs it, built from plain convolutions.

A ConvNet is a chain of blocks and a head. Block ``l`` (dilation ``d_l``,
kernel 2) computes, on ``C`` channels::

    z[t] = W_l[1] @ x[t] + W_l[0] @ x[t - d_l] (+ b_l)      # b_l only without batchnorm
    z[t] = (z[t] - mean_l) / sqrt(var_l + eps_l) * g_l + h_l # with batchnorm (running statistics)
    x    = act(z)

and the head is a 1x1 convolution with bias, ``y[t] = H @ x[t] + h``, from
``channels`` to ``out_channels``. The batchnorm is an affine map per channel,
so it is folded into the block's convolution at load time::

    s = g / sqrt(var + eps),    W' = s * W,    b' = h - s * mean

which leaves each block a :class:`wavedil.stack.Conv1d` (taps stored in
wavedil's order, ``weights[..., 0]`` meeting the current sample, the reverse
of PyTorch's and the Core's) and the whole network a tuple of them, run by
the engine like any stack. A grouped convolution is expanded to its
block-diagonal dense matrix.

The flat ``weights`` of the file hold, per block: the convolution weights
``(channels, in/groups, 2)`` in row-major order (oldest tap first), the bias
(``channels``, only when ``batchnorm`` is false), then with batchnorm
``running_mean``, ``running_var``, ``weight``, ``bias`` (``channels`` each)
and ``eps``; then the head's ``(out_channels, channels)`` weights and its
``out_channels`` biases. Nothing else (no ``head_scale``).

The Core starts a ConvNet by running ``1 + sum(dilations)`` samples of
silence through it; with finite memory that is exactly the steady state of
silence in which wavedil's engine primes every layer, and NAM's Python
(``pad_start``) pads ``sum(dilations)`` zeros, the same state.

Where NAM's Python (0.13) and the Core differ, the Core is followed. The
Python exporter writes the activation as a bare class name, so a trained
``LeakyReLU`` slope or ``PReLU`` weight does not reach the file (the Core
then uses 0.01), and its ``LeakyHardtanh``/``Softsign`` come out as
``_LeakyHardtanh``/``_Softsign``, which the Core refuses, as wavedil does.
``groups``, ``in_channels`` and ``out_channels`` are the Core's (the Python
ConvNet has one input, one output and no groups).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..activations import Activation, parse_nam_activation
from ..errors import SpecError
from ..fields import boolean, positive_int, refuse_unknown
from ..limits import LAYER_LIMITS
from ..stack import Conv1d

_CONFIG_KEYS = ("channels", "dilations", "batchnorm", "activation", "groups", "in_channels", "out_channels")


@dataclass(frozen=True)
class _Shape:
    """A ConvNet's checked sizes: the block count is ``len(dilations)``."""

    channels: int
    in_channels: int
    out_channels: int
    groups: int
    dilations: list[int]
    batchnorm: bool
    activation: Activation

    @property
    def block_inputs(self) -> list[int]:
        """Input channels of each block: the model's for the first, ``channels`` after."""
        return [self.in_channels] + [self.channels] * (len(self.dilations) - 1)

    @property
    def weight_count(self) -> int:
        """Numbers the file's ``weights`` holds for this config."""
        per_block = [self.channels * (c // self.groups) * 2 + (4 * self.channels + 1 if self.batchnorm else self.channels) for c in self.block_inputs]
        return sum(per_block) + self.out_channels * self.channels + self.out_channels

    @property
    def dense_parameters(self) -> int:
        """Numbers of the layers once groups are expanded to dense matrices."""
        return sum(self.channels * c * 2 + self.channels for c in self.block_inputs) + self.out_channels * self.channels + self.out_channels


def convnet_from_nam(
    config: Mapping[str, Any],
    weights: np.ndarray,
    *,
    limits: Mapping[str, int] | None = None,
) -> tuple[Conv1d, ...]:
    """Build NAM's ConvNet from a ``.nam`` file's ``config`` and flat ``weights``.

    ``config`` holds the Core's keys: ``channels``, ``dilations`` (one block
    each, kernel 2), ``batchnorm`` (a JSON boolean), ``activation`` (read by
    :func:`wavedil.activations.parse_nam_activation`; a per-channel PReLU
    must have ``channels`` slopes), and optionally ``groups``,
    ``in_channels`` and ``out_channels`` (default 1 each). The result is one
    :class:`~wavedil.stack.Conv1d` per block (batchnorm folded in) and a last
    1x1 ``linear`` one for the head: see the module docstring for the formula
    and the weight order.

    Parameters
    ----------
    config : mapping
        The file's ``config`` object.
    weights : ndarray, shape (n,)
        The file's ``weights``, as float64.
    limits : mapping, optional
        ``channels``, ``dilation``, ``layers`` and ``parameters`` bounds;
        default :data:`wavedil.limits.LAYER_LIMITS`.

    Returns
    -------
    tuple of Conv1d
        ``len(dilations) + 1`` layers, from ``in_channels`` to ``out_channels``.

    Raises
    ------
    SpecError
        Naming the field (``config.dilations``, ``weights``, ...) that is wrong.

    Examples
    --------
    >>> cfg = {"channels": 1, "dilations": [2], "batchnorm": False, "activation": "ReLU"}
    >>> block, head = convnet_from_nam(cfg, np.array([0.25, 1.0, 0.5, 2.0, 0.0]))
    >>> block.weights.tolist(), block.dilation, head.weights.tolist()  # y = 2 relu(x[t] + 0.25 x[t-2] + 0.5)
    ([[[1.0, 0.25]]], 2, [[[2.0]]])
    """
    lim = dict(LAYER_LIMITS, **(limits or {}))
    shape = _read_shape(config, lim)
    # Sizes first, from the checked integers: nothing is allocated for a file
    # whose weights cannot fit its config.
    expected = shape.weight_count
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.size != expected:
        raise SpecError(f"expected {expected} numbers for this config, found {weights.size}", field="weights")
    if shape.dense_parameters > lim["parameters"]:
        raise SpecError(f"{shape.dense_parameters} parameters (groups expanded) exceed the limit of {lim['parameters']}", field="config")
    return _build(shape, weights)


def _read_shape(config: Mapping[str, Any], lim: Mapping[str, int]) -> _Shape:
    refuse_unknown(config, _CONFIG_KEYS, what="ConvNet option", field="config")
    for key in ("channels", "dilations", "batchnorm", "activation"):
        if key not in config:
            raise SpecError("is required", field=f"config.{key}")
    channels = positive_int(config["channels"], lim["channels"], field="config.channels")
    in_channels = positive_int(config.get("in_channels", 1), lim["channels"], field="config.in_channels")
    out_channels = positive_int(config.get("out_channels", 1), lim["channels"], field="config.out_channels")
    groups = positive_int(config.get("groups", 1), lim["channels"], field="config.groups")
    for n, key in ((in_channels, "in_channels"), (channels, "channels")):
        if n % groups:
            raise SpecError(f"{key} {n} is not divisible by groups {groups}", field="config.groups")
    raw_dilations = config["dilations"]
    if not isinstance(raw_dilations, list) or not raw_dilations:
        raise SpecError("must be a non-empty list of positive integers", field="config.dilations")
    if len(raw_dilations) > lim["layers"]:
        raise SpecError(f"{len(raw_dilations)} blocks exceed the limit of {lim['layers']}", field="config.dilations")
    dilations = [positive_int(d, lim["dilation"], field="config.dilations") for d in raw_dilations]
    batchnorm = boolean(config["batchnorm"], field="config.batchnorm")
    act = parse_nam_activation(config["activation"], field="config.activation")
    act.check_channels(channels, "config.activation")
    return _Shape(channels, in_channels, out_channels, groups, dilations, batchnorm, act)


def _build(shape: _Shape, weights: np.ndarray) -> tuple[Conv1d, ...]:
    """The layers, their weights taken from ``weights`` in the file's order (see the module docstring)."""
    channels, groups = shape.channels, shape.groups
    layers: list[Conv1d] = []
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        pos += n
        return weights[pos - n : pos]

    out_g = channels // groups
    for li, (c_in, d) in enumerate(zip(shape.block_inputs, shape.dilations)):
        in_g = c_in // groups
        grouped = take(channels * in_g * 2).reshape(channels, in_g, 2)
        w = np.zeros((channels, c_in, 2))
        for g in range(groups):
            w[g * out_g : (g + 1) * out_g, g * in_g : (g + 1) * in_g] = grouped[g * out_g : (g + 1) * out_g]
        if shape.batchnorm:
            mean, var, gain, shift = (take(channels) for _ in range(4))
            eps = float(take(1)[0])
            if not np.all(var + eps > 0):
                raise SpecError(f"block {li + 1}: batchnorm running_var + eps must be positive", field="weights")
            scale = gain / np.sqrt(var + eps)
            w *= scale[:, None, None]
            bias = shift - scale * mean
        else:
            bias = take(channels)
        # The file's taps run oldest first; wavedil's meet the current sample first.
        layers.append(Conv1d(weights=w[:, :, ::-1], bias=bias, dilation=d, activation=shape.activation))
    head_w = take(shape.out_channels * channels).reshape(shape.out_channels, channels, 1)
    layers.append(Conv1d(weights=head_w, bias=take(shape.out_channels), dilation=1, activation="linear"))
    return tuple(layers)
