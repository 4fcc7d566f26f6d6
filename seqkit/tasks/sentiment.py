"""Sentiment analysis: one label per text from a recurrent encoder (`seqkit.models.RecurrentClassifier`).

Texts are padded to the longest in their batch and handed to the encoder packed, so
padding never reaches a step: a text gets the same probabilities alone and in a batch of
longer ones. Texts go in and labels come out through `seqkit.tasks.labelling`; transfer
from language models (ULMFiT, ELMo) is `seqkit.tasks.transfer`.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import pandas as pd
import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score

from seqkit.protocols import TakesVocabulary
from seqkit.training import checkpoints
from seqkit.errors import SeqkitError
from seqkit.tasks import labelling, transfer
from seqkit.tasks.common import (attached_datamodule, best_and_last_checkpoints, check_numbers, check_parts,
                                 configure, metrics_at, GivenParts, built, part, say, stage_metrics)
from seqkit.models import RecurrentClassifier
from seqkit.modules import Recurrent
from seqkit.modules.heads import POOLINGS
from seqkit.text import PAD, Vocab
from seqkit.vectors import fill_embedding


class SentimentTask(pl.LightningModule):
    """A recurrent text classifier.

    Args:
        encoder: the recurrent module, e.g. `seqkit.modules.LSTM(input_size=300,
            hidden_size=150, bidirectional=True)`; chosen in a recipe by `class_path`.
            Its `input_size` is the embedding size.
        pooling: `"last"`, `"mean"` or `"max"` over each text's real steps, or `"concat"`
            (the three side by side, ULMFiT's concat pooling).
        dropout: dropout on the embeddings and on the pooled features.
        class_weights: weight the loss by inverse label frequency (for imbalanced labels).
        optimizer, lr_scheduler: classes and arguments as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.003}}`; in Python,
            `functools.partial(torch.optim.AdamW, lr=0.003)`); default AdamW and no schedule.
        pretrained_embeddings: a GloVe or word2vec text file whose vectors start the
            embedding rows of known words (the coverage is reported).
        freeze_embeddings: keep the embedding fixed during training.
        body_lr_scale: the embedding and the encoder learn at `lr * body_lr_scale`, the
            head at `lr` (ULMFiT's discriminative rates: gentler steps for pretrained layers).
        freeze_body_epochs: keep the embedding and the encoder fixed for this many epochs,
            so that a new head first learns to read them (ULMFiT's gradual unfreezing, in
            two stages); then everything trains.
        reverse: read each text last word first: the classifier to start from a backward
            language model (`--init_from BACKWARD.ckpt`), the partner of one read forwards;
            `seqkit classify --ckpt_path FORWARD --ckpt_path BACKWARD` averages the two.
        weight_drop: DropConnect on the encoder's recurrent weights in training, the
            probability of zeroing each (AWD-LSTM's and ULMFiT's weight dropout; 0: none).
    """

    task_name = "sentiment"

    def __init__(
        self,
        encoder: Recurrent,
        pooling: str = "max",
        dropout: float = 0.5,
        class_weights: bool = False,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        pretrained_embeddings: str | None = None,
        freeze_embeddings: bool = False,
        body_lr_scale: float = 1.0,
        freeze_body_epochs: int = 0,
        reverse: bool = False,
        weight_drop: float = 0.0,
    ) -> None:
        super().__init__()
        check_parts(encoder=encoder)
        if pooling not in POOLINGS:
            raise SeqkitError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if body_lr_scale <= 0 or freeze_body_epochs < 0:
            raise SeqkitError(f"body_lr_scale must be > 0 and freeze_body_epochs >= 0, got {body_lr_scale} and {freeze_body_epochs}")
        check_numbers(dropout=dropout, weight_drop=weight_drop)
        self.save_hyperparameters(ignore=["encoder", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.model: RecurrentClassifier | GivenParts = GivenParts({"encoder": encoder})  # sized by the vocabulary and labels, built in configure_model
        self.vocab: Vocab | None = None
        self.labels: list[str] | None = None
        self.tokenizer_name = "basic_english"
        self.max_length: int | None = None
        self._init_from: dict | None = None
        self._init_backward: dict | None = None

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        if built(self):
            return
        datamodule = attached_datamodule(self)
        if self.vocab is None:
            lacking = ["vocab"] if getattr(datamodule, "vocab", None) is None else []
            lacking += [name for name in ("labels", "tokenizer_name", "max_length") if not hasattr(datamodule, name)]
            if lacking:
                raise SeqkitError(f"SentimentTask needs its vocabulary and labels: train it with a DataModule that sets "
                                  f"{', '.join(lacking)} (seqkit.protocols.SentimentDataModule; "
                                  f"{type(datamodule).__name__} does not), or load a checkpoint")
            self.vocab, self.labels = datamodule.vocab, list(datamodule.labels)
            self.tokenizer_name, self.max_length = datamodule.tokenizer_name, datamodule.max_length
        self._build_layers()
        if self._init_from is not None:
            transfer.load_init_from(self)
        elif self.hparams.pretrained_embeddings:
            coverage = fill_embedding(self.embedding.weight.data, self.vocab, self.hparams.pretrained_embeddings)
            say(f"seqkit: pretrained embeddings from {self.hparams.pretrained_embeddings} cover {coverage}")
        self.embedding.weight.requires_grad_(not self.hparams.freeze_embeddings)
        if self.hparams.class_weights and datamodule is not None:
            counts = datamodule.class_counts.float().clamp(min=1)
            self.register_buffer("loss_weight", counts.sum() / (len(counts) * counts), persistent=False)

    def _build_layers(self) -> None:
        classes = len(self.labels)
        # A language model's vocabulary (transfer) has no <pad>; padded steps never reach the
        # encoder (packed sequences), so then nothing needs a padding row.
        padding = self.vocab[PAD] if PAD in self.vocab else None
        self.model = RecurrentClassifier(len(self.vocab), self.encoder, classes, self.hparams.pooling,
                                         self.hparams.dropout, padding, reverse=self.hparams.get("reverse", False),
                                         weight_drop=self.hparams.get("weight_drop", 0.0))
        metrics = {"acc": lambda: MulticlassAccuracy(classes, average="micro"),
                   "f1": lambda: MulticlassF1Score(classes, average="macro"), "loss": MeanMetric}
        self.val_metrics, self.test_metrics = stage_metrics("val", **metrics), stage_metrics("test", **metrics)
        self.confusion = MulticlassConfusionMatrix(classes)

    # The model's parts by name: task.encoder is task.model.encoder.
    encoder = part("encoder")
    embedding = part("embedding")
    head = part("head")

    def _adopt(self, section: dict) -> None:
        self.vocab = Vocab.from_dict(section["vocab"])
        self.tokenizer_name = section.get("tokenizer", self.tokenizer_name)
        self.max_length = section.get("max_length")
        if "labels" in section:
            self.labels = list(section["labels"])

    def init_from_checkpoint(self, path: str | Path, datamodule: pl.LightningDataModule | None = None) -> None:
        """Start from a sentiment checkpoint, or from a next-word one (transfer): `seqkit.tasks.transfer`."""
        transfer.init_from_checkpoint(self, path, datamodule)

    def init_backward_from_checkpoint(self, path: str | Path) -> None:
        """Start the reverse direction of a bidirectional encoder from a backward language model (`transfer`)."""
        transfer.init_backward_from_checkpoint(self, path)

    # A trained model in eval mode, from a .ckpt file or a run folder: from_checkpoint(path, map_location="cpu").
    # load_from_checkpoint is Lightning's name for the same; one implementation, checkpoints.restore.
    from_checkpoint = classmethod(checkpoints.restore)
    load_from_checkpoint = classmethod(checkpoints.lightning_loader)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = checkpoints.section(self, vocab=self.vocab.to_dict(), tokenizer=self.tokenizer_name,
                                                   labels=list(self.labels), max_length=self.max_length)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        section = checkpoints.section_of(self, checkpoint)
        if self.vocab is None or Vocab.from_dict(section["vocab"]).get_itos() != self.vocab.get_itos() or section["labels"] != self.labels:
            self._adopt(section)
            self._build_layers()
            datamodule = attached_datamodule(self)
            if isinstance(datamodule, TakesVocabulary):
                datamodule.use_vocab(self.vocab, self.tokenizer_name)
                datamodule.use_labels(self.labels)

    # ------------------------------------------------------------------ the model

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """`tokens (B, T)`, `lengths (B,)` -> logits `(B, C)` (`RecurrentClassifier`)."""
        return self.model(tokens, lengths)

    def _step(self, batch, stage: str, batch_idx: int) -> Tensor:
        logits = self(batch.tokens, batch.lengths)
        loss = F.cross_entropy(logits, batch.labels, weight=getattr(self, "loss_weight", None))
        if stage == "train":
            self.log("train/loss", loss, prog_bar=True)
            return loss
        metrics = metrics_at(self, stage, batch_idx)
        if batch_idx == 0:
            self.confusion.reset()
        metrics["loss"].update(loss.detach(), batch.labels.numel())  # the mean over every text
        metrics["acc"].update(logits, batch.labels)
        metrics["f1"].update(logits, batch.labels)
        self.log_dict(metrics, prog_bar=stage == "val")
        if stage == "test":
            self.confusion.update(logits, batch.labels)
        return loss

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train", batch_idx)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def on_test_epoch_end(self) -> None:
        matrix = self.confusion.compute().cpu()  # rows: true label, columns: predicted
        # trainer.log_dir is a broadcast from process 0: every process must ask, or process 0 waits forever.
        folder = Path(self.trainer.log_dir or self.trainer.default_root_dir)
        if self.trainer.global_rank == 0:
            written = labelling.write_confusion(matrix, self.labels, folder)
            say("seqkit: confusion matrix written to " + ", ".join(map(str, written)))

    def configure_optimizers(self):
        return configure(self, transfer.param_groups(self))  # the body at body_lr_scale times the head's rate

    def on_train_start(self) -> None:
        # A run resumed mid-epoch does not call on_train_epoch_start: freeze as the epoch it resumes in needs.
        transfer.freeze_body(self, announce=False)

    def on_train_epoch_start(self) -> None:
        transfer.freeze_body(self)

    def configure_callbacks(self):
        return best_and_last_checkpoints(self, "val/acc", "max", ".4f")

    # ------------------------------------------------------------------ using the model

    def encode(self, texts: list[str]) -> list[Tensor]:
        """Token ids of each text with the trained vocabulary (an empty text becomes one `<unk>`)."""
        return labelling.encode(self, texts)

    def predict(self, texts: list[str], batch_size: int = 256) -> list[dict]:
        """For each text, `{"label": best label, "probabilities": {label: p, ...}}`."""
        return labelling.predict(self, texts, batch_size)

    def predict_frame(self, table: pd.DataFrame, text_column: str = "text", source: object = "the table",
                      option: str = "--data.text_column") -> pd.DataFrame:
        """`table` with each text's `predicted_label` and a `probability_<label>` column per label added."""
        return labelling.predict_frame(self, table, text_column, source, option)

    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: the labels of the texts in the DataModule's `predict_path`."""
        return labelling.predict_from(self, datamodule)
