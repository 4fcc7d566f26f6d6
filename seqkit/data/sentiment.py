"""The sentiment DataModule: labelled texts in a table (CSV, TSV, JSON Lines) in, padded batches out.

A file holds one text and one label per row (columns `text` and `label` unless named
otherwise); the format comes from the extension (`.csv`, `.tsv`, `.jsonl` or `.json`).
Every text is tokenized, cut to `max_length` tokens, and numericalized with a vocabulary
built from the training split only; labels become indices into `labels`, the sorted
label strings of the training split. A batch pads every text to the longest in it:

    texts -> token ids (one tensor per text) -> TextBatch(tokens (B, T), lengths (B,), labels (B,))

so that the task can pack the batch (`pack_padded_sequence`) and never read a padded step.

In training, texts of similar length share a batch (`BucketSampler`), which keeps the
padding small; evaluation batches follow the file's order, so that outputs line up with
its rows (`EncodedTexts.lines` gives each example's line in its file).

Rows are named in messages by the line a user sees in an editor: in a CSV or TSV file the
header is line 1 and the first row line 2 (a quoted text that spans lines counts all of
them); in a JSON Lines file, each object's own line.
"""

from __future__ import annotations

import dataclasses
import re
from array import array
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

from seqkit import packaged
from seqkit.console import say
from seqkit.data import catalog
from seqkit.data.resumable import EpochRandomSampler, ResumableDataLoader
from seqkit.training.distributed import eval_sampler
from seqkit.errors import DataError
from seqkit.readers import read_delimited, read_jsonl, read_parquet, read_text
from seqkit.text import PAD, TOKENIZERS, UNK, Vocab, build_vocab_from_iterator, get_tokenizer

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
ON_EMPTY = ("skip", "error")
SPLITS = ("train", "val", "test")
# Labelled samples shipped with seqkit (datasets/), usable offline as --data.dataset NAME:
# name -> (file, text column, label column, what it is).
SAMPLES = {"reviews": ("reviews.csv", "review", "stars", "60 short reviews rated 1 to 5 stars, 12 per rating")}
SHOWN_ROWS = 5  # line numbers quoted in a message before "and N more"
_INTEGER = re.compile(r"[+-]?[0-9]+")


# ----------------------------------------------------------------------------- batches
class TextBatch(NamedTuple):
    """Padded texts and their labels.

    Attributes:
        tokens: `(B, T)` int64 token ids, padded with the pad index after each text's end;
            T is the longest text of this batch.
        lengths: `(B,)` int64 tokens of each text, all at least 1 (on the CPU until the
            Trainer moves the batch; `pack_padded_sequence` wants them on the CPU).
        labels: `(B,)` int64 label indices, or None for texts to predict.
    """

    tokens: Tensor
    lengths: Tensor
    labels: Tensor | None = None


def pad_texts(ids: Sequence[Tensor], pad_index: int, labels: Tensor | None = None) -> TextBatch:
    """Pad one-dimensional token-id tensors into a `TextBatch`.

    Args:
        ids: the token ids of each text, `(T_i,)` int64, every one non-empty.
        pad_index: the id written after each text's end.
        labels: `(B,)` label indices, or None (prediction).

    Returns:
        `TextBatch(tokens (B, max T_i), lengths (B,), labels)`.

    Raises:
        ValueError: no texts, or a text without tokens (give it one `<unk>` instead).
    """
    if len(ids) == 0:
        raise ValueError("pad_texts needs at least one text")
    lengths = torch.tensor([len(text) for text in ids], dtype=torch.int64)
    if bool((lengths == 0).any()):
        raise ValueError(f"text {int((lengths == 0).nonzero()[0])} has no tokens; a packed sequence needs at least one "
                         "(SentimentData.encode_texts gives an empty text one <unk>)")
    tokens = pad_sequence(list(ids), batch_first=True, padding_value=pad_index)  # (B, T)
    return TextBatch(tokens, lengths, labels)


