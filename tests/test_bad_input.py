"""The catalogue of bad inputs: files a user hands seqkit that are broken, or hostile, and the error each gets.

Every case writes a bad file, gives it to seqkit the way a user would (a DataModule's
`setup`, `Vocab.load`, a task's `from_checkpoint` or `init_from_checkpoint`, a `seqkit`
command), and checks three things:

- the error is exactly seqkit's own class for the problem (`DataError` for data files and
  vocabularies, `CheckpointError` for checkpoints, `SeqkitError` for a command used wrongly);
- its message names the file and the problem (the column, the line, the series);
- the file's bytes are the same afterwards (and a command's output was not written).

Hostile checkpoints hide a command in their pickle (`touch SENTINEL`); every load path must
refuse them and the sentinel must not appear. The hypothesis tests at the end feed the
readers arbitrary bytes and text, a bounded and fixed set of examples, and allow no
exception but a `SeqkitError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pickle
import re
import shlex
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit import checkpoints
from seqkit.cli import main as seqkit
from seqkit.data import ForecastData
from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData
from seqkit.errors import CheckpointError, DataError, SeqkitError
from seqkit.modules import LSTM
from seqkit.tasks.forecast import ForecastTask
from seqkit.tasks.memory import MemoryTask
from seqkit.tasks.next_word import NextWordTask
from seqkit.tasks.sentiment import SentimentTask
from seqkit.tasks.seq2seq import Seq2SeqTask
from seqkit.text import Vocab, get_tokenizer
from seqkit.vectors import fill_embedding

ROOT = Path(__file__).resolve().parents[1]

# torch notes that a pickle of protocol 5 is not its own: the hostile files are written that way on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


# ----------------------------------------------------------------------------- helpers
def digest(path: Path) -> str | None:
    """The sha256 of a file's bytes; None when there is no file there."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def refused(error: type[SeqkitError], pattern: str, call: Callable[[], object], *files: Path) -> SeqkitError:
    """Run `call`, expect exactly `error` with a message matching `pattern`, and `files` unchanged.

    Returns:
        The error, for further checks.
    """
    before = {path: digest(path) for path in files}
    with pytest.raises(error, match=pattern) as caught:
        call()
    assert type(caught.value) is error, f"expected {error.__name__}, got {type(caught.value).__name__}: {caught.value}"
    assert {path: digest(path) for path in files} == before, "seqkit changed the user's file"
    return caught.value


def quiet(read: Callable[[Path], object]) -> Callable[[Path], object]:
    """`read` with warnings silenced (a skipped-rows warning is expected where an error follows)."""
    def run(folder: Path) -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read(folder)
    return run


def trainer(root: Path, **options) -> pl.Trainer:
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, logger=False, **options)


# The readers, called as a recipe calls them, on a folder that holds the user's files.
def next_word(folder: Path, **options) -> None:
    NextWordData(train_path=str(folder / "train.txt"), batch_size=2, eval_batch_size=2, bptt=4, **options).setup()


def sentiment(name: str = "reviews.csv", **options) -> Callable[[Path], None]:
    def read(folder: Path) -> None:
        paths = {key: str(folder / value) for key, value in options.items() if key.endswith("_path")}
        rest = {key: value for key, value in options.items() if not key.endswith("_path")}
        SentimentData(train_path=str(folder / name), **paths, **rest).setup()
    return read


def forecast(name: str = "series.csv", **options) -> Callable[[Path], None]:
    def read(folder: Path) -> None:
        settings_ = {"time_column": "time", "target_columns": "y", "input_length": 3, "horizon": 2, "val_size": 2,
                     "test_size": 2, **options}
        ForecastData(train_path=str(folder / name), **settings_).setup()
    return read


def vocab(folder: Path) -> None:
    Vocab.load(folder / "vocab.json")


def vectors(folder: Path) -> None:
    """`--model.pretrained_embeddings`: a GloVe file read into a 4-wide embedding of a small vocabulary."""
    words = Vocab(["<unk>", "the", "cat", "sat"], default_index=0)
    fill_embedding(torch.zeros(len(words), 4), words, folder / "glove.txt")


def days(values: list[str], start: int = 1) -> str:
    """A `time,y` CSV of one row per day from 2020-01-<start>."""
    rows = [f"2020-01-{start + i:02d},{value}" for i, value in enumerate(values)]
    return "time,y\n" + "\n".join(rows) + "\n"


GOOD_VOCAB = {"format": "seqkit.vocab", "version": 1, "itos": ["<unk>", "the", "cat"], "default_index": 0}
REVIEWS = "".join(f"a good film {i},pos\na bad film {i},neg\n" for i in range(5))


