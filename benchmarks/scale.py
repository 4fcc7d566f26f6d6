"""How time and memory grow with sequence length, batch size and corpus size, per recipe.

    OMP_NUM_THREADS=1 taskset -c 1 nice -n 19 python benchmarks/scale.py      # 2 to 4 minutes on one thread
    python benchmarks/scale.py --quick                                          # a smaller sweep: does it run?

For each recipe family (next word, sentiment, forecast) two things are measured, each in
this process, one after the other:

- **The training step**: forward, backward and optimizer step of the recipe's task, run
  by a Lightning Trainer on the recipe's DataModule (steps timed by a callback, from the
  batch's arrival to the end of its optimizer step; the fastest of the steps after the
  first, which builds kernels and optimizer state: other work on the machine only
  ever adds time, so the minimum is the most repeatable figure). Swept over the sequence
  length T (64 to 4096) at a fixed batch, and over the batch size at T = 256. The models are the
  recipes' designs at reduced width, so that T = 4096 fits in seconds on one thread:
  next word a 128-unit LSTM over a 1,000-word vocabulary (tied embedding), sentiment a
  bidirectional 2 x 64 LSTM with max pooling, forecast a 64-unit LSTM with a 24-step head.
  T is the bptt window (next word), the length of every text (sentiment), the input
  window (forecast).
- **The data pipeline**: a generated corpus written to a file (Zipf-distributed words in
  lines of 20 for next word, 20-word reviews in a CSV for sentiment, an hourly series with
  one covariate in a CSV for forecast), then `DataModule.setup` (read, tokenize, build the
  vocabulary, encode; or parse, scale and index windows) and one pass over the training
  DataLoader. Swept over the corpus size.

Memory is the growth of the process's peak resident set size during one measurement:
freed heap memory is first handed back to the system (`malloc_trim`), the peak is reset
(writing 5 to `/proc/self/clear_refs`), and the row reports VmHWM minus the resident
size at the start. It counts everything the measurement touched (tensors, Python
objects, allocator caches, oneDNN workspaces), not only live tensors. Linux only.

The "x" columns give the growth exponent between a row and the one before:
log(ratio of times) / log(ratio of sizes). 1.0 is linear growth; below 1, a fixed cost
is being spread over more work; above 1, something grows faster than the input. What
runs on a 2-core AMD EPYC CPU (32 MiB L3 cache, one thread) showed, and why
(docs/results.md, "Scale", has the table):

- Time per training step is affine in T and in the batch, not proportional: a fixed cost
  per step (the Lightning loop, the optimizer's update of every parameter, kernel
  set-up) dominates short steps, so the exponent starts well below 1 (forecast: 0.5) and
  approaches 1 where the T sequential recurrent steps dominate; a larger batch also
  amortises each recurrent step's small matrix product. The recurrence cannot be
  spread over T, so there is no way below linear at long sequences.
- The language model grows faster than linear beyond about 8,000 tokens per step
  (batch x T): a token cost 27% to 65% more at T = 4096 than at T = 256 in each of four
  runs (exponents 1.09 to 1.27 from T = 1024), with either allocator setting: its logits, tokens x vocabulary x 4 bytes, then
  outgrow the 32 MiB L3 cache, and the decoder, softmax and their backward, most of its
  step, run from main memory. Measured alone, the decoder and cross-entropy forward and
  backward took 25 microseconds a token at 8,192 tokens and 42 at 32,768. Shorter bptt x
  batch windows (or a GPU) avoid it.
- Under glibc's default allocator, the forecaster (exponents 1.28 to 1.40) and, in some
  runs, sentiment (0.99 to 1.21) also grow faster than linear from T = 1024 to 4096; with
  `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184` they measured 0.99
  and 1.05: by default every large activation is a fresh mmap that the kernel faults in
  and zeroes at every step. Sentiment from batch 16 to 64 (T = 256) grew with exponents
  1.09 to 1.20 under both settings; we have not found why.
- Memory per training step grows linearly with T and the batch once activations
  dominate (every timestep's are kept for the backward pass; the language model's logits
  are the largest); below that the fixed part (weights, optimizer state, Lightning)
  makes the exponents smaller than 1.
- The data pipelines are linear in the corpus: within a run, the cost per word, review or
  row stays level from the smallest corpus to the 16 times larger one (timed phase by
  phase, 1M and 4M words cost the language model's setup the same 1.2 to 1.5
  microseconds a word). The forecaster's is mostly the DataLoader's pass over every
  window, collated one window at a time. The language model's vocabulary grows
  sublinearly (Heaps' law: new words get rarer); without `max_tokens`, its embedding and
  decoder grow with it, and so does the cost of each training token.
- Not measured here: forecast evaluation (`ForecastTask.comparison`) stacks every test
  window (N x L values) and fits the linear baseline by solving an (L + 1) x (L + 1)
  system built from them, O(N L^2 + L^3): superlinear in the input window L.

Timings moved by up to 2x from run to run on that machine; read single exponents with
that in mind. The script says which allocator setting it ran with.
"""

