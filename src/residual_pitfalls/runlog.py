"""Per-job logging for workflow scripts: messages go to the terminal AND the rule's log; progress
bars go to the log only.

Several jobs run side by side under ``snakemake --cores N``; their tqdm bars, redrawn many times a
second, would interleave on the one terminal, which shows Snakemake's own progress instead. Inside
:func:`job_log` a bar's redraws (writes that start with a carriage return, as tqdm's do) become
plain lines in the log, at most one per :data:`PROGRESS_INTERVAL_S` seconds plus the bar's final
state. Outside a job (a library function called interactively) nothing changes: the bar is live.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

# Seconds between two progress lines of one bar in a job's log.
PROGRESS_INTERVAL_S = 15.0


class _Tee:
    """Text goes to ``terminal`` and ``log``; progress-bar redraws go to ``log`` only, throttled."""

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        self.terminal, self.log = terminal, log
        self._drawing = False  # a bar has redrawn its line since the last plain text
        self._pending: str | None = None  # the bar's latest state not yet in the log
        self._logged_at = -float("inf")

    def _log_line(self, line: str) -> None:
        self.log.write(line + "\n")
        self.log.flush()
        self._logged_at, self._pending = time.monotonic(), None

    def write(self, text: str) -> int:
        if not text:  # tqdm writes "" between redraws: not the end of a bar
            return 0
        if text.startswith("\r"):  # a progress bar redraws its line
            self._drawing = True
            state = text.strip("\r").rstrip()
            if state:
                self._pending = state
                if time.monotonic() - self._logged_at >= PROGRESS_INTERVAL_S:
                    self._log_line(state)
            return len(text)
        if self._drawing:
            self._drawing = False
            if self._pending is not None:
                self._log_line(self._pending)
            self._logged_at = -float("inf")  # the next bar's first state is logged at once
            if text == "\n":  # the bar's own closing newline
                return len(text)
        for stream in (self.terminal, self.log):
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()
        self.log.flush()

    def isatty(self) -> bool:  # bars drawn here end up as lines in a file
        return False


@contextmanager
def job_log(path: str | Path | None) -> Iterator[None]:
    """Tee stdout and stderr into `path` (created with its parents) for the duration of the block;
    progress bars go into `path` only (see the module docstring).

    An exception is written to the log before it propagates, so a failed job's log says why.
    """
    if not path:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as log:
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(old_out, log), _Tee(old_err, log)
        try:
            yield
        except BaseException as error:
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            raise
        finally:
            for tee in (sys.stdout, sys.stderr):
                if isinstance(tee, _Tee) and tee._pending is not None:  # a bar left open
                    tee._log_line(tee._pending)
            sys.stdout, sys.stderr = old_out, old_err
