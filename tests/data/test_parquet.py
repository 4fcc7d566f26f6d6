"""Tables as Parquet files: read like their CSV twins wherever seqkit reads a table (with pyarrow installed)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from seqkit import packaged
from seqkit.data import SentimentData
from seqkit.data.forecast import read_csv
from seqkit.data.sentiment import read_table, read_table_of_texts
from seqkit.errors import DataError

pytest.importorskip("pyarrow")


@pytest.fixture
def reviews(tmp_path):
    path = tmp_path / "reviews.parquet"
    pd.read_csv(packaged.sample("reviews.csv")).to_parquet(path)
    return path


def test_a_parquet_table_reads_as_its_csv_twin(reviews):
    from_parquet = read_table(reviews, "review", "label")
    from_csv = read_table(packaged.sample("reviews.csv"), "review", "label")
    assert from_parquet.texts == from_csv.texts and from_parquet.labels == from_csv.labels
    assert list(read_table_of_texts(reviews).columns) == ["review", "label"]


def test_training_and_forecasting_read_parquet(reviews, tmp_path):
    data = SentimentData(train_path=str(reviews), text_column="review", label_column="label")
    data.setup("fit")
    assert data.labels == ["negative", "positive"]
    series = tmp_path / "co2.parquet"
    frame = pd.read_csv(packaged.sample("co2_weekly.csv"), parse_dates=["date"])
    frame.to_parquet(series)
    table = read_csv(series)
    assert len(table.frame) == 2284 and table.frame["co2"].iloc[0] == "316.1" and table.frame["co2"].eq("").sum() == 59


def test_without_pyarrow_the_message_gives_the_pip_command(reviews, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import fails as if not installed
    with pytest.raises(DataError, match=r"reading Parquet needs pyarrow: pip install 'seqkit\[parquet\]'"):
        read_table(reviews, "review", "label")
