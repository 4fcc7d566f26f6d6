"""Where the time of a training epoch goes: windows per second, and the share spent outside the model.

    python benchmarks/fit_speed.py                                      # forecasting/lstm_m3_monthly, 1 epoch
    python benchmarks/fit_speed.py -c forecasting/lstm --epochs 3 --args "--data.batch_size 64"

Runs `seqkit fit -c RECIPE` in a fresh folder with Lightning's `SimpleProfiler` and reads
its report. The training epoch splits into
- the model: `training_step` (forward and loss), `backward`, and the optimizer's own update
  (`optimizer_step` less the step and backward that it calls);
- data: fetching the next batch (`train_dataloader_next`);
- the loop: everything else in the epoch (Lightning's per-step work, logging, callbacks,
  the progress bar when on).
Validation is timed apart. Windows per second are the training examples seen per
second of training epoch (batches x batch size; the last batch may be smaller).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def report(path: Path) -> dict[str, tuple[int, float]]:
    """The profiler report's rows: action -> (calls, total seconds)."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) >= 6 and cells[1] and cells[1] != "Action":
            try:
                rows[cells[1]] = (int(cells[3]), float(cells[4]))
            except ValueError:
                continue
    return rows


def total(rows: dict, suffix: str) -> float:
    return sum(seconds for action, (_, seconds) in rows.items() if action.endswith(suffix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default="forecasting/lstm_m3_monthly", help="a recipe")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--args", default="", help="more options for seqkit fit")
    args = parser.parse_args()
    from seqkit.packaged import recipe_path

    recipe = yaml.safe_load(recipe_path(args.config).read_text())
    extra = args.args.split()
    batch_size = recipe["data"]["init_args"].get("batch_size", 32)
    if "--data.batch_size" in extra:
        batch_size = int(extra[extra.index("--data.batch_size") + 1])
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seqkit.cli", "fit", "-c", args.config, "--trainer.max_epochs",
                        str(args.epochs), "--trainer.enable_progress_bar", "false",
                        "--trainer.profiler.class_path", "lightning.pytorch.profilers.SimpleProfiler",
                        "--trainer.profiler.init_args.dirpath", "profile", "--trainer.profiler.init_args.filename",
                        "fit", *extra], cwd=folder, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        rows = report(next(Path(folder, "profile").glob("*fit*.txt")))
    epoch = rows["run_training_epoch"][1]
    batches = rows["run_training_batch"][0]
    step, backward = total(rows, ".training_step"), total(rows, ".backward")
    update = total(rows, ".optimizer_step") - step - backward
    data = total(rows, "train_dataloader_next")
    model = step + backward + update
    loop = epoch - model - data
    validation = total(rows, ".validation_step") + total(rows, "val_next")
    print(f"{args.config} {' '.join(extra)}: {args.epochs} epoch(s), {batches} batches of {batch_size} windows")
    print("| part of the training epochs | seconds | share |")
    print("|---|---|---|")
    for name, seconds in (("model: forward and loss", step), ("model: backward", backward),
                          ("model: optimizer update", update), ("data: next batch", data),
                          ("loop: Lightning, logging, callbacks", loop)):
        print(f"| {name} | {seconds:.1f} | {seconds / epoch:.1%} |")
    print(f"| training epochs in all | {epoch:.1f} | 100% |")
    print(f"training: {batches * batch_size / epoch:,.0f} windows/s, {1000 * epoch / batches:.1f} ms a step "
          f"({1000 * (data + loop) / batches:.2f} ms of it outside the model); validation {validation:.1f} s; "
          f"the whole command {wall:.0f} s")


if __name__ == "__main__":
    main()
