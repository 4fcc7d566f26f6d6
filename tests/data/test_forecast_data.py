"""The forecasting DataModule: windows that line up and leak nothing, splits by time, scaler from train only,
short validation spans, the log transform, missing-value policies, bad tables, fitted state and forecasting,
real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from jsonargparse import ArgumentParser

from seqkit.data import Columns, ForecastBatch, ForecastData, catalog
from seqkit.data.forecast_arguments import COLUMN_FLAGS
from seqkit.data.forecast import calendar_features, infer_frequency
from seqkit import packaged
from seqkit.errors import DataError

L, H = 6, 3  # a short input window and horizon keep every series here small


def ramp(steps: int, start: str = "2021-01-01", freq: str = "D", offset: float = 0.0) -> pd.DataFrame:
    """One series whose value is its step index (plus `offset`): a window's values say where it lies."""
    times = pd.date_range(start, periods=steps, freq=freq)
    return pd.DataFrame({"time": times, "y": offset + np.arange(steps, dtype=float)})


def long_table() -> pd.DataFrame:
    """Two series of different lengths in one table, rows sorted by time (so the series interleave)."""
    a = ramp(40).assign(id="a")
    b = ramp(30, start="2021-01-05", offset=1000.0).assign(id="b")
    return pd.concat([a, b]).sort_values(["time", "id"], kind="stable").reset_index(drop=True)


def data_of(frame: pd.DataFrame, **options) -> ForecastData:
    roles = {"time_column": "time", "target_columns": "y", **{k: options.pop(k) for k in COLUMN_FLAGS if k in options}}
    settings = {"input_length": L, "horizon": H, **options}
    data = ForecastData(columns=Columns(**roles), **settings).use_dataframe(frame)
    data.setup("fit")
    return data


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- windows and spans
def test_every_window_lines_up_with_its_series_and_unscales_to_the_original_values():
    data = data_of(long_table(), id_column="id", val_size=8, test_size=6)
    assert data.series_ids == ["a", "b"] and data.freq == "D"
    assert data.spans == [(26, 34, 40), (16, 24, 30)]
    offsets = {0: 0.0, 1: 1000.0}
    for split, windows in data.windows.items():
        batch = windows.batch()
        assert batch.past.shape == (len(windows), L, 1) and batch.target.shape == (len(windows), H, 1)
        assert batch.future.shape == (len(windows), H, 0)  # nothing is known over the horizon
        past = data.inverse_transform(batch.past[..., :1], batch.series)[..., 0]
        target = data.inverse_transform(batch.target, batch.series)[..., 0]
        for k in range(len(windows)):
            s, origin = int(batch.series[k]), int(batch.origin[k])
            expected = offsets[s] + torch.arange(origin - L, origin + H, dtype=torch.float32)
            torch.testing.assert_close(torch.cat([past[k], target[k]]), expected, rtol=0, atol=1e-3)
        one = windows[len(windows) - 1]  # an item is one window without the batch dimension
        assert torch.equal(one.past, batch.past[-1]) and int(one.origin) == int(batch.origin[-1])
    loader = data.val_dataloader()
    first = next(iter(loader))
    assert isinstance(first, ForecastBatch) and first.series.dtype == torch.int64
    assert data.window_timestamps(0, 26)[0] == pd.Timestamp("2021-01-27")


def test_no_training_window_sees_a_value_of_the_validation_or_test_span():
    frame = ramp(60).assign(promo=np.arange(60.0), temp=np.arange(60.0))
    data = data_of(frame, val_size=0.2, test_size=0.2, known_columns=["promo"], observed_columns=["temp"],
                   calendar=["weekday"], scale="none", stride=1)
    n_train = data.spans[0][0]
    assert n_train == 36
    train = data.windows["train"].batch()
    # Index arithmetic: inputs start at or after step 0, targets end at or before the training span's end.
    assert int((train.origin - L).min()) == 0 and int((train.origin + H).max()) == n_train
    # Every value column holds its step index, so no step at or after n_train may appear anywhere.
    assert float(train.past[..., :3].max()) == n_train - 1 - H
    assert float(train.target.max()) == n_train - 1 and float(train.future[..., 0].max()) == n_train - 1
    # Validation and test windows: targets wholly inside their span; inputs just before it.
    spans = {"val": (36, 48), "test": (48, 60)}
    for split, (start, stop) in spans.items():
        batch = data.windows[split].batch()
        assert int(batch.origin.min()) == start and int((batch.origin + H).max()) == stop
        assert float(batch.target.min()) == start and float(batch.past[0, 0, 0]) == start - L


def test_the_scaler_and_the_training_windows_do_not_depend_on_what_follows_the_training_span():
    frame = ramp(50).assign(y=lambda f: np.sin(f["y"]) * 5 + 20)
    changed = frame.copy()
    changed.loc[40:, "y"] = 1e6  # after the training span (50 - 5 - 5 = 40 steps)
    one, two = data_of(frame, val_size=5, test_size=5), data_of(changed, val_size=5, test_size=5)
    assert one.spans == two.spans == [(40, 45, 50)]
    np.testing.assert_array_equal(one.mean, two.mean)
    np.testing.assert_array_equal(one.std, two.std)
    train = frame["y"][:40]
    assert one.mean[0, 0] == pytest.approx(train.mean()) and one.std[0, 0] == pytest.approx(train.std(ddof=0))
    for field in ("past", "target"):
        assert torch.equal(getattr(one.windows["train"].batch(), field), getattr(two.windows["train"].batch(), field))
    assert not torch.equal(one.windows["val"].batch().target, two.windows["val"].batch().target)


