"""Windows of past and future for forecasting: the batch a forecaster reads, and the dataset that cuts them.

    past   = features[t - L : t]          (L, F_in)    scaled targets, observed, known, calendar
    future = known features[t : t + H]    (H, F_known) scaled known covariates, calendar
    target = scaled targets[t : t + H]    (H, n_targets)

(`seqkit.data.forecast` explains the spans and origins; `ForecastData` builds these.)
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset


class ForecastBatch(NamedTuple):
    """Windows of one or more series, scaled.

    Attributes:
        past: `(B, L, F_in)` float32 over the input window: the scaled targets first, then
            the observed covariates, the known covariates and the calendar features
            (`ForecastData.past_columns` names them).
        future: `(B, H, F_known)` float32 over the horizon: the known covariates and the
            calendar features (`ForecastData.future_columns`); `(B, H, 0)` when there are none.
        target: `(B, H, n_targets)` float32, the scaled targets over the horizon; None for
            windows to forecast. NaN marks steps not to score: only in validation windows
            with `short_validation`, at the steps after the validation span.
        series: `(B,)` int64, the index of each window's series in `ForecastData.series_ids`.
        origin: `(B,)` int64, the index of each window's first forecast step in its
            series' timeline.
    """

    past: Tensor
    future: Tensor
    target: Tensor | None
    series: Tensor
    origin: Tensor


class ForecastInputs(NamedTuple):
    """The last window of each series of a table, ready to forecast (`ForecastData.forecast_inputs`).

    Attributes:
        batch: `ForecastBatch` with `target=None`; row i forecasts `series_ids[i]`.
        timestamps: for each row, the `H` timestamps it forecasts.
        series_ids: the id of each row's series (`""` for a table of one series without an id column).
    """

    batch: ForecastBatch
    timestamps: list[pd.DatetimeIndex]
    series_ids: list[str]


class ForecastWindows(Dataset):
    """All windows of one split over the series' features, kept as one flat tensor.

    Item i is one window (a `ForecastBatch` without the batch dimension), so that the
    DataLoader's default collate stacks items into a batch; `batch(indices)` gathers many
    windows at once.

    Args:
        features: `(N, F_in)` float32, the scaled features of every series one after another.
        offsets: where each series starts in `features`, one per series.
        series: `(M,)` int64, the series of each window.
        origins: `(M,)` int64, the origin of each window in its series' timeline.
        input_length: L, the steps of the input window.
        horizon: H, the steps forecast.
        n_targets: how many of the first feature columns are targets.
        known_start: the first feature column that is known over the horizon.
        ends: `(M,)` int64 or None: for each window, the row in `features` where its
            scored span ends; its target steps at or after that row are NaN (validation
            windows with `short_validation`). None: every target step is scored.
    """

    def __init__(self, features: Tensor, offsets: Sequence[int], series: Tensor, origins: Tensor, input_length: int,
                 horizon: int, n_targets: int, known_start: int, ends: Tensor | None = None) -> None:
        self.features = features
        self.series = series
        self.origins = origins
        self.input_length = input_length
        self.horizon = horizon
        self.n_targets = n_targets
        self.known_start = known_start
        # The row of each window's origin in `features`.
        self.base = torch.as_tensor(offsets, dtype=torch.int64)[series] + origins
        self._base = self.base.tolist()  # Python ints: slicing with them is faster than with tensor elements
        self.ends = ends
        # Per window, how many target steps are scored (H for a full window); None: all, with no cost.
        self._scored = None if ends is None else (ends - self.base).clamp(max=horizon).tolist()

    def __len__(self) -> int:
        return len(self._base)

    def __getitem__(self, index: int) -> ForecastBatch:
        row = self._base[index]
        past = self.features[row - self.input_length : row]  # (L, F_in)
        ahead = self.features[row : row + self.horizon]  # (H, F_in)
        target = ahead[:, : self.n_targets]  # (H, n_targets), a view of `features`
        if self._scored is not None and self._scored[index] < self.horizon:
            target = target.clone()  # never write into `features`
            target[self._scored[index] :] = float("nan")
        return ForecastBatch(past, ahead[:, self.known_start :], target, self.series[index], self.origins[index])

    def batch(self, indices: Sequence[int] | Tensor | None = None) -> ForecastBatch:
        """The windows `indices` (all windows when None) as one `ForecastBatch`, gathered at once."""
        index = torch.arange(len(self)) if indices is None else torch.as_tensor(indices, dtype=torch.int64)
        rows = self.base[index]
        past = self.features[rows[:, None] + torch.arange(-self.input_length, 0)]  # (B, L, F_in)
        steps = rows[:, None] + torch.arange(self.horizon)  # (B, H) rows of the horizon
        ahead = self.features[steps]  # (B, H, F_in)
        future, target = ahead[..., self.known_start :].contiguous(), ahead[..., : self.n_targets].contiguous()
        if self.ends is not None:
            unscored = steps >= self.ends[index, None]  # (B, H)
            target = target.masked_fill(unscored[..., None], float("nan"))
        return ForecastBatch(past, future, target, self.series[index], self.origins[index])
