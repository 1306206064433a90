"""The model of a stack: a chain of causal dilated 1-D convolutions (and NAM models) with an edge rule.

Layer ``l`` with taps ``w[0..k-1]`` and dilation ``d`` computes::

    y[t] = act(b + sum_j w[j] @ x[t - j*d])        j = 0 .. k-1

``w[0]`` meets the current sample and ``w[j]`` the sample ``j*d`` earlier.
Dilation 1 is an ordinary convolution (some texts count that as "dilation 0";
wavedil counts the spacing between taps, as PyTorch and Keras do). The layer
spans ``(k-1)*d + 1`` samples and a plain stack hears::

    receptive_field = 1 + sum_l (k_l - 1) * d_l

The classes here hold a stack; :mod:`wavedil.spec` reads one from a spec,
:mod:`wavedil.formats.nam` from a ``.nam`` file, and :mod:`wavedil.engine`
runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import Activation, plain
from .engines import NUMPY, Engine
from .errors import SpecError
from .fields import printable
from .kernels.codes import SMOOTH_ACTIVATIONS, name_of

if TYPE_CHECKING:
    from .conv import ConvRunner

#: The edge rules a stack may have (see :class:`Stack`).
PADDINGS = ("causal", "same")


def _frozen_array(values: Any, dtype: type = np.float64) -> np.ndarray:
    arr = np.array(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Conv1d:
    """One causal dilated convolution layer.

    ``y[t] = activation(bias + sum_j weights[:, :, j] @ x[t - j*dilation])``

    Parameters
    ----------
    weights : ndarray, shape (out_channels, in_channels, kernel_size)
        Taps; ``weights[..., 0]`` meets the current sample.
    bias : ndarray, shape (out_channels,)
        Added after the taps, before the activation.
    dilation : int
        Spacing between taps, in samples (1 = ordinary convolution).
    activation : str or Activation
        A name of :data:`~wavedil.activations.ACTIVATIONS` (``linear``,
        ``tanh``, ``relu``, ``sigmoid``, ...), or an
        :class:`~wavedil.activations.Activation` with parameters (kept as its
        name when it has none beyond that name's defaults).
    """

    weights: np.ndarray
    bias: np.ndarray
    dilation: int = 1
    activation: str | Activation = "linear"

    kind = "conv"
    #: Whether the engine's block budget for stacked GEMM inputs applies (see :func:`wavedil.engine.block_size_for`).
    stacks_taps = False

    def __post_init__(self) -> None:
        w = _frozen_array(self.weights)
        if w.ndim != 3 or min(w.shape) < 1:
            raise SpecError(f"weights must have shape (out, in, k), got {w.shape}", field="weights")
        b = _frozen_array(np.broadcast_to(np.asarray(self.bias, dtype=np.float64), (w.shape[0],)))
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "bias", b)
        act = plain(self.activation)
        if isinstance(act, Activation):
            act.check_channels(w.shape[0], "activation")
        object.__setattr__(self, "activation", act)

    @property
    def kernel_size(self) -> int:
        return int(self.weights.shape[2])

    @property
    def in_channels(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def span(self) -> int:
        """Samples one output of this layer reads: ``(k-1)*d + 1``."""
        return (self.kernel_size - 1) * self.dilation + 1

    @property
    def history(self) -> int:
        """Past samples this layer needs besides the current one: ``span - 1``."""
        return self.span - 1

    @property
    def parameters(self) -> int:
        return int(self.weights.size + self.bias.size)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulates per output sample (taps only; the bias is an add)."""
        return int(self.weights.size)

    @property
    def is_linear(self) -> bool:
        return self.activation == "linear"

    @property
    def kernels_pay(self) -> bool:
        """Whether ``auto`` takes the compiled kernels for this layer (:func:`wavedil.engines.kernels_pay`).

        A smooth activation (tanh, sigmoid, ...) over several channels, as in
        NAM's ConvNet captures: NumPy's costs 3-4 ns an element, the kernels'
        0.8 (a 3-channel ConvNet ran 3.5x faster compiled here). Linear,
        piecewise-linear and mono layers gain too little to repay Numba's
        start-up.
        """
        return self.out_channels > 1 and name_of(self.activation) in SMOOTH_ACTIVATIONS

    def activation_names(self) -> set[str]:
        return {self.activation if isinstance(self.activation, str) else self.activation.name}

    def block_rows(self) -> int | None:
        """Rows of this layer's widest float buffer per sample of a block; None: a mono layer, no limit."""
        rows = max(self.in_channels, self.out_channels) * (self.kernel_size if self.in_channels > 1 else 1)
        return rows if rows > 1 else None

    def memory_bytes(self, batch: int, itemsize: int, block: int, engine: Engine = NUMPY) -> int:
        """Bytes the runner keeps on either engine (see :func:`wavedil.memory.plan_filter`).

        Its taps in the working precision (twice when they are stacked for
        one GEMM), the input's last ``history`` samples per signal, and the
        stacked GEMM input. Block-long temporaries are the engine's account.
        """
        out_ch, in_ch, k = self.weights.shape
        stacked = not (in_ch == 1 and out_ch == 1) and k > 1
        weights = self.weights.size * itemsize * (2 if stacked else 1)
        return weights + batch * in_ch * (self.history + (k * block if stacked else 0)) * itemsize

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> "ConvRunner":
        """The streaming state and forward pass of this layer (see :mod:`wavedil.conv`)."""
        from .conv import ConvRunner

        return ConvRunner(self.weights, self.bias, self.dilation, self.activation, batch, dtype, block, gain_in, engine=engine)

    def graph_nodes(self, g: Any, x: int, index: int) -> int:
        """Add this layer to a coverage graph (see :mod:`wavedil.coverage`); returns its output node."""
        return g.node(f"layer {index}", (x, self.dilation, self.kernel_size), row=True)

    def rows(self) -> list[dict[str, Any]]:
        """The report row of this layer (see :func:`wavedil.receptive.analyze`)."""
        return [
            {
                "kind": self.kind,
                "kernel_size": self.kernel_size,
                "dilation": self.dilation,
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "activation": self.activation if isinstance(self.activation, str) else self.activation.describe(),
                "parameters": self.parameters,
                "macs_per_sample": self.macs_per_sample,
                "span": self.span,
            }
        ]

    def to_dict(self) -> dict[str, Any]:
        """The layer in the spec schema (mono taps as a flat list)."""
        if self.in_channels == 1 and self.out_channels == 1:
            weights: Any = self.weights[0, 0].tolist()
            bias: Any = float(self.bias[0])
        else:
            weights = self.weights.tolist()
            bias = self.bias.tolist()
        return {
            "dilation": self.dilation,
            "kernel_size": self.kernel_size,
            "weights": weights,
            "bias": bias,
            # A parametrized activation in NAM's form ({"type": "LeakyReLU", "negative_slope": 0.2}).
            "activation": self.activation if isinstance(self.activation, str) else self.activation.to_nam(),
        }


#: What a stack holds. Every layer has ``in_channels``, ``out_channels``,
#: ``history`` (past samples it needs besides the current one; None for a
#: recurrent model, whose memory has no bound), ``parameters``,
#: ``macs_per_sample``, ``is_linear``, ``rows()``, ``activation_names()``,
#: ``block_rows()`` and ``stacks_taps`` (see :func:`wavedil.engine.block_size_for`), ``graph_nodes()`` and ``runner(batch, dtype, block,
#: gain_in)``, whose result streams blocks (``prime``, ``run``, ``gain_out``).
Layer = Any


@dataclass(frozen=True)
class Stage:
    """Where one stage of a chain (:func:`wavedil.chain`) sits among its layers.

    Attributes
    ----------
    name : str
        The stage's label (a stack's or a capture's name, ``IR cab.wav``, ``gain -3 dB``).
    kind : str
        ``model`` (a trained capture), ``stack``, ``ir`` or ``gain``.
    first, count : int
        Its layers are ``stack.layers[first : first + count]``.
    sample_rate : int or None
        The rate a model stage was made for, in Hz.
    source : str or None
        The file it came from, when known.
    """

    name: str
    kind: str
    first: int
    count: int
    sample_rate: int | None = None
    source: str | None = None


@dataclass(frozen=True, eq=False)
class Stack:
    """A chain of layers (:class:`Conv1d`, a NAM model such as :class:`~wavedil.models.wavenet.WaveNet`) and its edge rule.

    Parameters
    ----------
    layers : tuple of layers (see :data:`Layer`)
        Applied in order; each layer's ``in_channels`` equals the previous
        layer's ``out_channels``.
    padding : {"causal", "same"}
        ``causal``: ``y[t]`` depends on ``x[<=t]`` only, the input taken as
        preceded by endless silence. ``same``: the causal output of the input
        followed by silence, shifted earlier by ``(receptive_field - 1) // 2``.
    name : str, optional
        A label for reports.
    description : str, optional
        One line saying what the stack does.
    sample_rate : int, optional
        The rate the stack was made for, in Hz (a trained model's); audio at
        another rate is refused unless resampled.
    metadata : mapping
        Free-form facts about a model (name, gear, loudness, ...).
    submodels : tuple of mapping
        For a model read from a NAM ``SlimmableContainer``: each submodel's
        ``max_value``, ``architecture``, ``receptive_field``, ``parameters``,
        ``macs_per_sample`` and whether it is the ``active`` one.
    stages : tuple of Stage
        For a chain (:func:`wavedil.chain`, ``a + b``): where each stage's
        layers are. Empty for a single stack.
    """

    layers: tuple[Layer, ...]
    padding: str = "causal"
    name: str | None = None
    description: str | None = None
    sample_rate: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    submodels: tuple[Mapping[str, Any], ...] = ()
    stages: tuple[Stage, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.layers:
            raise SpecError("a stack needs at least one layer", field="layers")
        if self.stages and [(s.first, s.count > 0) for s in self.stages] != [
            (sum(t.count for t in self.stages[:i]), True) for i in range(len(self.stages))
        ] or sum(s.count for s in self.stages) not in (0, len(self.layers)):
            raise SpecError("a chain's stages must cover its layers in order", field="stages")
        # Texts from files end up in reports and on terminals: a lone surrogate (JSON "\ud800") cannot be printed.
        for key in ("name", "description"):
            value = getattr(self, key)
            if isinstance(value, str):
                object.__setattr__(self, key, printable(value))
        object.__setattr__(self, "metadata", {k: printable(v) if isinstance(v, str) else v for k, v in self.metadata.items()})
        if self.padding not in PADDINGS:
            raise SpecError(f"must be one of {', '.join(PADDINGS)}, got {self.padding!r}", field="padding")
        if self.padding == "same" and self.is_recurrent:
            raise SpecError("same needs a finite receptive field; a recurrent model (LSTM) runs causal only", field="padding")
        for i, (prev, layer) in enumerate(zip(self.layers, self.layers[1:]), start=2):
            if layer.in_channels != prev.out_channels:
                raise SpecError(
                    f"takes {layer.in_channels} input channel(s) but layer {i - 1} "
                    f"gives {prev.out_channels}",
                    layer=i,
                    field="weights",
                )

    @property
    def in_channels(self) -> int:
        return self.layers[0].in_channels

    @property
    def out_channels(self) -> int:
        return self.layers[-1].out_channels

    @property
    def is_mono(self) -> bool:
        """True when the stack maps one channel to one channel.

        A mono stack runs over each channel of a multi-channel file separately.
        """
        return self.in_channels == 1 and self.out_channels == 1

    @property
    def receptive_field(self) -> int | None:
        """``1 + sum_l (k_l - 1) * d_l``, in samples; None for a recurrent stack (unbounded)."""
        histories = [layer.history for layer in self.layers]
        return None if None in histories else 1 + sum(histories)

    @property
    def is_recurrent(self) -> bool:
        """True when a layer keeps state with no bound on its memory (an LSTM)."""
        return self.receptive_field is None

    @property
    def lookahead(self) -> int:
        """Samples of future input an output sample depends on (0 when causal)."""
        rf = self.receptive_field
        # A recurrent stack is causal (see __post_init__), so rf is finite here.
        return (rf - 1) // 2 if self.padding == "same" and rf is not None else 0

    @property
    def parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    @property
    def macs_per_sample(self) -> int:
        return sum(layer.macs_per_sample for layer in self.layers)

    @property
    def is_linear(self) -> bool:
        return all(layer.is_linear for layer in self.layers)

    @property
    def kind(self) -> str:
        """What the stack is as a stage of a chain: ``gain``, ``ir``, ``model`` (a capture, made for a sample rate) or ``stack``."""
        kinds = {getattr(layer, "kind", None) for layer in self.layers}
        if kinds == {"gain"}:
            return "gain"
        if kinds == {"ir"}:
            return "ir"
        return "model" if self.sample_rate else "stack"

    def __add__(self, other: object) -> "Stack":
        """``a + b``: the chain that runs ``a``, then ``b`` (:func:`wavedil.chain`)."""
        if not isinstance(other, Stack):
            return NotImplemented
        from .chains import chain

        return chain(self, other)

    def at_rate(self, rate: int) -> "Stack":
        """This stack for audio at ``rate`` Hz: its impulse responses resampled to it (see :meth:`wavedil.impulses.ImpulseResponse.at_rate`)."""
        layers = tuple(_at_rate(layer, rate) for layer in self.layers)
        if all(new is old for new, old in zip(layers, self.layers)):
            return self
        return dataclasses.replace(self, layers=layers)

    @property
    def rate(self) -> int | None:
        """The rate the stack's figures are in, in Hz: a model's, else its first impulse response's; None: any."""
        if self.sample_rate:
            return self.sample_rate
        return next((r for layer in self.layers if (r := getattr(unwrapped(layer), "sample_rate", None))), None)

    def resampled_responses(self) -> list[tuple[str, int, int]]:
        """``(source, from_rate, to_rate)`` of each impulse response :meth:`at_rate` resampled."""
        found = []
        for layer in self.layers:
            inner = unwrapped(layer)
            if getattr(inner, "resampled_from", None):
                found.append((inner.source or "impulse response", inner.resampled_from, inner.sample_rate))
        return found

    def replace(self, **changes: Any) -> "Stack":
        """A copy with some fields changed (``padding=...``, ``name=...``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The stack in the spec schema, ready for ``json.dumps``."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        out["padding"] = self.padding
        if self.sample_rate:
            out["sample_rate"] = self.sample_rate
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out


def unwrapped(layer: Layer) -> Layer:
    """The layer itself, or the mono layer a per-channel wrapper (:class:`wavedil.chains.PerChannel`) runs."""
    return getattr(layer, "layer", layer)


def _at_rate(layer: Layer, rate: int) -> Layer:
    """``layer`` for audio at ``rate``: an impulse response (also inside a per-channel wrapper) resampled, else itself."""
    inner = unwrapped(layer)
    if not hasattr(inner, "at_rate"):
        return layer
    moved = inner.at_rate(rate)
    if moved is inner:
        return layer
    return moved if inner is layer else dataclasses.replace(layer, layer=moved)