def test_splits_by_fraction_count_train_size_and_date():
    frame = ramp(100)
    assert data_of(frame, val_size=0.1, test_size=0.25).spans == [(65, 75, 100)]
    assert data_of(frame, val_size=10, test_size=20).spans == [(70, 80, 100)]
    assert data_of(frame, train_size=50, val_size=10, test_size=10).spans == [(50, 60, 70)]  # the last 30 steps unused
    dated = data_of(frame, val_start="2021-03-01", test_start="2021-03-21")
    assert dated.spans == [(59, 79, 100)]  # 2021-03-01 is step 59
    no_test = data_of(frame, val_size=10, test_size=0)
    assert no_test.spans == [(90, 100, 100)] and "test" not in no_test.windows
    with pytest.raises(DataError, match="there is no test span"):
        no_test.test_dataloader()
    stride = data_of(frame, stride=4, val_size=10, test_size=10)
    origins = stride.windows["train"].origins
    assert origins[:3].tolist() == [L, L + 4, L + 8] and len(stride.windows["val"]) == 10 - H + 1  # eval: every step


def test_training_batches_shuffle_windows_only_within_the_training_span_and_repeat_with_the_seed():
    data = data_of(ramp(80), batch_size=8)
    order = [batch.origin.tolist() for batch in data.train_dataloader()]
    again = [batch.origin.tolist() for batch in data_of(ramp(80), batch_size=8).train_dataloader()]
    assert order == again and sum(order, []) != sorted(sum(order, []))
    assert max(sum(order, [])) + H <= data.spans[0][0]
    assert [b.origin.tolist() for b in data.val_dataloader()] == [list(range(data.spans[0][0], data.spans[0][1] - H + 1))]


def test_many_series_in_one_long_table_are_kept_apart():
    table = long_table()
    data = data_of(table, id_column="id", val_size=0.2, test_size=0.2, scale="none")
    train = data.windows["train"].batch()
    for s, offset in ((0, 0.0), (1, 1000.0)):
        rows = train.series == s
        assert float(train.past[rows].min()) >= offset and float(train.past[rows].max()) < offset + 100
    short = pd.concat([table, ramp(7, offset=5000.0).assign(id="c")])
    with pytest.raises(DataError, match=r"series 'c' has 7 steps, fewer than input_length \+ horizon = 6 \+ 3"):
        data_of(short, id_column="id")


def test_calendar_and_known_covariates_come_over_the_past_and_the_horizon():
    frame = ramp(24 * 6, start="2021-03-01", freq="h").assign(price=lambda f: f["y"] * 2, load=lambda f: -f["y"])
    data = data_of(frame, known_columns=["price"], observed_columns=["load"], calendar=["hour", "weekday", "month"],
                   scale="none")
    assert data.freq == "h"
    assert data.past_columns == ["y", "load", "price", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos",
                                 "month_sin", "month_cos"]
    assert data.future_columns == ["price", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "month_sin", "month_cos"]
    assert (data.input_size, data.future_size, data.n_targets) == (9, 7, 1)
    window = data.windows["train"][5]
    origin = int(window.origin)
    times = pd.date_range("2021-03-01", periods=24 * 6, freq="h")
    torch.testing.assert_close(window.future[:, 0], 2 * torch.arange(origin, origin + H, dtype=torch.float32))
    expected = torch.from_numpy(calendar_features(times[origin : origin + H], ["hour", "weekday", "month"])).float()
    torch.testing.assert_close(window.future[:, 1:], expected)
    torch.testing.assert_close(window.past[:, 1], -torch.arange(origin - L, origin, dtype=torch.float32))
    hour = calendar_features(pd.DatetimeIndex(["2021-03-01 06:00"]), ["hour"])
    np.testing.assert_allclose(hour, [[1.0, 0.0]], atol=1e-12)  # 6 o'clock: a quarter of the day


# ----------------------------------------------------------------------------- short validation spans
def test_short_validation_starts_a_window_at_every_validation_step_and_masks_the_steps_after_the_span():
    data = data_of(ramp(60), horizon=8, val_size=3, test_size=10, scale="none", short_validation=True)
    assert data.spans == [(47, 50, 60)]
    n_train, n_val = 47, 50
    val = data.windows["val"]
    batch = val.batch()
    assert batch.origin.tolist() == [47, 48, 49] and batch.target.shape == (3, 8, 1)
    # Every value is its step index: a target step is that value while inside the span, NaN from n_val on.
    steps = batch.origin[:, None] + torch.arange(8)  # (B, H)
    inside = steps < n_val
    torch.testing.assert_close(batch.target[..., 0][inside], steps[inside].float())
    assert torch.isnan(batch.target[..., 0][~inside]).all() and inside.sum(1).tolist() == [3, 2, 1]
    # The inputs end before the origin, so they never reach the test span either.
    assert float(batch.past.max()) == n_val - 2 and float(batch.past.min()) == n_train - L
    # An item masks the same steps as a batch, and masking never writes into the shared features.
    for k in range(len(val)):
        torch.testing.assert_close(val[k].target, batch.target[k], equal_nan=True)
    assert not torch.isnan(val.features).any()
    first = next(iter(data.val_dataloader()))
    torch.testing.assert_close(first.target, batch.target, equal_nan=True)
    # Training and test windows are whole, as without the flag.
    plain = data_of(ramp(60), horizon=8, val_size=10, test_size=10, scale="none")
    for split in ("train", "test"):
        windows = data.windows[split].batch()
        assert not torch.isnan(windows.target).any() and data.windows[split].ends is None
    assert data.windows["test"].origins.tolist() == [50, 51, 52] and data.windows["train"].origins.tolist() == list(
        range(L, n_train - 8 + 1))
    assert plain.windows["val"].ends is None and plain.windows["val"].origins.tolist() == [40, 41, 42]


