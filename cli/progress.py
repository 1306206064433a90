"""A progress line on stderr: files done, audio processed, speed as multiples of real time."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressLine:
    """Redrawn in place at most ten times a second; silent when ``enabled`` is false.

    Parameters
    ----------
    files : int
        Inputs in the batch.
    total_seconds : float, optional
        Audio seconds in all inputs, when known: adds a bar and a percentage.
    """

    def __init__(self, files: int, total_seconds: float | None, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.files = files
        self.total = total_seconds if total_seconds else None
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done_files = 0
        self.seconds = 0.0
        self.start = time.perf_counter()
        self._last = 0.0
        self._lock = threading.Lock()
        self._width = 0

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds
            self._draw()

    def file_done(self) -> None:
        with self._lock:
            self.done_files += 1
            self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        wall = now - self.start
        speed = self.seconds / wall if wall > 0 else 0.0
        text = f"{self.done_files}/{self.files} files  {self.seconds:,.1f} s audio  {speed:,.1f}x real time"
        if self.total:
            frac = min(1.0, self.seconds / self.total)
            filled = int(24 * frac)
            text = f"[{'#' * filled}{'.' * (24 - filled)}] {100 * frac:5.1f}%  " + text
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def clear(self) -> None:
        """Erase the line, so that messages after it start clean."""
        if self.enabled and self._width:
            with self._lock:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0
