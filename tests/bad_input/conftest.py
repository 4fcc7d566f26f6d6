"""What the bad-input tests share: the checks, real checkpoints to spoil, and a scratch folder.

Every bad-input test gives seqkit a bad file or option the way a user would and checks
three things: the error is exactly seqkit's own class for the problem (`DataError` for data
files and vocabularies, `CheckpointError` for checkpoints, `SeqkitError` for a command used
wrongly); its message names the file and the problem in one line; and the user's files are
byte for byte the same afterwards. The tests are grouped by the command the input reaches:
`test_bad_fit_data.py` (the files `seqkit fit` reads), `test_bad_fit.py` (its options),
`test_bad_checkpoints.py` (every command that loads a model), `test_bad_generate.py`,
`test_bad_classify.py`, `test_bad_forecast.py` (forecast and backtest).
"""

from __future__ import annotations

import hashlib
import importlib
import re
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import lightning.pytorch as pl
import pytest
import torch

from seqkit.data import Columns, ForecastData
from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData
from seqkit.errors import SeqkitError
from seqkit.modules import LSTM
from seqkit.tasks.forecast import ForecastTask
from seqkit.tasks.next_word import NextWordTask
from seqkit.tasks.sentiment import SentimentTask

SERIES = "time,y\n" + "".join(f"{date(2020, 1, 1) + timedelta(days=i)},{10 + i % 7 + 0.1 * i:.1f}\n" for i in range(60))
TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 15
REVIEWS = "".join(f"a good film {i},pos\na bad film {i},neg\n" for i in range(5))


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _refused(error: type[SeqkitError], pattern: str, call: Callable[[], object], *files: Path) -> SeqkitError:
    before = {path: _digest(path) for path in files}
    with pytest.raises(error, match=pattern) as caught:
        call()
    assert type(caught.value) is error, f"expected {error.__name__}, got {type(caught.value).__name__}: {caught.value}"
    assert {path: _digest(path) for path in files} == before, "seqkit changed the user's file"
    return caught.value


@pytest.fixture(scope="module")
def digest() -> Callable[[Path], str | None]:
    """The sha256 of a file's bytes; None when there is no file there."""
    return _digest


@pytest.fixture(scope="module")
def refused() -> Callable[..., SeqkitError]:
    """`refused(error, pattern, call, *files)`: run `call`, expect exactly `error` with a message matching
    `pattern` (a regular expression), and `files` unchanged; returns the error for further checks."""
    return _refused


def trainer(root: Path, **options) -> pl.Trainer:
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, logger=False, **options)


@pytest.fixture(scope="package")
def made(tmp_path_factory) -> dict[str, Path]:
    """Real checkpoints of the three recipe families (one training step each) and the files that trained them."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("made")
    (folder / "train.txt").write_text(TEXT)
    (folder / "reviews.csv").write_text("text,label\n" + REVIEWS * 4)
    (folder / "series.csv").write_text(SERIES)
    runs = {
        "next_word": (NextWordTask(LSTM(8, 8)), NextWordData(train_path=str(folder / "train.txt"), batch_size=2,
                                                             eval_batch_size=2, bptt=4)),
        "sentiment": (SentimentTask(LSTM(8, 8)), SentimentData(train_path=str(folder / "reviews.csv"), batch_size=4)),
        "forecast": (ForecastTask(LSTM(1, 8)), ForecastData(train_path=str(folder / "series.csv"), columns=Columns(time_column="time", target_columns="y"), input_length=4, horizon=2, val_size=6, test_size=6)),
    }
    made = {name: folder / name for name in ("train.txt", "reviews.csv", "series.csv")}
    for name, (task, data) in runs.items():
        run = trainer(folder / name, max_steps=1, limit_val_batches=1, num_sanity_val_steps=0)
        run.fit(task, datamodule=data)
        run.save_checkpoint(folder / f"{name}.ckpt")
        made[name] = folder / f"{name}.ckpt"
    return made


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder for the fuzz tests' files."""
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def only_seqkit_errors() -> Callable[..., None]:
    """`only_seqkit_errors(path, content, read, names_file=True)`: write `content` to `path` and `read` it;
    any exception but a SeqkitError fails the test, a SeqkitError must name the file, and the file stays as written."""
    def check(path: Path, content: bytes, read: Callable[[], object], names_file: bool = True) -> None:
        path.write_bytes(content)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read()
        except SeqkitError as error:
            assert not names_file or str(path) in str(error), f"the error does not name the file: {error}"
        assert path.read_bytes() == content
    return check


@pytest.fixture
def misuse(made, tmp_path, refused) -> Callable[..., None]:
    """`misuse(files, argv, error, message)`: write `files` into a fresh folder, run the command `argv`
    (`{input}` is the first file, `{out}` an output beside it, `{folder}` the folder, `{next_word}`,
    `{sentiment}`, `{forecast}` the real checkpoints), expect `error` matching `message` (in which the same
    names stand for their escaped paths), and no file changed or written."""
    from seqkit.cli import COMMANDS

    def check(files: dict[str, str | bytes], argv: list[str], error: type[SeqkitError], message: str) -> None:
        for name, content in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        given = next(iter(files))
        names = {"input": str(tmp_path / given), "out": str(tmp_path / ("out" + Path(given).suffix)),
                 "folder": str(tmp_path), **{key: str(value) for key, value in made.items()}}
        argv = [arg.format(**names) for arg in argv]
        module, function = COMMANDS[argv[0]][0].split(":")  # the function behind `seqkit NAME`: its error reaches here
        before = sorted(tmp_path.rglob("*"))
        pattern = re.sub(r"\{(\w+)\}", lambda m: re.escape(names[m.group(1)]), message)
        refused(error, pattern, lambda: getattr(importlib.import_module(module), function)(argv[1:]),
                *before, *made.values())
        assert sorted(tmp_path.rglob("*")) == before, "the command wrote a file although it failed"
    return check
