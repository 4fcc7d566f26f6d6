"""Forecast metrics on the original scale, and the baselines a forecaster must beat.

Metrics take numpy arrays or torch tensors of the same shape and return a Python float:

    MAE   = mean |y - yhat|
    RMSE  = sqrt(mean (y - yhat)^2)
    MAPE  = 100 * mean |y - yhat| / |y|                over points where |y| is not near zero
    sMAPE = 100 * mean 2 |y - yhat| / (|y| + |yhat|)   (0 where both are 0), between 0 and 200
    MASE  = mean |y - yhat| / mean_t |y_t - y_(t-m)|   the denominator over the training series:
                                                       the in-sample error of the seasonal-naive
                                                       forecast with season m (m = 1: naive)

Baselines forecast `(B, H, C)` from input windows `(B, L, C)` (ForecastBatch.past's target
columns, scaled or not):

- `naive_forecast`: the last value, repeated.
- `seasonal_naive_forecast`: the value one season earlier, `yhat_(T+h) = y_(T+h-m*ceil(h/m))`.
- `seasonal_drift_forecast`: seasonal naive plus the window's mean growth per season.
- `LinearBaseline`: one linear map from the L inputs to the H outputs (plus a bias),
  shared by all channels and applied to each channel on its own (channel-independent), fitted
  by least squares on the training windows only.

Naive and seasonal-naive forecasts commute with per-series scaling (an affine map), so they
may be made on scaled windows and unscaled afterwards.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from seqkit.errors import DataError

Array = np.ndarray | Tensor


def _numpy(values: Array | Sequence[float]) -> np.ndarray:
    """float64 numpy of a tensor (any device, any grad) or an array."""
    if isinstance(values, Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


def _pair(y_true: Array, y_pred: Array) -> tuple[np.ndarray, np.ndarray]:
    true, pred = _numpy(y_true), _numpy(y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has shape {true.shape} but y_pred {pred.shape}; they must match")
    if true.size == 0:
        raise ValueError("no values to score")
    return true, pred


# ----------------------------------------------------------------------------- metrics
def mae(y_true: Array, y_pred: Array) -> float:
    """Mean absolute error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.abs(true - pred).mean())


