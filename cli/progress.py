"""A progress line on stderr: files done, audio processed, speed as multiples of real time, time left."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

#: Marks in the bar at most; fewer when the terminal is narrow.
BAR_MARKS = 24
#: Fewest marks worth drawing: below, the bar is left out.
_MIN_MARKS = 8


def format_speed(factor: float) -> str:
    """A real-time factor as the command line shows it: two significant digits below 10, so a slow model does not read "0x".

    >>> format_speed(243.6), format_speed(0.0123), format_speed(12345.0)
    ('244x', '0.012x', '12,345x')
    """
    return f"{factor:,.0f}x" if factor >= 10 else f"{factor:.2g}x"


def format_duration(seconds: float) -> str:
    """``M:SS``, or ``H:MM:SS`` from an hour.

    >>> format_duration(75.4), format_duration(3725)
    ('1:15', '1:02:05')
    """
    s = round(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _terminal_columns() -> int:
    return shutil.get_terminal_size().columns


class ProgressLine:
    """Redrawn in place at most ten times a second; silent when ``enabled`` is false.

    The line never wraps: it is cut to fit the terminal's width, dropping the
    bar first, then the least useful figures. Its speed is the audio done
    over the wall time from :meth:`start` to the last block done, the
    measure of the per-file lines and of the summary, and the time left
    assumes that speed.

    Parameters
    ----------
    files : int
        Inputs in the batch.
    total_seconds : float, optional
        Audio seconds in all inputs, when known: adds a bar, a percentage and the time left.
    enabled : bool
    stream : text stream, optional
        Where to draw (default: standard error).
    clock : callable, optional
        Seconds, monotonic (default: :func:`time.perf_counter`).
    columns : callable, optional
        The terminal's width in characters (default: :func:`shutil.get_terminal_size`'s).

    Examples
    --------
    >>> now = [0.0]
    >>> line = ProgressLine(2, 10.0, enabled=False, clock=lambda: now[0], columns=lambda: 100)
    >>> line.start(); now[0] = 2.0; line.advance(5.0)
    >>> line.text()
    '[############............]  50.0%  0/2 files  5.0 s audio  2.5x real time  ETA 0:02'
    >>> line.columns = lambda: 40  # a narrow terminal: no bar, fewer figures (the time left stays)
    >>> line.text()
    ' 50.0%  2.5x real time  ETA 0:02'
    """

    def __init__(
        self,
        files: int,
        total_seconds: float | None,
        *,
        enabled: bool,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
        columns: Callable[[], int] = _terminal_columns,
    ) -> None:
        self.files = files
        self.total = total_seconds if total_seconds else None
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.clock = clock
        self.columns = columns
        self.done_files = 0
        self.seconds = 0.0
        self._start = clock()
        self._measured = self._start
        self._drawn = float("-inf")
        self._lock = threading.Lock()
        self._width = 0

    def start(self) -> None:
        """The work starts now: speeds are measured from here."""
        with self._lock:
            self._start = self._measured = self.clock()

    def advance(self, seconds: float) -> None:
        """``seconds`` more of audio are done."""
        with self._lock:
            self.seconds += seconds
            self._measured = self.clock()
            # The last block is always drawn: the line shows 100% before the file's own line replaces it.
            self._draw(force=self.total is not None and self.seconds >= self.total * (1 - 1e-9))

    def file_done(self) -> None:
        with self._lock:
            self.done_files += 1
            self._draw(force=True)

    @property
    def speed(self) -> float | None:
        """Audio seconds per wall second, from :meth:`start` to the last block done (None before one)."""
        wall = self._measured - self._start
        return self.seconds / wall if wall > 0 and self.seconds else None

    def text(self) -> str:
        """The line as drawn now, cut to the terminal's width less one column (a full last column wraps on some terminals)."""
        room = max(1, self.columns() - 1)
        fraction = self._fraction()
        speed = self.speed
        figures = [f"{self.done_files}/{self.files} files", f"{self.seconds:,.1f} s audio"]
        if speed is not None:
            figures.append(f"{format_speed(speed)} real time")
            if fraction is not None and self.total:
                figures.append(f"ETA {format_duration(max(0.0, self.total - self.seconds) / speed)}")
        if fraction is not None:
            figures.insert(0, f"{100 * fraction:5.1f}%")
        text = "  ".join(figures)
        marks = min(BAR_MARKS, room - len(text) - 3)
        if fraction is not None and marks >= _MIN_MARKS:
            filled = int(marks * fraction + 1e-9)  # a sum of block lengths may fall a rounding short of the total
            return f"[{'#' * filled}{'.' * (marks - filled)}] " + text
        # Too narrow for the bar: then the least useful figures go, the audio seconds first, the time left last.
        for dropped in ("audio", "files", "ETA"):
            if len(text) <= room:
                return text
            figures = [f for f in figures if dropped not in f]
            text = "  ".join(figures)
        return text[:room]

    def _fraction(self) -> float | None:
        if self.total is None:
            return None
        if self.files and self.done_files >= self.files:
            return 1.0
        return min(1.0, self.seconds / self.total)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        text = self.text()
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
