"""Every forecasting recipe parses and trains; forecast, backtest and fine-tuning work from the shell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from seqkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes" / "forecasting"
QUICK = ["--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_every_recipe_opens_with_its_command():
    names = sorted(p.name for p in RECIPES.glob("*.yaml") if not p.name.endswith(".space.yaml"))
    assert names == ["lstm.yaml", "lstm_airline.yaml", "lstm_etth1.yaml", "lstm_m3_monthly.yaml", "lstm_m3_other.yaml",
                     "lstm_m3_quarterly.yaml", "lstm_m3_yearly.yaml", "rnn.yaml"]
    for name in names:
        text = (RECIPES / name).read_text()
        assert text.startswith("# ") and f"seqkit fit -c forecasting/{name[:-5]}" in text


@pytest.mark.parametrize("recipe", ["lstm.yaml", "rnn.yaml", "lstm_airline.yaml", "lstm_etth1.yaml", "lstm_m3_monthly.yaml",
                                    "lstm_m3_quarterly.yaml", "lstm_m3_yearly.yaml", "lstm_m3_other.yaml"])
def test_print_config(recipe, capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(RECIPES / recipe), "--print_config"])
    assert done.value.code == 0
    assert "seqkit.tasks.ForecastTask" in capsys.readouterr().out


@pytest.fixture(scope="module")
def co2_run(tmp_path_factory):
    """The default recipe on the shipped CO2 series, and that series as a user's CSV."""
    from seqkit.data.embedded import co2_frame

    root = tmp_path_factory.mktemp("co2")
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--trainer.default_root_dir", str(root / "run"), *QUICK,
                 "--trainer.limit_train_batches", "5"]) == 0
    series = root / "co2.csv"
    co2_frame().to_csv(series, index=False)
    return root, series


