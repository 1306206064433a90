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

which leaves each block a :class:`wavedil.spec.Conv1d` (taps stored in
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
from typing import Any

import numpy as np

from ..activations import parse_nam_activation
from ..errors import SpecError
from ..spec import MAX_CHANNELS, MAX_DILATION, MAX_LAYERS, MAX_PARAMETERS, Conv1d

_CONFIG_KEYS = ("channels", "dilations", "batchnorm", "activation", "groups", "in_channels", "out_channels")
_DEFAULT_LIMITS = {"channels": MAX_CHANNELS, "dilation": MAX_DILATION, "layers": MAX_LAYERS, "parameters": MAX_PARAMETERS}


def _int(value: Any, field: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be a positive integer, got {value!r}", field=field)
    if not 1 <= value <= limit:
        raise SpecError(f"must be between 1 and {limit}, got {value}", field=field)
    return value


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
    :class:`~wavedil.spec.Conv1d` per block (batchnorm folded in) and a last
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
        default :data:`wavedil.spec.MAX_CHANNELS` and its siblings.

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
    lim = dict(_DEFAULT_LIMITS, **(limits or {}))
    unknown = sorted(set(map(str, config)) - set(_CONFIG_KEYS))
    if unknown:
        raise SpecError(f"unknown ConvNet option(s) {', '.join(unknown)}; known: {', '.join(_CONFIG_KEYS)}", field="config")
    for key in ("channels", "dilations", "batchnorm", "activation"):
        if key not in config:
            raise SpecError("is required", field=f"config.{key}")
    channels = _int(config["channels"], "config.channels", lim["channels"])
    in_channels = _int(config.get("in_channels", 1), "config.in_channels", lim["channels"])
    out_channels = _int(config.get("out_channels", 1), "config.out_channels", lim["channels"])
    groups = _int(config.get("groups", 1), "config.groups", lim["channels"])
    for n, key in ((in_channels, "in_channels"), (channels, "channels")):
        if n % groups:
            raise SpecError(f"{key} {n} is not divisible by groups {groups}", field="config.groups")
    raw_dilations = config["dilations"]
    if not isinstance(raw_dilations, list) or not raw_dilations:
        raise SpecError("must be a non-empty list of positive integers", field="config.dilations")
    if len(raw_dilations) > lim["layers"]:
        raise SpecError(f"{len(raw_dilations)} blocks exceed the limit of {lim['layers']}", field="config.dilations")
    dilations = [_int(d, "config.dilations", lim["dilation"]) for d in raw_dilations]
    batchnorm = config["batchnorm"]
    if not isinstance(batchnorm, bool):
        raise SpecError(f"must be true or false, got {batchnorm!r}", field="config.batchnorm")
    act = parse_nam_activation(config["activation"], field="config.activation")
    act.check_channels(channels, "config.activation")

    # Sizes first, from the checked integers: nothing is allocated for a file
    # whose weights cannot fit its config.
    ins = [in_channels] + [channels] * (len(dilations) - 1)
    per_block = [channels * (c // groups) * 2 + (4 * channels + 1 if batchnorm else channels) for c in ins]
    expected = sum(per_block) + out_channels * channels + out_channels
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.size != expected:
        raise SpecError(f"expected {expected} numbers for this config, found {weights.size}", field="weights")
    dense = sum(channels * c * 2 + channels for c in ins) + out_channels * channels + out_channels
    if dense > lim["parameters"]:
        raise SpecError(f"{dense} parameters (groups expanded) exceed the limit of {lim['parameters']}", field="config")

    layers: list[Conv1d] = []
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        pos += n
        return weights[pos - n : pos]

    out_g = channels // groups
    for li, (c_in, d) in enumerate(zip(ins, dilations)):
        in_g = c_in // groups
        grouped = take(channels * in_g * 2).reshape(channels, in_g, 2)
        w = np.zeros((channels, c_in, 2))
        for g in range(groups):
            w[g * out_g : (g + 1) * out_g, g * in_g : (g + 1) * in_g] = grouped[g * out_g : (g + 1) * out_g]
        if batchnorm:
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
        layers.append(Conv1d(weights=w[:, :, ::-1], bias=bias, dilation=d, activation=act))
    head_w = take(out_channels * channels).reshape(out_channels, channels, 1)
    layers.append(Conv1d(weights=head_w, bias=take(out_channels), dilation=1, activation="linear"))
    return tuple(layers)