# ----------------------------------------------------------------------------- the catalogue of data files
@dataclass
class Case:
    """One bad input: the files to write, how seqkit reads them, and the error it must give.

    `message` is a regular expression; `{file}` in it stands for the path of `target`,
    by default the first file (or folder) of `files`.
    """

    name: str
    files: dict[str, str | bytes]
    read: Callable[[Path], object]
    error: type[SeqkitError]
    message: str
    target: str = ""


CASES = [
    # next-word text files
    Case("text: missing file", {}, next_word, DataError, r"{file}: no such text file", "train.txt"),
    Case("text: empty file", {"train.txt": ""}, next_word, DataError, r"{file}: the file is empty"),
    Case("text: only whitespace", {"train.txt": " \n\t\n\n"}, next_word, DataError, r"{file}: the file is empty"),
    Case("text: Latin-1, not UTF-8", {"train.txt": "first line\nsecond\ncaf\xe9 au lait\n".encode("latin-1")},
         next_word, DataError, r"{file}: not UTF-8 text: line 3, byte offset 21 \(byte 0xe9\)"),
    Case("text: UTF-16", {"train.txt": "the cat sat\n".encode("utf-16")}, next_word, DataError,
         r"{file}: not UTF-8 text: line 1, byte offset 0 \(byte 0xff\)"),
    Case("text: binary (gzip)", {"train.txt": b"\x1f\x8b\x08\x00" + bytes(range(256))}, next_word, DataError,
         r"{file}: is a gzip-compressed file, not a text file; decompress it first"),
    Case("text: a folder, not a file", {"train.txt/inside.txt": "the cat sat\n"}, next_word, DataError,
         r"{file}: is a folder, not a text file"),
    Case("text: one line, nothing to hold out", {"train.txt": "the cat sat on the mat\n"}, next_word, DataError,
         r"{file} has 1 lines, too few to hold out 5% for validation"),
    Case("text: too short for the parallel streams", {"train.txt": "a b\n" * 2}, lambda d: next_word(d, val_fraction=0.5),
         DataError, r"the train split of {file} has 3 tokens: too short for 2 parallel streams \(needs at least 4\)"),
    # sentiment tables
    Case("sentiment: missing file", {}, sentiment(), DataError, r"{file}: no such CSV file", "reviews.csv"),
    Case("sentiment: unknown extension", {"reviews.txt": "text,label\nfine,pos\n"}, sentiment("reviews.txt"), DataError,
         r"{file}: unknown file type '.txt'"),
    Case("sentiment: empty file", {"reviews.csv": "\n\n"}, sentiment(), DataError, r"{file}: the file is empty"),
    Case("sentiment: header, no rows", {"reviews.csv": "text,label\n"}, sentiment(), DataError,
         r"{file}: the file has a header but no rows"),
    Case("sentiment: no text column", {"reviews.csv": "review,label\n" + REVIEWS}, sentiment(), DataError,
         r"{file}: no column 'text' \(--data.text_column\); the columns are \['review', 'label'\]"),
    Case("sentiment: no label column", {"reviews.csv": "text,stars\n" + REVIEWS}, sentiment(), DataError,
         r"{file}: no column 'label' \(--data.label_column\); the columns are \['text', 'stars'\]"),
    Case("sentiment: tab-separated file named .csv", {"reviews.csv": REVIEWS.replace(",", "\t").join(["text\tlabel\n", ""])},
         sentiment(), DataError, r"{file}: no column .* only one column was found, so the delimiter probably does not match"),
    Case("sentiment: comma-separated file named .tsv", {"reviews.tsv": "text,label\n" + REVIEWS}, sentiment("reviews.tsv"),
         DataError, r"{file}: no column .* split at tabs \(is it a CSV file named .tsv\?\)"),
    Case("sentiment: unquoted comma in a text", {"reviews.csv": "text,label\ngood,pos\nslow, but fine,pos\nbad,neg\n"},
         sentiment(), DataError, r"{file}: not a well-formed CSV file: Expected 2 fields in line 3, saw 3"),
    Case("sentiment: not UTF-8", {"reviews.csv": ("text,label\n" + REVIEWS + "tr\xe8s bon,pos\n").encode("cp1252")},
         sentiment(), DataError, r"{file}: not UTF-8 text: line 12"),
    Case("sentiment: empty labels", {"reviews.csv": "text,label\n" + REVIEWS + "no label here,\nnor here,\n"},
         sentiment(), DataError, r"{file}: 2 rows have no label in column 'label' \(lines 12, 13\)"),
    Case("sentiment: empty texts with on_empty=error", {"reviews.csv": "text,label\n" + REVIEWS + ",pos\n   ,neg\n"},
         sentiment(on_empty="error"), DataError, r"{file}: 2 rows have an empty text in column 'text' .* lines 12, 13"),
    Case("sentiment: every text empty", {"reviews.csv": "text,label\n,pos\n,neg\n,pos\n"}, quiet(sentiment()), DataError,
         r"{file}: every row's text in column 'text' is empty"),
    Case("sentiment: a label seen once, stratified split", {"reviews.csv": "text,label\n" + REVIEWS + "odd one,meh\n"},
         sentiment(), DataError, r"{file}: label 'meh' occurs only once \(line 12\)"),
    Case("sentiment: a validation label unseen in training",
         {"reviews.csv": "text,label\n" + REVIEWS, "val.csv": "text,label\nso so,meh\nfine,pos\n"},
         sentiment(val_path="val.csv"), DataError, r"val.csv: label \['meh'\] at line 2 is not among the labels"),
    Case("sentiment: JSON Lines with a broken line", {"reviews.jsonl": '{"text": "good", "label": "pos"}\n{"text": "bad", "label": \n'},
         sentiment("reviews.jsonl"), DataError, r"{file}: line 2 is not valid JSON"),
    Case("sentiment: a JSON array named .jsonl", {"reviews.jsonl": '[{"text": "good", "label": "pos"}]\n'},
         sentiment("reviews.jsonl"), DataError, r"{file}: holds a JSON array; write JSON Lines"),
    Case("sentiment: a JSON Lines line that is not an object", {"reviews.jsonl": '{"text": "good", "label": "pos"}\n"bad"\n'},
         sentiment("reviews.jsonl"), DataError, r"{file}: line 2 is not a JSON object"),
    # forecasting tables
    Case("forecast: missing file", {}, forecast(), DataError, r"{file}: no such CSV file", "series.csv"),
    Case("forecast: named columns absent", {"series.csv": days(list("123456789")).replace("time,y", "date,value")},
         forecast(), DataError, r"{file}: no column 'time' \(--data.time_column\), 'y' \(--data.target_columns\); "
         r"the columns are \['date', 'value'\]"),
    Case("forecast: semicolon-separated", {"series.csv": days(list("123456789")).replace(",", ";")}, forecast(), DataError,
         r"{file}: no column .* only one column was found, so the file is probably not comma-separated"),
    Case("forecast: timestamps that do not parse", {"series.csv": days(list("12345678")) + "yesterday,9\n"}, forecast(),
         DataError, r"{file}: 1 timestamps in column 'time' do not parse \(line 10: 'yesterday'\)"),
    Case("forecast: timestamps that go backwards",
         {"series.csv": "time,y\n2020-01-01,1\n2020-01-03,2\n2020-01-02,3\n2020-01-04,4\n"}, forecast(), DataError,
         r"{file}: timestamps go backwards in the series: 2020-01-02 at line 4 comes after 2020-01-03 at line 3"),
    Case("forecast: a repeated timestamp", {"series.csv": days(list("1234")) + "2020-01-04,5\n"}, forecast(), DataError,
         r"{file}: the series has the timestamp 2020-01-04 more than once \(lines 5, 6\)"),
    Case("forecast: text in the target column", {"series.csv": days(["1", "2", "abc", "4", "five", "6", "7", "8", "9"])},
         forecast(), DataError, r"{file}: column 'y' holds text that is not a number at lines 4, 6 \('abc', 'five'\)"),
    Case("forecast: an infinite value", {"series.csv": days(["1", "2", "inf", "4", "5", "6", "7", "8", "9"])},
         forecast(), DataError, r"{file}: column 'y' holds an infinite number at line 4"),
    Case("forecast: numbers for timestamps", {"series.csv": "time,y\n" + "".join(f"{i},{i}\n" for i in range(9))},
         forecast(), DataError, r"{file}: 9 timestamps in column 'time' do not parse \(lines 2, 3, 4, 5, 6 and 4 more: '0', '1'"),
    Case("forecast: a series shorter than input_length + horizon",
         {"series.csv": "time,id,y\n" + "".join(f"2020-01-{d:02d},a,{d}\n" for d in range(1, 13))
          + "".join(f"2020-01-{d:02d},b,{d}\n" for d in range(1, 4))},
         forecast(id_column="id"), DataError, r"{file}: series 'b' has 3 steps, fewer than input_length \+ horizon = 3 \+ 2"),
    Case("forecast: a row without a series id", {"series.csv": "time,id,y\n2020-01-01,a,1\n2020-01-02,,2\n"},
         forecast(id_column="id"), DataError, r"{file}: 1 rows have no series id in column 'id' \(line 3\)"),
    Case("forecast: a gap with missing=error", {"series.csv": days(list("12345")) + days(list("6789"), start=8)[7:]},
         forecast(freq="D"), DataError, r"{file}: the series has 2 missing steps"),
    Case("forecast: not UTF-8", {"series.csv": (days(list("123456789")) + "2020-01-10,\xb0\n").encode("latin-1")},
         forecast(), DataError, r"{file}: not UTF-8 text: line 11"),
    Case("forecast: a row with an extra field", {"series.csv": days(list("1234")) + "2020-01-05,5,6\n"}, forecast(),
         DataError, r"{file}: not a well-formed CSV file: Expected 2 fields in line 6, saw 3"),
    # vocabulary JSON (Vocab.save / Vocab.load)
    Case("vocab: not JSON", {"vocab.json": "<unk>\nthe\ncat\n"}, vocab, DataError, r"{file}: not valid JSON \(line 1, column 1"),
    Case("vocab: a plain word list", {"vocab.json": json.dumps(["<unk>", "the"])}, vocab, DataError,
         r"{file}: not a seqkit vocabulary \(found a list"),
    Case("vocab: another tool's word-to-index map", {"vocab.json": json.dumps({"the": 0, "cat": 1})}, vocab, DataError,
         r'{file}: not a seqkit vocabulary \(found "format": null'),
    Case("vocab: a newer format version", {"vocab.json": json.dumps({**GOOD_VOCAB, "version": 2})}, vocab, DataError,
         r"{file}: vocabulary format version 2, but this seqkit reads version 1"),
    Case("vocab: no itos", {"vocab.json": json.dumps({k: v for k, v in GOOD_VOCAB.items() if k != "itos"})}, vocab,
         DataError, r"{file}: the vocabulary lacks 'itos'"),
    Case("vocab: a token twice", {"vocab.json": json.dumps({**GOOD_VOCAB, "itos": ["<unk>", "the", "the"]})}, vocab,
         DataError, r"{file}: token 'the' appears twice in \"itos\", at 1 and 2"),
    Case("vocab: a token that is a number", {"vocab.json": json.dumps({**GOOD_VOCAB, "itos": ["<unk>", 7]})}, vocab,
         DataError, r"{file}: \"itos\"\[1\] is 7, not a string"),
    Case("vocab: a default index out of range", {"vocab.json": json.dumps({**GOOD_VOCAB, "default_index": 9})}, vocab,
         DataError, r"{file}: \"default_index\" 9 is outside the vocabulary's 3 tokens"),
    # pretrained word vectors (--model.pretrained_embeddings)
    Case("vectors: missing file", {}, vectors, DataError, r"pretrained embeddings {file}: no such file", "glove.txt"),
    Case("vectors: another width", {"glove.txt": "the 0.1 0.2 0.3 0.4\ncat 0.1 0.2 0.3\n"}, vectors, DataError,
         r"{file}, line 2: 3 numbers for 'cat', but the embedding has 4"),
    Case("vectors: a value that is not a number", {"glove.txt": "the 0.1 0.2 0.3 0.4\nsat 0.1 0,2 0.3 0.4\n"}, vectors,
         DataError, r"{file}, line 2: values for 'sat' are not all numbers"),
    Case("vectors: nan and inf", {"glove.txt": "cat 0.1 nan 0.3 inf\n"}, vectors, DataError,
         r"{file}, line 1: the vector of 'cat' holds nan or inf"),
    Case("vocab: not UTF-8", {"vocab.json": json.dumps(GOOD_VOCAB).replace("cat", "caf\xe9").encode("latin-1")}, vocab,
         DataError, r"{file}: not UTF-8 text: line 1"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_bad_file_gets_a_clear_error_and_stays_as_it_was(case, tmp_path):
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    target = tmp_path / (case.target or next(iter(case.files)).split("/")[0])
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    before = sorted(tmp_path.rglob("*"))
    error = refused(case.error, case.message.replace("{file}", re.escape(str(target))), lambda: case.read(tmp_path),
                    target, *written)
    assert "\n" not in str(error), "a user's error is one line"
    assert sorted(tmp_path.rglob("*")) == before, "seqkit wrote a file beside the user's"


# ----------------------------------------------------------------------------- checkpoints
SERIES = "time,y\n" + "".join(f"{date(2020, 1, 1) + timedelta(days=i)},{10 + i % 7 + 0.1 * i:.1f}\n" for i in range(60))
TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 15


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Real checkpoints of the three recipes (one training step each) and the files that trained them."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("made")
    (folder / "train.txt").write_text(TEXT)
    (folder / "reviews.csv").write_text("text,label\n" + REVIEWS * 4)
    (folder / "series.csv").write_text(SERIES)
    runs = {
        "next_word": (NextWordTask(LSTM(8, 8)), NextWordData(train_path=str(folder / "train.txt"), batch_size=2,
                                                             eval_batch_size=2, bptt=4)),
        "sentiment": (SentimentTask(LSTM(8, 8)), SentimentData(train_path=str(folder / "reviews.csv"), batch_size=4)),
        "forecast": (ForecastTask(LSTM(1, 8)), ForecastData(train_path=str(folder / "series.csv"), time_column="time",
                                                            target_columns="y", input_length=4, horizon=2, val_size=6,
                                                            test_size=6)),
    }
    made = {name: folder / name for name in ("train.txt", "reviews.csv", "series.csv")}
    for name, (task, data) in runs.items():
        run = trainer(folder / name, max_steps=1, limit_val_batches=1, num_sanity_val_steps=0)
        run.fit(task, datamodule=data)
        run.save_checkpoint(folder / f"{name}.ckpt")
        made[name] = folder / f"{name}.ckpt"
    return made


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
        ForecastTask, lambda: LSTM(1, 8), lambda made: ForecastData(train_path=str(made["series.csv"]), time_column="time",
                                                                    target_columns="y", input_length=4, horizon=2))),
}


