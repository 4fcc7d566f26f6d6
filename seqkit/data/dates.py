"""A translation task that seqkit generates itself: dates as people write them -> ISO 8601.

    "3 march 2021", "March 3, 2021", "wednesday, march 3 2021", "03/03/2021", "3 mar 21", ...
        -> "2021-03-03"

Every example is one calendar day written in one of `FORMATS`, templates such as
`"{weekday}, {month} {d} {yyyy}"` whose fields (`FIELDS`) are filled from the day (the
weekday is the day's real one). Both sides are read one character at a time:

    source "3 mar 21" -> ids (S,) -> Seq2SeqBatch(source (B, S), source_lengths (B,),
    target "2021-03-03" -> <bos> 2 0 2 1 - 0 3 - 0 3    target_in  (B, T)
                               2 0 2 1 - 0 3 - 0 3 <eos> target_out (B, T)

Choices a reader should know:

- **Day first.** Numeric formats write the day before the month, as in most of Europe:
  `03/04/2021` is the 3rd of April. No format writes the month first in digits, so every
  string names exactly one day (`"March 3, 2021"` spells the month out).
- **Two-digit years** (`{yy}`) name the one year of the range that ends in those digits;
  the default range 1950-2049 holds each ending once (`"21"` is 2021, `"63"` is 1963).
  For a range of more than 100 years they would be ambiguous, and the formats that use
  them are left out.
- **Splits are disjoint by day.** The days of the range are shuffled once from `seed`;
  the first `test_size` are the test days, the next `val_size` the validation days, and
  training examples come from the rest only. A test day never appears in training in any
  format, so a test score measures generalisation to unseen days. When `train_size` is
  larger than the days left, training days repeat (each time in a freshly drawn format).
- **Seeded generators only.** A `random.Random(seed)` shuffles the days, and each split
  draws its formats from its own `random.Random`, so the same seed gives the same data on
  any machine, and changing `train_size` leaves the validation and test examples as they were.
- **Vocabularies from the training split**: one for source characters, one for target
  characters, each with the specials `<pad>` (index 0), `<unk>`, `<bos>`, `<eos>` first,
  so the special indices are the same on both sides. Unknown characters become `<unk>`.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import partial
from typing import NamedTuple, Sequence

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from seqkit.data.resumable import EpochRandomSampler, ResumableDataLoader
from seqkit.training.distributed import eval_sampler
from seqkit.errors import DataError
from seqkit.text import EOS, PAD, UNK, Vocab, build_vocab_from_iterator

BOS = "<bos>"
SPECIALS = [PAD, UNK, BOS, EOS]
"""The special tokens of both vocabularies, at indices 0-3 (pad 0, unk 1, bos 2, eos 3)."""

SPLITS = ("train", "val", "test")

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # date.weekday() order

FORMATS = (
    "{d} {month} {yyyy}",             # 3 march 2021
    "{Month} {d}, {yyyy}",            # March 3, 2021
    "{dd}/{mm}/{yyyy}",               # 03/03/2021        (day first)
    "{d}/{m}/{yyyy}",                 # 3/3/2021          (day first)
    "{dd}.{mm}.{yyyy}",               # 03.03.2021        (day first)
    "{d}.{m}.{yy}",                   # 3.3.21            (day first)
    "{yyyy}.{mm}.{dd}",               # 2021.03.03
    "{yyyymmdd}",                     # 20210303
    "{weekday}, {month} {d} {yyyy}",  # wednesday, march 3 2021
    "{Wkd} {d} {Mon} {yyyy}",         # Wed 3 Mar 2021
    "{d} {mon} {yy}",                 # 3 mar 21
    "{mon} {dth} {yyyy}",             # mar 3rd 2021
    "the {dth} of {month}, {yyyy}",   # the 3rd of march, 2021
    "{dd}-{MON}-{yyyy}",              # 03-MAR-2021
    "{MONTH} {d} {yyyy}",             # MARCH 3 2021
    "{Weekday} {dth} {Month} {yy}",   # Wednesday 3rd March 21
)
"""The ways a day is written: templates over `FIELDS`, filled with `str.format`."""

FIELDS = {
    "d": "day of the month, 1-31", "dd": "day, two digits", "dth": "day as an ordinal: 1st, 2nd, 3rd, 4th, ...",
    "m": "month, 1-12", "mm": "month, two digits",
    "month": "month name", "Month": "month name, capitalised", "MONTH": "month name, upper case",
    "mon": "month, three letters", "Mon": "three letters, capitalised", "MON": "three letters, upper case",
    "yyyy": "year, four digits", "yy": "year, last two digits", "yyyymmdd": "the digits of the ISO date, run together",
    "weekday": "weekday name", "Weekday": "weekday name, capitalised", "Wkd": "weekday, three letters, capitalised",
}
"""What each template field stands for."""


def ordinal(day: int) -> str:
    """`1 -> "1st"`, `2 -> "2nd"`, `3 -> "3rd"`, `11 -> "11th"`, `22 -> "22nd"`, ..."""
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def fields(day: date) -> dict[str, str]:
    """The value of every field of `FIELDS` for one day."""
    month, weekday = MONTHS[day.month - 1], WEEKDAYS[day.weekday()]
    return {
        "d": str(day.day), "dd": f"{day.day:02d}", "dth": ordinal(day.day),
        "m": str(day.month), "mm": f"{day.month:02d}",
        "month": month, "Month": month.capitalize(), "MONTH": month.upper(),
        "mon": month[:3], "Mon": month[:3].capitalize(), "MON": month[:3].upper(),
        "yyyy": f"{day.year:04d}", "yy": f"{day.year % 100:02d}", "yyyymmdd": day.strftime("%Y%m%d"),
        "weekday": weekday, "Weekday": weekday.capitalize(), "Wkd": weekday[:3].capitalize(),
    }


def write_date(day: date, template: str) -> str:
    """`day` written in a template of `FORMATS`.

    Example: `write_date(date(2021, 3, 3), "{mon} {dth} {yyyy}")` is `"mar 3rd 2021"`.
    """
    return template.format(**fields(day))


def iso(day: date) -> str:
    """The target: `YYYY-MM-DD`."""
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def formats_for(start_year: int, end_year: int) -> tuple[str, ...]:
    """The formats that name one day unambiguously in the range: two-digit years only within 100 years."""
    if end_year - start_year < 100:
        return FORMATS
    return tuple(template for template in FORMATS if "{yy}" not in template)


# ----------------------------------------------------------------------------- batches
class Seq2SeqBatch(NamedTuple):
    """Source and target sequences of a translation batch, padded with index 0 (`<pad>`).

    Attributes:
        source: `(B, S)` int64 source character ids; S is the longest source in the batch.
        source_lengths: `(B,)` int64 characters of each source, all at least 1.
        target_in: `(B, T)` int64 decoder inputs, `<bos>` then the target characters
            (teacher forcing: the gold sequence shifted right by one).
        target_out: `(B, T)` int64 what the decoder must predict at each step: the target
            characters then `<eos>`.
    """

    source: Tensor
    source_lengths: Tensor
    target_in: Tensor
    target_out: Tensor


def encode_pairs(pairs: Sequence[tuple[str, str]], source_vocab: Vocab, target_vocab: Vocab) -> Seq2SeqBatch:
    """Character ids of `(source, target)` strings, padded into a `Seq2SeqBatch` (the DataLoaders' collate function).

    Raises:
        ValueError: a source without characters (a packed sequence needs at least one step).
    """
    sources = [torch.tensor(source_vocab(list(source)), dtype=torch.int64) for source, _ in pairs]
    if any(len(ids) == 0 for ids in sources):
        raise ValueError("a source text is empty; every source needs at least one character")
    bos, eos = target_vocab[BOS], target_vocab[EOS]
    targets = [target_vocab(list(target)) for _, target in pairs]
    pad = source_vocab[PAD]
    return Seq2SeqBatch(
        source=pad_sequence(sources, batch_first=True, padding_value=pad),                                 # (B, S)
        source_lengths=torch.tensor([len(ids) for ids in sources], dtype=torch.int64),                     # (B,)
        target_in=pad_sequence([torch.tensor([bos] + ids) for ids in targets], batch_first=True,
                               padding_value=target_vocab[PAD]),                                          # (B, T)
        target_out=pad_sequence([torch.tensor(ids + [eos]) for ids in targets], batch_first=True,
                                padding_value=target_vocab[PAD]),                                         # (B, T)
    )


def char_vocab(texts: Sequence[str]) -> Vocab:
    """A character vocabulary: `SPECIALS`, then the characters of `texts` by frequency; unknown -> `<unk>`."""
    vocab = build_vocab_from_iterator(map(list, texts), specials=SPECIALS)
    vocab.set_default_index(vocab[UNK])
    return vocab


class DatePairs(Dataset):
    """`(human-written date, ISO date)` string pairs; batches are encoded by `encode_pairs`."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[str, str]:
        return self.pairs[index]


# ----------------------------------------------------------------------------- the DataModule
class DatesData(pl.LightningDataModule):
    """Human-written dates -> ISO `YYYY-MM-DD`, generated from a seed (nothing to download).

    See the module docstring for the formats (day first), the splits (disjoint by day) and
    the vocabularies (from the training split only).

    Args:
        train_size, val_size, test_size: examples in each split. Validation and test take
            one example per day, so together they need fewer days than the range holds.
        batch_size: training batch size (shuffled each epoch).
        eval_batch_size: validation and test batch size.
        seed: seeds the day shuffle and the format draws (never the global RNG).
        start_year, end_year: the range of years, both included (1 to 9999).
        predict_path: for `seqkit predict`: a text file of dates as people write them, one
            a line (without it, the test split's dates).

    Raises:
        DataError: a size under 1, a negative seed, a year outside 1-9999, an empty range,
            or validation and test sets that need more days than the range holds.
    """

    def __init__(self, train_size: int = 20000, val_size: int = 1000, test_size: int = 1000, batch_size: int = 64,
                 eval_batch_size: int = 500, seed: int = 0, start_year: int = 1950, end_year: int = 2049,
                 predict_path: str | None = None) -> None:
        super().__init__()
        values = {"train_size": train_size, "val_size": val_size, "test_size": test_size, "batch_size": batch_size,
                  "eval_batch_size": eval_batch_size, "seed": seed, "start_year": start_year, "end_year": end_year}
        for name, value in values.items():
            least = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise DataError(f"{name} must be an integer of at least {least}, got {value!r}; set --data.{name}")
        if end_year > 9999 or end_year < start_year:
            raise DataError(f"the years must run forward within 1-9999, got start_year={start_year}, "
                            f"end_year={end_year}; set --data.start_year and --data.end_year")
        days = (date(end_year, 12, 31) - date(start_year, 1, 1)).days + 1
        if val_size + test_size >= days:
            raise DataError(f"val_size + test_size = {val_size + test_size} days, but {start_year}-{end_year} holds "
                            f"{days} and training needs some of them; lower --data.val_size and --data.test_size "
                            "or widen the years")
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.start_year = start_year
        self.end_year = end_year
        self.formats = formats_for(start_year, end_year)
        self.predict_path = predict_path
        self.splits: dict[str, DatePairs] = {}
        self.source_vocab: Vocab | None = None  # built in setup, or given by a checkpoint (use_vocabs)
        self.target_vocab: Vocab | None = None

    def generate(self) -> dict[str, list[tuple[str, str]]]:
        """The `(source, target)` pairs of every split (deterministic for the seed)."""
        first = date(self.start_year, 1, 1)
        days = [first + timedelta(n) for n in range((date(self.end_year, 12, 31) - first).days + 1)]
        random.Random(self.seed).shuffle(days)
        test, val = self.sizes["test"], self.sizes["val"]
        chosen = {"test": days[:test], "val": days[test:test + val]}
        rest = days[test + val:]
        chosen["train"] = [rest[i % len(rest)] for i in range(self.sizes["train"])]  # repeats only if too few days
        pairs = {}
        for split in SPLITS:
            # Each split draws its formats from a generator of its own (see the module docstring).
            rng = random.Random(f"{self.seed}/{split}")
            pairs[split] = [(write_date(day, rng.choice(self.formats)), iso(day)) for day in chosen[split]]
        return pairs

    def setup(self, stage: str | None = None) -> None:
        # Every split whatever the stage: about 0.1 s, and the vocabularies need the training split.
        if self.splits:
            return
        pairs = self.generate()
        self.splits = {split: DatePairs(pairs[split]) for split in SPLITS}
        if self.source_vocab is None:
            self.source_vocab = char_vocab([source for source, _ in pairs["train"]])
            self.target_vocab = char_vocab([target for _, target in pairs["train"]])

    def use_vocabs(self, source_vocab: Vocab, target_vocab: Vocab) -> None:
        """Encode with these vocabularies (a checkpoint's) instead of building them from the training split."""
        for name, vocab in (("source", source_vocab), ("target", target_vocab)):
            if vocab.get_itos()[: len(SPECIALS)] != SPECIALS:
                raise DataError(f"the {name} vocabulary must start with the specials {SPECIALS}")
        self.source_vocab, self.target_vocab = source_vocab, target_vocab

    def _loader(self, split: str) -> DataLoader:
        # A partial of a module function (not a lambda), so that it pickles into DataLoader workers.
        encode = partial(encode_pairs, source_vocab=self.source_vocab, target_vocab=self.target_vocab)
        if split == "train":
            # The shuffle order from the seed and the epoch, never the global RNG, and resumable mid-epoch.
            return ResumableDataLoader(self.splits[split], batch_size=self.batch_size,
                                       sampler=EpochRandomSampler(self.splits[split], self.seed), collate_fn=encode)
        # On many processes, each scores one contiguous share of the pairs, none twice (seqkit.training.distributed).
        return DataLoader(self.splits[split], batch_size=self.eval_batch_size, collate_fn=encode,
                          sampler=eval_sampler(self, self.splits[split]))

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
