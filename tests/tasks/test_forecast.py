"""ForecastTask: the direct multi-step head, baselines as a starting point, per-window normalisation,
the losses, metrics on the original scale beside the baselines, checkpoints, forecasting, fine-tuning."""

from __future__ import annotations

from functools import partial
import math
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from seqkit import forecast_metrics as fm
from seqkit.data import Columns, ForecastData
from seqkit.data.forecast_arguments import COLUMN_FLAGS
from seqkit.errors import CheckpointError, DataError, SeqkitError
from seqkit.modules import LSTM, RNN
from seqkit.forecasting import score_windows
from seqkit.models import Naive, PinballLoss, SeasonalDrift, SeasonalNaive
from seqkit.tasks.forecast import ForecastTask

L, H = 24, 6


def seasonal(steps: int = 240, start: str = "2000-01-01", level: float = 50.0, seed: int = 0) -> pd.DataFrame:
    """A monthly-like series: level, trend, a 12-step season and a little noise."""
    t = np.arange(steps)
    noise = np.random.default_rng(seed).normal(0, 0.3, steps)
    y = level + 0.05 * t + 5 * np.sin(2 * np.pi * t / 12) + noise
    return pd.DataFrame({"time": pd.date_range(start, periods=steps, freq="D"), "y": y})


def two_series() -> pd.DataFrame:
    return pd.concat([seasonal().assign(id="a"), seasonal(level=200.0, seed=1).assign(id="b")], ignore_index=True)


def data_of(frame: pd.DataFrame, **options) -> ForecastData:
    roles = {"time_column": "time", "target_columns": "y", **{k: options.pop(k) for k in COLUMN_FLAGS if k in options}}
    settings = {"input_length": L, "horizon": H, "batch_size": 32, **options}
    return ForecastData(columns=Columns(**roles), **settings).use_dataframe(frame)


