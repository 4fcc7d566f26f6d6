"""The dataset catalog: local override, checksum verification, download through a checked temp file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from seqkit.data import catalog
from seqkit.errors import DataError


def _entry(tmp_path: Path, sha_ok: bool = True) -> catalog.CatalogEntry:
    """A catalog entry whose 'remote' files are local files reached through file:// URLs."""
    remote = tmp_path / "remote"
    remote.mkdir(exist_ok=True)
    splits = {}
    for split in ("train", "val", "test"):
        source = remote / f"{split}.txt"
        source.write_text(f"the {split} text\n")
        digest = hashlib.sha256(source.read_bytes()).hexdigest() if sha_ok else "0" * 64
        splits[split] = catalog.RemoteFile(f"{split}.txt", source.as_uri(), digest)
    return catalog.CatalogEntry("toy", "toy", splits, "whitespace", "a toy corpus", "public domain")


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    entry = _entry(tmp_path)
    monkeypatch.setitem(catalog.CATALOG, "toy", entry)
    return entry


def test_downloads_once_into_the_cache_and_verifies(toy, tmp_path):
    paths = catalog.locate("toy")
    assert paths["train"] == tmp_path / "cache" / "toy" / "train.txt"
    assert paths["val"].read_text() == "the val text\n"
    for split in ("train", "val", "test"):
        (tmp_path / "remote" / f"{split}.txt").unlink()  # the "network" is gone
    assert catalog.locate("toy") == paths  # served from the cache
    assert not list((tmp_path / "cache" / "toy").glob("*.part"))


def test_a_download_with_the_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.setitem(catalog.CATALOG, "toy", _entry(tmp_path, sha_ok=False))
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
    with pytest.raises(DataError, match=r"unknown dataset 'ptb3'; the catalog has \['ptb', 'wikitext2'\]"):
        catalog.locate("ptb3")


@pytest.mark.parametrize("name", ["ptb", "wikitext2"])
def test_the_shared_copies_match_the_catalog(shared_data, name, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    paths = catalog.locate(name)
    assert set(paths) == {"train", "val", "test"}
