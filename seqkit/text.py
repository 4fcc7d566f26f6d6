"""Text in, token ids out: tokenizers, `Vocab`, reading text files and encoding them.

torchtext no longer imports against current torch, so seqkit keeps the small part of it
that recurrent language models use, under torchtext's names and with its behaviour, so
that code ported from torchtext reads the same:

- `get_tokenizer("basic_english" | "whitespace" | "char" | None)`;
- `Vocab` (`vocab["word"]`, `vocab(tokens)`, `lookup_tokens`, `set_default_index`, ...)
  and `build_vocab_from_iterator`.

It adds what torchtext left to each user:

- `Vocab.to_dict` / `Vocab.from_dict` (plain data that a checkpoint loaded with
  `torch.load(weights_only=True)` can hold) and `Vocab.save` / `Vocab.load` (JSON);
  a vocabulary is never pickled;
- `read_lines`, which checks that a file is UTF-8 text and says where it is not;
- `encode`, the numericalization of pytorch/examples' word_language_model: each line's
  tokens followed by `<eos>`, all lines as one stream of ids.

Typical use, fitted on the training split only:

    tokenize = get_tokenizer("whitespace")
    train = read_lines("wikitext-2/train.txt")
    vocab = build_vocab_from_iterator(map(tokenize, train), specials=[EOS])
    ids = encode(train, tokenize, vocab)  # (N,) int64
"""

from __future__ import annotations

import json
import os
from array import array
from collections import Counter
from itertools import repeat
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from seqkit.errors import DataError
from seqkit.readers import read_lines, read_text  # noqa: F401 (read_lines is part of this module's API)

UNK = "<unk>"
EOS = "<eos>"
PAD = "<pad>"

Tokenizer = Callable[[str], list[str]]

VOCAB_FORMAT = "seqkit.vocab"
VOCAB_VERSION = 1


# ----------------------------------------------------------------------------- tokenizers
# torchtext's `basic_english` rules, in its order. torchtext writes them as regular
# expressions, but every pattern except the last is a literal string, so plain
# `str.replace` applies the same rules three times faster. Its last rule (runs of
# whitespace -> one space) changes nothing that the final `split()` sees, so it is left out.
BASIC_ENGLISH_RULES: tuple[tuple[str, str], ...] = (
    ("'", " '  "),
    ('"', ""),
    (".", " . "),
    ("<br />", " "),
    (",", " , "),
    ("(", " ( "),
    (")", " ) "),
    ("!", " ! "),
    ("?", " ? "),
    (";", " "),
    (":", " "),
)


def tokenize_basic_english(line: str) -> list[str]:
    """torchtext's `basic_english`: lowercase, space out punctuation, split on whitespace.

    `'`, `.`, `,`, `(`, `)`, `!` and `?` become tokens of their own; `"` is deleted;
    `;`, `:` and the HTML line break `<br />` become spaces. The rules apply one after
    another in the order of `BASIC_ENGLISH_RULES` (the order matters: `<br;/>` is not a
    line break, because `;` is removed only after `<br />` was looked for).

    Args:
        line: the text to tokenize.

    Returns:
        The tokens, e.g. `["you", "can", "now", "install", "torchtext", "using", "pip", "!"]`
        for `"You can now install TorchText using pip!"`.
    """
    line = line.lower()
    for old, new in BASIC_ENGLISH_RULES:
        line = line.replace(old, new)
    return line.split()


def tokenize_whitespace(line: str) -> list[str]:
    """Split on runs of whitespace (`str.split()`), the rule of word-level language models.

    Args:
        line: the text to tokenize.

    Returns:
        The tokens, without empty strings.
    """
    return line.split()


def tokenize_char(line: str) -> list[str]:
    """Every character of the line, spaces included, as a token.

    Args:
        line: the text to tokenize.

    Returns:
        `list(line)`.
    """
    return list(line)


# Module-level functions, not lambdas, so that a tokenizer can be pickled into DataLoader workers.
TOKENIZERS: dict[str, Tokenizer] = {
    "basic_english": tokenize_basic_english,
    "whitespace": tokenize_whitespace,
    "char": tokenize_char,
}


def get_tokenizer(name: str | Tokenizer | None, language: str = "en") -> Tokenizer:
    """The tokenizer called `name`, as torchtext's function of the same name returns it.

    Args:
        name: `"basic_english"`, `"whitespace"` or `"char"`; None means whitespace (as in
            torchtext); a callable is returned unchanged (as in torchtext).
        language: accepted for torchtext's signature; `basic_english` knows only `"en"`.

    Returns:
        A function `str -> list[str]`.

    Raises:
        ValueError: an unknown name, or `basic_english` with a language other than English.
    """
    if name is None:
        return tokenize_whitespace
    if callable(name):
        return name
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; seqkit knows {', '.join(map(repr, TOKENIZERS))} "
                         "(None means whitespace), or pass your own function str -> list[str]")
    if name == "basic_english" and language != "en":
        raise ValueError(f"the basic_english tokenizer is for English only (language='en'), got language={language!r}")
    return TOKENIZERS[name]


