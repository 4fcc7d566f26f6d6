"""The sentiment DataModule: label map and vocabulary from train only, stratified split, padding, bucketing, bad files."""

from __future__ import annotations

from seqkit.text import tokenize_basic_english

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest
import torch

from seqkit.data import SentimentData, TextBatch, catalog
from seqkit.data.sentiment import BucketSampler, pad_texts, read_table, sorted_labels, stratified_split
from seqkit.errors import DataError
from seqkit.text import PAD, UNK, Vocab

ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, rows: list[tuple[str, object]], header: str = "text,label") -> Path:
    lines = [header] + [f'"{text}",{label}' for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def first_tokens(data: SentimentData, split: str) -> list[int]:
    """The first token id of every example of `split`, in dataset order."""
    texts = data.data[split]
    return [int(texts[i][0][0]) for i in range(len(texts))]


# ----------------------------------------------------------------------------- labels, split, vocabulary
def test_label_map_and_vocabulary_come_from_the_training_split_only(tmp_path):
    train = write_csv(tmp_path / "train.csv", [("a fine film", "pos"), ("a dull film", "neg"), ("fine acting", "pos")])
    val = write_csv(tmp_path / "val.csv", [("a fine unseen word", "pos"), ("dull", "neg")])
    data = SentimentData(train_path=str(train), val_path=str(val), batch_size=2)
    data.setup("fit")
    assert data.labels == ["neg", "pos"]  # sorted, index -> label
    assert data.vocab.get_itos()[:2] == [UNK, PAD] and data.pad_index == 1
    assert "unseen" not in data.vocab and "word" not in data.vocab
    assert data.data["val"][0][0].tolist() == data.vocab(["a", "fine", UNK, UNK])
    assert data.data["train"].labels.tolist() == [1, 0, 1]
    assert data.class_counts.tolist() == [1, 2]
    assert data.oov_rate == 0.0
    (tmp_path / "val.csv").write_text('text,label\n"good",pos\n"meh",mixed\n"bad",neg\n"eh",mixed\n')
    data = SentimentData(train_path=str(train), val_path=str(val))
    with pytest.raises(DataError, match=r"val.csv: label \['mixed'\] at lines 3, 5 is not among the labels of the "
                                        r"training split, \['neg', 'pos'\]"):
        data.setup("fit")


def test_integer_labels_sort_numerically_and_stay_strings(tmp_path):
    assert sorted_labels({"10", "2", "1", "-1"}) == ["-1", "1", "2", "10"]
    assert sorted_labels({"10", "2", "b"}) == ["10", "2", "b"]
    rows = [(f"text number {i}", [1, 10, 2][i % 3]) for i in range(30)]
    data = SentimentData(train_path=str(write_csv(tmp_path / "train.csv", rows)))
    data.setup("fit")
    assert data.labels == ["1", "2", "10"]


def test_stratified_split_keeps_proportions_and_depends_only_on_the_seed(tmp_path):
    labels = ["a"] * 150 + ["b"] * 47 + ["c"] * 3
    train, val = stratified_split(labels, 0.2, seed=3)
    assert sorted(train + val) == list(range(200)) and not set(train) & set(val)
    assert train == sorted(train) and val == sorted(val)  # file order within each split
    held = Counter(labels[i] for i in val)
    for label, total in Counter(labels).items():
        assert abs(held[label] - 0.2 * total) <= 1, label  # within one row
    assert stratified_split(labels, 0.2, seed=3) == (train, val)
    assert stratified_split(labels, 0.2, seed=4) != (train, val)

    rows = [(f"row {i}", label) for i, label in enumerate(labels)]
    path = write_csv(tmp_path / "train.csv", rows)
    one, two = (SentimentData(train_path=str(path), val_fraction=0.2, seed=3) for _ in range(2))
    one.setup("fit"), two.setup("fit")
    assert one.data["val"].lines == two.data["val"].lines == [i + 2 for i in val]  # header is line 1
    assert len(one.data["train"]) + len(one.data["val"]) == 200


def test_a_label_seen_once_cannot_be_stratified(tmp_path):
    path = write_csv(tmp_path / "train.csv", [("good", "pos"), ("fine", "pos"), ("bad", "neg"), ("awful", "neg"),
                                              ("odd", "weird")])
    with pytest.raises(DataError, match=r"label 'weird' occurs only once \(line 6\).*or give --data.val_path"):
        SentimentData(train_path=str(path)).setup("fit")


# ----------------------------------------------------------------------------- batches
def test_batches_pad_to_their_own_longest_text(tmp_path):
    rows = [("one", "x"), ("one two three", "y"), ("one two", "x"), ("a b c d e f g", "y")]
    data = SentimentData(train_path=str(write_csv(tmp_path / "t.csv", rows)), val_path=str(tmp_path / "t.csv"),
                         eval_batch_size=3)
    data.setup("fit")
    first, second = list(data.val_dataloader())  # file order
    assert isinstance(first, TextBatch)
    assert first.tokens.shape == (3, 3) and first.tokens.dtype == torch.int64
    assert first.lengths.tolist() == [1, 3, 2] and first.labels.tolist() == [0, 1, 0]
    assert first.tokens[0, 1:].tolist() == [data.pad_index] * 2 and first.tokens[2, 2] == data.pad_index
    assert second.tokens.shape == (1, 7)  # its own longest, not the corpus's
    batch = pad_texts([torch.tensor([5, 6]), torch.tensor([7])], pad_index=1)
    assert batch.tokens.tolist() == [[5, 6], [7, 1]] and batch.lengths.tolist() == [2, 1] and batch.labels is None
    with pytest.raises(ValueError, match="has no tokens"):
        pad_texts([torch.tensor([5]), torch.empty(0, dtype=torch.int64)], pad_index=1)


def test_bucketing_cuts_padding_and_serves_every_row_once_per_epoch(tmp_path):
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 80, (1000,), generator=generator).tolist()
    rows = [(" ".join([f"w{i}"] + ["x"] * (n - 1)), i % 2) for i, n in enumerate(lengths)]
    path = write_csv(tmp_path / "train.csv", rows)

    def padding(loader) -> tuple[int, list[int]]:
        pads, firsts = 0, []
        for batch in loader:
            pads += int(batch.tokens.numel() - batch.lengths.sum())
            firsts += batch.tokens[:, 0].tolist()
        return pads, firsts

    bucketed = SentimentData(train_path=str(path), val_path=str(path), batch_size=16, eval_batch_size=16)
    bucketed.setup("fit")
    every_row = sorted(first_tokens(bucketed, "train"))
    loader = bucketed.train_dataloader()
    pads, firsts = padding(loader)
    file_order, _ = padding(bucketed.val_dataloader())  # the same rows in file order
    assert pads < file_order / 5
    assert sorted(firsts) == every_row  # each row once
    loader.sampler.set_epoch(1)
    _, again = padding(loader)
    assert sorted(again) == every_row and again != firsts  # a new order each epoch
    loader.sampler.set_epoch(0)
    assert padding(loader)[1] == firsts  # ... that depends on the seed and epoch only

    plain = SentimentData(train_path=str(path), val_path=str(path), batch_size=16, bucketing=False)
    plain.setup("fit")
    plain_pads, plain_firsts = padding(plain.train_dataloader())
    assert sorted(plain_firsts) == every_row and plain_pads > 3 * pads


