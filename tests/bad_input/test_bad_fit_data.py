"""Bad data files, as `seqkit fit` reads them: each gets one clear line naming the file and the problem.

Every case writes a bad file, hands it to the reader a recipe uses (a DataModule's `setup`,
`Vocab.load`, `--model.pretrained_embeddings`), and checks the error class, that the message
names the file (the column, the line), and that the file is unchanged. The hypothesis tests
at the end feed the readers arbitrary bytes, text and spoiled tables, a bounded and fixed
set of examples, and allow no exception but a `SeqkitError`. (The shared checks are
fixtures of `conftest.py`.)
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit.data import Columns, ForecastData
from seqkit.data.forecast_arguments import COLUMN_FLAGS
from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData
from seqkit.errors import DataError, SeqkitError
from seqkit.text import Vocab, get_tokenizer
from seqkit.vectors import fill_embedding

def quiet(read: Callable[[Path], object]) -> Callable[[Path], object]:
    """`read` with warnings silenced (a skipped-rows warning is expected where an error follows)."""
    def run(folder: Path) -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read(folder)
    return run



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
        settings = dict(options)
        roles = {"time_column": "time", "target_columns": "y", **{k: settings.pop(k) for k in COLUMN_FLAGS if k in settings}}
        settings = {"input_length": 3, "horizon": 2, "val_size": 2, "test_size": 2, **settings}
        ForecastData(train_path=str(folder / name), columns=Columns(**roles), **settings).setup()
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
    Case("text: UTF-16, read by its byte order mark", {"train.txt": "the cat sat\n".encode("utf-16")}, next_word,
         DataError, r"{file} has 1 lines, too few to hold out 5% for validation"),
    Case("text: UTF-16 without a byte order mark", {"train.txt": "the cat sat\n".encode("utf-16-le")}, next_word,
         DataError, r"{file}: holds NUL bytes \(the first at byte offset 1\): binary data, or UTF-16/32 text without"),
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
         forecast(), DataError, r"{file}: no column 'time' \(--data.columns.time_column\), 'y' \(--data.columns.target_columns\); "
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
def test_a_bad_file_gets_a_clear_error_and_stays_as_it_was(case, tmp_path, refused):
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


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_fuzz_the_sentiment_reader(scratch, data, kind, only_seqkit_errors):
    content = data.draw(contents("text,label", "," if kind == "csv" else "\t", reviews(kind)))
    path = scratch / f"reviews.{kind}"
    only_seqkit_errors(path, content, lambda: SentimentData(train_path=str(path), batch_size=2).setup())


@FUZZ
@given(content=contents("time,y", tables=series()))
def test_fuzz_the_forecast_reader(scratch, content, only_seqkit_errors):
    path = scratch / "series.csv"
    read = lambda: ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns="y"), input_length=2, horizon=1, val_size=1, test_size=1).setup()
    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=contents("time,id,y,k", tables=series(("time", "id", "y", "k"))),
       missing=st.sampled_from(["error", "interpolate", "ffill"]))
def test_fuzz_the_forecast_reader_with_series_and_covariates(scratch, content, missing, only_seqkit_errors):
    path = scratch / "long.csv"
    read = lambda: ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns="y", id_column="id", known_columns=["k"]), missing=missing, input_length=2, horizon=1, val_size=1, test_size=1).setup()
    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
       tokenizer=st.sampled_from(["basic_english", "whitespace", "char"]))
def test_fuzz_the_next_word_reader(scratch, content, tokenizer, only_seqkit_errors):
    path = scratch / "corpus.txt"
    read = lambda: NextWordData(train_path=str(path), tokenizer=tokenizer, batch_size=1, eval_batch_size=1,  # noqa: E731
                                bptt=2, val_fraction=0.5).setup()
    only_seqkit_errors(path, content, read)


@FUZZ
@given(content=st.one_of(st.binary(max_size=200), st.lists(
    st.tuples(st.sampled_from(["the", "cat", "sat", "dog", ""]), st.lists(NUMBERS, max_size=5)).map(
        lambda row: " ".join([row[0], *row[1]])), max_size=6).map(lambda lines: "\n".join(lines).encode())))
def test_fuzz_the_word_vectors_reader(scratch, content, only_seqkit_errors):
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
def test_fuzz_vocabulary_files(scratch, content, only_seqkit_errors):
    path = scratch / "vocab.json"

    def read() -> None:
        loaded = Vocab.load(path)
        default = loaded.get_default_index()
        if default is not None:  # what loads is usable: an unknown word gets a real index
            assert 0 <= default < len(loaded) and loaded(["surely-not-a-token"]) == [default]

    only_seqkit_errors(path, content, read)


@pytest.mark.parametrize("recipe, header, options", [
    ("sentiment/lstm_reviews", "review,review,stars", ["--data.text_column", "review", "--data.label_column", "stars"]),
    ("sentiment/lstm_reviews", "review\treview\tstars", ["--data.text_column", "review", "--data.label_column", "stars"]),
    ("forecasting/lstm", "date,co2,co2", ["--data.columns.time_column", "date", "--data.columns.target_columns", "[co2]"]),
])
def test_a_header_that_names_a_column_twice_is_refused(recipe, header, options, tmp_path, capsys):
    """pandas would read the second as NAME.1 and the first would be used, silently."""
    from seqkit.cli import main

    tab = "\t" in header
    path = tmp_path / ("twice.tsv" if tab else "twice.csv")
    sep = "\t" if tab else ","
    rows = ([f"a fine film{sep}x{sep}5", f"a dull film{sep}y{sep}1"] * 20 if recipe.startswith("sentiment")
            else [f"2020-01-{day:02d},{day},{day}" for day in range(1, 29)])
    path.write_text("\n".join([header, *rows]) + "\n")
    assert main(["fit", "-c", recipe, "--data.train_path", str(path), *options, "--trainer.fast_dev_run", "true",
                 "--trainer.default_root_dir", str(tmp_path)]) == 2
    name = header.split(sep)[1]
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"seqkit fit: error: {path}: the header names the column {name!r} twice (fields 2 and 3)" if name == "co2" else
        f"seqkit fit: error: {path}: the header names the column {name!r} twice (fields 1 and 2)") + (
        "; rename one, so that each column is read for what it is")


def test_a_json_lines_text_or_label_that_is_an_object_is_refused_with_its_line(tmp_path, capsys):
    """Never classify (or train on) the repr of a JSON object."""
    from seqkit.cli import main

    path = tmp_path / "odd.jsonl"
    for line, odd, said in ((8, {"review": {"title": "a film"}, "stars": 4}, "'review' is a JSON object, not a text"),
                            (13, {"review": "fine", "stars": [4, 5]}, "'stars' is a JSON array, not a label")):
        rows = [{"review": "a fine film", "stars": 5}, {"review": "a dull film", "stars": 1}] * 10
        rows[line - 1] = odd
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        assert main(["fit", "-c", "sentiment/lstm_reviews", "--data.train_path", str(path), "--data.text_column",
                     "review", "--data.label_column", "stars", "--trainer.fast_dev_run", "true",
                     "--trainer.default_root_dir", str(tmp_path)]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"seqkit fit: error: {path}: line {line}: {said}; write it as a string")