# ----------------------------------------------------------------------------- vocabulary
class TokenNotFoundError(KeyError):
    """A token that is not in a `Vocab` that has no default index."""

    def __str__(self) -> str:
        # KeyError would print the repr of its message, quotes and escaped newlines included.
        return str(self.args[0])


class Vocab:
    """A bijection between tokens and the indices 0..len-1, with torchtext's interface.

    Args:
        tokens: the tokens in index order (no duplicates).
        default_index: the index returned for a token that is not in the vocabulary; None
            (the default) makes an unknown token an error, as in torchtext.

    Raises:
        ValueError: a token appears twice.
        TypeError: a token is not a string.

    Example:
        >>> vocab = Vocab([UNK, "the", "cat"])
        >>> vocab.set_default_index(vocab[UNK])
        >>> vocab(["the", "dog"])
        [1, 0]
    """

    def __init__(self, tokens: Iterable[str] = (), default_index: int | None = None) -> None:
        self._itos: list[str] = []
        self._stoi: dict[str, int] = {}
        for token in tokens:
            self.append_token(token)
        self._default_index: int | None = None
        self.set_default_index(default_index)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        """The index of `token`, or the default index if it is unknown and one is set.

        Raises:
            TokenNotFoundError: (a KeyError) `token` is unknown and no default index is set.
        """
        index = self._stoi.get(token)
        if index is not None:
            return index
        if self._default_index is None:
            raise TokenNotFoundError(self._unknown_message(token))
        return self._default_index

    def __call__(self, tokens: Iterable[str]) -> list[int]:
        """Same as `lookup_indices` (torchtext's `forward`)."""
        return self.lookup_indices(tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._default_index == other._default_index

    __hash__ = None  # mutable (insert_token, append_token)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, default_index={self._default_index})"

    def _unknown_message(self, token: str) -> str:
        fix = (f"call vocab.set_default_index(vocab[{UNK!r}]) to map unknown tokens to {UNK}" if UNK in self._stoi
               else f"build the vocabulary with specials=[{UNK!r}] and call vocab.set_default_index(vocab[{UNK!r}])")
        return f"token {token!r} is not in the vocabulary ({len(self)} tokens) and no default index is set; {fix}"

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        """The index of every token (see `__getitem__` for unknown tokens).

        Args:
            tokens: the tokens to look up.

        Returns:
            Their indices, in order.
        """
        tokens = tokens if isinstance(tokens, (list, tuple)) else list(tokens)  # read twice on error
        ids = list(map(self._stoi.get, tokens, repeat(self._default_index)))
        if self._default_index is None and None in ids:
            raise TokenNotFoundError(self._unknown_message(tokens[ids.index(None)]))
        return ids

    def lookup_token(self, index: int) -> str:
        """The token at `index`.

        Raises:
            IndexError: `index` is not in `0..len-1` (negative indices are not counted from the end).
        """
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self._itos):
            raise IndexError(f"index {index!r} is out of the vocabulary's range 0..{len(self._itos) - 1}")
        return self._itos[index]

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        """The token at every index (see `lookup_token`)."""
        return [self.lookup_token(index) for index in indices]

    def get_itos(self) -> list[str]:
        """A copy of the list index -> token."""
        return list(self._itos)

    def get_stoi(self) -> dict[str, int]:
        """A copy of the dict token -> index."""
        return dict(self._stoi)

    def set_default_index(self, index: int | None) -> None:
        """Return `index` for unknown tokens from now on; None makes them an error again.

        Any integer is accepted, as in torchtext (-1 is sometimes used as a marker).
        """
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise TypeError(f"default index must be an int or None, got {index!r}")
        self._default_index = index

    def get_default_index(self) -> int | None:
        """The index returned for unknown tokens, or None if they are an error."""
        return self._default_index

    def insert_token(self, token: str, index: int) -> None:
        """Insert `token` at `index`; the tokens from `index` on move up by one.

        As in torchtext, the default index is left as it is, even if the token it named
        moves: set it again after inserting before it.

        Raises:
            ValueError: `token` is already in the vocabulary.
            IndexError: `index` is not in `0..len`.
        """
        self._check_new(token)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= len(self._itos):
            raise IndexError(f"insert index {index!r} is out of range 0..{len(self._itos)}")
        self._itos.insert(index, token)
        for i in range(index, len(self._itos)):
            self._stoi[self._itos[i]] = i

    def append_token(self, token: str) -> None:
        """Add `token` at the end (index `len(vocab)`).

        Raises:
            ValueError: `token` is already in the vocabulary.
        """
        self._check_new(token)
        self._stoi[token] = len(self._itos)
        self._itos.append(token)

    def _check_new(self, token: object) -> None:
        if not isinstance(token, str):
            raise TypeError(f"a token must be a string, got {token!r} ({type(token).__name__})")
        if token in self._stoi:
            raise ValueError(f"token {token!r} is already in the vocabulary, at index {self._stoi[token]}")

    # Persistence as plain data: JSON on disk, lists and ints inside checkpoints. Never
    # pickle, which runs code on load and breaks when this class changes.
    def to_dict(self) -> dict[str, Any]:
        """The vocabulary as plain data (str, int, list, None), fit for `torch.load(weights_only=True)`.

        Returns:
            `{"format": "seqkit.vocab", "version": 1, "itos": [...], "default_index": int | None}`.
        """
        return {"format": VOCAB_FORMAT, "version": VOCAB_VERSION, "itos": list(self._itos),
                "default_index": self._default_index}

    @classmethod
    def from_dict(cls, data: Any, source: str = "vocabulary data") -> Vocab:
        """The vocabulary that `to_dict` described.

        Args:
            data: what `to_dict` returned (possibly after a round trip through a checkpoint).
            source: what to call `data` in error messages (a file name, a checkpoint key).

        Raises:
            DataError: `data` is not what `to_dict` writes: another format or version,
                missing keys, tokens that are not strings or appear twice, a default
                index that is not one of the tokens.
        """
        if not isinstance(data, dict) or data.get("format") != VOCAB_FORMAT:
            found = f'"format": {json.dumps(data.get("format"))}' if isinstance(data, dict) else f"a {type(data).__name__}"
            raise DataError(f'{source}: not a seqkit vocabulary (found {found}, expected an object with '
                            f'"format": "{VOCAB_FORMAT}"); write one with Vocab.save or Vocab.to_dict')
        missing = [key for key in ("version", "itos", "default_index") if key not in data]
        if missing:
            raise DataError(f"{source}: the vocabulary lacks {', '.join(map(repr, missing))}; "
                            "write it again with Vocab.save")
        if data["version"] != VOCAB_VERSION:
            raise DataError(f"{source}: vocabulary format version {data['version']!r}, but this seqkit reads version "
                            f"{VOCAB_VERSION}; a newer version needs a newer seqkit")
        itos, default_index = data["itos"], data["default_index"]
        if not isinstance(itos, list):
            raise DataError(f'{source}: "itos" must be a list of token strings, got a {type(itos).__name__}')
        first_seen: dict[str, int] = {}
        for i, token in enumerate(itos):
            if not isinstance(token, str):
                raise DataError(f'{source}: "itos"[{i}] is {token!r}, not a string; every token must be a string')
            if token in first_seen:
                raise DataError(f'{source}: token {token!r} appears twice in "itos", at {first_seen[token]} and {i}; '
                                "each token needs exactly one index, remove one (was the file edited by hand?)")
            first_seen[token] = i
        if default_index is not None and (isinstance(default_index, bool) or not isinstance(default_index, int)):
            raise DataError(f'{source}: "default_index" must be an integer or null, got {default_index!r}')
        if default_index is not None and not 0 <= default_index < len(itos):
            # Unknown words would get this id, and an embedding lookup would fail far from the file.
            raise DataError(f'{source}: "default_index" {default_index} is outside the vocabulary\'s {len(itos)} tokens '
                            f"(0 to {len(itos) - 1}); it must be the index of a token such as <unk>")
        return cls(itos, default_index)

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary to `path` as UTF-8 JSON (see `to_dict`), one token a line.

        The file is written beside its final name and renamed over it, so an interrupted
        save leaves any earlier file whole.
        """
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary that `save` wrote.

        Raises:
            DataError: the file is missing, not UTF-8, not JSON, or not a seqkit
                vocabulary; the message names the file and what is wrong.
        """
        path = Path(path)
        text = read_text(path, what="vocabulary file")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                            "a vocabulary file is written by Vocab.save") from None
        return cls.from_dict(data, source=str(path))