def test_the_real_checkpoints_load(made):
    """The other control: the checkpoints that the bad ones are made from load, through every loader."""
    for way, (task, loader) in LOADERS.items():
        if task in made:
            loader(made)(made[task])


@pytest.mark.parametrize("way", list(LOADERS))
def test_every_load_path_refuses_a_checkpoint_whose_pickle_would_run_a_command(way, made, hostiles):
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
def test_every_command_taking_a_checkpoint_refuses_a_hostile_one_in_one_line(name, task, rest, made, hostiles, capsys):
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
def test_seqkit_fit_init_from_refuses_a_hostile_checkpoint(task, recipe, hostiles, tmp_path, capsys):
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


def test_seqkit_test_ckpt_path_of_another_task_says_so(made, tmp_path, capsys):
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
           r"{file} is a backward language model \(it reads text last word first\); give it as --init_from_backward"),
    Broken("an encoder that is a shell function",
           change("next_word", lambda c: c["seqkit"]["encoder"].update(class_path="os.system")),
           NextWordTask.from_checkpoint, r"{file}: the checkpoint's encoder os.system is not a seqkit recurrent module"),
    Broken("an encoder from a module never imported",
           change("next_word", lambda c: c["seqkit"]["encoder"].update(class_path="evil_cells.Cell")),
           NextWordTask.from_checkpoint, r"{file}: the checkpoint's encoder is evil_cells.Cell; import evil_cells "
           r"before loading it"),
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
def test_a_broken_or_foreign_checkpoint_gets_a_clear_error(case, made, tmp_path):
    path = tmp_path / "model.ckpt"
    case.make(made, path)
    error = refused(CheckpointError, case.message.replace("{file}", re.escape(str(path))), lambda: case.load(path), path)
    assert "\n" not in str(error)


