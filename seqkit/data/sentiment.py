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
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Sequence

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader

from seqkit.console import say
from seqkit.data import catalog
from seqkit.data.resumable import EpochRandomSampler, ResumableDataLoader
from seqkit.training.distributed import eval_sampler
from seqkit.errors import DataError
from seqkit.data.text_batches import BucketSampler, EncodedTexts, TextBatch, collate, pad_texts  # noqa: F401 (API)
from seqkit.data.text_tables import (  # noqa: F401 (read_table, sorted_labels, stratified_split: this module's API)
    FORMATS, SHOWN_ROWS, Table, _as_label, _as_text, _name_lines, _Rows, _tidy_labels, read_table, read_table_of_texts,
    sorted_labels, stratified_split)
from seqkit.text import PAD, TOKENIZERS, UNK, Vocab, build_vocab_from_iterator, get_tokenizer

ON_EMPTY = ("skip", "error")
SPLITS = ("train", "val", "test")
_INTEGER = re.compile(r"[+-]?[0-9]+")


# ----------------------------------------------------------------------------- the DataModule
class SentimentData(pl.LightningDataModule):
    """Labelled texts for sentiment analysis (text classification): a catalog dataset or your own files.

    Args:
        dataset: `"sst2"` (GLUE's SST-2: train and dev; its test split has no labels) or
            `"imdb"` (25k train and 25k test reviews), downloaded once or read from
            `root` / `$SEQKIT_DATA`; or `"reviews"`, a small sample shipped with seqkit
            (334 reviews, positive or negative, and 94 held out as its test split; offline).
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
            raise DataError(f"give --data.dataset ({', '.join(catalog.names('sentiment'))}) or your own "
                            "--data.train_path (.csv, .tsv or .jsonl)")
        if train_path is None and (val_path or test_path):
            raise DataError("--data.val_path and --data.test_path need a --data.train_path")
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
        if self.dataset is not None:
            return f"data: {self.dataset}, {catalog.CATALOG[self.dataset].description}"
        val = self.paths["val"] or f"a stratified {self.val_fraction:.0%} of it"
        text = (f"data: train {self.paths['train']} (texts in {self.text_column!r}, labels in {self.label_column!r}), "
                f"validation {val}, test {self.paths['test'] or 'none'}")
        return text + (f" (in place of the recipe's dataset {self.replaced})" if self.replaced else "")

    def prepare_data(self) -> None:
        say(f"seqkit: {self.describe()}")
        if catalog.fetched(self.dataset):
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
        if self.dataset is not None and catalog.entry(self.dataset).shipped is not None:
            shipped = catalog.entry(self.dataset).shipped()  # a file, or a file per split
            paths = shipped if isinstance(shipped, dict) else {"train": shipped}
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
