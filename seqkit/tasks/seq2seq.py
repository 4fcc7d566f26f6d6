"""Translation: a `Seq2Seq` model trained with teacher forcing, scored by exact match of what it writes.

    Seq2SeqBatch(source (B, S), source_lengths (B,), target_in (B, T), target_out (B, T))
        -> Seq2Seq(source, source_lengths, target_in) -> logits (B, T, V)
        -> cross entropy against target_out, padding ignored                    train/loss, val/loss
        -> argmax == target_out at the real target steps                        val/char_acc (teacher forced)
    source -> greedy decoding (beam search at test with beam_size > 1)
        -> the whole output equals the target, <eos> included                   val/exact, test/exact

`val/char_acc` still shows the gold previous characters to the decoder; `val/exact` does
not: the model reads its own predictions, as it will in use, and one wrong character
makes the whole output wrong. The vocabularies come from the DataModule (`DatesData`) and
travel in the checkpoint as plain data, so `Seq2SeqTask.from_checkpoint(path).translate([...])`
needs nothing else.
"""

from __future__ import annotations


import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import pandas as pd
import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric

from seqkit.protocols import TakesVocabularies
from seqkit.training import checkpoints
from seqkit.data.dates import BOS, Seq2SeqBatch
from seqkit.errors import SeqkitError
from seqkit.modules import Recurrent, Seq2Seq
from seqkit.tasks import translation
from seqkit.tasks.translation import same_outputs
from seqkit.tasks.common import (attached_datamodule, best_and_last_checkpoints, check_parts, configure, metrics_at,
                                 GivenParts, built, part, stage_metrics, with_input_size)
from seqkit.text import EOS, PAD, Vocab



