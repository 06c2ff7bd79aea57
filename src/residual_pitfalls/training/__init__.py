"""Training the reconstruction models: seeded, resumable, NaN-safe (see :mod:`.loop`).

Only re-exports: loop.py (train_model), settings.py (TrainSettings, SELECTIONS), validation.py (validation anomalies and
loss), resume.py (fingerprint, checkpoints, resuming), loss_log.py (loss.csv).
"""

from residual_pitfalls.training.loop import SELECTIONS, TrainSettings, train_model
from residual_pitfalls.training.loss_log import LOG_COLUMNS, read_loss_log
from residual_pitfalls.training.resume import TrainingDivergedError, data_fingerprint
from residual_pitfalls.training.validation import val_radius_px, validation_anomalies

__all__ = [
    "LOG_COLUMNS",
    "SELECTIONS",
    "TrainSettings",
    "TrainingDivergedError",
    "data_fingerprint",
    "read_loss_log",
    "train_model",
    "val_radius_px",
    "validation_anomalies",
]