def test_bucket_sampler_sorts_within_pools_and_keeps_the_short_batch_last():
    sampler = BucketSampler(torch.arange(1, 104).flip(0), batch_size=10, seed=1, pool_batches=20)
    order = list(sampler)
    assert sorted(order) == list(range(103))
    batches = [sampler.lengths[order[i : i + 10]] for i in range(0, 103, 10)]
    # One pool holds every text: each full batch is ten neighbours in length, in shuffled batch order.
    assert all(batch.tolist() == list(range(batch[0], batch[0] + 10)) for batch in batches[:-1])
    assert [int(batch[0]) for batch in batches[:-1]] != sorted(int(batch[0]) for batch in batches[:-1])
    assert batches[-1].tolist() == [101, 102, 103]  # the short batch, last


def test_max_length_cuts_texts_and_predict_encoding(tmp_path):
    rows = [("one two three four five six", "x"), ("one two", "y"), ("three", "x"), ("four five", "y")]
    data = SentimentData(train_path=str(write_csv(tmp_path / "t.csv", rows)), val_path=str(tmp_path / "t.csv"),
                         max_length=3)
    data.setup("fit")
    assert data.data["train"].lengths.tolist() == [3, 2, 1, 2]
    assert "six" not in data.vocab  # only the tokens the model sees
    ids = data.encode_texts(["one two three four", "", "?!", "unheard of"])
    assert [t.tolist() for t in ids] == [data.vocab(["one", "two", "three"]), [data.vocab[UNK]],
                                         data.vocab(["?", "!"]), [data.vocab[UNK]] * 2]
    batch = data.batch_texts(["one", "two three"])
    assert batch.tokens.shape == (2, 2) and batch.labels is None


