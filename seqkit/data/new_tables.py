"""Forecasting a new table with a fitted `ForecastData`: its last input windows in, a table of forecasts out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from torch import Tensor

from seqkit.data.series import (SHOWN, _check_positive, _fill, _on_grid, _series_name, _stamp, _stamps, _Table,
                                calendar_features, pad_front, parse_table)
from seqkit.data.windows import ForecastBatch, ForecastInputs
from seqkit.errors import DataError


def forecast_inputs(data, frame: pd.DataFrame | _Table) -> ForecastInputs:
    """The last input window of every series of `frame`, scaled with the fitted state, to forecast what follows.

    Each series' history ends at its last row with a target value; missing steps in it
    are treated by the fitted missing policy, its targets transformed by the fitted
    `target_transform`, and it needs at least `input_length - pad_input` steps (a
    shorter history than `input_length` is padded in front, as in training). With known
    covariates, `frame` must also hold the `horizon` rows after the history (targets
    empty) with the known columns filled. Calendar features come from the timestamps.
    `frame` is not changed.

    Args:
        frame: a table with the columns the data was fitted on (and the id column, if any);
            or a file as `read_csv` returns it, so that messages name the file and its lines.

    Returns:
        `ForecastInputs(batch, timestamps, series_ids)`; `batch.origin` is the index of
        the first forecast step in the series' timeline in `frame`.

    Raises:
        DataError: a bad table (as in setup), a series not in the fitted state, a history
            shorter than `input_length`, a target value at or below 0 under
            `target_transform: log`, or a known covariate missing over the horizon.
    """
    if data.mean is None:
        raise DataError("the data has no fitted state: call setup() or load_state_dict() first")
    table = frame if isinstance(frame, _Table) else _Table(frame, "the DataFrame", None)
    columns = {"target_columns": data.target_columns, "observed_columns": data.observed_columns,
               "known_columns": data.known_columns}
    raws = parse_table(table, data.time_column, data.id_column, columns)
    offset = to_offset(data.freq)
    index = {key: s for s, key in enumerate(data.series_ids)}
    L, H, n_t, P = data.input_length, data.horizon, data.n_targets, data.pad_input
    n_known = len(data.known_columns)
    pasts, futures, series, origins, stamps, ids, filled = [], [], [], [], [], [], {}
    for raw in raws:
        name = _series_name(raw.id, data.id_column)
        if data.id_column is None:
            s = 0
        elif raw.id in index:
            s = index[raw.id]
        else:
            raise DataError(f"{table.source}: {name} is not among the series the model was trained on "
                            f"({data.series_ids[:SHOWN]}{' ...' if len(data.series_ids) > SHOWN else ''})")
        grid, values, rows = _on_grid(raw, offset, table, name, data.freq)
        has_target = np.flatnonzero(~np.isnan(values[:, :n_t]).all(axis=1))
        if len(has_target) == 0:
            raise DataError(f"{table.source}: {name} has no target values in {data.target_columns}; "
                            "give its history")
        end = int(has_target[-1]) + 1  # the history: every step up to the last with a target value
        if end < L - P:
            least = f"input_length - pad_input = {L - P}" if P else f"input_length {L}"
            raise DataError(f"{table.source}: the history of {name} has {end} steps (to {_stamp(grid[end - 1])}), "
                            f"fewer than {least}; give at least {L - P} steps")
        # The whole history is filled (and transformed), as the training data was, then its last L steps
        # are the input.
        history, count = _fill(grid[:end], values[:end], rows[:end], data.missing, data.scaled_columns, table, name)
        if data.target_transform == "log":
            _check_positive(grid[:end], history[:, :n_t], rows[:end], data.target_columns, table, name)
        history = data._transformed(history[max(0, end - L) :])
        times = grid[max(0, end - L) : end]
        if end < L:  # a short history: padding in front (NaN values; the calendar goes on), as in training
            history, times = pad_front(history, times, L - end, data.freq)
        if count:
            filled[raw.id] = count
        ahead = pd.date_range(grid[end - 1], periods=H + 1, freq=offset)[1:]  # (H,)
        known = np.zeros((H, n_known))
        if n_known:
            given = np.full((H, n_known), np.nan)
            inside = min(H, len(grid) - end)  # future steps that have rows in the frame
            given[:inside] = values[end : end + inside, len(data.scaled_columns) - n_known :]
            absent = np.isnan(given)
            if absent.any():
                column = data.known_columns[int(np.flatnonzero(absent.any(axis=0))[0])]
                steps = np.flatnonzero(absent.any(axis=1))
                raise DataError(f"{table.source}: the known covariate {column!r} of {name} is missing over the "
                                f"horizon at {_stamps(ahead[steps])}; the forecast after {_stamp(grid[end - 1])} "
                                f"needs rows for the next {H} steps with the known columns "
                                f"{data.known_columns} filled (and the targets empty)")
            known = given
        mean, std = data.mean[s], data.std[s]
        past = np.concatenate([(history - mean) / std, calendar_features(times, data.calendar)], 1)
        future = np.concatenate([(known - mean[-n_known:]) / std[-n_known:] if n_known else known,
                                 calendar_features(ahead, data.calendar)], 1)
        pasts.append(past)
        futures.append(future)
        series.append(s)
        origins.append(end)
        stamps.append(ahead)
        ids.append(raw.id)
    data._say_filled(table, filled)
    batch = ForecastBatch(torch.from_numpy(np.stack(pasts).astype(np.float32)),
                          torch.from_numpy(np.stack(futures).astype(np.float32)),
                          None, torch.tensor(series, dtype=torch.int64), torch.tensor(origins, dtype=torch.int64))
    return ForecastInputs(batch, stamps, ids)

def forecast_frame(data, inputs: ForecastInputs, forecasts: Tensor | np.ndarray) -> pd.DataFrame:
    """Scaled forecasts of `forecast_inputs` as a long table on the original scale.

    Args:
        inputs: what `forecast_inputs` returned.
        forecasts: `(B, H, n_targets)` the model's scaled forecasts for `inputs.batch`.

    Returns:
        One row per series and forecast step: the id column (if any), the time column,
        then the target columns.
    """
    values = data.inverse_transform(forecasts.detach().cpu() if isinstance(forecasts, Tensor) else forecasts,
                                    inputs.batch.series)
    values = np.asarray(values, dtype=np.float64).reshape(-1, data.n_targets)  # (B * H, n_targets)
    table = {}
    if data.id_column is not None:
        table[data.id_column] = np.repeat(inputs.series_ids, data.horizon)
    table[data.time_column] = np.concatenate([times.to_numpy() for times in inputs.timestamps])
    for j, column in enumerate(data.target_columns):
        table[column] = values[:, j]
    return pd.DataFrame(table)
