"""SentimentTask: padding never changes a prediction, training works, checkpoints, fine-tuning, transfer."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData
from seqkit.errors import CheckpointError, DataError, SeqkitError
from seqkit.modules import GRU, LSTM, RNN
from seqkit.tasks.next_word import NextWordTask
from seqkit.tasks import SlantedTriangular, StepDecay
from seqkit.tasks.labelling import Averaged
from seqkit.tasks.sentiment import SentimentTask

GOOD = ["a good film", "good acting and a good story", "really good", "the story was good", "good good good fun"]
BAD = ["a bad film", "bad acting and a bad story", "really bad", "the story was bad", "bad bad bad boredom"]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
    rows = [(text, "pos") for text in GOOD] + [(text, "neg") for text in BAD]
    path.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows * 20))
    return path


def _data(path: Path, **kwargs) -> SentimentData:
    return SentimentData(train_path=str(path), batch_size=kwargs.pop("batch_size", 16), eval_batch_size=32, **kwargs)


def _trainer(root: Path, **kwargs) -> pl.Trainer:
    return pl.Trainer(default_root_dir=root, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                      logger=False, **kwargs)


@pytest.fixture(scope="module")
def trained(reviews, tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("run")
    data = _data(reviews)
    task = SentimentTask(LSTM(16, 12, bidirectional=True), pooling="max", dropout=0.1, optimizer=partial(torch.optim.AdamW, lr=0.01))
    trainer = _trainer(root, max_epochs=3)
    trainer.fit(task, datamodule=data)
    return task, Path(trainer.checkpoint_callback.last_model_path), trainer, data


def test_training_separates_the_labels(trained):
    task, _, trainer, _ = trained
    assert trainer.callback_metrics["val/acc"].item() > 0.9
    assert "val/f1" in trainer.callback_metrics
    assert task.labels == ["neg", "pos"]


@pytest.mark.parametrize("cell", [RNN, LSTM, GRU])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "concat"])
def test_a_text_alone_and_in_a_batch_of_longer_texts_gets_the_same_probabilities(trained, cell, pooling):
    _, _, _, data = trained
    torch.manual_seed(1)
    task = SentimentTask(cell(16, 8, bidirectional=True, num_layers=2), pooling=pooling)
    task.vocab, task.labels, task.tokenizer_name = data.vocab, data.labels, data.tokenizer_name
    task._build_layers()
    short = "really good"
    alone = task.predict([short])[0]["probabilities"]
    crowd = task.predict(["good acting and a good story but the film was far too long", short, "bad bad bad boredom and more"])[1]["probabilities"]
    for label in alone:
        assert alone[label] == pytest.approx(crowd[label], abs=1e-6)


def test_checkpoint_round_trip_and_prediction(trained, tmp_path):
    task, last, _, _ = trained
    raw = torch.load(last, map_location="cpu", weights_only=True)
    assert raw["seqkit"]["task"] == "sentiment" and raw["seqkit"]["labels"] == ["neg", "pos"]
    loaded = SentimentTask.from_checkpoint(last)
    results = loaded.predict(["really good", "really bad"])
    assert [r["label"] for r in results] == ["pos", "neg"]
    assert sum(results[0]["probabilities"].values()) == pytest.approx(1.0)
    with pytest.raises(CheckpointError, match="this needs a 'next_word'"):
        NextWordTask.from_checkpoint(last)


def test_test_writes_a_confusion_matrix(trained, reviews, tmp_path):
    task, _, _, _ = trained
    data = _data(reviews, test_path=str(reviews))  # any labelled file can be the test split
    metrics = _trainer(tmp_path).test(task, datamodule=data, verbose=False)[0]
    assert metrics["test/acc"] > 0.9
    lines = (tmp_path / "confusion_matrix.csv").read_text().splitlines()
    assert lines[0] == "true \\ predicted,neg,pos"
    assert sum(int(v) for line in lines[1:] for v in line.split(",")[1:]) == 200  # every test row counted once


def test_fine_tuning_with_a_new_label_set_keeps_the_encoder(trained, tmp_path):
    _, last, _, _ = trained
    stars = tmp_path / "stars.csv"
    stars.write_text("review,stars\n" + "".join(f"{t},{s}\n" for t, s in [("really good", 5), ("a bad film", 1), ("the story was good", 4)] * 20))
    data = SentimentData(train_path=str(stars), text_column="review", label_column="stars", batch_size=8)
    fresh = SentimentTask(LSTM(16, 12, bidirectional=True), optimizer=partial(torch.optim.AdamW, lr=0.0))  # lr 0: nothing moves, so we can compare
    fresh.init_from_checkpoint(last, data)
    _trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(fresh, datamodule=data)
    saved = torch.load(last, weights_only=True)["state_dict"]
    assert fresh.labels == ["1", "4", "5"] and fresh.head.proj.out_features == 3
    for name, value in fresh.encoder.state_dict().items():
        assert torch.equal(value, saved[f"model.encoder.{name}"])
    assert torch.equal(fresh.embedding.weight, saved["model.embedding.weight"])


def test_transfer_from_a_language_model(reviews, tmp_path):
    text = tmp_path / "lm.txt"
    text.write_text("".join(f"{t}\n" for t in GOOD + BAD) * 30)
    lm_data = NextWordData(train_path=str(text), batch_size=4, eval_batch_size=2, bptt=5)
    lm = NextWordTask(LSTM(16, 16), optimizer=partial(torch.optim.AdamW, lr=0.01))
    lm_trainer = _trainer(tmp_path / "lm", max_epochs=1, limit_train_batches=5, limit_val_batches=1)
    lm_trainer.fit(lm, datamodule=lm_data)
    data = _data(reviews)
    task = SentimentTask(LSTM(16, 16), optimizer=partial(torch.optim.AdamW, lr=0.0))
    task.init_from_checkpoint(lm_trainer.checkpoint_callback.last_model_path, data)
    _trainer(tmp_path / "clf", max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(task, datamodule=data)
    assert task.vocab.get_itos() == lm.vocab.get_itos()  # the vocabulary comes with the language model
    for name, value in lm.encoder.state_dict().items():
        assert torch.equal(task.encoder.state_dict()[name], value)
    assert torch.equal(task.embedding.weight, lm.embedding.weight)



class _RunsCode:
    """Unpickling this runs a shell command: what a hostile checkpoint would do."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