# ----------------------------------------------------------------------------- formats
def test_csv_tsv_and_jsonl_read_the_same_rows(tmp_path):
    rows = [('a "quoted" word, and a comma', 1), ("NA", 0), ("null", 1), ("plain text", 0)]
    csv_path = tmp_path / "r.csv"
    csv_path.write_text('text,label\n"a ""quoted"" word, and a comma",1\nNA,0\nnull,1\nplain text,0\n')
    tsv_path = tmp_path / "r.tsv"
    tsv_path.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows))
    jsonl_path = tmp_path / "r.jsonl"
    jsonl_path.write_text("".join(json.dumps({"label": label, "text": text}) + "\n" for text, label in rows))
    read = [read_table(path, "text", "label") for path in (csv_path, tsv_path, jsonl_path)]
    for table in read:
        assert table.texts == [text for text, _ in rows]  # "NA" and "null" stay texts
        assert table.labels == ["1", "0", "1", "0"]  # JSON integers become the strings a CSV holds
    assert read[0].lines == read[1].lines == [2, 3, 4, 5] and read[2].lines == [1, 2, 3, 4]
    data = SentimentData(train_path=str(jsonl_path), val_path=str(tsv_path))
    data.setup("fit")
    assert data.labels == ["0", "1"] and "na" in data.vocab and "null" in data.vocab


def test_lines_count_multiline_texts_and_blank_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('text,label\n"two\nlines",pos\n\n"",neg\nok,\n')
    table = read_table(path, "text", "label")
    assert table.lines == [2, 5, 6] and table.texts == ["two\nlines", "", "ok"]
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n\n{"text": null, "label": null}\n')
    table = read_table(jsonl, "text", "label")
    assert table.lines == [1, 3] and table.texts == ["a", ""] and table.labels == ["1", ""]


def test_the_sample_reviews_file():
    data = SentimentData(train_path=str(ROOT / "datasets" / "reviews.csv"), text_column="review", label_column="label")
    data.setup("fit")
    assert data.labels == ["negative", "positive"]
    assert len(data.data["val"]) == 33 and len(data.data["train"]) == 301  # 10% of each label held out
    assert data.class_counts.tolist() == [148, 153]