from __future__ import annotations

from functools import partial
import argparse
import ctypes
import math
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LENGTHS = (64, 256, 1024, 4096)
BATCHES = (4, 16, 64)
FIXED_BATCH = 8
FIXED_LENGTH = 256
STEPS = 5  # the first builds kernels and optimizer state; the fastest of the other four is reported


# ----------------------------------------------------------------------------- memory

def _rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1))


class PeakMemory:
    """Growth of the peak resident set size (MiB) over a `with` block."""

    def __enter__(self) -> "PeakMemory":
        import gc

        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap pages back, so that reuse shows as growth
        except OSError:
            pass
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current resident size
        self.start = _rss_kib("VmRSS")
        self.mib = math.nan
        return self

    def __exit__(self, *exc) -> None:
        self.mib = (_rss_kib("VmHWM") - self.start) / 1024


# ----------------------------------------------------------------------------- generated corpora

def zipf_words(n: int, types: int, rng: np.random.Generator) -> list[str]:
    """`n` words drawn from `types` word types with Zipf frequencies (p(k) ~ 1 / k^1.1)."""
    ranks = np.arange(1, types + 1)
    p = 1.0 / ranks ** 1.1
    draws = rng.choice(types, size=n, p=p / p.sum())
    return [f"w{k}" for k in draws]


def write_text(path: Path, words: int, seed: int = 0) -> None:
    tokens = zipf_words(words, 200_000, np.random.default_rng(seed))
    path.write_text("\n".join(" ".join(tokens[i : i + 20]) for i in range(0, len(tokens), 20)) + "\n")


def write_reviews(path: Path, texts: int, length: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    tokens = zipf_words(texts * length, 50_000, rng)
    labels = rng.integers(0, 2, texts)
    rows = [f"{' '.join(tokens[i * length : (i + 1) * length])},{'pos' if labels[i] else 'neg'}" for i in range(texts)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")


def write_series(path: Path, rows: int, seed: int = 0) -> None:
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    frame = pd.DataFrame({
        "time": pd.date_range("2000-01-01", periods=rows, freq="h"),
        "load": 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(rows),
        "temperature": 15 + 5 * np.sin(2 * np.pi * t / (24 * 365)) + rng.standard_normal(rows),
    })
    frame.to_csv(path, index=False)


# ----------------------------------------------------------------------------- recipes at reduced width

def next_word(folder: Path, batch: int, length: int, steps: int):
    from seqkit.data import NextWordData
    from seqkit.modules import LSTM
    from seqkit.tasks import NextWordTask

    corpus = folder / "lm.txt"
    if not corpus.exists():  # 400k words: at least 3 windows of batch x bptt at every size swept
        write_text(corpus, 400_000)
    data = NextWordData(train_path=str(corpus), tokenizer="whitespace", max_tokens=1000, batch_size=batch,
                        eval_batch_size=batch, bptt=length, val_fraction=0.02)
    import torch

    task = NextWordTask(LSTM(128, 128, backend="fused"), dropout=0.3, tie_weights=True,
                        optimizer=partial(torch.optim.AdamW, lr=1e-3))
    return task, data


def sentiment(folder: Path, batch: int, length: int, steps: int):
    from seqkit.data import SentimentData
    from seqkit.modules import LSTM
    from seqkit.tasks import SentimentTask

    path = folder / f"reviews_{batch}_{length}.csv"
    write_reviews(path, texts=max(40, int(batch * steps * 1.25)), length=length)  # 10% held out for validation
    data = SentimentData(train_path=str(path), batch_size=batch, eval_batch_size=batch, val_fraction=0.1, max_tokens=5000)
    task = SentimentTask(LSTM(64, 64, num_layers=2, bidirectional=True, backend="fused"), pooling="max")
    return task, data


def forecast(folder: Path, batch: int, length: int, steps: int):
    from seqkit.data import Columns, ForecastData
    from seqkit.modules import LSTM
    from seqkit.tasks import ForecastTask

    horizon = 24
    path = folder / f"series_{batch}_{length}.csv"
    spare = 2 * (length + horizon)  # the validation and test spans' inputs and targets
    write_series(path, rows=length + horizon + batch * steps + spare)
    data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns=["load"], observed_columns=["temperature"]), input_length=length, horizon=horizon, val_size=length + horizon, test_size=length + horizon, batch_size=batch)
    task = ForecastTask(LSTM(1, 64, backend="fused"), revin=True)
    return task, data