@pytest.fixture(scope="module")
def language_models(tmp_path_factory) -> dict:
    """A forward language model, a backward one trained from it with the embedding frozen, and one with its own."""
    root = tmp_path_factory.mktemp("lms")
    text = root / "lm.txt"
    text.write_text("".join(f"{t}\n" for t in GOOD + BAD) * 30)
    paths, models = {}, {}
    for name, reverse, init_from, freeze in (("forward", False, None, False), ("backward", True, "forward", True),
                                             ("own_vectors", True, "forward", False)):
        torch.manual_seed(0)
        data = NextWordData(train_path=str(text), batch_size=4, eval_batch_size=2, bptt=5, reverse=reverse)
        lm = NextWordTask(LSTM(16, 16), freeze_embeddings=freeze, optimizer=partial(torch.optim.AdamW, lr=0.01))
        if init_from:
            lm.init_from_checkpoint(paths[init_from], data)
        trainer = _trainer(root / name, max_epochs=1, limit_train_batches=5, limit_val_batches=1)
        trainer.fit(lm, datamodule=data)
        paths[name], models[name] = trainer.checkpoint_callback.last_model_path, lm
    return {"paths": paths, "models": models}


def test_bidirectional_transfer_from_a_forward_and_a_backward_language_model(reviews, language_models, tmp_path, capsys):
    paths, models = language_models["paths"], language_models["models"]
    data = _data(reviews)
    task = SentimentTask(LSTM(16, 16, bidirectional=True), optimizer=partial(torch.optim.AdamW, lr=0.0))
    task.init_from_checkpoint(paths["forward"], data)
    task.init_backward_from_checkpoint(paths["backward"])
    _trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(task, datamodule=data)
    said = capsys.readouterr().err
    assert "loaded 9 embedding/encoder tensors" in said and "also fresh" not in said and "warning" not in said
    own = task.encoder.state_dict()
    for name, value in models["forward"].encoder.state_dict().items():
        assert torch.equal(own[name], value)
    for name, value in models["backward"].encoder.state_dict().items():
        assert torch.equal(own[f"{name}_reverse"], value)  # the backward model reads as the reverse direction does
    assert not torch.equal(own["weight_hh_l0"], own["weight_hh_l0_reverse"])
    assert torch.equal(task.embedding.weight, models["forward"].embedding.weight)