def test_short_validation_shows_no_test_value_as_a_target_in_any_series():
    table = long_table()  # a: 40 steps, values 0..39; b: 30 steps, values 1000..1029
    data = data_of(table, id_column="id", val_size=2, test_size=5, short_validation=True)
    assert data.spans == [(33, 35, 40), (23, 25, 30)]
    batch = data.windows["val"].batch()
    assert batch.series.tolist() == [0, 0, 1, 1] and batch.origin.tolist() == [33, 34, 23, 24]
    offsets = torch.tensor([0.0, 1000.0])[batch.series]
    for k, n_val in enumerate([35, 35, 25, 25]):
        s, origin = int(batch.series[k]), int(batch.origin[k])
        scored = n_val - origin  # target steps inside the validation span
        true = (offsets[k] + torch.arange(origin, origin + H) - data.mean[s, 0]) / data.std[s, 0]  # scaled truth
        torch.testing.assert_close(batch.target[k, :scored, 0], true[:scored].float())
        assert torch.isnan(batch.target[k, scored:]).all()
    # A span as long as the horizon or longer: windows to its last step, the later ones partly masked.
    longer = data_of(ramp(60), val_size=5, test_size=5, short_validation=True)
    assert longer.windows["val"].origins.tolist() == [50, 51, 52, 53, 54]
    assert torch.isnan(longer.windows["val"].batch().target).sum(1).flatten().tolist() == [0, 0, 0, 1, 2]


def test_short_validation_needs_the_masked_steps_on_the_timeline():
    with pytest.raises(DataError, match=r"with --data.short_validation, the last validation window of the series "
                                        r"reaches 7 steps past the validation span, but only 0 steps follow it; give a "
                                        r"test span of at least 7 steps, or lower --data.horizon$"):
        data_of(ramp(60), horizon=8, val_size=3, test_size=0, short_validation=True)


# ----------------------------------------------------------------------------- the log transform
def positive(steps: int = 60) -> pd.DataFrame:
    """A growing positive series with an observed covariate that is zero or negative (never logged)."""
    return ramp(steps, offset=1.0).assign(y=lambda f: f["y"] ** 1.5, temp=lambda f: -f["y"])


def test_the_log_transform_scales_the_log_of_the_targets_and_inverts_to_the_original_scale():
    frame = positive()
    data = data_of(frame, target_transform="log", observed_columns=["temp"], val_size=10, test_size=10)
    y, temp = frame["y"].to_numpy(), frame["temp"].to_numpy()
    assert data.spans == [(40, 50, 60)]
    np.testing.assert_allclose(data.mean[0], [np.log(y[:40]).mean(), temp[:40].mean()])  # covariates not logged
    np.testing.assert_allclose(data.std[0], [np.log(y[:40]).std(), temp[:40].std()])
    # MASE needs the original values, exactly as read.
    np.testing.assert_array_equal(data.training_targets()[0][:, 0], y[:40])
    for split, windows in data.windows.items():
        batch = windows.batch()
        expected = torch.tensor(y[batch.origin.numpy()[:, None] + np.arange(H)], dtype=torch.float32)  # (B, H)
        back = data.inverse_transform(batch.target, batch.series)
        assert isinstance(back, torch.Tensor) and back.dtype == torch.float32 and back.shape == batch.target.shape
        torch.testing.assert_close(back[..., 0], expected, rtol=1e-5, atol=0)
        numpy = data.inverse_transform(batch.target.numpy().astype(np.float64), batch.series.numpy())
        assert isinstance(numpy, np.ndarray) and numpy.dtype == np.float64
        np.testing.assert_allclose(numpy[..., 0], expected.numpy(), rtol=1e-5)
    # With scale none the model sees the log values themselves; the covariate stays as it is.
    unscaled = data_of(frame, target_transform="log", observed_columns=["temp"], scale="none").windows["train"][0]
    origin = int(unscaled.origin)
    torch.testing.assert_close(unscaled.past[:, 0], torch.tensor(np.log(y[origin - L : origin]), dtype=torch.float32))
    torch.testing.assert_close(unscaled.past[:, 1], torch.tensor(temp[origin - L : origin], dtype=torch.float32))


