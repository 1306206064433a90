"""Every bound on what a spec or a model file may ask for, in one place.

A spec or a ``.nam`` file is data from anywhere: these bounds keep a hostile
one from exhausting memory or time before anything runs. A file's size is
checked on the bytes actually read; a layer's sizes before its weights are
allocated; a stack's totals (receptive field, parameters) once it is built.

Nothing here imports NumPy: the command line reads these for its option
ranges before NumPy starts.
"""

from __future__ import annotations

from types import MappingProxyType

from .errors import SpecError

#: Largest spec file read (``.toml``, ``.json``), in bytes.
MAX_SPEC_BYTES = 64 * 1024 * 1024
#: Largest ``.nam`` file read, in bytes.
MAX_NAM_BYTES = 64 * 1024 * 1024
#: Largest side ``.npz`` weight file of a spec WaveNet, its array uncompressed, in bytes.
MAX_NPZ_BYTES = 512 * 1024 * 1024
#: Largest kernel_size of one layer.
MAX_KERNEL_SIZE = 65536
#: Largest dilation of one layer, in samples.
MAX_DILATION = 2**20
#: Largest channel count of one layer.
MAX_CHANNELS = 1024
#: Largest number of layers in a stack (also of arrays, blocks or submodels in a model).
MAX_LAYERS = 4096
#: Largest receptive field of a stack, in samples (about 5.8 min at 48 kHz).
MAX_RECEPTIVE_FIELD = 2**24
#: Largest number of parameters in a stack.
MAX_PARAMETERS = 50_000_000
#: Largest sample rate a spec, a model or an option may name, in Hz.
MAX_SAMPLE_RATE = 10_000_000
#: How deep ``.nam`` documents may nest (a container's submodel, a WaveNet's condition_dsp).
MAX_NESTING = 4
#: The largest magnitude a weight or an activation's parameter may have: float32's
#: (``float(np.finfo(np.float32).max)``), the precision the engine and NAM's plugin compute in.
FLOAT32_MAX = 3.4028234663852886e38

#: The per-layer bounds a model builder checks, by the name it asks for them.
LAYER_LIMITS = MappingProxyType(
    {
        "kernel_size": MAX_KERNEL_SIZE,
        "dilation": MAX_DILATION,
        "channels": MAX_CHANNELS,
        "layers": MAX_LAYERS,
        "parameters": MAX_PARAMETERS,
    }
)


def check_totals(receptive_field: int | None, parameters: int, *, field: str, parameters_field: str | None = None) -> None:
    """Refuse a stack whose receptive field or parameter count is over its limit.

    Parameters
    ----------
    receptive_field : int or None
        In samples; None (a recurrent model) has no bound to check.
    parameters : int
        Weights and biases in all.
    field, parameters_field : str
        The fields errors name (``parameters_field`` defaults to ``field``).

    Raises
    ------
    SpecError
        Naming the total and its limit.

    Examples
    --------
    >>> check_totals(MAX_RECEPTIVE_FIELD, 10, field="layers")
    >>> check_totals(MAX_RECEPTIVE_FIELD + 1, 10, field="layers")
    Traceback (most recent call last):
    ...
    wavedil.errors.SpecError: layers: receptive field 16777217 samples exceeds the limit of 16777216
    """
    if receptive_field is not None and receptive_field > MAX_RECEPTIVE_FIELD:
        raise SpecError(f"receptive field {receptive_field} samples exceeds the limit of {MAX_RECEPTIVE_FIELD}", field=field)
    if parameters > MAX_PARAMETERS:
        raise SpecError(f"{parameters} parameters exceed the limit of {MAX_PARAMETERS}", field=parameters_field or field)
