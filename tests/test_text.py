"""Tests of seqkit.text: tokenizers equal to torchtext's rules, Vocab and its files, read_lines, encode.

The expected tokens are written out by hand from torchtext's documented rules; a second,
independent implementation of those rules (torchtext's regular expressions, applied in
its order) checks the fast one on tricky strings and on real text.
"""

from __future__ import annotations

import json
import pickle
import re

import pytest
import torch

from seqkit.errors import DataError
from seqkit.text import (
    EOS,
    PAD,
    UNK,
    TokenNotFoundError,
    Vocab,
    build_vocab_from_iterator,
    encode,
    get_tokenizer,
    read_lines,
    tokenize_basic_english,
    tokenize_char,
    tokenize_whitespace,
)

# torchtext's basic_english as it states it: (regex, replacement), applied in this order
# after lowercasing, then a split on whitespace.
TORCHTEXT_RULES = [(re.compile(p), r) for p, r in [
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "), (r"\(", " ( "),
    (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "), (r"\:", " "), (r"\s+", " "),
]]


def torchtext_basic_english(line: str) -> list[str]:
    line = line.lower()
    for pattern, replacement in TORCHTEXT_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


# ----------------------------------------------------------------------------- tokenizers
@pytest.mark.parametrize("line, expected", [
    ("You can now install TorchText using pip!", ["you", "can", "now", "install", "torchtext", "using", "pip", "!"]),
    ("Don't stop: it's \"great\", (really).",
     ["don", "'", "t", "stop", "it", "'", "s", "great", ",", "(", "really", ")", "."]),
    ("Line one.<br />Line two?!", ["line", "one", ".", "line", "two", "?", "!"]),
    ("a;b:c", ["a", "b", "c"]),
    ("<br;/>", ["<br", "/>"]),  # `;` goes after `<br />` was looked for: no line break
    ('x<br "/>y', ["x", "y"]),  # `"` goes before: a line break
    ("Pi is 3.14", ["pi", "is", "3", ".", "14"]),
    ("HELLO   World\t!\n", ["hello", "world", "!"]),
    ("", []),
])
def test_basic_english_gives_torchtexts_tokens(line, expected):
    assert get_tokenizer("basic_english")(line) == expected
    assert torchtext_basic_english(line) == expected


def test_basic_english_equals_the_regex_rules_on_tricky_strings():
    pieces = ["'", '"', ".", "<br />", "<BR />", "<br/>", ",", "(", ")", "!", "?", ";", ":", " ", "\t", "\u00a0",
              "É", "İ", "word", "x.y", "<", ">", "/", "<br", "/>"]
    lines = ["".join(pieces[(i * 7 + j * 3) % len(pieces)] for j in range(i % 11 + 1)) for i in range(400)]
    for line in lines:
        assert tokenize_basic_english(line) == torchtext_basic_english(line), line


def test_whitespace_and_char_tokenizers():
    assert get_tokenizer("whitespace")(" a  b\tc\n") == ["a", "b", "c"]
    assert get_tokenizer(None) is tokenize_whitespace  # None means whitespace, as in torchtext
    assert get_tokenizer("char")("a b") == ["a", " ", "b"]
    assert get_tokenizer("char")("") == []


def test_get_tokenizer_names_the_known_tokenizers():
    with pytest.raises(ValueError, match="basic_english.*whitespace.*char"):
        get_tokenizer("spacy")
    with pytest.raises(ValueError, match="English"):
        get_tokenizer("basic_english", language="de")
    assert get_tokenizer(str.upper) is str.upper


@pytest.mark.parametrize("tokenizer", [tokenize_basic_english, tokenize_whitespace, tokenize_char])
def test_tokenizers_pickle(tokenizer):
    assert pickle.loads(pickle.dumps(get_tokenizer(tokenizer))) is tokenizer


# ----------------------------------------------------------------------------- vocabulary
LINES = [["b", "a", "c", "a", "b", "d"], ["c", "b"]]  # b: 3, a: 2, c: 2, d: 1


def test_vocab_orders_by_count_then_alphabet():
    assert build_vocab_from_iterator(LINES).get_itos() == ["b", "a", "c", "d"]
    # Equal counts by code point: upper case before lower case.
    assert build_vocab_from_iterator([["b", "B", "a"]]).get_itos() == ["B", "a", "b"]


def test_specials_first_or_last_and_min_freq():
    assert build_vocab_from_iterator(LINES, specials=[UNK, PAD]).get_itos() == [UNK, PAD, "b", "a", "c", "d"]
    assert build_vocab_from_iterator(LINES, specials=[UNK], special_first=False).get_itos() == ["b", "a", "c", "d", UNK]
    assert build_vocab_from_iterator(LINES, min_freq=2).get_itos() == ["b", "a", "c"]
    # A special that also occurs in the text keeps its special place, once.
    assert build_vocab_from_iterator([["x", UNK, UNK]], specials=[UNK]).get_itos() == [UNK, "x"]


def test_max_tokens_counts_specials_and_max_size_is_its_alias():
    assert build_vocab_from_iterator(LINES, specials=[UNK], max_tokens=3).get_itos() == [UNK, "b", "a"]
    assert build_vocab_from_iterator(LINES, specials=[UNK], max_size=3).get_itos() == [UNK, "b", "a"]
    with pytest.raises(ValueError, match="not both"):
        build_vocab_from_iterator(LINES, max_tokens=3, max_size=3)
    with pytest.raises(ValueError, match="specials"):
        build_vocab_from_iterator(LINES, specials=[UNK, PAD], max_tokens=2)


def test_max_tokens_truncates_before_removing_specials_as_torchtext():
    # torchtext keeps the max_tokens - len(specials) most frequent tokens, then removes the
    # specials among them: here "<unk>" takes one of the two places, so only "b" remains.
    vocab = build_vocab_from_iterator([[UNK] * 5 + ["b"] * 3 + ["c"]], specials=[UNK], max_tokens=3)
    assert vocab.get_itos() == [UNK, "b"]


def test_build_vocab_refuses_strings_for_token_lists():
    with pytest.raises(TypeError, match="tokenize first"):
        build_vocab_from_iterator(["the cat sat"])


def test_unknown_token_needs_a_default_index():
    vocab = build_vocab_from_iterator(LINES, specials=[UNK])
    assert vocab.get_default_index() is None
    with pytest.raises(KeyError, match="set_default_index"):
        vocab["zebra"]
    with pytest.raises(TokenNotFoundError, match="zebra"):
        vocab(["a", "zebra"])
    vocab.set_default_index(vocab[UNK])
    assert vocab["zebra"] == 0 and vocab(["a", "zebra"]) == [2, 0] == vocab.lookup_indices(["a", "zebra"])
    vocab.set_default_index(None)
    with pytest.raises(KeyError):
        vocab["zebra"]
    with pytest.raises(KeyError, match="specials=\\['<unk>'\\]"):  # no <unk>: say how to get one
        build_vocab_from_iterator(LINES)["zebra"]


def test_lookup_contains_and_copies():
    vocab = Vocab(["a", "b", "c"])
    assert len(vocab) == 3 and "b" in vocab and "z" not in vocab
    assert vocab.lookup_token(2) == "c" and vocab.lookup_tokens([2, 0]) == ["c", "a"]
    for bad in (3, -1):
        with pytest.raises(IndexError, match="out of"):
            vocab.lookup_token(bad)
    vocab.get_itos().append("x")
    vocab.get_stoi()["x"] = 9
    assert vocab.get_itos() == ["a", "b", "c"] and vocab.get_stoi() == {"a": 0, "b": 1, "c": 2}


def test_insert_and_append_token():
    vocab = Vocab(["a", "b", "c"], default_index=0)
    vocab.insert_token("x", 1)
    assert vocab.get_itos() == ["a", "x", "b", "c"] and vocab["c"] == 3 and vocab["x"] == 1
    vocab.append_token("z")
    assert vocab["z"] == 4 and vocab.lookup_token(4) == "z"
    assert vocab.get_default_index() == 0  # left as it is, as in torchtext
    with pytest.raises(ValueError, match="already"):
        vocab.append_token("a")
    with pytest.raises(ValueError, match="already"):
        Vocab(["a", "a"])
    with pytest.raises(IndexError):
        vocab.insert_token("new", 9)


# ----------------------------------------------------------------------------- persistence
def make_vocab() -> Vocab:
    vocab = build_vocab_from_iterator([["café", "日本", "the", "the", '"quoted"', "tab\there"]], specials=[UNK, EOS])
    vocab.set_default_index(vocab[UNK])
    return vocab


def test_json_round_trip(tmp_path):
    vocab, path = make_vocab(), tmp_path / "vocab.json"
    vocab.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "seqkit.vocab" and data["version"] == 1
    loaded = Vocab.load(path)
    assert loaded == vocab and loaded.get_itos() == vocab.get_itos() and loaded.get_default_index() == 0
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_dict_round_trip_through_a_weights_only_checkpoint(tmp_path):
    vocab = make_vocab()
    assert Vocab.from_dict(vocab.to_dict()) == vocab
    torch.save({"state_dict": {"w": torch.zeros(2)}, "vocab": vocab.to_dict()}, tmp_path / "ckpt.pt")
    checkpoint = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert Vocab.from_dict(checkpoint["vocab"]) == vocab


GOOD = {"format": "seqkit.vocab", "version": 1, "itos": ["<unk>", "a"], "default_index": 0}


@pytest.mark.parametrize("content, message", [
    (json.dumps({**GOOD, "format": "torchtext"}).encode(), "not a seqkit vocabulary"),
    (json.dumps(["<unk>", "a"]).encode(), "not a seqkit vocabulary"),
    (json.dumps({**GOOD, "itos": ["<unk>", "a", "b", "a"]}).encode(), "'a' appears twice.*1 and 3"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "itos"}).encode(), "lacks 'itos'"),
    (json.dumps({**GOOD, "version": 2}).encode(), "version 2"),
    (json.dumps({**GOOD, "itos": ["a", 7]}).encode(), "\\[1\\] is 7"),
    (json.dumps({**GOOD, "default_index": "0"}).encode(), "default_index"),
    (b'{"format": "seqkit.vocab", "itos": [', "not valid JSON.*line 1"),
    ('{"itos": ["café"]}'.encode("latin-1"), "not UTF-8.*line 1"),
])
def test_bad_vocabulary_files_give_data_error(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        Vocab.load(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_missing_vocabulary_file(tmp_path):
    with pytest.raises(DataError, match="no such vocabulary file"):
        Vocab.load(tmp_path / "nothing.json")


# ----------------------------------------------------------------------------- read_lines
def test_read_lines_refuses_missing_empty_and_folders(tmp_path):
    with pytest.raises(DataError, match="no such"):
        read_lines(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="folder"):
        read_lines(tmp_path)
    for content in (b"", b" \n\n\t \n"):
        (tmp_path / "empty.txt").write_bytes(content)
        with pytest.raises(DataError, match="empty"):
            read_lines(tmp_path / "empty.txt")


def test_read_lines_points_at_the_first_byte_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    data = "first line\nsecond café line\nthird ré\n".encode("latin-1")
    path.write_bytes(data)
    with pytest.raises(DataError) as caught:
        read_lines(path)
    message = str(caught.value)
    assert str(path) in message and "line 2" in message
    offset = data.index("é".encode("latin-1"))
    assert f"byte offset {offset} " in message and "0xe9" in message
    assert "iconv -f latin1 -t utf-8" in message


def test_read_lines_drops_a_bom_and_knows_every_line_ending(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes(b"\xef\xbb\xbfhello world\nbye\n")
    assert read_lines(path) == ["hello world", "bye"]
    for content in (b"a\r\n\r\nb\r\n", b"a\r\rb", b"a\n\nb"):  # blank lines kept, last newline optional
        path.write_bytes(content)
        assert read_lines(path) == ["a", "", "b"]


# ----------------------------------------------------------------------------- encode
def test_encode_appends_eos_to_every_line_and_maps_unknown_words_to_unk():
    tokenize = get_tokenizer("whitespace")
    vocab = build_vocab_from_iterator([tokenize("the cat")], specials=[UNK, EOS])
    vocab.set_default_index(vocab[UNK])
    ids = encode(["the cat", "", "the dog"], tokenize, vocab)
    assert ids.dtype == torch.int64 and ids.shape == (7,)
    assert vocab.lookup_tokens(ids.tolist()) == ["the", "cat", EOS, EOS, "the", UNK, EOS]
    assert encode(iter(["the cat"]), tokenize, vocab, eos=None).tolist() == vocab(["the", "cat"])
    assert encode([], tokenize, vocab).shape == (0,)


def test_encode_without_default_index_names_the_line():
    tokenize = get_tokenizer("whitespace")
    vocab = build_vocab_from_iterator([tokenize("the cat")], specials=[EOS])
    with pytest.raises(TokenNotFoundError, match="line 3: token 'dog'"):
        encode(["the cat", "", "the dog"], tokenize, vocab)


# ----------------------------------------------------------------------------- real data
def test_ptb_has_the_published_counts(corpora):
    path = corpora / "ptb" / "ptb.train.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    lines = read_lines(path)
    tokenize = get_tokenizer("whitespace")
    vocab = build_vocab_from_iterator(map(tokenize, lines), specials=[EOS])
    assert len(vocab) == 10_000 and UNK in vocab  # PTB writes rare words as <unk> itself
    ids = encode(lines, tokenize, vocab)
    assert len(lines) == 42_068 and ids.numel() == 929_589
    assert (ids == vocab[EOS]).sum().item() == len(lines)


def test_wikitext2_has_the_counts_of_word_language_model(corpora):
    path = corpora / "wikitext-2" / "train.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    lines = read_lines(path)
    tokenize = get_tokenizer("whitespace")
    vocab = build_vocab_from_iterator(map(tokenize, lines), specials=[EOS])
    ids = encode(lines, tokenize, vocab)
    assert (len(lines), ids.numel(), len(vocab)) == (36_718, 2_088_628, 33_278)


def test_basic_english_equals_the_regex_rules_on_real_sentences(corpora):
    path = corpora / "sst2" / "train.tsv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    for line in read_lines(path)[:3000]:
        assert tokenize_basic_english(line) == torchtext_basic_english(line), line
