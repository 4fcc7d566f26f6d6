"""Next-word suggestions as a person types: the phone keyboard, from a trained language model.

    suggester = Suggester(NextWordTask.from_checkpoint("runs/next_word/lstm"))
    suggester.feed("and god")          # two steps from the carried state
    suggester.suggest(k=3)             # [("said", 0.31), ("saw", 0.07), ("called", 0.05)]
    suggester.complete("cr", k=3)      # words starting with "cr", ranked by the same probabilities
    suggester.follow("and god sa")     # what a keyboard calls on every keystroke

A recurrent network reads a text once, left to right, and carries what it has read in its
state: a new word costs one step from that state, never a re-read of the text. `Suggester`
keeps the state after the words fed so far and advances it by the new words only; `follow`
also keeps the states of the last `RECENT` texts, so that many people typing in turn
(a server's clients) each go on from their own text.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

import torch
from torch import Tensor

from seqkit.errors import SeqkitError
from seqkit.text import EOS, PAD, UNK, get_tokenizer

SPECIALS = (UNK, EOS, PAD)
RECENT = 256  # texts whose states `follow` keeps


class Suggester:
    """Incremental next-word suggestions and completions from a forward `NextWordTask`.

    Args:
        task: a trained next-word model (`NextWordTask.from_checkpoint(...)`); an RNN, GRU
            or LSTM read forwards. A backward model is refused: it predicts the word before.
        include_special: also suggest `<unk>`, `<eos>` and `<pad>` (left out by default).
        include_punctuation: also suggest tokens without a letter or a digit ("," ".";
            left out by default, as a phone keyboard leaves them to the keys).

    Raises:
        SeqkitError: a backward model.
    """

    def __init__(self, task, include_special: bool = False, include_punctuation: bool = False) -> None:
        if getattr(task, "reverse", False):
            raise SeqkitError("a backward language model predicts the word before a text, not after: a keyboard "
                              "needs a forward one (trained without --data.reverse)")
        self.task = task.eval()
        self.vocab = task.vocab
        self.tokenize = get_tokenizer(task.tokenizer_name)
        itos = self.vocab.get_itos()
        self.hidden = [] if include_special else [self.vocab[s] for s in SPECIALS if s in self.vocab]
        if not include_punctuation:
            self.hidden += [i for i, word in enumerate(itos) if word not in SPECIALS and not any(c.isalnum() for c in word)]
        hidden = set(self.hidden)
        # Every word that can be offered, sorted, so that the words of a prefix are one slice.
        offered = sorted((word, i) for i, word in enumerate(itos) if i not in hidden)
        self._recent: OrderedDict[tuple[str, ...], tuple] = OrderedDict()  # words -> (state, probabilities)
        self._words = [word for word, _ in offered]
        self._ids = torch.tensor([i for _, i in offered], dtype=torch.long)
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget the text: the next suggestions are those at the start of a text."""
        self.words: list[str] = []
        self._state = None
        self._probabilities: Tensor | None = None

    @torch.no_grad()
    def _step(self, ids: list[int]) -> None:
        tokens = torch.tensor([ids], device=self.task.device)                        # (1, n)
        logits, self._state = self.task.model(tokens, self._state)                    # (1, n, V)
        self._probabilities = torch.softmax(logits[0, -1].float(), dim=-1).cpu()     # (V,)

    def feed(self, text: str) -> Suggester:
        """Read the words of `text` (one word or many) after those fed before: one step per new word."""
        tokens = self.tokenize(text)
        if tokens:
            self._step(self.vocab.lookup_indices(tokens))
            self.words += tokens
        return self

    def feed_ids(self, ids: list[int]) -> Suggester:
        """Read token ids (as the model read its training text, `<eos>` included) after those fed before."""
        if ids:
            self._step(list(ids))
            self.words += self.vocab.lookup_tokens(list(ids))
        return self

    @property
    def probabilities(self) -> Tensor:
        """`(V,)` the probability of every vocabulary word coming next."""
        if self._probabilities is None:  # nothing read yet: what follows the end of a sentence
            state = self._state
            self._step([self.vocab[EOS] if EOS in self.vocab else self.vocab.get_default_index()])
            self._state = state  # the start is a view, not a word of the text
        return self._probabilities

    # ------------------------------------------------------------------ suggestions

    def _ranked(self, candidates: Tensor, k: int) -> list[tuple[str, float]]:
        probabilities = self.probabilities[candidates]
        values, order = probabilities.topk(min(k, len(candidates)))
        return [(self.vocab.lookup_token(int(candidates[j])), float(p)) for p, j in zip(values, order)]

    def _check_k(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(self._words):
            raise SeqkitError(f"k must be a whole number from 1 to the {len(self._words)} words the model can "
                              f"suggest, got {k}")

    def suggest(self, k: int = 3) -> list[tuple[str, float]]:
        """The `k` most likely next words, most likely first, with their probabilities."""
        self._check_k(k)
        return self._ranked(self._ids, k)

    def _span(self, prefix: str) -> tuple[int, int]:
        """The words that start with `prefix`: `self._words[start:end]` (sorted, so one slice)."""
        return bisect.bisect_left(self._words, prefix), bisect.bisect_left(self._words, prefix + "\U0010ffff")

    def complete(self, prefix: str, k: int = 3) -> list[tuple[str, float]]:
        """The `k` most likely vocabulary words that start with `prefix` ("th" -> the, that, this).

        The prefix is read as the tokenizer reads text (lowercased for `basic_english`);
        the probabilities are those of the whole word coming next. Fewer than `k` when
        fewer words start so.
        """
        self._check_k(k)
        prefix = prefix.strip()
        prefix = (self.tokenize(prefix) or [prefix])[-1] if prefix else ""
        start, end = self._span(prefix)
        if start == end:
            return []
        return self._ranked(self._ids[start:end], k)

    def rank(self, word: str, prefix: str = "") -> int | None:
        """Where `word` stands among the words the keyboard would offer after `prefix` is typed (0: first).

        None when the model cannot offer it (not in the vocabulary, a special, or not
        starting with `prefix`). A word is shown among k suggestions when its rank is below k.
        """
        start, end = self._span(prefix)
        at = bisect.bisect_left(self._words, word, start, end)
        if at == end or self._words[at] != word:
            return None
        probabilities = self.probabilities
        return int((probabilities[self._ids[start:end]] > probabilities[self._ids[at]]).sum())

    def follow(self, text: str, k: int = 3) -> tuple[list[tuple[str, float]], str]:
        """What a keyboard shows for `text` as typed so far: `(suggestions, prefix)`.

        Whole words are suggested after a space (`prefix` is then ""); in the middle of a
        word, the completions of its first letters. The state moves on by the words added
        since the last call; a text that no longer starts with them (a deleted word) is
        read again from the longest of the last `RECENT` texts it starts with (else from the start).
        """
        ends_word = not text or text[-1].isspace()
        parts = text.split()
        done, prefix = (parts, "") if ends_word else (parts[:-1], parts[-1])
        words = self.tokenize(" ".join(done))
        if words[: len(self.words)] != self.words:
            self._recall(words)
        if len(words) > len(self.words):
            self._step(self.vocab.lookup_indices(words[len(self.words):]))
            self.words = words
            self._recent[tuple(words)] = (self._state, self._probabilities)
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return (self.complete(prefix, k) if prefix else self.suggest(k)), prefix

    def _recall(self, words: list[str]) -> None:
        """Go back to the state after the longest recent text that `words` starts with (else the start)."""
        self.reset()
        for n in sorted({len(seen) for seen in self._recent if len(seen) <= len(words)}, reverse=True):
            if (saved := self._recent.get(tuple(words[:n]))) is not None:
                self.words, (self._state, self._probabilities) = words[:n], saved
                self._recent.move_to_end(tuple(words[:n]))
                return