# ----------------------------------------------------------------------------- bad input
BAD = [
    ("missing.csv", None, r"missing.csv: no such CSV file"),
    ("empty.csv", b"", r"empty.csv: the file is empty"),
    ("blank.csv", b"\n  \n", r"blank.csv: the file is empty"),
    ("header.csv", b"text,label\n", r"header.csv: the file has a header but no rows"),
    ("latin1.csv", b"text,label\ngood,1\ncaf\xe9 au lait,0\n", r"latin1.csv: not UTF-8 text: line 3, byte offset 21"),
    ("columns.csv", b"review,stars\ngood,5\n", r"columns.csv: no column 'text' \(--data.text_column\) or 'label' "
                                               r"\(--data.label_column\); the columns are \['review', 'stars'\]$"),
    ("tabs.csv", b"text\tlabel\ngood\t1\n", r"no column 'text'.*the columns are \['text\\tlabel'\]; only one column "
                                            r"was found, so the delimiter probably does not match.*TSV"),
    ("ragged.csv", b"text,label\ngood,1\nbad, really bad,0\n", r"ragged.csv: not a well-formed CSV file: Expected 2 "
                                                                r"fields in line 3, saw 3"),
    ("extra.csv", b"text,label\ngood,1,x\nbad,0,y\n", r"extra.csv: every row has more fields than the header"),
    ("labels.csv", b"text,label\ngood,1\nbad,\nugly, \n", r"labels.csv: 2 rows have no label in column 'label' "
                                                           r"\(lines 3, 4\)"),
    ("bad.jsonl", b'{"text": "a", "label": 1}\n{"text": "b", "label": }\n', r"bad.jsonl: line 2 is not valid JSON"),
    ("array.json", b'[{"text": "a", "label": 1}]', r"array.json: holds a JSON array; write JSON Lines"),
    ("reviews.xlsx", b"whatever", r"reviews.xlsx: unknown file type '.xlsx'"),
]


@pytest.mark.parametrize("name,content,message", BAD, ids=[name for name, _, _ in BAD])
def test_bad_files_get_one_clear_error_and_stay_untouched(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    data = SentimentData(train_path=str(path), val_path=str(path))
    with pytest.raises(DataError, match=message) as error:
        data.setup("fit")
    assert "\n" not in str(error.value)  # one line
    if content is not None:
        assert path.read_bytes() == content


def test_empty_texts_are_skipped_with_a_warning_or_refused(tmp_path):
    content = b'text,label\ngood,1\n"",0\n   ,1\n"""",0\nbad,0\nfine,1\nNA,0\n'
    path = tmp_path / "train.csv"
    path.write_bytes(content)
    data = SentimentData(train_path=str(path), val_path=str(path))
    with pytest.warns(UserWarning, match=r"train.csv: skipped 3 of 7 rows whose text in column 'text' is empty or "
                                         r"has no tokens \(lines 3, 4, 5\)"):
        data.setup("fit")
    assert data.data["train"].lines == [2, 6, 7, 8]  # `""""` is one quote, which basic_english drops
    with pytest.raises(DataError, match=r"3 rows have an empty text in column 'text' .*at lines 3, 4, 5; fill"):
        SentimentData(train_path=str(path), val_path=str(path), on_empty="error").setup("fit")
    assert path.read_bytes() == content
    path.write_bytes(b"text,label\n,1\n,0\n")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="every row's text in column 'text' is empty"):
        SentimentData(train_path=str(path), val_path=str(path)).setup("fit")


def test_the_file_you_name_replaces_the_recipes_dataset(tmp_path, capsys):
    table = tmp_path / "mine.csv"
    table.write_text("text,label\n" + "".join(f"{'good' if i % 2 else 'bad'} thing {i},{i % 2}\n" for i in range(40)))
    data = SentimentData(dataset="sst2", train_path=str(table))
    assert data.dataset is None and data.text_column == "text"
    data.prepare_data()  # no download of sst2
    assert f"seqkit: data: train {table} (texts in 'text', labels in 'label'), validation a stratified 10% of it, " \
           "test none (in place of the recipe's dataset sst2)" in capsys.readouterr().err
    data.setup("fit")
    assert data.labels == ["0", "1"]


def test_the_shipped_review_sample_reads_offline(monkeypatch, capsys):
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    data = SentimentData(dataset="reviews")
    data.prepare_data()
    assert "seqkit: data: reviews, 334 short reviews, positive or negative" in capsys.readouterr().err
    data.setup("fit")
    assert data.labels == ["negative", "positive"] and len(data.data["train"]) + len(data.data["val"]) == 334
    assert len(data.data["test"]) == 94  # the held-out reviews, none of them a training text
    from seqkit import packaged

    words = [{" ".join(tokenize_basic_english(text)) for text in read_table(packaged.sample(name), "review", "label").texts}
             for name in ("reviews.csv", "reviews_test.csv")]
    assert len(words[0]) == 334 and len(words[1]) == 94 and not words[0] & words[1]


