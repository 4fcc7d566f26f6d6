"""NextWordTask: truncated BPTT, perplexity over tokens, checkpoints, prediction and generation."""

from __future__ import annotations

from functools import partial
import contextlib
import io
import math
import os
import pickle
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from seqkit.training import checkpoints
from seqkit.data.next_word import LMBatch, NextWordData
from seqkit.errors import CheckpointError, SeqkitError
from seqkit.modules import LSTM, RNN
from seqkit.tasks.common import StepDecay
from seqkit.tasks.next_word import NextWordTask

SENTENCES = ["the cat sat on the mat", "the dog sat on the log", "a bird sang in the tree", "the cat saw the bird"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "train.txt"
    path.write_text("".join(SENTENCES[i % 4] + "\n" for i in range(400)))
    return path


def _data(corpus: Path, **kwargs) -> NextWordData:
    return NextWordData(train_path=str(corpus), batch_size=kwargs.pop("batch_size", 4), eval_batch_size=2, bptt=6, **kwargs)


def _task(vocab, cell=LSTM, **kwargs) -> NextWordTask:
    task = NextWordTask(cell(16, 16), **kwargs)
    task.vocab = vocab
    task.configure_model()
    return task


def _trainer(root: Path, **kwargs) -> pl.Trainer:
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      logger=False, **kwargs)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> tuple[NextWordTask, Path, float]:
    """A small LSTM trained for a few epochs on the toy corpus; its last checkpoint; the untrained val ppl."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("run")
    data = _data(corpus)
    task = NextWordTask(LSTM(16, 16), tie_weights=True, optimizer=partial(torch.optim.AdamW, lr=0.02))
    trainer = _trainer(root, max_epochs=4)
    before = trainer.validate(task, datamodule=data, verbose=False)[0]["val/ppl"]
    trainer.fit(task, datamodule=data)
    return task, Path(trainer.checkpoint_callback.last_model_path), before


def test_the_state_entering_batch_k_plus_1_is_the_state_leaving_batch_k(corpus):
    data = _data(corpus)
    data.setup("fit")
    batches = iter(data.train_dataloader())
    first, second = next(batches), next(batches)
    for carry in (True, False):
        torch.manual_seed(0)
        task = _task(data.vocab, carry_state=carry)
        seen = []
        task.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[1]))
        task._step(first, "train", 0)
        leaving = task.carried.states["train"]
        task._step(second, "train", 1)
        if carry:
            assert seen[0] is None  # an epoch starts from zeros
            for entering, left in zip(seen[1], leaving):
                assert torch.equal(entering, left) and not entering.requires_grad  # same values, cut from the graph
        else:
            assert seen == [None, None]
        task._step(second, "train", 0)  # the next epoch's first batch
        assert seen[-1] is None


def test_perplexity_is_over_all_tokens_not_a_mean_of_batches(corpus):
    data = _data(corpus)
    data.setup("fit")
    task = _task(data.vocab)
    stream = data.tokens["val"][:40].view(2, 20)
    windows = [LMBatch(stream[:, :12], stream[:, 1:13]), LMBatch(stream[:, 13:15], stream[:, 14:16])]  # 24 and 4 tokens
    losses = [(task._step(batch, "val", i).item(), batch.targets.numel()) for i, batch in enumerate(windows)]
    expected = math.exp(sum(l * n for l, n in losses) / sum(n for _, n in losses))
    assert task.val_metrics["ppl"].compute().item() == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(sum(math.exp(l) for l, _ in losses) / len(losses), rel=1e-3)


def test_training_lowers_perplexity_and_checkpoints_are_plain_data(trained):
    task, last, before = trained
    after = task.trainer.callback_metrics["val/ppl"].item()
    assert after < 0.5 * before
    raw = torch.load(last, map_location="cpu", weights_only=True)  # no code, no pickled objects
    section = raw["seqkit"]
    assert section["task"] == "next_word" and section["tokenizer"] == "basic_english"
    assert section["encoder"]["class_path"] == "seqkit.modules.lstm.LSTM"
    assert section["vocab"]["itos"][:2] == ["<unk>", "<eos>"]


def test_a_checkpoint_round_trips_and_predicts(trained):
    task, last, _ = trained
    loaded = NextWordTask.from_checkpoint(last)
    tokens = torch.tensor([[2, 3, 4, 5]])
    task.eval()
    torch.testing.assert_close(loaded(tokens)[0], task(tokens)[0])
    suggestions = loaded.predict_next("the cat sat on the", k=3)
    assert len(suggestions) == 3
    assert suggestions[0][0] in {"mat", "log"}  # what the corpus says comes next
    probabilities = [p for _, p in suggestions]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0
    one = loaded.generate("the cat", max_new_tokens=12, seed=3)
    assert one == loaded.generate("the cat", max_new_tokens=12, seed=3)
    assert len(one.split()) + one.count("\n") == 12  # twelve tokens; each <eos> shown as a line break
    with pytest.raises(SeqkitError, match="temperature must be a positive number"):
        loaded.generate("the cat", temperature=0)


def test_fine_tuning_keeps_the_vocabulary_and_reports_out_of_vocabulary(trained, tmp_path):
    task, last, _ = trained
    mine = tmp_path / "mine.txt"
    mine.write_text("the zebra sat on the mat\n" * 100)
    data = _data(mine)
    fresh = NextWordTask(LSTM(16, 16), tie_weights=True, optimizer=partial(torch.optim.AdamW, lr=0.01))
    fresh.init_from_checkpoint(last, data)
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=3, limit_val_batches=2)
    trainer.fit(fresh, datamodule=data)
    assert fresh.vocab.get_itos() == task.vocab.get_itos()
    assert "zebra" not in fresh.vocab
    assert data.oov_rate == pytest.approx(1 / 7, abs=0.01)  # one word in seven (with <eos>) is new




def test_a_compact_copy_keeps_the_model_in_half_the_space(trained, tmp_path):
    task, last, _ = trained
    copy = tmp_path / "compact.ckpt"
    size = checkpoints.compact(last, copy)
    raw = torch.load(copy, weights_only=True)
    assert set(raw) == {"seqkit", "hyper_parameters", "state_dict"}  # no optimizer or loop state
    weights = raw["state_dict"]
    assert weights["model.embedding.weight"].dtype == torch.float16
    assert weights["model.embedding.weight"].data_ptr() == weights["model.head.proj.weight"].data_ptr()  # tied stays tied
    full = sum(v.numel() * 4 for k, v in task.state_dict().items() if k != "model.head.proj.weight")
    assert size < 0.5 * full + 20_000  # half-precision weights, stored once, plus the vocabulary
    loaded = NextWordTask.from_checkpoint(copy)
    tokens = torch.tensor([[2, 3, 4, 5]])
    task.eval()
    torch.testing.assert_close(loaded(tokens)[0], task(tokens)[0], atol=2e-2, rtol=2e-2)
    assert loaded.predict_next("the cat sat on the", k=1)[0][0] == task.predict_next("the cat sat on the", k=1)[0][0]
    with pytest.raises(CheckpointError, match="already exists; choose a new name"):
        checkpoints.compact(last, copy)

@pytest.fixture(scope="module")
def backward(trained, corpus, tmp_path_factory) -> tuple[NextWordTask, Path, str]:
    """A backward model started from the forward one, its embedding (and tied output weights) frozen; what it said."""
    forward, last, _ = trained
    torch.manual_seed(0)
    data = _data(corpus, reverse=True)
    task = NextWordTask(LSTM(16, 16), tie_weights=True, freeze_embeddings=True, optimizer=partial(torch.optim.AdamW, lr=0.02))
    task.init_from_checkpoint(last, data)
    trainer = _trainer(tmp_path_factory.mktemp("backward"), max_epochs=4)
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        trainer.fit(task, datamodule=data)
    return task, Path(trainer.checkpoint_callback.last_model_path), said.getvalue()


def test_a_backward_model_predicts_the_word_before_and_writes_what_precedes(trained, backward):
    forward, last, _ = trained
    task, path, said = backward
    assert "--init_from a forward language model; this run reads the text backwards" in said
    assert torch.load(path, weights_only=True)["seqkit"]["reverse"] is True
    assert torch.load(last, weights_only=True)["seqkit"]["reverse"] is False
    loaded = NextWordTask.from_checkpoint(path)
    assert loaded.reverse and loaded.vocab.get_itos() == forward.vocab.get_itos()
    assert loaded.predict_next("sat on the mat", k=1)[0][0] == "cat"  # only the cat sat on the mat
    assert loaded.predict_next("sang in the tree", k=1)[0][0] == "bird"
    assert NextWordTask.from_checkpoint(last).predict_next("the cat sat on the", k=1)[0][0] in {"mat", "log"}
    text = loaded.generate("on the log", max_new_tokens=3, seed=0)
    assert text.split()[-2:] == ["dog", "sat"]  # sampled backwards from the prompt, returned in reading order


def test_frozen_embeddings_stay_while_the_rest_learns(trained, backward):
    forward, _, _ = trained
    task, _, _ = backward
    assert torch.equal(task.embedding.weight, forward.embedding.weight)
    assert task.head.proj.weight is task.embedding.weight  # tied: the output weights stay too
    assert not torch.equal(task.head.proj.bias, forward.head.proj.bias)
    assert not torch.equal(task.encoder.weight_hh_l0, forward.encoder.weight_hh_l0)


def test_seqkit_generate_says_a_backward_model_writes_what_comes_before(backward, capsys):
    from seqkit.commands import generate

    _, path, _ = backward
    assert generate.main(["--ckpt_path", str(path), "--prompt", "on the log", "--max_new_tokens", "2", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "word before 'on the log':" in out
    assert out.rstrip().endswith("on the log")

def test_refuses_a_checkpoint_whose_pickle_would_run_code(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for protocol in (2, pickle.DEFAULT_PROTOCOL):
        path = tmp_path / f"evil{protocol}.ckpt"
        with open(path, "wb") as handle:
            pickle.dump({"seqkit": {"task": "next_word"}, "state_dict": Exploit()}, handle, protocol=protocol)
        with pytest.raises(CheckpointError, match="refusing to load .* never unpickles"):
            NextWordTask.from_checkpoint(path)
        assert not marker.exists()
    torch.save({"seqkit": {"task": "next_word"}, "state_dict": Exploit()}, tmp_path / "evil.pt")  # torch's own format
    with pytest.raises(CheckpointError, match="unsupported GLOBAL posix.system"):
        NextWordTask.from_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_broken_and_foreign_checkpoints(trained, tmp_path):
    _, last, _ = trained
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        checkpoints.load(truncated)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="refusing to load .* It is corrupt"):
        checkpoints.load(garbage)
    plain = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(CheckpointError, match="not a seqkit checkpoint"):
        checkpoints.load(plain)
    other = tmp_path / "other.ckpt"
    raw = torch.load(last, weights_only=True)
    raw["seqkit"]["task"] = "sentiment"
    torch.save(raw, other)
    with pytest.raises(CheckpointError, match="checkpoint of the 'sentiment' task; this needs a 'next_word'"):
        NextWordTask.from_checkpoint(other)
    with pytest.raises(CheckpointError, match="does not exist"):
        NextWordTask.from_checkpoint(tmp_path / "absent.ckpt")


def test_constructor_errors():
    with pytest.raises(SeqkitError, match="cannot use a bidirectional encoder"):
        NextWordTask(LSTM(8, 8, bidirectional=True))
    with pytest.raises(SeqkitError, match=r"hidden_size \(16\) to equal its input_size"):
        NextWordTask(RNN(8, 16), tie_weights=True)
    with pytest.raises(SeqkitError, match="needs its vocabulary"):
        NextWordTask(LSTM(8, 8)).configure_model()


def test_zaremba_step_decay():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    decay, rates = StepDecay(optimizer, factor=0.5, start=4), []
    for _ in range(7):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        decay.step()
    assert rates == [1, 1, 1, 1, 0.5, 0.25, 0.125]  # the rate of each epoch: halved after the fourth
    with pytest.raises(SeqkitError, match="StepDecay needs 0 < factor <= 1"):
        StepDecay(optimizer, factor=4)


def test_a_plateau_schedule_steps_once_an_epoch_on_the_validation_loss(corpus, tmp_path):
    """ReduceLROnPlateau (pytorch/examples' annealing: the rate divided by 4 after an epoch that did not improve)."""
    data = _data(corpus)
    losses = []

    class Record(pl.Callback):
        def on_validation_epoch_end(self, trainer, module) -> None:
            if not trainer.sanity_checking:
                losses.append(trainer.callback_metrics["val/loss"].item())

    task = NextWordTask(LSTM(16, 16), optimizer=partial(torch.optim.SGD, lr=0.5),
                        lr_scheduler=partial(torch.optim.lr_scheduler.ReduceLROnPlateau, factor=0.25, patience=0))
    trainer = _trainer(tmp_path, max_epochs=3, limit_train_batches=2, limit_val_batches=2, callbacks=[Record()])
    trainer.fit(task, datamodule=data)
    schedule = trainer.lr_scheduler_configs[0]
    assert schedule.monitor == "val/loss" and isinstance(schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert schedule.scheduler.last_epoch == 3 and schedule.scheduler.best == pytest.approx(min(losses))