def test_the_log_transform_refuses_targets_at_or_below_zero_naming_the_series_and_rows(tmp_path):
    rows = "".join(f"2021-01-{day:02d},{0 if day == 4 else -2.5 if day == 9 else day},a\n" for day in range(1, 31))
    path = write(tmp_path / "zero.csv", "time,y,id\n" + rows)
    data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H, target_transform="log")
    with pytest.raises(DataError, match=r"zero.csv: the series has 2 steps with a target value at or below 0 in "
                                        r"\['y'\]: 2021-01-04, 2021-01-09 \(lines 5, 10\); the log transform "
                                        r"\(--data.target_transform log\) needs positive values: fix those rows, or "
                                        r"choose --data.target_transform none$") as error:
        data.setup()
    assert "\n" not in str(error.value)
    table = long_table().assign(y=lambda f: f["y"] + 1.0)
    table.loc[(table["id"] == "b") & (table["time"] == "2021-01-10"), "y"] = -1.0
    with pytest.raises(DataError, match=r"the DataFrame: series 'b' has 1 step with a target value at or below 0 in "
                                        r"\['y'\]: 2021-01-10 \(row 15\); the log transform"):
        data_of(table, id_column="id", target_transform="log")
    data_of(table, id_column="id")  # without the transform the same table is fine


def test_forecast_inputs_take_the_log_of_a_new_history_and_the_forecast_comes_back_on_the_original_scale():
    frame = positive()
    data = data_of(frame, target_transform="log", val_size=10, test_size=10)
    inputs = data.forecast_inputs(frame[["time", "y"]])
    y = frame["y"].to_numpy()
    expected = (np.log(y[-L:]) - data.mean[0, 0]) / data.std[0, 0]
    torch.testing.assert_close(inputs.batch.past[0, :, 0], torch.from_numpy(expected).float())
    last_test = data.windows["test"].batch()
    torch.testing.assert_close(inputs.batch.past[0, :-H], last_test.past[-1, H:])
    table = data.forecast_frame(inputs, torch.zeros(1, H, 1))
    np.testing.assert_allclose(table["y"], np.exp(data.mean[0, 0]))  # a scaled 0 is the mean of the logs
    bad = frame[["time", "y"]].copy()
    bad.loc[57, "y"] = 0.0
    with pytest.raises(DataError, match=r"the DataFrame: the series has 1 step with a target value at or below 0 in "
                                        r"\['y'\]: 2021-02-27 \(row 57\); the log transform"):
        data.forecast_inputs(bad)


def test_the_target_transform_is_saved_restored_and_must_match(tmp_path):
    data = data_of(positive(), target_transform="log")
    state = data.state_dict()
    assert state["target_transform"] == "log"
    torch.save({"data": state}, tmp_path / "state.pt")
    loaded = torch.load(tmp_path / "state.pt", weights_only=True)["data"]
    again = ForecastData.from_state_dict(loaded)
    assert again.target_transform == "log"
    values, series = torch.randn(2, H, 1), torch.tensor([0, 0])
    torch.testing.assert_close(again.inverse_transform(values, series), data.inverse_transform(values, series))
    with pytest.raises(DataError, match=r"the fitted state does not match this data: it has target_transform 'log' "
                                        r"\(here 'none'\); use the checkpoint's data settings"):
        ForecastData(columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H).load_state_dict(state)
    # A state saved before target_transform existed means none.
    old = data_of(positive()).state_dict()
    del old["target_transform"]
    assert ForecastData.from_state_dict(old).target_transform == "none"
    plain = ForecastData(columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H).use_dataframe(positive())
    plain.load_state_dict(old)
    plain.setup()
    np.testing.assert_array_equal(plain.mean, np.asarray(old["mean"]))
    with pytest.raises(DataError, match=r"it has target_transform 'none' \(here 'log'\)"):
        ForecastData(columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H, target_transform="log").load_state_dict(old)


# ----------------------------------------------------------------------------- missing values
def gappy(tmp_path: Path) -> Path:
    rows = ["time,y"] + [f"2021-01-{day:02d},{day}" for day in range(1, 31) if day != 10]
    rows[20] = "2021-01-21,"  # an empty cell (line 21)
    return write(tmp_path / "gappy.csv", "\n".join(rows) + "\n")


def test_missing_policy_error_names_the_first_missing_timestamps_and_the_fix(tmp_path):
    path = gappy(tmp_path)
    before = path.read_bytes()
    data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H)
    with pytest.raises(DataError, match=r"gappy.csv: the series has 2 missing steps \(1 without a row, 1 with empty "
                                        r"cells\): 2021-01-10 \(no row\); 2021-01-21 \(line 21: y empty\); fill them, "
                                        r"or choose --data.missing interpolate or ffill"):
        data.setup()
    assert path.read_bytes() == before


def test_interpolate_and_ffill_fill_what_is_missing_and_say_so(tmp_path):
    path = gappy(tmp_path)
    values = {}
    for policy in ("interpolate", "ffill"):
        data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H, missing=policy, scale="none")
        with pytest.warns(UserWarning, match=f"filled 2 missing steps by {policy}"):
            data.setup()
        assert data.filled == {"": 2} and data.freq == "D"  # the frequency is found despite the gap
        values[policy] = data._values[0][:, 0]
    assert values["interpolate"][9] == 10.0 and values["interpolate"][20] == 21.0
    assert values["ffill"][9] == 9.0 and values["ffill"][20] == 20.0
    rows = "".join(f"2021-01-{day:02d},{day}\n" for day in range(2, 20))
    leading = write(tmp_path / "leading.csv", "time,y\n2021-01-01,\n" + rows)
    with pytest.raises(DataError, match=r"starts with missing values \(2021-01-01\); ffill has nothing before them"):
        ForecastData(train_path=str(leading), columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H, missing="ffill").setup()


