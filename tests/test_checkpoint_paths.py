"""Checkpoints named the same way everywhere (file, run folder, last, best) and loaded only as plain data."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from seqkit.training import checkpoints
from seqkit.cli import main
from seqkit.errors import CheckpointError, SeqkitError

QUIET = ["--trainer.enable_progress_bar", "false"]
REVIEWS = ["-c", "sentiment/lstm_reviews"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run of the shipped review recipe: 6 epochs, so that its best and last checkpoints differ."""
    root = tmp_path_factory.mktemp("reviews")
    assert main(["fit", *REVIEWS, "--trainer.max_epochs", "6", "--trainer.default_root_dir", str(root), *QUIET]) == 0
    return root


def _checkpoints(root: Path) -> tuple[Path, Path]:
    folder = root / "lightning_logs" / "version_0" / "checkpoints"
    [best] = folder.glob("best-*.ckpt")
    return best, folder / "last.ckpt"


class Payload:
    """Unpickling this runs code: it writes a file (what a hostile checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the payload ran"))


def test_a_run_folder_last_and_best_resolve_to_files(trained, capsys):
    best, last = _checkpoints(trained)
    assert checkpoints.resolve(trained) == best  # a run folder means its best checkpoint
    assert f"seqkit: checkpoint {best} (its best validation score" in capsys.readouterr().err
    assert checkpoints.resolve(trained, prefer="last") == last
    assert checkpoints.resolve("best", root=trained) == best and checkpoints.resolve("last", root=trained) == last
    assert checkpoints.resolve(trained / "lightning_logs" / "version_0") == best
    assert checkpoints.resolve(last) == last
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.resolve(trained / "absent.ckpt")
    with pytest.raises(CheckpointError, match="needs the recipe's run folder"):
        checkpoints.resolve("best")


def test_test_without_a_checkpoint_is_refused_in_one_line(trained, capsys):
    assert main(["test", *REVIEWS, "--trainer.default_root_dir", str(trained)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("seqkit test: error: seqkit test needs a trained model: --ckpt_path best")


@pytest.mark.parametrize("value", ["best", "last", "RUN"])
def test_validate_scores_the_trained_run_and_writes_beside_it(value, trained, capsys):
    ckpt = str(trained) if value == "RUN" else value
    assert main(["validate", *REVIEWS, "--ckpt_path", ckpt, "--trainer.default_root_dir", str(trained), *QUIET]) == 0
    out = capsys.readouterr().out
    best, last = _checkpoints(trained)
    chosen = last if value == "last" else best
    score = float(torch.load(chosen, weights_only=True)["callbacks"][next(
        k for k in torch.load(chosen, weights_only=True)["callbacks"] if k.startswith("ModelCheckpoint"))]["best_model_score"])
    if value != "last":
        assert f"{score:.4f}"[:5] in out  # the validation accuracy of the best checkpoint, not of an untrained model
    assert any(p.name.startswith("validate-") for p in (trained / "lightning_logs" / "version_0").iterdir())


def test_a_root_dir_on_the_command_line_takes_the_output_of_a_checkpoint_run_elsewhere(trained, tmp_path):
    best, _ = _checkpoints(trained)
    elsewhere = tmp_path / "scores"
    assert main(["test", *REVIEWS, "--ckpt_path", str(best), "--trainer.default_root_dir", str(elsewhere), *QUIET]) == 0
    [written] = elsewhere.rglob("config.yaml")
    assert written.parent.parent == elsewhere / "lightning_logs"  # a run of its own there, not beside the checkpoint


def test_none_evaluates_the_untrained_model_when_asked(trained, tmp_path):
    assert main(["validate", *REVIEWS, "--ckpt_path", "none", "--trainer.default_root_dir", str(tmp_path), *QUIET]) == 0


def test_a_hostile_last_checkpoint_is_refused_whatever_the_environment_says(trained, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "ran.txt"
    hostile = trained / "lightning_logs" / "version_9" / "checkpoints" / "last.ckpt"
    hostile.parent.mkdir(parents=True)
    torch.save({"seqkit": {"task": "sentiment"}, "state_dict": {}, "x": Payload(marker)}, hostile)
    future = time.time() + 60
    os.utime(hostile, (future, future))  # the newest last.ckpt under the run folder
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    try:
        for args in (["fit", "--ckpt_path", "last"], ["fit", "--ckpt_path", str(hostile)],
                     ["test", "--ckpt_path", "last"], ["validate", "--ckpt_path", str(hostile)]):
            code = main([args[0], *REVIEWS, *args[1:], "--trainer.default_root_dir", str(trained), *QUIET])
            err = capsys.readouterr().err.strip().splitlines()
            assert code == 2, args
            assert err[-1].startswith(f"seqkit {args[0]}: error: refusing to load {hostile}: it does not load as plain data")
            assert not marker.exists(), args
        assert main(["generate", "--ckpt_path", str(hostile), "--prompt", "x"]) == 2
        assert not marker.exists()
        assert os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"  # put back as it was
    finally:
        hostile.unlink()


def test_weights_only_false_is_refused(trained, capsys):
    assert main(["fit", *REVIEWS, "--ckpt_path", "last", "--weights_only", "false",
                 "--trainer.default_root_dir", str(trained)]) == 2
    assert "--weights_only false is not supported" in capsys.readouterr().err


def test_inference_commands_take_a_run_folder_and_say_which_file(trained, capsys):
    assert main(["classify", "--ckpt_path", str(trained), "the staff were lovely"]) == 0
    best, _ = _checkpoints(trained)
    assert f"seqkit: checkpoint {best}" in capsys.readouterr().err


SMALL = {  # recipe: (task class, options that keep the run to seconds)
    "next_word/lstm": ("NextWordTask", ["--data.max_tokens", "500"]),
    "sentiment/lstm_reviews": ("SentimentTask", []),
    "forecasting/lstm": ("ForecastTask", []),
    "memory/adding": ("MemoryTask", ["--data.train_size", "64", "--data.val_size", "32", "--data.test_size", "32"]),
    "seq2seq/dates": ("Seq2SeqTask", ["--data.train_size", "64", "--data.val_size", "32", "--data.test_size", "32"]),
}


@pytest.mark.parametrize("recipe", list(SMALL))
def test_load_from_checkpoint_gives_the_model_from_checkpoint_gives(recipe, tmp_path):
    import seqkit.tasks

    name, options = SMALL[recipe]
    assert main(["fit", "-c", recipe, *options, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "1", "--trainer.default_root_dir", str(tmp_path), *QUIET]) == 0
    task_class = getattr(seqkit.tasks, name)
    ours = task_class.from_checkpoint(tmp_path)  # a run folder
    lightnings = task_class.load_from_checkpoint(checkpoints.resolve(tmp_path, say=False), map_location="cpu")
    assert type(lightnings) is task_class and not lightnings.training
    mine, theirs = ours.state_dict(), lightnings.state_dict()
    assert list(mine) == list(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)
    for attribute in ("vocab", "labels", "source_vocab", "target_vocab"):
        if getattr(ours, attribute, None) is not None:
            left, right = getattr(ours, attribute), getattr(lightnings, attribute)
            assert (left.get_itos() if hasattr(left, "get_itos") else left) == \
                   (right.get_itos() if hasattr(right, "get_itos") else right), attribute
    with pytest.raises(SeqkitError, match="takes a checkpoint and map_location only"):
        task_class.load_from_checkpoint(checkpoints.resolve(tmp_path, say=False), hparams_file="h.yaml")


@pytest.mark.parametrize("command", ["classify", "trace"])
def test_inference_commands_take_best_and_last_of_a_recipe(command, trained, tmp_path, capsys):
    """`-c RECIPE --ckpt_path best|last` on an inference command looks under the recipe's run folder."""
    import yaml

    from seqkit import packaged

    recipe = yaml.safe_load(packaged.recipe_path("sentiment/lstm_reviews").read_text())
    recipe["trainer"]["default_root_dir"] = str(trained)
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(recipe))
    best, last = _checkpoints(trained)
    text = ["a fine film"] if command == "classify" else ["--text", "a fine film"]
    for value, chosen in (("best", best), ("last", last)):
        assert main([command, "-c", str(tmp_path / "mine.yaml"), "--ckpt_path", value, *text]) == 0
        assert f"seqkit: checkpoint {chosen} " in capsys.readouterr().err
    assert main([command, "--ckpt_path", "best", *text]) == 2  # no recipe: nothing to look under
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "needs the recipe's run folder: give -c RECIPE" in err


