"""The language-model DataModule: text files in, contiguous token streams out.

Each split becomes one token stream (an `<eos>` at every line end), cut into
`batch_size` parallel streams, each a contiguous stretch of the text:

    tokens (N,) -> streams (B, N // B)        row b = tokens[b * N//B : (b+1) * N//B]

and batch k is the window of columns `[k * bptt, (k + 1) * bptt)` of every stream, with
targets shifted by one token. Batch k+1 therefore continues batch k row by row, which is
what lets the task carry the hidden state from one batch to the next (truncated
backpropagation through time). The tokens that do not fill the last column (fewer than
B) are dropped, as in pytorch/examples.

On W processes (DDP) the stream is cut into W * B rows and process r takes rows
`[r * B, (r + 1) * B)`: every process sees all windows of its own streams, in order, so
the carried state stays right, and the W processes together compute exactly the batch of
W * B streams that one process would (`batch_size` is per process, as in Lightning).
Cutting the windows among processes instead (Lightning's default sampler) would hand a
process windows 0, 2, 4, ..., each wrongly continuing the one before.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import lightning.pytorch as pl
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from seqkit.data import catalog
from seqkit.data.text_tables import read_table
from seqkit.data.resumable import ResumableDataLoader
from seqkit.console import say
from seqkit.training.distributed import ShardSampler, shard_of
from seqkit.errors import DataError
from seqkit.text import EOS, TOKENIZERS, UNK, Vocab, build_vocab_from_iterator, encode, get_tokenizer, read_lines

SPLITS = ("train", "val", "test")


class LMBatch(NamedTuple):
    """One window of every stream: `inputs` and `targets` are `(B, T)` token ids, targets one step ahead."""

    inputs: Tensor
    targets: Tensor


class StreamWindows(Dataset):
    """Windows of `bptt` tokens over `(B, L)` parallel streams; item k continues item k-1 row by row."""

    def __init__(self, streams: Tensor, bptt: int) -> None:
        self.streams = streams
        self.bptt = bptt

    def __len__(self) -> int:
        return math.ceil((self.streams.size(1) - 1) / self.bptt)

    def __getitem__(self, k: int) -> LMBatch:
        start = k * self.bptt
        length = min(self.bptt, self.streams.size(1) - 1 - start)  # the last window may be shorter
        return LMBatch(self.streams[:, start : start + length], self.streams[:, start + 1 : start + 1 + length])


def batchify(tokens: Tensor, batch_size: int) -> Tensor:
    """`(N,)` -> `(batch_size, N // batch_size)`: row b is the b-th contiguous stretch of the stream."""
    length = tokens.numel() // batch_size
    return tokens[: length * batch_size].view(batch_size, length)


class NextWordData(pl.LightningDataModule):
    """Text for next-word prediction: a catalog dataset, the embedded corpus, or your own files.

    Args:
        dataset: `"kjv"` (embedded, no network; the default when no file is given),
            `"ptb"` or `"wikitext2"` (catalog: downloaded once, or read from `root` /
            `$SEQKIT_DATA`), or a sentiment dataset (`"sst2"`, `"imdb"`): the texts of each
            of its splits, one a line, without their labels (a language model of a
            classification task's own text, ULMFiT's second stage); it trains on the
            training texts only.
        root: a folder that already holds the catalog dataset's files.
        train_path, val_path, test_path: your own UTF-8 text files. A `train_path`
            replaces `dataset` (the file you name wins). Without `val_path`,
            the last `val_fraction` of the training lines become the validation split
            (the same lines every run). Without `test_path` there is no test split.
        tokenizer: `basic_english`, `whitespace` or `char`; by default the dataset's own
            (`whitespace` for the pre-tokenized catalog corpora, `basic_english` otherwise).
        min_freq, max_tokens: vocabulary limits (words outside become `<unk>`); the
            vocabulary is built from the training split only.
        batch_size: parallel streams in training; `eval_batch_size` in evaluation. Both
            per process: W processes read W times as many streams.
        bptt: tokens per window (the truncation length of backpropagation through time).
        val_fraction: share of the training lines held out for validation when there is
            no `val_path`. For the embedded corpus, the last `val_fraction` of the lines
            is the test split and the same share before it the validation split.
        reverse: read every split backwards, last word first. The model then learns to
            predict the word *before*: a backward language model, the partner of a forward
            one in ULMFiT and ELMo, whose encoder can start the reverse direction of a
            bidirectional classifier (`seqkit fit ... --init_from_backward`). The
            vocabulary is the same as reading forwards.
        predict_path: for `seqkit predict`: a text file of prompts, one a line; each gets
            its most likely next words and a continuation.
    """

    def __init__(
        self,
        dataset: str | None = None,
        root: str | None = None,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        tokenizer: str | None = None,
        min_freq: int = 1,
        max_tokens: int | None = None,
        batch_size: int = 20,
        eval_batch_size: int = 10,
        bptt: int = 35,
        val_fraction: float = 0.05,
        reverse: bool = False,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        # The file you name wins over the recipe's dataset (and is said to, in prepare_data).
        self.replaced = dataset if train_path is not None else None
        if train_path is not None:
            dataset = None
        if train_path is None and (val_path or test_path):
            raise DataError("--data.val_path and --data.test_path need a --data.train_path")
        if dataset is None and train_path is None:
            dataset = "kjv"
        if dataset is not None and catalog.entry(dataset).task != "sentiment":
            catalog.entry(dataset, task="next_word")  # an unknown or a forecasting dataset fails here, before any work
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size), ("bptt", bptt)):
            if value < 1:
                raise DataError(f"--data.{name} must be at least 1, got {value}")
        if tokenizer is not None and tokenizer not in TOKENIZERS:
            raise DataError(f"unknown --data.tokenizer {tokenizer!r}; choose one of {sorted(TOKENIZERS)}")
        if not 0.0 < val_fraction < 1.0:
            raise DataError(f"--data.val_fraction must be between 0 and 1, got {val_fraction}")
        self.dataset = dataset
        self.root = root
        self.paths = {"train": train_path, "val": val_path, "test": test_path}
        self.tokenizer_name = tokenizer or (catalog.entry(dataset).tokenizer if dataset is not None else "basic_english")
        self.min_freq = min_freq
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.bptt = bptt
        self.val_fraction = val_fraction
        self.reverse = reverse
        self.predict_path = predict_path
        self.vocab: Vocab | None = None  # built in setup, or given (fine-tuning keeps a checkpoint's)
        self.tokens: dict[str, Tensor] = {}
        self.oov_rate: float | None = None

    @property
    def source(self) -> str:
        """What the text is, in words: the dataset's name or the training file."""
        return self.dataset or str(self.paths["train"])

    def describe(self) -> str:
        """Which text the run reads, in one line (the first thing `seqkit fit` prints)."""
        if self.dataset is not None:
            return f"data: {self.dataset}, {catalog.CATALOG[self.dataset].description}"
        val = self.paths["val"] or f"the last {self.val_fraction:.0%} of its lines"
        text = f"data: train {self.paths['train']}, validation {val}, test {self.paths['test'] or 'none'}"
        return text + (f" (in place of the recipe's dataset {self.replaced})" if self.replaced else "")

    def prepare_data(self) -> None:
        say(f"seqkit: {self.describe()}")
        if catalog.fetched(self.dataset):
            catalog.locate(self.dataset, self.root)  # download once (on one process), verify

    def setup(self, stage: str | None = None) -> None:
        if self.tokens:
            return
        lines = self._read_splits()
        tokenizer = get_tokenizer(self.tokenizer_name)
        if self.vocab is None:
            self.vocab = build_vocab_from_iterator(
                (tokenizer(line) for line in lines["train"]), min_freq=self.min_freq,
                specials=[UNK, EOS], max_tokens=self.max_tokens,
            )
            self.vocab.set_default_index(self.vocab[UNK])
        self.encode_with(self.vocab, lines)

    def use_vocab(self, vocab: Vocab, tokenizer: str | None = None) -> None:
        """Numericalize with `vocab` (and its tokenizer) instead of building one: fine-tuning keeps the trained words."""
        self.vocab = vocab
        if tokenizer is not None:
            self.tokenizer_name = tokenizer
        if self.tokens:  # already set up: encode again with the new vocabulary
            self.tokens = {}
            self.setup()

    def encode_with(self, vocab: Vocab, lines: dict[str, list[str]]) -> None:
        tokenizer = get_tokenizer(self.tokenizer_name)
        for split, split_lines in lines.items():
            tokens = encode(split_lines, tokenizer, vocab)
            # Backwards: the stream read from its end, so each target is the word before its input.
            self.tokens[split] = tokens.flip(0) if self.reverse else tokens
        train = self.tokens["train"]
        self.oov_rate = (train == vocab[UNK]).float().mean().item() if UNK in vocab else 0.0
        _, processes = shard_of(self)
        for split, tokens in self.tokens.items():
            batch = (self.batch_size if split == "train" else self.eval_batch_size) * processes
            if tokens.numel() // batch < 2:
                on = f" ({processes} processes)" if processes > 1 else ""
                raise DataError(
                    f"the {split} split of {self.source} has {tokens.numel()} tokens: too short for "
                    f"{batch} parallel streams{on} (needs at least {2 * batch}); lower "
                    f"--data.{'batch_size' if split == 'train' else 'eval_batch_size'} or give more text"
                )

    def _read_splits(self) -> dict[str, list[str]]:
        """The lines of every available split."""
        if self.dataset is not None and catalog.entry(self.dataset).shipped is not None:
            lines = catalog.entry(self.dataset).shipped()
            held = max(1, int(len(lines) * self.val_fraction))
            # Deterministic: the last `held` lines are the test split, the `held` before them validation.
            return {"train": lines[: -2 * held], "val": lines[-2 * held : -held], "test": lines[-held:]}
        if self.dataset is not None:
            paths = catalog.locate(self.dataset, self.root)
            item = catalog.CATALOG[self.dataset]
            if item.task != "sentiment":
                return {split: read_lines(path) for split, path in paths.items()}
            # A classification dataset: the texts of each split, one a line (the language model trains on train's only).
            splits = {split: [" ".join(text.split()) for text in read_table(path, item.extra["text_column"], None).texts]
                      for split, path in paths.items()}
        else:
            splits = {split: read_lines(Path(path)) for split, path in self.paths.items() if path is not None}
        if "val" not in splits:
            train = splits["train"]
            held = int(len(train) * self.val_fraction)
            if held < 1 or held >= len(train):
                raise DataError(
                    f"{self.paths['train'] or self.dataset} has {len(train)} lines, too few to hold out {self.val_fraction:.0%} "
                    f"for validation; give --data.val_path or more text"
                )
            splits["train"], splits["val"] = train[:-held], train[-held:]
        return splits

    def _loader(self, split: str) -> DataLoader:
        if split not in self.tokens:
            raise DataError(f"there is no {split} split: give --data.{split}_path")
        batch = self.batch_size if split == "train" else self.eval_batch_size
        rank, processes = shard_of(self)
        streams = batchify(self.tokens[split], batch * processes)[rank * batch : (rank + 1) * batch]  # (B, L): this process's rows
        windows = StreamWindows(streams, self.bptt)
        # batch_size=None: each item already is a batch; windows stay in order. On many processes the
        # rows are already this process's share: ShardSampler(..., 1, 0) is every window, in order, and
        # stops Lightning from sharing out the windows again.
        sampler = ShardSampler(windows, num_replicas=1, rank=0) if processes > 1 else None
        # Training resumes mid-epoch at the window where it stopped (seqkit.data.resumable).
        return (ResumableDataLoader if split == "train" else DataLoader)(windows, batch_size=None, shuffle=False,
                                                                         sampler=sampler)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
