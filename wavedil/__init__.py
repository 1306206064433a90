"""wavedil: causal dilated 1-D convolution stacks for audio, with a NumPy engine.

The public API::

    stack = wavedil.load_spec("stack.toml")          # or preset(), stack_from_dilations()
    y = wavedil.apply(stack, x)                      # arrays
    wavedil.process_file("in.wav", "out.wav", stack) # files, streamed in blocks
    wavedil.analyze(stack, sample_rate=48000)        # the receptive-field report
"""

from .engine import StreamingFilter, apply, block_size_for
from .errors import AudioError, OutputExistsError, SpecError, WavedilError
from .process import FileResult, process_file
from .receptive import analyze
from .report import render
from .spec import (
    DEFAULT_PRESET,
    PRESETS,
    Conv1d,
    Stack,
    load_spec,
    parse_spec,
    preset,
    stack_from_dilations,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "AudioError",
    "Conv1d",
    "FileResult",
    "OutputExistsError",
    "SpecError",
    "Stack",
    "StreamingFilter",
    "WavedilError",
    "analyze",
    "apply",
    "block_size_for",
    "load_spec",
    "parse_spec",
    "preset",
    "process_file",
    "render",
    "stack_from_dilations",
]
