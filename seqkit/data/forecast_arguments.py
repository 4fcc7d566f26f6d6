"""The checks `ForecastData` runs on its arguments before it reads anything, each naming its flag."""

from __future__ import annotations

from pandas.tseries.frequencies import to_offset

from seqkit.data import catalog
from seqkit.data.embedded import co2_frame
from seqkit.data.series import CALENDAR, MISSING
from seqkit.errors import DataError

EMBEDDED = {"co2": co2_frame}
EMBEDDED_COLUMNS = {"co2": ("date", "co2")}  # (time column, target column) of each embedded table
SCALES = ("standard", "none")
TRANSFORMS = ("none", "log")  # applied to the target columns before scaling


def check_arguments(dataset, train_path, time_column, target_columns, calendar, freq, missing, scale,
                    target_transform, counts: dict[str, int]):
    """`(dataset, implicit, defaults, freq, calendar, target_columns)` as `ForecastData` keeps them.

    The file you name wins over the recipe's dataset; nothing named at all means the shipped
    CO2 series (`implicit`), which runs with no file and no network. `defaults` are the
    dataset's own column names. `counts` are the sizes that must be at least 1, by flag.

    Raises:
        DataError: arguments that cannot work together, or an unknown dataset.
    """
    if train_path is not None:
        dataset = None
    implicit = dataset is None and train_path is None and time_column is None and target_columns is None
    if implicit:
        dataset = "co2"
    defaults: dict[str, str] = {}
    if dataset in EMBEDDED:
        defaults = dict(zip(("time_column", "target_columns"), EMBEDDED_COLUMNS[dataset]))
    elif dataset is not None:
        defaults = catalog.entry(dataset, task="forecast").extra  # an unknown or non-forecast dataset fails here
    if train_path is not None and (time_column is None or target_columns is None):
        raise DataError("--data.train_path needs --data.time_column and --data.target_columns (the columns of "
                        "the timestamps and of the values to forecast)")
    for option, value in counts.items():
        if value < 1:
            raise DataError(f"--data.{option} must be at least 1, got {value}")
    if missing is not None and missing not in MISSING:
        raise DataError(f"--data.missing must be one of {list(MISSING)}, got {missing!r}")
    if scale not in SCALES:
        raise DataError(f"--data.scale must be one of {list(SCALES)}, got {scale!r}")
    if target_transform not in TRANSFORMS:
        raise DataError(f"--data.target_transform must be one of {list(TRANSFORMS)}, got {target_transform!r}")
    calendar = list(calendar or [])
    unknown = [name for name in calendar if name not in CALENDAR]
    if unknown or len(set(calendar)) != len(calendar):
        raise DataError(f"--data.calendar takes each of {list(CALENDAR)} at most once, got {calendar}")
    if freq is not None:
        try:
            freq = to_offset(freq).freqstr
        except ValueError:
            raise DataError(f"--data.freq {freq!r} is not a pandas frequency; use e.g. h, D, W-SAT, MS, "
                            "or leave it out to infer it") from None
    if isinstance(target_columns, str):
        target_columns = [target_columns]
    elif target_columns is None and "target_columns" in defaults:
        target_columns = defaults["target_columns"].split(",")
    return dataset, implicit, defaults, freq, calendar, target_columns


def check_roles(time_column, id_column, target_columns, observed_columns, known_columns) -> None:
    """Refuse a column named in two roles (a target that is also a covariate), naming both flags."""
    if target_columns is not None and not target_columns:
        raise DataError("--data.target_columns is empty; name at least one column to forecast")
    roles = [("time_column", [time_column] if time_column else []), ("id_column", [id_column] if id_column else []),
             ("target_columns", target_columns or []), ("observed_columns", observed_columns),
             ("known_columns", known_columns)]
    seen: dict[str, str] = {}
    for option, names in roles:
        for name in names:
            if name in seen:
                where = f"--data.{seen[name]}" + ("" if seen[name] == option else f" and --data.{option}")
                raise DataError(f"column {name!r} is named twice ({where}); each column has one role")
            seen[name] = option
