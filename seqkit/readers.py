"""Reading the user's files, in one place for every data module: text, CSV, TSV, JSON Lines, Parquet.

Each reader checks what a user gets wrong (a folder or a pipe for a file, a gzip or a
workbook named .csv, a file that is not UTF-8, a malformed row) and says so in one line
that names the file and the line, as a `DataError`. Cells are read as strings; the data
modules decide what they mean.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pandas as pd

from seqkit.errors import DataError

_BINARY = (  # files that are often named .csv or .txt by mistake: (first bytes, what it is, the fix)
    (b"\x1f\x8b", "gzip-compressed file", "decompress it first (gunzip)"),
    (b"PK\x03\x04", "zip archive (an .xlsx workbook is one)", "unzip it, or save the sheet as CSV"),
    (b"PAR1", "Parquet file", "name it .parquet (seqkit reads Parquet where pyarrow is installed)"),
    (b"%PDF", "PDF document", "export its text or tables first"),
)


def read_text(path: Path, what: str) -> str:
    """The file's text: UTF-8, or UTF-16/32 by its byte order mark (the mark dropped); or a DataError saying why not."""
    if path.exists() and not path.is_file() and not path.is_dir():
        # A FIFO or a device: reading it could wait forever for a writer.
        raise DataError(f"{path}: is not a regular file (a pipe or a device); give the path of a {what}")
    try:
        with open(path, "rb") as handle:  # a bounded look first: a huge binary file is refused unread
            head = handle.read(PREFIX)
            check_content(path, head, what)
            data = head + handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what}; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a {what}; give the path of a file inside it") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the {what} ({error.strerror}); check its permissions") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        # Only now, on failure, find the line: counting line breaks up to the bad byte.
        start = error.start
        before = data[:start]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        raise DataError(
            f"{path}: not UTF-8 text: line {line}, byte offset {start} (byte 0x{data[start]:02x}) cannot be decoded; "
            f"re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path} > {path.stem}.utf8{path.suffix}` "
            "for a Latin-1 file") from None
    # A byte order mark (Windows editors write one, UTF-16 and UTF-32 files start with one) is not text.
    return text[1:] if text.startswith("\ufeff") else text


PREFIX = 1 << 16
"""How many bytes of a file are looked at before it is read whole."""

# Byte order marks, the longest first (UTF-32's little-endian one begins with UTF-16's).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
         (b"\xfe\xff", "utf-16"), (b"\xef\xbb\xbf", "utf-8"))


CONTROLS = (*range(1, 9), *range(14, 32), 127)  # the C0 controls but tab, the line breaks and form feed; DEL


