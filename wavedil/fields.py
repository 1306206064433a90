"""Checks of the values a spec or model document holds, each worded once.

Every reader of a document (a spec, a ``.nam`` file, a model's ``config``)
checks its fields with these, so one kind of mistake reads the same wherever
it is made. Each failure is a :class:`~wavedil.errors.SpecError` naming the
field (and the layer, in a spec).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import SpecError


def is_number(value: Any) -> bool:
    """True for an int or a float, not a bool (JSON's ``true`` is no number).

    Examples
    --------
    >>> is_number(2), is_number(0.5), is_number(True), is_number("1")
    (True, True, False, False)
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(value: Any, limit: int, *, field: str | None, layer: int | None = None) -> int:
    """``value`` if it is an integer from 1 to ``limit``.

    Raises
    ------
    SpecError
        "must be a positive integer" (a bool, a float or below 1), or
        "exceeds the limit" (above ``limit``), naming ``field`` and ``layer``.

    Examples
    --------
    >>> positive_int(3, 8, field="dilation")
    3
    >>> positive_int(9, 8, field="dilation")
    Traceback (most recent call last):
    ...
    wavedil.errors.SpecError: dilation: 9 exceeds the limit of 8
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"must be a positive integer, got {value!r}", layer=layer, field=field)
    if value > limit:
        raise SpecError(f"{value} exceeds the limit of {limit}", layer=layer, field=field)
    return value


def boolean(value: Any, *, field: str, layer: int | None = None) -> bool:
    """``value`` if it is ``true`` or ``false`` (not 0 or 1), else a SpecError naming ``field``.

    Examples
    --------
    >>> boolean(True, field="gated")
    True
    """
    if not isinstance(value, bool):
        raise SpecError(f"must be true or false, got {value!r}", layer=layer, field=field)
    return value


def refuse_unknown(
    raw: Mapping[Any, Any],
    known: Iterable[str],
    *,
    what: str = "field",
    field: str | None = None,
    prefix: str = "",
    layer: int | None = None,
) -> None:
    """Refuse keys of ``raw`` that are not ``known``: a typo would otherwise be ignored.

    Parameters
    ----------
    raw : mapping
        The table or object read.
    known : iterable of str
        Its keys, in the order the message lists them.
    what : str
        What a key is called in the message ("field", "LSTM option").
    field : str, optional
        The field the error names; default ``prefix`` and the first unknown key.
    prefix : str
        Put before the first unknown key when ``field`` is not given.
    layer : int, optional
        The spec layer, for a spec.

    Examples
    --------
    >>> refuse_unknown({"dilaton": 2}, ("dilation", "weights"), layer=2)
    Traceback (most recent call last):
    ...
    wavedil.errors.SpecError: layer 2: dilaton: unknown field(s) dilaton; known: dilation, weights
    """
    known = tuple(known)
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        raise SpecError(
            f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}",
            layer=layer,
            field=field if field is not None else f"{prefix}{unknown[0]}",
        )


def printable(text: str) -> str:
    """``text`` with what a terminal should not receive replaced by ``?``.

    Lone surrogates (a JSON ``"\\ud800"``), and control characters: escape
    sequences could rewrite the screen or the window title, line breaks would
    break a report's lines.

    Examples
    --------
    >>> printable("amp\\x1b[2J\\n")
    'amp?[2J?'
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "".join("?" if unicodedata.category(ch) == "Cc" else ch for ch in text)
