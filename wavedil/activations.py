"""Pointwise activations applied after a convolution.

Two layers of names:

* :data:`ACTIVATIONS` maps wavedil's lower-case names (PyTorch's ``torch.nn``
  modules in lower case, with their default parameters) to in-place
  functions, so networks trained there run unchanged and a spec can name them.
* :class:`Activation` is a hashable spec of one activation *with* its
  parameters, such as ``LeakyReLU(0.2)`` or a per-channel ``PReLU``, as Neural
  Amp Modeler files (versions 0.6 and 0.7) write them;
  :func:`parse_nam_activation` reads those files' forms.

The formulas are NeuralAmpModelerCore's (``NAM/activations.h``), the engine
inside NAM's plugin, which is the reference for what a ``.nam`` file means::

    Tanh           tanh(x)                       (exact; never the fast approximation)
    Fasttanh       the Core's rational approximation of tanh, see :func:`fast_tanh`
    Hardtanh       min(max(x, -1), 1)
    ReLU           max(x, 0)
    LeakyReLU(s)   x if x > 0 else s*x           (s = negative_slope, default 0.01)
    PReLU(s_c)     x if x > 0 else s_c*x         (one slope, or one per channel c)
    Sigmoid        1 / (1 + exp(-x))
    SiLU           x * sigmoid(x)
    Hardswish      x * min(max(x + 3, 0), 6) / 6
    Softsign       x / (1 + |x|)
    LeakyHardtanh  (x - lo)*s_lo + lo   if x < lo
                   (x - hi)*s_hi + hi   if x > hi
                   x                    otherwise

Every function works in place on a float array (float32 or float64, any
shape) and returns it, so the engine applies it to a block without
allocating another one; per-channel PReLU slopes run along axis -2 of a
(batch, channels, time) array.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import SpecError
from .fields import is_number
from .limits import FLOAT32_MAX, MAX_CHANNELS

InPlace = Callable[[np.ndarray], np.ndarray]


def _linear(x: np.ndarray) -> np.ndarray:
    return x


def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x, out=x)


def _relu(x: np.ndarray) -> np.ndarray:
    # clip with two bounds is SIMD; maximum against a scalar measured 6x slower.
    return np.clip(x, 0.0, np.inf, out=x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # expit is the overflow-safe logistic 1 / (1 + exp(-x)). SciPy is imported where it is used: it
    # costs a third of a second to load, which a command that runs no sigmoid should not pay.
    from scipy.special import expit

    return expit(x, out=x)


def _hardtanh(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0, out=x)


def _scale_negative(x: np.ndarray, slope: Any, lo: float, hi: float) -> np.ndarray:
    """``x if x > 0 else slope*x`` in place; ``slope`` a number or a (channels, 1) column in [lo, hi]."""
    # Masked ufuncs (where=) measured 30x slower than these branch-free forms.
    if 0 <= lo and hi <= 1:
        return np.maximum(x, x * slope, out=x)
    if lo >= 1:
        return np.minimum(x, x * slope, out=x)
    # Any slopes: max(x, 0) + slope*min(x, 0), exact since one of the terms is zero.
    neg = np.clip(x, -np.inf, 0.0)
    neg *= slope
    np.clip(x, 0.0, np.inf, out=x)
    x += neg
    return x


def _leaky_relu(x: np.ndarray) -> np.ndarray:
    # PyTorch's (and the Core's) default negative slope.
    return _scale_negative(x, 0.01, 0.01, 0.01)


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0, out=x)


def _hardsigmoid(x: np.ndarray) -> np.ndarray:
    x += 3.0
    np.clip(x, 0.0, 6.0, out=x)
    x /= 6.0
    return x


def _hardswish(x: np.ndarray) -> np.ndarray:
    return np.multiply(x, _hardsigmoid(x.copy()), out=x)


def _silu(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return np.multiply(x, expit(x), out=x)


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|); above 20 it is
    # x itself, PyTorch's threshold.
    big = x > 20.0
    soft = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    np.copyto(x, soft, where=~big)
    return x


def _softsign(x: np.ndarray) -> np.ndarray:
    return np.divide(x, 1.0 + np.abs(x), out=x)


def _elu(x: np.ndarray) -> np.ndarray:
    np.copyto(x, np.expm1(np.minimum(x, 0)), where=x <= 0)
    return x


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x: np.ndarray) -> np.ndarray:
    _elu(x)
    np.copyto(x, x * _SELU_ALPHA, where=x < 0)
    x *= _SELU_SCALE
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    # The exact (erf) form, PyTorch's default.
    from scipy.special import erf

    return np.multiply(x, 0.5 * (1.0 + erf(x / np.sqrt(2.0))), out=x)


def _tanhshrink(x: np.ndarray) -> np.ndarray:
    return np.subtract(x, np.tanh(x), out=x)


def _logsigmoid(x: np.ndarray) -> np.ndarray:
    x *= -1.0
    _softplus(x)
    x *= -1.0
    return x


def _mish(x: np.ndarray) -> np.ndarray:
    return np.multiply(x, np.tanh(_softplus(x.copy())), out=x)


def fast_tanh(x: np.ndarray) -> np.ndarray:
    """NeuralAmpModelerCore's rational approximation of tanh, in place.

    ``a = |x|``::

        x (2.45550750702956 + 2.45550750702956 a + (0.893229853513558 + 0.821226666969744 a) x^2)
        / (2.44506634652299 + (2.44506634652299 + x^2) |x + 0.814642734961073 x a|)

    It is what a file naming ``Fasttanh`` computes in the Core (within 4.4e-4
    of tanh for |x| <= 10, drifting to 2.7e-3 by |x| = 20); a file naming ``Tanh``
    gets the exact ``tanh``.

    Parameters
    ----------
    x : ndarray of float
        Overwritten with the result.

    Examples
    --------
    >>> round(float(fast_tanh(np.array([0.5]))[0]), 4)  # tanh(0.5) = 0.4621
    0.4617
    """
    # The Core's order of operations, so float32 results round as its do.
    a = np.abs(x)
    x2 = x * x
    num = a * 2.45550750702956
    num += 2.45550750702956
    t = a * 0.821226666969744
    t += 0.893229853513558
    t *= x2
    num += t
    num *= x
    den = np.multiply(x, 0.814642734961073, out=t)
    den *= a
    den += x
    np.abs(den, out=den)
    x2 += 2.44506634652299
    den *= x2
    den += 2.44506634652299
    return np.divide(num, den, out=x)


ACTIVATIONS: dict[str, InPlace] = {
    "linear": _linear,
    "tanh": _tanh,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "hardtanh": _hardtanh,
    "leaky_relu": _leaky_relu,
    "relu6": _relu6,
    "hardsigmoid": _hardsigmoid,
    "hardswish": _hardswish,
    "silu": _silu,
    "softplus": _softplus,
    "softsign": _softsign,
    "elu": _elu,
    "selu": _selu,
    "gelu": _gelu,
    "tanhshrink": _tanhshrink,
    "logsigmoid": _logsigmoid,
    "mish": _mish,
}


def activation(name: str | Activation) -> InPlace:
    """Return the in-place function for activation ``name`` (or the :class:`Activation` itself).

    Raises
    ------
    KeyError
        If ``name`` is a string that is not one of :data:`ACTIVATIONS`.

    Examples
    --------
    >>> activation("relu")(np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS[name]


# ---------------------------------------------------------------------------
# Parametrized activations

#: PyTorch / NAM class names of the activations, by wavedil name ("Identity" is PyTorch's name for linear).
_DISPLAY = {
    "linear": "Identity",
    "tanh": "Tanh",
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "hardtanh": "Hardtanh",
    "leaky_relu": "LeakyReLU",
    "relu6": "ReLU6",
    "hardsigmoid": "Hardsigmoid",
    "hardswish": "Hardswish",
    "silu": "SiLU",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "elu": "ELU",
    "selu": "SELU",
    "gelu": "GELU",
    "tanhshrink": "Tanhshrink",
    "logsigmoid": "LogSigmoid",
    "mish": "Mish",
    "fast_tanh": "Fasttanh",
    "prelu": "PReLU",
    "leaky_hardtanh": "LeakyHardtanh",
}

#: The activation types NeuralAmpModelerCore knows (its ``ActivationConfig::from_json``), and wavedil's names.
NAM_TYPES: dict[str, str] = {
    "Tanh": "tanh",
    "Hardtanh": "hardtanh",
    "Fasttanh": "fast_tanh",
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "Sigmoid": "sigmoid",
    "SiLU": "silu",
    "Hardswish": "hardswish",
    "LeakyHardtanh": "leaky_hardtanh",
    "LeakyHardTanh": "leaky_hardtanh",  # the Core accepts both casings
    "Softsign": "softsign",
}

#: Default parameters of the parametrized kinds, in their canonical order (the Core's defaults).
_DEFAULTS: dict[str, tuple[tuple[str, float], ...]] = {
    "leaky_relu": (("negative_slope", 0.01),),
    # The Core's default slope; PyTorch's nn.PReLU starts at 0.25, but a file
    # always states the trained value.
    "prelu": (("negative_slope", 0.01),),
    "leaky_hardtanh": (("min_val", -1.0), ("max_val", 1.0), ("min_slope", 0.01), ("max_slope", 0.01)),
}

Param = tuple[str, "float | tuple[float, ...]"]


def _finite(value: Any) -> float | None:
    """``value`` as a float if it is a real number (not a bool) within float32's range, else None.

    float32 is what the engine (and the plugin) computes in: a larger slope
    would be infinite there and turn the output into NaN.
    """
    if not is_number(value):
        return None
    try:
        v = float(value)
    except OverflowError:  # an integer beyond float's range
        return None
    return v if np.isfinite(v) and abs(v) <= FLOAT32_MAX else None


def _canonical(name: str, params: Any) -> tuple[Param, ...]:
    """``params`` checked and in canonical order, defaults filled in; SpecError (no field) if wrong."""
    if not isinstance(name, str) or name not in _DISPLAY:
        raise SpecError(f"unknown activation {name!r}; known: {', '.join(_DISPLAY)}")
    try:
        given = dict(params.items() if isinstance(params, Mapping) else params)
    except (TypeError, ValueError):
        raise SpecError(f"parameters must be a mapping or (key, value) pairs, got {params!r}") from None
    if name == "prelu" and "negative_slopes" in given:
        return _per_channel_slopes(given)
    defaults = _DEFAULTS.get(name, ())
    known = [k for k, _ in defaults]
    unknown = [str(k) for k in given if k not in known]
    if unknown:
        takes = f"known: {', '.join(known)}" if known else "it takes none"
        raise SpecError(f"unknown {_DISPLAY[name]} parameter(s) {', '.join(unknown)}; {takes}")
    out: list[Param] = []
    for key, default in defaults:
        value = _finite(given.get(key, default))
        if value is None:
            raise SpecError(f"{_DISPLAY[name]} {key} must be a finite number, got {given.get(key)!r}")
        out.append((key, value))
    if name == "leaky_hardtanh" and out[0][1] > out[1][1]:
        # The Core lets the lower branch win where the ranges cross, NAM's
        # Python the upper one: such a file has no single meaning.
        raise SpecError(f"LeakyHardtanh min_val {out[0][1]:g} exceeds max_val {out[1][1]:g}")
    return tuple(out)


def _per_channel_slopes(given: dict[str, Any]) -> tuple[Param, ...]:
    """A PReLU's ``negative_slopes`` (one per channel), checked, as its canonical parameters."""
    if "negative_slope" in given:
        raise SpecError("PReLU takes negative_slope or negative_slopes, not both")
    slopes = given.pop("negative_slopes")
    if not isinstance(slopes, (list, tuple)) or not slopes:
        raise SpecError(f"PReLU negative_slopes must be a non-empty list of numbers, got {slopes!r}")
    if given:
        raise SpecError(f"unknown PReLU parameter(s) {', '.join(map(str, given))}; known: negative_slope, negative_slopes")
    values = tuple(_finite(v) for v in slopes)
    if None in values:
        raise SpecError("PReLU negative_slopes must be finite numbers")
    return (("negative_slopes", values),)


def _bind(name: str, params: tuple[Param, ...]) -> InPlace:
    """The in-place function of a canonical (name, params)."""
    p = dict(params)
    if name == "fast_tanh":
        return fast_tanh
    if name in ("leaky_relu", "prelu") and "negative_slope" in p:
        slope = p["negative_slope"]
        return lambda x: _scale_negative(x, slope, slope, slope)
    if name == "prelu":
        column = np.array(p["negative_slopes"], dtype=np.float64)[:, None]
        columns = {np.dtype(np.float64): column, np.dtype(np.float32): column.astype(np.float32)}
        lo, hi = float(column.min()), float(column.max())

        def prelu(x: np.ndarray) -> np.ndarray:
            if x.ndim < 2 or x.shape[-2] != column.shape[0]:
                raise ValueError(f"PReLU has {column.shape[0]} slopes; the array has shape {x.shape} (channels on axis -2)")
            return _scale_negative(x, columns.get(x.dtype, column), lo, hi)

        return prelu
    if name == "leaky_hardtanh":
        lo, hi, s_lo, s_hi = (p[k] for k in ("min_val", "max_val", "min_slope", "max_slope"))

        def leaky_hardtanh(x: np.ndarray) -> np.ndarray:
            # clip(x) + s_lo*min(x - lo, 0) + s_hi*max(x - hi, 0): with lo <= hi
            # (checked) at most one slope term is non-zero, so each branch
            # rounds exactly as the Core's (x - edge)*slope + edge.
            below = np.subtract(x, lo)
            np.clip(below, -np.inf, 0.0, out=below)
            below *= s_lo
            above = np.subtract(x, hi)
            np.clip(above, 0.0, np.inf, out=above)
            above *= s_hi
            np.clip(x, lo, hi, out=x)
            x += below
            x += above
            return x

        return leaky_hardtanh
    return ACTIVATIONS[name]


@dataclass(frozen=True)
class Activation:
    """One pointwise activation with its parameters: a hashable spec that applies itself.

    ``act(x)`` overwrites the float array ``x`` (float32 or float64, any
    shape) with the activation of it and returns it; per-channel PReLU slopes
    run along axis -2 (the channels of a (batch, channels, time) block).
    Formulas: see :mod:`wavedil.activations`.

    Parameters
    ----------
    name : str
        wavedil's lower-case name: one of :data:`ACTIVATIONS`, or
        ``fast_tanh``, ``prelu``, ``leaky_hardtanh``.
    params : tuple of (str, value) pairs, or a mapping
        ``negative_slope`` (``leaky_relu``, ``prelu``; default 0.01),
        ``negative_slopes`` (``prelu``: one slope per channel),
        ``min_val``, ``max_val``, ``min_slope``, ``max_slope``
        (``leaky_hardtanh``; defaults -1, 1, 0.01, 0.01). Stored in canonical
        order with the defaults filled in, so equal activations compare equal.

    Raises
    ------
    SpecError
        For an unknown name or a bad parameter (field ``activation``).

    Examples
    --------
    >>> act = Activation("leaky_relu", (("negative_slope", 0.2),))
    >>> act(np.array([-1.0, 2.0])).tolist(), act.describe(), act.to_nam()
    ([-0.2, 2.0], 'LeakyReLU(0.2)', {'type': 'LeakyReLU', 'negative_slope': 0.2})
    """

    name: str
    params: tuple[Param, ...] = ()
    _fn: InPlace = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            params = _canonical(self.name, self.params)
        except SpecError as exc:
            raise SpecError(exc.reason, field="activation") from None
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "_fn", _bind(self.name, params))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._fn(x)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the spec: the bound function is a closure, which pickle
        # (worker processes, a cluster) cannot carry.
        return (Activation, (self.name, self.params))

    @property
    def channels(self) -> int | None:
        """How many channels the activation is made for (per-channel PReLU), else None (any)."""
        for key, value in self.params:
            if key == "negative_slopes":
                return len(value)  # type: ignore[arg-type]
        return None

    @property
    def is_linear(self) -> bool:
        return self.name == "linear"

    def check_channels(self, n: int, field: str) -> None:
        """Refuse to be applied to ``n`` channels when made for another count.

        NeuralAmpModelerCore applies slope ``c`` to channel ``c`` and throws
        (in debug builds; it reads out of bounds in release builds) when the
        counts differ, so such a file is refused.

        Raises
        ------
        SpecError
            Naming ``field``.
        """
        c = self.channels
        if c is not None and c != n:
            raise SpecError(f"PReLU has {c} negative_slopes but is applied to {n} channels", field=field)

    def describe(self) -> str:
        """Short text for reports: ``Tanh``, ``LeakyReLU(0.01)``, ``PReLU(0.1, 0.2)``, ``PReLU(16 slopes, -0.1..0.3)``."""
        label = _DISPLAY[self.name]
        values = [v for _, v in self.params]
        if not values:
            return label
        if isinstance(values[0], tuple):
            slopes = values[0]
            if len(slopes) > 4:
                return f"{label}({len(slopes)} slopes, {min(slopes):g}..{max(slopes):g})"
            values = list(slopes)
        return f"{label}({', '.join(f'{v:g}' for v in values)})"

    def to_nam(self) -> str | dict[str, Any]:
        """The activation as a ``.nam`` file writes it (what :func:`parse_nam_activation` reads back).

        A type name for an activation without parameters or with the
        defaults (except PReLU), else an object ``{"type": ..., params}``.

        Raises
        ------
        SpecError
            If NeuralAmpModelerCore has no such activation (``linear``,
            ``gelu``, ...): wavedil writes no file the plugin cannot load.
        """
        label = _DISPLAY[self.name]
        if NAM_TYPES.get(label) != self.name:
            core = sorted(k for k in NAM_TYPES if k != "LeakyHardTanh")
            raise SpecError(f"{label} has no NeuralAmpModelerCore equivalent; it knows {', '.join(core)}", field="activation")
        # Default parameters as a bare name, which every NAM reader takes; not for
        # PReLU, whose bare name means slope 0.25 to NAM's Python and 0.01 to the Core.
        if not self.params or (self.name != "prelu" and self == Activation(self.name)):
            return label
        return {"type": label, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params}}