# ----------------------------------------------------------------------------- bad tables
GOOD = "".join(f"2021-01-{day:02d},{day},a\n" for day in range(1, 31))

BAD_TABLES = [
    ("time,y,id\n" + GOOD.replace("2021-01-05,5", "2021-01-5x,5"),
     r"1 timestamps in column 'time' do not parse \(line 6: '2021-01-5x'\)"),
    ("time,y,id\n" + GOOD.replace("2021-01-05,5", "2021-01-03,5"),  # named wherever the repeated rows stand
     r"the series has the timestamp 2021-01-03 more than once \(lines 4, 6\); keep one row per timestamp"),
    ("time,y,id\n" + GOOD.replace("2021-01-04,4", "2021-01-0X,4").replace("2021-01-05,5", "2021-01-04,5")
     .replace("2021-01-0X,4", "2021-01-05,4"),
     r"timestamps go backwards in the series: 2021-01-04 at line 6 comes after 2021-01-05 at line 5; sort the rows"),
    ("time,y,id\n" + GOOD.replace("2021-01-06,6", "2021-01-05,6"),
     r"the series has the timestamp 2021-01-05 more than once \(lines 6, 7\); keep one row per timestamp \(a long "
     r"table of several series needs its series column named with --data.columns.id_column\)"),
    ("time,y,id\n" + GOOD.replace(",7,", ",seven,"),
     r"column 'y' holds text that is not a number at line 8 \('seven'\)"),
    ("time,value,id\n" + GOOD, r"no column 'y' \(--data.columns.target_columns\); the columns are \['time', 'value', 'id'\]"),
    ("time;y\n2021-01-01;1\n", r"no column 'time' \(--data.columns.time_column\), 'y' \(--data.columns.target_columns\); the columns "
                               r"are \['time;y'\]; only one column was found"),
    ("time,y,id\n" + "".join(f"2021-01-{day:02d},{day},a\n" for day in range(1, 8)),
     r"the series has 7 steps, fewer than input_length \+ horizon = 6 \+ 3"),
    ("time,y,id\n" + GOOD.replace("2021-01-04,4", ",4"), r"1 rows have no timestamp in column 'time' \(line 5\)"),
    ("time,y,id\n", r"there is a header but no rows"),
]


@pytest.mark.parametrize("text, message", BAD_TABLES)
def test_a_bad_table_gets_a_one_line_error_naming_rows_and_the_file_is_unchanged(tmp_path, text, message):
    path = write(tmp_path / "bad.csv", text)
    before = path.read_bytes()
    data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H)
    with pytest.raises(DataError, match=message) as error:
        data.setup()
    assert "\n" not in str(error.value) and str(error.value).startswith(str(path))
    assert path.read_bytes() == before


def test_several_series_bad_rows_are_named_with_their_series(tmp_path):
    text = "time,y,id\n" + GOOD + GOOD.replace(",a\n", ",b\n").replace("2021-01-09,9", "2021-01-08,9")
    with pytest.raises(DataError, match=r"series 'b' has the timestamp 2021-01-08 more than once \(lines 39, 40\); "
                                        r"keep one row per timestamp$"):
        ForecastData(train_path=str(write(tmp_path / "two.csv", text)), columns=Columns(time_column="time", target_columns="y", id_column="id"), input_length=L, horizon=H).setup()
    with pytest.raises(DataError, match=r"the training span of the series has 8 of its 30 steps, fewer than "
                                        r"input_length \+ horizon = 6 \+ 3 = 9"):
        data_of(ramp(30), val_size=11, test_size=11)
    with pytest.raises(DataError, match=r"the validation span of the series has 2 steps, fewer than the horizon 3, so "
                                        r"no validation window fits; .*, or set --data.short_validation true"):
        data_of(ramp(30), val_size=2, test_size=5)
    with pytest.raises(DataError, match=r"the test span of the series has 2 steps, fewer than the horizon 3, so no "
                                        r"test window fits; change --data.train_size, --data.val_size or "
                                        r"--data.test_size$"):
        data_of(ramp(30), val_size=5, test_size=2, short_validation=True)  # test windows stay whole
    with pytest.raises(DataError, match=r"not on the D timeline that starts at 2021-01-01 \(row 3: 2021-01-04 12:00:00\)"):
        frame = ramp(20)
        frame.loc[3, "time"] = pd.Timestamp("2021-01-04 12:00")
        data_of(frame, freq="D")


def test_a_dataframe_is_read_as_given_and_never_changed():
    frame = long_table()
    frame.loc[5, "y"] = np.nan
    copy = frame.copy(deep=True)
    with pytest.warns(UserWarning, match=r"the DataFrame: filled 1 missing steps by interpolate \(--data.missing\): "
                                         r"1 in series 'b'"):
        data = data_of(frame, id_column="id", missing="interpolate")
    with pytest.warns(UserWarning, match="filled 1 missing steps"):  # the history of a forecast too
        data.forecast_inputs(frame)
    pd.testing.assert_frame_equal(frame, copy)
    text = frame.astype({"y": object})
    text.loc[7, "y"] = "n/a?"
    with pytest.raises(DataError, match=r"the DataFrame: column 'y' holds text that is not a number at row 7 \('n/a\?'\)"):
        data_of(text, id_column="id")