def test_bidirectional_transfer_refuses_what_does_not_fit(reviews, language_models, tmp_path, capsys):
    paths = language_models["paths"]
    data = _data(reviews)
    with pytest.raises(CheckpointError, match="is a backward language model .*--model.init_args.reverse true.* give it as --init_from_backward"):
        SentimentTask(LSTM(16, 16, bidirectional=True)).init_from_checkpoint(paths["backward"], data)
    with pytest.raises(CheckpointError, match="is a forward language model, and this classifier reads texts last word first"):
        SentimentTask(LSTM(16, 16), reverse=True).init_from_checkpoint(paths["forward"], data)
    with pytest.raises(SeqkitError, match="goes with --init_from a forward language model"):
        SentimentTask(LSTM(16, 16, bidirectional=True)).init_backward_from_checkpoint(paths["backward"])
    one_way = SentimentTask(LSTM(16, 16))
    one_way.init_from_checkpoint(paths["forward"], data)
    with pytest.raises(SeqkitError, match="reverse direction of a bidirectional encoder; set --model.init_args.encoder.init_args.bidirectional true"):
        one_way.init_backward_from_checkpoint(paths["backward"])
    task = SentimentTask(LSTM(16, 16, bidirectional=True))
    task.init_from_checkpoint(paths["forward"], data)
    with pytest.raises(CheckpointError, match="is a forward language model; --init_from_backward needs a backward one"):
        task.init_backward_from_checkpoint(paths["forward"])
    other = tmp_path / "other.txt"
    other.write_text("entirely different words here\n" * 60)
    other_data = NextWordData(train_path=str(other), batch_size=4, eval_batch_size=2, bptt=5, reverse=True)
    trainer = _trainer(tmp_path / "other", max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(NextWordTask(LSTM(16, 16)), datamodule=other_data)
    with pytest.raises(CheckpointError, match="has another vocabulary than the --init_from language model"):
        task.init_backward_from_checkpoint(trainer.checkpoint_callback.last_model_path)
    sentinel = tmp_path / "ran"
    hostile = tmp_path / "hostile.ckpt"
    torch.save({"seqkit": {"task": "next_word"}, "state_dict": {}, "payload": _RunsCode(f"touch {sentinel}")}, hostile)
    with pytest.raises(CheckpointError, match="refusing to load"):
        task.init_backward_from_checkpoint(hostile)
    assert not sentinel.exists()
    # A backward model with word vectors of its own still loads, with a warning that says how to do better.
    task.init_backward_from_checkpoint(paths["own_vectors"])
    capsys.readouterr()
    _trainer(tmp_path / "clf", max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(task, datamodule=data)
    assert "warning: the backward language model learned other word vectors" in capsys.readouterr().err

def test_pretrained_embeddings_fill_known_rows(trained, tmp_path, capsys):
    _, _, _, data = trained
    vectors = tmp_path / "glove.txt"
    vectors.write_text("good " + " ".join(["0.5"] * 16) + "\nunseenword " + " ".join(["1"] * 16) + "\n")
    task = SentimentTask(LSTM(16, 8), pretrained_embeddings=str(vectors))
    task.vocab, task.labels = data.vocab, data.labels
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(task, datamodule=data)
    assert task.embedding.weight.shape[1] == 16
    assert f"cover 1 of {len(data.vocab)} words" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("good 0.1 0.2\n")
    from seqkit.vectors import fill_embedding

    with pytest.raises(DataError, match=r"line 1: 2 numbers for 'good', but the embedding has 16"):
        fill_embedding(torch.zeros(len(data.vocab), 16), data.vocab, short)
    weight = torch.zeros(len(data.vocab), 16)
    coverage = fill_embedding(weight, data.vocab, vectors)
    assert coverage.found == 1 and torch.all(weight[data.vocab["good"]] == 0.5)


def test_constructor_errors():
    with pytest.raises(SeqkitError, match="pooling must be one of"):
        SentimentTask(LSTM(4, 4), pooling="attention")
    with pytest.raises(SeqkitError, match="seqkit recurrent module"):
        SentimentTask(torch.nn.LSTM(4, 4))


def test_the_learning_rate_can_decay_by_epoch():
    task = SentimentTask(LSTM(8, 8), optimizer=partial(torch.optim.AdamW, lr=0.01), lr_scheduler=partial(StepDecay, factor=0.5, start=1))
    task.embedding = torch.nn.Embedding(5, 8)  # any parameters will do for the optimizer
    configured = task.configure_optimizers()
    schedule = configured["lr_scheduler"]["scheduler"]
    assert configured["lr_scheduler"]["interval"] == "epoch"
    assert [schedule.lr_lambdas[0](epoch) for epoch in range(3)] == [1.0, 0.5, 0.25]
    assert isinstance(SentimentTask(LSTM(8, 8)).configure_optimizers(), torch.optim.AdamW)  # constant by default


def test_the_pretrained_body_can_wait_and_learn_more_gently(reviews, tmp_path, capsys):
    torch.manual_seed(0)
    data = _data(reviews)
    task = SentimentTask(LSTM(16, 12), body_lr_scale=0.1, freeze_body_epochs=1, optimizer=partial(torch.optim.AdamW, lr=0.01))
    class Snapshot(pl.Callback):
        def __init__(self):
            self.encoder, self.head = [], []

        def on_train_epoch_end(self, trainer, module):
            self.encoder.append(module.encoder.weight_hh_l0.detach().clone())
            self.head.append(next(module.head.parameters()).detach().clone())

    snapshot = Snapshot()
    trainer = _trainer(tmp_path, max_epochs=2, limit_val_batches=0, callbacks=[snapshot])
    start = task.encoder.weight_hh_l0.detach().clone()
    trainer.fit(task, datamodule=data)
    groups = trainer.optimizers[0].param_groups
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.001])
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in [*task.embedding.parameters(), *task.encoder.parameters()]}
    assert torch.equal(snapshot.encoder[0], start)  # epoch 0: the encoder is frozen, the head learns ...
    assert not torch.equal(snapshot.head[0], snapshot.head[1])
    assert not torch.equal(snapshot.encoder[1], start)  # ... epoch 1: it learns
    assert "epoch 1: the embedding and the encoder now train too" in capsys.readouterr().err
    with pytest.raises(SeqkitError, match="body_lr_scale must be > 0"):
        SentimentTask(LSTM(4, 4), body_lr_scale=0)