def activation_from_name(name: str) -> Activation:
    """The :class:`Activation` of a wavedil name (``"tanh"``, ``"leaky_relu"``, ...) with default parameters.

    Raises
    ------
    SpecError
        For an unknown name (field ``activation``).

    Examples
    --------
    >>> activation_from_name("leaky_relu").describe()
    'LeakyReLU(0.01)'
    """
    return Activation(name)


def as_run(act: str | Activation, fast_tanh: bool) -> str | Activation:
    """The activation a layer computes: ``tanh`` becomes ``fast_tanh`` when ``fast_tanh`` is asked for.

    What NAM's plugin does: it swaps every ``Tanh`` for its approximation
    (:func:`fast_tanh`); other activations, sigmoid gates included, stay exact.

    Examples
    --------
    >>> as_run("tanh", True).name, as_run("tanh", False), as_run("relu", True)
    ('fast_tanh', 'tanh', 'relu')
    """
    name = act.name if isinstance(act, Activation) else act
    if fast_tanh and name == "tanh":
        return Activation("fast_tanh")
    return act


def plain(act: str | Activation) -> str | Activation:
    """The :data:`ACTIVATIONS` name when ``act`` is exactly that function, else ``act`` unchanged.

    Lets layers keep a plain name (which reports, specs and the engine's
    fast paths read) whenever no parameter needs the object.

    Examples
    --------
    >>> plain(Activation("leaky_relu", {"negative_slope": 0.01}))
    'leaky_relu'
    """
    if isinstance(act, Activation) and act.name in ACTIVATIONS and act == Activation(act.name):
        return act.name
    return act


