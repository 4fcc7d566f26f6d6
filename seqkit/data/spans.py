"""The training, validation and test spans of each series of a forecasting table, by size or by date.

    [0, n_train) train | [n_train, n_val) val | [n_val, n_end) test

Sizes are a fraction of a series' steps (below 1) or a count; dates (`val_start`,
`test_start`) cut every series at the same time. A span too short for a window is refused
with the options that fix it.
"""

from __future__ import annotations

import pandas as pd
from lightning.pytorch.utilities import rank_zero_warn

from seqkit.data.series import _series_name
from seqkit.errors import DataError


def count(size: int | float, length: int) -> int:
    """A span's steps: a fraction of `length` when below 1, else a count."""
    return int(round(size * length)) if size < 1 else int(size)


# ----------------------------------------------------------------------------- the DataModule


def check_sizes(train_size: int | float | None, val_size: int | float, test_size: int | float,
                 val_start: str | None, test_start: str | None) -> None:
    for option, value in (("train_size", train_size), ("val_size", val_size), ("test_size", test_size)):
        if value is None:
            continue
        if value < 0 or (value >= 1 and value != int(value)):
            raise DataError(f"--data.{option} must be a fraction between 0 and 1 or a whole number of steps, "
                            f"got {value}")
    if train_size == 0:
        raise DataError("--data.train_size must be above 0 (or null: all steps before validation)")
    if test_start is not None and val_start is None:
        raise DataError("--data.test_start needs --data.val_start (validation comes before test)")
    if val_start is not None and train_size is not None:
        raise DataError("give the spans by date (--data.val_start) or by size (--data.train_size), not both")
    for option, value in (("val_start", val_start), ("test_start", test_start)):
        if value is not None:
            try:
                pd.Timestamp(value)
            except ValueError:
                raise DataError(f"--data.{option} {value!r} is not a date; write e.g. 2017-06-26 or "
                                "2017-06-26 13:00") from None
    if val_start is not None and test_start is not None and pd.Timestamp(test_start) <= pd.Timestamp(val_start):
        raise DataError(f"--data.test_start ({test_start}) must come after --data.val_start ({val_start})")


def series_spans(data, times: pd.DatetimeIndex, key: str, source: str) -> tuple[int, int, int]:
    """`(n_train, n_val, n_end)` of one series: the ends of its training, validation and test spans."""
    length, name = len(times), _series_name(key, data.id_column)
    if data.val_start is not None:
        n_train = int(times.searchsorted(_as_time(data.val_start, times)))
        n_val = int(times.searchsorted(_as_time(data.test_start, times))) if data.test_start else length
        n_end = length
        fix = "move --data.val_start or --data.test_start"
    else:
        n_v, n_t = count(data.val_size, length), count(data.test_size, length)
        n_train = count(data.train_size, length) if data.train_size is not None else length - n_v - n_t
        n_val, n_end = n_train + n_v, n_train + n_v + n_t
        fix = "change --data.train_size, --data.val_size or --data.test_size"
        if n_end > length:
            raise DataError(f"{source}: {name} has {length} steps, fewer than the {n_train} + {n_v} + {n_t} "
                            f"of its training, validation and test spans; {fix}")
    if n_train < 1:
        raise DataError(f"{source}: the training span of {name} has no steps (of its {length}), so nothing scales "
                        f"it; {fix}")
    for split, start, stop in (("validation", n_train, n_val), ("test", n_val, n_end)):
        if stop == start and (split == "test" or not data.validates):
            continue  # no test span; or no validation span, asked for (a refit on the whole history)
        if split == "validation" and data.short_validation:
            if stop == start:
                raise DataError(f"{source}: the validation span of {name} has 0 steps, so no validation window "
                                f"fits; {fix}")
            # The masked steps of the last window must still be rows of the series.
            if length - stop < data.horizon - 1:
                raise DataError(f"{source}: with --data.short_validation, the last validation window of {name} "
                                f"reaches {data.horizon - 1} steps past the validation span, but only "
                                f"{length - stop} steps follow it; give a test span of at least "
                                f"{data.horizon - 1} steps, or lower --data.horizon")
            continue
        if stop - start < data.horizon:
            short = (", or set --data.short_validation true (validation windows scored over the span only)"
                     if split == "validation" else "")
            raise DataError(f"{source}: the {split} span of {name} has {stop - start} steps, fewer than the "
                            f"horizon {data.horizon}, so no {split} window fits; {fix}{short}")
    return n_train, n_val, n_end


def window_need(data) -> tuple[int, str]:
    """The steps a series needs for one window, and how they add up (for messages)."""
    L, P, H = data.input_length, data.pad_input, data.horizon
    if P:
        return L - P + H, f"input_length - pad_input + horizon = {L} - {P} + {H} = {L - P + H}"
    return L + H, f"input_length + horizon = {L} + {H} = {L + H}"


def check_training_windows(data, spans: list[tuple[int, int, int]], source: str) -> None:
    """Refuse data whose series give no training window; warn of the series that give none (they are still scored).

    A series whose training span is shorter than `input_length - pad_input + horizon`
    gives no training window; in a table of many series it is still validated, tested
    and forecast by the model the others train.
    """
    needed, sum_ = window_need(data)
    short = [(key, n_train, n_end) for key, (n_train, _, n_end) in zip(data.series_ids, spans) if n_train < needed]
    if not short:
        return
    key, n_train, length = short[0]
    name = _series_name(key, data.id_column)
    if len(short) == len(spans):
        raise DataError(f"{source}: the training span of {name} has {n_train} of its {length} steps, fewer than "
                        f"{sum_}, so no training window fits; change "
                        "--data.train_size, --data.val_size or --data.test_size (or the dates), lower "
                        "--data.input_length or --data.horizon, or raise --data.pad_input")
    shown = ", ".join(_series_name(key, data.id_column) for key, _, _ in short[:3])
    rank_zero_warn(f"{source}: {len(short)} of {len(spans)} series have training spans shorter than "
                   f"{sum_} ({shown}{', ...' if len(short) > 3 else ''}): they give no "
                   "training window, but are validated, tested and forecast; raise --data.pad_input to train on "
                   "them too")


def _as_time(value: str, times: pd.DatetimeIndex) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if times.tz is not None and stamp.tz is None:
        stamp = stamp.tz_localize(times.tz)  # a date without a zone means the series' own zone
    return stamp
