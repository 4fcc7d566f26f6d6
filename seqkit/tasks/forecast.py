"""Time-series forecasting: the whole horizon at once (direct multi-step), scored beside the baselines.

The model is `seqkit.models.RecurrentForecaster` (its diagram is there): a window of the
past in, every step of the horizon out, Q values per step (1, or one per quantile of the
pinball loss; the point forecast is then the median), on the data's scaled values. The
metrics are computed on the original scale, beside the baselines on the same windows, by
`seqkit.forecasting`.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import pandas as pd
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from seqkit import forecasting
from seqkit.training import checkpoints
from seqkit.data.forecast import ForecastBatch, ForecastData, read_csv
from seqkit.errors import CheckpointError, SeqkitError
from seqkit.models.forecaster import (Baseline, ForecastEnsemble, Naive, PinballLoss, RecurrentForecaster, SeasonalDrift,
                                      SeasonalNaive)
from seqkit.modules import Recurrent
from seqkit.tasks.common import (attached_datamodule, best_and_last_checkpoints, check_numbers, check_parts,
                                 configure, metrics_at, GivenParts, built, part, say, stage_metrics, with_input_size)

LOSSES = (nn.MSELoss, nn.L1Loss, PinballLoss)
BASELINES = (Naive, SeasonalNaive, SeasonalDrift)
SHAPES = ("input_size", "future_size", "n_targets", "input_length", "horizon")


class ForecastTask(pl.LightningModule):
    """A recurrent forecaster that emits the whole horizon at once; its sizes come from the data.

    Args:
        encoder: the recurrent module, e.g. `seqkit.modules.LSTM(input_size=1, hidden_size=64)`;
            chosen in a recipe by `class_path`. Its `input_size` is replaced by the data's.
        loss: `torch.nn.MSELoss()` (the default), `torch.nn.L1Loss()`, or
            `seqkit.models.PinballLoss(quantiles)` for quantile forecasts (the median is the point
            forecast). In a recipe: `loss: {class_path: seqkit.models.PinballLoss, init_args:
            {quantiles: [0.1, 0.5, 0.9]}}`.
        baseline: None, or the forecast whose correction the network learns
            (`seqkit.models.Naive()`, `SeasonalNaive(season)`, `SeasonalDrift(season)`). The head
            starts at zero, so training starts from the baseline.
        revin: centre each input window's targets on their mean, divide by their spread, and
            scale the forecast back (RevIN, Kim et al. 2022, without its affine); essential
            when the level drifts between training and test (ETTh1).
        season: the season length in steps, for MASE and the seasonal baselines of the test
            table (12 for monthly data with a yearly cycle, 24 for hourly with a daily one).
        dropout: dropout on the features entering the head.
        linear_skip: add a learned linear forecast from the input window (one map from its
            steps to the horizon's, shared by every target, as DLinear's); the head starts at
            zero, so the network learns its correction over that linear forecast.
        segment: read each target channel alone, its input window cut into segments of this
            many steps, one segment per recurrent step, with one head shared by the channels
            (SegRNN, Lin et al. 2023); `--data.input_length` must be a multiple of it, and
            there are no covariates. 0 (the default): all features of a step together.
        ensemble: input lengths of an ensemble's members, e.g. `[12, 24, 36]` (each at most
            `--data.input_length`): one forecaster per length, each reading that many of the
            window's last steps, trained side by side on the same batches (each by its own
            loss); the forecast is their median. None (the default): one forecaster.
        optimizer, lr_scheduler: classes and arguments as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.003}}`; in Python,
            `functools.partial(torch.optim.AdamW, lr=0.003)`); default AdamW and no schedule.
        monitor: the validation metric that picks the best checkpoint (`val/loss`, or an
            original-scale one such as `val/mape`); lower is better.
        init_scaler: with `--init_from`: `"refit"` fits the scaler on the new training data
            (the default: new series have their own level), `"keep"` uses the checkpoint's
            (only for the series it was fitted on).
    """

    task_name = "forecast"

    def __init__(
        self,
        encoder: Recurrent,
        loss: nn.Module | None = None,
        baseline: Baseline | None = None,
        revin: bool = False,
        season: int = 1,
        dropout: float = 0.0,
        linear_skip: bool = False,
        segment: int = 0,
        ensemble: list[int] | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        monitor: str = "val/loss",
        init_scaler: str = "refit",
    ) -> None:
        super().__init__()
        check_parts(encoder=encoder)
        loss = nn.MSELoss() if loss is None else loss
        if not isinstance(loss, LOSSES):
            raise SeqkitError(f"loss must be one of torch.nn.MSELoss, torch.nn.L1Loss, seqkit.models.PinballLoss; "
                              f"got {type(loss).__name__}")
        if isinstance(loss, PinballLoss) and 0.5 not in loss.levels:
            raise SeqkitError(f"the quantiles of PinballLoss must include 0.5 (the point forecast); got {loss.levels}")
        if baseline is not None and not isinstance(baseline, Baseline):
            raise SeqkitError(f"baseline must be None or a seqkit.models.Baseline (Naive, SeasonalNaive, "
                              f"SeasonalDrift); got {type(baseline).__name__}")
        forecasting.check_arguments(init_scaler, season, segment, ensemble)
        check_numbers(dropout=dropout)
        self.save_hyperparameters(ignore=["encoder", "loss", "baseline", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.model: RecurrentForecaster | ForecastEnsemble | GivenParts = GivenParts({"encoder": encoder})  # sized by the data, built in configure_model
        self.loss, self.baseline = loss, baseline
        self.quantiles = list(loss.levels) if isinstance(loss, PinballLoss) else [0.5]
        self.shapes: dict[str, int] | None = None
        self.data_state: dict | None = None  # the fitted ForecastData state: columns, frequency, scaler
        self.conformal: dict | None = None  # the validation errors' interval radii (forecasting.conformal_radii)
        self._init_from: dict | None = None
        self._outputs: list[tuple[Tensor, ...]] = []
        # The mean loss over the windows of a split; the original-scale metrics come at the epoch's end.
        self.val_metrics, self.test_metrics = stage_metrics("val", loss=MeanMetric), stage_metrics("test", loss=MeanMetric)

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        if built(self):
            return
        datamodule = attached_datamodule(self)
        if self.shapes is None:
            if not isinstance(datamodule, ForecastData):
                raise SeqkitError(f"ForecastTask needs its data to size itself: train it with a ForecastData "
                                  f"DataModule (or a subclass of it that reads the table its own way; "
                                  f"{type(datamodule).__name__} is neither), or load a checkpoint")
            self.shapes = {name: int(getattr(datamodule, name)) for name in SHAPES}
        self._build_layers()
        if self._init_from is not None:
            checkpoint, self._init_from = self._init_from, None
            checkpoints.load_weights(self, checkpoint["state_dict"], "--init_from checkpoint")
            say("seqkit: --init_from: all weights loaded; training continues on the new data")

    def _build_layers(self) -> None:
        encoder = with_input_size(self.encoder, self.hparams.get("segment", 0) or self.shapes["input_size"])
        self.model = forecasting.build_model(self.shapes, encoder, self.baseline, len(self.quantiles), self.hparams)

    # The model's parts by name: task.encoder is task.model.encoder.
    encoder = part("encoder")
    head = part("head")

    def init_from_checkpoint(self, path: str | Path, datamodule: pl.LightningDataModule | None = None) -> None:
        """Fine-tune a trained forecaster on new data: same columns, input length and horizon.

        Raises:
            CheckpointError: not a forecast checkpoint, or the data's columns, calendar
                features, input length or horizon differ from the checkpoint's (each
                difference named).
        """
        checkpoint = checkpoints.load(path, task=self.task_name)
        if isinstance(datamodule, ForecastData):
            forecasting.check_same_data(checkpoint["seqkit"]["data"], datamodule, path)
            if self.hparams.init_scaler == "keep":
                datamodule.load_state_dict(checkpoint["seqkit"]["data"])
        self._init_from = checkpoint

    # A trained model in eval mode, from a .ckpt file or a run folder: from_checkpoint(path, map_location="cpu").
    # load_from_checkpoint is Lightning's name for the same; one implementation, checkpoints.restore.
    from_checkpoint = classmethod(checkpoints.restore)
    load_from_checkpoint = classmethod(checkpoints.lightning_loader)

    def _adopt(self, section: dict) -> None:
        self.shapes, self.data_state = dict(section["shapes"]), section["data"]
        self.loss, self.baseline = checkpoints.build_part(section["loss"], LOSSES), checkpoints.build_part(section["baseline"], BASELINES)
        self.quantiles = list(self.loss.levels) if isinstance(self.loss, PinballLoss) else [0.5]
        self.conformal = section.get("conformal")

    def on_fit_start(self) -> None:  # the data's fitted state (columns, scaler) goes into the checkpoint
        if isinstance(data := attached_datamodule(self), ForecastData) and data.mean is not None:
            self.data_state = data.state_dict()

    on_test_start = on_fit_start

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = checkpoints.section(self, shapes=dict(self.shapes), data=self.data_state,
                                                   loss=checkpoints.part_spec(self.loss),
                                                   baseline=checkpoints.part_spec(self.baseline),
                                                   conformal=self.conformal)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        section = checkpoints.section_of(self, checkpoint)
        if self.shapes != section["shapes"]:
            raise CheckpointError(f"the checkpoint's sizes {section['shapes']} differ from this data's {self.shapes}; "
                                  "use the data settings that trained it")
        self.data_state = section["data"]
        self.conformal = section.get("conformal")

    # ------------------------------------------------------------------ the model

    def forward(self, past: Tensor, future: Tensor) -> Tensor:
        """`past (B, L, F_in)`, `future (B, H, F_known)` scaled -> forecasts `(B, H, n_targets, Q)` scaled."""
        return self.model(past, future)

    def point(self, forecast: Tensor) -> Tensor:
        """The point forecast `(B, H, n_targets)` of `forward`'s output: the median, or the only output."""
        return forecast[..., self.quantiles.index(0.5)]

    def _loss(self, forecast: Tensor, target: Tensor) -> Tensor:
        keep = ~torch.isnan(target)  # masked steps (a short validation span) are not scored
        if not keep.all():
            forecast, target = forecast[keep], target[keep]  # (N, Q), (N,)
        return self.loss(forecast, target) if isinstance(self.loss, PinballLoss) else self.loss(forecast[..., 0], target)

    def training_step(self, batch: ForecastBatch, batch_idx: int) -> Tensor:
        ensemble = isinstance(self.model, ForecastEnsemble)  # then each member learns by its own loss
        forecasts = self.model.each(batch.past, batch.future) if ensemble else [self(batch.past, batch.future)]
        loss = torch.stack([self._loss(forecast, batch.target) for forecast in forecasts]).mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.series))
        return loss

    def _evaluate(self, batch: ForecastBatch, stage: str, batch_idx: int) -> None:
        forecast = self(batch.past, batch.future)
        metrics = metrics_at(self, stage, batch_idx)
        if batch_idx == 0:
            self._outputs = []
        metrics["loss"].update(self._loss(forecast, batch.target).detach(), len(batch.series))
        self.log_dict(metrics, prog_bar=stage == "val")
        self._outputs.append((self.point(forecast).detach().cpu(), batch.target.cpu(), batch.series.cpu(),
                              batch.origin.cpu()))

    def validation_step(self, batch: ForecastBatch, batch_idx: int) -> None:
        self._evaluate(batch, "val", batch_idx)

    def test_step(self, batch: ForecastBatch, batch_idx: int) -> None:
        self._evaluate(batch, "test", batch_idx)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self._outputs = []
        elif self._outputs and isinstance(data := attached_datamodule(self), ForecastData):
            forecasting.log_validation(self, data, self._outputs)

    def on_test_epoch_end(self) -> None:
        if self._outputs and isinstance(data := attached_datamodule(self), ForecastData):
            forecasting.log_test(self, data, self._outputs)

    def configure_optimizers(self):
        return configure(self, self.parameters())

    def configure_callbacks(self):
        data = attached_datamodule(self)
        if not isinstance(data, ForecastData) or data.validates:
            return best_and_last_checkpoints(self, self.hparams.monitor, "min", ".4f")
        return forecasting.without_best(self)  # a refit on the whole history

    # ------------------------------------------------------------------ using the model

    def forecast(self, frame: pd.DataFrame, horizon: int | None = None, level=()) -> pd.DataFrame:
        """Forecast what follows each series of `frame` (`seqkit.forecasting.forecast`: columns, quantiles, intervals)."""
        return forecasting.forecast(self, frame, horizon, level)

    def backtest(self, data: ForecastData) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """`(per_origin, table, notes)` from every origin of `data`'s test span (`seqkit.forecasting.backtest`)."""
        return forecasting.backtest(self, data)

    @torch.no_grad()
    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: the forecast after each series of the DataModule's `predict_path` (else its table)."""
        path = getattr(datamodule, "predict_path", None)
        return self.forecast(read_csv(path) if path is not None else datamodule._table())

