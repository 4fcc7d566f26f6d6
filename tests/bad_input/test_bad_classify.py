"""`seqkit classify` given bad tables, texts or outputs: one line each, and no file written or changed."""

from __future__ import annotations

import pytest

from seqkit.cli import main as seqkit
from seqkit.errors import DataError, SeqkitError

CLASSIFY = ["classify", "--ckpt_path", "{sentiment}", "--input", "{input}", "--output", "{out}"]

MISUSES = [  # (what is wrong, the files in the folder, the command, the error, what it says)
    ("--input without the text column", {"in.csv": "review,label\ngreat,pos\n"}, CLASSIFY, DataError,
     r"{input} has no column 'text'; its columns are \['review', 'label'\] \(set --text_column\)"),
    ("--input not UTF-8", {"in.csv": "text\nvery good\ntr\xe8s bien\n".encode("latin-1")}, CLASSIFY, DataError,
     r"{input}: not UTF-8 text: line 3"),
    ("--input JSON Lines with a broken line", {"in.jsonl": '{"text": "good"}\n{"text": \n'}, CLASSIFY, DataError,
     r"{input}: line 2 is not valid JSON"),
    ("--input JSON Lines with a text that is an object", {"in.jsonl": '{"text": "good"}\n{"text": {"a": 1}}\n'},
     CLASSIFY, DataError, r"{input}: row 2: 'text' is a JSON object, not a text; write it as a string"),
    ("--input with a column named twice", {"in.csv": "text,text\ngood,bad\n"}, CLASSIFY, DataError,
     r"{input}: the header names the column 'text' twice \(fields 1 and 2\)"),
    ("--input UTF-16 without a byte order mark", {"in.csv": "text\ngood\n".encode("utf-16-le")}, CLASSIFY, DataError,
     r"{input}: holds NUL bytes \(the first at byte offset 1\): binary data, or UTF-16/32 text without a byte order mark"),
    ("--input of binary zeros", {"in.csv": bytes(200_000)}, CLASSIFY, DataError,
     r"{input}: holds NUL bytes \(the first at byte offset 0\)"),
    ("--input gzip named .csv", {"in.csv": b"\x1f\x8b\x08\x00 compressed"}, CLASSIFY, DataError,
     r"{input}: is a gzip-compressed file, not a CSV file; decompress it first"),
    ("--output is the --input", {"in.csv": "text\ngreat\n"}, CLASSIFY[:-1] + ["{input}"], SeqkitError,
     r"--output {input} is the input file; write elsewhere"),
    ("--output exists", {"in.csv": "text\ngreat\n", "out.csv": "mine,keep me\n"}, CLASSIFY, SeqkitError,
     r"out.csv exists; pass --force to overwrite it"),
    ("--output of an unknown format", {"in.csv": "text\ngreat\n"}, CLASSIFY[:-1] + ["{folder}/out.xlsx"], SeqkitError,
     r"--output {folder}/out.xlsx: seqkit writes .csv"),
    ("--output in a folder that does not exist", {"in.csv": "text\ngreat\n"}, CLASSIFY[:-1] + ["{folder}/no/out.csv"],
     SeqkitError, r"the folder {folder}/no does not exist; create it first"),
    ("--device cuda without a GPU", {"in.csv": "text\ngreat\n"}, CLASSIFY + ["--device", "cuda"], SeqkitError,
     r"--device cuda: this machine has no CUDA device that torch can use"),
]


@pytest.mark.parametrize("files, argv, error, message", [case[1:] for case in MISUSES], ids=[c[0] for c in MISUSES])
def test_classify_given_something_bad_stops_with_one_line_and_writes_nothing(files, argv, error, message, misuse):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    misuse(files, argv, error, message)