def rmse(y_true: Array, y_pred: Array) -> float:
    """Root mean squared error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.sqrt(((true - pred) ** 2).mean()))


class Mape(NamedTuple):
    """MAPE and what it left out.

    Attributes:
        value: the MAPE in percent over the points kept; NaN when none was kept.
        skipped: points left out because the true value is near zero.
        total: all points.
        note: a sentence saying what was left out, or None when nothing was.
    """

    value: float
    skipped: int
    total: int
    note: str | None


def mape(y_true: Array, y_pred: Array, near_zero: float = 0.01) -> Mape:
    """Mean absolute percentage error, leaving out points where the true value is near zero.

    A percentage of a value near zero is huge and says nothing, so points with
    `|y| < near_zero * mean |y|` are left out and counted. The threshold is relative to
    the values given: score each target column on its own when their scales differ.

    Args:
        y_true: the true values.
        y_pred: the forecasts, same shape.
        near_zero: the threshold as a share of the mean absolute true value.

    Returns:
        `Mape(value, skipped, total, note)`.
    """
    true, pred = _pair(y_true, y_pred)
    threshold = near_zero * float(np.abs(true).mean())
    keep = np.abs(true) >= threshold
    if threshold == 0.0:
        keep = true != 0  # all true values are 0 (or near_zero is 0): only exact zeros can be left out
    skipped, total = int(keep.size - keep.sum()), int(keep.size)
    note = None
    if skipped:
        note = (f"MAPE leaves out {skipped} of {total} points whose true value is near zero "
                f"(|y| < {threshold:.4g}, {near_zero:.0%} of the mean |y|)")
    if not keep.any():
        return Mape(math.nan, skipped, total, note)
    value = float((np.abs(true - pred)[keep] / np.abs(true[keep])).mean() * 100)
    return Mape(value, skipped, total, note)


def smape(y_true: Array, y_pred: Array) -> float:
    """Symmetric MAPE in percent (0 to 200); a point where both values are 0 counts as 0."""
    true, pred = _pair(y_true, y_pred)
    denominator = np.abs(true) + np.abs(pred)
    ratio = np.divide(2 * np.abs(true - pred), denominator, out=np.zeros_like(true), where=denominator > 0)
    return float(ratio.mean() * 100)


def seasonal_naive_scale(y_train: Array, season: int = 1) -> np.ndarray:
    """The in-sample MAE of the seasonal-naive forecast: MASE's denominator.

    Args:
        y_train: `(T, ...)` a training series (time first; more dimensions are channels).
        season: m, the season length in steps (1: the naive forecast).

    Returns:
        `mean_t |y_t - y_(t-m)|` for each channel, shape `y_train.shape[1:]`.

    Raises:
        DataError: the series has no more than `season` steps, or the forecast is exact
            on it (a constant series), so the scale would be 0.
    """
    train = _numpy(y_train)
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    if len(train) <= season:
        raise DataError(f"MASE needs a training series longer than the season ({season}); it has {len(train)} steps")
    scale = np.abs(train[season:] - train[:-season]).mean(axis=0)
    if np.any(scale == 0):
        raise DataError(f"MASE is undefined: the seasonal-naive forecast (season {season}) is exact on the training "
                        "series (it is constant or repeats exactly), so its error is 0")
    return scale


def mase(y_true: Array, y_pred: Array, y_train: Array | Sequence[Array], season: int = 1,
         series: Array | Sequence[int] | None = None) -> float:
    """Mean absolute scaled error against the seasonal-naive forecast of season `season`.

    Args:
        y_true: the true values; with `series`, `(N, ...)` one row per window.
        y_pred: the forecasts, same shape.
        y_train: the training series `(T,)` or `(T, C)` (channels last, matching the
            trailing dimensions of `y_true`); with `series`, one such array per series.
        season: m, the season length in steps (1: scaled by the naive forecast's error).
        series: `(N,)` the series of each row of `y_true`, to scale each row by its own
            series' error (as `ForecastBatch.series` gives it).

    Returns:
        `mean(|y - yhat| / scale)`, scale from `seasonal_naive_scale`.
    """
    true, pred = _pair(y_true, y_pred)
    errors = np.abs(true - pred)
    if series is None:
        return float((errors / seasonal_naive_scale(y_train, season)).mean())
    index = _numpy(series).astype(np.int64)
    scales = np.stack([seasonal_naive_scale(train, season) for train in y_train])  # (S, *C)
    per_row = scales[index]  # (N, *C)
    channels = per_row.ndim - 1
    per_row = per_row.reshape((len(index),) + (1,) * (errors.ndim - 1 - channels) + per_row.shape[1:])
    return float((errors / per_row).mean())


def score(y_true: Array, y_pred: Array, y_train: Array | Sequence[Array], season: int = 1,
          series: Array | Sequence[int] | None = None, near_zero: float = 0.01) -> tuple[dict[str, float], list[str]]:
    """All five metrics at once, with MAPE's note.

    Returns:
        `({"mae", "rmse", "mape", "smape", "mase"}, notes)`; the arguments as in `mase` and `mape`.
    """
    percentage = mape(y_true, y_pred, near_zero)
    metrics = {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "mape": percentage.value,
               "smape": smape(y_true, y_pred), "mase": mase(y_true, y_pred, y_train, season, series)}
    return metrics, [percentage.note] if percentage.note else []


# ----------------------------------------------------------------------------- baselines
def _tensor(values: Array) -> tuple[Tensor, bool]:
    if isinstance(values, Tensor):
        return values, False
    return torch.from_numpy(np.asarray(values)), True


def fill_padding(past: Array) -> Array:
    """Input windows with their padding (NaN steps before a series' start) set to the first observed value.

    So that the baselines read a padded window as a flat start. `(B, L, C)` in, of the same type out.
    Branchless, so that a compiled forecaster stays one graph.
    """
    window, was_numpy = _tensor(past)
    missing = torch.isnan(window)
    first = (~missing).to(torch.uint8).argmax(dim=1, keepdim=True)  # (B, 1, C) the first observed step
    filled = torch.where(missing, window.gather(1, first).expand_as(window), window)
    return filled.numpy() if was_numpy else filled


def naive_forecast(past: Array, horizon: int) -> Array:
    """The last value of each input window, repeated over the horizon.

    Args:
        past: `(B, L, C)` input windows (the target columns).
        horizon: H.

    Returns:
        `(B, H, C)`, of the type of `past`.
    """
    window, was_numpy = _tensor(past)
    forecast = window[:, -1:, :].expand(-1, horizon, -1).clone()
    return forecast.numpy() if was_numpy else forecast


def seasonal_naive_forecast(past: Array, horizon: int, season: int) -> Array:
    """The value one season before each forecast step, taken from the input window.

    Step h (0-based) repeats input step `L - season + (h mod season)`: the last season
    of the window, over and over.

    Args:
        past: `(B, L, C)` input windows, `L >= season`.
        horizon: H.
        season: m, the season length in steps.

    Returns:
        `(B, H, C)`, of the type of `past`.
    """
    window, was_numpy = _tensor(past)
    length = window.shape[1]
    if not 1 <= season <= length:
        raise ValueError(f"the season ({season}) must be between 1 and the input length ({length})")
    steps = length - season + torch.arange(horizon, device=window.device) % season
    forecast = window[:, steps, :]
    return forecast.numpy() if was_numpy else forecast


def seasonal_drift_forecast(past: Array, horizon: int, season: int) -> Array:
    """Seasonal naive plus the window's average growth per season (a trend that repeats its season).

    The growth per season is the mean of `y_t - y_(t-m)` over the input window; step h
    (0-based) takes the value of the last season's matching step, `k = h // m + 1` seasons
    earlier, and adds k seasons of growth:

        yhat_(L+h) = y_(L-m+(h mod m)) + (h // m + 1) * mean_t (y_t - y_(t-m))

    With `season=1` this is the naive forecast with drift (the last value plus the mean step).

    Args:
        past: `(B, L, C)` input windows, `L > season`.
        horizon: H.
        season: m, the season length in steps.

    Returns:
        `(B, H, C)`, of the type of `past`.
    """
    window, was_numpy = _tensor(past)
    length = window.shape[1]
    if not 1 <= season < length:
        raise ValueError(f"the season ({season}) must be at least 1 and below the input length ({length})")
    growth = (window[:, season:] - window[:, :-season]).mean(dim=1, keepdim=True)  # (B, 1, C)
    h = torch.arange(horizon, device=window.device)
    seasons = (h // season + 1).to(window.dtype).view(1, -1, 1)  # (1, H, 1)
    forecast = window[:, length - season + h % season, :] + seasons * growth
    return forecast.numpy() if was_numpy else forecast


class LinearBaseline:
    """A linear forecast from the input window: `yhat = x @ W + b`, one map shared by all channels.

    Each target channel's L inputs are mapped to its H outputs with the same `W (L, H)` and
    `b (H,)` (channel-independent: channels do not see each other), fitted by least squares
    over the training windows of every channel and series, on the scaled data. `ridge`
    adds `ridge * I` to the normal equations' weights (not the bias), which only matters
    when there are few windows.

    Args:
        input_length: L.
        horizon: H.
        ridge: the ridge penalty (0: plain least squares).
    """

    def __init__(self, input_length: int, horizon: int, ridge: float = 1e-6) -> None:
        self.input_length = input_length
        self.horizon = horizon
        self.ridge = ridge
        self.weight: Tensor | None = None  # (L, H)
        self.bias: Tensor | None = None  # (H,)

    def fit(self, past: Array, target: Array) -> LinearBaseline:
        """Fit on training windows: `past (N, L, C)` targets over the input window, `target (N, H, C)`; returns self."""
        x, _ = _tensor(past)
        y, _ = _tensor(target)
        if x.shape[1] != self.input_length or y.shape[1] != self.horizon:
            raise ValueError(f"expected windows (N, {self.input_length}, C) and (N, {self.horizon}, C), got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        # (N, L, C) -> (N * C, L): every channel of every window is one example.
        rows = x.double().transpose(1, 2).reshape(-1, self.input_length)
        outputs = y.double().transpose(1, 2).reshape(-1, self.horizon)
        design = torch.cat([rows, torch.ones(len(rows), 1, dtype=torch.float64)], dim=1)  # (N * C, L + 1)
        if self.ridge > 0:
            penalty = torch.eye(self.input_length + 1, dtype=torch.float64) * self.ridge
            penalty[-1, -1] = 0.0  # the bias is not shrunk
            solution = torch.linalg.solve(design.T @ design + penalty, design.T @ outputs)
        else:
            solution = torch.linalg.lstsq(design, outputs).solution
        self.weight, self.bias = solution[:-1].float(), solution[-1].float()
        return self

    def predict(self, past: Array) -> Array:
        """`past (B, L, C)` -> forecasts `(B, H, C)`, of the type of `past`."""
        if self.weight is None:
            raise RuntimeError("LinearBaseline.predict before fit")
        x, was_numpy = _tensor(past)
        weight, bias = self.weight.to(x.device), self.bias.to(x.device)
        forecast = torch.einsum("blc,lh->bhc", x.float(), weight) + bias[None, :, None]
        return forecast.numpy() if was_numpy else forecast
