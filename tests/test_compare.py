"""`seqkit compare`: every cell of a recipe on the same data and seed, a table, a CSV and plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from seqkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--", "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--data.train_size", "128",
        "--data.val_size", "32", "--data.test_size", "32", "--data.batch_size", "32",
        "--model.init_args.encoder.init_args.hidden_size", "8"]


def test_compare_runs_each_cell_over_a_sweep_and_writes_the_table_and_plots(tmp_path, capsys):
    out = tmp_path / "compare"
    assert main(["compare", "-c", str(ROOT / "recipes" / "memory" / "adding.yaml"), "--cells", "rnn,lstm",
                 "--sweep", "data.length=5,10", "--output_dir", str(out), *TINY]) == 0
    results = pd.read_csv(out / "results.csv")
    assert sorted(zip(results["cell"], results["value"])) == [("lstm", 5), ("lstm", 10), ("rnn", 5), ("rnn", 10)]
    assert (results["epochs"] == 2).all() and (results["timesteps_per_s"] > 0).all()
    # Same hidden size, different cells: the LSTM has four gates' worth of weights, the RNN one.
    params = results.groupby("cell")["parameters"].first()
    assert params["lstm"] > 3 * params["rnn"]
    assert results["test/mse"].notna().all() and results["grad_ratio"].notna().all()
    summary = (out / "summary.md").read_text()
    assert "| rnn | 5 |" in summary and "| lstm | 10 |" in summary
    assert (out / "learning_curves.png").stat().st_size > 5_000 and (out / "sweep.png").is_file()
    assert (out / "gradients.png").stat().st_size > 5_000  # |dL/dh_t| at initialisation and after training
    assert "results in" in capsys.readouterr().out
    # A second run into the same folder is refused unless --force.
    assert main(["compare", "-c", str(ROOT / "recipes" / "memory" / "adding.yaml"), "--output_dir", str(out), *TINY]) == 2
    assert "already holds results" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["--cells", "lstm,transformer"], "unknown cell 'transformer'"),
    (["--sweep", "data.length"], "write KEY=V1,V2"),
    (["--seeds", "0"], "--seeds must be at least 1"),
])
def test_bad_options_get_one_line_errors(arguments, message, tmp_path, capsys):
    assert main(["compare", "-c", str(ROOT / "recipes" / "memory" / "adding.yaml"), "--output_dir", str(tmp_path / "x"),
                 *arguments]) == 2
    assert message in capsys.readouterr().err


def test_the_summary_gives_the_mean_and_spread_over_seeds():
    from seqkit.commands.compare import summarise

    rows = [{"cell": "lstm", "value": "", "seed": seed, "monitor": "val/loss", "parameters": 100, "s_per_epoch": s,
             "timesteps_per_s": 10.0, "best_val": best, "test/loss": best, "grad_ratio": 0.5}
            for seed, (s, best) in enumerate([(1.0, 0.2), (3.0, 0.4)])]
    table = summarise(rows, None)
    assert "| cell | parameters | s per epoch | timesteps/s | best val/loss | test/loss |" in table
    assert "| lstm | 100 | 2 ± 1.4 | 10 ± 0 | 0.3 ± 0.14 | 0.3 ± 0.14 | 0.5 ± 0 |" in table


def test_compare_runs_what_fit_runs_init_from_included(tmp_path, capsys):
    quick = ["--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"]
    start = tmp_path / "start"
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--trainer.default_root_dir", str(start), *quick]) == 0
    [checkpoint] = start.rglob("last.ckpt")
    out = tmp_path / "compare"
    assert main(["compare", "-c", "sentiment/lstm_reviews", "--cells", "lstm", "--output_dir", str(out), "--", *quick,
                 "--init_from", str(checkpoint)]) == 0
    assert "--init_from: all weights loaded" in capsys.readouterr().err
    assert (out / "lstm-seed0" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt").is_file()  # fit's folders
    assert main(["compare", "-c", "memory/adding", "--cells", "lstm", "--output_dir", str(tmp_path / "c2"), *TINY,
                 "--init_from", str(checkpoint)]) == 2  # as fit refuses it
    assert "MemoryTask does not support --init_from" in capsys.readouterr().err


def test_no_gradients_picture_when_no_curve_was_measured(tmp_path, capsys):
    from seqkit.commands.compare import plot

    rows = [{"cell": "rnn", "value": "", "seed": 0, "monitor": "val/mape", "curve": [3.0, 2.5],
             "grad_curves": {"at initialisation": [0.0, 0.0, 0.0], "after training": [0.0, 0.0, 0.0]}}]
    written = plot(rows, None, tmp_path)
    assert [p.name for p in written] == ["learning_curves.png"] and not (tmp_path / "gradients.png").exists()
    assert "no gradients.png: no |dL/dh_t| curve was measured above zero" in capsys.readouterr().err
    rows[0]["grad_curves"]["after training"] = [1e-3, 1e-2, 1.0]
    assert [p.name for p in plot(rows, None, tmp_path)] == ["learning_curves.png", "gradients.png"]