def test_a_classifier_that_reads_backwards_starts_from_a_backward_language_model(reviews, language_models, tmp_path):
    """ULMFiT's backward pair: the backward model's encoder, fed each text last word first."""
    paths, models = language_models["paths"], language_models["models"]
    data = _data(reviews)
    task = SentimentTask(LSTM(16, 16), reverse=True, optimizer=partial(torch.optim.AdamW, lr=0.0))
    task.init_from_checkpoint(paths["backward"], data)
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1)
    trainer.fit(task, datamodule=data)
    for name, value in models["backward"].encoder.state_dict().items():
        assert torch.equal(task.encoder.state_dict()[name], value)
    # Reading backwards is reading the reversed text forwards, padding or not.
    forwards = SentimentTask.from_checkpoint(trainer.checkpoint_callback.last_model_path)
    assert forwards.hparams.reverse
    forwards.model.reverse = False
    texts = ["really good", "the story was bad and the acting too"]
    mirrored = [" ".join(reversed(text.split())) for text in texts]
    back = torch.tensor([list(r["probabilities"].values()) for r in task.predict(texts)])
    ahead = torch.tensor([list(r["probabilities"].values()) for r in forwards.predict(mirrored)])
    torch.testing.assert_close(back, ahead)
    # Going on training it: the direction must be the checkpoint's.
    with pytest.raises(CheckpointError, match="reads texts last word first; set --model.init_args.reverse true"):
        SentimentTask(LSTM(16, 16)).init_from_checkpoint(trainer.checkpoint_callback.last_model_path, data)


