"""A table of time series onto a regular timeline: reading, parsing timestamps and numbers, the frequency, gaps.

    rows -> one series per id (`parse_table`), its timestamps parsed and checked (`_parse_times`)
         -> the frequency (`infer_frequency`) and a regular grid, missing steps refused or filled (`_on_grid`, `_fill`)
         -> calendar features of the timeline (`calendar_features`)

Messages name rows by the line a user sees in an editor (the header is line 1), or, for a
DataFrame, by its index label. `ForecastData` (seqkit.data.forecast) uses these.
"""

from __future__ import annotations

import io
import math
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from seqkit.console import say
from seqkit.errors import DataError
from seqkit.readers import check_header, read_parquet, read_text, row_lines

MISSING = ("error", "interpolate", "ffill")
CALENDAR = {"hour": 24, "weekday": 7, "month": 12}  # feature -> its period
SHOWN = 5  # rows or timestamps quoted in a message before "and N more"


@dataclass
class _Table:
    """The rows as read: a file's cells as strings, or a DataFrame as given (never modified).

    Attributes:
        frame: the rows.
        source: what the rows are, for messages (the file's path, "the DataFrame").
        lines: the line of each row in its file; None for a DataFrame (rows are named by index label).
    """

    frame: pd.DataFrame
    source: str
    lines: list[int] | None

    def rows(self, positions: Sequence[int]) -> str:
        """`line 4`, `lines 4, 9 and 3 more`, or `rows 3, 7` (a DataFrame's index labels)."""
        positions = list(positions)
        if self.lines is not None:
            names, word = [self.lines[p] for p in positions[:SHOWN]], "line"
        else:
            names, word = [self.frame.index[p] for p in positions[:SHOWN]], "row"
        more = f" and {len(positions) - SHOWN} more" if len(positions) > SHOWN else ""
        return f"{word}{'s' if len(positions) > 1 else ''} {', '.join(map(str, names))}{more}"


@dataclass
class _Raw:
    """One series as read, before it is put on a regular timeline."""

    id: str
    times: pd.DatetimeIndex  # (n,) strictly increasing
    values: np.ndarray  # (n, C) float64, NaN where a cell is empty
    positions: np.ndarray  # (n,) the row of each step in the table


