"""Using and scoring a trained forecaster: forecasts for a table, scores beside the baselines, backtests.

- `forecast(task, frame)`: what follows each series of a table (`ForecastTask.forecast`);
- `comparison`: the model's metrics beside the naive, seasonal-naive and linear baselines on
  the same windows (`seqkit test` prints it); `per_origin`: one row per forecast origin;
- `backtest(task, data)`: both, from every origin of a table's test span (`seqkit backtest`);
- `score_windows`, `mase_scales`, `format_table`: the pieces.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from seqkit import forecast_metrics as fm
from seqkit.data.forecast import ForecastData
from seqkit.errors import DataError, SeqkitError

METRICS = ("mae", "rmse", "mape", "smape", "mase", "scaled_mse", "scaled_mae")


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


def score(data: ForecastData, pred: Tensor, target: Tensor, series: Tensor, season: int,
          scales: np.ndarray | None = None) -> tuple[dict, list[str]]:
    """Every metric of scaled point forecasts `pred` against `target`, on the original scale (and the scaled one)."""
    true = np.asarray(data.inverse_transform(target.double().numpy(), series))
    forecast = np.asarray(data.inverse_transform(pred.double().numpy(), series))
    if scales is None:
        scales = mase_scales(data.training_targets(), season)
    return score_windows(true, forecast, series.numpy(), scales,
                         target.double().numpy(), pred.double().numpy())


def comparison(data: ForecastData, pred: Tensor, target: Tensor, series: Tensor, season: int,
               split: str = "test") -> tuple[pd.DataFrame, list[str]]:
    """The model's metrics beside the naive, seasonal-naive and linear baselines on the same windows.

    `pred`, `target`, `series` are the model's scaled point forecasts, targets and series
    over all windows of `split`, in the order of `data.windows[split]`.
    """
    windows = data.windows[split].batch()
    history = windows.past[..., : data.n_targets]
    horizon = data.horizon
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
        rows[name], found = score(data, forecast.float(), target, series, season, scales)
        notes = notes or found
    return pd.DataFrame.from_dict(rows, orient="index")[list(METRICS)], notes

def per_origin(data: ForecastData, pred: Tensor, target: Tensor, series: Tensor, origin: Tensor,
               season: int) -> pd.DataFrame:
    """One row per forecast origin (a rolling-origin backtest): its series, first forecast time and metrics."""
    true = np.asarray(data.inverse_transform(target.double().numpy(), series))
    forecast = np.asarray(data.inverse_transform(pred.double().numpy(), series))
    scales = mase_scales(data.training_targets(), season)
    index = series.numpy()
    rows = []
    for i in range(len(true)):
        window = slice(i, i + 1)
        metrics, _ = score_windows(true[window], forecast[window], index[window], scales,
                                   target[window].double().numpy(), pred[window].double().numpy())
        start = data.window_timestamps(int(index[i]), int(origin[i]))[0]
        rows.append({"series": data.series_ids[int(index[i])], "origin": start, **metrics})
    return pd.DataFrame(rows)


@torch.no_grad()
def forecast(task, frame: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
    """Forecast what follows each series of `frame` with a trained `ForecastTask` (its `forecast` method).

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
    if task.data_state is None:
        raise SeqkitError("this model has no fitted data state; load it with ForecastTask.from_checkpoint")
    trained = task.shapes["horizon"]
    horizon = trained if horizon is None else horizon
    if not 1 <= horizon <= trained:
        raise SeqkitError(f"horizon must be between 1 and {trained}, the horizon the model was trained for "
                          f"(it forecasts all steps at once); got {horizon}")
    task.eval()
    data = ForecastData.from_state_dict(task.data_state)
    inputs = data.forecast_inputs(frame)
    batch = inputs.batch
    output = task(batch.past.to(task.device), batch.future.to(task.device)).cpu()
    output = output.sort(dim=-1).values  # quantiles never cross
    result = data.forecast_frame(inputs, task.point(output))
    for j, level in enumerate(task.quantiles if len(task.quantiles) > 1 else []):
        band = data.forecast_frame(inputs, output[..., j])
        for column in data.target_columns:
            result[f"{column}_q{round(level * 100):d}"] = band[column]
    steps = np.tile(np.arange(trained), len(inputs.series_ids))
    return result[steps < horizon].reset_index(drop=True)


@torch.no_grad()
def backtest(task, data: ForecastData) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Score a forecast from every origin of `data`'s test span (a rolling-origin backtest).

    `data` is set up (its scaler is this model's when `load_state_dict(model.data_state)`
    was called, or fitted on its own training span).

    Returns:
        `(per_origin, table, notes)`: one row per origin with its metrics; the mean per
        metric of the model beside the baselines; notes on what MAPE left out.
    """
    if "test" not in data.windows:
        raise DataError(f"{data.source} has no test span: set its test size or start")
    task.eval()
    pred, target, series, origin = [], [], [], []
    loader = torch.utils.data.DataLoader(data.windows["test"], batch_size=data.eval_batch_size)
    for batch in loader:
        output = task(batch.past.to(task.device), batch.future.to(task.device))
        pred.append(task.point(output).cpu())
        target.append(batch.target)
        series.append(batch.series)
        origin.append(batch.origin)
    pred, target, series, origin = (torch.cat(p) for p in (pred, target, series, origin))
    table, notes = comparison(data, pred, target, series, task.hparams.season)
    return per_origin(data, pred, target, series, origin, task.hparams.season), table, notes


def format_table(table: pd.DataFrame, notes: Sequence[str] = ()) -> str:
    """The comparison table as aligned text, one forecaster a row."""
    header = f"{'forecaster':<26}" + "".join(f"{name:>12}" for name in table.columns)
    lines = [header, "-" * len(header)]
    for name, row in table.iterrows():
        lines.append(f"{name:<26}" + "".join(f"{value:>12.4g}" for value in row))
    return "\n".join(lines + [f"note: {note}" for note in notes])
