"""The `seqkit` command: fast help, version, trace, modules, and the Lightning subcommands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqkit import __version__
from seqkit.cli import main

TESTS = Path(__file__).resolve().parent

EXERCISE = """\
cell: rnn
weight_ih_l0: [[0.5], [-1.0]]
weight_hh_l0: [[0.1, 0.2], [0.3, 0.4]]
bias_ih_l0: [0.0, 0.1]
bias_hh_l0: [0.0, 0.0]
x: [1.0, 0.5, -1.0]
"""


def _seqkit(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqkit.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def test_help_and_version_import_neither_torch_nor_lightning():
    code = ("import sys\nfrom seqkit.cli import main\n"
            "for argv in (['--help'], ['--version']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'torch' not in sys.modules and 'lightning' not in sys.modules, 'heavy import'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "fit" in done.stdout and "trace" in done.stdout and f"seqkit {__version__}" in done.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_trace_checks_a_textbook_exercise_by_hand(tmp_path, capsys):
    spec = tmp_path / "exercise.yaml"
    spec.write_text(EXERCISE)
    assert main(["trace", "--weights", str(spec), "--output", str(tmp_path / "trace.csv")]) == 0
    out = capsys.readouterr().out
    assert "h_t = tanh(a_t)" in out
    # t=0: a = [0.5, -0.9], h = tanh(a); t=1: a = W_hh h_0 + W_xh * 0.5 + b
    assert "[0.5000 -0.9000] [0.4621 -0.7163]" in out
    assert "[0.1530 -0.5479] [0.1518 -0.4989]" in out
    import pandas as pd

    table = pd.read_csv(tmp_path / "trace.csv")
    assert json.loads(table.h[2]) == pytest.approx([-0.5260, 0.7379], abs=1e-4)
    # an existing output file is never overwritten without --force
    assert main(["trace", "--weights", str(spec), "--output", str(tmp_path / "trace.csv")]) == 2
    assert "pass --force" in capsys.readouterr().err


def test_trace_random_lstm_and_bad_weight_files(tmp_path, capsys):
    assert main(["trace", "--cells", "lstm", "--hidden_size", "3", "--x", "1,0.5,-1"]) == 0
    out = capsys.readouterr().out
    assert "c_t = f * c_{t-1} + i * g" in out and " i " in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXERCISE.replace("cell: rnn", "cell: lstm"))
    assert main(["trace", "--weights", str(bad)]) == 2
    assert "weight_ih_l0 has 2 rows; a lstm with hidden size 2 needs 8" in capsys.readouterr().err
    bad.write_text(EXERCISE.replace("bias_hh_l0: [0.0, 0.0]\n", ""))
    assert main(["trace", "--weights", str(bad)]) == 2
    assert "missing ['bias_hh_l0']" in capsys.readouterr().err
    assert main(["trace", "--weights", str(tmp_path / "absent.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["trace", "--x", "1,two"]) == 2
    assert "--x must be comma-separated numbers" in capsys.readouterr().err


def test_modules_quick_comparison(capsys, only_seqkit_cells):
    assert main(["modules", "--cells", "rnn", "--sizes", "S", "--budget", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "S rnn   fused 0.0e+00" in out  # the fused path is torch's own kernel
    assert "fwd+bwd" in out
    assert main(["modules", "--cells", "transformer"]) == 2
    assert "--cells: unknown cell 'transformer'; known: gru, lstm, rnn" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_runs_lightning_cli_with_a_seqkit_module(tmp_path):
    done = _seqkit("fit", "--model", "toy_task.ToyTask", "--data", "toy_task.ToyData",
                   "--trainer.fast_dev_run", "2", "--trainer.default_root_dir", str(tmp_path),
                   cwd=tmp_path, env={"PYTHONPATH": str(TESTS)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "seqkit: training finished" in done.stderr


NOISE = ("Tip:", "GPU available", "TPU available", "Seed set", "LeafSpec", "configure_callbacks", "tensorboardX",
         "dirpath has changed", "max_steps=", "Trainable params", "UserWarning", "FutureWarning")


def test_a_default_run_is_quiet_and_verbose_brings_lightnings_notices_back(tmp_path):
    recipe = ["fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2",
              "--trainer.default_root_dir", str(tmp_path)]
    done = _seqkit(*recipe, "--trainer.enable_progress_bar", "false", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("seqkit: data: reviews, 334 short reviews")  # the first line says which data
    assert [line for line in lines if any(word in line for word in NOISE)] == []
    assert all(line.startswith(("seqkit: ", "  ")) or not line.strip() for line in lines), lines
    assert "  best checkpoint: " in done.stderr and " parameters, trained on cpu" in done.stderr
    co2 = _seqkit("fit", "-c", "forecasting/lstm", "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar",
                  "false", cwd=tmp_path)  # a run with a warning of seqkit's own: one line, no source
    assert co2.returncode == 0, co2.stderr[-2000:]
    assert "seqkit: warning: the shipped series 'co2': filled 59 missing steps by interpolate" in co2.stderr
    assert [line for line in co2.stderr.splitlines() if any(word in line for word in NOISE)] == []
    loud = _seqkit(*recipe, "--trainer.enable_progress_bar", "false", "--verbose", cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert "GPU available" in loud.stderr and "Trainable params" in loud.stdout + loud.stderr


def test_fit_help_lists_trainer_options():
    done = _seqkit("fit", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--trainer.max_epochs" in done.stdout and "--print_config" in done.stdout


def test_gradients_draws_writes_numbers_and_never_overwrites(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import pandas as pd

    png, csv = tmp_path / "x.png", tmp_path / "x.csv"
    assert main(["gradients", "--length", "40", "--hidden_size", "16", "--plot", str(png), "--output", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "t=0" in out and "t=20" in out and "t=39" in out and "first/last" in out
    assert out.count("e-") >= 2 and "rnn " in out and "lstm " in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(csv)
    assert list(table.columns) == ["t", "rnn", "lstm"] and len(table) == 40
    assert table.rnn.iloc[0] < 1e-3 * table.rnn.iloc[-1]  # vanished
    before = png.read_bytes()
    assert main(["gradients", "--plot", str(png)]) == 2
    assert "pass --force" in capsys.readouterr().err and png.read_bytes() == before
    assert main(["gradients", "--plot", str(tmp_path / "y.png"), "--output", str(csv)]) == 2
    assert not (tmp_path / "y.png").exists()
    assert main(["gradients", "--cells", "rnn,transformer", "--plot", str(tmp_path / "y.png")]) == 2
    assert "--cells" in capsys.readouterr().err


def test_gradients_exploding_prints_both_loss_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "e.png"
    png.write_bytes(b"old")
    assert main(["gradients", "--cells", "rnn", "--length", "30", "--hidden_size", "16", "--radius", "1.5",
                 "--exploding", "--plot", str(png), "--force"]) == 0
    out = capsys.readouterr().out
    assert "rnn (radius 1.5)" in out and "spectral radius 1.5" in out
    plain = next(line for line in out.splitlines() if line.strip().startswith("no clipping"))
    clipped = next(line for line in out.splitlines() if line.strip().startswith("clip norm 1"))
    assert "at step" in plain or "e+" in plain  # inf/NaN, or orders of magnitude up
    assert "at step" not in clipped and "nan" not in clipped
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_trace_heatmap(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    heatmap = tmp_path / "h.png"
    assert main(["trace", "--cells", "lstm", "--hidden_size", "4", "--x", "1,0.5,-1,2", "--plot", str(heatmap)]) == 0
    assert f"wrote {heatmap}" in capsys.readouterr().out
    assert heatmap.read_bytes()[:4] == b"\x89PNG"
    assert main(["trace", "--x", "1,2", "--plot", str(heatmap)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["trace", "--x", "1,2", "--plot", str(tmp_path / "h")]) == 2  # no suffix: h.png, which exists
    assert f"{heatmap} exists; pass --force" in capsys.readouterr().err
    assert main(["trace", "--x", "1,2", "--plot", str(tmp_path / "h.xyz")]) == 2
    assert "writes .png or .pdf or .svg here, not .xyz" in capsys.readouterr().err
    assert main(["trace", "--x", "1,2", "--plot", str(tmp_path / "absent" / "h.png")]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err


def test_fit_says_when_the_compiled_backend_will_compile(tmp_path, capsys, monkeypatch):
    from seqkit.modules import compiled

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": "aot_eager"})  # the same graph, compiled fast
    recipe = ["fit", "-c", "sentiment/lstm_reviews", "--trainer.fast_dev_run", "1", "--trainer.enable_progress_bar",
              "false", "--trainer.default_root_dir", str(tmp_path)]
    assert main([*recipe, "--model.init_args.encoder.init_args.backend", "compiled"]) == 0
    assert "seqkit: LSTM run with backend='compiled': torch.compile compiles" in capsys.readouterr().err
    assert main(recipe) == 0  # the recipe's own backend, fused: nothing to say
    assert "backend='compiled'" not in capsys.readouterr().err
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)]) == 0
    checkpoint = str(next(tmp_path.rglob("last.ckpt")))
    capsys.readouterr()
    # validate (as test) runs the model of the recipe, here compiled, with the checkpoint's weights
    assert main(["validate", "-c", "sentiment/lstm_reviews", "--ckpt_path", checkpoint, "--trainer.enable_progress_bar",
                 "false", "--model.init_args.encoder.init_args.backend", "compiled"]) == 0
    assert "seqkit: LSTM run with backend='compiled'" in capsys.readouterr().err
    assert main(["validate", "-c", "sentiment/lstm_reviews", "--ckpt_path", checkpoint, "--trainer.enable_progress_bar",
                 "false"]) == 0
    assert "backend='compiled'" not in capsys.readouterr().err


def test_lightnings_weight_averaging_runs_quietly_and_its_checkpoint_holds_the_average(tmp_path):
    import torch

    from seqkit.tasks import SentimentTask

    done = _seqkit("fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "2", "--trainer.limit_train_batches",
                   "3", "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path),
                   "--trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging", "--trainer.callbacks.decay",
                   "0.5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WeightAveraging" not in done.stderr and "UserWarning" not in done.stderr
    best = next(tmp_path.rglob("best-*.ckpt"))
    saved = torch.load(best, weights_only=True)
    averaged, current = saved["state_dict"], saved["current_model_state"]
    assert any(not torch.equal(averaged[k], current[k]) for k in averaged)  # the average, not the weights as they were
    task = SentimentTask.load_from_checkpoint(best, map_location="cpu")
    assert all(torch.equal(v, averaged[k]) for k, v in task.state_dict().items())
    scored = _seqkit("validate", "-c", "sentiment/lstm_reviews", "--ckpt_path", str(best), "--trainer.enable_progress_bar",
                     "false", "--trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "WeightAveraging" not in scored.stderr and "Be aware" not in scored.stderr  # the callbacks of fit: not needed


def test_ctrl_c_in_a_command_is_one_line_and_exit_status_130(monkeypatch, capsys):
    import seqkit.commands.generate as generate

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "main", interrupted)
    assert main(["generate", "--ckpt_path", "x", "--prompt", "and"]) == 130
    assert capsys.readouterr().err.strip() == "seqkit generate: interrupted"


@pytest.mark.slow  # a new process
def test_a_command_exits_after_its_error_even_with_its_standard_input_left_open(tmp_path):
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    process = subprocess.Popen([sys.executable, "-m", "seqkit.cli", "classify", "--ckpt_path", str(empty), "good"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        process.wait(timeout=300)  # stdin stays open: a command waiting on it, or on work left running, would hang here
    finally:
        process.kill()
    err = process.stderr.read()
    assert process.returncode == 2 and err.strip().endswith("is not a readable checkpoint (truncated or corrupt?): "
                                                            "the file is empty")


def test_a_fine_tune_or_a_fit_on_your_own_file_gets_a_folder_of_its_own(tmp_path, monkeypatch, capsys):
    import shutil

    from seqkit import packaged

    monkeypatch.chdir(tmp_path)
    quick = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
             "--trainer.enable_progress_bar", "false"]
    recipe = ["fit", "-c", "sentiment/lstm_reviews", *quick]
    assert main(recipe) == 0
    runs = tmp_path / "runs" / "sentiment"
    assert main([*recipe, "--init_from", "runs/sentiment/lstm_reviews"]) == 0  # a fine-tune of the recipe's own run
    said = capsys.readouterr().err
    assert ("this run starts from --init_from runs/sentiment/lstm_reviews: it goes to runs/sentiment/lstm_reviews_"
            "finetuned, and the recipe's runs/sentiment/lstm_reviews stays as it was") in said
    shutil.copy(packaged.sample("reviews.csv"), tmp_path / "my reviews.csv")
    assert main([*recipe, "--data.train_path", "my reviews.csv", "--data.text_column", "review"]) == 0
    assert "it goes to runs/sentiment/lstm_reviews_my_reviews" in capsys.readouterr().err
    elsewhere = tmp_path / "elsewhere.ckpt"  # a model from another folder: the recipe's own path, as ULMFiT's
    shutil.copy(next((runs / "lstm_reviews").rglob("last.ckpt")), elsewhere)
    assert main([*recipe, "--init_from", str(elsewhere)]) == 0
    assert "it goes to" not in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == ["lstm_reviews", "lstm_reviews_finetuned", "lstm_reviews_my_reviews"]
    assert sorted(p.name for p in (runs / "lstm_reviews" / "lightning_logs").iterdir()) == ["version_0", "version_1"]
    for own in ("lstm_reviews_finetuned", "lstm_reviews_my_reviews"):
        assert [p.name for p in (runs / own / "lightning_logs").iterdir()] == ["version_0"]


def test_progress_in_a_log_is_lines_not_a_redrawn_bar(tmp_path, capsys, monkeypatch):
    from seqkit.training import progress

    monkeypatch.setattr(progress, "EVERY", 0.0)  # a line after every batch, to see them
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "3",
                 "--trainer.limit_val_batches", "1", "--trainer.default_root_dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    lines = captured.err.splitlines()
    assert [line for line in lines if "batch 3/3, step 3" in line and line.startswith("seqkit: epoch 1/2")]
    done = [line for line in lines if " done, step " in line]
    assert [line.split(",")[0] for line in done] == ["seqkit: epoch 1/2 done", "seqkit: epoch 2/2 done"]
    assert "val/acc" in done[-1] and "train/loss" in done[-1]