def read_csv(path: str | Path) -> _Table:
    """Read a CSV file (`.tsv`: tab-separated; `.parquet`: Parquet) with every cell as a string, and each row's line.

    Raises:
        DataError: a missing, empty, unreadable or malformed file, or one that is not UTF-8.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = read_parquet(path)
        return _Table(frame, str(path), list(range(1, len(frame) + 1)))  # rows, not lines: numbered from 1
    tab = path.suffix.lower() == ".tsv"
    text = read_text(path, what="TSV file" if tab else "CSV file")
    if not text.strip():
        raise DataError(f"{path}: the file is empty; point to the file that holds the series")
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # one line ending, so that lines count the same everywhere
    sep = "\t" if tab else ","
    try:
        # dtype=str: cells stay as written, so that a text in a number column can be named with its line.
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str)
    except pd.errors.ParserError as error:
        detail = str(error).strip().replace("Error tokenizing data. C error: ", "")
        raise DataError(f"{path}: not a well-formed {'TSV' if tab else 'CSV'} file: {detail}; count the fields "
                        "on that line") from None
    if not isinstance(frame.index, pd.RangeIndex):
        raise DataError(f"{path}: every row has more fields than the header ({list(frame.columns)}); "
                        "a header name is missing")
    check_header(path, text, sep, quoted=not tab)
    lines = row_lines(text, sep, quoted=not tab)
    if len(lines) != len(frame):  # an unusual file (quoted blank lines): count rows, not lines
        lines = list(range(2, len(frame) + 2))
    return _Table(frame, str(path), lines)


def _stamp(time: pd.Timestamp) -> str:
    """A timestamp as a user writes it: `1950-03-01`, or `2016-07-01 13:00:00` when it has a time of day."""
    return time.strftime("%Y-%m-%d") if time == time.normalize() else str(time)


def _stamps(times: Sequence[pd.Timestamp]) -> str:
    times = list(times)
    more = f" and {len(times) - SHOWN} more" if len(times) > SHOWN else ""
    return ", ".join(_stamp(time) for time in times[:SHOWN]) + more


def _series_name(series_id: str, id_column: str | None) -> str:
    return f"series {series_id!r}" if id_column is not None else "the series"


def parse_table(table: _Table, time_column: str, id_column: str | None, columns: dict[str, list[str]]) -> list[_Raw]:
    """Check and parse the rows into series: timestamps, ids and numbers; nothing is filled or reordered.

    Args:
        table: the rows.
        time_column: the column of the timestamps.
        id_column: the column that tells series apart, or None for one series.
        columns: the value columns by option name (`{"target_columns": [...], ...}`), in order.

    Returns:
        One `_Raw` per series, in order of first appearance; values in the order of `columns`.

    Raises:
        DataError: a named column is missing (the message lists the columns there are), a
            timestamp is empty, does not parse, goes backwards or repeats within a series,
            an id is empty, or a value column holds text or an infinite number.
    """
    frame, source = table.frame, table.source
    wanted = [(time_column, "time_column")] + ([(id_column, "id_column")] if id_column is not None else [])
    wanted += [(name, flag) for flag, names in columns.items() for name in names]
    absent = [f"{name!r} (--data.columns.{flag})" for name, flag in wanted if name not in frame.columns]
    if absent:
        found = [str(column) for column in frame.columns]
        hint = ""
        if len(found) == 1 and table.lines is not None:
            hint = "; only one column was found, so the file is probably not comma-separated"
        raise DataError(f"{source}: no column {', '.join(absent)}; the columns are {found}{hint}")
    if len(frame) == 0:
        raise DataError(f"{source}: there is a header but no rows; point to the table that holds the series")
    times = _parse_times(table, time_column)
    names = [name for names in columns.values() for name in names]
    values = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        values[:, j] = _parse_numbers(table, name)
    if id_column is None:
        groups = [("", np.arange(len(frame)))]
    else:
        ids = frame[id_column]
        empty = np.flatnonzero(_blank(ids))
        if len(empty):
            raise DataError(f"{source}: {len(empty)} rows have no series id in column {id_column!r} "
                            f"({table.rows(empty)}); every row needs one")
        keys = ids.astype(str).to_numpy()
        # Series in order of first appearance; each series' rows in table order.
        indices = pd.Series(np.arange(len(frame))).groupby(keys, sort=False).indices
        groups = [(key, indices[key]) for key in pd.unique(keys)]
    series = []
    for key, positions in groups:
        stamps = times[positions]
        name = _series_name(key, id_column)
        ordered = stamps.sort_values()  # a repeated timestamp is named wherever its rows stand
        repeats = np.flatnonzero(ordered[1:] == ordered[:-1])
        if len(repeats):
            first = ordered[repeats[0]]
            rows = positions[np.flatnonzero(stamps == first)]
            others = len(set(ordered[repeats + 1])) - 1
            more = f" (and {others} more timestamps repeat)" if others else ""
            hint = "" if id_column is not None else (" (a long table of several series needs its series column "
                                                     "named with --data.columns.id_column)")
            raise DataError(f"{source}: {name} has the timestamp {_stamp(first)} more than once ({table.rows(rows)})"
                            f"{more}; keep one row per timestamp{hint}")
        back = np.flatnonzero(stamps[1:] < stamps[:-1])
        if len(back):
            k = back[0]
            more = f" (and {len(back) - 1} more places)" if len(back) > 1 else ""
            raise DataError(f"{source}: timestamps go backwards in {name}: {_stamp(stamps[k + 1])} at "
                            f"{table.rows([positions[k + 1]])} comes after {_stamp(stamps[k])} at "
                            f"{table.rows([positions[k]])}{more}; sort the rows by time")
        series.append(_Raw(key, pd.DatetimeIndex(stamps), values[positions], positions))
    return series


def _blank(column: pd.Series) -> np.ndarray:
    """Where a column's cells are empty: NaN, None, or (in text) only whitespace."""
    empty = column.isna().to_numpy()
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        empty = empty | column.astype(str).str.strip().eq("").to_numpy()
    return empty