def collate(items: list[tuple[Tensor, int]], pad_index: int) -> TextBatch:
    """`DataLoader`'s collate function: `(ids, label)` pairs -> a padded `TextBatch`."""
    ids, labels = zip(*items)
    return pad_texts(ids, pad_index, torch.tensor(labels, dtype=torch.int64))


class EncodedTexts(Dataset):
    """Texts as token ids, kept as one flat tensor cut at offsets, with their labels and lines.

    Item i is `(ids[offsets[i]:offsets[i + 1]], label_i)`. One flat tensor, not one tensor
    per text, because 67k small tensors cost more memory and time to build than slices.

    Args:
        ids: `(N,)` int64, the token ids of all texts one after another.
        offsets: `(M + 1,)` int64, where each text starts in `ids` (and, last, N).
        labels: `(M,)` int64 label indices.
        lines: the line of each text in its file (for messages and lining up outputs).
    """

    def __init__(self, ids: Tensor, offsets: Tensor, labels: Tensor, lines: list[int]) -> None:
        self.ids = ids
        self.offsets = offsets
        self.labels = labels
        self.lines = lines
        self._bounds = offsets.tolist()  # Python ints: indexing a list is faster than a tensor
        self._labels = labels.tolist()

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.ids[self._bounds[index] : self._bounds[index + 1]], self._labels[index]

    @property
    def lengths(self) -> Tensor:
        """`(M,)` int64: the tokens of each text."""
        return self.offsets.diff()


class BucketSampler(Sampler[int]):
    """Indices in an order that gives each batch texts of similar length, so little padding.

    Each epoch: shuffle all indices, cut them into pools of `pool_batches` batches, sort
    every pool by length, cut it into batches, and shuffle the batches (the one short
    batch, if any, stays last, so that the DataLoader's `batch_size` cuts exactly these
    batches). Pools keep the randomness of plain shuffling across the epoch while texts
    in a batch differ little in length. The order depends on `seed` and the epoch only;
    Lightning calls `set_epoch` before each epoch, as for `DistributedSampler`.

    Args:
        lengths: `(M,)` the length of each text.
        batch_size: texts per batch.
        seed: the seed of the shuffling.
        pool_batches: batches per sorted pool.
    """

    def __init__(self, lengths: Tensor, batch_size: int, seed: int = 0, pool_batches: int = 50) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle for epoch `epoch` on the next pass."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        order = torch.randperm(len(self.lengths), generator=generator)
        span = self.batch_size * self.pool_batches
        batches: list[Tensor] = []
        for start in range(0, len(order), span):
            pool = order[start : start + span]
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(pool.split(self.batch_size))
        if not batches:
            return iter([])
        # Only the last pool can end in a short batch, and it is the last of `batches`.
        short = batches.pop() if len(batches[-1]) < self.batch_size else None
        shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        if short is not None:
            shuffled.append(short)
        return iter(torch.cat(shuffled).tolist())


# ----------------------------------------------------------------------------- reading files
@dataclass
class Table:
    """The rows of one file, as read: texts (an empty string for an empty cell), labels, lines."""

    path: Path
    texts: list[str]
    labels: list[str] | None
    lines: list[int]


