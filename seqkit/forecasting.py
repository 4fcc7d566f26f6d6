"""Using and scoring a trained forecaster: forecasts for a table, scores beside the baselines, backtests.

- `forecast(task, frame)`: what follows each series of a table (`ForecastTask.forecast`);
- `comparison`: the model's metrics beside the naive, seasonal-naive and linear baselines on
  the same windows (`seqkit test` prints it); `per_origin`: one row per forecast origin;
- `backtest(task, data)`: both, from every origin of a table's test span (`seqkit backtest`);
- `score_windows`, `mase_scales`, `format_table`: the pieces.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import Tensor, nn

from seqkit import forecast_metrics as fm
from seqkit.data.forecast import ForecastData
from seqkit.console import say
from seqkit.errors import CheckpointError, DataError, SeqkitError
from seqkit.models.forecaster import ForecastEnsemble, RecurrentForecaster, SeasonalDrift

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
    history = fm.fill_padding(windows.past[..., : data.n_targets])  # padding (pad_input) as a flat start
    horizon = data.horizon
    training = data.windows["train"].batch()
    linear = fm.LinearBaseline(data.input_length, horizon).fit(fm.fill_padding(training.past[..., : data.n_targets]),
                                                              training.target)
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
def forecast(task, frame: pd.DataFrame, horizon: int | None = None, level: Sequence[int] = ()) -> pd.DataFrame:
    """Forecast what follows each series of `frame` with a trained `ForecastTask` (its `forecast` method).

    Args:
        frame: a table with the columns the model was trained on: the time column, the
            targets (the history), covariates, the id column if any; with known
            covariates, also the `horizon` rows after the history with those filled.
        horizon: how many steps to return, at most the trained horizon (the model
            forecasts them all at once); None: all of them.
        level: conformal prediction intervals to add, in percent (any of 50, 80, 90,
            95, 99): the point forecast plus and minus the radius that the validation
            windows' errors give for that step (`conformal_radii`), on the model's scale.

    Returns:
        One row per series and step: the id column (if any), the time column, and per
        target its point forecast, plus `<target>_q<percent>` columns for each quantile
        of a quantile model (e.g. `passengers_q10`, `passengers_q90`), and
        `<target>_lo<level>`, `<target>_hi<level>` for each conformal level.
    """
    level = [int(value) for value in level]
    kept = task.conformal["levels"] if task.conformal else []
    unknown = [value for value in level if value not in kept]
    if unknown:
        raise SeqkitError(f"no conformal interval at level {unknown[0]}: this checkpoint keeps {kept or 'none'}"
                          + ("" if kept else " (it has no validation errors: trained without a validation span, or saved "
                                               "before its first validation ended)"))
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
    point = task.point(output)  # (S, H, n) scaled
    result = data.forecast_frame(inputs, point)
    for j, quantile in enumerate(task.quantiles if len(task.quantiles) > 1 else []):
        band = data.forecast_frame(inputs, output[..., j])
        for column in data.target_columns:
            result[f"{column}_q{round(quantile * 100):d}"] = band[column]
    for value in level:
        radius = torch.tensor(task.conformal["radius"][kept.index(value)], dtype=point.dtype)  # (H, n)
        low, high = data.forecast_frame(inputs, point - radius), data.forecast_frame(inputs, point + radius)
        for column in data.target_columns:
            result[f"{column}_lo{value}"], result[f"{column}_hi{value}"] = low[column], high[column]
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


# ----------------------------------------------------------------------------- during training and testing
# `ForecastTask` keeps each evaluation window's point forecast, target, series and origin, and
# hands them here when the epoch ends.

MATCHED = ("time_column", "id_column", "target_columns", "observed_columns", "known_columns", "calendar",
           "input_length", "horizon")


def build_model(shapes: dict[str, int], encoder, baseline, n_quantiles: int, hparams) -> nn.Module:
    """`ForecastTask`'s model for the data's sizes: one `RecurrentForecaster`, or a `ForecastEnsemble` of them.

    Each member of an ensemble (`hparams.ensemble`, its input lengths) gets its own encoder
    of the same kind and size, so its own first weights.
    """
    segment, lengths = hparams.get("segment", 0), hparams.get("ensemble")
    members = []
    for k, length in enumerate(lengths or [shapes["input_length"]]):
        check_layout({**shapes, "input_length": length}, segment, baseline, shapes["input_length"])
        own = encoder if k == 0 else type(encoder)(**encoder.init_args())
        members.append(RecurrentForecaster(own, shapes["horizon"], shapes["n_targets"], shapes["future_size"],
                                           n_quantiles, hparams.revin, baseline, hparams.dropout,
                                           length if hparams.get("linear_skip") else 0, segment))
    return ForecastEnsemble(members, lengths) if lengths else members[0]


def without_best(task) -> list:
    """A refit's checkpoints: last.ckpt alone; Lightning's own callback is replaced by one that keeps no copy."""
    checkpointing = any(isinstance(c, ModelCheckpoint) for c in task.trainer.callbacks)
    return [ModelCheckpoint(save_top_k=0)] if checkpointing else []


def check_arguments(init_scaler: str, season: int, segment: int, ensemble=None) -> None:
    """Refuse `ForecastTask` arguments out of range, naming each."""
    if ensemble is not None and (not isinstance(ensemble, (list, tuple)) or len(ensemble) < 2
                                 or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ensemble)):
        raise SeqkitError(f"ensemble must be a list of two or more input lengths (whole numbers of steps, e.g. "
                          f"[12, 24, 36]), or null for one forecaster; got {ensemble!r}")
    if init_scaler not in ("refit", "keep"):
        raise SeqkitError(f"init_scaler must be 'refit' or 'keep', got {init_scaler!r}")
    if season < 1:
        raise SeqkitError(f"season must be at least 1, got {season}")
    if isinstance(segment, bool) or not isinstance(segment, int) or segment < 0:
        raise SeqkitError(f"segment must be a whole number of steps, 0 for none; got {segment!r}")


def check_layout(shapes: dict[str, int], segment: int, baseline, window: int | None = None) -> None:
    """Refuse a segment or a baseline's season that does not fit the data's sizes (`ForecastTask.shapes`).

    `window`: the data's input length, when `shapes["input_length"]` is an ensemble member's.
    """
    if window is not None and shapes["input_length"] > window:
        raise SeqkitError(f"the ensemble's input length {shapes['input_length']} is longer than the data's window "
                          f"of {window} steps; lengthen --data.input_length or shorten the member")
    if segment:
        if shapes["input_length"] % segment:
            raise SeqkitError(f"segment={segment} must divide the input window of {shapes['input_length']} "
                              f"steps; set --data.input_length to a multiple of it")
        if shapes["input_size"] != shapes["n_targets"] or shapes["future_size"]:
            raise SeqkitError(f"segment={segment} reads each target alone and takes no covariates; this data "
                              f"has {shapes['input_size'] - shapes['n_targets']} observed and "
                              f"{shapes['future_size']} known ones: drop them from --data, or set segment 0")
    season = getattr(baseline, "season", 1)
    if season > shapes["input_length"] or (isinstance(baseline, SeasonalDrift) and season >= shapes["input_length"]):
        raise SeqkitError(f"the baseline's season {season} does not fit in the input window of "
                          f"{shapes['input_length']} steps; lengthen --data.input_length or shorten the season")


def check_same_data(state: dict, data: ForecastData, path: object) -> None:
    """Refuse to fine-tune a checkpoint on data of other columns or sizes, naming every difference.

    Raises:
        CheckpointError: the data's columns, calendar features, input length or horizon
            differ from those the checkpoint was trained with (`state`, its data section).
    """
    differ = [f"{key} {state[key]!r} (the data has {getattr(data, key)!r})" for key in MATCHED
              if state[key] != getattr(data, key)]
    if differ:
        raise CheckpointError(f"--init_from {path} was trained with {'; '.join(differ)}; give the data the "
                              "checkpoint's columns and sizes (rename columns, set --data.input_length, "
                              "--data.horizon, --data.columns.calendar)")


def collected(task, outputs: list[tuple[Tensor, ...]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The point forecasts, targets, series and origins of the windows scored, from every process.

    On many processes each holds the windows it scored; they are gathered, sorted back into
    the split's order (by series, then origin, the order of `data.windows[split]` that
    `comparison` expects), and a window seen twice (a sampler that pads its shares by
    repeating windows) is kept once. `outputs` is emptied.
    """
    from seqkit.training.distributed import gather_rows

    pred, target, series, origin = (torch.cat(parts) for parts in zip(*outputs))
    outputs.clear()
    if task.trainer.world_size == 1:
        return pred, target, series, origin
    pred, target, series, origin = gather_rows(task, pred, target, series, origin)
    key = series * (int(origin.max()) + 1) + origin  # (N,) one number per window, increasing in the split's order
    order = torch.argsort(key, stable=True)
    first = torch.ones(len(order), dtype=torch.bool)
    first[1:] = key[order][1:] != key[order][:-1]  # drop repeats of a window
    return tuple(t[order][first] for t in (pred, target, series, origin))


