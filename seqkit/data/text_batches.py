"""Batches of texts: token ids padded to the longest text of the batch, and the samplers that make them.

    texts -> token ids (one tensor per text) -> TextBatch(tokens (B, T), lengths (B,), labels (B,))

so that a model can pack the batch (`pack_padded_sequence`) and never read a padded step.
In training, texts of similar length share a batch (`BucketSampler`), which keeps the
padding small; evaluation batches follow the file's order (`EncodedTexts.lines` gives each
example's line in its file).
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, Sampler


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