def read_table(path: str | Path, text_column: str, label_column: str | None) -> Table:
    """Read the text and label columns of a CSV, TSV or JSON Lines file (the type from the extension).

    Every cell is read as a string: the texts "NA" and "null" stay texts; an empty cell
    (or a JSON null) becomes the empty string. Integer labels become their decimal
    string ("1"), as they are written in a CSV file.

    Args:
        path: the file.
        text_column: the column of the texts.
        label_column: the column of the labels, or None to read texts only.

    Returns:
        The `Table`.

    Raises:
        DataError: a missing, empty, unreadable or malformed file, a file that is not
            UTF-8, or a missing column; the message names the file and the line or columns.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; give a .csv, .tsv, .jsonl or .parquet file "
                        "(the type is taken from the extension)")
    if kind == "parquet":
        frame = read_parquet(path)
        lines = list(range(1, len(frame) + 1))  # a Parquet file has rows, not lines: row numbers from 1
    else:
        text = read_text(path, what=f"{kind.upper()} file")  # missing, a folder, not UTF-8 (with line and byte offset)
        if not text.strip():
            raise DataError(f"{path}: the file is empty; point to the file that holds the data")
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # one line ending, so that lines count the same everywhere
        frame, lines = read_jsonl(path, text) if kind == "jsonl" else read_delimited(path, text, kind)
    wanted = {"text_column": text_column, **({"label_column": label_column} if label_column else {})}
    missing = [f"{name!r} (--data.{flag})" for flag, name in wanted.items() if name not in frame.columns]
    if missing:
        found = [str(column) for column in frame.columns]
        hint = ""
        if len(found) == 1 and kind != "jsonl":
            hint = (f"; only one column was found, so the delimiter probably does not match: a {path.suffix} file is "
                    f"split at {'commas' if kind == 'csv' else 'tabs'} (is it a {'TSV' if kind == 'csv' else 'CSV'} "
                    f"file named {path.suffix}?)")
        raise DataError(f"{path}: no column {' or '.join(missing)}; the columns are {found}{hint}")
    if len(frame) == 0:
        raise DataError(f"{path}: the file has a header but no rows; point to the file that holds the data")
    texts = [_as_text(value) for value in frame[text_column].tolist()]
    labels = _tidy_labels(path, [_as_label(value) for value in frame[label_column].tolist()]) if label_column else None
    return Table(path, texts, labels, lines)


_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+|[+-]?[0-9]+\.[0-9]*")


def _tidy_labels(path: Path, labels: list[str]) -> list[str]:
    """Labels as classes: surrounding spaces dropped (with a warning), whole numbers written as decimals made whole.

    Raises:
        DataError: labels with a fractional part (2.5): a score to regress, not a class.
    """
    stripped = [label.strip() for label in labels]
    changed = [(a, b) for a, b in zip(labels, stripped) if a != b]
    if changed:
        rank_zero_warn(f"{path}: {len(changed)} labels had spaces around them (e.g. {changed[0][0]!r}), read as "
                       f"{changed[0][1]!r}; otherwise they would be classes of their own")
    decimals = {label for label in stripped if _DECIMAL.fullmatch(label)}
    if decimals:
        fractional = sorted(label for label in decimals if float(label) != int(float(label)))
        if fractional:
            raise DataError(f"{path}: labels such as {', '.join(fractional[:3])} have a fractional part; a sentiment "
                            "recipe classifies, so give class names or whole numbers (round scores into classes)")
        stripped = [str(int(float(label))) if label in decimals else label for label in stripped]
        rank_zero_warn(f"{path}: labels written as decimals ({', '.join(sorted(decimals)[:3])}) are read as whole "
                       "numbers, so that 1.0 and 1 are one class")
    return stripped


def _as_text(value: object) -> str:
    """A cell as text: None and NaN (JSON null, a missing field) are empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def _as_label(value: object) -> str:
    """A cell as a label string: `1`, `1.0` (an integer column with a null, in pandas) and `"1"` are all "1"."""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return _as_text(value)  # surrounding spaces: _tidy_labels drops them, and says so


def sorted_labels(labels: set[str] | Sequence[str]) -> list[str]:
    """Label strings in index order: numerically if every one is an integer, else as strings.

    Args:
        labels: the distinct labels.

    Returns:
        e.g. `["1", "2", "10"]` or `["neg", "pos"]`.
    """
    distinct = set(labels)

    if distinct and all(_INTEGER.fullmatch(label) for label in distinct):
        return sorted(distinct, key=lambda label: (int(label), label))
    return sorted(distinct)