# The interval levels (percent) whose split-conformal radii a checkpoint keeps.
CONFORMAL_LEVELS = (50, 80, 90, 95, 99)


def conformal_radii(pred: Tensor, target: Tensor, levels=CONFORMAL_LEVELS) -> dict:
    """Split-conformal radii from held-out windows: per level, horizon step and target, a bound on |error|.

    For n scored windows the radius at level a is the ceil((n + 1) a)-th smallest absolute
    error of the step (infinite when that exceeds n), on the model's scale: then
    `point +- radius` covers a new window's step with probability at least a, when the
    new window is exchangeable with the held-out ones. Per-series scaling makes the errors
    of series of different sizes comparable; NaN targets (not scored) are left out.

    Returns:
        `{"levels": [...], "radius": (levels, H, n_targets) nested lists, "windows": n}`.
    """
    error = (target.double() - pred.double()).abs()  # (N, H, n)
    scored = (~torch.isnan(error)).sum(dim=0)  # (H, n)
    ordered = error.sort(dim=0).values  # NaN sorts last
    radii = []
    for level in levels:
        rank = torch.ceil((scored + 1) * level / 100).long()  # (H, n), 1-based
        value = ordered.gather(0, (rank.clamp(1, len(error)) - 1).unsqueeze(0)).squeeze(0)
        radii.append(torch.where(rank <= scored, value, torch.full_like(value, math.inf)))
    return {"levels": list(levels), "radius": torch.stack(radii).tolist(), "windows": int(scored.min())}