# ----------------------------------------------------------------------------- commands
def command(name: str, *argv: str) -> Callable[[], object]:
    """The function behind `seqkit NAME`, called so that its error reaches the test (the shell sees one line)."""
    import importlib

    from seqkit.cli import COMMANDS

    module, function = COMMANDS[name][0].split(":")
    return lambda: getattr(importlib.import_module(module), function)(list(argv))


@dataclass
class Misuse:
    """A command given a bad file: what to write into the folder, the arguments ({x} names made files), the error."""

    name: str
    files: dict[str, str | bytes]
    argv: list[str]
    error: type[SeqkitError]
    message: str  # a regular expression; {input} is the --input path, {<file>} a made file's


MISUSES = [
    Misuse("classify: --input without the text column", {"in.csv": "review,label\ngreat,pos\n"},
           ["classify", "--ckpt_path", "{sentiment}", "--input", "{input}", "--output", "{out}"], DataError,
           r"{input} has no column 'text'; its columns are \['review', 'label'\] \(set --text_column\)"),
    Misuse("classify: --input not UTF-8", {"in.csv": "text\nvery good\ntr\xe8s bien\n".encode("latin-1")},
           ["classify", "--ckpt_path", "{sentiment}", "--input", "{input}", "--output", "{out}"], DataError,
           r"{input}: not UTF-8 text: line 3"),
    Misuse("classify: --input JSON Lines with a broken line", {"in.jsonl": '{"text": "good"}\n{"text": \n'},
           ["classify", "--ckpt_path", "{sentiment}", "--input", "{input}", "--output", "{out}"], DataError,
           r"{input}: line 2 is not valid JSON"),
    Misuse("classify: --output is the --input", {"in.csv": "text\ngreat\n"},
           ["classify", "--ckpt_path", "{sentiment}", "--input", "{input}", "--output", "{input}"], SeqkitError,
           r"--output {input} is the input file; write elsewhere"),
    Misuse("classify: --output exists", {"in.csv": "text\ngreat\n", "out.csv": "mine,keep me\n"},
           ["classify", "--ckpt_path", "{sentiment}", "--input", "{input}", "--output", "{out}"], SeqkitError,
           r"out.csv exists; pass --force to overwrite it"),
    Misuse("forecast: --ckpt_path of another task", {"in.csv": SERIES}, ["forecast", "--ckpt_path", "{sentiment}", "--input",
           "{input}", "--output", "{out}"], CheckpointError, r"is a checkpoint of the 'sentiment' task; this needs a "
           r"'forecast' checkpoint"),
    Misuse("forecast: --input timestamps that do not parse", {"in.csv": SERIES.replace("2020-01-09", "Jan the 9th")},
           ["forecast", "--ckpt_path", "{forecast}", "--input", "{input}", "--output", "{out}"], DataError,
           r"{input}: 1 timestamps in column 'time' do not parse \(line 10: 'Jan the 9th'\)"),
    Misuse("forecast: --input without the target column", {"in.csv": SERIES.replace("time,y", "time,sales")},
           ["forecast", "--ckpt_path", "{forecast}", "--input", "{input}", "--output", "{out}"], DataError,
           r"{input}: no column 'y'"),
    Misuse("forecast: --output is the --input", {"in.csv": SERIES},
           ["forecast", "--ckpt_path", "{forecast}", "--input", "{input}", "--output", "{input}"], SeqkitError,
           r"--output {input} is the input file; write elsewhere"),
    Misuse("backtest: --ckpt_path truncated", {"in.csv": SERIES, "cut.ckpt": b"PK\x03\x04" + bytes(200)},
           ["backtest", "--ckpt_path", "{folder}/cut.ckpt", "--input", "{input}", "--test_size", "6"], CheckpointError,
           r"cut.ckpt is not a readable checkpoint \(truncated or corrupt\?\)"),
    Misuse("generate: --ckpt_path a run folder without a checkpoint", {"in.csv": "", "runs/version_0/notes.txt": "no model"},
           ["generate", "--ckpt_path", "{folder}/runs", "--prompt", "the cat"], CheckpointError,
           r"no checkpoint under {folder}/runs; train with `seqkit fit` first"),
    Misuse("generate: --ckpt_path of a forecaster", {"in.csv": ""}, ["generate", "--ckpt_path", "{forecast}", "--prompt", "the"],
           CheckpointError, r"is a checkpoint of the 'forecast' task; this needs a 'next_word' checkpoint"),
]


