"""What seqkit asks of the objects it works with, as `typing.Protocol`s (checked with `isinstance`).

A task or DataModule of your own takes part in a feature by having the method, not by
inheriting from seqkit's classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TakesVocabulary(Protocol):
    """A DataModule that numericalises with a vocabulary it is given (a checkpoint's, when fine-tuning)."""

    def use_vocab(self, vocab: Any, tokenizer: str | None = None) -> None: ...


@runtime_checkable
class TakesVocabularies(Protocol):
    """A DataModule of pairs (seq2seq) that numericalises with the source and target vocabularies it is given."""

    def use_vocabs(self, source: Any, target: Any) -> None: ...


@runtime_checkable
class ReadsDirection(Protocol):
    """A DataModule that can read its text backwards (`reverse`), for a backward language model."""

    reverse: bool


@runtime_checkable
class Finetunable(Protocol):
    """A task that starts from a trained checkpoint's weights: `seqkit fit --init_from`."""

    def init_from_checkpoint(self, path: str | Path, datamodule: Any = None) -> None: ...


@runtime_checkable
class TakesBackwardModel(Protocol):
    """A task whose reverse direction can start from a backward language model: `--init_from_backward`."""

    def init_backward_from_checkpoint(self, path: str | Path) -> None: ...


@runtime_checkable
class Predicts(Protocol):
    """A task that writes predictions for a DataModule's `predict_path`: `seqkit predict`."""

    def predict_from(self, datamodule: Any) -> Any: ...


# What each task reads from the DataModule it trains with (a forecasting DataModule of your own
# subclasses `seqkit.data.ForecastData` instead, whose scaling a checkpoint rebuilds). seqkit's own DataModules
# (`seqkit.data`) have all of it; a DataModule of your own (`--data mypackage.MyData`) needs
# the same, and a checkpoint it trains then carries its vocabulary or scaling as plain data,
# so that every inference command works on it with no DataModule at all.


@runtime_checkable
class NextWordDataModule(Protocol):
    """A DataModule for `NextWordTask`.

    Its training, validation and test loaders yield `seqkit.data.LMBatch(inputs, targets)`,
    both `(B, T)` int64 ids, the targets one step ahead; successive batches continue the
    same streams of text when the task carries its state across batches.

    Attributes:
        vocab: a `seqkit.text.Vocab` built from the training split, set by `setup("fit")`
            (or earlier); the task sizes its embedding and output layer from it.
        tokenizer_name: the name of the tokenizer that split the text (`"basic_english"`),
            so that a checkpoint tokenizes a prompt as the data did.
        predict_path: for `seqkit predict`: a text file of prompts, one a line (an argument
            of its `__init__`, so that `--data.predict_path FILE` reaches it), or None.
    """

    vocab: Any
    tokenizer_name: str
    predict_path: Any


@runtime_checkable
class SentimentDataModule(Protocol):
    """A DataModule for `SentimentTask`.

    Its loaders yield `seqkit.data.TextBatch(tokens, lengths, labels)`: `(B, T)` int64 ids
    padded after each text, `(B,)` lengths, `(B,)` int64 label indices.

    Attributes:
        vocab, tokenizer_name, predict_path: as for `NextWordDataModule` (a table of texts to predict).
        labels: the label names, in the order of the label indices.
        max_length: the longest text the data keeps (tokens), or None.
        class_counts: `(C,)` training examples per label (the task may weight its loss by them).
        text_column: the column of `predict_path` that holds the texts.
    """

    vocab: Any
    tokenizer_name: str
    predict_path: Any
    labels: Any
    max_length: Any
    class_counts: Any
    text_column: str


def missing(datamodule: Any, protocol: type) -> list[str]:
    """The attributes of `protocol` that `datamodule` lacks (for an error that names them)."""
    return [name for name in protocol.__annotations__ if not hasattr(datamodule, name)]