def build_vocab_from_iterator(
    iterator: Iterable[list[str]],
    min_freq: int = 1,
    specials: list[str] | None = None,
    special_first: bool = True,
    max_tokens: int | None = None,
    *,
    max_size: int | None = None,
) -> Vocab:
    """Count the tokens and order them as torchtext does.

    The order: `specials` in the order given (first, or last with `special_first=False`),
    then the other tokens by descending count, equal counts by ascending code point (Python's
    string order, so "B" before "a"). No default index is set.

    As in torchtext, `max_tokens` keeps the `max_tokens - len(specials)` most frequent
    tokens *before* specials and rare tokens are removed from them, so a special that also
    occurs in the text, or a `min_freq` above 1, can leave fewer than `max_tokens` tokens.
    Kept, so that ported code gets the very same indices.

    Args:
        iterator: yields one list of tokens per line or document.
        min_freq: leave out tokens seen fewer times than this.
        specials: tokens to include whatever their counts, e.g. `[UNK, PAD]`.
        special_first: put `specials` at the start (True) or at the end.
        max_tokens: the most tokens in the vocabulary, specials included; None for no limit.
        max_size: another name for `max_tokens` (torchtext's legacy name); give one or neither.

    Returns:
        The `Vocab`.

    Raises:
        ValueError: `max_tokens` and `max_size` both given, `max_tokens` not above the
            number of specials, or a special given twice.
        TypeError: the iterator yields a string rather than a list of tokens.
    """
    if max_size is not None:
        if max_tokens is not None:
            raise ValueError(f"give max_tokens or its alias max_size, not both (got {max_tokens} and {max_size})")
        max_tokens = max_size
    specials = list(specials or [])
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens <= len(specials)):
        raise ValueError(f"max_tokens must be an integer above the number of specials ({len(specials)}), "
                         f"got {max_tokens!r}: the vocabulary would hold nothing but specials")
    counts: Counter[str] = Counter()
    for tokens in iterator:
        if isinstance(tokens, str):
            # Counter would count the characters of the string: a silent character-level vocabulary.
            raise TypeError(f"the iterator must yield lists of tokens, got the string {tokens[:40]!r}; "
                            "tokenize first, e.g. map(get_tokenizer('whitespace'), lines)")
        counts.update(tokens)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if max_tokens is not None:
        ordered = ordered[: max_tokens - len(specials)]
    special_set = set(specials)
    words = [token for token, count in ordered if count >= min_freq and token not in special_set]
    return Vocab(specials + words if special_first else words + specials)


