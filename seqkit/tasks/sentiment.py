"""Sentiment analysis: one label per text (many-to-one) from a recurrent encoder.

    tokens (B, T) + lengths (B,) -> embedding (B, T, E) -> dropout
        -> packed sequence -> encoder RNN/LSTM, uni- or bidirectional -> output (B, T, D*H)
        -> pooling over each text's real steps (last, mean or max) -> dropout -> logits (B, C)

Texts are padded to the longest in their batch and handed to the encoder packed, so
padding never reaches a step: a text gets the same probabilities alone and in a batch
of longer ones.
"""

from __future__ import annotations

import csv
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score

from seqkit.protocols import TakesVocabulary
from seqkit.training import checkpoints
from seqkit.errors import CheckpointError, DataError, SeqkitError
from seqkit.tasks import transfer
from seqkit.tasks.common import ModelPart, attached_datamodule, best_and_last_checkpoints, check_numbers, configure, say
from seqkit.models import RecurrentClassifier
from seqkit.modules import Recurrent
from seqkit.modules.heads import POOLINGS
from seqkit.text import PAD, Vocab, get_tokenizer
from seqkit.vectors import fill_embedding



class SentimentTask(pl.LightningModule):
    """A recurrent text classifier.

    Args:
        encoder: the recurrent module, e.g. `seqkit.modules.LSTM(input_size=300,
            hidden_size=150, bidirectional=True)`; chosen in a recipe by `class_path`.
            Its `input_size` is the embedding size.
        pooling: `"last"`, `"mean"` or `"max"` over each text's real steps.
        dropout: dropout on the embeddings and on the pooled features.
        class_weights: weight the loss by inverse label frequency (for imbalanced labels).
        optimizer: the optimizer class and its arguments, as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.003}}`; in Python,
            `functools.partial(torch.optim.AdamW, lr=0.003)`); default AdamW with its defaults.
        lr_scheduler: likewise, or None: stepped once per epoch (`seqkit.tasks.StepDecay`
            multiplies the rate by a factor once per epoch after some epochs, as Zaremba et al.).
        pretrained_embeddings: a GloVe or word2vec text file whose vectors start the
            embedding rows of known words (the coverage is reported).
        freeze_embeddings: keep the embedding fixed during training.
        body_lr_scale: the embedding and the encoder learn at `lr * body_lr_scale`, the
            head at `lr` (ULMFiT's discriminative rates: gentler steps for pretrained layers).
        freeze_body_epochs: keep the embedding and the encoder fixed for this many epochs,
            so that a new head first learns to read them (ULMFiT's gradual unfreezing, in
            two stages); then everything trains.
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
    ) -> None:
        super().__init__()
        if not isinstance(encoder, Recurrent):
            raise SeqkitError(f"encoder must be a seqkit recurrent module (seqkit.modules.RNN, LSTM, GRU), got {type(encoder).__name__}")
        if pooling not in POOLINGS:
            raise SeqkitError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if body_lr_scale <= 0 or freeze_body_epochs < 0:
            raise SeqkitError(f"body_lr_scale must be > 0 and freeze_body_epochs >= 0, got {body_lr_scale} and {freeze_body_epochs}")
        check_numbers(dropout=dropout)
        self.save_hyperparameters(ignore=["encoder", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self._pending = [encoder]  # in a list, so that it is no submodule of the task until the model holds it
        self.model: RecurrentClassifier | None = None  # sized by the vocabulary and labels, built in configure_model
        self.vocab: Vocab | None = None
        self.labels: list[str] | None = None
        self.tokenizer_name = "basic_english"
        self.max_length: int | None = None
        self._init_from: dict | None = None
        self._init_backward: dict | None = None

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        if self.model is not None:
            return
        datamodule = attached_datamodule(self)
        if self.vocab is None:
            if datamodule is None or getattr(datamodule, "vocab", None) is None:
                raise SeqkitError("SentimentTask needs its vocabulary and labels: train it with a SentimentData DataModule or load a checkpoint")
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
                                         self.hparams.dropout, padding)
        # Counts, added up across processes before they are divided: exact on many devices too.
        metrics = {"acc": lambda: MulticlassAccuracy(classes, average="micro"), "f1": lambda: MulticlassF1Score(classes, average="macro"),
                   "loss": MeanMetric}
        self.metrics = nn.ModuleDict({f"{stage}_{name}": make() for stage in ("val", "test") for name, make in metrics.items()})
        self.confusion = MulticlassConfusionMatrix(classes)

    # The model's parts by name: task.encoder is task.model.encoder (before the model is built, the given encoder).
    encoder = ModelPart()
    embedding = ModelPart()
    head = ModelPart()

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

    @classmethod
    def _assemble(cls, checkpoint: dict) -> "SentimentTask":
        """The untrained model a checkpoint describes (its layers built, before its weights are loaded)."""
        section = checkpoint["seqkit"]
        hparams = {**checkpoints.saved_arguments(cls, checkpoint), "pretrained_embeddings": None}  # the weights hold them
        task = cls(checkpoints.build_encoder(section["encoder"]), **hparams)
        task._adopt(section)
        task._build_layers()
        return task

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = {
            "format": checkpoints.FORMAT, "task": self.task_name,
            "encoder": checkpoints.encoder_spec(self.encoder), "vocab": self.vocab.to_dict(),
            "tokenizer": self.tokenizer_name, "labels": list(self.labels), "max_length": self.max_length,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        section = checkpoint.get("seqkit") or {}
        if section.get("task") != self.task_name:
            raise CheckpointError(f"a checkpoint of the {section.get('task')!r} task cannot load into {self.task_name!r}")
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

    def _step(self, batch, stage: str) -> Tensor:
        logits = self(batch.tokens, batch.lengths)
        loss = F.cross_entropy(logits, batch.labels, weight=getattr(self, "loss_weight", None))
        if stage == "train":
            self.log("train/loss", loss, prog_bar=True)
            return loss
        self.metrics[f"{stage}_loss"].update(loss.detach(), batch.labels.numel())  # the mean over every text
        for name in ("loss", "acc", "f1"):
            metric = self.metrics[f"{stage}_{name}"]
            if name != "loss":
                metric.update(logits, batch.labels)
            self.log(f"{stage}/{name}", metric, prog_bar=stage == "val" and name != "loss")
        if stage == "test":
            self.confusion.update(logits, batch.labels)
        return loss

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_start(self) -> None:
        self.confusion.reset()

    def on_test_epoch_end(self) -> None:
        matrix = self.confusion.compute().cpu()  # rows: true label, columns: predicted
        # trainer.log_dir is a broadcast from process 0: every process must ask, or process 0 waits forever.
        folder = Path(self.trainer.log_dir or self.trainer.default_root_dir)
        if self.trainer.global_rank != 0:
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "confusion_matrix.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["true \\ predicted", *self.labels])
            for label, row in zip(self.labels, matrix.tolist()):
                writer.writerow([label, *row])
        written = [path]
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        figure, axes = plt.subplots(figsize=(1.2 * len(self.labels) + 2, 1.2 * len(self.labels) + 1.5))
        axes.imshow(matrix.numpy(), cmap="Blues")
        axes.set_xticks(range(len(self.labels)), self.labels)
        axes.set_yticks(range(len(self.labels)), self.labels)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        for (i, j), value in zip(((i, j) for i in range(len(matrix)) for j in range(len(matrix))), matrix.flatten().tolist()):
            axes.text(j, i, str(value), ha="center", va="center")
        figure.tight_layout()
        figure.savefig(folder / "confusion_matrix.png", dpi=100)
        plt.close(figure)
        written.append(folder / "confusion_matrix.png")
        say("seqkit: confusion matrix written to " + ", ".join(map(str, written)))

    def _body(self) -> list[nn.Parameter]:
        """The embedding's and the encoder's parameters that train at all (the pretrained part in transfer)."""
        frozen = self.hparams.freeze_embeddings or self.embedding is None
        embedding = [] if frozen else list(self.embedding.parameters())
        return embedding + list(self.encoder.parameters())

    def configure_optimizers(self):
        body = {id(p) for p in self._body()}
        head = [p for p in self.parameters() if p.requires_grad and id(p) not in body]
        # Discriminative rates: the body's group learns at body_lr_scale times the optimizer's lr.
        scale = self.hparams.body_lr_scale
        return configure(self, [{"params": head}, {"params": self._body(), "lr_scale": scale}])

    def on_train_start(self) -> None:
        # A run resumed mid-epoch does not call on_train_epoch_start: freeze as the epoch it resumes in needs.
        self._freeze_body(self.current_epoch < self.hparams.freeze_body_epochs)

    def _freeze_body(self, frozen: bool) -> None:
        # A frozen parameter gets no gradient, and the optimizer skips parameters without one.
        for parameter in self._body():
            parameter.requires_grad_(not frozen)

    def on_train_epoch_start(self) -> None:
        self._freeze_body(self.current_epoch < self.hparams.freeze_body_epochs)
        if self.hparams.freeze_body_epochs and self.current_epoch == self.hparams.freeze_body_epochs:
            say(f"seqkit: epoch {self.current_epoch}: the embedding and the encoder now train too")

    def configure_callbacks(self):
        return best_and_last_checkpoints(self, "val/acc", "max", ".4f")

    # ------------------------------------------------------------------ using the model

    def encode(self, texts: list[str]) -> list[Tensor]:
        """Token ids of each text with the trained vocabulary (an empty text becomes one `<unk>`)."""
        tokenize = get_tokenizer(self.tokenizer_name)
        unknown = self.vocab.get_default_index()
        ids = []
        for text in texts:
            tokens = self.vocab.lookup_indices(tokenize(text if isinstance(text, str) else ""))[: self.max_length]
            ids.append(torch.tensor(tokens or [unknown], dtype=torch.long))
        return ids

    @torch.no_grad()
    def predict_frame(self, table: pd.DataFrame, text_column: str = "text", source: object = "the table",
                      option: str = "--data.text_column") -> pd.DataFrame:
        """`table` with each text's `predicted_label` and a `probability_<label>` column per label added.

        Empty texts (or texts with no token) get a label like any other (the model's answer
        to nothing), and a warning that counts them, since training skips such rows.

        Raises:
            DataError: `table` has no `text_column`.
        """
        if text_column not in table.columns:
            raise DataError(f"{source} has no column {text_column!r}; its columns are {list(table.columns)} "
                            f"(set {option})")
        texts = table[text_column].fillna("").astype(str).tolist()
        tokenize = get_tokenizer(self.tokenizer_name)
        empty = [i for i, text in enumerate(texts) if not tokenize(text)]
        if empty:
            rank_zero_warn(f"{source}: {len(empty)} of {len(texts)} texts are empty or have no token (rows "
                           f"{', '.join(str(i + 1) for i in empty[:5])}{', ...' if len(empty) > 5 else ''}); "
                           "their labels say nothing about them")
        results = self.predict(texts)
        table = table.copy()
        table["predicted_label"] = [r["label"] for r in results]
        for label in self.labels:
            table[f"probability_{label}"] = [r["probabilities"][label] for r in results]
        return table

    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: the labels of the texts in the DataModule's `predict_path`."""
        from seqkit.data.sentiment import read_table_of_texts

        path = getattr(datamodule, "predict_path", None)
        if path is None:
            raise DataError("seqkit predict needs the texts to label: --data.predict_path FILE (CSV, TSV or JSON "
                            "Lines, texts in --data.text_column)")
        return self.predict_frame(read_table_of_texts(path), datamodule.text_column, source=path)

    def predict(self, texts: list[str], batch_size: int = 256) -> list[dict]:
        """For each text, `{"label": best label, "probabilities": {label: p, ...}}`."""
        self.eval()
        results = []
        pad = self.vocab[PAD] if PAD in self.vocab else 0  # any id: padded steps are never read
        for start in range(0, len(texts), batch_size):
            ids = self.encode(texts[start : start + batch_size])
            lengths = torch.tensor([len(i) for i in ids])
            tokens = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=pad)
            probabilities = torch.softmax(self(tokens.to(self.device), lengths), dim=-1).cpu()  # softmax at prediction
            for row in probabilities.tolist():
                best = max(range(len(row)), key=row.__getitem__)
                results.append({"label": self.labels[best], "probabilities": dict(zip(self.labels, row))})
        return results