def trainer(root: Path, **options) -> pl.Trainer:
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      logger=False, **options)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small quantile LSTM trained on two seasonal series, tested, with its checkpoint."""
    root = tmp_path_factory.mktemp("forecast")
    data = data_of(two_series(), id_column="id")
    task = ForecastTask(LSTM(1, 16), loss=PinballLoss([0.1, 0.5, 0.9]), revin=True, baseline=SeasonalNaive(12), season=12, optimizer=partial(torch.optim.AdamW, lr=0.01))
    run = trainer(root, max_epochs=8)
    run.fit(task, data)
    results = run.test(task, data, verbose=False)[0]
    return task, data, results, next(root.rglob("last.ckpt")), root


# ----------------------------------------------------------------------------- the model
def test_the_head_emits_the_whole_horizon_and_the_encoder_reads_every_input_feature(tmp_path):
    frame = seasonal().assign(x=lambda f: np.arange(len(f)) % 5, k=lambda f: np.arange(len(f)) % 3)
    data = data_of(frame, observed_columns=["x"], known_columns=["k"], calendar=["weekday"])
    task = ForecastTask(RNN(1, 8), loss=PinballLoss([0.9, 0.5, 0.1]))
    trainer(tmp_path, max_steps=2, limit_val_batches=1).fit(task, data)
    assert task.encoder.input_size == data.input_size == 1 + 1 + 1 + 2  # target, observed, known, weekday sin/cos
    batch = data.windows["val"].batch([0, 1, 2])
    output = task(batch.past, batch.future)
    assert output.shape == (3, H, 1, 3) and task.quantiles == [0.1, 0.5, 0.9]
    assert task.point(output).shape == (3, H, 1)
    assert task.head.in_features == 8 + H * data.future_size  # the last state and the known future


def test_with_a_baseline_the_untrained_model_is_that_baseline(tmp_path):
    data = data_of(seasonal())
    data.setup("fit")
    batch = data.windows["test"].batch()
    for kind, expected in ((Naive(), fm.naive_forecast(batch.past, H)),
                           (SeasonalNaive(12), fm.seasonal_naive_forecast(batch.past, H, 12)),
                           (SeasonalDrift(12), fm.seasonal_drift_forecast(batch.past, H, 12))):
        task = ForecastTask(LSTM(1, 8), baseline=kind, season=12)
        task.shapes = {name: getattr(data, name) for name in ("input_size", "future_size", "n_targets", "input_length",
                                                                "horizon")}
        task._build_layers()
        torch.testing.assert_close(task.point(task(batch.past, batch.future)), expected)


def test_a_baseline_reads_a_windows_padding_as_its_first_observed_value():
    from seqkit.models import RecurrentForecaster

    past = (torch.arange(48.0) % 12 + torch.arange(48.0) / 10).view(1, 48, 1).repeat(2, 1, 1)
    padded, filled = past.clone(), past.clone()
    padded[:, :6], filled[:, :6] = float("nan"), past[:, 6:7]
    for revin in (True, False):  # the untrained model is its baseline (the head starts at zero)
        model = RecurrentForecaster(LSTM(1, 8), horizon=H, n_targets=1, revin=revin, baseline=SeasonalDrift(12))
        torch.testing.assert_close(model(padded, torch.zeros(2, H, 0)), model(filled, torch.zeros(2, H, 0)),
                                   atol=1e-4, rtol=1e-4)


def test_per_window_normalisation_makes_the_forecast_follow_the_window_level_and_scale():
    from seqkit.models import RecurrentForecaster

    model = RecurrentForecaster(LSTM(1, 8), horizon=H, n_targets=1, revin=True)
    past, future = torch.randn(4, L, 1), torch.zeros(4, H, 0)
    base = model(past, future)
    torch.testing.assert_close(model(past + 7.0, future), base + 7.0)  # a shifted window, a shifted forecast
    torch.testing.assert_close(model(past * 3.0, future), base * 3.0, atol=1e-4, rtol=1e-4)
    plain = RecurrentForecaster(LSTM(1, 8), horizon=H, n_targets=1)
    assert not torch.allclose(plain(past + 7.0, future), plain(past, future) + 7.0)  # without it, no such thing
    task = ForecastTask(LSTM(1, 8), revin=True)  # the task builds the same model from the data's sizes
    task.shapes = {"input_size": 1, "future_size": 0, "n_targets": 1, "input_length": L, "horizon": H}
    task._build_layers()
    assert isinstance(task.model, RecurrentForecaster) and task.model.revin


def test_the_pinball_loss_weighs_under_and_over_forecasts_by_the_quantile():
    quantiles = torch.tensor([0.1, 0.9])
    target = torch.tensor([10.0])
    under = torch.tensor([[8.0, 8.0]])  # both forecasts 2 below the truth
    # q 0.1: 0.1 * 2 = 0.2; q 0.9: 0.9 * 2 = 1.8; mean 1.0
    assert PinballLoss(quantiles.tolist())(under, target).item() == pytest.approx(1.0)
    over = torch.tensor([[12.0, 12.0]])  # 2 above: (1 - 0.1) * 2 = 1.8, (1 - 0.9) * 2 = 0.2
    assert PinballLoss(quantiles.tolist())(over, target).item() == pytest.approx(1.0)
    assert PinballLoss(quantiles.tolist())(torch.tensor([[10.0, 10.0]]), target).item() == 0.0


def test_masked_steps_are_left_out_of_the_loss():
    task = ForecastTask(LSTM(1, 4), loss=torch.nn.L1Loss())
    forecast = torch.zeros(1, 3, 1, 1)
    target = torch.tensor([[[1.0], [float("nan")], [3.0]]])
    assert task._loss(forecast, target).item() == pytest.approx(2.0)


@pytest.mark.parametrize("arguments, message", [
    ({"loss": torch.nn.HuberLoss()}, "loss must be one of torch.nn.MSELoss, torch.nn.L1Loss, seqkit.models.PinballLoss"),
    ({"baseline": "drift"}, "baseline must be None or a seqkit.models.Baseline"),
    ({"season": 0}, "season must be at least 1"),
    ({"init_scaler": "maybe"}, "init_scaler"),
])
def test_arguments_that_cannot_work_are_refused(arguments, message):
    with pytest.raises(SeqkitError, match=message):
        ForecastTask(LSTM(1, 4), **arguments)


@pytest.mark.parametrize("quantiles", [[0.5, 1.5], [0.5, 0.5], []])
def test_quantiles_that_cannot_work_are_refused(quantiles):
    with pytest.raises(ValueError, match="distinct and between 0 and 1"):
        PinballLoss(quantiles)
    with pytest.raises(SeqkitError, match="must include 0.5"):
        ForecastTask(LSTM(1, 4), loss=PinballLoss([0.1, 0.9]))


def test_a_season_longer_than_the_input_window_is_refused_when_the_model_is_built(tmp_path):
    with pytest.raises(SeqkitError, match="season 30 does not fit in the input window of 24 steps"):
        trainer(tmp_path, max_steps=1).fit(ForecastTask(LSTM(1, 4), baseline=SeasonalNaive(30)), data_of(seasonal()))


def test_a_forecaster_in_segments_trains_tests_and_checks_its_window(tmp_path):
    """`segment`: each target alone, its window in segments (SegRNN); the window must divide into them."""
    task = ForecastTask(LSTM(1, 8), segment=6, revin=True, linear_skip=True)
    trainer(tmp_path, max_epochs=2).fit(task, data_of(seasonal()))
    assert task.model.encoder.input_size == 6 and task.model.segment == 6
    (row,) = trainer(tmp_path).test(task, data_of(seasonal()))
    assert np.isfinite(row["test/loss"])
    reloaded = ForecastTask.from_checkpoint(next(tmp_path.rglob("last.ckpt")))  # rebuilt in segments from its hparams
    assert reloaded.model.segment == 6
    pd.testing.assert_frame_equal(reloaded.forecast(seasonal()), task.forecast(seasonal()))
    with pytest.raises(SeqkitError, match=r"segment=7 must divide the input window of 24 steps; set --data.input_length"):
        trainer(tmp_path, max_steps=1).fit(ForecastTask(LSTM(1, 4), segment=7), data_of(seasonal()))
    with pytest.raises(SeqkitError, match="segment must be a whole number of steps"):
        ForecastTask(LSTM(1, 4), segment=-2)
    with_covariate = seasonal().assign(load=lambda frame: frame["y"] * 2.0)
    with pytest.raises(SeqkitError, match=r"segment=6 reads each target alone and takes no covariates; this data has 1 "
                                          r"observed and 0 known ones"):
        trainer(tmp_path, max_steps=1).fit(ForecastTask(LSTM(1, 4), segment=6),
                                           data_of(with_covariate, observed_columns=["load"]))


# ----------------------------------------------------------------------------- metrics
def test_scores_leave_out_masked_steps_and_scale_mase_per_series():
    true = np.array([[[10.0], [np.nan]], [[100.0], [110.0]]])
    pred = np.array([[[12.0], [0.0]], [[90.0], [110.0]]])
    scales = np.array([[2.0], [10.0]])  # series 0's naive error 2, series 1's 10
    metrics, notes = score_windows(true, pred, np.array([0, 1]), scales, true / 10, pred / 10)
    assert metrics["mae"] == pytest.approx((2 + 10 + 0) / 3)
    assert metrics["rmse"] == pytest.approx(math.sqrt((4 + 100 + 0) / 3))
    assert metrics["mape"] == pytest.approx(100 * (0.2 + 0.1 + 0) / 3)
    assert metrics["mase"] == pytest.approx((2 / 2 + 10 / 10 + 0) / 3)
    assert metrics["scaled_mse"] == pytest.approx((0.04 + 1.0 + 0) / 3)
    assert notes == []


def test_training_learns_and_the_test_table_puts_the_model_beside_the_baselines(trained):
    task, data, results, _, root = trained
    assert {"test/mae", "test/rmse", "test/mape", "test/smape", "test/mase", "test/scaled_mse"} <= set(results)
    table = pd.read_csv(next(root.rglob("test_metrics.csv")), index_col="forecaster")
    assert list(table.index) == ["seqkit", "naive", "seasonal naive (m=12)", "seasonal naive + drift", "linear"]
    assert table.loc["seqkit", "mae"] == pytest.approx(results["test/mae"], rel=1e-5)
    # The series are seasonal with noise 0.3: the trained model beats the naive forecast by far.
    assert table.loc["seqkit", "mae"] < 0.5 * table.loc["naive", "mae"]
    # On the original scale: series b lies near 200, so the MAE is in the series' units, not z-scores.
    assert table.loc["naive", "mae"] > 3 * table.loc["naive", "scaled_mae"]


def test_the_test_run_scores_every_origin_of_the_test_span(trained):
    _, data, results, _, root = trained
    backtest = pd.read_csv(next(root.rglob("backtest.csv")))
    assert len(backtest) == len(data.windows["test"])
    assert set(backtest["series"]) == {"a", "b"}
    # Every window has the same number of steps, so the mean over origins is the overall MAE.
    assert backtest["mae"].mean() == pytest.approx(results["test/mae"], rel=1e-4)
    first = data.windows["test"].batch([0])
    expected = data.window_timestamps(int(first.series[0]), int(first.origin[0]))[0]
    assert pd.Timestamp(backtest["origin"][0]) == expected


# ----------------------------------------------------------------------------- checkpoints and forecasting
def test_a_checkpoint_loads_as_plain_data_and_forecasts_each_series_with_quantiles(trained):
    task, data, _, checkpoint, _ = trained
    raw = torch.load(checkpoint, weights_only=True, map_location="cpu")
    assert raw["seqkit"]["task"] == "forecast" and raw["seqkit"]["data"]["series"] == ["a", "b"]
    model = ForecastTask.from_checkpoint(checkpoint)
    history = two_series()
    before = history.copy()
    result = model.forecast(history)
    pd.testing.assert_frame_equal(history, before)  # the user's table is not changed
    assert list(result.columns) == ["id", "time", "y", "y_q10", "y_q50", "y_q90"]
    assert len(result) == 2 * H
    for key, part in result.groupby("id"):
        last = history[history["id"] == key]["time"].max()
        assert list(part["time"]) == list(pd.date_range(last, periods=H + 1, freq="D")[1:])
    assert (result["y_q10"] <= result["y"]).all() and (result["y"] <= result["y_q90"]).all()
    assert (result["y"] == result["y_q50"]).all()
    # Series b lies near 200 + trend, a near 50 + trend: forecasts are on each series' own scale.
    means = result.groupby("id")["y"].mean()
    assert 50 < means["a"] < 75 and 200 < means["b"] < 225
    # The same model object, the same forecast.
    point = model.forecast(history, horizon=2)
    assert len(point) == 4 and point.groupby("id").size().tolist() == [2, 2]
    with pytest.raises(SeqkitError, match="horizon must be between 1 and 6"):
        model.forecast(history, horizon=7)


def test_another_tasks_checkpoint_is_refused(tmp_path):
    from seqkit.data.next_word import NextWordData
    from seqkit.tasks.next_word import NextWordTask

    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\n" * 200)
    run = trainer(tmp_path, max_steps=1, limit_val_batches=1)
    run.fit(NextWordTask(LSTM(8, 8)), NextWordData(train_path=str(text), batch_size=2, eval_batch_size=2, bptt=5))
    with pytest.raises(CheckpointError, match="'next_word' task"):
        ForecastTask.from_checkpoint(next(tmp_path.rglob("last.ckpt")))


def test_fine_tuning_keeps_the_model_and_refuses_other_columns(trained, tmp_path):
    task, _, _, checkpoint, _ = trained
    new = seasonal(level=120.0, seed=5).assign(id="c")
    fresh = ForecastTask(LSTM(1, 16), loss=PinballLoss([0.1, 0.5, 0.9]), revin=True, baseline=SeasonalNaive(12), season=12, optimizer=partial(torch.optim.AdamW, lr=0.001))
    data = data_of(new, id_column="id")
    fresh.init_from_checkpoint(checkpoint, data)
    run = trainer(tmp_path, max_steps=1, limit_val_batches=1)
    run.fit(fresh, data)
    assert fresh.data_state["series"] == ["c"]  # refit: the new series' own scaler
    other = data_of(new.rename(columns={"y": "load"}).assign(id="c"), target_columns="load", id_column="id")
    with pytest.raises(CheckpointError, match=r"target_columns \['y'\] \(the data has \['load'\]\)"):
        ForecastTask(LSTM(1, 16)).init_from_checkpoint(checkpoint, other)
    longer = data_of(new, id_column="id", input_length=36)
    with pytest.raises(CheckpointError, match="input_length 24 \\(the data has 36\\)"):
        ForecastTask(LSTM(1, 16)).init_from_checkpoint(checkpoint, longer)


def test_keeping_the_scaler_needs_the_series_it_was_fitted_on(trained, tmp_path):
    _, _, _, checkpoint, _ = trained
    same = data_of(two_series(), id_column="id")
    keep = ForecastTask(LSTM(1, 16), loss=PinballLoss([0.1, 0.5, 0.9]), revin=True, baseline=SeasonalNaive(12), season=12, init_scaler="keep")
    keep.init_from_checkpoint(checkpoint, same)
    same.setup("fit")
    saved = torch.load(checkpoint, weights_only=True)["seqkit"]["data"]
    np.testing.assert_allclose(same.mean, np.asarray(saved["mean"]))


def test_testing_a_checkpoint_on_data_of_other_sizes_is_refused(trained, tmp_path):
    _, _, _, checkpoint, _ = trained
    longer = data_of(two_series(), id_column="id", input_length=36)
    task = ForecastTask(LSTM(1, 16), loss=PinballLoss([0.1, 0.5, 0.9]), revin=True, baseline=SeasonalNaive(12), season=12)
    with pytest.raises(CheckpointError, match="the checkpoint's sizes"):
        trainer(tmp_path).test(task, longer, ckpt_path=str(checkpoint), verbose=False)


def test_a_checkpoint_without_its_loss_and_baseline_is_refused_naming_them(trained, tmp_path):
    """A development layout named them by string in the hyperparameters: one line, naming what is missing."""
    _, _, _, last, _ = trained
    checkpoint = torch.load(last, weights_only=True)
    del checkpoint["seqkit"]["loss"], checkpoint["seqkit"]["baseline"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    with pytest.raises(CheckpointError, match="its seqkit section lacks 'loss', 'baseline', which a 'forecast' checkpoint"):
        ForecastTask.from_checkpoint(old)


def test_padded_windows_train_short_series_and_forecast_them(tmp_path):
    """pad_input: a series shorter than input_length + horizon trains and is forecast; the padding never moves it."""
    short = seasonal(steps=L - 8 + H + 2 * H, level=80.0, seed=2).assign(id="short")  # too short for a whole window
    frame = pd.concat([two_series(), short], ignore_index=True)
    # Without padding it gives no training window, and says so, but is still tested (and forecast).
    with pytest.warns(UserWarning, match=r"1 of 3 series have training spans shorter than input_length \+ horizon = "
                      r"24 \+ 6 = 30 \(series 'short'\): they give no training window, but are validated, tested and forecast"):
        unpadded = data_of(frame, id_column="id", val_size=H, test_size=H)
        unpadded.setup()
    index = unpadded.series_ids.index("short")
    assert index not in unpadded.windows["train"].series.tolist() and index in unpadded.windows["test"].series.tolist()
    with pytest.raises(DataError, match="training span of series 'short' has 22 of its 34 steps, fewer than input_length \\+ horizon"):
        data_of(frame[frame.id == "short"], id_column="id", val_size=H, test_size=H).setup()
    data = data_of(frame, id_column="id", val_size=H, test_size=H, pad_input=8)
    data.setup()
    train = data.windows["train"].batch()
    mine = train.series == data.series_ids.index("short")
    assert int(mine.sum()) == 1 and int(torch.isnan(train.past[mine][0, :, 0]).sum()) == 8
    task = ForecastTask(LSTM(1, 8), revin=True, season=12)
    trainer(tmp_path, max_epochs=1).fit(task, data)
    # The padded steps are left out: what they hold cannot change the forecast.
    batch = data.windows["train"].batch(torch.nonzero(mine)[0])
    task.eval()
    with torch.no_grad():
        once = task(batch.past, batch.future)
        other = batch.past.clone()
        other[:, :8, 0] = float("nan")
        assert torch.equal(task(other, batch.future), once) and not torch.isnan(once).any()
    # The test table's linear baseline is fitted on padded training windows too: padding reads as a flat start.
    _, table, _ = task.backtest(data)
    assert np.isfinite(table.loc["linear", "mae"]) and np.isfinite(table.loc["naive", "mae"])
    history = frame[frame.id == "short"].head(L - 8)  # the shortest history a forecast may have
    forecast = task.forecast(history)
    assert len(forecast) == H and forecast["y"].notna().all()
    with pytest.raises(DataError, match=r"has 15 steps .*fewer than input_length - pad_input = 16"):
        task.forecast(history.head(15))


def test_conformal_intervals_come_from_the_validation_errors_and_cover_about_their_level(trained):
    from seqkit.forecasting import conformal_radii, coverage

    task, data, results, checkpoint, _ = trained
    # The radius is the ceil((n + 1) a)-th smallest error: here n = 9 errors 1..9, a = 0.8 -> the 8th.
    errors = torch.arange(1.0, 10.0).view(9, 1, 1)
    radii = conformal_radii(torch.zeros(9, 1, 1), errors, levels=(80, 95))
    assert radii["radius"] == [[[8.0]], [[math.inf]]] and radii["windows"] == 9
    assert coverage(radii, torch.zeros(2, 1, 1), torch.tensor([[[8.0]], [[8.5]]])) == {80: 0.5, 95: 1.0}
    # The trained model keeps its validation epoch's radii, and the test run reports their coverage.
    loaded = ForecastTask.from_checkpoint(checkpoint)
    assert loaded.conformal["levels"] == [50, 80, 90, 95, 99] and len(loaded.conformal["radius"][0]) == H
    assert 0.5 <= results["test/coverage80"] <= 1 and results["test/coverage95"] >= results["test/coverage80"]
    frame = two_series()
    forecast = loaded.forecast(frame, level=[80, 95])
    assert (forecast["y_lo95"] <= forecast["y_lo80"]).all() and (forecast["y_lo80"] <= forecast["y"]).all()
    assert (forecast["y"] <= forecast["y_hi80"]).all() and (forecast["y_hi80"] <= forecast["y_hi95"]).all()
    with pytest.raises(SeqkitError, match="no conformal interval at level 85: this checkpoint keeps"):
        loaded.forecast(frame, level=[85])


def test_an_ensemble_over_input_lengths_trains_each_member_and_forecasts_their_median(tmp_path):
    data = data_of(two_series(), id_column="id")
    task = ForecastTask(LSTM(1, 8), revin=True, season=12, ensemble=[6, 12, 24])
    trainer(tmp_path, max_epochs=1).fit(task, data)
    members = task.model.members
    assert [m.encoder.input_size for m in members] == [1, 1, 1] and task.encoder is members[0].encoder
    assert not torch.equal(members[0].head.weight, members[1].head.weight)  # each its own weights
    batch = data.windows["test"].batch()
    task.eval()
    with torch.no_grad():
        each = task.model.each(batch.past, batch.future)
        assert each.shape[0] == 3 and torch.equal(task(batch.past, batch.future), each.median(dim=0).values)
        # A member reads only its last steps: what lies before them cannot change its forecast.
        early = batch.past.clone()
        early[:, : L - 6] += 5.0
        assert torch.equal(task.model.members[0](early[:, -6:], batch.future), each[0])
        loaded = ForecastTask.from_checkpoint(next(tmp_path.rglob("last.ckpt")))
        assert torch.allclose(loaded(batch.past, batch.future), task(batch.past, batch.future))
    with pytest.raises(SeqkitError, match="ensemble must be a list of two or more input lengths"):
        ForecastTask(LSTM(1, 8), ensemble=[12])
    with pytest.raises(SeqkitError, match="the ensemble's input length 48 is longer than the data's window of 24"):
        trainer(tmp_path / "long", max_epochs=1).fit(ForecastTask(LSTM(1, 8), ensemble=[12, 48]), data_of(two_series(), id_column="id"))


def test_without_a_validation_span_a_refit_trains_on_the_whole_history(tmp_path):
    from seqkit.cli import main

    frame = two_series()
    frame.to_csv(tmp_path / "two.csv", index=False)
    data = data_of(frame, id_column="id", val_size=0, test_size=H)
    data.setup()
    assert "val" not in data.windows and data.val_dataloader() == []
    # Training windows reach the test span's start: the validation months are trained on.
    train = data.windows["train"].batch()
    assert int((train.origin + H).max()) == data.spans[0][0] == len(frame) // 2 - H
    root = tmp_path / "refit"
    assert main(["fit", "-c", "forecasting/lstm", "--data.train_path", str(tmp_path / "two.csv"),
                 "--data.columns.time_column", "time", "--data.columns.target_columns", "[y]",
                 "--data.columns.id_column", "id", "--data.columns.calendar", "[]", "--data.input_length", str(L),
                 "--data.horizon", str(H), "--data.val_size", "0", "--data.test_size", str(H),
                 "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", str(root)]) == 0
    [last] = root.rglob("last.ckpt")
    assert not list(root.rglob("best-*.ckpt")) and torch.load(last, weights_only=True)["epoch"] == 2  # both epochs done
    model = ForecastTask.from_checkpoint(root)  # a run folder without a best checkpoint means its last
    assert len(model.forecast(frame)) == 2 * H and model.conformal is None
    with pytest.raises(SeqkitError, match="no conformal interval at level 80.*trained without a validation span"):
        model.forecast(frame, level=[80])


def test_refit_trains_a_new_model_on_the_whole_history_for_the_chosen_epochs(tmp_path, capsys):
    from seqkit.cli import main

    two_series().to_csv(tmp_path / "two.csv", index=False)
    root = tmp_path / "runs"
    options = ["--data.train_path", str(tmp_path / "two.csv"), "--data.columns.time_column", "time",
               "--data.columns.target_columns", "[y]", "--data.columns.id_column", "id", "--data.columns.calendar",
               "[]", "--data.input_length", str(L), "--data.horizon", str(H), "--data.val_size", str(H),
               "--data.test_size", str(H), "--trainer.enable_progress_bar", "false",
               "--trainer.default_root_dir", str(root)]
    assert main(["fit", "-c", "forecasting/lstm", *options, "--trainer.max_epochs", "3", "--refit", "true"]) == 0
    err = capsys.readouterr().err
    [best] = (root / "lightning_logs" / "version_0" / "checkpoints").glob("best-*.ckpt")
    epochs = int(best.name.split("-")[1]) + 1
    assert f"--refit: the validation chose {epochs} epoch(s)" in err
    refit = tmp_path / "runs_refit" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert f"the model to use is {refit} (--ckpt_path {root}_refit finds it)" in err
    state, validated = torch.load(refit, weights_only=True), torch.load(best, weights_only=True)
    assert state["epoch"] == epochs and state["seqkit"]["conformal"] == validated["seqkit"]["conformal"]
    assert state["seqkit"]["data"]["train_end"] != validated["seqkit"]["data"]["train_end"]  # trained through validation
    model = ForecastTask.from_checkpoint(tmp_path / "runs_refit")
    assert not torch.equal(model.head.weight, ForecastTask.from_checkpoint(best).head.weight)
    assert {"y_lo80", "y_hi80"} <= set(model.forecast(two_series(), level=[80]).columns)
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "1", "--refit", "true",
                 "--trainer.default_root_dir", str(tmp_path / "reviews"), "--trainer.enable_progress_bar", "false"]) == 2
    assert "--refit is for forecasting" in capsys.readouterr().err
