"""wavedil: causal dilated 1-D convolution stacks for audio, on NumPy or compiled (Numba) kernels.

The public API::

    stack = wavedil.load_spec("stack.toml")          # or preset(), stack_from_dilations()
    y = wavedil.apply(stack, x)                      # arrays
    wavedil.process_file("in.wav", "out.wav", stack) # files, streamed in blocks
    wavedil.analyze(stack, sample_rate=48000)        # the receptive-field report
    amp = wavedil.gain(6) + wavedil.load_spec("amp.nam") + wavedil.ir("cab.wav")  # a chain

The names are loaded on first use: importing the package does not import
NumPy, so the command line starts at once and loads only what a command needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_HOMES = {
    "StreamingFilter": "engine",
    "apply": "engine",
    "block_size_for": "engine",
    "Engine": "engines",
    "resolve_engine": "engines",
    "compile_kernels": "kernels.build",
    "AudioError": "errors",
    "KernelBuildError": "errors",
    "MemoryLimitError": "errors",
    "OutputExistsError": "errors",
    "SampleRateError": "errors",
    "SpecError": "errors",
    "UsageError": "errors",
    "WavedilError": "errors",
    "FileResult": "process",
    "Options": "process",
    "process_file": "process",
    "analyze": "receptive",
    "Report": "report",
    "render": "report",
    "DEFAULT_PRESET": "presets",
    "PRESETS": "presets",
    "preset": "presets",
    "Conv1d": "stack",
    "Stack": "stack",
    "Stage": "stack",
    "chain": "chains",
    "Gain": "gains",
    "gain": "gains",
    "ImpulseResponse": "impulses",
    "ir": "impulses",
    "load_spec": "spec",
    "parse_spec": "spec",
    "stack_from_dilations": "spec",
}

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "AudioError",
    "Conv1d",
    "Engine",
    "FileResult",
    "Gain",
    "ImpulseResponse",
    "KernelBuildError",
    "MemoryLimitError",
    "Options",
    "OutputExistsError",
    "Report",
    "SampleRateError",
    "SpecError",
    "Stack",
    "Stage",
    "StreamingFilter",
    "UsageError",
    "WavedilError",
    "analyze",
    "apply",
    "block_size_for",
    "chain",
    "compile_kernels",
    "gain",
    "ir",
    "load_spec",
    "parse_spec",
    "preset",
    "process_file",
    "render",
    "resolve_engine",
    "stack_from_dilations",
]

if TYPE_CHECKING:
    from .engine import StreamingFilter, apply, block_size_for
    from .engines import Engine, resolve_engine
    from .kernels.build import compile_kernels
    from .errors import AudioError, KernelBuildError, MemoryLimitError, OutputExistsError, SampleRateError, SpecError, UsageError, WavedilError
    from .process import FileResult, Options, process_file
    from .receptive import analyze
    from .report import Report, render
    from .presets import DEFAULT_PRESET, PRESETS, preset
    from .spec import load_spec, parse_spec, stack_from_dilations
    from .stack import Conv1d, Stack, Stage
    from .chains import chain
    from .gains import Gain, gain
    from .impulses import ImpulseResponse, ir


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wavedil' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
