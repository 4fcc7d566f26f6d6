"""Behaviour every task shares, as functions (compose, don't inherit)."""

from __future__ import annotations

import math
from typing import Callable

import lightning.pytorch as pl
import torch
from torch import nn
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics import Metric, MetricCollection

from seqkit.console import say  # noqa: F401 (the tasks' way to speak)
from seqkit.errors import SeqkitError
from seqkit.modules import Recurrent
from seqkit.training.faults import LastCheckpoint


def check_numbers(**values: float | None) -> None:
    """Refuse hyperparameters out of range where they are declared, naming the flag (`--model.init_args.NAME`).

    Known names: `dropout` and `weight_drop` (0 <= p < 1); None is skipped. (The optimizer's `lr` and
    `weight_decay` are checked by the optimizer itself, see `configure`.)

    Raises:
        SeqkitError: the first value out of its range.
    """
    probability = (lambda v: 0 <= v < 1, "at least 0 and below 1")
    rules = {"dropout": probability, "weight_drop": probability}
    for name, value in values.items():
        fits, wanted = rules[name]
        if value is not None and not (math.isfinite(value) and fits(value)):
            raise SeqkitError(f"--model.init_args.{name} must be {wanted}, got {value}")


def check_parts(**parts: object) -> None:
    """Refuse a recurrent part (`encoder=...`) that is not a seqkit recurrent module, naming it."""
    for name, part in parts.items():
        if not isinstance(part, Recurrent):
            raise SeqkitError(f"{name} must be a seqkit recurrent module (seqkit.modules.RNN, LSTM, GRU), "
                              f"got {type(part).__name__}")


def attached_datamodule(module: pl.LightningModule) -> pl.LightningDataModule | None:
    """The DataModule of the Trainer running `module`, or None outside a Trainer."""
    return getattr(module.trainer, "datamodule", None) if module._trainer is not None else None


def best_and_last_checkpoints(module: pl.LightningModule, monitor: str, mode: str, score_format: str) -> list[ModelCheckpoint]:
    """Keep the best model by `monitor` and the last one for resuming.

    Replaces Lightning's default checkpoint callback; returns none when checkpointing is
    off (`enable_checkpointing=False`), where a ModelCheckpoint would be an error. The
    best file is named `best-<epoch>-<score>.ckpt`, the score written with `score_format`.
    `last.ckpt` is `seqkit.training.faults.LastCheckpoint`'s when the Trainer has one (`seqkit fit`
    adds it), else Lightning's. The best is chosen when validation ends, not at the end of
    the training epoch: the `last.ckpt` written after the same validation then knows it.
    """
    callbacks = module.trainer.callbacks
    if not any(isinstance(c, ModelCheckpoint) for c in callbacks):
        return []
    save_last = not any(isinstance(c, LastCheckpoint) for c in callbacks)
    return [ModelCheckpoint(monitor=monitor, mode=mode, save_last=save_last, save_on_train_epoch_end=False,
                            filename="best-{epoch}-{" + monitor + ":" + score_format + "}", auto_insert_metric_name=False)]


def stage_metrics(stage: str, **metrics: Callable[[], Metric]) -> MetricCollection:
    """The `MetricCollection` of one stage, its metrics logged as `<stage>/<name>`.

    A task holds one per stage as `task.val_metrics` (the torchmetrics habit), and
    `self.log_dict(self.val_metrics)` in a step hands them to Lightning, which computes them
    at the end of the epoch and resets them. torchmetrics adds up sums and counts across
    processes before it divides, so the numbers are exact on many devices too. The metrics
    are updated one by one with different inputs, so none shares another's state
    (`compute_groups=False`).
    A task takes them through `metrics_at`, which resets them at the stage's first batch.
    """
    return MetricCollection({name: make() for name, make in metrics.items()}, prefix=f"{stage}/", compute_groups=False)


def metrics_at(task: pl.LightningModule, stage: str, batch_idx: int) -> MetricCollection:
    """`task.<stage>_metrics`, reset when `batch_idx` is the stage's first batch.

    Lightning resets logged metrics after each epoch, but the reset that closes
    `trainer.validate` runs in inference mode, and its state tensors cannot be updated in
    place by the validation inside a later `trainer.fit` (no-grad mode, not inference mode).
    """
    metrics = getattr(task, f"{stage}_metrics")
    if batch_idx == 0:
        metrics.reset()
    return metrics


class GivenParts(nn.ModuleDict):
    """A task's `model` until the data has sized it: the recurrent parts the task was given, by the names
    the model gives them (`model.encoder`), so that their keys in a checkpoint are the same before and
    after. The task's `configure_model` replaces it with the model (`built` tells which it holds)."""


def built(task: pl.LightningModule) -> bool:
    """Whether `task.model` is the model, not yet the `GivenParts`."""
    return not isinstance(task.model, GivenParts)


def part(name: str) -> property:
    """`task.encoder`, `task.embedding`, ...: the model's part of that name (None until the model is built,
    for a part the task was not given)."""
    return property(lambda task: getattr(task.model, name, None), doc=f"`task.model.{name}`")


class _Decay:
    """The factor of epoch `epoch` (a class, not a lambda, so that the scheduler's state is plain data)."""

    def __init__(self, factor: float, start: int) -> None:
        self.factor, self.start = factor, start

    def __call__(self, epoch: int) -> float:
        return self.factor ** max(0, epoch + 1 - self.start)