def test_the_shell_gets_one_line_and_exit_status_2(made, tmp_path, capsys):
    table = tmp_path / "in.csv"
    table.write_text("review\ngreat\n")
    code = seqkit(["classify", "--ckpt_path", str(made["sentiment"]), "--input", str(table), "--output",
                   str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"seqkit classify: error: {table} has no column 'text'; its columns are ['review'] "
                                 "(set --text_column)\n")


def test_classify_with_nothing_to_classify_says_so(tmp_path, capsys):
    assert seqkit(["classify", "--ckpt_path", str(tmp_path / "x.ckpt")]) == 2
    assert "nothing to classify: give texts" in capsys.readouterr().err


def test_an_empty_text_is_classified_with_a_warning(made):
    with pytest.warns(UserWarning, match="empty"):
        assert seqkit(["classify", "--ckpt_path", str(made["sentiment"]), ""]) == 0


def test_blank_cells_in_the_input_are_classified_with_a_warning(made, tmp_path):
    table = tmp_path / "in.csv"
    table.write_text('text\ngreat\n""\n   \n')
    with pytest.warns(UserWarning, match="empty"):
        assert seqkit(["classify", "--ckpt_path", str(made["sentiment"]), "--input", str(table), "--output",
                       str(tmp_path / "out.csv")]) == 0
    assert table.read_text() == 'text\ngreat\n""\n   \n'


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_a_table_in_utf16_or_utf32_with_its_byte_order_mark_is_read_as_such(encoding, made, tmp_path):
    """The byte order mark says the encoding; the texts are classified as the same table in UTF-8 is."""
    import pandas as pd

    texts = "text\na lovely film\nit broke after a day\n"
    (tmp_path / "plain.csv").write_text(texts, encoding="utf-8")
    (tmp_path / "marked.csv").write_bytes(texts.encode(encoding))
    for name in ("plain", "marked"):
        assert seqkit(["classify", "--ckpt_path", str(made["sentiment"]), "--input", str(tmp_path / f"{name}.csv"), "--output",
                       str(tmp_path / f"{name}-out.csv")]) == 0
    plain, marked = (pd.read_csv(tmp_path / f"{name}-out.csv") for name in ("plain", "marked"))
    pd.testing.assert_frame_equal(plain, marked)


def test_a_text_of_a_million_words_is_read_up_to_a_bound_and_said(tmp_path):
    import torch

    from seqkit.tasks.labelling import MAX_WORDS, encode

    class Model:  # what encode reads of a classifier trained without --data.max_length
        tokenizer_name, max_length = "basic_english", None
        vocab = __import__("seqkit.text", fromlist=["Vocab"]).Vocab(["<unk>", "good"], default_index=0)

    with pytest.warns(UserWarning, match=r"1 of the texts are longer than 20,000 words: each is read up to its 20,000th"):
        ids = encode(Model(), ["good " * 1_000_000, "good"])
    assert [len(i) for i in ids] == [MAX_WORDS, 1] and bool((ids[0] == 1).all())
    Model.max_length = 50  # trained with a length: cut to it, as in training, without a word
    assert [len(i) for i in encode(Model(), ["good " * 1_000_000])] == [50]
    assert isinstance(ids[0], torch.Tensor)


def test_texts_cut_to_the_bound_are_counted_once_over_every_batch():
    import warnings

    import torch

    from seqkit.tasks.labelling import probabilities
    from seqkit.text import Vocab

    class Model:  # a classifier trained without --data.max_length, its answer beside the point
        tokenizer_name, max_length, labels, device = "basic_english", None, ["a", "b"], "cpu"
        vocab = Vocab(["<unk>", "good"], default_index=0)

        def eval(self):
            return self

        def __call__(self, tokens, lengths):
            return torch.zeros(len(lengths), 2)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probabilities(Model(), ["good " * 20_001] * 3 + ["good"], batch_size=1)
    notes = [str(w.message) for w in caught if "longer than" in str(w.message)]
    assert notes == ["3 of the texts are longer than 20,000 words: each is read up to its 20,000th (the model was "
                     "trained without --data.max_length)"]