class Seq2SeqTask(pl.LightningModule):
    """An encoder-decoder that translates one sequence of characters into another.

    Args:
        encoder: the recurrent module that reads the source, e.g. `seqkit.modules.LSTM(64, 128)`;
            chosen in a recipe by `class_path`. Its `input_size` is replaced by `embedding_size`.
        decoder: the recurrent module that writes the target (unidirectional; the encoder's
            `hidden_size` and `num_layers`). Its `input_size` is replaced by `embedding_size`.
        embedding_size: features of each character's embedding (source and target).
        attention: Luong dot attention over the encoder outputs (see `seqkit.modules.seq2seq`).
        optimizer: the optimizer class and its arguments, as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.Adam, init_args: {lr: 0.003}}`); default Adam.
        lr_scheduler: likewise, or None: stepped once per epoch.
        beam_size: the beam of `test/exact` and of `translate` (1: greedy). Validation always
            decodes greedily, which is faster and what the best checkpoint is chosen by.
        max_length: the most tokens a decoded output may have, `<eos>` included.

    Gradient clipping is the Trainer's (`gradient_clip_val` in the recipe).
    """

    task_name = "seq2seq"

    def __init__(self, encoder: Recurrent, decoder: Recurrent, embedding_size: int = 64, attention: bool = True,
                 optimizer: OptimizerCallable = torch.optim.Adam, lr_scheduler: LRSchedulerCallable | None = None,
                 beam_size: int = 1,
                 max_length: int = 40) -> None:
        super().__init__()
        check_parts(encoder=encoder, decoder=decoder)
        for name, value in (("embedding_size", embedding_size), ("beam_size", beam_size), ("max_length", max_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SeqkitError(f"{name} must be a positive integer, got {value!r}")
        self.save_hyperparameters(ignore=["encoder", "decoder", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.model: Seq2Seq | GivenParts = GivenParts({"encoder": encoder, "decoder": decoder})  # sized by the vocabularies, built in configure_model
        self.source_vocab: Vocab | None = None
        self.target_vocab: Vocab | None = None

    parts = ("encoder", "decoder")  # its recurrent modules, built from the checkpoint (seqkit.training.checkpoints)
    encoder = part("encoder")
    decoder = part("decoder")

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        if built(self):
            return
        datamodule = attached_datamodule(self)
        if getattr(datamodule, "source_vocab", None) is None:
            raise SeqkitError("Seq2SeqTask needs its vocabularies: train it with a DatesData DataModule "
                              "(seqkit.data) or load a checkpoint")
        self.source_vocab, self.target_vocab = datamodule.source_vocab, datamodule.target_vocab
        self._build_layers()

    def _build_layers(self) -> None:
        size = self.hparams.embedding_size
        # The recurrent parts read embeddings: the task, not the recipe, knows their size.
        encoder, decoder = (with_input_size(part, size) for part in (self.encoder, self.decoder))
        target = self.target_vocab
        try:
            self.model = Seq2Seq(encoder, decoder, len(self.source_vocab), len(target), size,
                                 bos_index=target[BOS], eos_index=target[EOS], pad_index=target[PAD],
                                 attention=self.hparams.attention)
        except ValueError as error:
            raise SeqkitError(str(error)) from None
        if self.source_vocab[PAD] != target[PAD]:
            raise SeqkitError("the source and target vocabularies must put <pad> at the same index")
        self.val_metrics, self.test_metrics = (stage_metrics(stage, exact=MeanMetric, char_acc=MeanMetric, loss=MeanMetric)
                                               for stage in ("val", "test"))

    def _adopt(self, section: dict) -> None:
        self.source_vocab = Vocab.from_dict(section["source_vocab"], source="the checkpoint's source vocabulary")
        self.target_vocab = Vocab.from_dict(section["target_vocab"], source="the checkpoint's target vocabulary")

    # A trained model in eval mode, from a .ckpt file or a run folder: from_checkpoint(path, map_location="cpu").
    # load_from_checkpoint is Lightning's name for the same; one implementation, checkpoints.restore.
    from_checkpoint = classmethod(checkpoints.restore)
    load_from_checkpoint = classmethod(checkpoints.lightning_loader)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = checkpoints.section(self, source_vocab=self.source_vocab.to_dict(),
                                                   target_vocab=self.target_vocab.to_dict())

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        section = checkpoints.section_of(self, checkpoint)
        saved = [Vocab.from_dict(section[key]).get_itos() for key in ("source_vocab", "target_vocab")]
        if not built(self) or saved != [self.source_vocab.get_itos(), self.target_vocab.get_itos()]:
            # Other data built other vocabularies: the checkpoint's win, and the data encodes with them.
            device = self.device
            self._adopt(section)
            self._build_layers()
            self.to(device)
            datamodule = attached_datamodule(self)
            if isinstance(datamodule, TakesVocabularies):
                datamodule.use_vocabs(self.source_vocab, self.target_vocab)

    # ------------------------------------------------------------------ training and evaluation

    def forward(self, source: Tensor, source_lengths: Tensor, target_in: Tensor) -> Tensor:
        """Teacher-forced logits `(B, T, V)`; see `Seq2Seq.forward`."""
        return self.model(source, source_lengths, target_in)

    def _step(self, batch: Seq2SeqBatch, stage: str, batch_idx: int) -> Tensor:
        logits = self(batch.source, batch.source_lengths, batch.target_in)          # (B, T, V)
        pad = self.model.pad_index
        loss = F.cross_entropy(logits.flatten(0, 1), batch.target_out.flatten(), ignore_index=pad)
        size = batch.source.size(0)
        if stage == "train":
            self.log("train/loss", loss, prog_bar=True, batch_size=size)
            return loss
        metrics = metrics_at(self, stage, batch_idx)
        metrics["loss"].update(loss.detach(), size)
        real = batch.target_out != pad                                              # (B, T)
        metrics["char_acc"].update((logits.argmax(-1) == batch.target_out)[real].float())
        beam = 1 if stage == "val" else self.hparams.beam_size
        predicted = self.decode(batch.source, batch.source_lengths, beam)           # (B, T')
        metrics["exact"].update(same_outputs(predicted, batch.target_out, pad).float())
        self.log_dict(metrics, prog_bar=stage == "val")
        return loss

    def training_step(self, batch: Seq2SeqBatch, batch_idx: int) -> Tensor:
        return self._step(batch, "train", batch_idx)

    def validation_step(self, batch: Seq2SeqBatch, batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch: Seq2SeqBatch, batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def configure_optimizers(self):
        return configure(self, self.parameters())

    def configure_callbacks(self):
        return best_and_last_checkpoints(self, "val/exact", "max", ".4f")

    # ------------------------------------------------------------------ use

    def decode(self, source: Tensor, source_lengths: Tensor, beam_size: int | None = None) -> Tensor:
        """Token ids `(B, T)` of the outputs (greedy when the beam is 1), laid out as `Seq2Seq.greedy`'s."""
        beam = beam_size or self.hparams.beam_size
        if beam == 1:
            return self.model.greedy(source, source_lengths, self.hparams.max_length)
        return self.model.beam_search(source, source_lengths, beam, self.hparams.max_length)

    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: every line of the DataModule's `predict_path` (else its test split) and its translation."""
        return translation.predict_from(self, datamodule)

    def translate(self, texts: list[str], beam_size: int | None = None, batch_size: int = 256) -> list[str]:
        """Translate each text (e.g. `["3 march 2021"]` -> `["2021-03-03"]`); see `seqkit.tasks.translation`."""
        return translation.translate(self, texts, beam_size, batch_size)
