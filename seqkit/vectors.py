"""Pretrained word vectors (GloVe or word2vec text files) into an embedding matrix.

Both formats are one word per line followed by its numbers, separated by spaces;
word2vec's text format adds a first line `<count> <dim>`, which is skipped. Only the
words of the vocabulary are kept, so a large file costs one pass and little memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from seqkit.errors import DataError
from seqkit.text import Vocab


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary a vectors file covered."""

    found: int
    total: int

    @property
    def fraction(self) -> float:
        return self.found / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.found:,} of {self.total:,} words ({self.fraction:.1%})"


def fill_embedding(weight: torch.Tensor, vocab: Vocab, path: str | Path, lowercase: bool = False) -> Coverage:
    """Overwrite the rows of `weight` whose words appear in the vectors file at `path`.

    Args:
        weight: the embedding matrix, `(len(vocab), dim)`; rows of words not in the file
            keep their values.
        vocab: the vocabulary that indexes `weight`.
        path: a GloVe or word2vec text file whose vectors have `dim` numbers.
        lowercase: match the file's words lowercased (for a lowercasing tokenizer).

    Returns:
        The coverage: how many vocabulary words got a vector.

    Raises:
        DataError: a missing file, or a line with the wrong number of values, or values that
            are not finite numbers (named by line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"pretrained embeddings {path}: no such file")
    dim = weight.shape[1]
    stoi = vocab.get_stoi()
    seen: set[int] = set()
    with torch.no_grad(), open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: "<count> <dim>"
            word = parts[0].lower() if lowercase else parts[0]
            index = stoi.get(word)
            if index is None or index in seen:
                continue
            if len(parts) - 1 != dim:
                raise DataError(f"{path}, line {number}: {len(parts) - 1} numbers for {parts[0]!r}, but the embedding has {dim}; set the embedding size (the encoder's input_size) to the file's")
            try:
                vector = torch.tensor([float(v) for v in parts[1:]], dtype=weight.dtype)
            except ValueError:
                raise DataError(f"{path}, line {number}: values for {parts[0]!r} are not all numbers") from None
            if not bool(torch.isfinite(vector).all()):  # "nan" and "inf" are floats, but they would poison training
                raise DataError(f"{path}, line {number}: the vector of {parts[0]!r} holds nan or inf; every value "
                                "must be a finite number")
            weight[index] = vector
            seen.add(index)
    return Coverage(len(seen), len(vocab))