def test_reverse_texts_keeps_padding_at_the_end():
    from seqkit.models.classifier import reverse_texts

    tokens = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])
    assert reverse_texts(tokens, torch.tensor([3, 2, 4])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]]
    assert reverse_texts(tokens, None).tolist() == tokens.flip(1).tolist()


def test_averaged_classifiers_give_the_mean_of_their_probabilities(trained, reviews, tmp_path):
    task = trained[0]
    torch.manual_seed(1)
    other = SentimentTask(LSTM(16, 12), optimizer=partial(torch.optim.AdamW, lr=0.01))
    _trainer(tmp_path, max_epochs=1).fit(other, datamodule=_data(reviews))
    texts = ["a good story", "bad bad acting", ""]
    pair = Averaged([task, other])
    expected = [{label: (a["probabilities"][label] + b["probabilities"][label]) / 2 for label in task.labels}
                for a, b in zip(task.predict(texts), other.predict(texts))]
    got = pair.predict(texts)
    for want, have in zip(expected, got):
        assert have["probabilities"] == pytest.approx(want)
        assert have["label"] == max(want, key=want.get)
    table = pair.predict_frame(__import__("pandas").DataFrame({"text": texts}))
    assert table["probability_pos"].tolist() == pytest.approx([e["pos"] for e in expected])
    other.labels = ["bad", "good"]
    with pytest.raises(DataError, match="must share their labels"):
        Averaged([task, other])


def test_the_slanted_triangular_schedule_rises_fast_and_falls_slowly(reviews, tmp_path):
    task = SentimentTask(LSTM(8, 8), optimizer=partial(torch.optim.AdamW, lr=0.01), lr_scheduler=partial(SlantedTriangular, ratio=32))
    seen = []

    class Rates(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    data = _data(reviews, batch_size=10)
    trainer = _trainer(tmp_path, max_epochs=2, limit_val_batches=0, callbacks=[Rates()])
    trainer.fit(task, datamodule=data)
    steps = len(seen)
    assert steps == 2 * trainer.num_training_batches == 36  # stepped after every batch, over both epochs
    peak = seen.index(max(seen))
    assert seen[0] == pytest.approx(0.01 / 32) and max(seen) == pytest.approx(0.01) and peak == steps // 10
    assert all(a < b for a, b in zip(seen[:peak], seen[1 : peak + 1]))            # a short rise ...
    assert all(a > b for a, b in zip(seen[peak:], seen[peak + 1 :]))              # ... then a long fall
    assert seen[-1] == pytest.approx(0.01 / 32 + (0.01 - 0.01 / 32) / (steps - peak))  # one step before the bottom
    # Its checkpoint is plain data: it loads without unpickling objects.
    assert SentimentTask.from_checkpoint(trainer.checkpoint_callback.last_model_path).labels == ["neg", "pos"]
    with pytest.raises(SeqkitError, match="SlantedTriangular needs 0 < warmup < 1"):
        SlantedTriangular(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), warmup=1.5)
