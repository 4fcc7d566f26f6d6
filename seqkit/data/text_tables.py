"""Tables of labelled texts: the text and label columns of a CSV, TSV, JSON Lines or Parquet file, checked.

Every cell is read as a string; labels are tidied into classes (surrounding spaces,
decimals such as 1.0) or refused (fractional scores); a split keeps each label's share
(`stratified_split`). Rows are named in messages by the line a user sees in an editor: in
a CSV or TSV file the header is line 1 and the first row line 2 (a quoted text that spans
lines counts all of them); in a JSON Lines file, each object's own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from lightning.pytorch.utilities import rank_zero_warn

from seqkit.errors import DataError
from seqkit.readers import read_delimited, read_jsonl, read_parquet, read_text

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
SHOWN_ROWS = 5  # line numbers quoted in a message before "and N more"
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass
class Table:
    """The rows of one file, as read: texts (an empty string for an empty cell), labels, lines."""

    path: Path
    texts: list[str]
    labels: list[str] | None
    lines: list[int]


def read_table(path: str | Path, text_column: str, label_column: str | None) -> Table:
    """Read the text and label columns of a CSV, TSV or JSON Lines file (the type from the extension).

    Every cell is read as a string: the texts "NA" and "null" stay texts; an empty cell
    (or a JSON null) becomes the empty string. Integer labels become their decimal
    string ("1"), as they are written in a CSV file.

    Args:
        path: the file.
        text_column: the column of the texts.
        label_column: the column of the labels, or None to read texts only.

    Returns:
        The `Table`.

    Raises:
        DataError: a missing, empty, unreadable or malformed file, a file that is not
            UTF-8, or a missing column; the message names the file and the line or columns.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; give a .csv, .tsv, .jsonl or .parquet file "
                        "(the type is taken from the extension)")
    if kind == "parquet":
        frame = read_parquet(path)
        lines = list(range(1, len(frame) + 1))  # a Parquet file has rows, not lines: row numbers from 1
    else:
        text = read_text(path, what=f"{kind.upper()} file")  # missing, a folder, not UTF-8 (with line and byte offset)
        if not text.strip():
            raise DataError(f"{path}: the file is empty; point to the file that holds the data")
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # one line ending, so that lines count the same everywhere
        frame, lines = read_jsonl(path, text) if kind == "jsonl" else read_delimited(path, text, kind)
    wanted = {"text_column": text_column, **({"label_column": label_column} if label_column else {})}
    missing = [f"{name!r} (--data.{flag})" for flag, name in wanted.items() if name not in frame.columns]
    if missing:
        found = [str(column) for column in frame.columns]
        hint = ""
        if len(found) == 1 and kind != "jsonl":
            hint = (f"; only one column was found, so the delimiter probably does not match: a {path.suffix} file is "
                    f"split at {'commas' if kind == 'csv' else 'tabs'} (is it a {'TSV' if kind == 'csv' else 'CSV'} "
                    f"file named {path.suffix}?)")
        raise DataError(f"{path}: no column {' or '.join(missing)}; the columns are {found}{hint}")
    if len(frame) == 0:
        raise DataError(f"{path}: the file has a header but no rows; point to the file that holds the data")
    for column in wanted.values():  # JSON Lines may hold an object or a list where a text or a label belongs
        odd = next((k for k, value in enumerate(frame[column].tolist()) if isinstance(value, (dict, list))), None)
        if odd is not None:
            value = frame[column].iloc[odd]
            raise DataError(f"{path}: line {lines[odd]}: {column!r} is a JSON {'object' if isinstance(value, dict) else 'array'}, "
                            f"not a {'text' if column == text_column else 'label'}; write it as a string")
    texts = [_as_text(value) for value in frame[text_column].tolist()]
    labels = _tidy_labels(path, [_as_label(value) for value in frame[label_column].tolist()]) if label_column else None
    return Table(path, texts, labels, lines)


_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+|[+-]?[0-9]+\.[0-9]*")


