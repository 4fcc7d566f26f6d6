"""Time-series forecasting: the whole horizon at once (direct multi-step) from a recurrent encoder.

    past (B, L, F_in) scaled targets and covariates
        -> [per-window normalisation of the target channels (RevIN): subtract the window's
            mean, divide by its spread; undone on the output]
        -> encoder RNN/LSTM over the L steps -> the last step's output (B, D*H_enc)
        -> concatenated with the known covariates over the horizon, future (B, H, F_known)
        -> dropout -> one linear layer -> (B, H, n_targets, Q)
        -> [+ a baseline forecast from the same window (naive, seasonal naive, seasonal
            naive with drift): the network learns the correction]

Q is 1 for the MSE and MAE losses and the number of quantiles for the quantile
(pinball) loss; the point forecast is then the median. The model works on the data's
scaled values; metrics are computed after `ForecastData.inverse_transform`, on the
original scale, and beside them the baselines seqkit computes on the same windows.

On many processes (DDP) each one forecasts its share of the evaluation windows; the
forecasts are gathered to every process and put back in the split's order before they are
scored, so the metrics are those of one process over all windows, and only the first
process writes `test_metrics.csv` and `backtest.csv`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from seqkit import checkpoints
from seqkit import forecast_metrics as fm
from seqkit.data.forecast import ForecastBatch, ForecastData
from seqkit.distributed import gather_rows
from seqkit.errors import CheckpointError, DataError, SeqkitError
from seqkit.models.forecaster import Naive, RecurrentForecaster, SeasonalDrift, SeasonalNaive
from seqkit.modules import Recurrent
from seqkit.tasks.common import attached_datamodule, best_and_last_checkpoints, check_numbers, configure, say, with_input_size

LOSSES = ("mse", "mae", "quantile")
BASELINES = ("none", "naive", "seasonal", "seasonal_drift")
METRICS = ("mae", "rmse", "mape", "smape", "mase", "scaled_mse", "scaled_mae")
SHAPES = ("input_size", "future_size", "n_targets", "input_length", "horizon")
MATCHED = ("time_column", "id_column", "target_columns", "observed_columns", "known_columns", "calendar",
           "input_length", "horizon")


def pinball_loss(forecast: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball loss: `forecast (..., Q)` quantile forecasts, `target (...)`, `quantiles (Q,)`.

    For quantile q and error e = y - yhat the loss is `q * e` when e >= 0 and `(q - 1) * e`
    otherwise: under-forecasting the 90th percentile costs 9 times what over-forecasting does.
    """
    error = target.unsqueeze(-1) - forecast
    return torch.maximum(quantiles * error, (quantiles - 1) * error).mean()


def mase_scales(training: Sequence[np.ndarray], season: int) -> np.ndarray:
    """`(S, C)`: each series' in-sample seasonal-naive MAE per target, MASE's denominator."""
    return np.stack([fm.seasonal_naive_scale(train, season) for train in training])


