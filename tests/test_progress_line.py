"""The progress line: its last state is drawn, and the time left outlasts the other figures on a narrow terminal."""

from __future__ import annotations

import io

from wavedil.cli.progress import ProgressLine


def test_the_last_block_is_drawn_even_right_after_another():
    now, out = [0.0], io.StringIO()
    line = ProgressLine(1, 4.0, enabled=True, stream=out, clock=lambda: now[0], columns=lambda: 120)
    line.start()
    for step in range(1, 5):  # four blocks within 40 ms: the throttle would skip all but the first
        now[0] = 0.01 * step
        line.advance(1.0)
    assert out.getvalue().split("\r")[-1].split()[1] == "100.0%"


def test_a_narrow_terminal_keeps_the_time_left():
    now = [0.0]
    line = ProgressLine(3, 30.0, enabled=False, clock=lambda: now[0], columns=lambda: 36)
    line.start()
    now[0] = 5.0
    line.advance(10.0)
    assert line.text() == " 33.3%  2x real time  ETA 0:10"
