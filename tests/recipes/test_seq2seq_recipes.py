"""The dates recipe parses, names its commands, and trains, tests and translates from the shell on tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from seqkit.cli import main
from seqkit.tasks import Seq2SeqTask

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes" / "seq2seq"
TINY = ["--data.train_size", "64", "--data.val_size", "16", "--data.test_size", "16", "--data.batch_size", "16",
        "--model.init_args.encoder.init_args.hidden_size", "16",
        "--model.init_args.decoder.init_args.hidden_size", "16",
        "--model.embedding_size", "8", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_the_recipe_opens_with_its_commands():
    assert sorted(p.name for p in RECIPES.glob("*.yaml")) == ["dates.space.yaml", "dates.yaml"]
    text = (RECIPES / "dates.yaml").read_text()
    assert text.startswith("# ") and "seqkit fit -c seq2seq/dates" in text
    assert "seqkit test -c seq2seq/dates --ckpt_path" in text
    assert "--model.encoder seqkit.modules.RNN --model.decoder seqkit.modules.RNN" in text


def test_print_config(capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(RECIPES / "dates.yaml"), "--print_config"])
    assert done.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    model, data = config["model"], config["data"]
    assert model["class_path"] == "seqkit.tasks.Seq2SeqTask" and data["class_path"] == "seqkit.data.DatesData"
    for part in ("encoder", "decoder"):
        assert model["init_args"][part]["class_path"] == "seqkit.modules.LSTM"
    assert model["init_args"]["attention"] is True and data["init_args"]["train_size"] == 20000
    assert config["trainer"]["gradient_clip_val"] == 1.0


def test_the_rnn_swap_in_the_comments_keeps_the_sizes(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "-c", str(RECIPES / "dates.yaml"), "--model.encoder", "seqkit.modules.RNN",
              "--model.decoder", "seqkit.modules.RNN", "--print_config"])
    model = yaml.safe_load(capsys.readouterr().out)["model"]["init_args"]
    for part in ("encoder", "decoder"):
        assert model[part]["class_path"] == "seqkit.modules.RNN" and model[part]["init_args"]["hidden_size"] == 128


def test_the_recipe_fits_tests_and_translates_from_the_shell(tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / "dates.yaml"), "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "3", "--trainer.default_root_dir", str(tmp_path), *TINY]) == 0
    assert "best val/exact" in capsys.readouterr().err
    last = next(tmp_path.rglob("last.ckpt"))
    section = torch.load(last, map_location="cpu", weights_only=True)["seqkit"]
    assert section["task"] == "seq2seq" and section["decoder"]["init_args"]["hidden_size"] == 16
    assert main(["test", "-c", str(RECIPES / "dates.yaml"), "--ckpt_path", str(last), "--model.beam_size", "2",
                 "--trainer.default_root_dir", str(tmp_path / "test"), *TINY]) == 0
    assert "test/exact" in capsys.readouterr().out
    outputs = Seq2SeqTask.from_checkpoint(last).translate(["3 march 2021", "March 3, 2021"])
    assert len(outputs) == 2 and all(isinstance(text, str) for text in outputs)


def test_a_vanilla_rnn_runs_the_recipe_fast_dev_run(tmp_path):
    assert main(["fit", "-c", str(RECIPES / "dates.yaml"), "--model.encoder", "seqkit.modules.RNN",
                 "--model.decoder", "seqkit.modules.RNN", "--trainer.fast_dev_run", "2",
                 "--trainer.default_root_dir", str(tmp_path), *TINY]) == 0


def test_a_bad_size_is_one_line_naming_the_flag(tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / "dates.yaml"), "--data.val_size", "0",
                 "--trainer.default_root_dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("seqkit fit: error: val_size must be an integer of at least 1")
    assert "--data.val_size" in error
