"""Forecasting quality: seqkit's recipes beside the baselines it computes on the same split.

    python benchmarks/forecasting.py                    # airline (5 seeds, LSTM and RNN), ETTh1 (horizons 24, 96), CO2
    python benchmarks/forecasting.py --only airline --airline-seeds 5
    python benchmarks/forecasting.py --only etth1 --etth1-seeds 3

Each row is a real `seqkit fit` of a recipe, then `seqkit test` of its best checkpoint
(chosen on the validation span); the test run writes the table of the model beside the
naive, seasonal-naive and linear forecasts on the same windows, which is read back here.

- Airline passengers (`recipes/forecasting/lstm_airline.yaml`): train through 1957, 1957
  as the validation span, the 36 months of 1958-1960 forecast at once from one origin.
  MAPE over 5 seeds (mean and spread). References on
  this split (Darts quickstart): exponential smoothing 5.11%, naive drift plus seasonal
  naive 5.66%, a tuned Theta model 4.40%.
- ETTh1 (`recipes/forecasting/lstm_etth1.yaml`), all 7 variables, the 12/4/4-month split,
  z-scored on training statistics, input 96: test MSE and MAE on the z-scored data over
  every origin of the test span, horizons 24 and 96, mean of 3 seeds, beside the linear
  baseline of the same run (and, for reference, the Informer paper's attention LSTM: MSE
  0.650 at horizon 24).

- Weekly CO2 (`recipes/forecasting/lstm.yaml` and `rnn.yaml`, the shipped default): the
  LSTM and the vanilla RNN beside the baselines, every origin of the test span.

The small models run on one thread (`OMP_NUM_THREADS=1`): on this 2-core machine a tiny
LSTM is no faster on two, and two processes each spinning two OpenMP threads slow each
other down many times over.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes" / "forecasting"
CELLS = {"lstm": "seqkit.modules.LSTM", "rnn": "seqkit.modules.RNN"}


def _data_root() -> Path:
    root = Path(os.environ.get("SEQKIT_DATA", ROOT.parent / "shared" / "data"))
    if not (root / "timeseries").is_dir():
        sys.exit(f"no timeseries folder under {root}: set SEQKIT_DATA to the folder holding timeseries/")
    return root


def run_recipe(recipe: str, out: Path, options: list[str]) -> tuple[pd.DataFrame, float]:
    """`seqkit fit` then `seqkit test` (best checkpoint); the test table and the seconds of fit."""
    env = {**os.environ, "SEQKIT_DATA": str(_data_root()), "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "seqkit.cli"]
    common = ["-c", str(RECIPES / recipe), "--trainer.enable_progress_bar", "false", *options]
    start = time.perf_counter()
    subprocess.run(base + ["fit", *common, "--trainer.default_root_dir", str(out / "fit"), "--trainer.logger",
                           "false"], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    best = next((out / "fit").rglob("best-*.ckpt"))
    subprocess.run(base + ["test", *common, "--ckpt_path", str(best), "--trainer.default_root_dir", str(out / "test"),
                           "--trainer.logger", "false"], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    table = pd.read_csv(next((out / "test").rglob("test_metrics.csv")), index_col="forecaster")
    return table, seconds


def airline(seeds: int, cells: list[str], out: Path) -> None:
    print("\n## Airline passengers: 36 months of 1958-1960 forecast from 1957-12\n")
    print("| forecaster | MAPE % (mean over seeds) | spread (min to max) | MAE | seconds of `seqkit fit` |")
    print("|---|---|---|---|---|")
    baselines = None
    for cell in cells:
        mapes, maes, times = [], [], []
        for seed in range(seeds):
            table, seconds = run_recipe("lstm_airline.yaml", out / f"airline-{cell}-{seed}",
                                        ["--seed_everything", str(seed), "--model.init_args.encoder.class_path",
                                         CELLS[cell]])
            mapes.append(table.loc["seqkit", "mape"])
            maes.append(table.loc["seqkit", "mae"])
            times.append(seconds)
            baselines = table
            print(f"<!-- {cell} seed {seed}: MAPE {mapes[-1]:.2f}% in {seconds:.1f} s -->", flush=True)
        print(f"| seqkit {cell.upper()} (`lstm_airline.yaml`{'' if cell == 'lstm' else ', RNN swapped in'}) | "
              f"**{statistics.mean(mapes):.2f}** | {min(mapes):.2f} to {max(mapes):.2f} | {statistics.mean(maes):.1f} | "
              f"{statistics.mean(times):.0f} |", flush=True)
    for name in baselines.index.drop("seqkit"):
        print(f"| {name} | {baselines.loc[name, 'mape']:.2f} | | {baselines.loc[name, 'mae']:.1f} | |")


def co2(cells: list[str], out: Path) -> None:
    print("\n## Weekly CO2 (the shipped default): 26 weeks forecast from every origin of the test span\n")
    print("| forecaster | MAE (ppm) | MAPE % | MASE | seconds of `seqkit fit` |")
    print("|---|---|---|---|---|")
    table = None
    for cell in cells:
        table, seconds = run_recipe(f"{cell}.yaml", out / f"co2-{cell}", [])
        row = table.loc["seqkit"]
        print(f"| seqkit {cell.upper()} (`{cell}.yaml`) | **{row['mae']:.3f}** | {row['mape']:.3f} | {row['mase']:.3f} | "
              f"{seconds:.0f} |", flush=True)
    for name in table.index.drop("seqkit"):
        row = table.loc[name]
        print(f"| {name} | {row['mae']:.3f} | {row['mape']:.3f} | {row['mase']:.3f} | |")


def etth1(horizons: list[int], seeds: int, out: Path) -> None:
    print(f"\n## ETTh1, 7 variables, input 96, z-scored: test MSE / MAE over every origin of the test span, "
          f"mean of {seeds} seeds\n")
    print("| horizon | seqkit LSTM MSE | spread (min to max) | MAE | linear MSE | MAE | LSTM / linear MSE | "
          "seasonal naive (m=24) MSE | naive MSE | seconds of `seqkit fit` |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for horizon in horizons:
        mses, maes, times = [], [], []
        for seed in range(seeds):
            table, seconds = run_recipe("lstm_etth1.yaml", out / f"etth1-{horizon}-{seed}",
                                        ["--data.horizon", str(horizon), "--seed_everything", str(seed)])
            mses.append(table.loc["seqkit", "scaled_mse"])
            maes.append(table.loc["seqkit", "scaled_mae"])
            times.append(seconds)
            print(f"<!-- horizon {horizon} seed {seed}: LSTM MSE {mses[-1]:.4f}, linear "
                  f"{table.loc['linear', 'scaled_mse']:.4f}, {seconds:.0f} s -->", flush=True)
        linear, mse = table.loc["linear"], statistics.mean(mses)  # the linear baseline is fitted, the same every seed
        print(f"| {horizon} | **{mse:.3f}** | {min(mses):.3f} to {max(mses):.3f} | {statistics.mean(maes):.3f} | "
              f"{linear['scaled_mse']:.3f} | {linear['scaled_mae']:.3f} | {mse / linear['scaled_mse']:.3f} | "
              f"{table.loc['seasonal naive (m=24)', 'scaled_mse']:.3f} | {table.loc['naive', 'scaled_mse']:.3f} | "
              f"{statistics.mean(times):.0f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("airline", "etth1", "co2"), help="run one dataset")
    parser.add_argument("--airline-seeds", type=int, default=5)
    parser.add_argument("--cells", default="lstm,rnn", help="cells for the airline rows (default lstm,rnn)")
    parser.add_argument("--horizons", default="24,96", help="ETTh1 horizons (default 24,96)")
    parser.add_argument("--etth1-seeds", type=int, default=3)
    parser.add_argument("--output_dir", type=Path, help="folder for the runs (default: a temporary folder)")
    args = parser.parse_args()
    out = args.output_dir or Path(tempfile.mkdtemp(prefix="seqkit-forecasting-"))
    if args.only in (None, "airline"):
        airline(args.airline_seeds, args.cells.split(","), out)
    if args.only in (None, "etth1"):
        etth1([int(h) for h in args.horizons.split(",")], args.etth1_seeds, out)
    if args.only in (None, "co2"):
        co2(args.cells.split(","), out)
    print(f"\nruns in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
