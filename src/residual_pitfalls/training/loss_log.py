"""The loss log ``loss.csv``: one row per step ``step,train_loss,val_loss,val_ap`` (validation
columns empty where not computed), written atomically."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

LOG_COLUMNS = ("step", "train_loss", "val_loss", "val_ap")


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _write_log(path: Path, rows: list[tuple]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LOG_COLUMNS)
    for step, train_loss, val_loss, val_ap in rows:
        writer.writerow([step, _fmt(train_loss), _fmt(val_loss), _fmt(val_ap)])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_loss_log(path: Path) -> list[tuple]:
    """Rows ``(step, train_loss, val_loss, val_ap)`` of a loss log (None where empty)."""

    def num(text: str) -> float | None:
        return float(text) if text else None

    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != LOG_COLUMNS:
            raise ValueError(f"{path}: expected columns {list(LOG_COLUMNS)}")
        rows = [
            (int(r["step"]), num(r["train_loss"]), num(r["val_loss"]), num(r["val_ap"]))
            for r in reader
        ]
    return rows
