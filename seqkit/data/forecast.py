"""The forecasting DataModule: time series in a table in, windows of past and future out.

A table holds one row per timestamp: a time column, one or several target columns, and
optionally covariates. Covariates are *observed* (known up to now only, such as a
measured temperature) or *known* (known over the forecast horizon too, such as a planned
promotion); seqkit can add calendar features (hour, weekday, month as sin/cos pairs),
which are known. A long table holds many series, told apart by an id column. The table
comes from a CSV file, a DataFrame, a catalog dataset (`airline`, `etth1`) or the
weekly CO2 series shipped with seqkit (`co2`, `datasets/co2_weekly.csv`; the default).

    rows -> one series per id, on a regular timeline (the frequency inferred or given)
         -> missing steps and empty cells: refused (`error`) or filled (`interpolate`, `ffill`)
         -> optionally the natural log of the targets (`target_transform: log`)
         -> spans by time, per series:  [0, n_train) train | [n_train, n_val) val | [n_val, n_end) test
         -> mean and std per series and column, fitted on the training span only
         -> windows

A window is named by its origin t, the index of its first forecast step in its series'
timeline (steps counted from the series' first timestamp, missing steps included):

    past   = features[t - L : t]              (L, F_in)   scaled targets, observed, known, calendar
    future = known features[t : t + H]        (H, F_known) scaled known covariates, calendar
    target = scaled targets[t : t + H]        (H, n_targets)

with L = `input_length` and H = `horizon`. A training window has t + H <= n_train, so
everything it holds lies in the training span. A validation window's targets lie wholly
in the validation span (n_train <= t, t + H <= n_val); its inputs are the L steps before
t, which may reach back into the training span, as is standard. Test windows likewise.
Training windows start every `stride` steps; evaluation windows every step.

With `pad_input` = P > 0, a window may reach up to P steps before its series' first step
(t >= L - P): those steps of `past` are NaN (padding; calendar features are filled in), and
the forecaster reads only the observed steps. So a series shorter than L + H still gives
the windows it can and is forecast; this is how thousands of short series (M3) share a
model with a long input window.

With `short_validation`, the validation span may be shorter than the horizon (a year of
monthly data, H = 36): validation windows then start at every step of the span,
n_train <= t < n_val, and the target steps at or after n_val are NaN, so that nothing
from the test span is scored or seen as a target (`ForecastBatch.target`).

Messages name rows by the line a user sees in an editor (the header is line 1), or, for a
DataFrame, by its index label.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_warn
from pandas.tseries.frequencies import to_offset
from torch import Tensor
from torch.utils.data import DataLoader

from seqkit.console import say
from seqkit.data import catalog
from seqkit.data.forecast_arguments import Columns, check_arguments, check_roles
from seqkit.data.resumable import EpochRandomSampler, ResumableDataLoader
from seqkit.training.distributed import eval_sampler
from seqkit.errors import DataError
from seqkit.data.series import (  # noqa: F401 (read_csv, calendar_features, infer_frequency: this module's API)
    SHOWN, _check_positive, _fill, _on_grid, _series_name, _Table, calendar_features, infer_frequency,
    pad_front, parse_table, read_csv, table_frequency)
from seqkit.data import fitted_state, new_tables
from seqkit.data.fitted_state import STATE_FORMAT  # noqa: F401 (this module's API)
from seqkit.data.spans import check_sizes, check_training_windows, series_spans, window_need
from seqkit.data.windows import ForecastBatch, ForecastInputs, ForecastWindows  # noqa: F401 (this module's API)

SPLITS = ("train", "val", "test")


class ForecastData(pl.LightningDataModule):
    """Time series for forecasting: a catalog dataset, the CO2 series shipped with seqkit, a CSV file or a DataFrame.

    Args:
        dataset: `"airline"` (monthly, 144 steps) or `"etth1"` (hourly, 7 variables),
            downloaded once or read from `root` / `$SEQKIT_DATA`; or `"co2"`, embedded
            (weekly, shipped with seqkit as `datasets/co2_weekly.csv`), the default when
            no file is given.
        root: a folder that already holds the catalog dataset's file (`timeseries/<file>`).
        train_path: your own CSV file (a `.tsv` is read tab-separated), holding all spans.
            It replaces `dataset` (the file you name wins).
        columns: which column plays which role (`seqkit.data.Columns`): `time_column`,
            `target_columns`, `id_column` (series of a long table), `observed_columns` and
            `known_columns` (covariates), `calendar` (features to add). A dataset has its own.
        freq: the pandas frequency (`h`, `D`, `W-SAT`, `MS`); None infers it.
        missing: what to do with missing steps (a timestamp without a row) and empty
            cells: `error` (name the first ones), `interpolate` (linear; ends take the
            nearest value) or `ffill` (carry the last value forward). None means `error`,
            except for the shipped `co2`, which has 59 missing weeks: `interpolate`.
            Interpolating across the end of the training span uses the first value after
            it; choose `ffill` to rule that out.
        input_length: L, the steps of the input window.
        horizon: H, the steps forecast at once.
        train_size, val_size, test_size: the spans by counting, per series: a number below
            1 is a fraction of the series, a number from 1 up a count of steps. `val_size: 0`
            leaves no validation span: to refit on the whole history for the epochs that a
            run with validation chose (nothing then picks a best checkpoint, and there are
            no conformal intervals). Validation
            and test are the last steps of each series, test last; training is the rest,
            or, with `train_size`, the first `train_size` steps, validation and test right
            after it, and the steps after the test span are left out (ETTh1's standard
            split: 8640, 2880, 2880). `test_size: 0` leaves no test span.
        val_start, test_start: the spans by date instead (ISO dates or times): validation
            from `val_start`, test from `test_start` (or no test span); the sizes are then
            not used.
        short_validation: let the validation span be shorter than the horizon (e.g. the
            12 months of 1957 with a horizon of 36). Validation windows then start at every
            step of the span, and their target steps after it are NaN: not to be scored,
            and no test value is seen through them (losses and metrics must skip NaN
            targets). The steps after the validation span must be on the timeline (at
            least `horizon - 1` of them, e.g. the test span). Off: a validation span needs
            `horizon` steps, and its windows are whole. Test windows are always whole.
        target_transform: `none`, or `log`: the target columns (not the covariates) are
            replaced by their natural log after filling and before scaling, so that `mean`
            and `std` describe the log values (with `scale: none`, the model sees the log
            values themselves). Every target value must then be positive.
            `inverse_transform`, `forecast_frame` and `training_targets` give the original
            scale.
        scale: `standard` (subtract the mean and divide by the standard deviation, per
            series and column, fitted on the training span) or `none`. Calendar features
            are never scaled.
        pad_input: how many steps of an input window may lie before its series' first
            step (0, the default: none). Those steps are NaN in `past` (padding), which the
            forecaster leaves out, so a series needs only `input_length - pad_input + horizon`
            steps of training span, and a new table's series `input_length - pad_input` of
            history. At most `input_length - 1`.
        stride: steps between the origins of consecutive training windows.
        batch_size: windows per training batch; `eval_batch_size` in evaluation.
        seed: the seed of the training order.
        predict_path: for `seqkit predict`: a CSV of series with the model's columns,
            forecast after each series' last step; without it, the training table.

    Raises:
        DataError: arguments that cannot work together, or an unknown dataset (before
            any file is read).

    After `setup`: `series_ids`, `freq`, `mean` and `std` (`(S, C)` over the scaled columns,
    `scaled_columns`), `windows[split]` (`ForecastWindows`), `spans` (per series
    `(n_train, n_val, n_end)`), `filled` (per series, steps filled by the missing policy).
    """

    def __init__(
        self,
        dataset: str | None = None,
        root: str | None = None,
        train_path: str | None = None,
        columns: Columns | None = None,
        freq: str | None = None,
        missing: str | None = None,
        input_length: int = 24,
        horizon: int = 12,
        train_size: int | float | None = None,
        val_size: int | float = 0.2,
        test_size: int | float = 0.2,
        val_start: str | None = None,
        test_start: str | None = None,
        short_validation: bool = False,
        pad_input: int = 0,
        target_transform: str = "none",
        scale: str = "standard",
        stride: int = 1,
        batch_size: int = 32,
        eval_batch_size: int = 256,
        seed: int = 0,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        self.replaced = dataset if train_path is not None else None  # the recipe's dataset that a file replaced
        roles = columns if columns is not None else Columns()
        if not isinstance(roles, Columns):
            raise DataError(f"columns must be a seqkit.data.Columns, got {type(roles).__name__}")
        dataset, implicit, defaults, freq, calendar, target_columns = check_arguments(
            dataset, train_path, roles.time_column, roles.target_columns, roles.calendar, freq, missing, scale,
            target_transform,
            {"input_length": input_length, "horizon": horizon, "stride": stride, "batch_size": batch_size,
             "eval_batch_size": eval_batch_size})
        check_sizes(train_size, val_size, test_size, val_start, test_start)
        if not isinstance(pad_input, int) or not 0 <= pad_input < input_length:
            raise DataError(f"--data.pad_input must be a whole number from 0 to input_length - 1 = "
                            f"{input_length - 1} (steps of an input window that may lie before a series' start); "
                            f"got {pad_input}")
        self.dataset = dataset
        self._implicit = implicit
        self.root = root
        self.train_path = train_path
        self.time_column = roles.time_column or defaults.get("time_column")
        self.target_columns = list(target_columns) if target_columns is not None else None
        self.id_column = roles.id_column or defaults.get("id_column")
        self.observed_columns = list(roles.observed_columns or [])
        self.known_columns = list(roles.known_columns or [])
        check_roles(self.time_column, self.id_column, self.target_columns, self.observed_columns, self.known_columns)
        self.calendar = calendar
        self.freq = freq  # inferred in setup when None
        self.predict_path = predict_path
        self.missing = missing or ("interpolate" if dataset == "co2" else "error")
        self.input_length = input_length
        self.horizon = horizon
        self.train_size = train_size
        self.val_size = val_size
        self.test_size = test_size
        self.val_start = val_start
        self.test_start = test_start
        self.short_validation = short_validation
        self.pad_input = pad_input
        self.target_transform = target_transform
        self.scale = scale
        self.stride = stride
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self._frame: pd.DataFrame | None = None  # set by use_dataframe
        self._given: dict[str, Any] | None = None  # a fitted state to use instead of fitting (load_state_dict)
        self.series_ids: list[str] | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.spans: list[tuple[int, int, int]] = []
        self.filled: dict[str, int] = {}
        self.windows: dict[str, ForecastWindows] = {}
        self._times: list[pd.DatetimeIndex] = []
        self._values: list[np.ndarray] = []  # per series (T, C) on the original scale, filled, not transformed


    # ------------------------------------------------------------------------- names and sizes
    @property
    def source(self) -> str:
        """What the data is, in words: the dataset's name, the file, or "the DataFrame"."""
        if self._frame is not None:
            return "the DataFrame"
        return str(self.train_path) if self.train_path is not None else str(self.dataset)

    @property
    def columns(self) -> Columns:
        """Which column plays which role, as given (`seqkit.data.Columns`), with the dataset's defaults filled in."""
        return Columns(self.time_column, self.target_columns, self.id_column, list(self.observed_columns),
                       list(self.known_columns), list(self.calendar))

    @property
    def scaled_columns(self) -> list[str]:
        """The value columns read from the table, in feature order: targets, observed, known.

        `mean` and `std` describe them; calendar features are not scaled.
        """
        return [*(self.target_columns or []), *self.observed_columns, *self.known_columns]

    @property
    def n_targets(self) -> int:
        """How many series values are forecast per step (the last dimension of `target`)."""
        return len(self.target_columns or [])

    @property
    def past_columns(self) -> list[str]:
        """The name of each feature of `past` (its last dimension), in order."""
        return [*self.scaled_columns, *self._calendar_names()]

    @property
    def future_columns(self) -> list[str]:
        """The name of each feature of `future` (its last dimension), in order."""
        return [*self.known_columns, *self._calendar_names()]

    @property
    def input_size(self) -> int:
        """F_in: features per step of `past`."""
        return len(self.past_columns)

    @property
    def future_size(self) -> int:
        """F_known: features per step of `future` (0 when nothing is known over the horizon)."""
        return len(self.future_columns)

    @property
    def validates(self) -> bool:
        """Whether there is a validation span: not with `val_size: 0` (a refit on the whole history)."""
        return self.val_size != 0 or self.val_start is not None

    def _calendar_names(self) -> list[str]:
        return [f"{name}_{part}" for name in self.calendar for part in ("sin", "cos")]

    # ------------------------------------------------------------------------- input
    def use_dataframe(self, frame: pd.DataFrame) -> ForecastData:
        """Read the series from `frame` instead of a file (the columns as configured); returns self.

        A copy is kept, so that the DataFrame given is never changed and later changes to
        it do not reach the data. Example:
        `ForecastData(columns=Columns(time_column="date", target_columns="sales"), horizon=7).use_dataframe(df)`.
        """
        if self._implicit or self.time_column is None or self.target_columns is None:
            raise DataError("a DataFrame needs columns=Columns(time_column=..., target_columns=...) (the columns of "
                            "the timestamps and of the values to forecast)")
        if self.dataset is not None or self.train_path is not None:
            raise DataError("use_dataframe replaces the file: leave --data.dataset and --data.train_path out")
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"use_dataframe takes a pandas DataFrame, got {type(frame).__name__}")
        self._frame = frame.copy(deep=True)
        self.windows = {}
        return self

    def describe(self) -> str:
        """Which series the run reads, in one line (the first thing `seqkit fit` prints)."""
        columns = f"time {self.time_column!r}, targets {self.target_columns}"
        if self._frame is not None:
            return f"data: a DataFrame ({columns})"
        if self.dataset is not None:
            return f"data: {self.dataset}, {catalog.CATALOG[self.dataset].description}"
        text = f"data: {self.train_path} ({columns})"
        return text + (f" in place of the recipe's dataset {self.replaced}" if self.replaced else "")

    def prepare_data(self) -> None:
        say(f"seqkit: {self.describe()}")
        if catalog.fetched(self.dataset):
            catalog.locate(self.dataset, self.root)  # download once (on one process), verify

    def _table(self) -> _Table:
        if self._frame is not None:
            return _Table(self._frame, "the DataFrame", None)
        if self.train_path is not None:
            return read_csv(self.train_path)
        if self.dataset is None:
            raise DataError("--data.columns are given but no table: give --data.train_path (or call use_dataframe)")
        shipped = catalog.entry(self.dataset).shipped
        if shipped is not None:
            return _Table(shipped(), f"the shipped series {self.dataset!r}", None)
        return read_csv(next(iter(catalog.locate(self.dataset, self.root).values())))

    # ------------------------------------------------------------------------- setup
    def setup(self, stage: str | None = None) -> None:
        if self.windows:
            return
        table = self._table()
        columns = {"target_columns": self.target_columns, "observed_columns": self.observed_columns,
                   "known_columns": self.known_columns}
        raws = parse_table(table, self.time_column, self.id_column, columns)
        freq = self.freq or table_frequency(raws, table, self.id_column)
        offset = to_offset(freq)
        times, values, filled = [], [], {}
        for raw in raws:
            name = _series_name(raw.id, self.id_column)
            grid, grid_values, rows = _on_grid(raw, offset, table, name, freq)
            grid_values, count = _fill(grid, grid_values, rows, self.missing, self.scaled_columns, table, name)
            if self.target_transform == "log":
                _check_positive(grid, grid_values[:, : self.n_targets], rows, self.target_columns, table, name)
            times.append(grid)
            values.append(grid_values)
            if count:
                filled[raw.id] = count
        self._say_filled(table, filled)
        needed, sum_ = window_need(self)
        short = [(raw.id, len(t)) for raw, t in zip(raws, times) if len(t) < needed]
        if short:
            shown = ", ".join(f"{_series_name(key, self.id_column)} has {length} steps"
                              for key, length in short[:SHOWN])
            more = f" (and {len(short) - SHOWN} more series)" if len(short) > SHOWN else ""
            raise DataError(f"{table.source}: {shown}{more}, fewer than {sum_}; give longer series, leave those "
                            "out, lower --data.input_length or --data.horizon, or raise --data.pad_input")
        self.series_ids = [raw.id for raw in raws]
        self.freq = freq
        self._times, self._values, self.filled = times, values, filled
        self.spans = [series_spans(self, t, key, table.source) for key, t in zip(self.series_ids, times)]
        check_training_windows(self, self.spans, table.source)
        if self._given is not None:
            fitted_state.apply_scaler(self, self._given)
        else:
            fitted_state.fit_scaler(self)
        self._build_windows()

    def _say_filled(self, table: _Table, filled: dict[str, int]) -> None:
        """Warn that the missing policy filled steps: filling is never silent."""
        if not filled:
            return
        where = ", ".join(f"{count} in {_series_name(key, self.id_column)}"
                          for key, count in list(filled.items())[:SHOWN])
        more = f" and {len(filled) - SHOWN} more series" if len(filled) > SHOWN else ""
        rank_zero_warn(f"{table.source}: filled {sum(filled.values())} missing steps by {self.missing} "
                       f"(--data.missing): {where}{more}")

    def _transformed(self, values: np.ndarray) -> np.ndarray:
        """`values` `(T, C)` with `target_transform` applied to the target columns (a copy when it changes them)."""
        if self.target_transform == "none":
            return values
        values = values.copy()
        values[:, : self.n_targets] = np.log(values[:, : self.n_targets])  # positive: checked when read
        return values

    def _build_windows(self) -> None:
        """Scaled features of every series, one flat tensor, and the windows of each split."""
        blocks, offsets, start = [], [], 0
        P = self.pad_input
        for s, (times, values) in enumerate(zip(self._times, self._values)):
            scaled = (self._transformed(values) - self.mean[s]) / self.std[s]
            if P:  # P steps of padding before the series: NaN values, calendar features of the steps before it
                scaled, times = pad_front(scaled, times, P, self.freq)
            blocks.append(np.concatenate([scaled, calendar_features(times, self.calendar)], axis=1))
            offsets.append(start + P)  # where the series' first step lies in `features`
            start += len(times)
        features = torch.from_numpy(np.concatenate(blocks).astype(np.float32))  # (sum T_s + P, F_in)
        L, H = self.input_length, self.horizon
        first = L - P  # the first origin whose window fits
        origins: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
        for n_train, n_val, n_end in self.spans:
            origins["train"].append(np.arange(first, n_train - H + 1, self.stride))
            # short_validation: a window at every validation step; its steps from n_val on are masked.
            origins["val"].append(np.arange(max(n_train, first), n_val if self.short_validation else n_val - H + 1))
            origins["test"].append(np.arange(max(n_val, first), n_end - H + 1))
        self.windows = {}
        for split, parts in origins.items():
            series = torch.from_numpy(np.concatenate([np.full(len(o), s, dtype=np.int64) for s, o in enumerate(parts)]))
            found = torch.from_numpy(np.concatenate(parts).astype(np.int64))
            ends = None
            if split == "val" and self.short_validation:
                # The row in `features` where each window's series leaves its validation span.
                val_end = torch.tensor([n_val for _, n_val, _ in self.spans], dtype=torch.int64)  # (S,)
                ends = torch.as_tensor(offsets, dtype=torch.int64)[series] + val_end[series]  # (M,)
            if len(found) or split == "train":
                self.windows[split] = ForecastWindows(features, offsets, series, found, L, H, self.n_targets,
                                                      self.n_targets + len(self.observed_columns), ends)

    # ------------------------------------------------------------------------- loaders
    def _loader(self, split: str) -> DataLoader | list:
        if split == "val" and not self.validates:
            # No validation span, asked for: Lightning then validates nothing (and need not warn that it is so).
            warnings.filterwarnings("ignore", message="Total length of `list` across ranks is zero")
            return []
        if split not in self.windows:
            raise DataError(f"there is no {split} span: set --data.test_size or --data.test_start (and call setup)")
        windows = self.windows[split]
        if split == "train":
            # Resumable: a run killed mid-epoch goes on with the batch it would have trained next (seqkit.data.resumable).
            return ResumableDataLoader(windows, batch_size=self.batch_size, sampler=EpochRandomSampler(windows, self.seed))
        # On many processes, each scores one contiguous share of the windows, none twice (seqkit.training.distributed).
        return DataLoader(windows, batch_size=self.eval_batch_size, shuffle=False, sampler=eval_sampler(self, windows))

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    # ------------------------------------------------------------------------- after setup
    def window_timestamps(self, series: int, origin: int) -> pd.DatetimeIndex:
        """The `H` timestamps that the window `(series, origin)` forecasts."""
        return self._times[series][origin : origin + self.horizon]

    def training_targets(self) -> list[np.ndarray]:
        """Each series' targets over its training span on the original scale, `(n_train, n_targets)` (for MASE).

        The original scale whatever `target_transform` is: the values as read (and filled),
        neither logged nor scaled.
        """
        if not self.spans:
            raise DataError("the data is not set up yet: call setup() first")
        return [values[:n_train, : self.n_targets] for values, (n_train, _, _) in zip(self._values, self.spans)]

    def inverse_transform(self, values: Tensor | np.ndarray,
                          series: Tensor | np.ndarray | Sequence[int]) -> Tensor | np.ndarray:
        """Scaled targets back on the original scale: unscaled, then undoing `target_transform`.

        Args:
            values: `(B, ..., n_targets)` scaled targets (or forecasts), torch or numpy.
            series: `(B,)` the series of each row (`ForecastBatch.series`).

        Returns:
            `values * std + mean` of each row's series (its `exp` with `target_transform:
            log`), of the same type, device and shape. NaN stays NaN.
        """
        if self.mean is None:
            raise DataError("the scaler is not fitted yet: call setup() or load_state_dict() first")
        index = np.asarray(series.cpu() if isinstance(series, Tensor) else series, dtype=np.int64)
        shape = (len(index),) + (1,) * (values.ndim - 2) + (self.n_targets,)
        mean = self.mean[index, : self.n_targets].reshape(shape)
        std = self.std[index, : self.n_targets].reshape(shape)
        if isinstance(values, Tensor):
            unscaled = values * torch.as_tensor(std, dtype=values.dtype, device=values.device) + torch.as_tensor(
                mean, dtype=values.dtype, device=values.device)
            return torch.exp(unscaled) if self.target_transform == "log" else unscaled
        unscaled = values * std + mean
        return np.exp(unscaled) if self.target_transform == "log" else unscaled

    # ------------------------------------------------------------------------- fitted state (data/fitted_state.py)
    def state_dict(self) -> dict[str, Any]:
        """What a model needs to use this data again, as plain data (Lightning saves it in each checkpoint)."""
        return fitted_state.state_dict(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Use a fitted state (a checkpoint's) instead of fitting one; refused when it does not match this data."""
        fitted_state.load_state_dict(self, state_dict)

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Any]) -> ForecastData:
        """A DataModule that holds only a fitted state: for `inverse_transform` and `forecast_inputs`."""
        return fitted_state.from_state_dict(cls, state_dict)

    # ------------------------------------------------------------------------- forecasting a new table
    def forecast_inputs(self, frame: pd.DataFrame | _Table) -> ForecastInputs:
        """The last input window of every series of `frame`, scaled with the fitted state (`data.new_tables`)."""
        return new_tables.forecast_inputs(self, frame)

    def forecast_frame(self, inputs: ForecastInputs, forecasts: Tensor | np.ndarray) -> pd.DataFrame:
        """Forecasts `(S, H, n_targets)` on the model's scale as a table on the original scale (`data.new_tables`)."""
        return new_tables.forecast_frame(self, inputs, forecasts)