def test_a_checkpoint_of_a_development_layout_is_refused_in_one_line(trained, tmp_path):
    """Weights named `embedding.weight`, `encoder.*`, `head.*` (a layout before `task.model`): train again."""
    from seqkit.errors import CheckpointError
    from seqkit.tasks.sentiment import SentimentTask

    best, _ = _checkpoints(trained)
    checkpoint = torch.load(best, weights_only=True)
    assert all(name.startswith("model.") for name in checkpoint["state_dict"])
    checkpoint["state_dict"] = {name.removeprefix("model."): value for name, value in checkpoint["state_dict"].items()}
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    with pytest.raises(CheckpointError, match=r"old.ckpt was written by a development version of seqkit \(its weights "
                       r"are not under model.\*\); train it again with `seqkit fit` and the same recipe"):
        SentimentTask.from_checkpoint(old)


def test_a_folder_of_runs_of_different_data_is_not_guessed_between(tmp_path, capsys):
    quick = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
             "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)]
    assert main(["fit", *REVIEWS, *quick]) == 0
    assert main(["fit", *REVIEWS, *quick]) == 0  # the same recipe again: the newest run is the one meant
    assert main(["classify", "--ckpt_path", str(tmp_path), "good"]) == 0
    assert "newest run under" in capsys.readouterr().err
    assert main(["fit", *REVIEWS, *quick, "--data.val_fraction", "0.2"]) == 0  # other data, the same folder
    capsys.readouterr()
    assert main(["classify", "--ckpt_path", str(tmp_path), "good"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{tmp_path} holds runs of different models or data" in err
    assert f"--ckpt_path {tmp_path}/lightning_logs/version_2" in err
    assert main(["classify", "--ckpt_path", f"{tmp_path}/lightning_logs/version_0", "good"]) == 0  # one run, named