def check_content(path: Path, head: bytes, what: str) -> None:
    """Refuse a file whose first bytes show it is no text: a known binary format, NUL bytes without a BOM, or
    more than 1% control characters.

    Raises:
        DataError: naming what the file is, or where its first NUL byte is.
    """
    for magic, kind, fix in _BINARY:
        if head.startswith(magic):
            raise DataError(f"{path}: is a {kind}, not a {what}; {fix}")
    wide = any(head.startswith(bom) for bom, _ in _BOMS[:4])  # UTF-16 or UTF-32, by its byte order mark
    nul = head.find(b"\x00")
    if nul >= 0 and not wide:
        raise DataError(f"{path}: holds NUL bytes (the first at byte offset {nul}): binary data, or "
                        f"UTF-16/32 text without a byte order mark; give a {what} in UTF-8 (or UTF-16/32 with a BOM)")
    # Text has almost no control characters besides tab, line breaks and form feed; binary data has
    # about one byte in eight of them (a Latin-1 file has none, so it still gets the iconv advice).
    controls = sum(head.count(bytes([c])) for c in CONTROLS)
    if not wide and controls > max(8, len(head) // 100):
        raise DataError(f"{path}: is binary data, not a {what} ({controls} control bytes in its first "
                        f"{len(head):,}); give a {what} in UTF-8")


def read_parquet(path: Path):
    """A Parquet file's rows with every cell as a string (a null as ""), as the CSV readers give them.

    Raises:
        DataError: pyarrow is not installed (the message gives the pip command), or the
            file is missing or not Parquet.
    """
    import pandas as pd

    try:
        import pyarrow  # noqa: F401 (pandas reads Parquet through it)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'seqkit[parquet]' (or pyarrow), "
                        "or save the table as CSV") from None
    if not path.is_file():
        raise DataError(f"{path}: no such Parquet file; check the path")
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # noqa: BLE001 (pyarrow's errors for a damaged file take many types)
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(f"{path}: not a readable Parquet file ({detail})") from None
    return frame.astype(object).where(frame.notna(), "").astype(str)


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file, without their line endings.

    Lines end as Python's text files end them (`\\n`, `\\r\\n` or `\\r`), so the lines
    are those that `for line in open(path)` gives, as in pytorch/examples. Blank lines
    are kept. The file is read and decoded in one piece.

    Args:
        path: the text file.

    Returns:
        The lines.

    Raises:
        DataError: the file is missing, a folder, empty or only whitespace, or not UTF-8
            (the message gives the line and byte offset of the first bad byte).
    """
    path = Path(path)
    text = read_text(path, what="text file")
    if not text or text.isspace():
        raise DataError(f"{path}: the file is empty (no text, only whitespace); point to the file that holds the data")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final line break ends the last line; it does not start another
    return lines


def read_delimited(path: Path, text: str, kind: str) -> tuple[pd.DataFrame, list[int]]:
    """A CSV (`kind` "csv") or TSV file's text as a frame of strings, and the line each row starts on.

    Every cell stays a string ("NA" and "null" too; an empty cell is ""). TSV has no
    quoting, as GLUE's files: a quote is text.

    Raises:
        DataError: a malformed file, naming the line and the likely cause.
    """
    sep = "," if kind == "csv" else "\t"
    # TSV has no quoting (as GLUE's files and IANA's text/tab-separated-values): a quote is text.
    quoting = csv.QUOTE_MINIMAL if kind == "csv" else csv.QUOTE_NONE
    try:
        # dtype=str and na_filter=False: every cell a string, "NA" or "null" too; empty cells are "".
        frame = pd.read_csv(io.StringIO(text), sep=sep, quoting=quoting, dtype=str, na_filter=False)
    except pd.errors.ParserError as error:
        detail = str(error).strip().replace("Error tokenizing data. C error: ", "")
        fix = "a text with a comma must be in double quotes" if kind == "csv" else "a text may not hold a tab"
        raise DataError(f"{path}: not a well-formed {kind.upper()} file: {detail}; count the fields on that line "
                        f"({fix})") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas takes the first field as the index when every row has one field more than the header.
        raise DataError(f"{path}: every row has more fields than the header ({list(frame.columns)}); a header "
                        f"name is missing, or texts with {'commas need double quotes' if kind == 'csv' else 'tabs'}")
    check_header(path, text, sep, quoted=kind == "csv")
    lines = row_lines(text, sep, quoted=kind == "csv")
    if len(lines) != len(frame):  # an unusual file (e.g. quoted blank lines): count rows, not lines
        lines = list(range(2, len(frame) + 2))
    return frame, lines


def check_header(path: Path, text: str, sep: str, quoted: bool) -> None:
    """Refuse a header that names a column twice (pandas would read the second as `NAME.1`, silently).

    Raises:
        DataError: naming the column and its two positions.
    """
    reader = csv.reader(io.StringIO(text), delimiter=sep, quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
    header = next((record for record in reader if any(field.strip() for field in record)), [])
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"{path}: the header names the column {name!r} twice (fields {seen[name]} and "
                            f"{position}); rename one, so that each column is read for what it is")
        seen[name] = position


def row_lines(text: str, sep: str, quoted: bool) -> list[int]:
    """The line on which each data row starts, skipping the header and blank lines as pandas does."""
    if not quoted or '"' not in text:
        numbers = [number for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
        return numbers[1:]
    # A quoted text may span lines: let the csv module find where each record starts.
    numbers, end = [], 0
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    for record in reader:
        start, end = end + 1, reader.line_num
        if len(record) > 1 or (record and record[0].strip()):
            numbers.append(start)
    return numbers[1:]


def read_jsonl(path: Path, text: str) -> tuple[pd.DataFrame, list[int]]:
    """A JSON Lines file's text as a frame (values as written) and the line of each row.

    Raises:
        DataError: a JSON array, a line that is no object or no valid JSON (with its number).
    """
    if text.lstrip().startswith("["):
        raise DataError(f"{path}: holds a JSON array; write JSON Lines instead, one object per line "
                        '(e.g. {"text": "...", "label": "pos"})')
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    for number, line in numbered:
        if not line.lstrip().startswith("{"):
            raise DataError(f"{path}: line {number} is not a JSON object ({line.strip()[:40]!r}); JSON Lines holds "
                            "one object per line")
    try:
        # dtype=False: values stay as written (a label 1 stays an integer, "1" a string).
        frame = pd.read_json(io.StringIO(text), lines=True, dtype=False)
    except ValueError as error:
        for number, line in numbered:  # only now, on failure, find the line
            try:
                json.loads(line)
            except json.JSONDecodeError as bad:
                raise DataError(f"{path}: line {number} is not valid JSON ({bad.msg} at column {bad.colno}); "
                                "JSON Lines holds one object per line") from None
        raise DataError(f"{path}: cannot be read as JSON Lines ({error})") from None
    lines = [number for number, _ in numbered]
    if len(lines) != len(frame):
        lines = list(range(1, len(frame) + 1))
    return frame, lines
