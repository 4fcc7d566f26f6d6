"""Speed of seqkit.text on WikiText-2's training split, and its token and word counts checked.

    python benchmarks/text.py
    SEQKIT_DATA=/path/to/data python benchmarks/text.py --repeats 5

Reads `wikitext-2/train.txt` under `SEQKIT_DATA` (or the download cache). Times each
step of the word-level language-model pipeline, best of
`--repeats` runs (3 by default): `read_lines`; tokenizing every line (whitespace, the LM
default, and basic_english, reported apart); `build_vocab_from_iterator`; `encode`
(tokenize + numericalize, one `<eos>` per line); and the whole whitespace pipeline,
read + tokenize + numericalize. Prints a Markdown table
with seconds and tokens per second, the token count (2,088,628 expected) and the
vocabulary size (33,278 with `<eos>`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

from seqkit.text import EOS, build_vocab_from_iterator, encode, get_tokenizer, read_lines
from seqkit.data.catalog import data_folder

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_TOKENS = 2_088_628
EXPECTED_VOCAB = 33_278


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The shortest wall time of `repeats` calls of `fn`, and what the last call returned.

    The shortest, not the mean: noise from anything else on the machine only ever adds time.
    """
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per step; the fastest counts (default 3)")
    args = parser.parse_args()

    root = data_folder()
    path = root / "wikitext-2" / "train.txt"
    if not path.is_file():
        print(f"WikiText-2 not found at {path}: set SEQKIT_DATA to the folder that holds wikitext-2/train.txt",
              file=sys.stderr)
        return 2

    whitespace, basic_english = get_tokenizer("whitespace"), get_tokenizer("basic_english")
    read_s, lines = best_of(args.repeats, lambda: read_lines(path))
    split_s, tokenized = best_of(args.repeats, lambda: [whitespace(line) for line in lines])
    basic_s, basic_tokenized = best_of(args.repeats, lambda: [basic_english(line) for line in lines])
    vocab_s, vocab = best_of(args.repeats, lambda: build_vocab_from_iterator(tokenized, specials=[EOS]))
    encode_s, ids = best_of(args.repeats, lambda: encode(lines, whitespace, vocab))
    total_s, _ = best_of(args.repeats, lambda: encode(read_lines(path), whitespace, vocab))

    tokens = ids.numel()
    words = sum(map(len, tokenized))
    basic_words = sum(map(len, basic_tokenized))
    rows = [
        ("read_lines", read_s, tokens),
        ("tokenize, whitespace", split_s, words),
        ("tokenize, basic_english", basic_s, basic_words),
        ("build_vocab_from_iterator (whitespace tokens)", vocab_s, words),
        ("encode (tokenize + numericalize)", encode_s, tokens),
        ("**total: read + tokenize + numericalize**", total_s, tokens),
    ]
    size_mb = path.stat().st_size / 1e6
    print(f"# seqkit.text on WikiText-2 train ({size_mb:.1f} MB, {len(lines):,} lines), best of {args.repeats}\n")
    print("| step | seconds | tokens/s |\n|---|---|---|")
    for name, seconds, count in rows:
        print(f"| {name} | {seconds:.3f} | {count / seconds:,.0f} |")
    print(f"\ntokens with one <eos> per line: {tokens:,} (expected {EXPECTED_TOKENS:,}); "
          f"basic_english gives {basic_words:,} words without <eos>")
    print(f"vocabulary, <eos> included: {len(vocab):,} (expected {EXPECTED_VOCAB:,})")
    counts_ok = tokens == EXPECTED_TOKENS and len(vocab) == EXPECTED_VOCAB
    print(f"\nread + tokenize + numericalize: {total_s:.2f} s")
    if not counts_ok:
        print("counts differ from word_language_model's: check the data file (it should be WikiText-2 v1 as the catalog pins it)")
    return 0 if counts_ok else 1


if __name__ == "__main__":
    sys.exit(main())
