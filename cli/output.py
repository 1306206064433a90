"""The commands' standard output when it fails: a reader gone (``| head``) or a full disk (``> /dev/full``)."""

from __future__ import annotations

import os
import sys


def silence_stdout() -> None:
    """Send what is still buffered for standard output nowhere.

    Python flushes standard output at exit; after a failed write that flush
    would fail again and print a traceback-like "Exception ignored" message.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no usable stdout at all: nothing to silence
        pass
