"""Exceptions raised by wavedil.

Every error a user can cause (a bad file, a bad spec, an output that exists)
is a :class:`WavedilError`. Its message is one line that names the file and,
for a spec, the layer and field, so that a command-line front end can print
``Error: <message>`` and exit without a traceback.
"""

from __future__ import annotations


class WavedilError(Exception):
    """Base class of every error wavedil reports to a user."""


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
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        layer: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.layer = layer
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
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
        return SpecError(self.reason, source=source, layer=self.layer, field=self.field)


class AudioError(WavedilError):
    """An audio file cannot be read or written."""


class MemoryLimitError(WavedilError, MemoryError):
    """A run would need more memory than its limit (see :mod:`wavedil.memory`)."""


class OutputExistsError(WavedilError, FileExistsError):
    """The output exists and overwriting was not allowed."""