RECIPES = {"next_word": next_word, "sentiment": sentiment, "forecast": forecast}


@dataclass
class Step:
    ms: float
    tokens: int
    mib: float


def training_step(recipe: str, folder: Path, batch: int, length: int, steps: int) -> Step:
    """The fastest training step after the first, and the peak memory growth of the fit."""
    import lightning.pytorch as pl

    task, data = RECIPES[recipe](folder, batch, length, steps)
    data.setup("fit")  # the data pipeline is measured on its own; here only training

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.tokens = 0

        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            self.times.append(time.perf_counter() - self.start)
            first = batch[0]  # LMBatch.inputs, TextBatch.tokens, ForecastBatch.past: (B, T, ...)
            self.tokens = int(first.shape[0] * first.shape[1])

    clock = Clock()
    trainer = pl.Trainer(max_steps=steps, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1, callbacks=[clock])
    with PeakMemory() as memory:
        trainer.fit(task, datamodule=data)
    if len(clock.times) < 2:
        raise RuntimeError(f"{recipe}: only {len(clock.times)} training steps ran (batch {batch}, length {length})")
    return Step(1000 * min(clock.times[1:]), clock.tokens, memory.mib)


# ----------------------------------------------------------------------------- data pipeline

@dataclass
class Pipeline:
    setup_s: float
    pass_s: float
    mib: float
    detail: str


def pipeline(recipe: str, folder: Path, size: int, repeats: int = 2) -> Pipeline:
    """Setup plus one pass over the training loader for a generated corpus of `size` units (the faster of `repeats`)."""
    from seqkit.data import Columns, ForecastData, NextWordData, SentimentData

    path = folder / f"corpus_{size}.{'txt' if recipe == 'next_word' else 'csv'}"
    if recipe == "next_word":
        write_text(path, size)
    elif recipe == "sentiment":
        write_reviews(path, texts=size, length=20)
    else:
        write_series(path, rows=size)
    best = None
    for _ in range(repeats):
        if recipe == "next_word":
            data = NextWordData(train_path=str(path), tokenizer="whitespace", batch_size=32, bptt=35, val_fraction=0.05)
        elif recipe == "sentiment":
            data = SentimentData(train_path=str(path), batch_size=64)
        else:
            data = ForecastData(train_path=str(path), columns=Columns(time_column="time", target_columns=["load"], observed_columns=["temperature"]), input_length=96, horizon=24, batch_size=64)
        with PeakMemory() as memory:
            start = time.perf_counter()
            data.setup("fit")
            middle = time.perf_counter()
            for _ in data.train_dataloader():
                pass
            end = time.perf_counter()
        detail = f"{len(data.windows['train']):,} windows" if recipe == "forecast" else f"vocabulary {len(data.vocab):,}"
        result = Pipeline(middle - start, end - middle, memory.mib, detail)
        if best is None or result.setup_s + result.pass_s < best.setup_s + best.pass_s:
            best = result
        del data
    path.unlink()
    return best


# ----------------------------------------------------------------------------- tables

def exponent(previous: tuple[float, float] | None, size: float, value: float) -> str:
    """log(value ratio) / log(size ratio) against the previous row, or '' for the first."""
    if previous is None or previous[1] <= 0 or value <= 0:
        return ""
    return f"{math.log(value / previous[1]) / math.log(size / previous[0]):.2f}"


WHY_FASTER = {  # (recipe, sweep) -> what this script's docstring found behind growth faster than linear
    ("next_word", "T"): "likely the logits (tokens x vocabulary x 4 bytes) outgrowing the L3 cache",
    ("next_word", "batch"): "likely the logits (tokens x vocabulary x 4 bytes) outgrowing the L3 cache",
    ("sentiment", "T"): "likely page faults of fresh mmap blocks under glibc's default allocator",
    ("sentiment", "batch"): "a cause we have not found",
    ("forecast", "T"): "likely page faults of fresh mmap blocks under glibc's default allocator",
    ("forecast", "batch"): "likely page faults of fresh mmap blocks under glibc's default allocator",
}
ELSE = "likely interference from other work (timed phase by phase, the pipelines are linear)"


def superlinear(rows: list[tuple[str, int, float]], what: str) -> list[str]:
    """A note for each row whose time grew faster than linearly (exponent above 1.15) from the row before."""
    notes, previous = [], {}
    for recipe, size, value in rows:
        if recipe in previous:
            growth = math.log(value / previous[recipe][1]) / math.log(size / previous[recipe][0])
            if growth > 1.15:
                notes.append(f"- {recipe}, {what} {previous[recipe][0]:,} -> {size:,}: time grew with exponent "
                             f"{growth:.2f}, faster than linear: {WHY_FASTER.get((recipe, what), ELSE)} (see the docstring)")
        previous[recipe] = (size, value)
    return notes