def coverage(conformal: dict, pred: Tensor, target: Tensor) -> dict[int, float]:
    """The share of scored steps inside `point +- radius`, per level of `conformal` (`conformal_radii`)."""
    error = (target.double() - pred.double()).abs()
    scored = ~torch.isnan(error)
    radius = torch.tensor(conformal["radius"], dtype=torch.float64)  # (levels, H, n)
    return {level: float((error <= radius[i])[scored].double().mean()) for i, level in enumerate(conformal["levels"])}


def log_validation(task, data: ForecastData, outputs: list) -> None:
    """Log `val/mae`, `val/mape`, ... on the original scale, over every window of the validation span.

    The validation errors also give the task its conformal intervals (`task.conformal`,
    kept in each checkpoint, so that the best one holds its own epoch's).
    """
    pred, target, series, _ = collected(task, outputs)
    task.conformal = conformal_radii(pred, target)
    metrics, _ = score(data, pred, target, series, task.hparams.season)
    for name, value in metrics.items():
        if not math.isnan(value):
            # The same number on every process (all windows were gathered): sync_dist averages equal values.
            task.log(f"val/{name}", value, prog_bar=name == "mape", sync_dist=True)


def log_test(task, data: ForecastData, outputs: list) -> None:
    """Log the test metrics, print the table beside the baselines, write `test_metrics.csv` and `backtest.csv`."""
    pred, target, series, origin = collected(task, outputs)
    table, notes = comparison(data, pred, target, series, task.hparams.season)
    for name, value in table.loc["seqkit"].items():
        if not math.isnan(value):
            task.log(f"test/{name}", float(value), sync_dist=True)
    covered = coverage(task.conformal, pred, target) if task.conformal else {}
    for level, share in covered.items():
        task.log(f"test/coverage{level}", share, sync_dist=True)
    # trainer.log_dir is a broadcast from process 0: every process must ask, or process 0 waits forever.
    folder = Path(task.trainer.log_dir or task.trainer.default_root_dir)
    if task.trainer.global_rank != 0:
        return
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "test_metrics.csv", index_label="forecaster")
    backtest = per_origin(data, pred, target, series, origin, task.hparams.season)
    backtest.to_csv(folder / "backtest.csv", index=False)
    say("\n" + format_table(table, notes))
    if covered:
        say(f"seqkit: conformal intervals (from {task.conformal['windows']} validation windows) cover "
            + ", ".join(f"{share:.1%} of the test steps at {level}%" for level, share in covered.items()
                        if level in (80, 95)))
    say(f"seqkit: {len(backtest)} forecast origins over the test span scored one by one in "
        f"{folder / 'backtest.csv'}; the table in {folder / 'test_metrics.csv'}")
