"""The long-range memory benchmark: where a vanilla RNN forgets and an LSTM remembers.

    python benchmarks/memory.py                               # adding problem, T in 10 25 50 100 200, rnn and lstm
    python benchmarks/memory.py --task recall --lengths 10,50,100

Runs `seqkit compare -c recipes/memory/<task>.yaml --cells rnn,lstm --sweep data.length=...`
(the recipes' own training, each cell with the same data, seed and budget) and prints the
test score against T for each cell beside the trivial baseline: MSE 0.167 for always
answering 1 on the adding problem, 1 / n_symbols accuracy on recall. The goal: the vanilla
RNN solves short T and does not beat the trivial baseline at T = 100, while the LSTM
solves T = 100 (test MSE below 0.01 on the adding problem), within 10 minutes per cell on
this CPU. The plots and the per-run CSV land in the output folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("adding", "recall"), default="adding")
    parser.add_argument("--lengths", default="10,25,50,100,200")
    parser.add_argument("--cells", default="rnn,lstm")
    parser.add_argument("--out", type=Path, help="results folder (default: a temporary folder)")
    parser.add_argument("extra", nargs="*", help="options for every run, after --, e.g. -- --trainer.max_epochs 10")
    args = parser.parse_args()
    from seqkit.cli import main as seqkit

    out = args.out or Path(tempfile.mkdtemp(prefix="seqkit-memory-")) / args.task
    code = seqkit(["compare", "-c", str(ROOT / "recipes" / "memory" / f"{args.task}.yaml"), "--cells", args.cells,
                   "--sweep", f"data.length={args.lengths}", "--out", str(out), "--force",
                   *(["--", *args.extra] if args.extra else [])])
    if code:
        return code
    results = pd.read_csv(out / "results.csv")
    metric, trivial = ("test/mse", 1 / 6) if args.task == "adding" else ("test/acc", None)
    print(f"\n## {args.task}: {metric} against T (trivial: {'MSE 0.167' if trivial else '1 / n_symbols'})\n")
    table = results.pivot_table(index="value", columns="cell", values=metric)
    seconds = results.pivot_table(index="value", columns="cell", values="s_per_epoch")
    epochs = results.pivot_table(index="value", columns="cell", values="epochs")
    print("| T | " + " | ".join(f"{c} {metric}" for c in table.columns) + " | "
          + " | ".join(f"{c} minutes" for c in table.columns) + " |")
    print("|---|" + "---|" * (2 * len(table.columns)))
    for length, row in table.iterrows():
        minutes = [seconds.loc[length, c] * epochs.loc[length, c] / 60 for c in table.columns]
        print(f"| {length} | " + " | ".join(f"{row[c]:.4f}" for c in table.columns) + " | "
              + " | ".join(f"{m:.1f}" for m in minutes) + " |")
    if args.task == "adding" and 100 in table.index:
        lstm, rnn = table.loc[100].get("lstm"), table.loc[100].get("rnn")
        if lstm is not None:
            print(f"\nT = 100: LSTM test MSE {lstm:.4f} (goal below 0.01: {'MET' if lstm < 0.01 else 'MISSED'})")
        if rnn is not None:
            print(f"T = 100: RNN test MSE {rnn:.4f} (trivial 0.167; the RNN {'does not beat' if rnn > 0.15 else 'beats'} it)")
    print(f"\nresults, summary and plots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
