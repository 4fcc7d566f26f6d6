"""Forecast metrics against hand computations, and the naive, seasonal-naive and linear baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqkit.errors import DataError
from seqkit.forecast_metrics import (LinearBaseline, mae, mape, mase, naive_forecast, rmse, score, seasonal_naive_forecast,
                                     seasonal_naive_scale, smape)


def test_mae_rmse_smape_by_hand():
    y, yhat = [1.0, 2.0, 4.0], [2.0, 2.0, 2.0]  # errors 1, 0, 2
    assert mae(y, yhat) == pytest.approx(1.0)
    assert rmse(y, yhat) == pytest.approx(math.sqrt(5 / 3))
    assert smape(y, yhat) == pytest.approx(100 * (2 * 1 / 3 + 0 + 2 * 2 / 6) / 3)
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0  # both zero: a perfect forecast, not 0/0
    assert mae(torch.tensor(y), torch.tensor(yhat)) == pytest.approx(1.0)  # torch in, float out
    with pytest.raises(ValueError, match="must match"):
        mae([1.0, 2.0], [1.0])


def test_mape_leaves_out_near_zero_targets_and_says_so():
    result = mape([100.0, 0.001, 50.0], [110.0, 5.0, 40.0])
    # mean |y| = 50.0003, threshold 0.5: the 0.001 is left out; (10/100 + 10/50) / 2 = 15%
    assert result.value == pytest.approx(15.0) and (result.skipped, result.total) == (1, 3)
    assert "MAPE leaves out 1 of 3 points whose true value is near zero" in result.note
    clean = mape([100.0, 50.0], [110.0, 40.0])
    assert clean.value == pytest.approx(15.0) and clean.skipped == 0 and clean.note is None
    nothing = mape([0.0, 0.0], [1.0, 2.0])
    assert math.isnan(nothing.value) and nothing.skipped == 2


def test_mase_by_hand_for_one_series_and_for_windows_of_many():
    train = [1.0, 3.0, 2.0, 5.0, 4.0]  # naive errors 2, 1, 3, 1 -> 1.75; seasonal (m=2) errors 1, 2, 2 -> 5/3
    assert seasonal_naive_scale(train, 1) == pytest.approx(1.75)
    assert mase([6.0, 7.0], [5.0, 9.0], train) == pytest.approx(1.5 / 1.75)
    assert mase([6.0, 7.0], [5.0, 9.0], train, season=2) == pytest.approx(1.5 / (5 / 3))
    # Windows (N, H, C) of two series, each scaled by its own training series, per channel.
    trains = [np.array([[0.0, 0.0], [2.0, 4.0]]), np.array([[0.0, 0.0], [1.0, 8.0]])]  # scales (2, 4) and (1, 8)
    y_true = np.zeros((2, 1, 2))
    y_pred = np.array([[[2.0, 4.0]], [[3.0, 8.0]]])
    assert mase(y_true, y_pred, trains, season=1, series=[0, 1]) == pytest.approx((1 + 1 + 3 + 1) / 4)
    as_tensors = torch.from_numpy(y_true), torch.from_numpy(y_pred)
    assert mase(*as_tensors, trains, series=torch.tensor([0, 1])) == pytest.approx(1.5)
    with pytest.raises(DataError, match="the seasonal-naive forecast \\(season 1\\) is exact"):
        seasonal_naive_scale([3.0, 3.0, 3.0])
    with pytest.raises(DataError, match="longer than the season \\(12\\)"):
        seasonal_naive_scale(np.arange(12.0), 12)


def test_score_gives_all_five_and_the_mape_note():
    metrics, notes = score([100.0, 0.001, 50.0], [110.0, 5.0, 40.0], [1.0, 3.0, 2.0, 5.0, 4.0])
    assert sorted(metrics) == ["mae", "mape", "mase", "rmse", "smape"] and metrics["mape"] == pytest.approx(15.0)
    assert len(notes) == 1


def test_naive_and_seasonal_naive_forecasts():
    past = torch.arange(8.0).reshape(1, 8, 1)
    assert naive_forecast(past, 3)[0, :, 0].tolist() == [7.0, 7.0, 7.0]
    assert seasonal_naive_forecast(past, 6, season=4)[0, :, 0].tolist() == [4.0, 5.0, 6.0, 7.0, 4.0, 5.0]
    as_numpy = seasonal_naive_forecast(past.numpy(), 2, season=1)
    assert isinstance(as_numpy, np.ndarray) and as_numpy[0, :, 0].tolist() == [7.0, 7.0]
    with pytest.raises(ValueError, match="between 1 and the input length"):
        seasonal_naive_forecast(past, 2, season=9)


def test_linear_baseline_recovers_a_linear_rule_shared_by_the_channels():
    # Straight lines continue linearly: the next values are an exact linear map of the last ones.
    generator = torch.Generator().manual_seed(0)
    slopes, starts = torch.randn(50, 1, 2, generator=generator), torch.randn(50, 1, 2, generator=generator)
    steps = torch.arange(10.0)[None, :, None]
    series = starts + slopes * steps  # (50, 10, 2)
    past, target = series[:, :6], series[:, 6:]
    model = LinearBaseline(6, 4).fit(past, target)
    torch.testing.assert_close(model.predict(past), target, atol=1e-4, rtol=1e-4)
    assert model.weight.shape == (6, 4) and model.bias.shape == (4,)
    fresh = torch.tensor([[[10.0], [11.0], [12.0], [13.0], [14.0], [15.0]]])  # a line the fit never saw
    torch.testing.assert_close(model.predict(fresh)[0, :, 0], torch.tensor([16.0, 17.0, 18.0, 19.0]), atol=1e-3, rtol=0)
    plain = LinearBaseline(6, 4, ridge=0.0).fit(past.numpy(), target.numpy())
    assert isinstance(plain.predict(past.numpy()), np.ndarray)


def test_seasonal_drift_repeats_the_last_season_and_adds_the_growth_per_season():
    from seqkit.forecast_metrics import seasonal_drift_forecast

    line = np.arange(1.0, 7.0).reshape(1, 6, 1)  # 1..6: growth 2 per season of 2 steps
    assert seasonal_drift_forecast(line, 4, 2)[0, :, 0].tolist() == [7.0, 8.0, 9.0, 10.0]  # a line goes on as a line
    # A pure season (period 3, no growth) repeats exactly: the seasonal-naive forecast.
    season = np.tile([5.0, 1.0, 3.0], 3).reshape(1, 9, 1)
    np.testing.assert_allclose(seasonal_drift_forecast(season, 5, 3), seasonal_naive_forecast(season, 5, 3))
    growing = torch.tensor([[10.0, 20.0, 12.0, 22.0]]).unsqueeze(-1)  # each season 2 higher than the last
    assert seasonal_drift_forecast(growing, 4, 2)[0, :, 0].tolist() == [14.0, 24.0, 16.0, 26.0]
    with pytest.raises(ValueError, match="below the input length"):
        seasonal_drift_forecast(line, 2, 6)