@pytest.mark.parametrize("case", MISUSES, ids=[case.name for case in MISUSES])
def test_a_command_given_a_bad_file_stops_with_a_clear_error_and_writes_nothing(case, made, tmp_path):
    for name, content in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    given = next(iter(case.files))
    names = {"input": str(tmp_path / given), "out": str(tmp_path / ("out" + Path(given).suffix)),
             "folder": str(tmp_path), **{key: str(value) for key, value in made.items()}}
    argv = [arg.format(**names) for arg in case.argv]
    before = sorted(tmp_path.rglob("*"))
    pattern = re.sub(r"\{(\w+)\}", lambda m: re.escape(names[m.group(1)]), case.message)
    refused(case.error, pattern, command(*argv), *before, *made.values())
    assert sorted(tmp_path.rglob("*")) == before, "the command wrote a file although it failed"


def test_the_shell_gets_one_line_and_exit_status_2(made, tmp_path, capsys):
    table = tmp_path / "in.csv"
    table.write_text("review\ngreat\n")
    code = seqkit(["classify", "--ckpt_path", str(made["sentiment"]), "--input", str(table), "--output",
                   str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"seqkit classify: error: {table} has no column 'text'; its columns are ['review'] "
                                 "(set --text_column)\n")


# ----------------------------------------------------------------------------- fuzzing the readers
# A fixed, bounded set of examples (derandomize: the same ones on every run), so CI is stable and fast.
# FUZZ_N=2000 runs many more, and new ones each time, for a deeper search by hand.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_N", 60)), derandomize="FUZZ_N" not in os.environ,
                deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Cells that have broken readers before or that pandas reads specially, and any short text.
CELLS = st.one_of(
    st.sampled_from(["", " ", "NA", "n/a", "nan", "NaN", "null", "None", "inf", "-inf", "1e309", "0", "-1", "1.5",
                     "True", '"', '""', '"a,b"', "a,b", "\t", "{}", "[]", "#", "\\", "\x00", "2020-01-01",
                     "2020-01-02", "2020-02-30", "2020-01-01 00:00:00+05:00", "2020-01-01T00:00:00-08:00", "1970",
                     "0001-01-01", "9999-12-31", "99999999999999999999", "text", "pos", "neg", "\ufeff", "é"]),
    st.text(max_size=10),
)


def table_text(header: str, sep: str) -> st.SearchStrategy[str]:
    """A header line, then up to 12 rows of 0 to 4 cells, each cell from CELLS (often malformed)."""
    rows = st.lists(st.lists(CELLS, max_size=4).map(sep.join), max_size=12)
    return rows.map(lambda lines: header + "\n" + "".join(line + "\n" for line in lines))


def written(rows: list[list[str]], kind: str) -> str:
    """Rows (the header first) as a well-formed CSV, TSV or JSON Lines file, so that the reading gets past parsing."""
    if kind == "jsonl":
        return "".join(json.dumps(dict(zip(rows[0], row))) + "\n" for row in rows[1:])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="," if kind == "csv" else "\t", lineterminator="\n").writerows(
        [[cell.replace("\t", " ") for cell in row] if kind == "tsv" else row for row in rows])
    return buffer.getvalue()


