"""A stack written as a TOML spec, which :func:`wavedil.spec.load_spec` reads back to the same stack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .stack import Stack


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(stack: Stack) -> str:
    """The stack as a TOML spec that :func:`wavedil.spec.load_spec` reads back to the same stack.

    Examples
    --------
    >>> from wavedil.spec import stack_from_dilations
    >>> print(to_toml(stack_from_dilations([4], taps=[0.5, 0.5])))
    padding = "causal"
    <BLANKLINE>
    [[layers]]
    dilation = 4
    kernel_size = 2
    weights = [0.5, 0.5]
    bias = 0.0
    activation = "linear"
    <BLANKLINE>
    """
    doc = stack.to_dict()
    lines = [f"{key} = {_toml_value(value)}" for key, value in doc.items() if key != "layers"]
    for layer in doc["layers"]:
        lines += ["", "[[layers]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in layer.items()]
    return "\n".join(lines) + "\n"