def _tidy_labels(path: Path, labels: list[str]) -> list[str]:
    """Labels as classes: surrounding spaces dropped (with a warning), whole numbers written as decimals made whole.

    Raises:
        DataError: labels with a fractional part (2.5): a score to regress, not a class.
    """
    stripped = [label.strip() for label in labels]
    changed = [(a, b) for a, b in zip(labels, stripped) if a != b]
    if changed:
        rank_zero_warn(f"{path}: {len(changed)} labels had spaces around them (e.g. {changed[0][0]!r}), read as "
                       f"{changed[0][1]!r}; otherwise they would be classes of their own")
    decimals = {label for label in stripped if _DECIMAL.fullmatch(label)}
    if decimals:
        fractional = sorted(label for label in decimals if float(label) != int(float(label)))
        if fractional:
            raise DataError(f"{path}: labels such as {', '.join(fractional[:3])} have a fractional part; a sentiment "
                            "recipe classifies, so give class names or whole numbers (round scores into classes)")
        stripped = [str(int(float(label))) if label in decimals else label for label in stripped]
        rank_zero_warn(f"{path}: labels written as decimals ({', '.join(sorted(decimals)[:3])}) are read as whole "
                       "numbers, so that 1.0 and 1 are one class")
    return stripped


def _as_text(value: object) -> str:
    """A cell as text: None and NaN (JSON null, a missing field) are empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def _as_label(value: object) -> str:
    """A cell as a label string: `1`, `1.0` (an integer column with a null, in pandas) and `"1"` are all "1"."""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return _as_text(value)  # surrounding spaces: _tidy_labels drops them, and says so


def sorted_labels(labels: set[str] | Sequence[str]) -> list[str]:
    """Label strings in index order: numerically if every one is an integer, else as strings.

    Args:
        labels: the distinct labels.

    Returns:
        e.g. `["1", "2", "10"]` or `["neg", "pos"]`.
    """
    distinct = set(labels)

    if distinct and all(_INTEGER.fullmatch(label) for label in distinct):
        return sorted(distinct, key=lambda label: (int(label), label))
    return sorted(distinct)


def stratified_split(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out `fraction` of every label's rows: the indices of (train, val), each in file order.

    From each label with n rows, a seeded random `round(n * fraction)` rows (at most n - 1,
    so every label stays in training) go to validation: each split keeps the labels'
    proportions to within one row.

    Args:
        labels: the label of every row.
        fraction: the share of each label to hold out, between 0 and 1.
        seed: the seed; the same seed and labels give the same split.

    Returns:
        `(train_indices, val_indices)`, both ascending.
    """
    names, inverse = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    by_label = np.argsort(inverse, kind="stable")
    groups = np.split(by_label, np.cumsum(np.bincount(inverse, minlength=len(names)))[:-1])
    rng = np.random.default_rng(seed)
    held = []
    for rows in groups:  # in label order, so the draws do not depend on the order of the rows
        count = min(len(rows) - 1, int(len(rows) * fraction + 0.5))
        held.append(rng.permutation(rows)[:count])
    val = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    keep = np.ones(len(labels), dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep).tolist(), val.tolist()


def _name_lines(lines: Sequence[int]) -> str:
    """`line 4`, `lines 4, 9, 12`, or `lines 4, 9, 12, 15, 20 and 3 more`."""
    shown = ", ".join(map(str, lines[:SHOWN_ROWS]))
    more = f" and {len(lines) - SHOWN_ROWS} more" if len(lines) > SHOWN_ROWS else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


@dataclass
class _Rows:
    """One split after tokenizing: tokens, labels and lines of the rows kept."""

    path: Path
    tokens: list[list[str]]
    labels: list[str]
    lines: list[int]

    def take(self, indices: list[int]) -> _Rows:
        return _Rows(self.path, [self.tokens[i] for i in indices], [self.labels[i] for i in indices],
                     [self.lines[i] for i in indices])


def read_table_of_texts(path: str | Path) -> pd.DataFrame:
    """A whole CSV, TSV, JSON Lines or Parquet file of texts (every column, cells as strings), to label.

    Raises:
        DataError: a missing, empty, not UTF-8 or malformed file; the message names the file and the line.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower(), "csv")  # any other extension is read as CSV
    if kind == "parquet":
        return read_parquet(path)
    text = read_text(path, what=f"{kind.upper()} file")
    if not text.strip():
        raise DataError(f"{path}: the file is empty; point to the file that holds the texts")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    frame, _ = read_jsonl(path, text) if kind == "jsonl" else read_delimited(path, text, kind)
    return frame