def parse_nam_activation(value: Any, *, field: str) -> Activation:
    """Read an activation as a ``.nam`` file holds it.

    Accepts what NeuralAmpModelerCore's ``ActivationConfig::from_json``
    accepts: a type name (``"Tanh"``, ``"Hardtanh"``, ``"Fasttanh"``,
    ``"ReLU"``, ``"LeakyReLU"``, ``"PReLU"``, ``"Sigmoid"``, ``"SiLU"``,
    ``"Hardswish"``, ``"LeakyHardtanh"`` (or ``"LeakyHardTanh"``),
    ``"Softsign"``; case-sensitive), or an object ``{"type": name, params}``:
    ``negative_slope`` for LeakyReLU and PReLU (default 0.01),
    ``negative_slopes`` (one per channel) for PReLU, ``min_val``,
    ``max_val``, ``min_slope``, ``max_slope`` for LeakyHardtanh (defaults
    -1, 1, 0.01, 0.01).

    Stricter than the Core where a file would otherwise mean two things or
    hide a typo: an unknown parameter key, PReLU with both slope keys,
    LeakyHardtanh with ``min_val > max_val``, and Hardtanh bounds other than
    [-1, 1] (NAM's Python writes and uses them, the Core ignores them) are
    refused. ``Softsigmoid`` (NAM's Python only) is refused because the Core
    cannot run it. A per-channel PReLU must still be checked against the
    channels it meets, with :meth:`Activation.check_channels`.

    Parameters
    ----------
    value : str or mapping
        The JSON value.
    field : str
        Where it sits in the file, for error messages (``config.activation``).

    Raises
    ------
    SpecError
        One line naming ``field``, the type and the known types.

    Examples
    --------
    >>> parse_nam_activation({"type": "PReLU", "negative_slopes": [0.1, 0.2]}, field="a").describe()
    'PReLU(0.1, 0.2)'
    """
    type_name, params = _nam_form(value, field)
    name = _nam_name(type_name, field)
    if name == "hardtanh" and params:
        _check_hardtanh_bounds(params, field)
    if name == "prelu" and "negative_slopes" in params:
        slopes = params["negative_slopes"]
        if isinstance(slopes, list) and len(slopes) > MAX_CHANNELS:
            raise SpecError(f"PReLU has {len(slopes)} negative_slopes, over the limit of {MAX_CHANNELS} channels", field=field)
    try:
        return Activation(name, tuple(params.items()))
    except SpecError as exc:
        raise SpecError(exc.reason, field=field) from None