def encode(lines: Iterable[str], tokenizer: Tokenizer, vocab: Vocab, eos: str | None = EOS) -> torch.Tensor:
    """Tokenize every line, end each with `eos`, and map all tokens to one stream of ids.

    This is word_language_model's `Corpus.tokenize`: every line, blank ones included,
    gets an `eos`, so the model learns where lines end.

    Args:
        lines: the text, one string per line (e.g. from `read_lines`).
        tokenizer: a function `str -> list[str]` (see `get_tokenizer`).
        vocab: maps tokens to ids; unknown tokens get its default index.
        eos: the token appended after each line, or None to append nothing.

    Returns:
        `(N,)` int64 ids, N = tokens of all lines + one per line for `eos`.

    Raises:
        TokenNotFoundError: (a KeyError) a token (or `eos`) is not in `vocab` and `vocab`
            has no default index; the message gives the line.
    """
    lines = lines if isinstance(lines, (list, tuple)) else list(lines)  # read twice on error
    stoi, default = vocab._stoi, vocab.get_default_index()
    eos_id = vocab[eos] if eos is not None else None
    ids: list[int | None] = []
    # One dict lookup per token (a missing one gives `default`), all appended to one list.
    for line in lines:
        ids.extend(map(stoi.get, tokenizer(line), repeat(default)))
        if eos_id is not None:
            ids.append(eos_id)
    # The list becomes a tensor through a C int64 array: three times faster than
    # torch.tensor(list) (0.1 s, not 0.3 s, for WikiText-2's 2M training tokens).
    try:
        packed = array("q", ids)
    except TypeError:  # a None: an unknown token, and the vocabulary has no default index
        _raise_first_unknown(lines, tokenizer, vocab)
        raise
    if not packed:
        return torch.empty(0, dtype=torch.int64)  # frombuffer refuses an empty buffer
    # clone: a tensor that owns its memory (and can be resized), not a view of the array.
    return torch.frombuffer(packed, dtype=torch.int64).clone()


def _raise_first_unknown(lines: Iterable[str], tokenizer: Tokenizer, vocab: Vocab) -> None:
    for number, line in enumerate(lines, start=1):
        for token in tokenizer(line):
            if token not in vocab:
                raise TokenNotFoundError(f"line {number}: {vocab._unknown_message(token)}")
