"""The repository speaks of seqkit, not of how it was made: no workshop words in what users read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("seqkit", "recipes", "datasets", "benchmarks", "tests", "docs")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".sh", ".toml", ".txt", ".cfg"}
WORKSHOP = [
    r"\bsessions?\b", r"\blent\b", r"\bborrowed\b", r"device\s+time", r"development\s+machine",
    r"build\s+machine", r"other\s+jobs", r"other\s+core", r"shared\s+(cores?|machine)\b", "/work/",
    r"\.\./shared", "shared/data", r"\bpilot\b", r"not\s+yet\s+(measured|run)", r"fixed\s+since",
    r"\bgoals?\b", r"\baims?\s+at\b", r"machine\s+returns", r"15\s+MiB", r"\bissue\s+\d+",
    r"foundation\s+issue", r"(?-i:\bMET\b)", r"(?-i:\bMISSED\b)",
]
PATTERN = re.compile("|".join(f"(?:{p})" for p in WORKSHOP), re.IGNORECASE)


def files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in FOLDERS:
        found += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in SUFFIXES]
    return [p for p in found if "__pycache__" not in p.parts and p != Path(__file__).resolve()]  # not its own examples


def test_no_file_speaks_of_how_seqkit_was_made():
    hits = []
    for path in files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PATTERN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert hits == [], "\n".join(hits)


def test_the_check_finds_such_words():
    for text in ("measured on the development machine", "a lent GPU", "while other jobs ran", "goal: 3 s",
                 "SEQKIT_DATA=../shared/data", "not yet measured", "in 15 MiB parts"):
        assert PATTERN.search(text), text
    for text in ("the shared machinery of the cells", "a budget of seconds per size", "the target column",
                 "when the condition is met"):
        assert not PATTERN.search(text), text