def test_the_default_recipe_trains_and_forecasts_a_csv_from_the_shell(co2_run, capsys):
    root, series = co2_run
    before = series.read_bytes()
    output, plot = root / "forecast.csv", root / "forecast.png"
    assert main(["forecast", "--ckpt_path", str(root / "run"), "--input", str(series), "--output", str(output),
                 "--plot", str(plot)]) == 0
    assert series.read_bytes() == before  # the input is never changed
    result = pd.read_csv(output)
    assert list(result.columns) == ["date", "co2", "co2_q10", "co2_q50", "co2_q90"] and len(result) == 26
    assert pd.to_datetime(result["date"]).min() > pd.to_datetime(pd.read_csv(series)["date"]).max()
    assert plot.stat().st_size > 10_000
    # An existing output is kept unless --force is given.
    assert main(["forecast", "--ckpt_path", str(root / "run"), "--input", str(series), "--output", str(output)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_forecast_names_the_missing_columns_in_one_line(co2_run, tmp_path, capsys):
    root, _ = co2_run
    bad = tmp_path / "bad.csv"
    bad.write_text("day,value\n2001-01-06,370.1\n")
    assert main(["forecast", "--ckpt_path", str(root / "run"), "--input", str(bad)]) == 2
    said, error = capsys.readouterr().err.strip().rsplit("\n", 1)  # which checkpoint of the run folder, then the error
    assert said.startswith("seqkit: checkpoint ") and "best validation score" in said
    assert error.startswith("seqkit forecast: error: ") and "'date'" in error and "day" in error and "value" in error


def test_backtest_scores_every_origin_beside_the_baselines(co2_run, capsys):
    root, series = co2_run
    output = root / "backtest.csv"
    assert main(["backtest", "--ckpt_path", str(root / "run"), "--input", str(series), "--test_size", "60",
                 "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "35 origins" in printed  # 60 test weeks, 26 forecast from each origin: 60 - 26 + 1
    for name in ("seqkit", "naive", "seasonal naive (m=52)", "linear"):
        assert name in printed
    assert len(pd.read_csv(output)) == 35


def test_fine_tuning_from_the_shell_keeps_the_model_and_refuses_other_columns(co2_run, tmp_path, capsys):
    root, series = co2_run
    checkpoint = next((root / "run").rglob("last.ckpt"))
    common = ["fit", "-c", str(RECIPES / "lstm.yaml"), "--init_from", str(checkpoint), "--data.dataset", "null",
              "--data.train_path", str(series), "--data.columns.time_column", "date", "--data.missing", "interpolate",
              "--trainer.default_root_dir", str(tmp_path), *QUICK, "--trainer.limit_train_batches", "2"]
    assert main([*common, "--data.columns.target_columns", "co2"]) == 0
    assert "--init_from: all weights loaded" in capsys.readouterr().err
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(series).rename(columns={"co2": "ppm"}).to_csv(renamed, index=False)
    other = [*common, "--data.columns.target_columns", "ppm"]
    other[other.index(str(series))] = str(renamed)
    assert main(other) == 2
    assert "target_columns ['co2'] (the data has ['ppm'])" in capsys.readouterr().err


def test_the_airline_recipe_trains_and_tests_on_the_corpora(corpora, tmp_path):
    if not (corpora / "timeseries" / "airline-passengers.csv").is_file():
        pytest.skip("airline passengers not in the shared data")
    options = ["--data.root", str(corpora), *QUICK]
    assert main(["fit", "-c", str(RECIPES / "lstm_airline.yaml"), "--trainer.default_root_dir", str(tmp_path / "fit"),
                 *options]) == 0
    best = next(tmp_path.rglob("best-*.ckpt"))
    assert main(["test", "-c", str(RECIPES / "lstm_airline.yaml"), "--ckpt_path", str(best),
                 "--trainer.default_root_dir", str(tmp_path / "test"), *options]) == 0
    table = pd.read_csv(next(tmp_path.rglob("test_metrics.csv")), index_col="forecaster")
    assert "seasonal naive + drift" in table.index
    # Two epochs from a zero head: the model is still (close to) its seasonal-drift baseline.
    assert table.loc["seqkit", "mape"] == pytest.approx(table.loc["seasonal naive + drift", "mape"], rel=0.5)


def test_the_etth1_recipe_runs_on_the_corpora(corpora, tmp_path):
    if not (corpora / "timeseries" / "ETTh1.csv").is_file():
        pytest.skip("ETTh1 not in the shared data")
    assert main(["fit", "-c", str(RECIPES / "lstm_etth1.yaml"), "--data.root", str(corpora),
                 "--trainer.fast_dev_run", "2", "--trainer.default_root_dir", str(tmp_path),
                 "--trainer.enable_progress_bar", "false"]) == 0


def test_the_sample_series_train_with_covariates_and_forecast_with_the_known_future(tmp_path):
    sample = ROOT / "datasets" / "store_sales.csv"
    before = sample.read_bytes()
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--data.dataset", "null", "--data.train_path", str(sample),
                 "--data.columns.time_column", "date", "--data.columns.target_columns", "[sales]", "--data.columns.id_column", "store",
                 "--data.columns.known_columns", "[promo]", "--data.columns.observed_columns", "[temperature]",
                 "--data.columns.calendar", "[weekday]", "--data.input_length", "56", "--data.horizon", "14",
                 "--model.init_args.season", "7", "--trainer.default_root_dir", str(tmp_path / "run"), *QUICK,
                 "--trainer.limit_train_batches", "3"]) == 0
    assert sample.read_bytes() == before
    history = pd.read_csv(sample)
    future = pd.DataFrame([{"date": day.strftime("%Y-%m-%d"), "store": store, "promo": int(day.day % 5 == 0)}
                           for store in ("north", "south") for day in pd.date_range("2024-12-31", periods=14)])
    table = tmp_path / "with_future.csv"
    pd.concat([history, future]).to_csv(table, index=False)
    output = tmp_path / "forecast.csv"
    assert main(["forecast", "--ckpt_path", str(tmp_path / "run"), "--input", str(table), "--output", str(output)]) == 0
    result = pd.read_csv(output)
    assert len(result) == 28 and set(result["store"]) == {"north", "south"}
    assert result["date"].min() == "2024-12-31"
    # Without the horizon's promo rows the forecast cannot be made, and the error says what to add.
    lacking = tmp_path / "lacking.csv"
    history.to_csv(lacking, index=False)
    assert main(["forecast", "--ckpt_path", str(tmp_path / "run"), "--input", str(lacking)]) == 2


def test_backtest_by_date_starts_its_origins_at_that_date(co2_run):
    root, series = co2_run
    output = root / "backtest_by_date.csv"
    assert main(["backtest", "--ckpt_path", str(root / "run"), "--input", str(series), "--test_start", "2000-01-01",
                 "--scaler", "refit", "--output", str(output)]) == 0
    origins = pd.to_datetime(pd.read_csv(output)["origin"])
    assert origins.min() >= pd.Timestamp("2000-01-01") and origins.is_monotonic_increasing
    last = pd.to_datetime(pd.read_csv(series)["date"]).max()
    assert origins.max() == last - pd.Timedelta(weeks=25)  # the last origin still has 26 weeks to forecast


def test_forecast_from_the_shell_can_return_fewer_steps_than_trained(co2_run, capsys):
    root, series = co2_run
    assert main(["forecast", "--ckpt_path", str(root / "run"), "--input", str(series), "--horizon", "4"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip() and not line.startswith("checkpoint:")]
    assert printed[0].split()[:2] == ["date", "co2"] and len(printed) == 1 + 4  # the header and four weeks
    assert main(["forecast", "--ckpt_path", str(root / "run"), "--input", str(series), "--horizon", "27"]) == 2
    assert "horizon must be between 1 and 26" in capsys.readouterr().err
