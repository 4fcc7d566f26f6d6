"""ULMFiT on SST-2 on a CPU: the whole chain per seed, timed, and the dev accuracy it reaches.

    python benchmarks/ulmfit.py                      # seeds 0, 1, 2 (about 15 minutes each on 2 cores)
    python benchmarks/ulmfit.py --members forward,backward    # a forward and a backward pair instead
    python benchmarks/ulmfit.py --seeds 0 --lm-dir runs/benchmarks/ulmfit   # reuse seed 0's language models
    python benchmarks/ulmfit.py --members forward,forward --per-lm 3   # three classifiers from each language model
    python benchmarks/ulmfit.py --smoke              # a few batches of every stage (checks the script)

One chain, for each seed, on the two cores of the machine, one thread per process:

1. A language model of SST-2's training sentences for each member
   (`recipes/next_word/lstm_sst2.yaml`; a backward member reads every sentence last word
   first, `--data.reverse true`), two at a time. Member i trains with seed + 100 i.
2. A classifier from each (`recipes/sentiment/lstm_ulmfit.yaml`; a backward one with
   `--model.init_args.reverse true`), two at a time; with `--per-lm K`, K classifiers from
   each, the j-th of member i seeded seed + 100 i + 10 j (a classifier costs about a
   quarter of its language model).
3. Their average (`seqkit.tasks.labelling.Averaged`): each dev sentence's probabilities
   are the mean of the classifiers', each at its best check on the dev split.

Prints, for each seed, the dev accuracy of every member and of their average, and the
minutes of the whole chain (the language models included); then the mean over seeds.
`--classifier-args` passes more flags to every classifier (to try a setting). Reads
`SEQKIT_DATA` (or the download cache).
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

from seqkit.training import checkpoints

ROOT = Path(__file__).resolve().parents[1]


def trained(folder: Path) -> bool:
    """Whether the run in `folder` went to its end: its log says so, and it left checkpoints.

    A run stopped part of the way also leaves a `last.ckpt` (written every few hundred
    steps), so a checkpoint alone does not tell.
    """
    log = folder / "log.txt"
    return (log.is_file() and "seqkit: training finished" in log.read_text(errors="replace")
            and any(folder.glob("lightning_logs/version_*/checkpoints/last.ckpt")))


def run_all(commands: list[tuple[list[str], Path]], env: dict, jobs: int) -> None:
    """Run the commands, `jobs` at a time, each with its log in its folder; stop at the first that fails."""
    pending, running = list(commands), []
    while pending or running:
        while pending and len(running) < jobs:
            command, folder = pending.pop(0)
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / "log.txt").open("w") as log:  # the child keeps its own handle
                running.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), folder))
        time.sleep(1)
        for process, folder in [r for r in running if r[0].poll() is not None]:
            running.remove((process, folder))
            if process.returncode != 0:
                raise SystemExit(f"{' '.join(map(str, process.args[:6]))} ... failed: see {folder}/log.txt")


def fit(recipe: str, folder: Path, extra: list[str], smoke: bool) -> list[str]:
    command = [sys.executable, "-m", "seqkit.cli", "fit", "-c", recipe, "--trainer.default_root_dir", str(folder),
               "--trainer.enable_progress_bar", "false"]
    if smoke:
        command += ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2"]
    return command + extra


def dev_accuracy(checkpoints: list[Path]) -> tuple[list[float], list[float]]:
    """SST-2 dev accuracy of each classifier, and of the average of the first k of them for k = 2, 3, ..."""
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
    each = [Averaged([task]).probabilities(dev.texts) for task in tasks]  # (N, C) per classifier, computed once
    right = lambda table: (table.argmax(1) == truth).float().mean().item()
    return [right(table) for table in each], [right(torch.stack(each[:k]).mean(0)) for k in range(2, len(tasks) + 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, default=Path("runs/benchmarks/ulmfit"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--members", default="forward,forward",
                        help="the classifiers averaged, each from its own language model: forward or backward, "
                             "comma-separated (default forward,forward); member i trains with seed + 100 i")
    parser.add_argument("--per-lm", type=int, default=1,
                        help="classifiers trained from each language model, each with its own seed (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time, one thread each (default 2, one per core)")
    parser.add_argument("--lm-dir", type=Path, help="a folder of an earlier run: reuse its language models")
    parser.add_argument("--classifier-args", default="", help="more flags for every classifier, as one string")
    parser.add_argument("--resume", action="store_true",
                        help="keep the members already trained in --output_dir (a language model and a classifier with "
                             "checkpoints) and train only the others: the minutes printed are those of the new ones")
    parser.add_argument("--smoke", action="store_true", help="a few batches of each stage: checks the script, measures nothing")
    args = parser.parse_args()
    members = args.members.split(",")
    if not members or set(members) - {"forward", "backward"}:
        raise SystemExit(f"--members takes forward and backward, comma-separated; got {args.members!r}")
    if args.per_lm < 1:
        raise SystemExit(f"--per-lm is how many classifiers each language model starts: 1 or more, got {args.per_lm}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    lm_recipe, classifier_recipe = str(ROOT / "recipes/next_word/lstm_sst2.yaml"), str(ROOT / "recipes/sentiment/lstm_ulmfit.yaml")
    rows = []
    for seed in args.seeds.split(","):
        out = args.output_dir / f"seed_{seed}"
        start = time.perf_counter()
        lm_names = [f"{i}_{way}" for i, way in enumerate(members)]
        lm_seeds = {name: int(seed) + 100 * i for i, name in enumerate(lm_names)}
        backward = {name: way == "backward" for name, way in zip(lm_names, members)}
        lms = {name: (args.lm_dir or args.output_dir) / f"seed_{seed}" / f"lm_{name}" for name in lm_names}
        # Classifier j of language model "i_way" is "i_way" (j = 0) or "i_way_j", seeded 10 j after
        # it, in the order one from each language model, then a second from each...: the first k
        # averaged differ most.
        plan = [(f"{lm}_{j}" if j else lm, lm, lm_seeds[lm] + 10 * j) for j in range(args.per_lm) for lm in lm_names]
        names = [name for name, _, _ in plan]
        lm_of = {name: lm for name, lm, _ in plan}
        seeds = {name: str(classifier_seed) for name, _, classifier_seed in plan}
        classifiers = {name: out / f"classifier_{name}" for name in names}
        done = {n for n in names if args.resume and trained(lms[lm_of[n]]) and trained(classifiers[n])}
        new = [n for n in names if n not in done]
        new_lms = [lm for lm in lm_names if not (args.resume and trained(lms[lm]))]
        if done:
            print(f"seed {seed}: kept {', '.join(sorted(done))} from {out}", flush=True)
        if args.lm_dir is None:
            print(f"seed {seed}: {len(new_lms)} language models", flush=True)
            run_all([(fit(lm_recipe, lms[n], ["--seed_everything", str(lm_seeds[n]), "--data.reverse", str(backward[n]).lower()],
                          args.smoke), lms[n]) for n in new_lms], env, args.jobs)
        lm_minutes = (time.perf_counter() - start) / 60
        print(f"seed {seed}: {len(new)} classifiers ({lm_minutes:.1f} min so far)", flush=True)
        run_all([(fit(classifier_recipe, classifiers[n], ["--init_from", str(checkpoints.resolve(lms[lm_of[n]], say=False)),
                                                          "--seed_everything", seeds[n],
                                                          "--model.init_args.reverse", str(backward[lm_of[n]]).lower(),
                                                          *shlex.split(args.classifier_args)], args.smoke), classifiers[n])
                 for n in new], env, args.jobs)
        minutes = (time.perf_counter() - start) / 60
        alone, averaged = dev_accuracy([checkpoints.resolve(classifiers[n], say=False) for n in names])
        rows.append((seed, alone + averaged, minutes, lm_minutes if args.lm_dir is None else None))
        print(f"seed {seed}: " + ", ".join(f"{n} {a:.2%}" for n, a in zip(names, alone))
              + "".join(f", first {k + 2} averaged {a:.2%}" for k, a in enumerate(averaged)) + f"; {minutes:.1f} min", flush=True)

    title = "ULMFiT on a CPU (recipes/next_word/lstm_sst2.yaml, recipes/sentiment/lstm_ulmfit.yaml)"
    print(f"\n## SST-2 dev accuracy, {title}\n")
    heads = [f"{i}: {way}" + (f" #{j}" if args.per_lm > 1 else "") for j in range(args.per_lm) for i, way in enumerate(members)]
    columns = heads + [f"first {k} averaged" for k in range(2, len(heads) + 1)]
    print(f"| seed | {' | '.join(columns)} | minutes{' (new members)' if args.resume else ''} | of which language models |")
    print("|---|" + "---|" * (len(columns) + 2))
    for seed, accuracy, minutes, lm_minutes in rows:
        lm = f"{lm_minutes:.1f}" if lm_minutes is not None else "reused"
        print(f"| {seed} | " + " | ".join(f"{a:.2%}" for a in accuracy) + f" | {minutes:.1f} | {lm} |")
    if len(rows) > 1:
        means = [statistics.mean(row[1][i] for row in rows) for i in range(len(columns))]
        print("| mean | " + " | ".join(f"**{m:.2%}**" if i >= len(heads) else f"{m:.2%}" for i, m in enumerate(means))
              + f" | {statistics.mean(r[2] for r in rows):.1f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
