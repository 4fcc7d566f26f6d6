"""`ForecastData`'s arguments: the roles of the table's columns (`Columns`), and the checks it runs before it reads anything."""

from __future__ import annotations

from dataclasses import dataclass, field

from pandas.tseries.frequencies import to_offset

from seqkit.data import catalog
from seqkit.data.series import CALENDAR, MISSING
from seqkit.errors import DataError

SCALES = ("standard", "none")
TRANSFORMS = ("none", "log")  # applied to the target columns before scaling


@dataclass
class Columns:
    """Which column of a table plays which role (`--data.columns.time_column date`, ...).

    Args:
        time_column: the column of the timestamps (a dataset's own by default).
        target_columns: the column(s) to forecast (a dataset's own by default; for `etth1`
            all 7, or e.g. `OT` alone with the others as `observed_columns`).
        id_column: the column that tells the series of a long table apart.
        observed_columns: covariates known up to now only: inputs over the past window.
        known_columns: covariates known over the horizon too: inputs over the past window
            and the horizon (a table to forecast must hold them for the horizon).
        calendar: calendar features to add as known covariates: any of `hour`, `weekday`,
            `month`, each a sin/cos pair.
    """

    time_column: str | None = None
    target_columns: str | list[str] | None = None
    id_column: str | None = None
    observed_columns: list[str] = field(default_factory=list)
    known_columns: list[str] = field(default_factory=list)
    calendar: list[str] = field(default_factory=list)


# The roles of a table's columns, as `--data.columns.NAME` flags and `Columns` fields.
COLUMN_FLAGS = ("time_column", "target_columns", "id_column", "observed_columns", "known_columns", "calendar")


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
    if dataset is not None:
        defaults = catalog.entry(dataset, task="forecast").extra  # an unknown or non-forecast dataset fails here
    if train_path is not None and (time_column is None or target_columns is None):
        raise DataError("--data.train_path needs --data.columns.time_column and --data.columns.target_columns (the columns of "
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
        raise DataError(f"--data.columns.calendar takes each of {list(CALENDAR)} at most once, got {calendar}")
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
        raise DataError("--data.columns.target_columns is empty; name at least one column to forecast")
    roles = [("time_column", [time_column] if time_column else []), ("id_column", [id_column] if id_column else []),
             ("target_columns", target_columns or []), ("observed_columns", observed_columns),
             ("known_columns", known_columns)]
    seen: dict[str, str] = {}
    for option, names in roles:
        for name in names:
            if name in seen:
                where = f"--data.columns.{seen[name]}" + ("" if seen[name] == option else f" and --data.columns.{option}")
                raise DataError(f"column {name!r} is named twice ({where}); each column has one role")
            seen[name] = option
