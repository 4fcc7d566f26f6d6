"""`seqkit predict -c RECIPE --ckpt_path ...`: every recipe family writes its predictions as a CSV in its run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from seqkit import packaged
from seqkit.cli import main

QUIET = ["--trainer.enable_progress_bar", "false"]
SMALL = ["--data.train_size", "128", "--data.val_size", "32", "--data.test_size", "32"]
CASES = {  # recipe: (options of the short training, of predict, the columns the CSV must have, its rows)
    "next_word/lstm": (["--data.max_tokens", "500"], ["--data.predict_path", "prompts.txt"],
                       ["prompt", "next_1", "prob_1", "next_5", "prob_5", "continuation"], 2),
    "sentiment/lstm_reviews": ([], ["--data.predict_path", "reviews.csv", "--data.text_column", "review"],
                               ["review", "label", "predicted_label", "probability_negative", "probability_positive"], 334),
    "forecasting/lstm": ([], [], ["date", "co2", "co2_q10", "co2_q50", "co2_q90"], 26),
    "memory/adding": (SMALL, SMALL, ["target", "prediction"], 32),
    "seq2seq/dates": (SMALL, SMALL, ["source", "target", "prediction", "correct"], 32),
}


@pytest.mark.parametrize("recipe", list(CASES))
def test_predict_writes_a_csv_beside_the_trained_run(recipe, tmp_path, monkeypatch, capsys):
    fit_options, options, columns, rows = CASES[recipe]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts.txt").write_text("and god said\n\nin the beginning\n")  # an empty line is skipped
    shutil.copy(packaged.sample("reviews.csv"), tmp_path / "reviews.csv")
    assert main(["fit", "-c", recipe, *fit_options, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "1", *QUIET]) == 0
    capsys.readouterr()
    assert main(["predict", "-c", recipe, "--ckpt_path", "best", *options, *QUIET]) == 0
    err = capsys.readouterr().err
    [written] = Path("runs").rglob("predictions.csv")
    assert written.parent.name == "predict-1" and written.parent.parent.name == "version_0"
    assert f"wrote {rows} predictions to {written.resolve()}" in err
    frame = pd.read_csv(written)
    assert len(frame) == rows and all(column in frame.columns for column in columns), list(frame.columns)
    if recipe == "sentiment/lstm_reviews":
        probabilities = frame[["probability_negative", "probability_positive"]].sum(axis=1)
        assert ((probabilities - 1).abs() < 1e-5).all()
        assert frame["predicted_label"].isin(["negative", "positive"]).all()
    assert main(["predict", "-c", recipe, "--ckpt_path", "best", *options, *QUIET]) == 0  # a second one: predict-2
    assert len(list(Path("runs").rglob("predictions.csv"))) == 2


def test_predict_says_what_it_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "1", *QUIET]) == 0
    capsys.readouterr()
    assert main(["predict", "-c", "sentiment/lstm_reviews"]) == 2  # no checkpoint
    assert "seqkit predict needs a trained model: --ckpt_path best" in capsys.readouterr().err
    assert main(["predict", "-c", "sentiment/lstm_reviews", "--ckpt_path", "best"]) == 2  # nothing to label
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "seqkit predict: error: seqkit predict needs the texts to label: --data.predict_path FILE (CSV, TSV or JSON "
        "Lines, texts in --data.text_column)")
    (tmp_path / "texts.csv").write_text("text\ngreat food\n\n")
    assert main(["predict", "-c", "sentiment/lstm_reviews", "--ckpt_path", "best", "--data.predict_path",
                 "texts.csv"]) == 2  # the recipe's text column is 'review'
    assert "has no column 'review'; its columns are ['text']" in capsys.readouterr().err
