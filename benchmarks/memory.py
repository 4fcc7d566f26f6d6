"""The long-range memory benchmark: where a vanilla RNN forgets and an LSTM remembers.

    python benchmarks/memory.py                               # adding problem, T in 10 25 50 100 200, rnn and lstm
    python benchmarks/memory.py --task recall --lengths 10,25,50,100,200
    python benchmarks/memory.py --task recall --lengths 100 --cells lstm -- --model.forget_bias 0 --model.input_bias 0

Runs `seqkit compare -c recipes/memory/<task>.yaml --cells rnn,lstm --sweep data.length=...`
(the recipes' own training, each cell with the same data, seed and budget) and prints the
test score against T for each cell beside the trivial baseline: MSE 0.167 for always
answering 1 on the adding problem, accuracy 1 / n_symbols (0.125) for guessing on recall;
then the minutes each run trained and the gradient ratio |dL/dh_0| / |dL/dh_T-1| at the end
of training. The plots and the per-run CSV land in the output folder. docs/results.md's
tables were measured on one thread, pinned to one core:

    OMP_NUM_THREADS=1 taskset -c 1 nice -n 5 python benchmarks/memory.py --task recall --out /tmp/recall
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TASKS = {  # task: (test metric, trivial score (None: the logged baseline), lower is better)
    "adding": ("test/mse", 1 / 6, True),
    "recall": ("test/acc", None, False),
}


def table(results: pd.DataFrame, metric: str) -> list[str]:
    """Markdown lines: per T, each cell's test score, minutes of training and gradient ratio."""
    score = results.pivot_table(index="value", columns="cell", values=metric)
    minutes = results.assign(minutes=results.s_per_epoch * results.epochs / 60).pivot_table(
        index="value", columns="cell", values="minutes")
    ratio = results.pivot_table(index="value", columns="cell", values="grad_ratio", dropna=False)
    cells = list(score.columns)
    header = (["T"] + [f"{c} {metric}" for c in cells] + [f"{c} minutes" for c in cells]
              + [f"{c} grad ratio" for c in cells])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for length in score.index:
        row = [str(length)] + [f"{score.loc[length, c]:.4f}" for c in cells]
        row += [f"{minutes.loc[length, c]:.1f}" for c in cells]
        row += [f"{ratio.loc[length, c]:.2g}" if c in ratio.columns else "n/a" for c in cells]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=tuple(TASKS), default="adding")
    parser.add_argument("--lengths", default="10,25,50,100,200")
    parser.add_argument("--cells", default="rnn,lstm")
    parser.add_argument("--output_dir", type=Path, help="results folder (default: a temporary folder)")
    parser.add_argument("extra", nargs="*", help="options for every run, after --, e.g. -- --trainer.max_epochs 10")
    args = parser.parse_args()
    from seqkit.cli import main as seqkit

    out = args.out or Path(tempfile.mkdtemp(prefix="seqkit-memory-")) / args.task
    code = seqkit(["compare", "-c", str(ROOT / "recipes" / "memory" / f"{args.task}.yaml"), "--cells", args.cells,
                   "--sweep", f"data.length={args.lengths}", "--output_dir", str(out), "--force",
                   *(["--", *args.extra] if args.extra else [])])
    if code:
        return code
    results = pd.read_csv(out / "results.csv")
    metric, trivial, lower = TASKS[args.task]
    baseline = trivial if trivial is not None else float(results[metric.replace("/", "/baseline_")].mean())
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    allocator = os.environ.get("MALLOC_MMAP_THRESHOLD_", "glibc default")
    print(f"\n## {args.task}: {metric} against T (trivial: {baseline:.3f}; OMP_NUM_THREADS={threads}, "
          f"allocator: {allocator}{', options: ' + ' '.join(args.extra) if args.extra else ''})\n")
    print("\n".join(table(results, metric)))
    at_100 = results[results.value == 100].set_index("cell")[metric]
    for cell in ("lstm", "rnn"):
        if cell in at_100:
            print(f"T = 100: {cell.upper()} {metric} {at_100[cell]:.4f} (trivial {baseline:.3f})")
    print(f"\nresults, summary and plots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