def test_argument_errors():
    with pytest.raises(DataError, match=r"give --data.dataset \(imdb, reviews, sst2\) or your own --data.train_path"):
        SentimentData()
    with pytest.raises(DataError, match=r"dataset 'ptb' is for next_word, not sentiment; the sentiment datasets are "
                                        r"\['imdb', 'reviews', 'sst2'\]"):
        SentimentData(dataset="ptb")
    with pytest.raises(DataError, match="on_empty must be one of"):
        SentimentData(train_path="x.csv", on_empty="drop")
    with pytest.raises(DataError, match="max_length must be at least 1"):
        SentimentData(train_path="x.csv", max_length=0)
    with pytest.raises(DataError, match="both 'text'"):
        SentimentData(train_path="x.csv", label_column="text")


# ----------------------------------------------------------------------------- fine-tuning
def test_a_given_vocabulary_and_label_map_are_kept(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("good film", "pos"), ("bad film", "neg"), ("good", "pos")])
    lm_vocab = Vocab([UNK, "<eos>", "film", "good"], default_index=0)  # a language model's: no <pad>
    data = SentimentData(train_path=str(path), val_path=str(path))
    data.use_vocab(lm_vocab)
    data.use_labels(["pos", "neg"])  # a checkpoint's order, not sorted
    data.setup("fit")
    assert data.vocab is lm_vocab and data.pad_index == 0
    assert data.data["train"][1][0].tolist() == [0, 2] and data.data["train"].labels.tolist() == [0, 1, 0]
    data.use_labels(["neg", "pos"])  # after setup: encoded again
    assert data.data["train"].labels.tolist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"label \['pos'\] at lines 2, 4 is not among the labels given"):
        data.use_labels(["neg", "mixed"])


# ----------------------------------------------------------------------------- catalog datasets
def test_sst2_from_the_corpora_folder(corpora):
    data = SentimentData(dataset="sst2", root=str(corpora))
    data.setup("fit")
    assert len(data.data["train"]) == 67_349 and len(data.data["val"]) == 872
    assert data.labels == ["negative", "positive"] and data.class_counts.tolist() == [29_780, 37_569]
    assert data.data["val"].labels.sum() == 444  # positive dev sentences
    with pytest.raises(DataError, match="sst2 has no labelled test split"):
        data.test_dataloader()


def test_imdb_from_its_archive(tmp_path, monkeypatch, http_files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split in ("train", "test"):
            for label, words in (("pos", "a wonderful film"), ("neg", "a tedious film")):
                for number in range(3):
                    text = f"{words}, review {number} of {split}<br /><br />the end".encode()
                    member = tarfile.TarInfo(f"aclImdb/{split}/{label}/{number}_{7 if label == 'pos' else 2}.txt")
                    member.size = len(text)
                    tar.addfile(member, io.BytesIO(text))
    archive_path = tmp_path / "aclImdb_v1.tar.gz"
    archive_path.write_bytes(buffer.getvalue())
    real = catalog.CATALOG["imdb"]
    remote = catalog.RemoteFile(real.archive.file.name, http_files(archive_path), catalog.sha256_of(archive_path))
    monkeypatch.setitem(catalog.CATALOG, "imdb", catalog.CatalogEntry(
        **{**real.__dict__, "archive": catalog.Archive(remote, real.archive.splits, real.archive.convert)}))
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    data = SentimentData(dataset="imdb", val_fraction=0.34)
    data.prepare_data()
    data.setup("fit")
    assert data.labels == ["neg", "pos"]
    assert len(data.data["test"]) == 6 and len(data.data["train"]) == 4 and len(data.data["val"]) == 2
    assert "tedious" in data.vocab and "<br" not in data.vocab
