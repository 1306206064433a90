"""Neural Amp Modeler's LSTM: stacked LSTM cells and a linear head, run sample by sample.

Layer ``l`` (``l = 1 .. L``) takes ``u`` (the model input for the first, the
previous layer's hidden state otherwise) and carries a hidden state ``h`` and
a cell state ``c`` of ``H`` values each::

    z = W_l @ [u; h] + b_l                      # 4H gate inputs, rows i, f, g, o
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g = tanh(z_g)
    c = f * c + i * g
    h = o * tanh(c)

and the model outputs ``y = head_weight @ h_L + head_bias``. ``W_l`` is
PyTorch's ``[W_ih | W_hh]`` side by side and ``b_l`` its ``b_ih + b_hh``.

This is NeuralAmpModelerCore's ``nam::lstm::LSTM`` (the plugin's engine, the
reference for what a ``.nam`` file means). A ``.nam`` file stores, per layer,
``W_l`` row by row, ``b_l``, the initial ``h`` and the initial ``c``; then the
head's weight row by row and its bias. The state starts from the file's
``h`` and ``c``; before any audio the Core *prewarms* the model on
``int(0.5 * sample_rate)`` samples of silence (one when the file names no
rate). wavedil runs exactly that many samples of the steady input in
:meth:`LSTMRunner.prime`; the Core rounds up to whole host buffers, which
moves a converged state by nothing measurable.

NAM's Python trainer (``nam.models.recurrent.LSTM``, 0.13) differs: its
forward pass starts from learned initial states with no prewarm, while its
export stores the state reached after 48000 silent samples from zeros. Only
the file's numbers and the Core's prewarm count here.

The recurrence is sequential in time. On the ``numba`` engine each layer
runs as one compiled loop (:data:`wavedil.kernels.codes.LSTM_KERNELS`, tanh and
sigmoid by rational approximations within 4e-7); on the ``numpy`` engine the
input side ``W_ih @ u`` of a block is one NumPy product and a loop of small
NumPy calls does the rest, sample by sample, with libm's tanh and exp. With
``fast_tanh`` both engines compute every gate and the cell's tanh with the
Core's ``fast_tanh`` and ``fast_sigmoid(x) = (fast_tanh(x/2) + 1)/2``, as
the Core's ``lstm.cpp`` does when its fast tanh is on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from ..activations import fast_tanh
from ..engines import NUMPY, Engine, resolve_engine
from ..errors import SpecError
from ..fields import positive_int, refuse_unknown
from ..limits import MAX_CHANNELS, MAX_LAYERS, MAX_PARAMETERS

#: Bytes of the per-block gate buffer (float64, 4H per sample and channel): a
#: long engine block is cut into pieces of this size so memory stays bounded.
CHUNK_BYTES = 2 * 1024 * 1024

_CONFIG_KEYS = ("num_layers", "input_size", "hidden_size", "in_channels", "out_channels")


def _frozen(values: Any, shape: tuple[int, ...], field: str) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    if arr.shape != shape:
        raise SpecError(f"must have shape {shape}, got {arr.shape}", field=field)
    if not np.all(np.isfinite(arr)):
        raise SpecError("must be finite numbers", field=field)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LSTM:
    """A stack of LSTM cells and a linear head (see the module docstring for the formula).

    Parameters
    ----------
    weights : tuple of ndarray
        Per layer, shape ``(4H, I_l + H)``: ``[W_ih | W_hh]``, gate rows in
        PyTorch's order i, f, g, o. ``I_1`` is the model's input channels,
        ``I_l = H`` above.
    biases : tuple of ndarray
        Per layer, shape ``(4H,)``: ``b_ih + b_hh``.
    initial_hidden, initial_cell : ndarray, shape (L, H)
        The state before prewarm.
    head_weight : ndarray, shape (out_channels, H)
    head_bias : ndarray, shape (out_channels,)
    sample_rate : int or None
        The rate the model was trained at, in Hz; sets the prewarm length.
        None when unknown (the Core then prewarms one sample).

    Examples
    --------
    >>> import numpy as np
    >>> cfg = {"num_layers": 1, "input_size": 1, "hidden_size": 2}
    >>> lstm = lstm_from_nam(cfg, np.zeros(39), sample_rate=48000)
    >>> lstm.hidden_size, lstm.parameters, lstm.prewarm_samples, lstm.history
    (2, 39, 24000, None)
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    initial_hidden: np.ndarray
    initial_cell: np.ndarray
    head_weight: np.ndarray
    head_bias: np.ndarray
    sample_rate: int | None = None

    kind = "lstm"
    #: The engine's plain block budget applies (see :func:`wavedil.engine.block_size_for`).
    stacks_taps = False

    def __post_init__(self) -> None:
        weights = tuple(self.weights)
        if not weights:
            raise SpecError("an LSTM needs at least one layer", field="weights")
        first = np.asarray(weights[0])
        if first.ndim != 2 or first.shape[0] % 4 or first.shape[0] == 0:
            raise SpecError(f"layer 1 must be (4*hidden_size, input_size + hidden_size), got {first.shape}", field="weights")
        hidden = first.shape[0] // 4
        inputs = first.shape[1] - hidden
        if inputs < 1:
            raise SpecError(f"layer 1 must be (4*hidden_size, input_size + hidden_size), got {first.shape}", field="weights")
        n = len(weights)
        object.__setattr__(
            self,
            "weights",
            tuple(_frozen(w, (4 * hidden, (inputs if l == 0 else hidden) + hidden), f"weights[{l + 1}]") for l, w in enumerate(weights)),
        )
        biases = tuple(self.biases)
        if len(biases) != n:
            raise SpecError(f"expected {n} bias vectors, one per layer, got {len(biases)}", field="biases")
        object.__setattr__(self, "biases", tuple(_frozen(b, (4 * hidden,), f"biases[{l + 1}]") for l, b in enumerate(biases)))
        object.__setattr__(self, "initial_hidden", _frozen(self.initial_hidden, (n, hidden), "initial_hidden"))
        object.__setattr__(self, "initial_cell", _frozen(self.initial_cell, (n, hidden), "initial_cell"))
        head = np.asarray(self.head_weight)
        if head.ndim != 2 or head.shape[0] < 1:
            raise SpecError(f"must be (out_channels, hidden_size), got {head.shape}", field="head_weight")
        object.__setattr__(self, "head_weight", _frozen(head, (head.shape[0], hidden), "head_weight"))
        object.__setattr__(self, "head_bias", _frozen(self.head_bias, (head.shape[0],), "head_bias"))
        rate = self.sample_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
            raise SpecError(f"must be a positive whole number of Hz or None, got {rate!r}", field="sample_rate")

    @property
    def num_layers(self) -> int:
        return len(self.weights)

    @property
    def hidden_size(self) -> int:
        return self.weights[0].shape[0] // 4

    #: Stepped sample by sample on NumPy, 70 times slower than its compiled recurrence: ``auto`` takes the kernels
    #: (:func:`wavedil.engines.kernels_pay`).
    kernels_pay = True

    @property
    def in_channels(self) -> int:
        return self.weights[0].shape[1] - self.hidden_size

    @property
    def out_channels(self) -> int:
        return self.head_weight.shape[0]

    @property
    def history(self) -> None:
        """None: the state is recurrent, so no finite number of past samples suffices."""
        return None

    @property
    def is_linear(self) -> bool:
        return False

    @property
    def prewarm_samples(self) -> int:
        """The Core's ``GetPrewarmSamples()``: ``int(0.5 * sample_rate)``, at least 1."""
        if self.sample_rate is None:
            return 1
        return max(1, int(0.5 * self.sample_rate))

    def _layer_inputs(self) -> list[int]:
        return [self.in_channels] + [self.hidden_size] * (self.num_layers - 1)

    @property
    def parameters(self) -> int:
        """Numbers in the file: per layer ``4H(I+H) + 4H + 2H`` (initial state included), then the head."""
        h = self.hidden_size
        return sum(4 * h * (i + h) + 6 * h for i in self._layer_inputs()) + self.out_channels * (h + 1)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulates of the gate and head products per sample (elementwise products not counted)."""
        h = self.hidden_size
        return sum(4 * h * (i + h) for i in self._layer_inputs()) + self.out_channels * h

    def rows(self) -> list[dict[str, Any]]:
        """One report row per LSTM layer and one for the head.

        A layer reads one input sample at a time (kernel 1, dilation 1) but
        remembers without bound, so its ``span`` is None; the head spans 1.
        """
        h = self.hidden_size
        rows = [
            {
                "kind": f"lstm {l}",
                "kernel_size": 1,
                "dilation": 1,
                "in_channels": i,
                "out_channels": h,
                "activation": "sigmoid/tanh",
                "parameters": 4 * h * (i + h) + 6 * h,
                "macs_per_sample": 4 * h * (i + h),
                "span": None,
            }
            for l, i in enumerate(self._layer_inputs(), start=1)
        ]
        rows.append(
            {
                "kind": "lstm head",
                "kernel_size": 1,
                "dilation": 1,
                "in_channels": h,
                "out_channels": self.out_channels,
                "activation": "linear",
                "parameters": self.out_channels * (h + 1),
                "macs_per_sample": self.out_channels * h,
                "span": 1,
            }
        )
        return rows

    def activation_names(self) -> set[str]:
        return {"sigmoid", "tanh"}

    def block_rows(self) -> int | None:
        """Rows per sample of the engine's buffers around this layer; None for mono in and out.

        The runner's own buffers (4H gate rows) never depend on the block: it
        works in pieces of :data:`CHUNK_BYTES`.
        """
        rows = max(self.in_channels, self.out_channels)
        return rows if rows > 1 else None

    def flat_weights(self) -> np.ndarray:
        """The weights as the ``.nam`` file's flat vector (the inverse of :func:`lstm_from_nam`)."""
        parts: list[np.ndarray] = []
        for l in range(self.num_layers):
            parts += [self.weights[l].ravel(), self.biases[l], self.initial_hidden[l], self.initial_cell[l]]
        parts += [self.head_weight.ravel(), self.head_bias]
        return np.concatenate(parts)

    def config(self) -> dict[str, int]:
        """The architecture in the Core's config keys."""
        return {
            "num_layers": self.num_layers,
            "input_size": self.in_channels,
            "hidden_size": self.hidden_size,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "lstm",
            **self.config(),
            "sample_rate": self.sample_rate,
            "prewarm_samples": self.prewarm_samples,
            "weights": self.flat_weights().tolist(),
        }

    def memory_bytes(self, batch: int, itemsize: int, block: int, engine: Engine = NUMPY) -> int:
        """Bytes the runner allocates on either engine (see :func:`wavedil.memory.plan_filter`).

        Its weights (float64, twice: the file's and the runner's reordered
        copies), the state, buffers of at most :data:`CHUNK_BYTES` per piece
        of a block, and the block's float64 output.
        """
        h = self.hidden_size
        chunk = max(1, min(int(block), CHUNK_BYTES // (8 * 4 * h * batch)))
        per_sample = self.in_channels + 4 * h + h + self.out_channels
        return 8 * (2 * self.parameters + batch * (chunk * per_sample + 2 * self.num_layers * h + 4 * h + block * self.out_channels))

    def runner(self, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: Engine = NUMPY) -> "LSTMRunner":
        """The streaming forward pass (see :class:`LSTMRunner`)."""
        return LSTMRunner(self, batch, dtype, block, gain_in, engine=engine)


def weight_count(num_layers: int, input_size: int, hidden_size: int, out_channels: int) -> int:
    """Length of the ``.nam`` weight vector: ``sum_l [4H(I_l+H) + 4H + 2H] + O*H + O``."""
    h = hidden_size
    first = 4 * h * (input_size + h) + 6 * h
    rest = (num_layers - 1) * (4 * h * 2 * h + 6 * h)
    return first + rest + out_channels * (h + 1)


def lstm_from_nam(config: Mapping[str, Any], weights: np.ndarray, *, sample_rate: int | None) -> LSTM:
    """Build an :class:`LSTM` from a ``.nam`` file's ``config`` and flat ``weights``.

    Reads the keys of the Core's ``parse_config_json``: ``num_layers``,
    ``input_size``, ``hidden_size`` and the optional ``in_channels`` and
    ``out_channels`` (default 1). NAM 0.13 writes the first three. The
    vector holds, per layer, ``W`` (4H x (I+H), row by row), ``b`` (4H),
    the initial ``h`` (H) and ``c`` (H), then the head's weight (O x H, row
    by row) and bias (O): ``weight_count(...)`` numbers in all.

    Parameters
    ----------
    config : mapping
        The ``config`` object of the file.
    weights : ndarray
        The file's ``weights``, 1-D.
    sample_rate : int or None
        The file's ``sample_rate`` in Hz, None when it names none.

    Raises
    ------
    SpecError
        For an unknown key, a size that is not a positive integer within
        wavedil's limits, ``in_channels`` other than ``input_size``, or a
        weight vector of the wrong length or with non-finite numbers.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = {"num_layers": 2, "input_size": 1, "hidden_size": 3}
    >>> n = weight_count(2, 1, 3, 1)
    >>> lstm_from_nam(cfg, np.zeros(n), sample_rate=None).prewarm_samples
    1
    >>> n
    160
    """
    if not isinstance(config, Mapping):
        raise SpecError(f"must be an object, got {type(config).__name__}", field="config")
    refuse_unknown(config, _CONFIG_KEYS, what="LSTM option", prefix="config.")

    def integer(key: str, default: int | None, limit: int) -> int:
        value = config.get(key, default)
        if value is None:
            raise SpecError("is required", field=f"config.{key}")
        return positive_int(value, limit, field=f"config.{key}")

    num_layers = integer("num_layers", None, MAX_LAYERS)
    input_size = integer("input_size", None, MAX_CHANNELS)
    hidden_size = integer("hidden_size", None, MAX_CHANNELS)
    in_channels = integer("in_channels", 1, MAX_CHANNELS)
    out_channels = integer("out_channels", 1, MAX_CHANNELS)
    if in_channels != input_size:
        # The Core copies in_channels samples into an input vector of input_size.
        raise SpecError(f"in_channels ({in_channels}) must equal input_size ({input_size})", field="config.in_channels")
    expected = weight_count(num_layers, input_size, hidden_size, out_channels)
    if expected > MAX_PARAMETERS:
        raise SpecError(f"{expected} parameters exceed the limit of {MAX_PARAMETERS}", field="config")
    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1):
        raise SpecError(f"must be a positive whole number of Hz, got {sample_rate!r}", field="sample_rate")
    flat = np.asarray(weights, dtype=np.float64)
    if flat.ndim != 1:
        raise SpecError(f"must be a flat list of numbers, got shape {flat.shape}", field="weights")
    if flat.size != expected:
        raise SpecError(
            f"expected {expected} numbers for this LSTM config (num_layers {num_layers}, input_size {input_size}, "
            f"hidden_size {hidden_size}, out_channels {out_channels}), found {flat.size}",
            field="weights",
        )
    if not np.all(np.isfinite(flat)):
        raise SpecError("must be finite numbers", field="weights")
    h, pos = hidden_size, 0

    def take(*shape: int) -> np.ndarray:
        nonlocal pos
        size = math.prod(shape)
        out = flat[pos : pos + size].reshape(shape)
        pos += size
        return out

    ws, bs, hs, cs = [], [], [], []
    for l in range(num_layers):
        ws.append(take(4 * h, (input_size if l == 0 else h) + h))
        bs.append(take(4 * h))
        hs.append(take(h))
        cs.append(take(h))
    head_w = take(out_channels, h)
    head_b = take(out_channels)
    return LSTM(
        weights=tuple(ws),
        biases=tuple(bs),
        initial_hidden=np.array(hs),
        initial_cell=np.array(cs),
        head_weight=head_w,
        head_bias=head_b,
        sample_rate=sample_rate,
    )


# ---------------------------------------------------------------------------
# The forward pass

# The runner stores the gate rows as i, f, o, g so that the three sigmoids are one slice.
def _ifog(hidden: int) -> np.ndarray:
    h = hidden
    return np.r_[0:h, h : 2 * h, 3 * h : 4 * h, 2 * h : 3 * h]


def _fast_tanh_out(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The Core's ``fast_tanh`` of ``x`` into ``out`` (the ``np.tanh(x, out=)`` form)."""
    np.copyto(out, x)
    return fast_tanh(out)


def _fast_sigmoid_out(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The Core's ``fast_sigmoid(x) = 0.5 * (fast_tanh(0.5 * x) + 1)`` into ``out``."""
    np.multiply(x, 0.5, out=out)
    fast_tanh(out)
    out += 1.0
    out *= 0.5
    return out


class LSTMRunner:
    """Streaming forward pass of an :class:`LSTM` on (batch, channels, time) arrays.

    Each of the ``batch`` signals has its own state. The NumPy engine
    computes in float64 whatever ``dtype`` the input and output are (the
    reference); the compiled kernel computes in ``dtype``: in float32, as the
    Core does, with the rational tanh and sigmoid (twice as fast as float64
    there, within 1e-5 of the peak of the float64 reference, tested); in
    float64 with libm's, as the NumPy engine.

    Parameters
    ----------
    lstm : LSTM
    batch : int
        Independent signals processed side by side.
    dtype : numpy dtype
        Of the input and output arrays.
    block : int
        Most samples per :meth:`run` call.
    gain_in : float
        The input arrives divided by this; it is folded into the first
        layer's input weights.
    engine : str or Engine, optional
        ``auto``, ``numpy`` or ``numba`` (see :func:`wavedil.engines.resolve_engine`);
        default from ``WAVEDIL_ENGINE``, else ``auto``. An :class:`Engine`
        with ``fast_tanh`` makes both engines use the Core's fast tanh and
        sigmoid (see the module's notes).

    Examples
    --------
    >>> import numpy as np
    >>> lstm = lstm_from_nam({"num_layers": 1, "input_size": 1, "hidden_size": 2}, np.full(39, 0.1), sample_rate=None)
    >>> r = LSTMRunner(lstm, 1, np.dtype(np.float64), 8, engine="numpy")
    >>> y0 = r.prime(np.zeros(1))
    >>> out = np.empty((1, 1, 3))
    >>> r.run(np.zeros((1, 1, 3)), out)
    >>> out.shape
    (1, 1, 3)
    """

    def __init__(self, lstm: LSTM, batch: int, dtype: np.dtype, block: int, gain_in: float = 1.0, *, engine: str | Engine | None = None) -> None:
        self.lstm = lstm
        self.dtype = np.dtype(dtype)
        self.batch = int(batch)
        self.gain_out = 1.0
        self.out_channels = lstm.out_channels
        resolved = resolve_engine(engine)
        self.fast_tanh = resolved.fast_tanh
        self._kernel = None
        if resolved.compiled:
            from ..kernels.codes import LSTM_FAST, LSTM_KERNELS, LSTM_LIBM, LSTM_RATIONAL
            from ..kernels.exports import kernel

            # float64 asks for precision: libm's tanh and exp there, the rational ones in float32.
            exact = LSTM_LIBM if self.dtype == np.float64 else LSTM_RATIONAL
            self._kernel = kernel(LSTM_KERNELS[LSTM_FAST if resolved.fast_tanh else exact], self.dtype)
        self.engine = "numpy" if self._kernel is None else "numba"
        work = self.dtype if self._kernel is not None else np.dtype(np.float64)
        hidden = lstm.hidden_size
        perm = _ifog(hidden)
        # Transposed, (inputs, 4H): the loops add one input's column of gate weights at a time.
        self._w_in_t, self._w_hh_t, self._b = [], [], []
        for l, (w, b) in enumerate(zip(lstm.weights, lstm.biases)):
            n_in = w.shape[1] - hidden
            w_in = w[perm, :n_in] * (gain_in if l == 0 else 1.0)
            self._w_in_t.append(np.ascontiguousarray(w_in.T, dtype=work))
            self._w_hh_t.append(np.ascontiguousarray(w[perm, n_in:].T, dtype=work))
            self._b.append(np.ascontiguousarray(b[perm], dtype=work))
        self._head_w = np.ascontiguousarray(lstm.head_weight, dtype=work)
        self._head_b = lstm.head_bias[:, None].astype(work)
        # Time-major buffers, (time, channels, batch): one sample of every signal is contiguous.
        per_sample = 8 * 4 * hidden * self.batch
        self._chunk = max(1, min(int(block), CHUNK_BYTES // per_sample))
        self._inp = np.empty((self._chunk, lstm.in_channels, self.batch), dtype=work)
        self._gates = np.empty((self._chunk, 4 * hidden, self.batch)) if self._kernel is None else None
        self._seq = np.empty((self._chunk, hidden, self.batch), dtype=work)
        self._head = np.empty((self._chunk, lstm.out_channels, self.batch), dtype=work)
        self._h = np.empty((lstm.num_layers, hidden, self.batch), dtype=work)
        self._c = np.empty((lstm.num_layers, hidden, self.batch), dtype=work)
        self.reset()

    def reset(self) -> None:
        """Return every signal to the file's initial state (before prewarm)."""
        self._h[...] = self.lstm.initial_hidden[:, :, None]
        self._c[...] = self.lstm.initial_cell[:, :, None]

    def prime(self, steady_in: np.ndarray) -> np.ndarray:
        """Reset, then run ``prewarm_samples`` samples of the constant ``steady_in`` (shape (in,)).

        As the Core's prewarm (which feeds silence), but exactly
        ``lstm.prewarm_samples`` samples. Returns the output of the last
        prewarm sample, shape (out,).
        """
        self.reset()
        steady = np.asarray(steady_in, dtype=np.float64).reshape(self.lstm.in_channels)
        total = self.lstm.prewarm_samples
        m = min(self._chunk, total)
        x = np.broadcast_to(steady[None, :, None], (self.batch, steady.size, m))
        out = np.empty((self.batch, self.out_channels, m), dtype=self._h.dtype)
        done = 0
        while done < total:
            n = min(m, total - done)
            self._forward(x[..., :n], out[..., :n])
            done += n
        return out[0, :, n - 1].astype(self.dtype)

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        """Filter ``x`` (batch, in, n) into ``out`` (batch, out, n), carrying the state."""
        n = x.shape[-1]
        for start in range(0, n, self._chunk):
            stop = min(start + self._chunk, n)
            self._forward(x[..., start:stop], out[..., start:stop])

    def _forward(self, x: np.ndarray, out: np.ndarray) -> None:
        n = x.shape[-1]
        inp = self._inp[:n]
        np.copyto(inp, x.transpose(2, 1, 0))
        seq = self._seq[:n]
        for l in range(self.lstm.num_layers):
            if self._kernel is not None:
                self._kernel(inp, self._w_in_t[l], self._b[l], self._w_hh_t[l], self._h[l], self._c[l], seq)
            else:
                self._numpy_layer(l, inp, seq)
            inp = seq
        head = self._head[:n]
        # One (n, H) x (H, out) product per signal: matmul over the (n, H, batch) stack would make n tiny
        # products (19 ns a sample for the Core's example LSTM, more than a quarter of the compiled layer; 2 ns so).
        for bi in range(self.batch):
            np.matmul(seq[:, :, bi], self._head_w.T, out=head[:, :, bi])
        head += self._head_b
        np.copyto(out, head.transpose(2, 1, 0), casting="same_kind")

    def _numpy_layer(self, l: int, inp: np.ndarray, seq: np.ndarray) -> None:
        """One layer: the input side for the whole block at once, then a loop of small NumPy calls per sample."""
        gates = self._gates[: inp.shape[0]]
        np.matmul(self._w_in_t[l].T, inp, out=gates)
        gates += self._b[l][:, None]
        w_hh, c = self._w_hh_t[l].T, self._c[l]
        hidden = c.shape[0]
        z = np.empty((4 * hidden, self.batch))
        tc = np.empty_like(c)
        sig, zi, zf, zo, zg = z[: 3 * hidden], z[:hidden], z[hidden : 2 * hidden], z[2 * hidden : 3 * hidden], z[3 * hidden :]
        dot, add, mul = np.dot, np.add, np.multiply
        tanh = _fast_tanh_out if self.fast_tanh else np.tanh
        sigmoid = _fast_sigmoid_out if self.fast_tanh else expit
        h = self._h[l]
        # Nine calls per sample; each ufunc call costs about a microsecond however small the array.
        for g_t, h_t in zip(gates, seq):
            dot(w_hh, h, out=z)
            add(z, g_t, out=z)
            sigmoid(sig, out=sig)
            tanh(zg, out=zg)
            mul(c, zf, out=c)
            mul(zi, zg, out=zg)
            add(c, zg, out=c)
            tanh(c, out=tc)
            mul(zo, tc, out=h_t)
            h = h_t
        self._h[l][...] = h
