"""Per-job logging for workflow scripts: everything printed goes to the terminal AND the rule's log."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class _Tee:
    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:  # keeps tqdm's live bar on a terminal
        return self.streams[0].isatty()


@contextmanager
def job_log(path: str | Path | None) -> Iterator[None]:
    """Tee stdout and stderr into `path` (created with its parents) for the duration of the block.

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
            sys.stdout, sys.stderr = old_out, old_err
