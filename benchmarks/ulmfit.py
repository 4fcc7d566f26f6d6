"""ULMFiT on SST-2 on a CPU: the whole chain per seed, timed, and the dev accuracy it reaches.

    python benchmarks/ulmfit.py                      # seeds 0, 1, 2 (about 25 minutes each on 2 cores)
    python benchmarks/ulmfit.py --seeds 0 --lm-dir runs/benchmarks/ulmfit   # reuse seed 0's language models
    python benchmarks/ulmfit.py --smoke              # a few batches of every stage (checks the script)

One chain, for each seed, on the two cores of the machine, one thread per process:

1. Two language models of SST-2's training sentences at once (`recipes/next_word/lstm_sst2.yaml`):
   one reading forwards, one reading every sentence last word first (`--data.reverse true`).
2. Two classifiers at once (`recipes/sentiment/lstm_ulmfit.yaml`): one from each language
   model, the second reading texts last word first (`--model.init_args.reverse true`).
3. Their average (`seqkit.tasks.labelling.Averaged`): each dev sentence's probabilities
   are the mean of the two classifiers', each at its best epoch on the dev split.

Prints, for each seed, the dev accuracy of the forward classifier, the backward one and
their average, and the minutes of the whole chain (both language models included); then
the mean over seeds. `--classifier-args` passes more flags to both classifiers (to try a
setting). Reads `SEQKIT_DATA` (or the download cache).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def best_checkpoint(folder: Path) -> Path:
    """The `best-*.ckpt` of the newest run under `folder` (`last.ckpt` for a language model, which keeps no best)."""
    runs = sorted(folder.glob("lightning_logs/version_*/checkpoints"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not runs:
        raise SystemExit(f"no checkpoint under {folder}: see {folder}/log.txt")
    best = sorted(runs[-1].glob("best-*.ckpt"))
    return best[-1] if best else runs[-1] / "last.ckpt"


def run_pair(commands: list[tuple[list[str], Path]], env: dict) -> None:
    """Run the commands side by side, each with its log in its folder; fail if either fails."""
    running = []
    for command, folder in commands:
        folder.mkdir(parents=True, exist_ok=True)
        log = (folder / "log.txt").open("w")
        running.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), folder))
    for process, folder in running:
        if process.wait() != 0:
            raise SystemExit(f"{' '.join(process.args[:6])} ... failed: see {folder}/log.txt")


def fit(recipe: str, folder: Path, extra: list[str], smoke: bool) -> list[str]:
    command = [sys.executable, "-m", "seqkit.cli", "fit", "-c", recipe, "--trainer.default_root_dir", str(folder),
               "--trainer.enable_progress_bar", "false"]
    if smoke:
        command += ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2"]
    return command + extra


def dev_accuracy(checkpoints: list[Path]) -> list[float]:
    """SST-2 dev accuracy of each classifier, then of their average."""
    import torch

    from seqkit.data import catalog
    from seqkit.data.text_tables import read_table
    from seqkit.tasks import SentimentTask
    from seqkit.tasks.labelling import Averaged

    item = catalog.CATALOG["sst2"]
    dev = read_table(catalog.locate("sst2")["val"], item.extra["text_column"], item.extra["label_column"])
    names = dict(pair.split("=") for pair in item.extra["label_names"].split(","))
    tasks = [SentimentTask.from_checkpoint(path, map_location="cpu") for path in checkpoints]
    truth = torch.tensor([tasks[0].labels.index(names.get(label, label)) for label in dev.labels])
    members = [Averaged([task]) for task in tasks] + [Averaged(tasks)]
    return [(member.probabilities(dev.texts).argmax(1) == truth).float().mean().item() for member in members]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, default=Path("runs/benchmarks/ulmfit"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--lm-dir", type=Path, help="a folder of an earlier run: reuse its language models (seed_N/lm_forward, lm_backward)")
    parser.add_argument("--classifier-args", default="", help="more flags for both classifiers, as one string")
    parser.add_argument("--smoke", action="store_true", help="a few batches of each stage: checks the script, measures nothing")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    lm_recipe, classifier_recipe = str(ROOT / "recipes/next_word/lstm_sst2.yaml"), str(ROOT / "recipes/sentiment/lstm_ulmfit.yaml")
    rows = []
    for seed in args.seeds.split(","):
        out = args.output_dir / f"seed_{seed}"
        start = time.perf_counter()
        lms = {way: (args.lm_dir or args.output_dir) / f"seed_{seed}" / f"lm_{way}" for way in ("forward", "backward")}
        if args.lm_dir is None:
            print(f"seed {seed}: the forward and the backward language model", flush=True)
            run_pair([(fit(lm_recipe, lms["forward"], ["--seed_everything", seed], args.smoke), lms["forward"]),
                      (fit(lm_recipe, lms["backward"], ["--seed_everything", seed, "--data.reverse", "true"], args.smoke),
                       lms["backward"])], env)
        lm_minutes = (time.perf_counter() - start) / 60
        print(f"seed {seed}: the two classifiers ({lm_minutes:.1f} min so far)", flush=True)
        extra = ["--seed_everything", seed, *shlex.split(args.classifier_args)]
        classifiers = {way: out / f"classifier_{way}" for way in ("forward", "backward")}
        run_pair([(fit(classifier_recipe, classifiers["forward"], ["--init_from", str(best_checkpoint(lms["forward"])), *extra],
                       args.smoke), classifiers["forward"]),
                  (fit(classifier_recipe, classifiers["backward"], ["--init_from", str(best_checkpoint(lms["backward"])),
                                                                    "--model.init_args.reverse", "true", *extra], args.smoke),
                   classifiers["backward"])], env)
        minutes = (time.perf_counter() - start) / 60
        accuracy = dev_accuracy([best_checkpoint(classifiers[way]) for way in ("forward", "backward")])
        rows.append((seed, *accuracy, minutes, lm_minutes if args.lm_dir is None else None))
        print(f"seed {seed}: forward {accuracy[0]:.2%}, backward {accuracy[1]:.2%}, averaged {accuracy[2]:.2%}; "
              f"{minutes:.1f} min", flush=True)

    print("\n## SST-2 dev accuracy, ULMFiT on a CPU (recipes/next_word/lstm_sst2.yaml, recipes/sentiment/lstm_ulmfit.yaml)\n")
    print("| seed | forward | backward | averaged | chain, minutes | of which language models |\n|---|---|---|---|---|---|")
    for seed, forward, backward, both, minutes, lm_minutes in rows:
        lm = f"{lm_minutes:.1f}" if lm_minutes is not None else "reused"
        print(f"| {seed} | {forward:.2%} | {backward:.2%} | {both:.2%} | {minutes:.1f} | {lm} |")
    if len(rows) > 1:
        means = [statistics.mean(row[i] for row in rows) for i in (1, 2, 3)]
        print(f"| mean | {means[0]:.2%} | {means[1]:.2%} | **{means[2]:.2%}** | {statistics.mean(r[4] for r in rows):.1f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