def score_windows(true: np.ndarray, pred: np.ndarray, series: np.ndarray, scales: np.ndarray,
                  scaled_true: np.ndarray, scaled_pred: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Every metric over windows, leaving out masked steps (NaN targets).

    Args:
        true, pred: `(N, H, C)` on the original scale; NaN in `true` where a step is not scored.
        series: `(N,)` each window's series, a row of `scales`.
        scales: `(S, C)` MASE's denominators (`mase_scales`).
        scaled_true, scaled_pred: the same on the model's scale (`scaled_mse`, `scaled_mae`:
            the numbers papers report for z-scored benchmarks such as ETTh1).
    """
    keep = ~np.isnan(true)
    if not keep.any():
        raise DataError("no target values to score (every step is masked)")
    per_point = np.broadcast_to(scales[series][:, None, :], true.shape)
    t, p = true[keep], pred[keep]
    percentage = fm.mape(t, p)
    scaled_error = scaled_true[keep] - scaled_pred[keep]
    metrics = {"mae": fm.mae(t, p), "rmse": fm.rmse(t, p), "mape": percentage.value, "smape": fm.smape(t, p),
               "mase": float((np.abs(t - p) / per_point[keep]).mean()),
               "scaled_mse": float((scaled_error ** 2).mean()), "scaled_mae": float(np.abs(scaled_error).mean())}
    return metrics, [percentage.note] if percentage.note else []


class ForecastTask(pl.LightningModule):
    """A recurrent forecaster that emits the whole horizon at once.

    The sizes come from the data: the encoder's `input_size` is set to the data's number
    of input features (targets, covariates, calendar features) when the model is built,
    and the head emits `horizon * n_targets * Q` values.

    Args:
        encoder: the recurrent module, e.g. `seqkit.modules.LSTM(input_size=1, hidden_size=64)`;
            chosen in a recipe by `class_path`. Its `input_size` is replaced by the data's.
        loss: `"mse"`, `"mae"` or `"quantile"` (pinball loss over `quantiles`).
        quantiles: the quantiles of the quantile loss; they must include 0.5 (the point forecast).
        revin: per-window normalisation of the target channels (the RevIN idea, Kim et al.
            2022, without its learned affine): each input window is centred on its mean and
            divided by its spread, and the forecast scaled back. Essential when the level
            drifts between training and test (ETTh1).
        baseline: the network forecasts the correction over this forecast of the same
            window: `"none"`, `"naive"` (last value), `"seasonal"` (seasonal naive) or
            `"seasonal_drift"` (seasonal naive plus the window's growth per season). The
            head starts at zero, so training starts from the baseline.
        season: the season length in steps, for the seasonal baselines and MASE (12 for
            monthly data with a yearly cycle, 24 for hourly with a daily one; 1: none).
        dropout: dropout on the features entering the head.
        optimizer: the optimizer class and its arguments, as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.003}}`; in Python,
            `functools.partial(torch.optim.AdamW, lr=0.003)`); default AdamW with its defaults.
        lr_scheduler: likewise, or None: stepped once per epoch (`seqkit.tasks.StepDecay`
            multiplies the rate by a factor once per epoch after some epochs, as Zaremba et al.).
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
        loss: str = "mse",
        quantiles: list[float] | None = None,
        revin: bool = False,
        baseline: str = "none",
        season: int = 1,
        dropout: float = 0.0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        monitor: str = "val/loss",
        init_scaler: str = "refit",
    ) -> None:
        super().__init__()
        if not isinstance(encoder, Recurrent):
            raise SeqkitError(f"encoder must be a seqkit recurrent module (seqkit.modules.RNN, LSTM, GRU), "
                              f"got {type(encoder).__name__}")
        if loss not in LOSSES:
            raise SeqkitError(f"loss must be one of {LOSSES}, got {loss!r}")
        if baseline not in BASELINES:
            raise SeqkitError(f"baseline must be one of {BASELINES}, got {baseline!r}")
        if init_scaler not in ("refit", "keep"):
            raise SeqkitError(f"init_scaler must be 'refit' or 'keep', got {init_scaler!r}")
        if season < 1:
            raise SeqkitError(f"season must be at least 1, got {season}")
        if loss == "quantile":
            quantiles = sorted(quantiles if quantiles is not None else [0.1, 0.5, 0.9])
            if any(not 0 < q < 1 for q in quantiles) or 0.5 not in quantiles or len(set(quantiles)) != len(quantiles):
                raise SeqkitError(f"quantiles must be distinct, between 0 and 1, and include 0.5 (the point "
                                  f"forecast); got {quantiles}")
        elif quantiles is not None:
            raise SeqkitError("quantiles belong to loss: quantile; set --model.init_args.loss quantile or drop them")
        check_numbers(dropout=dropout)
        self.save_hyperparameters(ignore=["encoder", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self._pending = [encoder]  # in a list, so that it is no submodule of the task until the model holds it
        self.model: RecurrentForecaster | None = None  # sized by the data, built in configure_model
        self.quantiles = list(quantiles) if loss == "quantile" else [0.5]
        self.register_buffer("quantile_levels", torch.tensor(self.quantiles), persistent=False)
        self.shapes: dict[str, int] | None = None
        self.data_state: dict | None = None  # the fitted ForecastData state: columns, frequency, scaler
        self._init_from: dict | None = None
        self._outputs: list[tuple[Tensor, ...]] = []
        # The mean loss over the windows of a split (sums and counts, added up across processes).
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        if self.model is not None:
            return
        datamodule = attached_datamodule(self)
        if self.shapes is None:
            if not isinstance(datamodule, ForecastData):
                raise SeqkitError("ForecastTask needs its data to size itself: train it with a ForecastData "
                                  "DataModule or load a checkpoint")
            self.shapes = {name: int(getattr(datamodule, name)) for name in SHAPES}
        self._build_layers()
        if self._init_from is not None:
            checkpoint, self._init_from = self._init_from, None
            checkpoints.load_weights(self, checkpoint["state_dict"], "--init_from checkpoint")
            say("seqkit: --init_from: all weights loaded; training continues on the new data")

    def _build_layers(self) -> None:
        shapes = self.shapes
        encoder = with_input_size(self.encoder, shapes["input_size"])  # every input feature
        if self.hparams.season > shapes["input_length"] or (self.hparams.baseline == "seasonal_drift"
                                                            and self.hparams.season >= shapes["input_length"]):
            raise SeqkitError(f"season {self.hparams.season} does not fit in the input window of "
                              f"{shapes['input_length']} steps; lengthen --data.input_length or shorten the season")
        hp = self.hparams
        baseline = {"none": None, "naive": Naive(), "seasonal": SeasonalNaive(hp.season),
                    "seasonal_drift": SeasonalDrift(hp.season)}[hp.baseline]
        self.model = RecurrentForecaster(encoder, shapes["horizon"], shapes["n_targets"], shapes["future_size"],
                                         len(self.quantiles), hp.revin, baseline, hp.dropout)

    @property
    def encoder(self) -> Recurrent:
        return self.model.encoder if self.model is not None else self._pending[0]

    @property
    def head(self) -> nn.Linear | None:
        return self.model.head if self.model is not None else None

    def init_from_checkpoint(self, path: str | Path, datamodule: pl.LightningDataModule | None = None) -> None:
        """Fine-tune a trained forecaster on new data: same columns, input length and horizon.

        Raises:
            CheckpointError: not a forecast checkpoint, or the data's columns, calendar
                features, input length or horizon differ from the checkpoint's (each
                difference named).
        """
        checkpoint = checkpoints.load(path, task=self.task_name)
        section = checkpoint["seqkit"]
        state = section["data"]
        if isinstance(datamodule, ForecastData):
            differ = [f"{key} {state[key]!r} (the data has {getattr(datamodule, key)!r})" for key in MATCHED
                      if state[key] != getattr(datamodule, key)]
            if differ:
                raise CheckpointError(f"--init_from {path} was trained with {'; '.join(differ)}; give the data the "
                                      "checkpoint's columns and sizes (rename columns, set --data.input_length, "
                                      "--data.horizon, --data.calendar)")
            if self.hparams.init_scaler == "keep":
                datamodule.load_state_dict(state)
        self._init_from = checkpoint

    # A trained model in eval mode, from a .ckpt file or a run folder: from_checkpoint(path, map_location="cpu").
    # load_from_checkpoint is Lightning's name for the same; one implementation, checkpoints.restore.
    from_checkpoint = classmethod(checkpoints.restore)
    load_from_checkpoint = classmethod(checkpoints.lightning_loader)

    @classmethod
    def _assemble(cls, checkpoint: dict) -> "ForecastTask":
        """The untrained model a checkpoint describes (its layers built, before its weights are loaded)."""
        section = checkpoint["seqkit"]
        task = cls(checkpoints.build_encoder(section["encoder"]), **checkpoints.saved_arguments(cls, checkpoint))
        task.shapes = dict(section["shapes"])
        task.data_state = section["data"]
        task._build_layers()
        return task

    def on_fit_start(self) -> None:
        self._remember_data()

    def on_test_start(self) -> None:
        self._remember_data()

    def _remember_data(self) -> None:
        datamodule = attached_datamodule(self)
        if isinstance(datamodule, ForecastData) and datamodule.mean is not None:
            self.data_state = datamodule.state_dict()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = {"format": checkpoints.FORMAT, "task": self.task_name,
                                "encoder": checkpoints.encoder_spec(self.encoder), "shapes": dict(self.shapes),
                                "data": self.data_state}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        section = checkpoint.get("seqkit") or {}
        if section.get("task") != self.task_name:
            raise CheckpointError(f"a checkpoint of the {section.get('task')!r} task cannot load into {self.task_name!r}")
        if self.shapes != section["shapes"]:
            raise CheckpointError(f"the checkpoint's sizes {section['shapes']} differ from this data's {self.shapes}; "
                                  "use the data settings that trained it")
        self.data_state = section["data"]

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
        if self.hparams.loss == "quantile":
            return pinball_loss(forecast, target, self.quantile_levels)
        point = forecast[..., 0]
        return nn.functional.mse_loss(point, target) if self.hparams.loss == "mse" else nn.functional.l1_loss(point, target)

    def training_step(self, batch: ForecastBatch, batch_idx: int) -> Tensor:
        loss = self._loss(self(batch.past, batch.future), batch.target)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.series))
        return loss

    def _evaluate(self, batch: ForecastBatch, stage: str) -> None:
        forecast = self(batch.past, batch.future)
        mean_loss = getattr(self, f"{stage}_loss")
        mean_loss.update(self._loss(forecast, batch.target).detach(), len(batch.series))
        self.log(f"{stage}/loss", mean_loss, prog_bar=stage == "val")
        self._outputs.append((self.point(forecast).detach().cpu(), batch.target.cpu(), batch.series.cpu(),
                              batch.origin.cpu()))

    def validation_step(self, batch: ForecastBatch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: ForecastBatch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    on_test_epoch_start = on_validation_epoch_start

    def _collected(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The point forecasts, targets, series and origins of the windows scored, from every process.

        On many processes each holds the windows it scored; they are gathered, sorted back
        into the split's order (by series, then origin, the order of `data.windows[split]`
        that `comparison` expects), and a window seen twice (a sampler that pads its shares
        by repeating windows) is kept once.
        """
        pred, target, series, origin = (torch.cat(parts) for parts in zip(*self._outputs))
        self._outputs = []
        if self.trainer.world_size == 1:
            return pred, target, series, origin
        pred, target, series, origin = gather_rows(self, pred, target, series, origin)
        key = series * (int(origin.max()) + 1) + origin  # (N,) one number per window, increasing in the split's order
        order = torch.argsort(key, stable=True)
        first = torch.ones(len(order), dtype=torch.bool)
        first[1:] = key[order][1:] != key[order][:-1]  # drop repeats of a window
        return tuple(t[order][first] for t in (pred, target, series, origin))

    def on_validation_epoch_end(self) -> None:
        datamodule = attached_datamodule(self)
        if not self._outputs or not isinstance(datamodule, ForecastData):
            return
        if self.trainer.sanity_checking:
            self._outputs = []
            return
        pred, target, series, _ = self._collected()
        metrics, _ = self._score(datamodule, pred, target, series)
        for name, value in metrics.items():
            if not math.isnan(value):
                # The same number on every process (all windows were gathered): sync_dist averages equal values.
                self.log(f"val/{name}", value, prog_bar=name == "mape", sync_dist=True)

    def _score(self, data: ForecastData, pred: Tensor, target: Tensor, series: Tensor,
               scales: np.ndarray | None = None) -> tuple[dict, list[str]]:
        true = np.asarray(data.inverse_transform(target.double().numpy(), series))
        forecast = np.asarray(data.inverse_transform(pred.double().numpy(), series))
        if scales is None:
            scales = mase_scales(data.training_targets(), self.hparams.season)
        return score_windows(true, forecast, series.numpy(), scales,
                             target.double().numpy(), pred.double().numpy())

    def on_test_epoch_end(self) -> None:
        datamodule = attached_datamodule(self)
        if not self._outputs or not isinstance(datamodule, ForecastData):
            return
        pred, target, series, origin = self._collected()
        table, notes = self.comparison(datamodule, pred, target, series)
        for name, value in table.loc["seqkit"].items():
            if not math.isnan(value):
                self.log(f"test/{name}", float(value), sync_dist=True)
        # trainer.log_dir is a broadcast from process 0: every process must ask, or process 0 waits forever.
        folder = Path(self.trainer.log_dir or self.trainer.default_root_dir)
        if self.trainer.global_rank != 0:
            return
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / "test_metrics.csv", index_label="forecaster")
        backtest = self.per_origin(datamodule, pred, target, series, origin)
        backtest.to_csv(folder / "backtest.csv", index=False)
        say("\n" + format_table(table, notes))
        say(f"seqkit: {len(backtest)} forecast origins over the test span scored one by one in "
            f"{folder / 'backtest.csv'}; the table in {folder / 'test_metrics.csv'}")

    # ------------------------------------------------------------------ evaluation beside the baselines

    def comparison(self, data: ForecastData, pred: Tensor, target: Tensor, series: Tensor,
                   split: str = "test") -> tuple[pd.DataFrame, list[str]]:
        """The model's metrics beside the naive, seasonal-naive and linear baselines on the same windows.

        `pred`, `target`, `series` are the model's scaled point forecasts, targets and series
        over all windows of `split`, in the order of `data.windows[split]`.
        """
        windows = data.windows[split].batch()
        history = windows.past[..., : data.n_targets]
        horizon, season = data.horizon, self.hparams.season
        training = data.windows["train"].batch()
        linear = fm.LinearBaseline(data.input_length, horizon).fit(training.past[..., : data.n_targets], training.target)
        forecasts = {"seqkit": pred, "naive": fm.naive_forecast(history, horizon)}
        if season > 1:
            forecasts[f"seasonal naive (m={season})"] = fm.seasonal_naive_forecast(history, horizon, season)
            if season < data.input_length:
                forecasts["seasonal naive + drift"] = fm.seasonal_drift_forecast(history, horizon, season)
        forecasts["linear"] = linear.predict(history)
        scales = mase_scales(data.training_targets(), season)  # once for every forecaster
        rows, notes = {}, []
        for name, forecast in forecasts.items():
            rows[name], found = self._score(data, forecast.float(), target, series, scales)
            notes = notes or found
        return pd.DataFrame.from_dict(rows, orient="index")[list(METRICS)], notes

    def per_origin(self, data: ForecastData, pred: Tensor, target: Tensor, series: Tensor,
                   origin: Tensor) -> pd.DataFrame:
        """One row per forecast origin (a rolling-origin backtest): its series, first forecast time and metrics."""
        true = np.asarray(data.inverse_transform(target.double().numpy(), series))
        forecast = np.asarray(data.inverse_transform(pred.double().numpy(), series))
        scales = mase_scales(data.training_targets(), self.hparams.season)
        index = series.numpy()
        rows = []
        for i in range(len(true)):
            window = slice(i, i + 1)
            metrics, _ = score_windows(true[window], forecast[window], index[window], scales,
                                       target[window].double().numpy(), pred[window].double().numpy())
            start = data.window_timestamps(int(index[i]), int(origin[i]))[0]
            rows.append({"series": data.series_ids[int(index[i])], "origin": start, **metrics})
        return pd.DataFrame(rows)

    def configure_optimizers(self):
        return configure(self, self.parameters())

    def configure_callbacks(self):
        return best_and_last_checkpoints(self, self.hparams.monitor, "min", ".4f")

    # ------------------------------------------------------------------ using the model

    @torch.no_grad()
    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: the forecast after each series of the DataModule's `predict_path` (else its table)."""
        from seqkit.data.forecast import read_csv

        path = getattr(datamodule, "predict_path", None)
        return self.forecast(read_csv(path) if path is not None else datamodule._table())

    def forecast(self, frame: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        """Forecast what follows each series of `frame`.

        Args:
            frame: a table with the columns the model was trained on: the time column, the
                targets (the history), covariates, the id column if any; with known
                covariates, also the `horizon` rows after the history with those filled.
            horizon: how many steps to return, at most the trained horizon (the model
                forecasts them all at once); None: all of them.

        Returns:
            One row per series and step: the id column (if any), the time column, and per
            target its point forecast, plus `<target>_q<percent>` columns for each quantile
            of a quantile model (e.g. `passengers_q10`, `passengers_q90`).
        """
        if self.data_state is None:
            raise SeqkitError("this model has no fitted data state; load it with ForecastTask.from_checkpoint")
        trained = self.shapes["horizon"]
        horizon = trained if horizon is None else horizon
        if not 1 <= horizon <= trained:
            raise SeqkitError(f"horizon must be between 1 and {trained}, the horizon the model was trained for "
                              f"(it forecasts all steps at once); got {horizon}")
        self.eval()
        data = ForecastData.from_state_dict(self.data_state)
        inputs = data.forecast_inputs(frame)
        batch = inputs.batch
        output = self(batch.past.to(self.device), batch.future.to(self.device)).cpu()
        output = output.sort(dim=-1).values  # quantiles never cross
        result = data.forecast_frame(inputs, self.point(output))
        for j, level in enumerate(self.quantiles if len(self.quantiles) > 1 else []):
            band = data.forecast_frame(inputs, output[..., j])
            for column in data.target_columns:
                result[f"{column}_q{round(level * 100):d}"] = band[column]
        steps = np.tile(np.arange(trained), len(inputs.series_ids))
        return result[steps < horizon].reset_index(drop=True)

    @torch.no_grad()
    def backtest(self, data: ForecastData) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """Score a forecast from every origin of `data`'s test span (a rolling-origin backtest).

        `data` is set up (its scaler is this model's when `load_state_dict(model.data_state)`
        was called, or fitted on its own training span).

        Returns:
            `(per_origin, table, notes)`: one row per origin with its metrics; the mean per
            metric of the model beside the baselines; notes on what MAPE left out.
        """
        if "test" not in data.windows:
            raise DataError(f"{data.source} has no test span: set its test size or start")
        self.eval()
        pred, target, series, origin = [], [], [], []
        loader = torch.utils.data.DataLoader(data.windows["test"], batch_size=data.eval_batch_size)
        for batch in loader:
            output = self(batch.past.to(self.device), batch.future.to(self.device))
            pred.append(self.point(output).cpu())
            target.append(batch.target)
            series.append(batch.series)
            origin.append(batch.origin)
        pred, target, series, origin = (torch.cat(p) for p in (pred, target, series, origin))
        table, notes = self.comparison(data, pred, target, series)
        return self.per_origin(data, pred, target, series, origin), table, notes


def format_table(table: pd.DataFrame, notes: Sequence[str] = ()) -> str:
    """The comparison table as aligned text, one forecaster a row."""
    header = f"{'forecaster':<26}" + "".join(f"{name:>12}" for name in table.columns)
    lines = [header, "-" * len(header)]
    for name, row in table.iterrows():
        lines.append(f"{name:<26}" + "".join(f"{value:>12.4g}" for value in row))
    return "\n".join(lines + [f"note: {note}" for note in notes])
