"""Behaviour every task shares, as functions (compose, don't inherit)."""

from __future__ import annotations

import math

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn

from seqkit.console import say  # noqa: F401 (the tasks' way to speak)
from seqkit.errors import SeqkitError
from seqkit.faults import LastCheckpoint


def check_numbers(**values: float | None) -> None:
    """Refuse hyperparameters out of range where they are declared, naming the flag (`--model.init_args.NAME`).

    Known names: `lr` (>= 0, as torch's optimizers take it; 0 gets a warning, since then no
    weight changes), `dropout` (0 <= p < 1), `weight_decay` (>= 0); None is skipped.

    Raises:
        SeqkitError: the first value out of its range.
    """
    rules = {"lr": (lambda v: v >= 0, "at least 0"), "dropout": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
             "weight_decay": (lambda v: v >= 0, "at least 0")}
    for name, value in values.items():
        fits, wanted = rules[name]
        if value is not None and not (math.isfinite(value) and fits(value)):
            raise SeqkitError(f"--model.init_args.{name} must be {wanted}, got {value}")
    if values.get("lr") == 0:
        rank_zero_warn("--model.init_args.lr is 0: training will change no weight")


def attached_datamodule(module: pl.LightningModule) -> pl.LightningDataModule | None:
    """The DataModule of the Trainer running `module`, or None outside a Trainer."""
    return getattr(module.trainer, "datamodule", None) if module._trainer is not None else None


def best_and_last_checkpoints(module: pl.LightningModule, monitor: str, mode: str, score_format: str) -> list[ModelCheckpoint]:
    """Keep the best model by `monitor` and the last one for resuming.

    Replaces Lightning's default checkpoint callback; returns none when checkpointing is
    off (`enable_checkpointing=False`), where a ModelCheckpoint would be an error. The
    best file is named `best-<epoch>-<score>.ckpt`, the score written with `score_format`.
    `last.ckpt` is `seqkit.faults.LastCheckpoint`'s when the Trainer has one (`seqkit fit`
    adds it), else Lightning's. The best is chosen when validation ends, not at the end of
    the training epoch: the `last.ckpt` written after the same validation then knows it.
    """
    callbacks = module.trainer.callbacks
    if not any(isinstance(c, ModelCheckpoint) for c in callbacks):
        return []
    save_last = not any(isinstance(c, LastCheckpoint) for c in callbacks)
    return [ModelCheckpoint(monitor=monitor, mode=mode, save_last=save_last, save_on_train_epoch_end=False,
                            filename="best-{epoch}-{" + monitor + ":" + score_format + "}", auto_insert_metric_name=False)]


class StepDecay:
    """Zaremba et al. (2014): the learning rate is multiplied by `factor` once per epoch after `start` epochs.

    A class rather than a lambda so that the scheduler's state is plain data in a checkpoint.
    """

    def __init__(self, factor: float, start: int) -> None:
        self.factor = factor
        self.start = start

    def __call__(self, epoch: int) -> float:
        return self.factor ** max(0, epoch + 1 - self.start)


def step_decay_schedule(optimizer, factor: float, start: int):
    """`configure_optimizers`' return value: `optimizer` alone, or with `StepDecay` once per epoch when `factor` != 1."""
    if factor == 1.0:
        return optimizer
    import torch

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, StepDecay(factor, start))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


def with_input_size(module, input_size: int):
    """`module` itself when it reads `input_size` features, else the same recurrent module built for that many.

    Tasks size their encoders from the data (features, embedding size), which a recipe
    cannot know; the module is rebuilt from its own `init_args()` with only `input_size`
    changed, so a checkpoint's encoder spec records the real size.
    """
    if module.input_size == input_size:
        return module
    return type(module)(**{**module.init_args(), "input_size": input_size})