# Mostly ordinary values, so that many tables get past the first check and reach the later ones.
LABELS = st.one_of(st.sampled_from(["pos", "neg"]), st.sampled_from(["pos", "neg", "1", "0", "", " ", "NA", "1.0", "-1"]),
                   st.sampled_from(["pos", "neg"]), st.text(max_size=3))


@st.composite
def reviews(draw, kind: str) -> str:
    """A well-formed table of reviews with hostile texts and labels (empty, rare, numeric, odd characters)."""
    texts = st.one_of(st.sampled_from(["a good film", "bad", "fine, really", 'a "quoted" word']), CELLS)
    rows = draw(st.lists(st.tuples(texts, LABELS).map(list), max_size=14))
    return written([["text", "label"], *rows], kind)


NUMBERS = st.one_of(st.floats(-1e6, 1e6).map(repr), st.integers(-1000, 1000).map(str), st.floats().map(repr),
                    st.integers(-10**20, 10**20).map(str), st.sampled_from(["", "1", "2.5"]), CELLS)


@st.composite
def series(draw, columns: tuple[str, ...] = ("time", "y")) -> str:
    """A well-formed table of series on a regular timeline, then spoiled: cells changed, rows dropped or repeated."""
    start = draw(st.sampled_from(["2020-01-01", "2020-01-31", "2020-03-29 00:30", "2020-01-01 00:00:00+05:00",
                                  "1677-09-22", "2262-04-10", "2020-02-29"]))
    freq = draw(st.sampled_from(["D", "h", "MS", "W-SAT", "min", "YS", "B"]))
    try:
        times = [str(t) for t in pd.date_range(start, periods=draw(st.integers(0, 16)), freq=freq)]
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        times = [start]
    ids = st.sampled_from(["a", "b", "", "a b"])
    rows = [[t] + [draw(ids) if c == "id" else draw(NUMBERS) for c in columns[1:]] for t in times]
    for _ in range(draw(st.integers(0, 3))):
        if rows:
            row = draw(st.integers(0, len(rows) - 1))
            action = draw(st.sampled_from(["cell", "drop", "repeat"]))
            if action == "cell":
                rows[row][draw(st.integers(0, len(columns) - 1))] = draw(CELLS)
            elif action == "drop":
                del rows[row]
            else:
                rows.insert(row, list(rows[row]))
    return written([list(columns), *rows], "csv")


