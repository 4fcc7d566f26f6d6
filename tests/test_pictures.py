"""Every picture seqkit saves says what it shows: a title, labelled axes, whole-number ticks for whole numbers, a colour bar
for every heatmap. The figures are caught as they are saved (`Figure.savefig`) and read, not looked at."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from seqkit.cli import main  # noqa: E402

TINY = ["--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--data.train_size", "128",
        "--data.val_size", "32", "--data.test_size", "32", "--data.batch_size", "32",
        "--model.init_args.encoder.init_args.hidden_size", "8"]


@pytest.fixture
def saved(monkeypatch):
    """`{file name: figure}` of every figure saved while the test runs."""
    figures, real = {}, Figure.savefig

    def save(self, path, *args, **kwargs):
        figures[str(path).rsplit("/", 1)[-1]] = self
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", save)
    return figures


def _check(name: str, figure: Figure, whole_x: bool = False) -> None:
    """Every panel of `figure` has a title and labelled axes; every image panel a colour bar beside it."""
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert panels, name
    for ax in panels:
        assert ax.get_title().strip(), f"{name}: a panel without a title"
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), f"{name}: an axis without a label"
        if ax.images:
            assert bars, f"{name}: a heatmap without a colour bar"
            ticks = [t for t in ax.get_yticks() if ax.get_ylim()[1] <= t <= ax.get_ylim()[0]]
            labels = [t.get_text() for t in ax.get_yticklabels()]
            assert all(float(t).is_integer() for t in ticks) or any(not l.lstrip("-").replace(".", "").isdigit()
                                                                    for l in labels if l), f"{name}: fractional ticks"
        if whole_x:
            low, high = ax.get_xlim()
            assert all(float(t).is_integer() for t in ax.get_xticks() if low <= t <= high), f"{name}: fractional ticks"


def test_forecast_trace_and_gradient_pictures(saved, forecaster, tiny_sentiment, tmp_path):
    from seqkit import packaged

    assert main(["forecast", "--ckpt_path", str(forecaster), "--input", str(packaged.sample("co2_weekly.csv")),
                 "--output", str(tmp_path / "f.csv"), "--plot", str(tmp_path / "forecast.png"), "--level", "80", "95"]) == 0
    forecast = saved["forecast.png"]
    _check("forecast.png", forecast)
    ax = forecast.axes[0]
    assert ax.get_xlabel() == "date" and ax.get_ylabel() == "co2" and "-step forecast after" in ax.get_title()
    assert "95% conformal interval" in [text.get_text() for text in ax.get_legend().get_texts()]
    table = pd.read_csv(tmp_path / "f.csv")
    assert (table["co2_lo95"] < table["co2_lo80"]).all() and (table["co2_hi80"] < table["co2_hi95"]).all()
    assert main(["trace", "--cells", "lstm", "--hidden_size", "4", "--x", "1,0.5,-1", "--plot", str(tmp_path / "cell.png")]) == 0
    _check("cell.png", saved["cell.png"])
    assert saved["cell.png"].axes[0].get_xlabel() == "input x_t at each step"
    sentiment = tiny_sentiment(tmp_path / "sentiment")
    assert main(["trace", "--ckpt_path", str(sentiment), "--text", "a good film", "--plot", str(tmp_path / "s.png")]) == 0
    _check("s.png", saved["s.png"])
    assert "predicted " in saved["s.png"].axes[0].get_title() and "predicted 0" not in saved["s.png"].axes[0].get_title()
    assert main(["gradients", "--cells", "rnn,lstm", "--length", "20", "--hidden_size", "8", "--plot",
                 str(tmp_path / "g.png")]) == 0
    _check("g.png", saved["g.png"], whole_x=True)
    assert len({line.get_linestyle() for line in saved["g.png"].axes[0].get_lines()}) > 1  # one over another shows


def test_compare_and_confusion_pictures(saved, tmp_path):
    out = tmp_path / "compare"
    assert main(["compare", "-c", "memory/adding", "--cells", "rnn,lstm", "--sweep", "data.length=6,10", "--output_dir",
                 str(out), "--", *TINY]) == 0
    _check("learning_curves.png", saved["learning_curves.png"], whole_x=True)
    _check("sweep.png", saved["sweep.png"], whole_x=True)
    assert saved["sweep.png"].axes[0].get_xlabel() == "data.length"
    if "gradients.png" in saved:
        figure = saved["gradients.png"]
        _check("gradients.png", figure, whole_x=True)
        styles = [line.get_linestyle() for line in figure.axes[0].get_lines()]
        assert len(set(styles)) > 1  # a curve drawn over another stays visible
    root = tmp_path / "sentiment"
    quick = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.enable_progress_bar", "false",
             "--trainer.default_root_dir", str(root)]
    assert main(["fit", "-c", "sentiment/lstm_reviews", *quick]) == 0
    assert main(["test", "-c", "sentiment/lstm_reviews", "--ckpt_path", "best", *quick]) == 0
    matrix = saved["confusion_matrix.png"]
    _check("confusion_matrix.png", matrix)
    assert [t.get_text() for t in matrix.axes[0].get_xticklabels()] == ["negative", "positive"]
    assert np.isclose(sum(float(t.get_text()) for t in matrix.axes[0].texts), 94)  # every held-out review once


def test_tune_pictures(saved, tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("optuna_integration")
    out = tmp_path / "study"
    assert main(["tune", "-c", "forecasting/lstm", "--trials", "3", "--output_dir", str(out), "--pruner", "none",
                 "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                 "--trainer.enable_progress_bar", "false"]) == 0
    _check("history.png", saved["history.png"], whole_x=True)
    assert saved["history.png"].axes[0].get_ylabel() == "val/loss"
    _check("importances.png", saved["importances.png"])
    labels = [t.get_text() for t in saved["importances.png"].axes[0].get_yticklabels()]
    assert "model.optimizer.lr" in labels and not any("init_args" in label for label in labels)
