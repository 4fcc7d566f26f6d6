"""Suggester: next-word suggestions from the carried state, one step per new word, as a keyboard needs."""

from __future__ import annotations

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.modules import GRU, LSTM, RNN
from seqkit.tasks import NextWordTask
from seqkit.tasks.suggester import Suggester
from seqkit.text import EOS, UNK, build_vocab_from_iterator

TEXT = "the cat sat on the mat , and then the dog sat there with that thin thing ."


def _task(cell, reverse: bool = False) -> NextWordTask:
    torch.manual_seed(0)
    task = NextWordTask(cell(12, 12))
    task.vocab = build_vocab_from_iterator([TEXT.split()], specials=[UNK, EOS])
    task.vocab.set_default_index(task.vocab[UNK])
    task.reverse = reverse
    task.configure_model()
    return task.eval()


@pytest.mark.parametrize("cell", [RNN, GRU, LSTM])
def test_feeding_word_by_word_suggests_what_predict_next_gives_for_the_whole_text(cell):
    task = _task(cell)
    suggester = Suggester(task)
    for word in "the cat sat on the".split():
        suggester.feed(word)
    assert suggester.words == ["the", "cat", "sat", "on", "the"]
    want = task.predict_next("the cat sat on the", k=3, exclude=(UNK, EOS, ",", "."))
    got = suggester.suggest(k=3)
    assert [w for w, _ in got] == [w for w, _ in want]
    assert [p for _, p in got] == pytest.approx([p for _, p in want], abs=1e-6)
    again = Suggester(task).feed("the cat sat on the")  # a text at once: the same state
    assert [w for w, _ in again.suggest(3)] == [w for w, _ in got]
    assert [p for _, p in again.suggest(3)] == pytest.approx([p for _, p in got], abs=1e-6)


def test_each_new_word_costs_one_step_of_the_model():
    task = _task(LSTM)
    steps = []
    task.model.register_forward_pre_hook(lambda module, args: steps.append(args[0].shape[1]))
    suggester = Suggester(task)
    for typed in ("the ", "the c", "the ca", "the cat ", "the cat s", "the cat sat "):
        suggester.follow(typed)
    assert steps == [1, 1, 1]  # three words typed, three steps; letters of a word cost none
    suggester.follow("the dog ")  # a word deleted and another typed: on from "the", read before
    assert steps[-1] == 1 and suggester.words == ["the", "dog"]
    suggester.follow("a dog ")  # a text it never read: from the start
    assert steps[-1] == 2 and suggester.words == ["a", "dog"]


def test_specials_are_never_suggested_unless_asked():
    task = _task(RNN)
    with torch.no_grad():  # make <unk> and <eos> the most likely next tokens
        task.model.head.proj.bias[task.vocab[UNK]] = 50.0
        task.model.head.proj.bias[task.vocab[EOS]] = 40.0
    words = [w for w, _ in Suggester(task).feed("the cat").suggest(5)]
    assert UNK not in words and EOS not in words
    assert [w for w, _ in Suggester(task, include_special=True).feed("the cat").suggest(2)] == [UNK, EOS]
    with torch.no_grad():  # punctuation is left to the keys too
        task.model.head.proj.bias[task.vocab[","]] = 60.0
    assert "," not in [w for w, _ in Suggester(task).feed("the cat").suggest(5)]
    assert Suggester(task, include_punctuation=True).feed("the cat").suggest(1)[0][0] == ","


def test_completions_are_the_words_of_a_prefix_ranked_by_the_model():
    task = _task(GRU)
    suggester = Suggester(task).feed("sat on")
    got = suggester.complete("th", k=10)
    words = [w for w, _ in got]
    assert set(words) == {"the", "then", "there", "that", "thin", "thing"}
    probabilities = suggester.probabilities
    assert [p for _, p in got] == pytest.approx(sorted((float(probabilities[task.vocab[w]]) for w in words), reverse=True))
    assert [w for w, _ in suggester.complete("th", k=2)] == words[:2]
    assert suggester.complete("TH", k=2) == suggester.complete("th", k=2)  # read as the tokenizer reads text
    assert suggester.complete("xyz") == []
    assert suggester.follow("sat on th")[0] == suggester.complete("th", 3)
    assert suggester.follow("sat on th")[1] == "th"


def test_reset_forgets_the_text_and_the_start_of_a_text_has_suggestions():
    task = _task(LSTM)
    suggester = Suggester(task)
    start = suggester.suggest(3)
    assert len(start) == 3 and suggester.words == []
    suggester.feed("the cat sat")
    suggester.reset()
    assert suggester.words == [] and suggester.suggest(3) == start


def test_a_backward_model_and_a_k_out_of_range_are_refused_in_one_line():
    with pytest.raises(SeqkitError, match="a backward language model predicts the word before"):
        Suggester(_task(LSTM, reverse=True))
    suggester = Suggester(_task(LSTM))
    for k in (0, -1, 10_000, True):
        with pytest.raises(SeqkitError, match="k must be a whole number from 1 to the 13 words"):
            suggester.suggest(k)


def test_rank_is_the_place_of_a_word_among_the_completions_and_feed_ids_is_feed():
    task = _task(LSTM)
    suggester = Suggester(task).feed("the cat")
    for place, (word, _) in enumerate(suggester.complete("th", k=6)):
        assert suggester.rank(word, "th") == place
    for place, (word, _) in enumerate(suggester.suggest(k=5)):
        assert suggester.rank(word) == place
    assert suggester.rank("cat", "th") is None and suggester.rank("zebra") is None and suggester.rank(UNK) is None
    by_ids = Suggester(task).feed_ids(task.vocab.lookup_indices(["the", "cat"]))
    assert by_ids.words == ["the", "cat"] and torch.allclose(by_ids.probabilities, suggester.probabilities)