def stratified_split(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out `fraction` of every label's rows: the indices of (train, val), each in file order.

    From each label with n rows, a seeded random `round(n * fraction)` rows (at most n - 1,
    so every label stays in training) go to validation: each split keeps the labels'
    proportions to within one row.

    Args:
        labels: the label of every row.
        fraction: the share of each label to hold out, between 0 and 1.
        seed: the seed; the same seed and labels give the same split.

    Returns:
        `(train_indices, val_indices)`, both ascending.
    """
    names, inverse = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    by_label = np.argsort(inverse, kind="stable")
    groups = np.split(by_label, np.cumsum(np.bincount(inverse, minlength=len(names)))[:-1])
    rng = np.random.default_rng(seed)
    held = []
    for rows in groups:  # in label order, so the draws do not depend on the order of the rows
        count = min(len(rows) - 1, int(len(rows) * fraction + 0.5))
        held.append(rng.permutation(rows)[:count])
    val = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    keep = np.ones(len(labels), dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep).tolist(), val.tolist()


def _name_lines(lines: Sequence[int]) -> str:
    """`line 4`, `lines 4, 9, 12`, or `lines 4, 9, 12, 15, 20 and 3 more`."""
    shown = ", ".join(map(str, lines[:SHOWN_ROWS]))
    more = f" and {len(lines) - SHOWN_ROWS} more" if len(lines) > SHOWN_ROWS else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


@dataclass
class _Rows:
    """One split after tokenizing: tokens, labels and lines of the rows kept."""

    path: Path
    tokens: list[list[str]]
    labels: list[str]
    lines: list[int]

    def take(self, indices: list[int]) -> _Rows:
        return _Rows(self.path, [self.tokens[i] for i in indices], [self.labels[i] for i in indices],
                     [self.lines[i] for i in indices])


def read_table_of_texts(path: str | Path) -> pd.DataFrame:
    """A whole CSV, TSV, JSON Lines or Parquet file of texts (every column, cells as strings), to label.

    Raises:
        DataError: a missing, empty, not UTF-8 or malformed file; the message names the file and the line.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower(), "csv")  # any other extension is read as CSV
    if kind == "parquet":
        return read_parquet(path)
    text = read_text(path, what=f"{kind.upper()} file")
    if not text.strip():
        raise DataError(f"{path}: the file is empty; point to the file that holds the texts")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    frame, _ = read_jsonl(path, text) if kind == "jsonl" else read_delimited(path, text, kind)
    return frame


