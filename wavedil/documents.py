"""Reading spec and model files as data: bounded, never evaluated, every failure one SpecError.

A spec (``.toml``, ``.json``) and a ``.nam`` model are read the same way: a
regular file of at most a limit of bytes (:mod:`wavedil.limits`), decoded as
UTF-8, parsed as JSON or TOML. What a parser raises (a syntax error, a number
too long, nesting too deep, a key given twice) becomes a
:class:`~wavedil.errors.SpecError` naming the file.
"""

from __future__ import annotations

import json
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

from .errors import SpecError
from .fields import printable


def read_data_file(path: Path, limit: int, kind: str) -> bytes:
    """The bytes of a spec or model file: a regular file of at most ``limit`` bytes.

    Anything else (a directory, a FIFO, a device such as ``/dev/zero``,
    through a symlink too) is refused before it is opened, so nothing blocks
    or reads without end; the limit holds on the bytes actually read, not
    only on what ``stat`` says. Every failure is a :class:`SpecError`
    naming the file; ``kind`` names what was expected (``"spec file"``).
    """
    source = str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise SpecError(f"is a directory, not a {kind}", source=source)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"is not a regular file (a FIFO, socket or device), not a {kind}", source=source)
        if info.st_size > limit:
            raise SpecError(f"is {info.st_size} bytes, over the limit of {limit}", source=source)
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise SpecError(f"is over the limit of {limit} bytes", source=source)
        return data
    except FileNotFoundError:
        raise SpecError("no such file", source=source) from None
    except PermissionError:
        raise SpecError("permission denied", source=source) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", source=source) from None


def read_text(path: Path, limit: int, kind: str, *, encoding: str = "utf-8") -> str:
    """The text of a spec or model file (see :func:`read_data_file`), decoded as ``encoding``.

    Raises
    ------
    SpecError
        As :func:`read_data_file`, or when the bytes are not UTF-8.
    """
    raw = read_data_file(path, limit, kind)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        # Binary bytes: most likely an audio file (or another binary) given where a spec or model goes.
        raise SpecError(f"is not UTF-8 text, so not a {kind} (a binary file such as audio?)", source=str(path)) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats: JSON would keep the last silently, TOML refuses it."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _number_reason(exc: ValueError) -> str:
    # Python refuses to convert integers of more digits than its limit; say so without naming its internals.
    if "integer string conversion" in str(exc):
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    return str(exc)


def parse_json_document(text: str, source: str, holder: str) -> Any:
    """Parse the JSON text of a spec or model; every failure is a :class:`SpecError` naming ``source``.

    ``NaN`` and ``Infinity``, a key repeated in one object, integers too long
    to read and nesting too deep are refused. ``holder`` names the kind of
    document in messages ("a spec", "a .nam file").

    Examples
    --------
    >>> parse_json_document('{"a": 1, "a": 2}', "s.json", "a spec")
    Traceback (most recent call last):
    ...
    wavedil.errors.SpecError: s.json: the key 'a' appears twice in one object
    """

    def reject_constant(name: str) -> float:
        raise ValueError(f"{name} is not a number {holder} may hold")

    try:
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise SpecError(f"the key {printable(str(exc.args[0]))[:80]!r} appears twice in one object", source=source) from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", source=source) from None
    except RecursionError:
        raise SpecError("malformed JSON: nested too deeply", source=source) from None
    except ValueError as exc:
        raise SpecError(f"malformed JSON: {_number_reason(exc)}", source=source) from None


def parse_toml_document(text: str, source: str) -> Any:
    """Parse the TOML text of a spec; every failure is a :class:`SpecError` naming ``source``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"malformed TOML: {exc}", source=source) from None
    except RecursionError:
        raise SpecError("malformed TOML: nested too deeply", source=source) from None
    except ValueError as exc:  # an integer too long to read
        raise SpecError(f"malformed TOML: {_number_reason(exc)}", source=source) from None


def parse_spec_document(text: str, suffix: str, source: str) -> Any:
    """A spec's text parsed by its extension: ``.json``, ``.toml``, or else TOML and then JSON."""
    if suffix == ".json":
        return parse_json_document(text, source, "a spec")
    if suffix == ".toml":
        return parse_toml_document(text, source)
    try:
        return parse_toml_document(text, source)
    except SpecError:
        return parse_json_document(text, source, "a spec")
