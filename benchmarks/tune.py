"""`seqkit tune`, measured: does the best configuration of a study beat the recipe's default on data it never saw?

    python benchmarks/tune.py                                       # both recipes, 20 trials, at most 20 min each
    python benchmarks/tune.py --recipes sentiment/lstm_reviews --trials 10 --timeout 300

For each recipe, from a fresh folder: `seqkit tune -c RECIPE --trials N --timeout T` with
the recipe's shipped search space: its wall time, the trials pruned, and the share of the
wall time spent outside the trials' `seqkit fit` runs (the study's own work: starting,
drawing values, the database, the results) and outside their `Trainer.fit` (also each
run's building and data reading). Then the study's `best.yaml` and the recipe as shipped are each trained
with seeds 0, 1, 2 (`--seed_everything`; the same data split as the study) and scored by
`seqkit test` on the test split, which no trial saw: the study chose by the validation
score only. Prints one table per recipe and a summary.

forecasting/lstm_airline reads the airline series (downloaded once, or from SEQKIT_DATA).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def seqkit(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "seqkit.cli", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"seqkit {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout + done.stderr


def test_score(config: str, seed: int, folder: Path, metric: str, cwd: Path) -> float:
    """Train `config` with `seed` into `folder` and score its best checkpoint on the test split."""
    quiet = ["--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(folder)]
    seqkit("fit", "-c", config, "--seed_everything", str(seed), *quiet, cwd=cwd)
    said = seqkit("test", "-c", config, "--ckpt_path", "best", *quiet, cwd=cwd)
    return float(re.search(rf"{re.escape(metric)}\s+([-\d.e]+)", said)[1])


def study(recipe: str, trials: int, timeout: float, seeds: list[int], here: Path) -> dict:
    out = here / "study"
    start = time.perf_counter()
    said = seqkit("tune", "-c", recipe, "--trials", str(trials), "--timeout", str(timeout), "--output_dir", str(out),
           "--trainer.enable_progress_bar", "false", cwd=here)
    wall = time.perf_counter() - start
    table = pd.read_csv(out / "trials.csv")
    best_yaml = (out / "best.yaml").read_text()
    monitor = re.search(r", (\S+) [-\d.e]+\) of the study", best_yaml)[1]
    metric = monitor.replace("val/", "test/", 1)
    scores = {}
    for name, config in (("default", recipe), ("best", str(out / "best.yaml"))):
        scores[name] = [test_score(config, seed, here / f"{name}-seed{seed}", metric, here) for seed in seeds]
        print(f"  {recipe} {name}: {metric} " + ", ".join(f"{s:.4g}" for s in scores[name]), flush=True)
    fit, run = table["fit_seconds"].fillna(0).sum(), table["run_seconds"].fillna(0).sum()
    return {"recipe": recipe, "metric": metric, "trials": len(table), "complete": int((table.state == "complete").sum()),
            "pruned": int((table.state == "pruned").sum()), "failed": int((table.state == "failed").sum()),
            "wall_min": wall / 60, "outside_runs": 1 - run / wall, "outside": 1 - fit / wall, "scores": scores,
            "best": table[table.trial == int(re.search(r"best trial #(\d+)", said)[1])].iloc[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="forecasting/lstm_airline,sentiment/lstm_reviews")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=1200, help="seconds after which a study starts no trial")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--keep", type=Path, help="copy each study's trials.csv and pictures into KEEP/<recipe>/")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = []
    for recipe in args.recipes.split(","):
        print(f"{recipe}: a study of {args.trials} trials (at most {args.timeout / 60:.0f} minutes)...", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            results.append(study(recipe, args.trials, args.timeout, seeds, Path(folder)))
            if args.keep:
                kept = args.keep / recipe
                kept.mkdir(parents=True, exist_ok=True)
                for name in ("trials.csv", "best.yaml", "history.png", "importances.png"):
                    if (Path(folder) / "study" / name).is_file():
                        shutil.copy(Path(folder) / "study" / name, kept / name)
    print(f"\n| recipe | test metric | recipe as shipped (seeds {args.seeds}) | best of the study | trials (pruned) "
          "| study wall | outside the trials' runs | outside Trainer.fit |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        shown = {name: f"{statistics.mean(v):.4g} ± {statistics.stdev(v):.2g}" if len(v) > 1 else f"{v[0]:.4g}"
                 for name, v in r["scores"].items()}
        print(f"| {r['recipe']} | {r['metric']} | {shown['default']} | {shown['best']} | {r['trials']} ({r['pruned']}) "
              f"| {r['wall_min']:.1f} min | {r['outside_runs']:.1%} | {r['outside']:.1%} |")
    for r in results:
        values = {k: v for k, v in r["best"].items() if "." in str(k) and k not in ("folder",)}
        print(f"\n{r['recipe']}: best trial #{r['best']['trial']}: " + ", ".join(f"{k} = {v}" for k, v in values.items()))
        print(f"  {r['complete']} complete, {r['pruned']} pruned, {r['failed']} failed")


if __name__ == "__main__":
    main()