def _parse_times(table: _Table, column: str) -> pd.DatetimeIndex:
    raw = table.frame[column]
    source = table.source
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        raise DataError(f"{source}: column {column!r} (--data.columns.time_column) holds numbers, not timestamps; give "
                        "dates or times such as 2020-01-31 or 2020-01-31 13:00")
    empty = _blank(raw)
    if empty.any():
        rows = np.flatnonzero(empty)
        raise DataError(f"{source}: {len(rows)} rows have no timestamp in column {column!r} ({table.rows(rows)}); "
                        "every row needs one")
    offset = raw.astype(str).str.strip().str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).to_numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": each value is then parsed on its own
            try:
                parsed = pd.to_datetime(raw, errors="coerce")
            except ValueError as error:
                if "Mixed timezones" not in str(error):
                    raise
                parsed = None
            # Several UTC offsets: pandas 3 refuses them, pandas 2 gives Python objects.
            if (parsed is None or parsed.dtype == object) and offset.all():
                # Local times written with their offsets, which change with daylight saving: in UTC every hour
                # is one step (local time skips an hour in spring and repeats one in autumn).
                parsed = pd.to_datetime(raw, errors="coerce", utc=True).dt.tz_localize(None)
                say(f"seqkit: {source}: the timestamps in column {column!r} carry several UTC offsets (daylight "
                    "saving); they are read as UTC, and forecasts are given in UTC")
    except (ValueError, TypeError) as error:
        raise DataError(f"{source}: the timestamps in column {column!r} cannot be read together ({error}); "
                        "write them in one format and one time zone") from None
    mixed = parsed is None or parsed.dtype == object  # some with an offset, some without
    if mixed and not offset.any():
        raise DataError(f"{source}: the timestamps in column {column!r} cannot be read together; write them in one "
                        "format and one time zone")
    if not mixed:
        # A liberal parser reads "-0" or "-5" as the years 0 and -5: not what anyone means, so not parsed.
        years = parsed.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(parsed.isna().to_numpy() | (years < 1) | (years > 9999))
    if mixed or (len(bad) and offset.any() and not offset.all()):
        plain = np.flatnonzero(~offset)
        raise DataError(f"{source}: {int(offset.sum())} timestamps in column {column!r} carry a UTC offset and "
                        f"{len(plain)} do not ({table.rows(plain)}); write every one with its offset, or none")
    if len(bad):
        shown = ", ".join(repr(str(raw.iloc[p])) for p in bad[:SHOWN])
        raise DataError(f"{source}: {len(bad)} timestamps in column {column!r} do not parse ({table.rows(bad)}: "
                        f"{shown}); write them as dates or times, e.g. 2020-01-31 or 2020-01-31 13:00")
    return pd.DatetimeIndex(parsed)


HUGE = 1e18  # beyond this a value's square overflows float32 (3.4e38)


def _parse_numbers(table: _Table, column: str) -> np.ndarray:
    raw = table.frame[column]
    if pd.api.types.is_bool_dtype(raw.dtype):
        raw = raw.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numbers = pd.to_numeric(raw, errors="coerce")
    values = np.asarray(numbers, dtype=np.float64)
    text = np.flatnonzero(np.isnan(values) & ~_blank(raw))
    if len(text):
        shown = ", ".join(repr(str(raw.iloc[p])) for p in text[:SHOWN])
        raise DataError(f"{table.source}: column {column!r} holds text that is not a number at {table.rows(text)} "
                        f"({shown}); write numbers there (an empty cell is a missing value)")
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise DataError(f"{table.source}: column {column!r} holds an infinite number at {table.rows(infinite)}; "
                        "write finite numbers (an empty cell is a missing value)")
    # The model computes in float32 (and squares and sums values to scale them): a value beyond
    # about 1e18 overflows there, and its window would be silently lost. Say so, with the rows.
    huge = np.flatnonzero(np.abs(np.nan_to_num(values)) > HUGE)
    if len(huge):
        shown = ", ".join(f"{values[p]:.3g}" for p in huge[:SHOWN])
        raise DataError(f"{table.source}: column {column!r} holds numbers too large for the model at "
                        f"{table.rows(huge)} ({shown}; at most {HUGE:.0e}); fix those values, or rescale the column")
    return values


