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
