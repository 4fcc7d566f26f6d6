"""The dataset catalog: local override, checksum verification, downloads through pooch over real (loopback) HTTP, archives."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from seqkit.data import catalog
from seqkit.errors import DataError


def _entry(tmp_path: Path, url, sha_ok: bool = True, fail_once: bool = False) -> catalog.CatalogEntry:
    """A catalog entry whose 'remote' files are served over HTTP from `tmp_path/remote` (`url`: conftest's http_files)."""
    remote = tmp_path / "remote"
    remote.mkdir(exist_ok=True)
    splits = {}
    for split in ("train", "val", "test"):
        source = remote / f"{split}.txt"
        source.write_text(f"the {split} text\n")
        digest = hashlib.sha256(source.read_bytes()).hexdigest() if sha_ok else "0" * 64
        splits[split] = catalog.RemoteFile(f"{split}.txt", url(source, fail_once=fail_once), digest)
    return catalog.CatalogEntry("toy", "toy", splits, "whitespace", "a toy corpus", "public domain")


@pytest.fixture
def toy(tmp_path, monkeypatch, http_files):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    entry = _entry(tmp_path, http_files)
    monkeypatch.setitem(catalog.CATALOG, "toy", entry)
    return entry


def test_downloads_once_into_the_cache_and_verifies(toy, tmp_path):
    paths = catalog.locate("toy")
    assert paths["train"] == tmp_path / "cache" / "toy" / "train.txt"
    assert paths["val"].read_text() == "the val text\n"
    for split in ("train", "val", "test"):
        (tmp_path / "remote" / f"{split}.txt").unlink()  # the "network" is gone
    assert catalog.locate("toy") == paths  # served from the cache
    assert sorted(p.name for p in (tmp_path / "cache" / "toy").iterdir()) == ["test.txt", "train.txt", "val.txt"]


def test_a_cached_file_that_changed_is_fetched_again(toy, tmp_path):
    paths = catalog.locate("toy")
    paths["val"].write_text("damaged\n")
    assert catalog.locate("toy")["val"].read_text() == "the val text\n"


def test_a_failed_request_is_tried_again(tmp_path, monkeypatch, http_files, capfd):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.setitem(catalog.CATALOG, "toy", _entry(tmp_path, http_files, fail_once=True))  # each file: 503 first
    assert catalog.locate("toy")["test"].read_text() == "the test text\n"
    monkeypatch.setattr(catalog, "RETRIES", 0)
    monkeypatch.setitem(catalog.CATALOG, "toy2", dataclasses.replace(
        _entry(tmp_path, http_files, fail_once=True), name="toy2", folder="toy2"))
    with pytest.raises(DataError, match=r"could not download toy2 \(train.txt\) from http://127.0.0.1:\d+/remote/"
                                        r"train.txt: HTTPError"):
        catalog.locate("toy2")
    assert "100%" in capfd.readouterr().err  # pooch's progress bar



def test_an_empty_seqkit_data_or_cache_counts_as_unset(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", "")  # as `SEQKIT_DATA= seqkit fit ...` leaves it
    assert catalog.locate("toy")["train"] == tmp_path / "cache" / "toy" / "train.txt"
    monkeypatch.setenv("SEQKIT_CACHE", "")
    assert catalog.cache_dir() == Path.home() / ".cache" / "seqkit"

def test_a_download_with_the_wrong_checksum_leaves_nothing(tmp_path, monkeypatch, http_files):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.setattr(catalog, "RETRIES", 0)
    monkeypatch.setitem(catalog.CATALOG, "toy", _entry(tmp_path, http_files, sha_ok=False))
    with pytest.raises(DataError, match="nothing was kept"):
        catalog.locate("toy")
    assert list((tmp_path / "cache" / "toy").iterdir()) == []


def test_offline_says_what_to_download_and_where_to_point(toy, tmp_path):
    (tmp_path / "remote" / "train.txt").unlink()
    with pytest.raises(DataError, match=r"could not download toy \(train.txt\).*SEQKIT_DATA \(or --data.root\)"):
        catalog.locate("toy")
    with pytest.raises(DataError, match="not downloaded yet"):
        catalog.locate("toy", download=False)


def test_a_local_root_is_used_as_is_and_checked(toy, tmp_path):
    root = tmp_path / "mine"
    (root / "toy").mkdir(parents=True)
    for split in ("train", "val", "test"):
        (root / "toy" / f"{split}.txt").write_text(f"the {split} text\n")
    assert catalog.locate("toy", root=root)["test"] == root / "toy" / "test.txt"
    (root / "toy" / "val.txt").write_text("another version\n")
    with pytest.raises(DataError, match="not the catalog's"):
        catalog.locate("toy", root=root)
    (root / "toy" / "val.txt").unlink()
    with pytest.raises(DataError, match=r"lacks \['val.txt'\]"):
        catalog.locate("toy", root=root)


def test_unknown_name():
    with pytest.raises(DataError, match=r"unknown dataset 'ptb3'; the catalog has \['airline', 'co2', 'etth1', 'imdb', "
                                        r"'kjv', 'm3_monthly', 'm3_other', 'm3_quarterly', 'm3_yearly', 'ptb', 'reviews', "
                                        r"'sst2', 'wikitext2'\]"):
        catalog.locate("ptb3")


def test_the_data_that_ships_with_seqkit_is_in_the_one_catalog():
    """kjv, reviews and co2 are catalog entries like the others, read by `shipped` and never downloaded."""
    assert {name: catalog.CATALOG[name].task for name in ("kjv", "reviews", "co2")} == {
        "kjv": "next_word", "reviews": "sentiment", "co2": "forecast"}
    assert not any(catalog.fetched(name) for name in ("kjv", "reviews", "co2"))
    assert catalog.fetched("ptb") and not catalog.fetched(None) and not catalog.fetched("nope")
    assert len(catalog.CATALOG["kjv"].shipped()) > 30_000  # verses
    assert {split: path.name for split, path in catalog.CATALOG["reviews"].shipped().items()} == {
        "train": "reviews.csv", "test": "reviews_test.csv"}
    assert list(catalog.CATALOG["co2"].shipped().columns) == ["date", "co2"]
    with pytest.raises(DataError, match="co2 ships with seqkit: it has no files to locate"):
        catalog.locate("co2")


@pytest.mark.parametrize("name", ["ptb", "wikitext2", "airline", "etth1"])
def test_the_local_copies_match_the_catalog(corpora, name, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(corpora))
    paths = catalog.locate(name)  # every file's sha256 checked
    assert set(paths) == ({"series"} if catalog.entry(name).task == "forecast" else {"train", "val", "test"})


# ----------------------------------------------------------------------------- archives
def _aclimdb(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A tiny tar.gz laid out as aclImdb v1 (two reviews per split and label), plus `extra` members."""
    members = {f"aclImdb/{split}/{label}/{number}_{7 if label == 'pos' else 3}.txt": f"{label} {split} {number}, "
               f"with a comma and a \"quote\"".encode()
               for split in ("train", "test") for label in ("pos", "neg") for number in (10, 2)}
    members["aclImdb/train/unsup/5_0.txt"] = b"unlabelled, left out"
    members.update(extra or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path


def _archive_entry(archive: Path, url=None, sha_ok: bool = True) -> catalog.CatalogEntry:
    digest = catalog.sha256_of(archive) if sha_ok else "0" * 64
    remote = catalog.RemoteFile("aclImdb_v1.tar.gz", url(archive) if url else "http://127.0.0.1:9/unused", digest)
    return catalog.CatalogEntry("toyimdb", "toyimdb", {}, "basic_english", "a toy IMDB", "public domain",
                                task="sentiment", archive=catalog.Archive(remote, {"train": "train.csv", "test": "test.csv"},
                                                                          catalog.aclimdb_to_csv))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    return tmp_path / "cache"


def test_an_archive_is_downloaded_checked_extracted_and_converted_once(tmp_path, cache, monkeypatch, http_files):
    archive = _aclimdb(tmp_path / "remote.tar.gz")
    monkeypatch.setitem(catalog.CATALOG, "toyimdb", _archive_entry(archive, http_files))
    paths = catalog.locate("toyimdb")
    assert paths == {"train": cache / "toyimdb" / "train.csv", "test": cache / "toyimdb" / "test.csv"}
    with open(paths["train"], newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["text", "label"]
    assert [row[1] for row in rows[1:]] == ["neg", "neg", "pos", "pos"]  # no unsup reviews
    assert rows[1][0] == 'neg train 2, with a comma and a "quote"'  # by review id as a number: 2 before 10
    assert sorted(p.name for p in (cache / "toyimdb").iterdir()) == ["aclImdb_v1.tar.gz", "test.csv", "train.csv"]
    archive.unlink()  # the "network" is gone
    assert catalog.locate("toyimdb") == paths  # converted files served from the cache
    for path in paths.values():
        path.unlink()
    assert catalog.locate("toyimdb", download=False) == paths  # converted again from the cached archive


def test_an_archive_in_a_read_only_root_is_converted_into_the_cache(tmp_path, cache, monkeypatch):
    root = tmp_path / "shared"
    (root / "toyimdb").mkdir(parents=True)
    archive = _aclimdb(root / "toyimdb" / "aclImdb_v1.tar.gz")
    monkeypatch.setitem(catalog.CATALOG, "toyimdb", _archive_entry(archive))
    assert catalog.locate("toyimdb", root=root)["test"] == cache / "toyimdb" / "test.csv"
    assert sorted(p.name for p in (root / "toyimdb").iterdir()) == ["aclImdb_v1.tar.gz"]  # root untouched
    archive.unlink()
    (cache / "toyimdb" / "test.csv").unlink()
    with pytest.raises(DataError, match=r"--data.root points at .* holds neither aclImdb_v1.tar.gz nor "
                                        r"\['test.csv', 'train.csv'\]"):
        catalog.locate("toyimdb", root=root)


@pytest.mark.parametrize("member", ["../evil.txt", "aclImdb/../../evil.txt", "/tmp/evil.txt"])
def test_an_archive_member_outside_the_folder_is_refused(tmp_path, cache, monkeypatch, member, http_files):
    archive = _aclimdb(tmp_path / "remote.tar.gz", {member: b"gotcha"})
    monkeypatch.setitem(catalog.CATALOG, "toyimdb", _archive_entry(archive, http_files))
    with pytest.raises(DataError, match="would be written outside the folder it is extracted into; refused"):
        catalog.locate("toyimdb")
    assert not (tmp_path / "evil.txt").exists() and not (cache / "evil.txt").exists()
    assert sorted(p.name for p in (cache / "toyimdb").iterdir()) == ["aclImdb_v1.tar.gz"]  # no converted files, no temp


def test_an_archive_with_the_wrong_checksum_leaves_nothing(tmp_path, cache, monkeypatch, http_files):
    monkeypatch.setattr(catalog, "RETRIES", 0)
    monkeypatch.setitem(catalog.CATALOG, "toyimdb", _archive_entry(_aclimdb(tmp_path / "remote.tar.gz"), http_files,
                                                                   sha_ok=False))
    with pytest.raises(DataError, match="nothing was kept"):
        catalog.locate("toyimdb")
    assert list((cache / "toyimdb").iterdir()) == []


def test_the_imdb_and_sst2_entries():
    imdb = catalog.entry("imdb", task="sentiment")
    assert imdb.archive.file.url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert imdb.archive.file.sha256 == "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    assert catalog.entry("sst2").splits["train"].url.endswith("/glue_data/SST-2/train_full.tsv")
    with pytest.raises(DataError, match=r"dataset 'sst2' is for sentiment, not next_word; the next_word datasets are "
                                        r"\['kjv', 'ptb', 'wikitext2'\]"):
        catalog.entry("sst2", task="next_word")