# ----------------------------------------------------------------------------- frequency and timeline
def infer_frequency(times: pd.DatetimeIndex) -> str | None:
    """The frequency of increasing timestamps as a pandas alias (`h`, `D`, `W-SAT`, `MS`), or None.

    pandas infers it only from timestamps without gaps; when that fails, the most common
    frequency of short runs of 7 timestamps is taken, so that a few missing steps do not
    hide the frequency.
    """
    if len(times) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 warns that infer_freq will return an offset
        found = pd.infer_freq(times)
        if found is None and len(times) >= 7:
            counts: Counter = Counter()
            for start in np.unique(np.linspace(0, len(times) - 7, num=min(200, len(times) - 6)).astype(int)):
                run = pd.infer_freq(times[start : start + 7])
                if run is not None:
                    counts[getattr(run, "freqstr", run)] += 1
            found = counts.most_common(1)[0][0] if counts else None
    return None if found is None else getattr(found, "freqstr", found)


def _on_grid(raw: _Raw, offset: pd.DateOffset, table: _Table, name: str,
             freq: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Put a series on its regular timeline: every step from its first to its last timestamp.

    Returns:
        `(times (T,), values (T, C) with NaN rows for missing steps, row (T,) the table row
        of each step or -1)`.

    Raises:
        DataError: a timestamp is not on the timeline of `freq` that starts at the first one.
    """
    start, end = raw.times[0], raw.times[-1]
    if isinstance(offset, pd.offsets.Tick):
        # A frequency far too fine for the data (seconds for monthly rows) would build a huge timeline.
        steps = (end - start) / pd.Timedelta(offset)
        if steps > 100 * len(raw.times) + 10_000:
            raise DataError(f"{table.source}: {name} spans {steps:,.0f} steps of {freq} from {_stamp(start)} to "
                            f"{_stamp(end)} but has only {len(raw.times)} rows: is --data.freq right?")
    grid = pd.date_range(start, end, freq=offset)
    where = grid.get_indexer(raw.times)
    off = np.flatnonzero(where < 0)
    if len(off):
        raise DataError(f"{table.source}: {len(off)} timestamps of {name} are not on the {freq} timeline that "
                        f"starts at {_stamp(start)} ({table.rows(raw.positions[off])}: {_stamps(raw.times[off])}); "
                        "fix them, or give the right --data.freq")
    values = np.full((len(grid), raw.values.shape[1]), np.nan)
    values[where] = raw.values
    rows = np.full(len(grid), -1, dtype=np.int64)
    rows[where] = raw.positions
    return grid, values, rows


def _fill(times: pd.DatetimeIndex, values: np.ndarray, rows: np.ndarray, policy: str, columns: list[str],
          table: _Table, name: str) -> tuple[np.ndarray, int]:
    """Fill missing steps and empty cells by `policy`, or refuse them.

    Returns:
        `(values (T, C) without NaN, the number of steps that had something missing)`.

    Raises:
        DataError: with `error`, anything missing (the first timestamps named); a column
            without any value; with `ffill`, missing values at the start (nothing before them).
    """
    missing = np.isnan(values)
    steps = np.flatnonzero(missing.any(axis=1))
    if len(steps) == 0:
        return values, 0
    empty = [columns[j] for j in np.flatnonzero(missing.all(axis=0))]
    if empty:
        raise DataError(f"{table.source}: {name} has no value at all in column{'s' if len(empty) > 1 else ''} "
                        f"{empty}; give values or leave the column out")
    if policy == "error":
        described = []
        for step in steps[:SHOWN]:
            if rows[step] < 0:
                described.append(f"{_stamp(times[step])} (no row)")
            else:
                cells = [columns[j] for j in np.flatnonzero(missing[step])]
                described.append(f"{_stamp(times[step])} ({table.rows([rows[step]])}: {', '.join(cells)} empty)")
        gaps = int((rows[steps] < 0).sum())
        more = f" and {len(steps) - SHOWN} more" if len(steps) > SHOWN else ""
        raise DataError(f"{table.source}: {name} has {len(steps)} missing steps ({gaps} without a row, "
                        f"{len(steps) - gaps} with empty cells): {'; '.join(described)}{more}; fill them, or choose "
                        "--data.missing interpolate or ffill")
    frame = pd.DataFrame(values)
    if policy == "interpolate":
        # Linear in the step index (the timeline is regular); ends take the nearest value.
        filled = frame.interpolate(method="linear", limit_direction="both")
    else:
        # Steps at which some column has had no value since the start.
        leading = np.flatnonzero(np.logical_and.accumulate(missing, axis=0).any(axis=1))
        if len(leading):
            raise DataError(f"{table.source}: {name} starts with missing values ({_stamps(times[leading])}); "
                            "ffill has nothing before them to carry forward: drop those rows or choose "
                            "--data.missing interpolate")
        filled = frame.ffill()
    return filled.to_numpy(dtype=np.float64), len(steps)


def _check_positive(times: pd.DatetimeIndex, targets: np.ndarray, rows: np.ndarray, columns: list[str],
                    table: _Table, name: str) -> None:
    """Refuse target values that have no log: zero or below (NaN too).

    Args:
        times: `(T,)` the series' timeline.
        targets: `(T, n_targets)` its filled target values.
        rows: `(T,)` the table row of each step, or -1 for a step without one.
        columns: the target columns.

    Raises:
        DataError: a target value is not above 0 (the first timestamps and rows named).
    """
    bad = ~(targets > 0)  # (T, n_targets); NaN compares False, so it is bad too
    steps = np.flatnonzero(bad.any(axis=1))
    if len(steps) == 0:
        return
    named = [columns[j] for j in np.flatnonzero(bad.any(axis=0))]
    given = rows[steps][rows[steps] >= 0]  # a filled step has no row to name
    where = f" ({table.rows(given)})" if len(given) else ""
    count = f"{len(steps)} step{'s' if len(steps) > 1 else ''}"
    raise DataError(f"{table.source}: {name} has {count} with a target value at or below 0 in {named}: "
                    f"{_stamps(times[steps])}{where}; the log transform (--data.target_transform log) needs positive "
                    "values: fix those rows, or choose --data.target_transform none")


def table_frequency(raws: list[_Raw], table: _Table, id_column: str | None) -> str:
    """The one frequency of every series of a table, inferred from their timestamps (refused when they differ)."""
    found = {raw.id: infer_frequency(raw.times) for raw in raws}
    # A series whose frequency cannot be told (too short, irregular) is checked against the
    # others' frequency when it is put on its timeline, so only all failing is an error.
    found = {key: freq for key, freq in found.items() if freq is not None} or found
    unknown = [key for key, freq in found.items() if freq is None]
    if unknown:
        raise DataError(f"{table.source}: cannot infer the frequency of {_series_name(unknown[0], id_column)} "
                        f"(too few or irregular timestamps); give it with --data.freq (e.g. h, D, W-SAT, MS)")
    kinds = sorted(set(found.values()))
    if len(kinds) > 1:
        example = {freq: next(key for key, f in found.items() if f == freq) for freq in kinds}
        named = ", ".join(f"{_series_name(key, id_column)} is {freq}" for freq, key in example.items())
        raise DataError(f"{table.source}: the series have different frequencies ({named}); all series need one "
                        "frequency: give --data.freq, or resample them")
    return kinds[0]


def pad_front(values: np.ndarray, times: pd.DatetimeIndex, steps: int,
              freq: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """`steps` of padding before a series: NaN rows in front of `values` `(T, C)`, and the `steps`
    timestamps before its first in front of `times` (so that calendar features go on over the padding)."""
    before = pd.date_range(end=times[0], periods=steps + 1, freq=to_offset(freq))[:-1]
    return np.concatenate([np.full((steps, values.shape[1]), np.nan), values]), before.append(times)


def calendar_features(times: pd.DatetimeIndex, names: Sequence[str]) -> np.ndarray:
    """Calendar features as sin/cos pairs, so that the end of a cycle lies next to its start.

    Args:
        times: the timestamps.
        names: any of `hour` (of the day, with minutes), `weekday` (Monday 0) and `month`.

    Returns:
        `(T, 2 * len(names))` float64: `sin(2 pi x / P), cos(2 pi x / P)` for each name, in order.
    """
    columns = []
    for name in names:
        if name == "hour":
            x = np.asarray(times.hour + times.minute / 60.0, dtype=np.float64)
        elif name == "weekday":
            x = np.asarray(times.day_of_week, dtype=np.float64)
        elif name == "month":
            x = np.asarray(times.month - 1, dtype=np.float64)
        else:
            raise DataError(f"unknown calendar feature {name!r}; choose from {list(CALENDAR)}")
        angle = 2 * math.pi * x / CALENDAR[name]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1) if columns else np.zeros((len(times), 0))
