"""docs/textbook.md: every command on the page runs (training commands on a few batches)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from seqkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "textbook.md"
QUICK_FIT = ["--trainer.fast_dev_run", "2", "--trainer.enable_progress_bar", "false"]
QUICK_COMPARE = ["--", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false", "--data.train_size", "64",
                 "--data.val_size", "32", "--data.test_size", "32", "--data.batch_size", "32",
                 "--model.init_args.encoder.init_args.hidden_size", "8"]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", PAGE.read_text(), flags=re.S)


def _commands() -> list[str]:
    return [line[2:] for block in _blocks("console") for line in block.splitlines() if line.startswith("$ seqkit ")]


def test_the_page_holds_the_commands_of_every_idea():
    commands = _commands()
    assert len(commands) >= 10
    for needed in ("seqkit trace --weights", "seqkit gradients", "--exploding", "seqkit compare", "carry_state false",
                   "-c forecasting/lstm", "-c sentiment/", "-c memory/recall", "seqkit trace --ckpt"):
        assert any(needed in c for c in commands), needed


@pytest.mark.parametrize("command", _commands())
def test_every_command_on_the_page_runs(command, tmp_path, monkeypatch, capsys, request):
    monkeypatch.chdir(tmp_path)  # outputs (PNGs, runs/) land in a fresh folder
    (tmp_path / "exercise.yaml").write_text(_blocks("yaml")[0])
    args = shlex.split(command)[1:]  # recipes by name, as a user types them
    if "-c sentiment/" in command:
        from seqkit.data.catalog import data_folder

        if not (data_folder() / "sst2" / "train.tsv").is_file():
            pytest.skip("SST-2 not found (set SEQKIT_DATA)")
        monkeypatch.setenv("SEQKIT_DATA", str(data_folder()))
    if "--ckpt_path" in args:  # a command that reads a trained sentiment model: a tiny one where the page says
        request.getfixturevalue("tiny_sentiment")(tmp_path / args[args.index("--ckpt_path") + 1])
    if args[0] == "fit":
        args += QUICK_FIT
    elif args[0] == "compare":
        args += ["--output_dir", str(tmp_path / "compare"), *QUICK_COMPARE]
    assert main(args) == 0, capsys.readouterr().err[-2000:]
    out = capsys.readouterr().out
    if command == "seqkit trace --weights exercise.yaml":
        assert "[-0.5260 0.7379]" in out
    if "--ckpt_path" in args:
        assert "prediction: " in out and "gripping" not in out.split("prediction: ")[1]  # <unk> to the tiny model
    if command.endswith("--x=-1,0.5,1"):
        assert "[-0.5260 0.7379]" not in out  # the same inputs in another order: another final state
    for word in shlex.split(command):
        if word.endswith(".png"):
            assert (tmp_path / word).stat().st_size > 5_000
