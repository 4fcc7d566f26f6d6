"""Next-word prediction: a recurrent language model (`seqkit.models.RecurrentLM`), trained by truncated BPTT.

The hidden state is carried from one batch to the next (the DataModule makes batch k+1
continue batch k, stream by stream) and detached at every batch boundary: the forward
pass sees the whole history, the backward pass stops after `bptt` steps. Lightning 2
dropped `truncated_bptt_steps`, so this task owns it (`seqkit.tasks.streams`). Scored by
perplexity over all tokens.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MeanMetric

from seqkit.protocols import ReadsDirection, TakesVocabulary
from seqkit.training import checkpoints
from seqkit.data.next_word import LMBatch
from seqkit.errors import SeqkitError
from seqkit.tasks import language
from seqkit.tasks.streams import CarriedState, Perplexity
from seqkit.tasks.common import (attached_datamodule, best_and_last_checkpoints, check_numbers, check_parts,
                                 configure, metrics_at, GivenParts, built, part, say, stage_metrics)
from seqkit.models import RecurrentLM
from seqkit.modules import Recurrent
from seqkit.text import UNK, Vocab


class NextWordTask(pl.LightningModule):
    """A recurrent language model (the pytorch/examples word_language_model design).

    Args:
        encoder: the recurrent module, e.g. `seqkit.modules.LSTM(input_size=200,
            hidden_size=200, num_layers=2, dropout=0.5)`; chosen in a recipe by
            `class_path`. Its `input_size` is the embedding size.
        dropout: dropout on the embeddings and on the encoder's output.
        tie_weights: share the embedding matrix with the output layer (needs the
            encoder's hidden size to equal its input size).
        init_range: if set, every parameter starts from U(-init_range, init_range)
            (Zaremba et al. use 0.1); otherwise torch's default initialisation.
        optimizer, lr_scheduler: classes and arguments as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.SGD, init_args: {lr: 20}}`; in Python,
            `functools.partial(torch.optim.SGD, lr=20)`); default plain SGD and no schedule.
            `seqkit.tasks.StepDecay` is Zaremba et al.'s decay of the rate once per epoch.
        carry_state: carry the hidden state across batches (truncated BPTT). False
            starts every batch from zeros, which is worse; it is there to show why.
        freeze_embeddings: keep the embedding fixed (with `tie_weights`, the output
            layer's weights too; its bias still learns). A backward model trained with
            `--init_from` a forward one and this set reads the forward one's word
            vectors, so one classifier embedding can serve both directions.

    The direction comes from the data: `NextWordData(reverse=True)` trains a backward model
    (it predicts the word before), and the checkpoint records it. Gradient-norm clipping is
    the Trainer's: `trainer.gradient_clip_val` in the recipe.
    """

    task_name = "next_word"

    def __init__(
        self,
        encoder: Recurrent,
        dropout: float = 0.2,
        tie_weights: bool = False,
        init_range: float | None = None,
        optimizer: OptimizerCallable = torch.optim.SGD,
        lr_scheduler: LRSchedulerCallable | None = None,
        carry_state: bool = True,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        check_parts(encoder=encoder)
        if encoder.bidirectional:
            raise SeqkitError("a language model cannot use a bidirectional encoder: the reverse pass would read the word it must predict")
        if tie_weights and encoder.hidden_size != encoder.input_size:
            raise SeqkitError(
                f"tie_weights needs the encoder's hidden_size ({encoder.hidden_size}) to equal its input_size "
                f"(the embedding size, {encoder.input_size})"
            )
        check_numbers(dropout=dropout)
        self.save_hyperparameters(ignore=["encoder", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.model: RecurrentLM | GivenParts = GivenParts({"encoder": encoder})  # sized by the vocabulary, built in configure_model
        self.vocab: Vocab | None = None
        self.tokenizer_name = "basic_english"
        self.reverse = False  # a backward model: reads text last word first (set by the data)
        self._init_from: dict | None = None
        self.carried = CarriedState()  # the hidden state each stage carries into its next batch
        # train/loss is each batch's, logged as it comes; evaluation also logs the mean loss per token.
        self.train_metrics = stage_metrics("train", ppl=Perplexity)
        self.val_metrics = stage_metrics("val", ppl=Perplexity, loss=MeanMetric)
        self.test_metrics = stage_metrics("test", ppl=Perplexity, loss=MeanMetric)

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        """Build the vocabulary-sized layers once the data (or a checkpoint) has fixed the vocabulary."""
        if built(self):
            return
        datamodule = attached_datamodule(self)
        if self._init_from is not None:
            self._adopt(self._init_from["seqkit"])
        elif self.vocab is None:
            lacking = ["vocab"] if getattr(datamodule, "vocab", None) is None else []
            lacking += [name for name in ("tokenizer_name",) if not hasattr(datamodule, name)]
            if lacking:
                raise SeqkitError(f"NextWordTask needs its vocabulary: train it with a DataModule that sets "
                                  f"{' and '.join(lacking)} (seqkit.protocols.NextWordDataModule; "
                                  f"{type(datamodule).__name__} does not), or load a checkpoint")
            self.vocab, self.tokenizer_name = datamodule.vocab, datamodule.tokenizer_name
        if isinstance(datamodule, ReadsDirection):
            if self._init_from is not None and bool(datamodule.reverse) != self.reverse:
                say(f"seqkit: --init_from a {'backward' if self.reverse else 'forward'} language model; this run reads the text "
                    f"{'backwards' if datamodule.reverse else 'forwards'}: its weights are only a starting point")
            self.reverse = bool(datamodule.reverse)
        self._build_layers()
        if self._init_from is not None:
            checkpoints.load_weights(self, self._init_from["state_dict"], "--init_from checkpoint")
            self._init_from = None
        elif self.hparams.init_range is not None:
            for parameter in self.parameters():
                nn.init.uniform_(parameter, -self.hparams.init_range, self.hparams.init_range)
        self.embedding.weight.requires_grad_(not self.hparams.freeze_embeddings)

    def _build_layers(self) -> None:
        self.model = RecurrentLM(len(self.vocab), self.encoder, self.hparams.dropout, self.hparams.tie_weights)

    # The model's parts by name: task.encoder is task.model.encoder.
    encoder = part("encoder")
    embedding = part("embedding")
    head = part("head")

    def _adopt(self, section: dict) -> None:
        self.vocab = Vocab.from_dict(section["vocab"])
        self.tokenizer_name = section.get("tokenizer", self.tokenizer_name)
        self.reverse = bool(section.get("reverse", False))

    def init_from_checkpoint(self, path: str | Path, datamodule: pl.LightningDataModule | None = None) -> None:
        """Start training from the weights of `path`, keeping its vocabulary (fine-tuning).

        The DataModule numericalizes with the checkpoint's vocabulary and tokenizer, so
        words it never saw become `<unk>`; the share of such tokens is reported.
        """
        checkpoint = checkpoints.load(path, task=self.task_name)
        self._init_from = checkpoint
        if isinstance(datamodule, TakesVocabulary):
            section = checkpoint["seqkit"]
            datamodule.use_vocab(Vocab.from_dict(section["vocab"]), section.get("tokenizer"))

    # A trained model in eval mode, from a .ckpt file or a run folder: from_checkpoint(path, map_location="cpu").
    # load_from_checkpoint is Lightning's name for the same; one implementation, checkpoints.restore.
    from_checkpoint = classmethod(checkpoints.restore)
    load_from_checkpoint = classmethod(checkpoints.lightning_loader)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = checkpoints.section(self, vocab=self.vocab.to_dict(), tokenizer=self.tokenizer_name,
                                                   reverse=self.reverse)
        if getattr(self._trainer, "world_size", 1) == 1:  # where the training streams are, for a resume mid-epoch
            self.carried.save(checkpoint, self.train_metrics["ppl"])

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Resuming or testing: the checkpoint's vocabulary wins over the one built from the data."""
        section = checkpoints.section_of(self, checkpoint)
        if self.vocab is None or Vocab.from_dict(section["vocab"]).get_itos() != self.vocab.get_itos():
            self._adopt(section)
            self._build_layers()
            datamodule = attached_datamodule(self)
            if isinstance(datamodule, TakesVocabulary):
                datamodule.use_vocab(self.vocab, self.tokenizer_name)
        self.carried.restore(checkpoint, self.train_metrics["ppl"])  # resumed mid-epoch: where the streams were

    # ------------------------------------------------------------------ the model

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, object]:
        """`tokens (B, T)` -> `logits (B, T, V)` and the encoder's final state (`RecurrentLM`)."""
        return self.model(tokens, state)

    def _step(self, batch: LMBatch, stage: str, batch_idx: int) -> Tensor:
        # Carry the state over from the previous batch of this stage, cut from its graph:
        # values flow on, gradients stop here (truncated backpropagation through time).
        # Every epoch and every evaluation starts from a zero state.
        metrics = metrics_at(self, stage, batch_idx)
        logits, state = self(batch.inputs, self.carried.entering(stage, batch_idx, self.hparams.carry_state))
        self.carried.leaving(stage, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.targets.reshape(-1))
        # Weight each batch's mean by its token count: the epoch's value is the mean over all tokens.
        for metric in metrics.values():
            metric.update(loss.detach(), batch.targets.numel())
        self.log_dict(metrics, prog_bar=stage != "train", on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch: LMBatch, batch_idx: int) -> Tensor:
        loss = self._step(batch, "train", batch_idx)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: LMBatch, batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch: LMBatch, batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def on_train_start(self) -> None:
        # A state carried over from a checkpoint was loaded where it was saved; bring it to this device.
        self.carried.to(self.device)

    def configure_optimizers(self):
        return configure(self, self.parameters())

    def configure_callbacks(self):
        return best_and_last_checkpoints(self, "val/ppl", "min", ".2f")

    # ------------------------------------------------------------------ using the model

    def predict_next(self, text: str, k: int = 5, exclude: tuple[str, ...] = (UNK,)) -> list[tuple[str, float]]:
        """The `k` most likely next words after `text` (before it, for a backward model), with probabilities."""
        return language.predict_next(self, text, k, exclude)

    def generate(self, prompt: str, max_new_tokens: int = 30, temperature: float = 1.0,
                 top_k: int | None = None, seed: int | None = None) -> str:
        """Continue `prompt` by sampling one word at a time from the carried state; `<eos>` becomes a line break."""
        return language.generate(self, prompt, max_new_tokens, temperature, top_k, seed)

    def predict_frame(self, prompts: list[str], k: int = 5, max_new_tokens: int = 20, seed: int = 0) -> pd.DataFrame:
        """One row per prompt: its `k` most likely next words (`next_1`, `prob_1`, ...) and a continuation."""
        return language.predict_frame(self, prompts, k, max_new_tokens, seed)

    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: next words and a continuation for every line of the DataModule's `predict_path`."""
        return language.predict_from(self, datamodule)
