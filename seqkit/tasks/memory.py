"""Long-range memory: one answer at the end of a synthetic sequence, from a recurrent encoder.

    inputs (B, T, F) -> encoder RNN/LSTM/GRU -> output (B, T, D*H)
        -> the last step's output (B, D*H) -> one linear layer
        -> regression: one number (B,), MSE loss     (AddingData: the sum of the marked numbers)
        -> classification: logits (B, C), cross entropy (RecallData: the marked symbol)

Everything the answer needs was seen long before the last step, so the model has to
carry it in its state: the task that shows a vanilla RNN forgetting what an LSTM
remembers. Which head and loss to build comes from the DataModule (`kind`,
`input_size`, `n_classes`); validation and test log the trivial baseline beside the
model (`val/baseline_mse`: always answering the training targets' mean;
`val/baseline_acc`: guessing), so a table can show how far below it the model got.

An LSTM can start with its gates set for memory (`forget_bias`, `input_bias`): a forget
gate that keeps c_t and an input gate that writes little, so that a state carried over a
hundred steps is neither washed out nor flooded; training then opens the input gate where
the input says "remember this". A vanilla RNN has no gate to set.
"""

from __future__ import annotations


import lightning.pytorch as pl
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
import pandas as pd
import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric, MeanSquaredError
from torchmetrics.classification import MulticlassAccuracy

from seqkit.training import checkpoints
from seqkit.data.memory import MemoryBatch
from seqkit.errors import CheckpointError, SeqkitError
from seqkit.models.readout import RecurrentReadout
from seqkit.modules import LSTM, Recurrent
from seqkit.tasks.common import (attached_datamodule, best_and_last_checkpoints, check_parts, configure, metrics_at,
                                 GivenParts, built, part, stage_metrics, with_input_size)

KINDS = ("regression", "classification")


def shift_lstm_gate_biases(encoder: Recurrent, forget_bias: float = 0.0, input_bias: float = 0.0) -> None:
    """Add `forget_bias` to every forget-gate bias b_f and `input_bias` to every input-gate bias b_i of an LSTM, in place.

    torch's LSTM stacks the gates i, f, g, o, H rows each, and a gate's bias is
    `bias_ih + bias_hh`: shifting the rows of `bias_ih` shifts the gate. At torch's
    initialisation both gates sit near sigmoid(0) = 0.5, so c_t halves at every step and
    takes in half of every input. A forget bias of 5 keeps sigmoid(5) = 99.3% of c_t per
    step (half of it after 100 steps); an input bias of -3 writes sigmoid(-3) = 5% of an
    input until training learns when to write more. Every layer and direction is shifted.
    Other cells (RNN, GRU, an LSTM without biases) are left unchanged, so one recipe can
    be run with each cell.
    """
    if not isinstance(encoder, LSTM) or not encoder.bias or (forget_bias == 0 and input_bias == 0):
        return
    hidden = encoder.hidden_size
    with torch.no_grad():
        for name, bias in encoder.named_parameters():
            if name.startswith("bias_ih"):  # (4H,): [b_i, b_f, b_g, b_o]
                bias[:hidden] += input_bias
                bias[hidden : 2 * hidden] += forget_bias


