"""Bad checkpoints, for every command and call that loads one: broken, foreign or hostile files get one line.

Hostile checkpoints hide a command in their pickle (`touch SENTINEL`); every load path (the
tasks' `from_checkpoint`, `--init_from`, `--ckpt_path` of the four loops, `--ckpt_path` of
generate, classify, forecast and backtest) must refuse them, and the sentinel must not
appear. Broken and foreign ones (cut short, another task's, a newer format, weights of
another shape, ...) each get a clear `CheckpointError` that names the file.
"""

from __future__ import annotations

import os
import pickle
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit.training import checkpoints
from seqkit.cli import main as seqkit
from seqkit.data import Columns, ForecastData
from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData
from seqkit.errors import CheckpointError
from seqkit.modules import LSTM
from seqkit.tasks.forecast import ForecastTask
from seqkit.tasks.memory import MemoryTask
from seqkit.tasks.next_word import NextWordTask
from seqkit.tasks.sentiment import SentimentTask
from seqkit.tasks.seq2seq import Seq2SeqTask

ROOT = Path(__file__).resolve().parents[2]

def raw(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


class Payload:
    """An object whose unpickling runs `touch target`: what a hostile checkpoint hides."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.target))}",))


HOSTILE_FORMATS = ("torch zip", "torch legacy", "pickle protocol 2", "pickle protocol 5")


def hostile(source: Path | None, target: Path, path: Path, kind: str) -> Path:
    """Write to `path` `source`'s content (or a bare seqkit section) plus a payload that touches `target`.

    Apart from the payload it is a good checkpoint, so a refusal can only come from the pickle.
    """
    checkpoint = raw(source) if source is not None else {"seqkit": {"task": "memory"}, "state_dict": {}}
    checkpoint.setdefault("hyper_parameters", {})["lr"] = Payload(target)
    if kind == "torch zip":
        torch.save(checkpoint, path)
    elif kind == "torch legacy":
        torch.save(checkpoint, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as handle:
            pickle.dump(checkpoint, handle, protocol=int(kind.split()[-1]))
    return path


@pytest.fixture(scope="module")
def hostiles(made, tmp_path_factory) -> tuple[dict[str, list[Path]], Path]:
    """Hostile copies of each task's checkpoint in every format, and the sentinel they would create."""
    folder = tmp_path_factory.mktemp("hostile")
    sentinel = folder / "SENTINEL"
    sources = {"next_word": made["next_word"], "sentiment": made["sentiment"], "forecast": made["forecast"],
               "memory": None, "seq2seq": None}
    paths = {task: [hostile(source, sentinel, folder / f"{task}_{kind.replace(' ', '_')}.ckpt", kind)
                    for kind in HOSTILE_FORMATS] for task, source in sources.items()}
    return paths, sentinel


def test_the_hostile_checkpoints_are_really_hostile(made, tmp_path):
    """The control: loaded without weights_only, each one runs its command (so the refusals below mean something)."""
    for kind in HOSTILE_FORMATS:
        target = tmp_path / f"ran_{kind.replace(' ', '_')}"
        path = hostile(made["sentiment"], target, tmp_path / "hostile.ckpt", kind)
        try:
            torch.load(path, weights_only=False)
        except Exception:  # noqa: BLE001 -- what the payload returns (an exit status) is not a checkpoint
            pass
        assert target.exists(), f"the {kind} payload did not run when unpickled unsafely"


def init_from(task_class: type, encoder: Callable[[], torch.nn.Module], data: Callable[[dict], object]):
    """`--init_from` as `seqkit fit` does it: a fresh task takes the checkpoint, with the recipe's DataModule."""
    return lambda made: lambda path: task_class(encoder()).init_from_checkpoint(path, data(made))


# Every way seqkit loads a checkpoint a user names: the task whose checkpoint it takes, and the call
# (built from the real checkpoints and files, for the DataModules that --init_from hands on).
LOADERS: dict[str, tuple[str, Callable[[dict[str, Path]], Callable[[Path], object]]]] = {
    "checkpoints.load": ("next_word", lambda made: checkpoints.load),
    "NextWordTask.from_checkpoint": ("next_word", lambda made: NextWordTask.from_checkpoint),
    "SentimentTask.from_checkpoint": ("sentiment", lambda made: SentimentTask.from_checkpoint),
    "ForecastTask.from_checkpoint": ("forecast", lambda made: ForecastTask.from_checkpoint),
    "MemoryTask.from_checkpoint": ("memory", lambda made: MemoryTask.from_checkpoint),
    "Seq2SeqTask.from_checkpoint": ("seq2seq", lambda made: Seq2SeqTask.from_checkpoint),
    "NextWordTask --init_from": ("next_word", init_from(
        NextWordTask, lambda: LSTM(8, 8), lambda made: NextWordData(train_path=str(made["train.txt"])))),
    "SentimentTask --init_from": ("sentiment", init_from(
        SentimentTask, lambda: LSTM(8, 8), lambda made: SentimentData(train_path=str(made["reviews.csv"])))),
    "SentimentTask --init_from a language model": ("next_word", init_from(
        SentimentTask, lambda: LSTM(8, 8), lambda made: SentimentData(train_path=str(made["reviews.csv"])))),
    "ForecastTask --init_from": ("forecast", init_from(
        ForecastTask, lambda: LSTM(1, 8), lambda made: ForecastData(train_path=str(made["series.csv"]), columns=Columns(time_column="time", target_columns="y"), input_length=4, horizon=2))),
}


def test_the_real_checkpoints_load(made):
    """The other control: the checkpoints that the bad ones are made from load, through every loader."""
    for way, (task, loader) in LOADERS.items():
        if task in made:
            loader(made)(made[task])


@pytest.mark.parametrize("way", list(LOADERS))
def test_every_load_path_refuses_a_checkpoint_whose_pickle_would_run_a_command(way, made, hostiles, refused):
    paths, sentinel = hostiles
    task, loader = LOADERS[way]
    load = loader(made)
    for path in paths[task]:
        refused(CheckpointError, rf"refusing to load {re.escape(str(path))}: .*never unpickles", lambda: load(path), path)
        assert not sentinel.exists(), f"{way} ran the command hidden in {path.name}"


COMMAND_PATHS = [
    ("generate", "next_word", ["--prompt", "the cat"]),
    ("classify", "sentiment", ["a good film"]),
    ("forecast", "forecast", ["--input", "{series}"]),
    ("backtest", "forecast", ["--input", "{series}", "--test_size", "6"]),
]


@pytest.mark.parametrize("name, task, rest", COMMAND_PATHS, ids=[name for name, _, _ in COMMAND_PATHS])
def test_every_command_taking_a_checkpoint_refuses_a_hostile_one_in_one_line(name, task, rest, made, hostiles, capsys,
                                                                            digest):
    paths, sentinel = hostiles
    for path in paths[task]:
        before = digest(path)
        argv = [name, "--ckpt_path", str(path), *[arg.format(series=made["series.csv"]) for arg in rest]]
        assert seqkit(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"seqkit {name}: error: refusing to load {path}") and err.count("\n") == 1, err
        assert "Traceback" not in err and digest(path) == before
        assert not sentinel.exists()


RECIPES = [("next_word", "next_word/rnn.yaml"), ("sentiment", "sentiment/rnn.yaml"), ("forecast", "forecasting/rnn.yaml")]


@pytest.mark.parametrize("task, recipe", RECIPES, ids=[task for task, _ in RECIPES])
def test_seqkit_fit_init_from_refuses_a_hostile_checkpoint(task, recipe, hostiles, tmp_path, capsys, digest):
    paths, sentinel = hostiles
    path = paths[task][0]
    before = digest(path)
    code = seqkit(["fit", "-c", str(ROOT / "recipes" / recipe), "--init_from", str(path),
                   "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"])
    err = capsys.readouterr().err
    assert code == 2 and f"seqkit fit: error: refusing to load {path}" in err, err
    assert digest(path) == before and not sentinel.exists()
    assert not list(tmp_path.rglob("*.ckpt")), "training started before the checkpoint was refused"


def test_seqkit_test_ckpt_path_runs_nothing_from_a_hostile_checkpoint(made, hostiles, tmp_path, monkeypatch, capsys):
    """`--ckpt_path` goes through seqkit's loader before Lightning's: a clear refusal, and nothing runs."""
    paths, sentinel = hostiles
    path = paths["next_word"][0]
    for command in ("test", "fit"):
        argv = [command, "-c", str(ROOT / "recipes/next_word/rnn.yaml"), "--ckpt_path", str(path),
                "--data.dataset", "null", "--data.train_path", str(made["train.txt"]), "--data.test_path",
                str(made["train.txt"]), "--data.batch_size", "2", "--data.eval_batch_size", "2",
                "--trainer.default_root_dir", str(tmp_path / command), "--trainer.logger", "false"]
        code, message = seqkit(argv), capsys.readouterr().err
        assert code == 2 and f"refusing to load {path}" in message, message
        assert not sentinel.exists()


def test_seqkit_test_ckpt_path_of_another_task_says_so(made, tmp_path, capsys, digest):
    argv = ["test", "-c", str(ROOT / "recipes/next_word/rnn.yaml"), "--ckpt_path", str(made["sentiment"]),
            "--data.dataset", "null", "--data.train_path", str(made["train.txt"]), "--data.test_path",
            str(made["train.txt"]), "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    before = digest(made["sentiment"])
    code, message = seqkit(argv), capsys.readouterr().err
    assert code == 2 and "is a checkpoint of the 'sentiment' task; this needs a 'next_word' checkpoint" in message, message
    assert digest(made["sentiment"]) == before


def test_seqkit_test_ckpt_path_that_does_not_exist_says_so(made, tmp_path, capsys):
    missing = tmp_path / "nowhere.ckpt"
    argv = ["test", "-c", str(ROOT / "recipes/next_word/rnn.yaml"), "--ckpt_path", str(missing),
            "--data.dataset", "null", "--data.train_path", str(made["train.txt"]), "--data.test_path",
            str(made["train.txt"]), "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    code, message = seqkit(argv), capsys.readouterr().err
    assert code == 2 and f"checkpoint {missing} does not exist" in message, message


# A checkpoint that is broken or foreign (not hostile): how it is made from the real ones, what loads it.
@dataclass
class Broken:
    name: str
    make: Callable[[dict[str, Path], Path], None]  # (the real checkpoints, the path to write)
    load: Callable[[Path], object]
    message: str  # a regular expression; {file} is the checkpoint's path


def cut(task: str, keep: int) -> Callable[[dict[str, Path], Path], None]:
    """A copy of `task`'s checkpoint cut after `keep` bytes (negative: that many bytes short of the end)."""
    return lambda made, path: path.write_bytes(made[task].read_bytes()[:keep])


def change(task: str, edit: Callable[[dict], object]) -> Callable[[dict[str, Path], Path], None]:
    def make(made: dict[str, Path], path: Path) -> None:
        checkpoint = raw(made[task])
        edit(checkpoint)
        torch.save(checkpoint, path)
    return make


def zipped(made: dict[str, Path], path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a model")


def first_weight(checkpoint: dict, value: object) -> None:
    name = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"][name] = value(checkpoint["state_dict"][name]) if callable(value) else value


BROKEN = [
    Broken("cut short by 100 bytes", cut("sentiment", -100), SentimentTask.from_checkpoint,
           r"{file} is not a readable checkpoint \(truncated or corrupt\?\)"),
    Broken("cut to its first 1000 bytes", cut("next_word", 1000), NextWordTask.from_checkpoint,
           r"{file} is not a readable checkpoint \(truncated or corrupt\?\)"),
    Broken("random bytes", lambda made, path: path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4096))),
           ForecastTask.from_checkpoint, r"refusing to load {file}: it does not load as plain data \(Unsupported "
           r"operand 13\)\. It is corrupt, or it holds pickled objects"),
    Broken("an empty file", lambda made, path: path.write_bytes(b""), checkpoints.load,
           r"{file} is not a readable checkpoint \(truncated or corrupt\?\)"),
    Broken("a zip archive of something else", zipped, checkpoints.load,
           r"{file} is not a readable checkpoint \(truncated or corrupt\?\)"),
    Broken("a YAML recipe named .ckpt", lambda made, path: path.write_text((ROOT / "recipes/next_word/rnn.yaml").read_text()),
           NextWordTask.from_checkpoint, r"refusing to load {file}: it does not load as plain data \(Unsupported "
           r"operand 35\)\. It is corrupt"),
    Broken("a checkpoint of another task", change("sentiment", lambda c: None), NextWordTask.from_checkpoint,
           r"{file} is a checkpoint of the 'sentiment' task; this needs a 'next_word' checkpoint"),
    Broken("a forecaster given to sentiment's --init_from", change("forecast", lambda c: None),
           lambda path: SentimentTask(LSTM(8, 8)).init_from_checkpoint(path),
           r"{file} is a 'forecast' checkpoint; --init_from takes a sentiment or a next_word one"),
    Broken("a plain Lightning checkpoint (no seqkit section)", change("next_word", lambda c: c.pop("seqkit")),
           NextWordTask.from_checkpoint, r"{file} is not a seqkit checkpoint \(it has no 'seqkit' section\)"),
    Broken("a bare state_dict saved with torch.save",
           lambda made, path: torch.save(raw(made["next_word"])["state_dict"], path), checkpoints.load,
           r"{file} is not a seqkit checkpoint"),
    Broken("a newer seqkit's format", change("sentiment", lambda c: c["seqkit"].update(format=2)),
           SentimentTask.from_checkpoint, r"{file}: its seqkit section has format 2; this seqkit reads format 1"),
    Broken("a vocabulary that is not seqkit's", change("next_word", lambda c: c["seqkit"].update(vocab={"the": 0})),
           NextWordTask.from_checkpoint, r"{file}: the checkpoint's 'vocab': not a seqkit vocabulary"),
    Broken("a vocabulary with a token twice",
           change("sentiment", lambda c: c["seqkit"]["vocab"]["itos"].append(c["seqkit"]["vocab"]["itos"][0])),
           SentimentTask.from_checkpoint, r"{file}: the checkpoint's 'vocab': token '<unk>' appears twice"),
    Broken("a section without its encoder", change("forecast", lambda c: c["seqkit"].pop("encoder")),
           ForecastTask.from_checkpoint, r"{file}: its seqkit section lacks 'encoder', which a 'forecast' checkpoint"),
    Broken("a section without its data state", change("forecast", lambda c: c["seqkit"].pop("data")),
           lambda path: ForecastTask(LSTM(1, 8)).init_from_checkpoint(path),
           r"{file}: its seqkit section lacks 'data'"),
    Broken("labels that are numbers", change("sentiment", lambda c: c["seqkit"].update(labels=[0, 1])),
           SentimentTask.from_checkpoint, r"{file}: the checkpoint's 'labels' is a list \(\[0, 1\]\), not a list of "
           r"label strings"),
    Broken("a direction that is not true or false", change("next_word", lambda c: c["seqkit"].update(reverse="yes")),
           NextWordTask.from_checkpoint, r"{file}: the checkpoint's 'reverse' is a str \('yes'\), not true or false"),
    Broken("a backward language model given to --init_from", change("next_word", lambda c: c["seqkit"].update(reverse=True)),
           lambda path: SentimentTask(LSTM(8, 8)).init_from_checkpoint(path),
           r"{file} is a backward language model \(it reads text last word first\); start a classifier that reads the same way "
           r"from it \(--model.init_args.reverse true\), or give it as --init_from_backward"),
    Broken("an encoder that is a shell function",
           change("next_word", lambda c: c["seqkit"]["encoder"].update(class_path="os.system")),
           NextWordTask.from_checkpoint, r"{file}: the checkpoint's encoder os.system is not a seqkit recurrent module"),
    Broken("an encoder from a module never imported",
           change("next_word", lambda c: c["seqkit"]["encoder"].update(class_path="evil_cells.Cell")),
           NextWordTask.from_checkpoint, r"{file}: the checkpoint's encoder is evil_cells.Cell, which nothing installed or imported provides \(a "
           r"checkpoint never makes seqkit import code\); to load it, install a package that declares it in the entry-point group 'seqkit.modules', or name its "
           r"module with `seqkit --import MODULE`"),
    Broken("an encoder whose hidden_size was edited to ten million",
           change("sentiment", lambda c: c["seqkit"]["encoder"]["init_args"].update(hidden_size=10**7)),
           SentimentTask.from_checkpoint, r"{file}: the checkpoint's encoder seqkit.modules.lstm.LSTM cannot be built "
           r"from its init_args: LSTM\(input_size=\d+, hidden_size=10000000, num_layers=1\) would hold [\d,]+ parameters "
           r"\([\d,.]+ GiB\), more than this machine's"),
    Broken("an encoder with arguments it does not take",
           change("sentiment", lambda c: c["seqkit"]["encoder"]["init_args"].update(gates=5)),
           SentimentTask.from_checkpoint, r"{file}: the checkpoint's encoder seqkit.modules.lstm.LSTM cannot be built "
           r"from its init_args: got an unexpected keyword argument 'gates'"),
    Broken("weights of another shape", change("next_word", lambda c: first_weight(c, lambda w: torch.zeros(3, 3))),
           NextWordTask.from_checkpoint, r"the checkpoint {file} does not fit this model .*other shape"),
    Broken("a weight that is not a tensor", change("forecast", lambda c: first_weight(c, [1.0, 2.0])),
           ForecastTask.from_checkpoint, r"{file}: its state_dict holds 1 entries that are not named tensors"),
    Broken("no state_dict", change("sentiment", lambda c: c.pop("state_dict")), SentimentTask.from_checkpoint,
           r"{file} has no state_dict"),
    Broken("a path that does not exist", lambda made, path: None, SentimentTask.from_checkpoint,
           r"checkpoint {file} does not exist"),
]


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_a_broken_or_foreign_checkpoint_gets_a_clear_error(case, made, tmp_path, refused):
    path = tmp_path / "model.ckpt"
    case.make(made, path)
    error = refused(CheckpointError, case.message.replace("{file}", re.escape(str(path))), lambda: case.load(path), path)
    assert "\n" not in str(error)



# A fixed, bounded set of examples (derandomize: the same ones on every run); FUZZ_N=2000 searches deeper.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_N", 60)), derandomize="FUZZ_N" not in os.environ,
                deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(content=st.binary(max_size=300))
def test_fuzz_checkpoint_loading_with_arbitrary_bytes(scratch, content, only_seqkit_errors):
    path = scratch / "any.ckpt"
    only_seqkit_errors(path, content, lambda: checkpoints.load(path))


@settings(FUZZ, max_examples=40)
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_checkpoint_loading_with_corrupted_real_checkpoints(made, scratch, edits, only_seqkit_errors):
    """A real checkpoint with a few bytes overwritten: loads as it was, or a CheckpointError; never another error."""
    content = bytearray(made["next_word"].read_bytes())
    for where, value in edits:
        content[int(where * len(content))] = value
    path = scratch / "corrupted.ckpt"
    only_seqkit_errors(path, bytes(content), lambda: NextWordTask.from_checkpoint(path), names_file=False)