# ----------------------------------------------------------------------------- the DataModule
class SentimentData(pl.LightningDataModule):
    """Labelled texts for sentiment analysis (text classification): a catalog dataset or your own files.

    Args:
        dataset: `"sst2"` (GLUE's SST-2: train and dev; its test split has no labels) or
            `"imdb"` (25k train and 25k test reviews), downloaded once or read from
            `root` / `$SEQKIT_DATA`; or `"reviews"`, a small sample shipped with seqkit
            (60 reviews rated 1 to 5 stars; offline).
        root: a folder that already holds the catalog dataset's files.
        train_path, val_path, test_path: your own `.csv`, `.tsv` or `.jsonl` files. A
            `train_path` replaces `dataset` (the file you name wins). Without `val_path`, a stratified `val_fraction` of the training rows is held
            out for validation (the same rows for the same `seed`). Without `test_path`
            there is no test split.
        text_column, label_column: the columns to read; by default the dataset's own
            (SST-2: `sentence`, `label`) or, for your files, `text` and `label`.
        tokenizer: `basic_english`, `whitespace` or `char`.
        min_freq, max_tokens: vocabulary limits (other words become `<unk>`); the
            vocabulary is built from the training split only.
        max_length: keep the first this many tokens of each text; None keeps all.
        batch_size: texts per training batch; `eval_batch_size` in evaluation.
        val_fraction: the share of each label held out when there is no validation file.
        seed: the seed of the held-out split and of the training order.
        on_empty: what to do with a row whose text is empty or has no tokens: `"skip"`
            (drop it, with a warning naming the lines) or `"error"`.
        bucketing: batch training texts of similar length together (less padding,
            faster); evaluation batches always follow the file's order.
        predict_path: for `seqkit predict`: a CSV, TSV or JSON Lines file whose
            `text_column` holds the texts to label (other columns are kept).

    Raises:
        DataError: arguments that cannot work together, or an unknown dataset or
            tokenizer (before any file is read).

    After `setup`: `vocab`, `labels` (index -> label string), `pad_index`, `oov_rate`,
    `class_counts`, and `data[split]` (`EncodedTexts`).
    """

    def __init__(
        self,
        dataset: str | None = None,
        root: str | None = None,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        text_column: str | None = None,
        label_column: str | None = None,
        tokenizer: str = "basic_english",
        min_freq: int = 1,
        max_tokens: int | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        val_fraction: float = 0.1,
        seed: int = 0,
        on_empty: str = "skip",
        bucketing: bool = True,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        # The file you name wins over the recipe's dataset (and is said to, in prepare_data).
        self.replaced = dataset if train_path is not None else None
        if train_path is not None:
            dataset = None
        if dataset is None and train_path is None:
            raise DataError(f"give --data.dataset ({', '.join(sorted([*SAMPLES, 'sst2', 'imdb']))}) or your own "
                            "--data.train_path (.csv, .tsv or .jsonl)")
        if train_path is None and (val_path or test_path):
            raise DataError("--data.val_path and --data.test_path need a --data.train_path")
        if dataset in SAMPLES:
            entry = None
            defaults = dict(zip(("text_column", "label_column"), SAMPLES[dataset][1:]))
        else:
            entry = catalog.entry(dataset, task="sentiment") if dataset is not None else None  # unknown names fail here
            defaults = entry.extra if entry is not None else {"text_column": "text", "label_column": "label"}
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size), ("min_freq", min_freq)):
            if value < 1:
                raise DataError(f"--data.{name} must be at least 1, got {value}")
        if max_length is not None and max_length < 1:
            raise DataError(f"--data.max_length must be at least 1 (or null for no limit), got {max_length}")
        if max_tokens is not None and max_tokens <= 2:
            raise DataError(f"--data.max_tokens must be above 2 (it counts {UNK} and {PAD}), got {max_tokens}")
        if tokenizer not in TOKENIZERS:
            raise DataError(f"unknown --data.tokenizer {tokenizer!r}; choose one of {sorted(TOKENIZERS)}")
        if not 0.0 < val_fraction < 1.0:
            raise DataError(f"--data.val_fraction must be between 0 and 1, got {val_fraction}")
        if on_empty not in ON_EMPTY:
            raise DataError(f"--data.on_empty must be one of {list(ON_EMPTY)}, got {on_empty!r}")
        self.text_column = text_column or defaults["text_column"]
        self.label_column = label_column or defaults["label_column"]
        if self.text_column == self.label_column:
            raise DataError(f"--data.text_column and --data.label_column are both {self.text_column!r}; "
                            "texts and labels need columns of their own")
        self.dataset = dataset
        self.root = root
        self.paths = {"train": train_path, "val": val_path, "test": test_path}
        # A catalog split without labels (GLUE keeps SST-2's test labels): said so if asked for.
        self.unlabelled = {name for name in entry.extra.get("unlabelled", "").split(",") if name} if entry else set()
        # A catalog dataset's labels by name (SST-2's 0 and 1 are negative and positive), so predictions say so.
        self.label_names = dict(pair.split("=", 1) for pair in entry.extra.get("label_names", "").split(",") if pair) \
            if entry else {}
        self.tokenizer_name = tokenizer
        self.min_freq = min_freq
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.on_empty = on_empty
        self.bucketing = bucketing
        self.predict_path = predict_path
        self.vocab: Vocab | None = None  # built in setup, or given (fine-tuning keeps a checkpoint's)
        self.labels: list[str] | None = None  # fitted on the training split in setup, or given
        self._labels_given = False
        self.data: dict[str, EncodedTexts] = {}
        self.oov_rate: float | None = None
        self.class_counts: Tensor | None = None
        self._rows: dict[str, _Rows] = {}

    @property
    def source(self) -> str:
        """What the data is, in words: the dataset's name or the training file."""
        return self.dataset or str(self.paths["train"])

    @property
    def pad_index(self) -> int:
        """The id that pads a batch: `<pad>`'s.

        A vocabulary without `<pad>` (a language model's, kept for transfer) pads with its
        default index (`<unk>`): padded steps are never read from a packed sequence.
        """
        if self.vocab is None:
            raise DataError("the vocabulary is not built yet: call setup() (or use_vocab) first")
        if PAD in self.vocab:
            return self.vocab[PAD]
        return self.vocab.get_default_index() or 0

    def describe(self) -> str:
        """Which labelled texts the run reads, in one line (the first thing `seqkit fit` prints)."""
        if self.dataset in SAMPLES:
            return f"data: {self.dataset}, {SAMPLES[self.dataset][3]} (shipped with seqkit: {packaged.sample(SAMPLES[self.dataset][0])})"
        if self.dataset is not None:
            return f"data: {self.dataset}, {catalog.CATALOG[self.dataset].description}"
        val = self.paths["val"] or f"a stratified {self.val_fraction:.0%} of it"
        text = (f"data: train {self.paths['train']} (texts in {self.text_column!r}, labels in {self.label_column!r}), "
                f"validation {val}, test {self.paths['test'] or 'none'}")
        return text + (f" (in place of the recipe's dataset {self.replaced})" if self.replaced else "")

    def prepare_data(self) -> None:
        say(f"seqkit: {self.describe()}")
        if self.dataset in catalog.CATALOG:
            catalog.locate(self.dataset, self.root)  # download once (on one process), verify, convert

    def setup(self, stage: str | None = None) -> None:
        if self.data:
            return
        self._rows = self._read_splits()
        if self.labels is None:
            self.labels = sorted_labels(self._rows["train"].labels)
            if len(self.labels) < 2:
                raise DataError(f"{self._rows['train'].path}: every training row has the label {self.labels[0]!r} "
                                f"(column {self.label_column!r}); a classifier needs rows of at least two labels")
        if self.vocab is None:
            vocab = build_vocab_from_iterator(self._rows["train"].tokens, min_freq=self.min_freq,
                                              specials=[UNK, PAD], max_tokens=self.max_tokens)
            vocab.set_default_index(vocab[UNK])
            self.vocab = vocab
        self._encode()

    def use_vocab(self, vocab: Vocab, tokenizer: str | None = None) -> None:
        """Numericalize with `vocab` (and its tokenizer) instead of building one: fine-tuning keeps the trained words.

        Args:
            vocab: a vocabulary with a default index (unknown words map to it); a `<pad>`
                token is used for padding when it has one.
            tokenizer: the tokenizer the vocabulary was built with, if not this one's.
        """
        if vocab.get_default_index() is None:
            raise DataError("the given vocabulary has no default index, so unknown words would be an error; "
                            f"call vocab.set_default_index(vocab[{UNK!r}]) first")
        self.vocab = vocab
        if tokenizer is not None and tokenizer != self.tokenizer_name:
            if tokenizer not in TOKENIZERS:
                raise DataError(f"unknown tokenizer {tokenizer!r}; choose one of {sorted(TOKENIZERS)}")
            self.tokenizer_name = tokenizer
            if self._rows:  # tokens of another tokenizer: read and tokenize again
                self._rows, self.data = {}, {}
                if not self._labels_given:
                    self.labels = None
                self.setup()
                return
        if self._rows:  # already set up: encode again with the new vocabulary
            self._encode()

    def use_labels(self, labels: Sequence[str]) -> None:
        """Use this label map (index -> label string) instead of fitting one: keeps a checkpoint's label order.

        Raises:
            DataError: a label is given twice, or (once set up) a row's label is not among them.
        """
        labels = [str(label) for label in labels]
        if len(set(labels)) != len(labels):
            raise DataError(f"the label map {labels} names a label twice; each label needs one index")
        self.labels = labels
        self._labels_given = True
        if self._rows:
            self._encode()

    def encode_texts(self, texts: Sequence[str]) -> list[Tensor]:
        """Token ids of each text with the fitted vocabulary, cut to `max_length` (for prediction).

        A text with no tokens (empty, or only characters the tokenizer drops) becomes one
        `<unk>`, so that every text gets a prediction.

        Args:
            texts: the texts.

        Returns:
            One `(T_i,)` int64 tensor per text, `1 <= T_i <= max_length`.
        """
        if self.vocab is None:
            raise DataError("the vocabulary is not built yet: call setup() (or use_vocab) first")
        tokenize = get_tokenizer(self.tokenizer_name)
        unknown = self.vocab.get_default_index()
        encoded = []
        for text in texts:
            ids = self.vocab.lookup_indices(tokenize(_as_text(text))[: self.max_length])
            encoded.append(torch.tensor(ids or [unknown], dtype=torch.int64))
        return encoded

    def batch_texts(self, texts: Sequence[str]) -> TextBatch:
        """`texts` as one padded `TextBatch` with `labels=None` (for `predict`)."""
        return pad_texts(self.encode_texts(texts), self.pad_index)

    # ------------------------------------------------------------------------- reading
    def _read_splits(self) -> dict[str, _Rows]:
        """Every split's rows, tokenized, with empty texts handled; validation held out if needed."""
        if self.dataset in SAMPLES:
            paths = {"train": packaged.sample(SAMPLES[self.dataset][0])}
        elif self.dataset is not None:
            located = catalog.locate(self.dataset, self.root)
            paths = {split: path for split, path in located.items() if split not in self.unlabelled}
        else:
            paths = {split: Path(path) for split, path in self.paths.items() if path is not None}
        rows = {split: self._tokenized(self._named(read_table(path, self.text_column, self.label_column)))
                for split, path in paths.items()}
        if "val" not in rows:
            rows["train"], rows["val"] = self._hold_out(rows["train"])
        return rows

    def _named(self, table: Table) -> Table:
        """`table` with its labels by name, where the dataset names them (`label_names`)."""
        if not self.label_names or table.labels is None:
            return table
        return dataclasses.replace(table, labels=[self.label_names.get(label, label) for label in table.labels])

    def _tokenized(self, table: Table) -> _Rows:
        """Tokenize and cut every text; drop (or refuse) empty ones; refuse rows without a label."""
        tokenize = get_tokenizer(self.tokenizer_name)
        tokens = [tokenize(text)[: self.max_length] for text in table.texts]
        empty = [i for i, row in enumerate(tokens) if not row]
        if empty:
            lines = [table.lines[i] for i in empty]
            if self.on_empty == "error":
                raise DataError(f"{table.path}: {len(empty)} rows have an empty text in column {self.text_column!r} "
                                f"(or one with no tokens) at {_name_lines(lines)}; fill or remove them, or set "
                                "--data.on_empty skip to leave them out")
            rank_zero_warn(f"{table.path}: skipped {len(empty)} of {len(tokens)} rows whose text in column "
                           f"{self.text_column!r} is empty or has no tokens ({_name_lines(lines)}); "
                           "--data.on_empty error stops instead")
            kept = sorted(set(range(len(tokens))) - set(empty))
            if not kept:
                raise DataError(f"{table.path}: every row's text in column {self.text_column!r} is empty; "
                                "is --data.text_column the column of the texts?")
        else:
            kept = list(range(len(tokens)))
        rows = _Rows(table.path, tokens, table.labels, table.lines).take(kept)
        unlabelled = [line for line, label in zip(rows.lines, rows.labels) if not label]
        if unlabelled:
            raise DataError(f"{table.path}: {len(unlabelled)} rows have no label in column {self.label_column!r} "
                            f"({_name_lines(unlabelled)}); every row needs a label")
        return rows

    def _hold_out(self, train: _Rows) -> tuple[_Rows, _Rows]:
        """A stratified, seeded validation split of the training rows."""
        seen: dict[str, list[int]] = {}
        for line, label in zip(train.lines, train.labels):
            seen.setdefault(label, []).append(line)
        single = sorted((lines[0], label) for label, lines in seen.items() if len(lines) == 1)
        if single:
            line, label = single[0]
            others = f" (and {len(single) - 1} other labels)" if len(single) > 1 else ""
            raise DataError(f"{train.path}: label {label!r} occurs only once (line {line}){others}, so a stratified "
                            "validation split cannot hold it out and still train on it; add rows with that label, "
                            "remove the row, or give --data.val_path")
        kept, held = stratified_split(train.labels, self.val_fraction, self.seed)
        if not held:
            raise DataError(f"{train.path}: {len(train.labels)} rows are too few to hold out {self.val_fraction:.0%} "
                            "of each label for validation; give --data.val_path or a larger --data.val_fraction")
        return train.take(kept), train.take(held)

    # ------------------------------------------------------------------------- encoding
    def _encode(self) -> None:
        """Token ids and label indices of every split, with the current vocabulary and label map."""
        index = {label: i for i, label in enumerate(self.labels)}
        for split, rows in self._rows.items():
            unknown = [(line, label) for line, label in zip(rows.lines, rows.labels) if label not in index]
            if unknown:
                names = sorted({label for _, label in unknown})
                where = "given (a checkpoint's)" if self._labels_given else "of the training split"
                raise DataError(f"{rows.path}: label{'s' if len(names) > 1 else ''} {names} at "
                                f"{_name_lines([line for line, _ in unknown])} {'are' if len(names) > 1 else 'is'} "
                                f"not among the labels {where}, {self.labels}; fix the labels or add training rows "
                                "with them")
        stoi, default = self.vocab.get_stoi(), self.vocab.get_default_index()
        self.data = {}
        for split, rows in self._rows.items():
            ids: array = array("q")
            for tokens in rows.tokens:
                ids.extend(map(stoi.get, tokens, repeat(default)))
            lengths = torch.tensor([len(tokens) for tokens in rows.tokens], dtype=torch.int64)
            offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])
            # frombuffer, as in seqkit.text.encode: faster than torch.tensor(list); clone owns the memory.
            flat = torch.frombuffer(ids, dtype=torch.int64).clone() if ids else torch.empty(0, dtype=torch.int64)
            labels = torch.tensor([index[label] for label in rows.labels], dtype=torch.int64)
            self.data[split] = EncodedTexts(flat, offsets, labels, rows.lines)
        train = self.data["train"]
        self.oov_rate = (train.ids == default).float().mean().item() if train.ids.numel() else 0.0
        self.class_counts = torch.bincount(train.labels, minlength=len(self.labels))

    # ------------------------------------------------------------------------- loaders
    def _loader(self, split: str) -> DataLoader:
        if split not in self.data:
            if split in self.unlabelled:
                raise DataError(f"{self.dataset} has no labelled {split} split (its {split} file has no labels, as "
                                "in GLUE); evaluate on the validation split (`seqkit validate`)")
            raise DataError(f"there is no {split} split: give --data.{split}_path")
        texts = self.data[split]
        pad = partial(collate, pad_index=self.pad_index)  # a partial of a module function pickles into workers
        if split != "train":
            # On many processes, each scores one contiguous share of the texts, none twice (seqkit.training.distributed).
            return DataLoader(texts, batch_size=self.eval_batch_size, shuffle=False, collate_fn=pad,
                              sampler=eval_sampler(self, texts))
        if self.bucketing:
            sampler = BucketSampler(texts.lengths, self.batch_size, seed=self.seed)
        else:
            sampler = EpochRandomSampler(texts, self.seed)
        # Resumable: a run killed mid-epoch goes on with the batch it would have trained next (seqkit.data.resumable).
        return ResumableDataLoader(texts, batch_size=self.batch_size, sampler=sampler, collate_fn=pad)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