class StepDecay(torch.optim.lr_scheduler.LambdaLR):
    """Zaremba et al. (2014): the learning rate is multiplied by `factor` once per epoch after `start` epochs.

    In a recipe: `lr_scheduler: {class_path: seqkit.tasks.StepDecay, init_args: {factor: 0.5, start: 4}}`.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, factor: float = 0.5, start: int = 0) -> None:
        if not (math.isfinite(factor) and 0 < factor <= 1) or start < 0:
            raise SeqkitError(f"StepDecay needs 0 < factor <= 1 and start >= 0, got factor {factor} and start {start}")
        super().__init__(optimizer, _Decay(factor, start))


class _Slant:
    """The factor of step `step` in a slanted triangle of `total` steps (a class: plain data in the state)."""

    def __init__(self, total: int, warmup: float, ratio: float) -> None:
        self.total, self.warmup, self.ratio = total, warmup, ratio

    def __call__(self, step: int) -> float:
        peak = max(1, math.floor(self.total * self.warmup))  # the step at which the rate is highest
        if step < peak:
            rise = step / peak
        else:
            rise = max(0.0, 1 - (step - peak) / max(1, self.total - peak))
        return (1 + rise * (self.ratio - 1)) / self.ratio


class SlantedTriangular(torch.optim.lr_scheduler.LambdaLR):
    """ULMFiT's slanted triangular rates (Howard & Ruder 2018), stepped after every batch.

    The rate climbs linearly from `lr / ratio` to `lr` over the first `warmup` share of
    the steps, then falls linearly back to `lr / ratio` at the last step: a short, steep
    rise to find a good region, then a long descent to settle in it. Every parameter group
    keeps its own peak (discriminative rates scale with it). `total_steps` is the whole
    training's, by default the Trainer's estimate (`max_epochs` times the batches of an
    epoch, or `max_steps`).

    In a recipe: `lr_scheduler: {class_path: seqkit.tasks.SlantedTriangular, init_args: {warmup: 0.1, ratio: 32}}`.
    """

    interval = "step"  # the Lightning interval it is stepped at (`configure` reads it)

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int | None = None, warmup: float = 0.1,
                 ratio: float = 32.0) -> None:
        if not 0 < warmup < 1 or not (math.isfinite(ratio) and ratio >= 1) or (total_steps is not None and total_steps < 1):
            raise SeqkitError(f"SlantedTriangular needs 0 < warmup < 1, ratio >= 1 and total_steps >= 1, got warmup "
                              f"{warmup}, ratio {ratio} and total_steps {total_steps}")
        self.total_steps = total_steps
        # Only plain numbers in the scheduler's own attributes: its state_dict is every attribute, and a
        # checkpoint must load as plain data (LambdaLR saves the _Slant's numbers, not the object).
        super().__init__(optimizer, _Slant(total_steps or 1, warmup, ratio))

    def fit_to(self, total_steps: int) -> None:
        """Stretch the triangle over `total_steps` (the Trainer's count, known once training starts)."""
        self.total_steps = max(1, int(total_steps))
        for slant in self.lr_lambdas:
            slant.total = self.total_steps


# A task's `optimizer` and `lr_scheduler` arguments, the LightningCLI way: a recipe names the class
# (`optimizer: {class_path: torch.optim.SGD, init_args: {lr: 20}}`), the task hands it the parameters.


def configure(task: pl.LightningModule, params) -> torch.optim.Optimizer | dict:
    """`configure_optimizers`' value: `task.optimizer(params)`, with `task.lr_scheduler` stepped once per epoch
    (after every batch for a scheduler whose `interval` is `"step"`, such as `SlantedTriangular`).

    `torch.optim.lr_scheduler.ReduceLROnPlateau` steps on `val/loss`, which every task logs.

    Raises:
        SeqkitError: arguments the optimizer or scheduler refuses (a negative lr), naming the key.
    """
    try:
        optimizer = task.optimizer(params)
    except (TypeError, ValueError) as error:
        raise SeqkitError(f"--model.init_args.optimizer: {error}") from None
    for group in optimizer.param_groups:  # a group may learn at a multiple of the optimizer's lr
        group["lr"] = group["lr"] * group.get("lr_scale", 1.0)
    if all(group["lr"] == 0 for group in optimizer.param_groups):
        rank_zero_warn("the optimizer's lr is 0: training will change no weight")
    if task.lr_scheduler is None:
        return optimizer
    try:
        scheduler = task.lr_scheduler(optimizer)
    except (TypeError, ValueError) as error:
        raise SeqkitError(f"--model.init_args.lr_scheduler: {error}") from None
    schedule = {"scheduler": scheduler, "interval": getattr(scheduler, "interval", "epoch")}
    if isinstance(scheduler, SlantedTriangular) and scheduler.total_steps is None and task._trainer is not None:
        scheduler.fit_to(task.trainer.estimated_stepping_batches)
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):  # it steps on the validation loss
        schedule["monitor"] = "val/loss"
    return {"optimizer": optimizer, "lr_scheduler": schedule}


def with_input_size(module, input_size: int):
    """`module` itself when it reads `input_size` features, else the same recurrent module built for that many.

    Tasks size their encoders from the data (features, embedding size), which a recipe
    cannot know; the module is rebuilt from its own `init_args()` with only `input_size`
    changed, so a checkpoint's encoder spec records the real size.
    """
    if module.input_size == input_size:
        return module
    return type(module)(**{**module.init_args(), "input_size": input_size})
