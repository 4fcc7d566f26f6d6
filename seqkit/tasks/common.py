"""Behaviour every task shares, as functions (compose, don't inherit)."""

from __future__ import annotations

import sys

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only


@rank_zero_only
def say(message: str) -> None:
    """A line for the person at the terminal, on stderr (once, from the first process)."""
    print(message, file=sys.stderr)


def attached_datamodule(module: pl.LightningModule) -> pl.LightningDataModule | None:
    """The DataModule of the Trainer running `module`, or None outside a Trainer."""
    return getattr(module.trainer, "datamodule", None) if module._trainer is not None else None


def best_and_last_checkpoints(module: pl.LightningModule, monitor: str, mode: str, score_format: str) -> list[ModelCheckpoint]:
    """Keep the best model by `monitor` and the last one for resuming.

    Replaces Lightning's default checkpoint callback; returns none when checkpointing is
    off (`enable_checkpointing=False`), where a ModelCheckpoint would be an error. The
    best file is named `best-<epoch>-<score>.ckpt`, the score written with `score_format`.
    """
    if not any(isinstance(c, ModelCheckpoint) for c in module.trainer.callbacks):
        return []
    return [ModelCheckpoint(monitor=monitor, mode=mode, save_last=True,
                            filename="best-{epoch}-{" + monitor + ":" + score_format + "}", auto_insert_metric_name=False)]