def _nam_form(value: Any, field: str) -> tuple[Any, dict[str, Any]]:
    """``(type, parameters)`` of an activation as a file writes it: a type name, or an object with a type."""
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, Mapping):
        raise SpecError(f"must be an activation name or an object with a \"type\", got {type(value).__name__}", field=field)
    if "type" not in value:
        raise SpecError("an activation object needs a \"type\"", field=field)
    return value["type"], {str(k): v for k, v in value.items() if k != "type"}


def _nam_name(type_name: Any, field: str) -> str:
    """wavedil's name of a type NeuralAmpModelerCore knows; the refusal says why others are refused."""
    name = NAM_TYPES.get(type_name) if isinstance(type_name, str) else None
    if name is not None:
        return name
    core = ", ".join(k for k in NAM_TYPES if k != "LeakyHardTanh")
    hint = ""
    if type_name == "Softsigmoid":
        hint = " (NAM's Python has it, NeuralAmpModelerCore cannot run it)"
    elif isinstance(type_name, str) and type_name.startswith("_"):
        hint = " (a NAM Python class name; NeuralAmpModelerCore refuses it)"
    raise SpecError(f"unknown activation type {type_name!r}{hint}; known: {core}", field=field)


def _check_hardtanh_bounds(params: dict[str, Any], field: str) -> None:
    """Take Hardtanh's bounds out of ``params``; only [-1, 1] has one meaning (the Core ignores them)."""
    bounds = (params.pop("min_val", -1.0), params.pop("max_val", 1.0))
    if params:
        raise SpecError(f"unknown Hardtanh parameter(s) {', '.join(params)}; known: min_val, max_val", field=field)
    if bounds != (-1.0, 1.0):
        raise SpecError(
            f"Hardtanh bounds {bounds!r} are not [-1, 1]: NeuralAmpModelerCore ignores them and NAM's Python uses them",
            field=field,
        )