def test_arguments_that_cannot_work_are_refused_before_any_file_is_read(tmp_path):
    missing = str(tmp_path / "absent.csv")
    cases = [
        ({"dataset": "airline", "train_path": missing}, "needs --data.columns.time_column and --data.columns.target_columns"),
        ({"dataset": "nope"}, "unknown dataset 'nope'"),
        ({"dataset": "sst2"}, r"'sst2' is for sentiment, not forecast; the forecast datasets are \['airline', 'co2', 'etth1', 'm3_monthly'"),
        ({"train_path": missing, "time_column": "t"}, "needs --data.columns.time_column and --data.columns.target_columns"),
        ({"dataset": "airline", "calendar": ["hour", "year"]}, r"--data.columns.calendar takes each of \['hour', 'weekday'"),
        ({"dataset": "airline", "observed_columns": ["Passengers"]}, r"column 'Passengers' is named twice"),
        ({"dataset": "airline", "missing": "drop"}, r"--data.missing must be one of \['error', 'interpolate', 'ffill'\]"),
        ({"dataset": "airline", "freq": "fortnightly"}, r"--data.freq 'fortnightly' is not a pandas frequency"),
        ({"dataset": "airline", "val_size": 2.5}, "a fraction between 0 and 1 or a whole number"),
        ({"dataset": "airline", "test_start": "1958-01"}, "--data.test_start needs --data.val_start"),
        ({"dataset": "airline", "val_start": "1958-13-01"}, "--data.val_start '1958-13-01' is not a date"),
        ({"dataset": "airline", "horizon": 0}, "--data.horizon must be at least 1"),
        ({"dataset": "airline", "target_transform": "sqrt"},
         r"--data.target_transform must be one of \['none', 'log'\]"),
    ]
    for options, message in cases:
        roles = {k: options.pop(k) for k in COLUMN_FLAGS if k in options}
        with pytest.raises(DataError, match=message):
            ForecastData(**options, **({"columns": Columns(**roles)} if roles else {}))


def test_the_cli_accepts_one_target_or_a_list_and_counts_or_fractions():
    parser = ArgumentParser()
    parser.add_class_arguments(ForecastData, "data")
    one = parser.parse_args(["--data.columns.target_columns", "OT", "--data.train_size", "8640", "--data.val_size", "0.1"])
    assert one.data.columns.target_columns == "OT" and one.data.train_size == 8640 and one.data.val_size == 0.1
    many = parser.parse_args(["--data.columns.target_columns", "[HUFL, OT]", "--data.columns.calendar", "[hour]"])
    assert many.data.columns.target_columns == ["HUFL", "OT"] and many.data.columns.calendar == ["hour"]
    assert (many.data.short_validation, many.data.target_transform) == (False, "none")
    airline = parser.parse_args(["--data.short_validation", "true", "--data.target_transform", "log"])
    assert airline.data.short_validation is True and airline.data.target_transform == "log"


# ----------------------------------------------------------------------------- fitted state and forecasting
def test_the_fitted_state_is_plain_data_and_forecasts_a_new_table(tmp_path):
    frame = long_table().assign(promo=lambda f: f["y"] % 3)
    data = data_of(frame, id_column="id", known_columns=["promo"], calendar=["weekday"])
    state = data.state_dict()
    torch.save({"data": state}, tmp_path / "state.pt")
    loaded = torch.load(tmp_path / "state.pt", weights_only=True)["data"]
    assert loaded == state and loaded["series"] == ["a", "b"] and loaded["freq"] == "D"
    assert loaded["start"] == ["2021-01-01 00:00:00", "2021-01-05 00:00:00"]
    again = ForecastData.from_state_dict(loaded)
    assert again.input_size == data.input_size == 4 and again.future_size == 3
    values = torch.randn(4, H, 1)
    series = torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(again.inverse_transform(values, series), data.inverse_transform(values, series))
    np.testing.assert_allclose(again.inverse_transform(values.numpy(), series.numpy()),
                               data.inverse_transform(values, series).numpy(), rtol=1e-5, atol=1e-5)

    # A table to forecast: history (the training table) plus the next H days of the known covariate.
    last = frame.groupby("id")["time"].max()
    future = pd.concat([pd.DataFrame({"time": pd.date_range(last[key] + pd.Timedelta(days=1), periods=H, freq="D"),
                                      "y": np.nan, "id": key, "promo": 1.0}) for key in ("b", "a")])
    inputs = again.forecast_inputs(pd.concat([frame, future]))
    assert inputs.series_ids == ["a", "b"] and inputs.batch.series.tolist() == [0, 1]
    assert inputs.batch.past.shape == (2, L, 4) and inputs.batch.future.shape == (2, H, 3) and inputs.batch.target is None
    assert inputs.batch.origin.tolist() == [40, 30]
    assert inputs.timestamps[0][0] == pd.Timestamp("2021-02-10") and len(inputs.timestamps[1]) == H
    last_test = data.windows["test"].batch()
    # The last input window equals the training data's last L steps (those after the last test window's inputs).
    torch.testing.assert_close(inputs.batch.past[0, :-H], last_test.past[last_test.series == 0][-1, H:])
    table = again.forecast_frame(inputs, torch.zeros(2, H, 1))
    assert list(table.columns) == ["id", "time", "y"] and len(table) == 2 * H
    np.testing.assert_allclose(table["y"][:H], data.mean[0, 0])  # a scaled forecast of 0 is the series' mean

    with pytest.raises(DataError, match=r"the known covariate 'promo' of series 'a' is missing over the horizon at "
                                        r"2021-02-12; the forecast after 2021-02-09 needs rows for the next 3 steps"):
        again.forecast_inputs(pd.concat([frame, future.iloc[:-1]]))
    with pytest.raises(DataError, match=r"series 'z' is not among the series the model was trained on"):
        again.forecast_inputs(frame[frame["id"] == "a"].assign(id="z"))
    with pytest.raises(DataError, match=r"the history of series 'a' has 4 steps \(to 2021-01-04\), fewer than "
                                        r"input_length 6"):
        again.forecast_inputs(frame[frame["time"] < "2021-01-05"])


