"""Apply's progress on stderr: one line redrawn in place on a terminal, a line now and then in a
log.

On a terminal the line shows the count, the rate, the time left and the change that finished
last, and is redrawn at most every :data:`REDRAW_SECONDS` with a carriage return (the last
change is always drawn). Without a terminal (a CI log) a line is printed each time another
tenth of the changes is done, or when :data:`LOG_EVERY_SECONDS` passed since the last line,
whichever comes first. Nothing here decides what apply does; the clock is a parameter so that
tests can drive the cadence.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from stagecfg.plan.changes import Change

#: Without a terminal: a line at least this often while changes finish.
LOG_EVERY_SECONDS = 10.0
#: Without a terminal: a line each time another 1/LOG_STEPS of the changes is done.
LOG_STEPS = 10
#: On a terminal: redraw at most this often, so a fast apply does not flood a slow terminal.
REDRAW_SECONDS = 0.1
#: The width assumed when a terminal does not say.
DEFAULT_WIDTH = 80


def duration_text(seconds: float) -> str:
    """``9s``, ``1m05s``, ``2h03m``."""
    whole = round(max(0.0, seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def progress_text(done: int, total: int, elapsed: float) -> str:
    """``1,203/2,003 changes (60%), 85.2/s, ETA 9s``; when all are done, the time they took."""
    percent = done * 100 // total if total > 0 else 100
    text = f"{done:,}/{total:,} changes ({percent}%)"
    if elapsed <= 0 or done <= 0:
        return text  # no rate yet, so no honest time left either
    rate = done / elapsed
    text += f", {rate:,.1f}/s"
    if done >= total:
        return text + f", took {duration_text(elapsed)}"
    return text + f", ETA {duration_text((total - done) / rate)}"


def terminal_width(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return DEFAULT_WIDTH
    return columns or DEFAULT_WIDTH  # a pty nobody sized says 0


class ApplyProgress:
    """The ``progress(done, total, change)`` callback of :func:`stagecfg.apply.execute`.

    Call :meth:`close` before printing anything else: it ends the in-place line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        terminal: bool,
        clock: Callable[[], float] = time.monotonic,
        width: int = DEFAULT_WIDTH,
    ) -> None:
        self.stream = stream
        self.terminal = terminal
        self.clock: Callable[[], float] = clock
        self.width = max(20, width)
        self.start = clock()
        self.last_output = self.start
        self.steps_logged = 0
        self.drawn = 0  # length of the line on screen, to blank what a shorter one leaves
        self.line_open = False

    @classmethod
    def on_stderr(cls) -> ApplyProgress:
        stream = sys.stderr
        terminal = stream.isatty()
        return cls(stream, terminal=terminal, width=terminal_width(stream))

    def __call__(self, done: int, total: int, change: Change) -> None:
        now = self.clock()
        if self.terminal:
            self._draw(done, total, change, now)
        else:
            self._log(done, total, now)

    def _log(self, done: int, total: int, now: float) -> None:
        steps = done * LOG_STEPS // total if total > 0 else LOG_STEPS
        if steps <= self.steps_logged and now - self.last_output < LOG_EVERY_SECONDS:
            return
        self.steps_logged = max(steps, self.steps_logged)
        self.last_output = now
        self._write(f"apply: {progress_text(done, total, now - self.start)}\n")

    def _draw(self, done: int, total: int, change: Change, now: float) -> None:
        if done < total and self.line_open and now - self.last_output < REDRAW_SECONDS:
            return
        from stagecfg.redact import mask_text
        from stagecfg.render import change_title

        text = f"apply: {progress_text(done, total, now - self.start)}  {change_title(change)}"
        # Masked before it is cut, so a cut can never leave half a secret on the screen.
        line = mask_text(text)[: self.width - 1]
        self.stream.write("\r" + line + " " * max(0, self.drawn - len(line)))
        self.stream.flush()
        self.drawn = len(line)
        self.line_open = True
        self.last_output = now

    def close(self) -> None:
        """End the in-place line (if one is drawn); safe to call more than once."""
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False

    def _write(self, text: str) -> None:
        from stagecfg.redact import mask_text

        self.stream.write(mask_text(text))
        self.stream.flush()
