"""`seqkit trace --ckpt_path --text`: a sentence through a trained sentiment model, its prediction and its heatmap."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from seqkit import diagnostics
from seqkit.cli import main
from seqkit.tasks.sentiment import SentimentTask

SENTENCE = "Really GOOD fun, not bad"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_sentiment):
    return tiny_sentiment(tmp_path_factory.mktemp("sentiment") / "run")


def test_the_sentence_is_read_with_the_checkpoint_vocabulary_and_the_prediction_is_the_model_s(checkpoint, tmp_path, capsys):
    csv = tmp_path / "trace.csv"
    assert main(["trace", "--ckpt_path", str(checkpoint.parents[1]), "--text", SENTENCE, "--output", str(csv)]) == 0
    out = capsys.readouterr().out
    model = SentimentTask.from_checkpoint(checkpoint)
    expected = model.predict([SENTENCE])[0]
    assert f"prediction: {expected['label']}  (neg={expected['probabilities']['neg']:.3f}" in out
    assert "bidirectional lstm encoder" in out
    table = pd.read_csv(csv)
    # Lower-cased by the checkpoint's tokenizer; words the vocabulary lacks ("fun," is split, "not") are <unk>.
    words = table[(table.direction == "forward")].sort_values("t").token.tolist()
    assert words == model.vocab.lookup_tokens(model.encode([SENTENCE])[0].tolist())
    assert words[:3] == ["really", "good", "fun"] and "<unk>" in words
    # The traced states are the encoder's own: the last forward h_t and the first reverse one
    # equal the outputs of the model's encoder on the same embeddings.
    ids = model.encode([SENTENCE])[0]
    with torch.no_grad():
        output, _ = model.encoder(model.embedding(ids).unsqueeze(0))        # (1, T, 2H)
    hidden = model.encoder.hidden_size
    last = table[(table.direction == "forward") & (table.t == len(ids) - 1)].h.item()
    first = table[(table.direction == "reverse") & (table.t == 0)].h.item()
    assert torch.allclose(torch.tensor(json.loads(last)), output[0, -1, :hidden], atol=1e-5)
    assert torch.allclose(torch.tensor(json.loads(first)), output[0, 0, hidden:], atol=1e-5)
    # One printed line per token, with the LSTM's mean input and forget gates.
    lines = [line.split() for line in out.splitlines()]
    assert any(line[:2] == ["t", "token"] and "i" in line and "f" in line for line in lines)
    assert [line[1] for line in lines if line and line[0].isdigit()] == words


def test_the_heatmap_has_a_column_per_token_labelled_with_the_word(checkpoint, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    drawn = {}
    real = diagnostics.plot_hidden_states

    def spy(table, path, tokens=None, title="", **options):
        drawn.update(tokens=tokens, title=title, steps=table[table.direction == "forward"].t.nunique())
        return real(table, path, tokens=tokens, title=title, **options)

    monkeypatch.setattr(diagnostics, "plot_hidden_states", spy)
    png = tmp_path / "sentence.png"
    assert main(["trace", "--ckpt_path", str(checkpoint), "--text", "a really bad story", "--plot", str(png)]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    assert drawn["tokens"] == ["a", "really", "bad", "story"] and drawn["steps"] == 4
    label = SentimentTask.from_checkpoint(checkpoint).predict(["a really bad story"])[0]["label"]
    assert label == "neg" and "neg" in drawn["title"]
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5_000


@pytest.mark.parametrize("argv, message", [
    (["--text", "good"], "--ckpt_path and --text go together"),
    (["--ckpt_path", "CKPT"], "--ckpt_path and --text go together"),
    (["--ckpt_path", "CKPT", "--text", "good", "--cells", "rnn"], "--cells cannot be used with --ckpt_path"),
    (["--ckpt_path", "CKPT", "--text", "  "], "--text is empty"),
])
def test_misused_options_are_one_line_errors(argv, message, checkpoint, capsys):
    argv = [str(checkpoint) if a == "CKPT" else a for a in argv]
    assert main(["trace", *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_a_checkpoint_of_another_task_is_refused_by_name(tmp_path, capsys):
    import lightning.pytorch as pl

    from seqkit.data import AddingData
    from seqkit.modules import LSTM
    from seqkit.tasks import MemoryTask

    data = AddingData(length=6, train_size=64, val_size=32, test_size=32, batch_size=16)
    pl.Trainer(default_root_dir=tmp_path, accelerator="cpu", max_epochs=1, limit_train_batches=1, limit_val_batches=1,
               enable_progress_bar=False, enable_model_summary=False, logger=False).fit(MemoryTask(LSTM(2, 4)), data)
    memory = next(tmp_path.rglob("last.ckpt"))
    assert main(["trace", "--ckpt_path", str(memory), "--text", "good"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("seqkit trace: error:") and "sentiment" in error and "memory" in error
