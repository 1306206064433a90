"""Exceptions raised by wavedil.

Every error a user can cause (a bad file, a bad spec, an output that exists)
is a :class:`WavedilError`. Its message is one line that names the file and,
for a spec, the layer and field, so that a front end can print
``Error: <message>`` and exit without a traceback.

The library speaks Python: where an error suggests a remedy, the remedy is a
:class:`Setting` (a keyword argument of the library's API, such as
``overwrite=True`` or ``block_size=512``), held apart from the message. ``str``
of the error names the settings as Python keywords; the command line renders
the same error with its own option names (``--force``, ``--block-size 512``)
through :meth:`WavedilError.describe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A setting an error suggests: the API's keyword ``name`` set to ``value``.

    Examples
    --------
    >>> str(Setting("block_size", 512))
    'block_size=512'
    """

    name: str
    value: Any = True

    def __str__(self) -> str:
        return f"{self.name}={self.value!r}"


class WavedilError(Exception):
    """Base class of every error wavedil reports to a user.

    Parameters
    ----------
    message : str
        What is wrong, in words that name no front end's options.
    hint : str, optional
        A remedy, a format string whose ``{0}``, ``{1}``... are ``settings``.
    settings : tuple of Setting, optional
        The settings the hint names.

    Examples
    --------
    >>> err = WavedilError("out.wav: already exists", hint="{0} replaces it", settings=(Setting("overwrite"),))
    >>> str(err)
    'out.wav: already exists; overwrite=True replaces it'
    >>> err.describe(lambda s: "--force")
    'out.wav: already exists; --force replaces it'
    """

    def __init__(self, message: str = "", *, hint: str = "", settings: tuple[Setting, ...] = ()) -> None:
        self.reason = message
        self.hint = hint
        self.settings = tuple(settings)
        super().__init__(message)

    def _subject(self) -> str:
        return self.reason

    def describe(self, name: Callable[[Setting], str] = str) -> str:
        """The message with its hint, each setting spelled by ``name``."""
        text = self._subject()
        if self.hint:
            text += "; " + self.hint.format(*(name(s) for s in self.settings))
        return text

    def __str__(self) -> str:
        return self.describe()

    def prefixed(self, prefix: str) -> "WavedilError":
        """The same error (class, hint and settings) with ``prefix: `` before its message."""
        # Built by hand, not copied: a copy through pickling helpers such as tblib's (which Dask installs for every
        # exception) shares the original's __dict__, and the new message would change the original's too.
        cls = type(self)
        clone = cls.__new__(cls, *self.args)
        clone.__dict__.update(self.__dict__)
        clone.reason = f"{prefix}: {self.reason}"
        clone.args = (clone.reason,)
        return clone


class UsageError(WavedilError, ValueError):
    """An argument's value, or a combination of arguments, that cannot work.

    Unlike the other errors, it is about how the library was called, not about
    a file: a command line reports it as a usage error (exit code 2).
    """


class SpecError(WavedilError, ValueError):
    """A stack spec (file, mapping or shorthand) is invalid.

    Parameters
    ----------
    message : str
        What is wrong.
    source : str, optional
        The file (or other origin) of the spec.
    layer : int, optional
        1-based index of the offending layer.
    field : str, optional
        Name of the offending field.
    hint, settings
        As for :class:`WavedilError`.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        layer: int | None = None,
        field: str | None = None,
        hint: str = "",
        settings: tuple[Setting, ...] = (),
    ) -> None:
        self.source = source
        self.layer = layer
        self.field = field
        super().__init__(message, hint=hint, settings=settings)

    def _subject(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.layer is not None:
            parts.append(f"layer {self.layer}")
        if self.field:
            parts.append(self.field)
        parts.append(self.reason)
        return ": ".join(parts)

    def located(self, source: str) -> "SpecError":
        """Return the same error attributed to ``source`` (if it has none yet)."""
        if self.source:
            return self
        return SpecError(self.reason, source=source, layer=self.layer, field=self.field, hint=self.hint, settings=self.settings)


class AudioError(WavedilError):
    """An audio file cannot be read or written."""


class SampleRateError(AudioError):
    """The audio's sample rate differs from the rate a model was trained at.

    Attributes
    ----------
    audio_rate, model_rate : int
        The two rates, in Hz.
    """

    def __init__(self, message: str, *, audio_rate: int = 0, model_rate: int = 0, hint: str = "", settings: tuple[Setting, ...] = ()) -> None:
        self.audio_rate = audio_rate
        self.model_rate = model_rate
        super().__init__(message, hint=hint, settings=settings)


class MemoryLimitError(WavedilError, MemoryError):
    """A run would need more memory than its limit (see :mod:`wavedil.memory`)."""

    def __new__(cls, *args: object, **kwargs: object) -> "MemoryLimitError":
        # Pickling helpers build an exception as cls.__new__(cls, *args) (tblib does, and Dask installs it for every
        # exception): inherited here, that is MemoryError's __new__, which refuses a class laid out by another base.
        return Exception.__new__(cls, *args)


class OutputExistsError(WavedilError, FileExistsError):
    """The output exists and overwriting was not allowed."""


class KernelBuildError(WavedilError):
    """The kernels could not be compiled ahead of time: no Numba or C compiler, a folder that cannot be written."""
