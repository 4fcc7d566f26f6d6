"""A forecasting DataModule's fitted state: columns, frequency, scaling per series, as plain data and back.

It travels in every checkpoint (`ForecastData.state_dict`), so that a trained forecaster
reads a new table the way it read its training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pandas.tseries.frequencies import to_offset

from seqkit.data.series import SHOWN, _series_name
from seqkit.errors import DataError

STATE_FORMAT = "seqkit.forecast/1"


def state_dict(data) -> dict[str, Any]:
    """What a model needs to be used again, as plain data (Lightning saves it in each checkpoint).

    Holds the columns and their roles, calendar features, frequency, missing policy,
    input length, horizon, target transform, scaling, and per series its id, first
    timestamp, last training timestamp and the mean and std of each scaled column (of
    the log values for the targets under `target_transform: log`). Only strings,
    numbers, lists and None: it loads with `torch.load(..., weights_only=True)`.
    """
    if data.mean is None:
        return {}  # nothing fitted yet: Lightning then stores nothing
    return {
        "format": STATE_FORMAT,
        "time_column": data.time_column,
        "id_column": data.id_column,
        "target_columns": list(data.target_columns),
        "observed_columns": list(data.observed_columns),
        "known_columns": list(data.known_columns),
        "calendar": list(data.calendar),
        "freq": data.freq,
        "missing": data.missing,
        "input_length": data.input_length,
        "horizon": data.horizon,
        "pad_input": data.pad_input,
        "target_transform": data.target_transform,
        "scale": data.scale,
        "series": list(data.series_ids),
        "start": [str(times[0]) for times in data._times] if data._times else list(data._given["start"]),
        "train_end": ([str(times[n - 1]) for times, (n, _, _) in zip(data._times, data.spans)]
                      if data._times else list(data._given["train_end"])),
        "mean": data.mean.tolist(),
        "std": data.std.tolist(),
    }

def load_state_dict(data, state_dict: dict[str, Any]) -> None:
    """Use a fitted state (from `state_dict`, e.g. a checkpoint's) instead of fitting one.

    Before `setup`, setup scales with it; after `setup`, the windows are scaled again.

    A state saved before `target_transform` existed has no such key: it means `none`.

    Raises:
        DataError: the state is not a forecast data state, or its columns, input
            length, horizon, target transform or frequency differ from this
            DataModule's, or (once set up) a series of the data is not in it.
    """
    if not state_dict:
        return
    if state_dict.get("format") != STATE_FORMAT:
        raise DataError(f"not a forecast data state (format {state_dict.get('format')!r}, expected "
                        f"{STATE_FORMAT!r})")
    mine = {"time_column": data.time_column, "id_column": data.id_column, "target_columns": data.target_columns,
            "observed_columns": data.observed_columns, "known_columns": data.known_columns,
            "calendar": data.calendar, "input_length": data.input_length, "horizon": data.horizon,
            "target_transform": data.target_transform}
    # The mean and std of a logged target mean nothing to unlogged data (and back): a mismatch is refused.
    theirs = {"target_transform": "none", **state_dict}  # older states have no target_transform: none
    differ = [f"{key} {theirs[key]!r} (here {value!r})" for key, value in mine.items() if theirs[key] != value]
    if data.freq is not None and to_offset(data.freq) != to_offset(state_dict["freq"]):
        differ.append(f"freq {state_dict['freq']!r} (here {data.freq!r})")
    if differ:
        raise DataError(f"the fitted state does not match this data: it has {'; '.join(differ)}; use the "
                        "checkpoint's data settings")
    data.freq = state_dict["freq"]
    data.missing = state_dict["missing"]
    data.scale = state_dict["scale"]
    data._given = dict(state_dict)
    if data.spans:  # set up already: scale again with the given state
        apply_scaler(data, data._given)
        data._build_windows()
    else:
        data.series_ids = list(state_dict["series"])
        data.mean = np.asarray(state_dict["mean"], dtype=np.float64).reshape(len(data.series_ids), -1)
        data.std = np.asarray(state_dict["std"], dtype=np.float64).reshape(len(data.series_ids), -1)


def fit_scaler(data) -> None:
    """Mean and standard deviation per series and column, over the training span only (after the transform)."""
    means, stds = [], []
    for values, (n_train, _, _) in zip(data._values, data.spans):
        train = data._transformed(values[:n_train])
        if data.scale == "none":
            means.append(np.zeros(train.shape[1]))
            stds.append(np.ones(train.shape[1]))
            continue
        mean, std = train.mean(axis=0), train.std(axis=0)
        # A column constant over the training span: divide by 1, not by 0.
        std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        means.append(mean)
        stds.append(std)
    data.mean, data.std = np.stack(means), np.stack(stds)  # (S, C)


def apply_scaler(data, state: dict[str, Any]) -> None:
    known = {key: s for s, key in enumerate(state["series"])}
    unknown = [key for key in data.series_ids if key not in known]
    if unknown:
        raise DataError(f"{data.source}: {_series_name(unknown[0], data.id_column)} (and {len(unknown) - 1} more) "
                        f"is not among the series of the fitted state, {state['series'][:SHOWN]}")
    index = [known[key] for key in data.series_ids]
    data.mean = np.asarray(state["mean"], dtype=np.float64)[index]
    data.std = np.asarray(state["std"], dtype=np.float64)[index]


def from_state_dict(cls, state_dict: dict[str, Any]):
    """A DataModule that holds only a fitted state: for `inverse_transform` and `forecast_inputs`."""
    if state_dict.get("format") != STATE_FORMAT:
        raise DataError(f"not a forecast data state (format {state_dict.get('format')!r}, expected "
                        f"{STATE_FORMAT!r})")
    from seqkit.data.forecast_arguments import COLUMN_FLAGS, Columns

    roles = Columns(**{key: state_dict[key] for key in COLUMN_FLAGS})
    data = cls(columns=roles, freq=state_dict["freq"], missing=state_dict["missing"], input_length=state_dict["input_length"],
               horizon=state_dict["horizon"], pad_input=state_dict.get("pad_input", 0), target_transform=state_dict.get("target_transform", "none"),
               scale=state_dict["scale"])
    load_state_dict(data, state_dict)
    return data
