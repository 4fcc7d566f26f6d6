"""DatesData: every format names the right day, splits are seeded and disjoint by day, vocabularies come from train."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import torch

from seqkit.data import DatesData
from seqkit.data.dates import BOS, FORMATS, MONTHS, SPECIALS, WEEKDAYS, char_vocab, formats_for, iso, write_date
from seqkit.errors import DataError
from seqkit.text import EOS, PAD, UNK

# A pattern per field, written here independently of seqkit's code that fills the fields.
PATTERNS = {
    "d": r"(?P<day>[1-9]|[12][0-9]|3[01])", "dd": r"(?P<day>0[1-9]|[12][0-9]|3[01])",
    "dth": r"(?P<day>[1-9]|[12][0-9]|3[01])(?P<suffix>st|nd|rd|th)",
    "m": r"(?P<month>[1-9]|1[0-2])", "mm": r"(?P<month>0[1-9]|1[0-2])",
    "month": r"(?P<name>[a-z]+)", "Month": r"(?P<name>[A-Z][a-z]+)", "MONTH": r"(?P<name>[A-Z]+)",
    "mon": r"(?P<abbr>[a-z]{3})", "Mon": r"(?P<abbr>[A-Z][a-z]{2})", "MON": r"(?P<abbr>[A-Z]{3})",
    "yyyy": r"(?P<year>[0-9]{4})", "yy": r"(?P<yy>[0-9]{2})",
    "yyyymmdd": r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})",
    "weekday": r"(?P<weekday>[a-z]+)", "Weekday": r"(?P<weekday>[A-Z][a-z]+)", "Wkd": r"(?P<wkd>[A-Z][a-z]{2})",
}


def parse(text: str, template: str, start_year: int = 1950) -> date:
    """Read `text` back as `template` describes it, checking the weekday and the ordinal suffix."""
    pattern = re.sub(r"\\\{(\w+)\\\}", lambda match: PATTERNS[match.group(1)], re.escape(template))
    match = re.fullmatch(pattern, text)
    assert match, f"{text!r} does not match {template!r}"
    parts = match.groupdict()
    if parts.get("name"):
        month = [m.lower() for m in ("January February March April May June July August September October "
                                     "November December").split()].index(parts["name"].lower()) + 1
    elif parts.get("abbr"):
        month = [m[:3] for m in MONTHS].index(parts["abbr"].lower()) + 1
    else:
        month = int(parts["month"])
    if parts.get("yy"):
        year = next(y for y in range(start_year, start_year + 100) if y % 100 == int(parts["yy"]))
    else:
        year = int(parts["year"])
    day = date(year, month, int(parts["day"]))
    if parts.get("suffix"):
        expected = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day.day, "th")
        assert parts["suffix"] == expected, text
    if parts.get("weekday"):
        assert parts["weekday"].lower() == day.strftime("%A").lower(), f"{text!r}: wrong weekday"
    if parts.get("wkd"):
        assert parts["wkd"].lower() == day.strftime("%A")[:3].lower(), f"{text!r}: wrong weekday"
    return day


def test_there_are_many_formats_and_each_names_the_day_month_and_year():
    assert len(FORMATS) >= 8 and len(set(FORMATS)) == len(FORMATS)
    for template in FORMATS:
        fields = set(re.findall(r"\{(\w+)\}", template))
        assert fields <= set(PATTERNS), template
        if "yyyymmdd" in fields:
            continue
        assert fields & {"d", "dd", "dth"} and fields & {"m", "mm", "month", "Month", "MONTH", "mon", "Mon", "MON"}
        assert fields & {"yyyy", "yy"}
    assert WEEKDAYS[date(2021, 3, 3).weekday()] == "wednesday"


@pytest.mark.parametrize("template", FORMATS)
def test_every_format_reads_back_as_the_same_day_with_its_true_weekday(template):
    first = date(1950, 1, 1)
    # Every day of three years (1st, 2nd, 3rd, 11th-13th, 21st-23rd, 31st, leap days), plus the range's ends.
    days = [first + timedelta(n) for n in range(3 * 366)] + [date(1999, 12, 31), date(2000, 2, 29), date(2049, 12, 31)]
    days += [date(2021, 3, 3), date(2024, 1, 11), date(2048, 11, 13)]
    for day in days:
        assert parse(write_date(day, template), template) == day


def test_examples_from_the_issue_and_the_target_form():
    day = date(2021, 3, 3)
    assert write_date(day, "{d} {month} {yyyy}") == "3 march 2021"
    assert write_date(day, "{Month} {d}, {yyyy}") == "March 3, 2021"
    assert write_date(day, "{weekday}, {month} {d} {yyyy}") == "wednesday, march 3 2021"
    assert write_date(day, "{mon} {dth} {yyyy}") == "mar 3rd 2021"
    assert write_date(date(2021, 4, 3), "{dd}/{mm}/{yyyy}") == "03/04/2021"  # day first
    assert iso(day) == "2021-03-03" and iso(date(1950, 1, 1)) == "1950-01-01"


def test_every_example_of_every_split_is_a_correct_pair_and_every_format_is_used():
    data = DatesData(train_size=3000, val_size=300, test_size=300, seed=4)
    data.setup()
    used = set()
    for split in ("train", "val", "test"):
        for source, target in data.splits[split].pairs:
            readings = [(template, parse(source, template)) for template in FORMATS if _matches(source, template)]
            assert readings, source
            assert all(iso(day) == target for _, day in readings), (source, target)  # unambiguous: day first
            used.update(template for template, _ in readings)
    assert used == set(FORMATS)


def _matches(text: str, template: str) -> bool:
    pattern = re.sub(r"\\\{(\w+)\\\}", lambda match: PATTERNS[match.group(1)], re.escape(template))
    if not re.fullmatch(pattern, text):
        return False
    try:
        parse(text, template)
    except (ValueError, StopIteration):  # e.g. "13" read as a month by a pattern that fits the digits
        return False
    return True


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    def pairs(seed: int, train_size: int = 500) -> dict[str, list[tuple[str, str]]]:
        data = DatesData(train_size=train_size, val_size=100, test_size=100, seed=seed)
        data.setup()
        return {split: data.splits[split].pairs for split in ("train", "val", "test")}

    assert pairs(0) == pairs(0)
    assert pairs(0)["test"] != pairs(1)["test"] and pairs(0)["train"] != pairs(1)["train"]
    # More training data leaves the evaluation sets as they were.
    small, large = pairs(0), pairs(0, train_size=900)
    assert small["val"] == large["val"] and small["test"] == large["test"]
    assert large["train"][:500] == small["train"]


def test_splits_are_disjoint_by_day_and_sized_as_asked():
    data = DatesData(train_size=40000, val_size=1000, test_size=1000)
    data.setup()
    days = {split: {target for _, target in data.splits[split].pairs} for split in ("train", "val", "test")}
    assert [len(data.splits[split]) for split in ("train", "val", "test")] == [40000, 1000, 1000]
    assert len(days["val"]) == 1000 and len(days["test"]) == 1000  # one example per evaluation day
    assert not days["train"] & days["test"] and not days["train"] & days["val"] and not days["val"] & days["test"]
    # 40,000 examples from the 36,525 - 2,000 days left: every training day is used, some twice.
    assert len(days["train"]) == (date(2049, 12, 31) - date(1950, 1, 1)).days + 1 - 2000 == 34525
    assert all("1950-01-01" <= day <= "2049-12-31" for day in days["train"])


def test_vocabularies_come_from_the_training_split_only():
    data = DatesData(train_size=20, val_size=200, test_size=200, seed=2)
    data.setup()
    train = data.splits["train"].pairs
    assert data.source_vocab == char_vocab([source for source, _ in train])
    assert data.target_vocab == char_vocab([target for _, target in train])
    assert data.source_vocab.get_itos()[:4] == SPECIALS == [PAD, UNK, BOS, EOS]
    seen = {char for source, _ in train for char in source}
    unseen = {char for source, _ in data.splits["test"].pairs for char in source} - seen
    assert unseen, "with 20 training examples, the test split should hold characters training never showed"
    assert all(char not in data.source_vocab for char in unseen)
    batch = next(iter(data.test_dataloader()))
    assert (batch.source == data.source_vocab[UNK]).any()


def test_batches_pad_sources_and_shift_targets():
    data = DatesData(train_size=200, val_size=50, test_size=50, batch_size=16, eval_batch_size=50)
    data.setup()
    batch = next(iter(data.train_dataloader()))
    assert batch.source.shape[0] == 16 and batch.source.dtype == torch.int64
    pad, bos, eos = (data.target_vocab[token] for token in (PAD, BOS, EOS))
    for row, length in enumerate(batch.source_lengths.tolist()):
        assert (batch.source[row, :length] != pad).all() and (batch.source[row, length:] == pad).all()
    assert batch.source.size(1) == batch.source_lengths.max()
    assert (batch.target_in[:, 0] == bos).all() and (batch.target_out[:, -1] == eos).all()
    assert torch.equal(batch.target_in[:, 1:], batch.target_out[:, :-1])
    val = next(iter(data.val_dataloader()))
    targets = ["".join(data.target_vocab.lookup_tokens(row[:-1])) for row in val.target_out.tolist()]
    assert targets == [target for _, target in data.splits["val"].pairs]
    assert len(data.train_dataloader()) == 13


def test_two_digit_years_only_where_they_name_one_year():
    assert formats_for(1950, 2049) == FORMATS
    wide = formats_for(1900, 2049)
    assert wide and all("{yy}" not in template for template in wide) and len(wide) < len(FORMATS)
    data = DatesData(train_size=300, val_size=10, test_size=10, start_year=1800, end_year=2000)
    data.setup()
    assert data.formats == formats_for(1800, 2000)
    for source, target in data.splits["train"].pairs:
        assert any(_matches(source, template) and iso(parse(source, template)) == target for template in data.formats)


@pytest.mark.parametrize("arguments, message", [
    ({"train_size": 0}, "train_size must be an integer of at least 1"),
    ({"batch_size": 2.5}, "batch_size must be an integer"),
    ({"seed": -1}, "seed must be an integer of at least 0"),
    ({"start_year": 2000, "end_year": 1999}, "the years must run forward"),
    ({"end_year": 10000}, "the years must run forward"),
    ({"start_year": 2000, "end_year": 2000, "val_size": 200, "test_size": 200}, "holds 366"),
])
def test_bad_arguments_are_one_clear_data_error(arguments, message):
    with pytest.raises(DataError, match=message):
        DatesData(**arguments)