def step_table(title: str, rows: list[tuple[str, int, Step]], key: str) -> list[str]:
    lines = [f"### {title}", "", f"| recipe | {key} | ms/step | x | µs/token | peak MiB | x |", "|---|---:|---:|---:|---:|---:|---:|"]
    previous_time = previous_memory = None
    last_recipe = None
    for recipe, size, step in rows:
        if recipe != last_recipe:
            previous_time = previous_memory = None
            last_recipe = recipe
        lines.append(f"| {recipe} | {size} | {step.ms:.1f} | {exponent(previous_time, size, step.ms)} | "
                     f"{1000 * step.ms / step.tokens:.2f} | {step.mib:.1f} | {exponent(previous_memory, size, step.mib)} |")
        previous_time, previous_memory = (size, step.ms), (size, step.mib)
    return lines


def pipeline_table(rows: list[tuple[str, int, str, Pipeline]]) -> list[str]:
    lines = ["### Data pipeline against corpus size (setup, then one pass over the training loader)", "",
             "| recipe | corpus | setup s | pass s | total x | µs/unit | peak MiB | x | after setup |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    previous_time = previous_memory = None
    last_recipe = None
    for recipe, size, unit, result in rows:
        if recipe != last_recipe:
            previous_time = previous_memory = None
            last_recipe = recipe
        total = result.setup_s + result.pass_s
        lines.append(f"| {recipe} | {size:,} {unit} | {result.setup_s:.2f} | {result.pass_s:.2f} | "
                     f"{exponent(previous_time, size, total)} | {1e6 * total / size:.2f} | {result.mib:.1f} | "
                     f"{exponent(previous_memory, size, result.mib)} | {result.detail} |")
        previous_time, previous_memory = (size, total), (size, result.mib)
    return lines


CORPORA = {  # recipe -> (unit, sizes)
    "next_word": ("words", (250_000, 1_000_000, 4_000_000)),
    "sentiment": ("texts", (10_000, 40_000, 160_000)),
    "forecast": ("rows", (10_000, 40_000, 160_000)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller sweep (lengths to 256, the smallest corpora)")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated: next_word,sentiment,forecast")
    args = parser.parse_args(argv)
    if not Path("/proc/self/clear_refs").exists():
        raise SystemExit("benchmarks/scale.py measures memory through /proc (Linux only)")
    warnings.filterwarnings("ignore")
    import logging

    import torch

    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # "GPU available: False" and tips, once per measurement
    recipes = args.recipes.split(",")
    lengths = LENGTHS[:2] if args.quick else LENGTHS
    batches = BATCHES[:2] if args.quick else BATCHES
    began = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset (glibc default)')}", file=sys.stderr)
    by_length, by_batch, corpora = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for recipe in recipes:
            for length in lengths:
                by_length.append((recipe, length, training_step(recipe, folder, FIXED_BATCH, length, STEPS)))
                print(f"  {recipe} T={length}: {by_length[-1][2]}", file=sys.stderr)
            for batch in batches:
                by_batch.append((recipe, batch, training_step(recipe, folder, batch, FIXED_LENGTH, STEPS)))
                print(f"  {recipe} B={batch}: {by_batch[-1][2]}", file=sys.stderr)
            unit, sizes = CORPORA[recipe]
            for size in sizes[:1] if args.quick else sizes:
                corpora.append((recipe, size, unit, pipeline(recipe, folder, size)))
                print(f"  {recipe} corpus {size}: {corpora[-1][3]}", file=sys.stderr)
    lines = step_table(f"Training step against sequence length T (batch {FIXED_BATCH})", by_length, "T") + [""]
    lines += step_table(f"Training step against batch size (T = {FIXED_LENGTH})", by_batch, "batch") + [""]
    lines += pipeline_table(corpora) + [""]
    notes = (superlinear([(r, t, step.ms) for r, t, step in by_length], "T")
             + superlinear([(r, b, step.ms) for r, b, step in by_batch], "batch")
             + superlinear([(r, n, p.setup_s + p.pass_s) for r, n, _, p in corpora], "corpus"))
    lines += ["Where time grew faster than linearly:", *(notes or ["- nowhere (every exponent at most 1.15)"]), ""]
    lines.append(f"x: growth exponent against the row above (1.00 = linear). Peak MiB: growth of the peak resident "
                 f"set size during the measurement. torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
                 f"MALLOC_MMAP_THRESHOLD_ {os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}; "
                 f"{time.perf_counter() - began:.0f} s in all.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
