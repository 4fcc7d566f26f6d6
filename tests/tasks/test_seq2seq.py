"""Seq2SeqTask: learns to write dates in ISO form, scores whole outputs, checkpoints round-trip, translates."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from seqkit.data import DatesData
from seqkit.data.dates import SPECIALS
from seqkit.errors import CheckpointError, SeqkitError
from seqkit.modules import GRU, LSTM, RNN
from seqkit.tasks import MemoryTask, Seq2SeqTask
from seqkit.tasks.translation import same_outputs


def trainer(root: Path, **options) -> pl.Trainer:
    settings = {"enable_checkpointing": False, **options}
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      logger=False, **settings)


def small_data(**options) -> DatesData:
    return DatesData(**{"train_size": 64, "val_size": 32, "test_size": 32, "batch_size": 16, **options})


@pytest.fixture(scope="module")
def dates_run(tmp_path_factory):
    """A small LSTM encoder-decoder trained for two short epochs (a few seconds), with its checkpoints."""
    pl.seed_everything(0, verbose=False)
    root = tmp_path_factory.mktemp("dates")
    data = DatesData(train_size=2400, val_size=200, test_size=200, batch_size=32, eval_batch_size=200)
    task = Seq2SeqTask(LSTM(8, 64), LSTM(8, 64), embedding_size=32, optimizer=partial(torch.optim.Adam, lr=0.01))
    run = trainer(root, max_epochs=2, gradient_clip_val=1.0, enable_checkpointing=True)
    run.fit(task, data)
    return task, data, run, root, {name: value.item() for name, value in run.callback_metrics.items()}


def test_it_learns_to_write_unseen_days_in_iso_form(dates_run):
    task, data, run, _, metrics = dates_run
    assert {"train/loss", "val/loss", "val/char_acc", "val/exact"} <= set(metrics)
    assert metrics["val/char_acc"] > 0.9
    assert metrics["val/exact"] > 0.7  # whole outputs right, read from its own predictions
    assert metrics["val/exact"] <= metrics["val/char_acc"]
    tested = run.test(task, data, verbose=False)[0]
    assert set(tested) == {"test/loss", "test/char_acc", "test/exact"} and tested["test/exact"] > 0.5
    # The encoder and decoder read embeddings: their input_size came from embedding_size.
    assert task.encoder.input_size == task.decoder.input_size == 32 and task.model.attention


def test_val_exact_is_the_share_of_greedy_outputs_that_equal_the_target(dates_run):
    task, data, _, _, metrics = dates_run
    task.eval()
    pairs = data.splits["val"].pairs
    translated = task.translate([source for source, _ in pairs], batch_size=64)
    share = sum(out == target for out, (_, target) in zip(translated, pairs)) / len(pairs)
    assert share == pytest.approx(metrics["val/exact"], abs=1e-6)
    assert task.translate(["3 march 2021"]) == task.translate(["3 march 2021"], beam_size=1)
    assert len(task.translate(["", "日本 ?"])) == 2  # unknown characters and empty texts are read as <unk>


def test_the_checkpoint_carries_plain_data_and_rebuilds_the_model(dates_run):
    task, data, _, root, _ = dates_run
    path = next(root.rglob("last.ckpt"))
    assert any(root.rglob("best-*.ckpt"))  # chosen by val/exact
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    section = checkpoint["seqkit"]
    assert section["task"] == "seq2seq" and section["format"] == 1
    assert section["encoder"]["class_path"] == section["decoder"]["class_path"] == "seqkit.modules.lstm.LSTM"
    assert section["encoder"]["init_args"]["input_size"] == 32 and section["decoder"]["init_args"]["hidden_size"] == 64
    assert section["source_vocab"]["itos"] == data.source_vocab.get_itos()
    assert section["target_vocab"]["itos"][:4] == SPECIALS
    assert not any(key.startswith(("encoder.", "decoder.")) for key in checkpoint["state_dict"])  # each weight once
    loaded = Seq2SeqTask.from_checkpoint(path)
    assert not loaded.training and loaded.hparams.embedding_size == 32
    batch = next(iter(data.test_dataloader()))
    task.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(*batch[:3]), task(*batch[:3]), atol=1e-6)
    sources = [source for source, _ in data.splits["test"].pairs[:20]]
    assert loaded.translate(sources) == task.translate(sources)
    assert loaded.translate(sources, beam_size=3) == task.translate(sources, beam_size=3)


def test_testing_a_checkpoint_on_other_data_keeps_the_checkpoints_vocabularies(dates_run, tmp_path):
    task, data, _, root, _ = dates_run
    path = next(root.rglob("last.ckpt"))
    other = small_data(train_size=8, seed=5)  # 8 training examples: a smaller character set
    fresh = Seq2SeqTask(LSTM(8, 64), LSTM(8, 64), embedding_size=32, beam_size=2)
    tested = trainer(tmp_path).test(fresh, other, ckpt_path=path, verbose=False)[0]
    assert fresh.source_vocab == data.source_vocab and other.source_vocab == data.source_vocab
    assert tested["test/exact"] > 0.3
    # A checkpoint of another task is refused with the reason.
    memory = MemoryTask(LSTM(2, 8))
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    with pytest.raises(CheckpointError, match="'seq2seq' task cannot load into 'memory'"):
        memory.on_load_checkpoint(checkpoint)
    with pytest.raises(CheckpointError, match="needs a 'seq2seq' checkpoint"):
        Seq2SeqTask.from_checkpoint(_memory_checkpoint(tmp_path))


def _memory_checkpoint(root: Path) -> Path:
    from seqkit.data import AddingData

    run = trainer(root / "memory", max_epochs=1, limit_train_batches=1, limit_val_batches=1, enable_checkpointing=True)
    run.fit(MemoryTask(LSTM(2, 4)), AddingData(length=4, train_size=8, val_size=8, test_size=8, batch_size=8))
    return next((root / "memory").rglob("last.ckpt"))


@pytest.mark.parametrize("encoder, decoder", [(GRU(8, 16, bidirectional=True, num_layers=2), RNN(8, 16, num_layers=2)),
                                              (RNN(8, 16), LSTM(8, 16))])
def test_other_cells_deep_and_bidirectional_encoders_train_without_attention(encoder, decoder, tmp_path):
    task = Seq2SeqTask(encoder, decoder, embedding_size=12, attention=False, beam_size=2,
                       max_length=12, optimizer=partial(torch.optim.AdamW))
    run = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    run.fit(task, small_data())
    assert task.model.combine is None and task.encoder.input_size == 12 and isinstance(task.decoder, type(decoder))
    assert isinstance(task.optimizers().optimizer, torch.optim.AdamW)
    assert run.callback_metrics["val/loss"].isfinite()
    tested = run.test(task, small_data(), verbose=False)[0]
    assert 0 <= tested["test/exact"] <= 1


def test_same_outputs_compares_whole_outputs_of_any_width():
    pad, eos = 0, 3
    predicted = torch.tensor([[5, 6, eos], [5, 7, eos], [5, 6, 6]])
    target = torch.tensor([[5, 6, eos, pad], [5, 6, eos, pad], [5, 6, eos, pad]])
    assert same_outputs(predicted, target, pad).tolist() == [True, False, False]
    assert same_outputs(torch.tensor([[5, eos, pad, pad, pad]]), torch.tensor([[5, eos]]), pad).tolist() == [True]


def test_bad_arguments_and_missing_data_are_named():
    with pytest.raises(SeqkitError, match="decoder must be a seqkit recurrent module"):
        Seq2SeqTask(LSTM(8, 16), torch.nn.LSTM(8, 16))
    with pytest.raises(SeqkitError, match="beam_size must be a positive integer"):
        Seq2SeqTask(LSTM(8, 16), LSTM(8, 16), beam_size=0)
    with pytest.raises(SeqkitError, match="DatesData"):
        Seq2SeqTask(LSTM(8, 16), LSTM(8, 16)).configure_model()
    task = Seq2SeqTask(LSTM(8, 16), LSTM(8, 32))
    data = small_data()
    data.setup()
    task.source_vocab, task.target_vocab = data.source_vocab, data.target_vocab
    with pytest.raises(SeqkitError, match="same hidden_size and num_layers"):
        task._build_layers()