def test_a_loaded_state_scales_the_data_instead_of_a_fitted_one():
    fitted = data_of(ramp(60))
    other = ForecastData(columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=H)
    other.use_dataframe(ramp(60, offset=7.0))
    other.load_state_dict(fitted.state_dict())  # before setup: setup uses it
    other.setup()
    np.testing.assert_array_equal(other.mean, fitted.mean)
    late = data_of(ramp(60, offset=7.0))
    late.load_state_dict(fitted.state_dict())  # after setup: the windows are scaled again
    torch.testing.assert_close(late.windows["train"].batch().past, other.windows["train"].batch().past)
    with pytest.raises(DataError, match=r"the fitted state does not match this data: it has horizon 3 \(here 4\)"):
        ForecastData(columns=Columns(time_column="time", target_columns="y"), input_length=L, horizon=4).load_state_dict(fitted.state_dict())


def test_frequency_inference_tolerates_gaps_and_names_what_it_cannot_infer():
    months = pd.date_range("2000-01-01", periods=40, freq="MS")
    assert infer_frequency(months) == "MS"
    assert infer_frequency(months.delete([5, 17])) == "MS"
    assert infer_frequency(pd.DatetimeIndex(["2021-01-01", "2021-01-02"])) is None
    odd = pd.DataFrame({"time": pd.DatetimeIndex(["2021-01-01", "2021-01-03", "2021-01-04", "2021-01-08", "2021-01-09",
                                                  "2021-01-15", "2021-01-16", "2021-01-25", "2021-01-26", "2021-02-05"]),
                        "y": np.arange(10.0)})
    with pytest.raises(DataError, match=r"cannot infer the frequency of the series .* give it with --data.freq"):
        data_of(odd)


# ----------------------------------------------------------------------------- catalog, embedded and real data
def test_the_file_you_name_replaces_the_recipes_dataset(capsys):
    sample = packaged.sample("store_sales.csv")
    data = ForecastData(dataset="co2", train_path=str(sample), columns=Columns(time_column="date", target_columns="sales", id_column="store"), input_length=14, horizon=7)
    assert data.dataset is None
    data.prepare_data()
    assert f"seqkit: data: {sample} (time 'date', targets ['sales']) in place of the recipe's dataset co2" \
        in capsys.readouterr().err
    data.setup("fit")
    assert len(data._times) == 2  # the two shops of the sample, not the CO2 series


def test_the_co2_series_ships_with_seqkit_and_is_the_default():
    data = ForecastData()
    assert data.dataset == "co2" and data.missing == "interpolate"
    with pytest.warns(UserWarning, match="filled 59 missing steps by interpolate"):
        data.setup()
    assert data.freq == "W-SAT" and len(data._times[0]) == 2284 and data.filled == {"": 59}
    assert not np.isnan(data._values[0]).any()


def test_airline_from_the_corpora_folder(corpora):
    data = ForecastData(dataset="airline", root=str(corpora), input_length=36, horizon=12, val_size=12, test_size=36)
    data.setup()
    assert data.freq == "MS" and len(data._times[0]) == 144 and data.spans == [(96, 108, 144)]
    assert data._times[0][0] == pd.Timestamp("1949-01-01") and data._values[0][[0, -1], 0].tolist() == [112.0, 432.0]
    assert data.state_dict()["train_end"] == ["1956-12-01 00:00:00"]


def test_airline_with_the_log_transform_and_a_year_of_validation(corpora):
    data = ForecastData(dataset="airline", root=str(corpora), input_length=36, horizon=36, val_start="1957-01-01",
                        test_start="1958-01-01", short_validation=True, target_transform="log", scale="none")
    data.setup()
    assert data.spans == [(96, 108, 144)]
    val, test = data.windows["val"].batch(), data.windows["test"].batch()
    assert val.origin.tolist() == list(range(96, 108)) and test.origin.tolist() == [108]
    assert torch.isnan(val.target).sum(1).flatten().tolist() == list(range(24, 36))  # 12 scored steps, then 11, ...
    values = data._values[0][:, 0]
    torch.testing.assert_close(val.target[0, :12, 0], torch.from_numpy(np.log(values[96:108])).float())
    torch.testing.assert_close(data.inverse_transform(test.target, test.series)[0, :, 0],
                               torch.from_numpy(values[108:144]).float())


