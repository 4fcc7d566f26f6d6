"""Both memory recipes parse, name their command, and train from the shell on short sequences."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from seqkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes" / "memory"
SHORT = ["--data.length", "10", "--data.train_size", "64", "--data.val_size", "32", "--data.test_size", "32",
         "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_every_recipe_opens_with_its_command():
    names = sorted(p.name for p in RECIPES.glob("*.yaml") if not p.name.endswith(".space.yaml"))
    assert names == ["adding.yaml", "recall.yaml"]
    for name in names:
        text = (RECIPES / name).read_text()
        assert text.startswith("# ") and f"seqkit fit -c memory/{name[:-5]}" in text
        assert "--data.length 200" in text and "seqkit.modules.RNN" in text


@pytest.mark.parametrize("recipe, data", [("adding.yaml", "seqkit.data.AddingData"),
                                          ("recall.yaml", "seqkit.data.RecallData")])
def test_print_config(recipe, data, capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(RECIPES / recipe), "--print_config"])
    assert done.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == "seqkit.tasks.MemoryTask" and config["data"]["class_path"] == data
    assert config["data"]["init_args"]["length"] == 100 and config["trainer"]["gradient_clip_val"] == 1.0


def test_the_rnn_swap_in_the_comments_keeps_the_sizes(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "-c", str(RECIPES / "adding.yaml"), "--model.encoder", "seqkit.modules.RNN",
              "--data.length", "200", "--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    encoder = config["model"]["init_args"]["encoder"]
    assert encoder["class_path"] == "seqkit.modules.RNN" and encoder["init_args"]["hidden_size"] == 128
    assert config["data"]["init_args"]["length"] == 200


def test_the_recall_recipe_starts_the_lstm_gates_set_for_memory_and_names_the_ablation(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "-c", str(RECIPES / "recall.yaml"), "--print_config"])
    model = yaml.safe_load(capsys.readouterr().out)["model"]["init_args"]
    assert model["forget_bias"] == 5.0 and model["input_bias"] == -3.0
    assert model["encoder"]["class_path"] == "seqkit.modules.LSTM"
    assert "--model.forget_bias 0 --model.input_bias 0" in (RECIPES / "recall.yaml").read_text()


@pytest.mark.parametrize("recipe, metric", [("adding.yaml", "test/mse"), ("recall.yaml", "test/acc")])
def test_each_recipe_fits_and_tests_short_sequences_from_the_shell(recipe, metric, tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / recipe), "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.default_root_dir", str(tmp_path), *SHORT]) == 0
    assert "best val/loss" in capsys.readouterr().err
    last = next(tmp_path.rglob("last.ckpt"))
    section = torch.load(last, map_location="cpu", weights_only=True)["seqkit"]
    assert section["task"] == "memory" and section["data"]["length"] == 10
    assert main(["test", "-c", str(RECIPES / recipe), "--ckpt_path", str(last),
                 "--trainer.default_root_dir", str(tmp_path / "test"), *SHORT]) == 0
    assert metric in capsys.readouterr().out


def test_a_vanilla_rnn_runs_the_recipe_fast_dev_run(tmp_path):
    assert main(["fit", "-c", str(RECIPES / "recall.yaml"), "--model.encoder", "seqkit.modules.RNN",
                 "--trainer.fast_dev_run", "2", "--trainer.default_root_dir", str(tmp_path), *SHORT]) == 0


def test_a_bad_length_is_one_line_naming_the_flag(tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / "adding.yaml"), "--data.length", "1",
                 "--trainer.default_root_dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("seqkit fit: error: length must be an integer of at least 2") and "--data.length" in error