class MemoryTask(pl.LightningModule):
    """A recurrent model that answers once, at the last step, on a synthetic memory task.

    Args:
        encoder: the recurrent module, e.g. `seqkit.modules.LSTM(input_size=2, hidden_size=128)`;
            chosen in a recipe by `class_path`. Its `input_size` is replaced by the data's.
        optimizer: the optimizer class and its arguments, as LightningCLI takes them (a recipe:
            `optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.003}}`; in Python,
            `functools.partial(torch.optim.AdamW, lr=0.003)`); default Adam (RMSprop in Le et al. 2015 and Arjovsky et al. 2016) with its defaults.
        lr_scheduler: likewise, or None: stepped once per epoch (`seqkit.tasks.StepDecay`
            multiplies the rate by a factor once per epoch after some epochs, as Zaremba et al.).
        forget_bias, input_bias: added to an LSTM's forget-gate and input-gate biases when
            the model is first built (`shift_lstm_gate_biases`; 0: torch's initialisation).
            Other cells ignore them, so `seqkit compare` can swap cells in one recipe.

    Gradient clipping, which keeps a vanilla RNN's exploding gradients from wrecking a
    step, is the Trainer's: `gradient_clip_val` in the recipes.
    """

    task_name = "memory"

    def __init__(self, encoder: Recurrent, optimizer: OptimizerCallable = torch.optim.Adam,
                 lr_scheduler: LRSchedulerCallable | None = None, forget_bias: float = 0.0,
                 input_bias: float = 0.0) -> None:
        super().__init__()
        check_parts(encoder=encoder)
        self.save_hyperparameters(ignore=["encoder", "optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.model: RecurrentReadout | GivenParts = GivenParts({"encoder": encoder})  # sized by the data, built in configure_model
        self.shapes: dict | None = None  # {"kind", "input_size", "n_outputs"}, from the data or a checkpoint
        self.target_mean: float | None = None  # regression: the training targets' mean, the trivial answer
        self.data_spec: dict | None = None  # the data it was trained on: class, length, seed (for tables)

    # ------------------------------------------------------------------ building

    def configure_model(self) -> None:
        if built(self):
            return
        if self.shapes is None:
            datamodule = attached_datamodule(self)
            kind = getattr(datamodule, "kind", None)
            if kind not in KINDS:
                raise SeqkitError("MemoryTask needs its data to size itself: train it with AddingData or RecallData "
                                  "(seqkit.data) or load a checkpoint")
            n_outputs = 1 if kind == "regression" else int(datamodule.n_classes)
            self.shapes = {"kind": kind, "input_size": int(datamodule.input_size), "n_outputs": n_outputs}
            if kind == "regression":
                self.target_mean = float(datamodule.target_mean)
            cls = type(datamodule)
            self.data_spec = {"class_path": f"{cls.__module__}.{cls.__qualname__}", "length": int(datamodule.length),
                              "seed": int(datamodule.seed)}
        self._build_layers()
        # Fresh weights only: a checkpoint's weights, loaded after this, replace them.
        shift_lstm_gate_biases(self.encoder, self.hparams.forget_bias, self.hparams.input_bias)

    def _build_layers(self) -> None:
        shapes = self.shapes
        encoder = with_input_size(self.encoder, shapes["input_size"])  # the data knows the features
        regression = shapes["kind"] == "regression"
        self.model = RecurrentReadout(encoder, shapes["n_outputs"], regression)
        # The loss and the baseline's score are means over every sequence of a split.
        score = MeanSquaredError if regression else (lambda: MulticlassAccuracy(shapes["n_outputs"], average="micro"))
        name = self.metric_name
        self.val_metrics, self.test_metrics = (stage_metrics(stage, loss=MeanMetric, **{name: score, f"baseline_{name}": MeanMetric})
                                               for stage in ("val", "test"))

    # The model's parts by name: task.encoder is task.model.encoder.
    encoder = part("encoder")
    head = part("head")

    @property
    def metric_name(self) -> str:
        """`"mse"` for regression, `"acc"` for classification."""
        return "mse" if self.shapes["kind"] == "regression" else "acc"

    # A trained model in eval mode, from a .ckpt file or a run folder: from_checkpoint(path, map_location="cpu").
    # load_from_checkpoint is Lightning's name for the same; one implementation, checkpoints.restore.
    from_checkpoint = classmethod(checkpoints.restore)
    load_from_checkpoint = classmethod(checkpoints.lightning_loader)

    def _adopt(self, section: dict) -> None:
        self.shapes = dict(section["shapes"])
        self.target_mean, self.data_spec = section.get("target_mean"), section.get("data")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["seqkit"] = checkpoints.section(self, shapes=dict(self.shapes), target_mean=self.target_mean,
                                                   data=self.data_spec)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        section = checkpoints.section_of(self, checkpoint)
        if self.shapes is None:  # built outside a Trainer: the checkpoint sizes the model
            self._adopt(section)
            self._build_layers()
        elif self.shapes != section["shapes"]:
            raise CheckpointError(f"the checkpoint was trained on {section['shapes']}, this data is {self.shapes}; "
                                  "use the data (AddingData or RecallData, --data.n_symbols) that trained it")
        self.target_mean, self.data_spec = section.get("target_mean"), section.get("data")

    # ------------------------------------------------------------------ the model

    def forward(self, inputs: Tensor) -> Tensor:
        """`inputs (B, T, F)` -> the answer: `(B,)` for regression, logits `(B, C)` for classification."""
        return self.model(inputs)  # RecurrentReadout

    @torch.no_grad()
    def predict_from(self, datamodule) -> pd.DataFrame:
        """`seqkit predict`: the answer to every sequence of the DataModule's test split, beside the right one."""
        datamodule.setup("test")
        self.eval()
        rows = []
        for batch in datamodule.test_dataloader():
            answer = self(batch.inputs.to(self.device)).cpu()
            if self.shapes["kind"] == "regression":
                rows += [{"target": t, "prediction": p} for t, p in zip(batch.target.tolist(), answer.tolist())]
            else:
                probabilities = torch.softmax(answer, dim=-1)
                best = probabilities.argmax(dim=-1)
                rows += [{"target": t, "prediction": p, "probability": q, "correct": t == p} for t, p, q in
                         zip(batch.target.tolist(), best.tolist(), probabilities.max(dim=-1).values.tolist())]
        return pd.DataFrame(rows)

    def _step(self, batch: MemoryBatch, stage: str, batch_idx: int) -> Tensor:
        answer = self(batch.inputs)
        regression = self.shapes["kind"] == "regression"
        loss = F.mse_loss(answer, batch.target) if regression else F.cross_entropy(answer, batch.target)
        size = len(batch.target)
        if stage == "train":
            self.log("train/loss", loss, prog_bar=True, batch_size=size)
            return loss
        metrics, name = metrics_at(self, stage, batch_idx), self.metric_name
        metrics["loss"].update(loss.detach(), size)
        metrics[name].update(answer, batch.target)
        if regression:  # always answering the training targets' mean, on the same sequences
            baseline = F.mse_loss(torch.full_like(batch.target, self.target_mean), batch.target)
        else:  # guessing
            baseline = 1 / self.shapes["n_outputs"]
        metrics[f"baseline_{name}"].update(baseline, size)
        self.log_dict(metrics, prog_bar=stage == "val")
        return loss

    def training_step(self, batch: MemoryBatch, batch_idx: int) -> Tensor:
        return self._step(batch, "train", batch_idx)

    def validation_step(self, batch: MemoryBatch, batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch: MemoryBatch, batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def configure_optimizers(self):
        return configure(self, self.parameters())

    def configure_callbacks(self):
        return best_and_last_checkpoints(self, "val/loss", "min", ".4f")
