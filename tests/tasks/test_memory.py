"""MemoryTask: sized by the data, learns a short adding problem, logs the baselines, checkpoints round-trip."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from seqkit.data import AddingData, RecallData
from seqkit.data.memory import ADDING_TRIVIAL_MSE
from seqkit.errors import CheckpointError, SeqkitError
from seqkit.modules import GRU, LSTM, RNN
from seqkit.tasks import MemoryTask
from seqkit.tasks.memory import shift_lstm_gate_biases


def trainer(root: Path, **options) -> pl.Trainer:
    settings = {"enable_checkpointing": False, **options}
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      logger=False, **settings)


def small(kind, **options):
    settings = {"length": 6, "train_size": 64, "val_size": 32, "test_size": 32, "batch_size": 16, **options}
    return kind(**settings)


@pytest.fixture(scope="module")
def adding_run(tmp_path_factory):
    """An LSTM trained on the adding problem at T = 10 (a few seconds), with its checkpoint."""
    pl.seed_everything(0, verbose=False)
    root = tmp_path_factory.mktemp("adding")
    data = AddingData(length=10, train_size=2000, val_size=500, test_size=500, batch_size=32)
    task = MemoryTask(LSTM(2, 32), optimizer=partial(torch.optim.Adam, lr=0.01))
    run = trainer(root, max_epochs=5, gradient_clip_val=1.0, enable_checkpointing=True)
    run.fit(task, data)
    return task, data, run, root


def test_an_lstm_learns_a_short_adding_problem_far_below_the_trivial_answer(adding_run):
    task, data, run, _ = adding_run
    metrics = run.callback_metrics
    assert metrics["val/baseline_mse"].item() == pytest.approx(ADDING_TRIVIAL_MSE, abs=0.03)
    assert metrics["val/mse"].item() < 0.2 * ADDING_TRIVIAL_MSE
    assert metrics["val/mse"].item() == pytest.approx(metrics["val/loss"].item(), rel=1e-4)
    tested = run.test(task, data, verbose=False)[0]
    assert tested["test/mse"] < 0.2 * tested["test/baseline_mse"]


def test_the_checkpoint_carries_plain_data_and_rebuilds_the_model(adding_run):
    task, data, _, root = adding_run
    path = next(root.rglob("last.ckpt"))
    assert any(p.name.startswith("best-") for p in root.rglob("*.ckpt"))
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    section = checkpoint["seqkit"]
    assert section["task"] == "memory" and section["encoder"]["class_path"] == "seqkit.modules.lstm.LSTM"
    assert section["encoder"]["init_args"]["input_size"] == 2 and section["encoder"]["init_args"]["hidden_size"] == 32
    assert section["shapes"] == {"kind": "regression", "input_size": 2, "n_outputs": 1}
    assert section["target_mean"] == pytest.approx(data.target_mean)
    assert section["data"] == {"class_path": "seqkit.data.memory.AddingData", "length": 10, "seed": 0}
    loaded = MemoryTask.from_checkpoint(path)
    assert loaded.hparams.forget_bias == task.hparams.forget_bias and not loaded.training
    inputs = data.splits["test"].inputs[:8]
    task.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(inputs), task(inputs), atol=1e-6)
    # A recall model cannot be loaded from an adding checkpoint: the error says what differs.
    with pytest.raises(CheckpointError, match="trained on"):
        trainer(root).validate(MemoryTask(LSTM(2, 32)), small(RecallData), ckpt_path=path, verbose=False)


def test_the_encoder_reads_the_data_width_and_recall_gets_one_logit_per_symbol(tmp_path):
    data = small(RecallData, n_symbols=5)
    task = MemoryTask(GRU(3, 8), optimizer=partial(torch.optim.RMSprop))
    run = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    run.fit(task, data)
    assert task.encoder.input_size == data.input_size == 7 and isinstance(task.encoder, GRU)
    assert task.encoder.hidden_size == 8
    assert task.head.proj.out_features == 5
    assert task(data.splits["val"].inputs[:4]).shape == (4, 5)
    metrics = run.callback_metrics
    assert {"train/loss", "val/loss", "val/acc", "val/baseline_acc"} <= set(metrics)
    assert metrics["val/baseline_acc"].item() == pytest.approx(0.2)
    assert isinstance(task.optimizers().optimizer, torch.optim.RMSprop)
    tested = run.test(task, data, verbose=False)[0]
    assert set(tested) == {"test/loss", "test/acc", "test/baseline_acc"}


def test_a_recall_model_overfits_one_batch(tmp_path):
    pl.seed_everything(0, verbose=False)
    data = small(RecallData, n_symbols=4, train_size=32, batch_size=32)
    task = MemoryTask(LSTM(6, 32), optimizer=partial(torch.optim.Adam, lr=0.01))
    data.setup()
    batch = next(iter(data.train_dataloader()))
    task.shapes = {"kind": "classification", "input_size": data.input_size, "n_outputs": 4}
    task._build_layers()
    optimizer = task.configure_optimizers()
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(task(batch.inputs), batch.target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_gate_biases_shift_the_input_and_forget_rows_of_every_lstm_layer_only():
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    shift_lstm_gate_biases(lstm, forget_bias=5.0, input_bias=-3.0)
    shift = torch.tensor([-3.0] * 4 + [5.0] * 4 + [0.0] * 8)  # rows i, f, g, o
    for name, parameter in lstm.named_parameters():
        expected = before[name] + shift if name.startswith("bias_ih") else before[name]
        assert torch.allclose(parameter, expected), name
    assert len([n for n in before if n.startswith("bias_ih")]) == 4  # both layers, both directions
    for cell in (RNN(3, 4), GRU(3, 4), LSTM(3, 4, bias=False)):
        state = {name: p.detach().clone() for name, p in cell.named_parameters()}
        shift_lstm_gate_biases(cell, forget_bias=5.0, input_bias=-3.0)
        assert all(torch.equal(p, state[name]) for name, p in cell.named_parameters())


def test_the_task_shifts_fresh_lstm_gates_once_and_a_checkpoint_keeps_its_own(tmp_path):
    data = small(RecallData, n_symbols=4)
    encoder = LSTM(6, 8)  # already the data's width, so the task keeps this very module
    b_ih = encoder.bias_ih_l0.detach().clone()
    task = MemoryTask(encoder, forget_bias=5.0, input_bias=-3.0)
    trainer(tmp_path / "validate", limit_val_batches=1).validate(task, data, verbose=False)
    assert task.encoder is encoder
    assert torch.allclose(encoder.bias_ih_l0[:16], b_ih[:16] + torch.tensor([-3.0] * 8 + [5.0] * 8))  # rows i, f
    assert torch.equal(encoder.bias_ih_l0[16:], b_ih[16:])  # rows g, o
    # The forget gate starts near sigmoid(5) = 0.993 (bias_hh adds at most 1/sqrt(8) either way).
    forget = torch.sigmoid(encoder.bias_ih_l0[8:16] + encoder.bias_hh_l0[8:16])
    assert (forget > 0.98).all()
    fitted = MemoryTask(LSTM(6, 8), forget_bias=5.0, input_bias=-3.0)
    trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1, enable_checkpointing=True).fit(fitted, data)
    trained = fitted.encoder.bias_ih_l0.detach().clone()
    path = next(tmp_path.rglob("last.ckpt"))
    assert torch.equal(MemoryTask.from_checkpoint(path).encoder.bias_ih_l0, trained)
    again = MemoryTask(LSTM(6, 8), forget_bias=5.0, input_bias=-3.0)
    trainer(tmp_path / "again").validate(again, small(RecallData, n_symbols=4), ckpt_path=path, verbose=False)
    assert torch.equal(again.encoder.bias_ih_l0, trained)  # loaded weights, not shifted a second time


@pytest.mark.parametrize("encoder", [RNN(2, 8, bidirectional=True), LSTM(2, 8, num_layers=2)])
def test_deep_and_bidirectional_encoders_answer_from_their_last_steps(encoder, tmp_path):
    task = MemoryTask(encoder, optimizer=partial(torch.optim.SGD, lr=0.1))
    run = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    run.fit(task, small(AddingData))
    assert task.head.proj.in_features == 8 * encoder.num_directions
    assert isinstance(task.optimizers().optimizer, torch.optim.SGD)
    assert run.callback_metrics["val/mse"].isfinite()


def test_bad_arguments_and_missing_data_are_named():
    with pytest.raises(SeqkitError, match="seqkit recurrent module"):
        MemoryTask(torch.nn.LSTM(2, 8))
    with pytest.raises(SeqkitError, match="--model.init_args.optimizer: Invalid learning rate: -1"):
        MemoryTask(LSTM(2, 8), optimizer=partial(torch.optim.Adam, lr=-1.0)).configure_optimizers()
    with pytest.raises(SeqkitError, match="AddingData or RecallData"):
        MemoryTask(LSTM(2, 8)).configure_model()