def test_etth1_from_the_corpora_folder_with_the_standard_split(corpora):
    path = catalog.locate("etth1", str(corpora))["series"]  # sha256 checked against the catalog
    assert path.name == "ETTh1.csv"
    data = ForecastData(dataset="etth1", root=str(corpora), input_length=96, horizon=24,
                        train_size=8640, val_size=2880, test_size=2880)
    data.setup()
    assert data.freq == "h" and len(data._times[0]) == 17_420 and data.n_targets == 7
    assert data.target_columns == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert data.spans == [(8640, 11520, 14400)]  # 12/4/4 months; the last 3,020 hours are not used
    assert {split: len(w) for split, w in data.windows.items()} == {"train": 8521, "val": 2857, "test": 2857}
    assert data.window_timestamps(0, 8640)[0] == pd.Timestamp("2017-06-26")
    by_date = ForecastData(dataset="etth1", root=str(corpora), columns=Columns(target_columns="OT", observed_columns=["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]), input_length=96, horizon=24, val_start="2017-06-26", test_start="2017-10-24")
    by_date.setup()
    assert by_date.spans[0][:2] == (8640, 11520) and by_date.input_size == 7 and by_date.n_targets == 1


def test_local_times_across_a_daylight_saving_change_are_read_as_utc_hours(tmp_path, capsys):
    local = pd.date_range("2021-03-26", periods=96, freq="h", tz="Europe/Berlin")  # 28 March: 02:00 -> 03:00
    stamps = local.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True)
    assert {s[-6:] for s in stamps} == {"+01:00", "+02:00"}  # one zone, two offsets
    path = write(tmp_path / "load.csv", "time,y\n" + "".join(f"{s},{i}\n" for i, s in enumerate(stamps)))
    data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns=["y"]),
                        input_length=L, horizon=H)
    data.setup("fit")
    assert data.freq == "h" and data.filled == {}  # one step an hour: no gap filled, no hour repeated
    assert "several UTC offsets (daylight saving); they are read as UTC" in capsys.readouterr().err
    mixed = write(tmp_path / "mixed.csv", "time,y\n2021-01-01T00:00,1\n" + "".join(
        f"2021-01-01T{h:02d}:00+01:00,{h}\n" for h in range(1, 20)))
    with pytest.raises(DataError, match=r"19 timestamps in column .time. carry a UTC offset and 1 do not \(line 2\)"):
        bad = ForecastData(train_path=str(mixed), columns=Columns(time_column="time", target_columns=["y"]),
                           input_length=L, horizon=H)
        bad.setup("fit")


def test_a_long_table_of_many_series_gets_one_line_naming_the_series(tmp_path):
    """The cases of a competition-style table: a series with no value, a row without id, a horizon longer than
    every series, a (series, time) given twice with other rows between."""
    months = pd.date_range("2000-01-01", periods=40, freq="MS").strftime("%Y-%m-%d")
    rows = [f"{key},{m},{k}\n" for key in ("A", "B") for k, m in enumerate(months)]
    cases = [
        (rows + [f"C,{m},\n" for m in months[:5]], {}, r"series 'C' has no value at all in column \['value'\]"),
        (rows[:3] + [f",{months[3]},3\n"] + rows[4:], {}, r"1 rows have no series id in column 'id' \(line 5\)"),
        (rows, {"horizon": 50}, r"series 'A' has 40 steps, series 'B' has 40 steps, fewer than input_length \+ horizon"),
        (rows + [rows[7]], {}, r"series 'A' has the timestamp 2000-08-01 more than once \(lines 9, 82\)"),
    ]
    for k, (lines, sizes, message) in enumerate(cases):
        path = write(tmp_path / f"long{k}.csv", "id,date,value\n" + "".join(lines))
        data = ForecastData(train_path=str(path), columns=Columns(time_column="date", target_columns=["value"],
                                                                  id_column="id"), **{"input_length": 6, "horizon": 3,
                                                                                      **sizes})
        with pytest.raises(DataError, match=message) as error:
            data.setup("fit")
        assert "\n" not in str(error.value)


def test_padding_lets_a_window_reach_before_the_series_start_and_is_refused_beyond_the_input():
    data = data_of(ramp(20), val_size=H, test_size=H, pad_input=L - 1, calendar=["weekday"])
    train = data.windows["train"].batch()
    assert train.origin[0].item() == 1 and int(torch.isnan(train.past[0, :, 0]).sum()) == L - 1
    # The padding's calendar features are those of the days before the series (no NaN there).
    assert not torch.isnan(train.past[0, :, 1:]).any()
    stamps = pd.date_range(end="2021-01-01", periods=L, freq="D")
    assert torch.allclose(train.past[0, :, 1], torch.tensor(np.sin(2 * np.pi * stamps.day_of_week / 7), dtype=torch.float32))
    with pytest.raises(DataError, match="--data.pad_input must be a whole number from 0 to input_length - 1 = 5"):
        data_of(ramp(20), pad_input=L)