def contents(header: str, sep: str = ",", tables: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, arbitrary text, a table with a plausible header and hostile cells, or `tables`."""
    choices = [st.binary(max_size=300), st.text(max_size=200).map(str.encode), table_text(header, sep).map(str.encode)]
    if tables is not None:
        choices += [tables.map(str.encode)] * 3  # well-formed tables reach deeper: draw them most
    return st.one_of(*choices)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def only_seqkit_errors(path: Path, content: bytes, read: Callable[[], object], names_file: bool = True) -> None:
    """Write `content` to `path` and `read` it: any exception but a SeqkitError fails; the file stays as written."""
    path.write_bytes(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read()
    except SeqkitError as error:
        assert not names_file or str(path) in str(error), f"the error does not name the file: {error}"
    assert path.read_bytes() == content


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_fuzz_the_sentiment_reader(scratch, data, kind):
    content = data.draw(contents("text,label", "," if kind == "csv" else "\t", reviews(kind)))
    path = scratch / f"reviews.{kind}"
    only_seqkit_errors(path, content, lambda: SentimentData(train_path=str(path), batch_size=2).setup())


@FUZZ
@given(content=contents("time,y", tables=series()))
def test_fuzz_the_forecast_reader(scratch, content):
    path = scratch / "series.csv"
    read = lambda: ForecastData(train_path=str(path), time_column="time", target_columns="y", input_length=2,  # noqa: E731
                                horizon=1, val_size=1, test_size=1).setup()
    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=contents("time,id,y,k", tables=series(("time", "id", "y", "k"))),
       missing=st.sampled_from(["error", "interpolate", "ffill"]))
def test_fuzz_the_forecast_reader_with_series_and_covariates(scratch, content, missing):
    path = scratch / "long.csv"
    read = lambda: ForecastData(train_path=str(path), time_column="time", target_columns="y", id_column="id",  # noqa: E731
                                known_columns=["k"], missing=missing, input_length=2, horizon=1, val_size=1,
                                test_size=1).setup()
    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
       tokenizer=st.sampled_from(["basic_english", "whitespace", "char"]))
def test_fuzz_the_next_word_reader(scratch, content, tokenizer):
    path = scratch / "corpus.txt"
    read = lambda: NextWordData(train_path=str(path), tokenizer=tokenizer, batch_size=1, eval_batch_size=1,  # noqa: E731
                                bptt=2, val_fraction=0.5).setup()
    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=st.one_of(st.binary(max_size=200), st.lists(
    st.tuples(st.sampled_from(["the", "cat", "sat", "dog", ""]), st.lists(NUMBERS, max_size=5)).map(
        lambda row: " ".join([row[0], *row[1]])), max_size=6).map(lambda lines: "\n".join(lines).encode())))
def test_fuzz_the_word_vectors_reader(scratch, content):
    path = scratch / "glove.txt"
    only_seqkit_errors(path, content, lambda: vectors(scratch))


@FUZZ
@given(line=st.text(max_size=200))
def test_fuzz_the_tokenizers_never_fail(line):
    for name in ("basic_english", "whitespace", "char"):
        tokens = get_tokenizer(name)(line)
        assert isinstance(tokens, list) and all(isinstance(token, str) and token for token in tokens)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
VOCAB_LIKE = st.fixed_dictionaries(
    {"format": st.sampled_from(["seqkit.vocab", "other"]), "version": st.sampled_from([1, 1.0, 2, "1", None, True])},
    optional={"itos": st.one_of(st.lists(st.text(max_size=4), max_size=6), JSON),
              "default_index": st.one_of(st.none(), st.integers(-3, 8), st.floats(), st.booleans(), st.text(max_size=2))})


@FUZZ
@given(content=st.one_of(st.binary(max_size=200), JSON.map(json.dumps).map(str.encode),
                         VOCAB_LIKE.map(json.dumps).map(str.encode)))
def test_fuzz_vocabulary_files(scratch, content):
    path = scratch / "vocab.json"

    def read() -> None:
        loaded = Vocab.load(path)
        default = loaded.get_default_index()
        if default is not None:  # what loads is usable: an unknown word gets a real index
            assert 0 <= default < len(loaded) and loaded(["surely-not-a-token"]) == [default]

    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=st.binary(max_size=300))
def test_fuzz_checkpoint_loading_with_arbitrary_bytes(scratch, content):
    path = scratch / "any.ckpt"
    only_seqkit_errors(path, content, lambda: checkpoints.load(path))


@settings(FUZZ, max_examples=40)
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_checkpoint_loading_with_corrupted_real_checkpoints(made, scratch, edits):
    """A real checkpoint with a few bytes overwritten: loads as it was, or a CheckpointError; never another error."""
    content = bytearray(made["next_word"].read_bytes())
    for where, value in edits:
        content[int(where * len(content))] = value
    path = scratch / "corrupted.ckpt"
    only_seqkit_errors(path, bytes(content), lambda: NextWordTask.from_checkpoint(path), names_file=False)
