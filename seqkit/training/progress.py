"""Progress as lines, for logs: what `seqkit fit|validate|test|predict` show when the output is not a terminal.

A progress bar redraws itself with carriage returns; written to a file or a CI log, those
become a few enormous lines. `LineProgress` prints one line instead, every `every` seconds
and at the end of every epoch and evaluation, with what the bar shows:

    seqkit: epoch 1/3, batch 120/938, step 1058, train/loss 4.812, val/ppl 160.21, 0:02:31
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ProgressBar


EVERY = 30.0  # seconds between two lines within an epoch


class LineProgress(ProgressBar):
    """Lightning's progress bar as a line every `every` seconds (and at each epoch's end) on standard error.

    Args:
        every: seconds between two lines within an epoch (default `EVERY`).
    """

    def __init__(self, every: float | None = None) -> None:
        super().__init__()
        self.every, self.enabled = EVERY if every is None else every, True
        self._start = self._last = time.monotonic()

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def _say(self, trainer: pl.Trainer, pl_module: pl.LightningModule, where: str) -> None:
        if not self.enabled or trainer.global_rank != 0:
            return
        self._last = time.monotonic()
        metrics = ", ".join(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}"
                            for name, value in self.get_metrics(trainer, pl_module).items() if name != "v_num")
        elapsed = timedelta(seconds=round(self._last - self._start))
        print(f"seqkit: {where}{', ' + metrics if metrics else ''}, {elapsed}", file=sys.stderr, flush=True)

    def _epoch(self, trainer: pl.Trainer) -> str:
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        return f"epoch {trainer.current_epoch + 1}{total}"

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = self._last = time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        if time.monotonic() - self._last >= self.every:
            total = self.total_train_batches
            of = f"/{int(total)}" if total != float("inf") else ""
            self._say(trainer, pl_module, f"{self._epoch(trainer)}, batch {batch_idx + 1}{of}, step {trainer.global_step}")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._say(trainer, pl_module, f"{self._epoch(trainer)} done, step {trainer.global_step}")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn != "fit":
            self._say(trainer, pl_module, "validation done")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._say(trainer, pl_module, "test done")

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._say(trainer, pl_module, "predict done")
