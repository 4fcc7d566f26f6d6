"""Transfer from a language model to sentiment analysis (ULMFiT's idea): SST-2 dev accuracy.

    python benchmarks/transfer.py                         # both stages; sized for a GPU
    python benchmarks/transfer.py --lm-ckpt LM.ckpt       # reuse a language model
    python benchmarks/transfer.py --smoke                 # a few batches of everything (tests the script)

Stage 1, the language model (`recipes/next_word/lstm_wikitext2_encoder.yaml`: a 1 x 300
LSTM with a tied 300-wide embedding) reads WikiText-2's training text followed by the
*sentences* of SST-2's training split (no labels; Howard and Ruder's second stage, "target
task language-model fine-tuning", folded into one run). Its vocabulary is every word of
that text: WikiText-2 alone leaves 9.2% of SST-2's training tokens unknown (17.6% with
its 10,000 most frequent words). Validation is WikiText-2's.

Stage 2 trains `recipes/sentiment/lstm_transfer.yaml` (the same 1 x 300 LSTM, max
pooling, a new head; AdamW at lr 0.002) on SST-2 in some of these ways, each with every seed:

    random        from random weights (its vocabulary: SST-2's training words), lr 0.001
    lm            --init_from the language model, every layer at the recipe's rate
    lm_lr1        the same at lr 0.001
    lm_body_half  --init_from, lr 0.001, the embedding and encoder at half of it
    ulmfit        --init_from, lr 0.001, the head alone for the first epoch, then
                  everything with the embedding and encoder at 0.3 x the head's rate
                  (gradual unfreezing and discriminative rates, in two steps)

The classifiers are independent, so they run as parallel processes (`--jobs`); on a GPU
that costs little. Prints a Markdown table: mean, min and max over seeds of the best dev
accuracy, and each run's accuracy by epoch. Reads `SEQKIT_DATA` (default `../shared/data`).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # the rates are spelled out where they differ from the recipe's (lr 0.002)
    "random": ["--model.init_args.lr", "0.001"],
    "lm": ["--init_from", "{lm}"],
    "lm_lr1": ["--init_from", "{lm}", "--model.init_args.lr", "0.001"],
    "lm_body_half": ["--init_from", "{lm}", "--model.init_args.lr", "0.001", "--model.init_args.body_lr_scale", "0.5"],
    "ulmfit": ["--init_from", "{lm}", "--model.init_args.lr", "0.001", "--model.init_args.freeze_body_epochs", "1",
               "--model.init_args.body_lr_scale", "0.3"],
}


def data_root() -> Path:
    root = Path(os.environ.get("SEQKIT_DATA", ROOT.parent / "shared" / "data"))
    for needed in ("sst2/train.tsv", "wikitext-2/train.txt"):
        if not (root / needed).is_file():
            raise SystemExit(f"{root / needed} not found; set SEQKIT_DATA to the folder holding sst2/ and wikitext-2/")
    return root


def write_corpus(root: Path, path: Path) -> int:
    """WikiText-2's training text, then SST-2's training sentences, one per line. Returns the SST-2 line count."""
    import pandas as pd

    sentences = pd.read_csv(root / "sst2" / "train.tsv", sep="\t", quoting=3)["sentence"].astype(str)
    with path.open("w", encoding="utf-8") as out:
        out.write((root / "wikitext-2" / "train.txt").read_text(encoding="utf-8"))
        out.writelines(sentence.strip() + "\n" for sentence in sentences)
    return len(sentences)


def fit_command(recipe: str, folder: Path, extra: list[str], smoke: bool) -> list[str]:
    command = [sys.executable, "-m", "seqkit.cli", "fit", "-c", str(ROOT / "recipes" / recipe),
               "--trainer.default_root_dir", str(folder), "--trainer.enable_progress_bar", "false",
               "--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(folder)]
    if smoke:
        command += ["--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2"]
    return command + extra


def curve(folder: Path, metric: str) -> list[float]:
    """`metric` after each epoch, from the run's CSVLogger file."""
    files = sorted(folder.glob("lightning_logs/version_*/metrics.csv"))
    if not files:
        return []
    with files[-1].open() as handle:
        return [float(row[metric]) for row in csv.DictReader(handle) if row.get(metric)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/transfer"))
    parser.add_argument("--lm-ckpt", help="a next-word checkpoint to start from (skips stage 1)")
    parser.add_argument("--lm-epochs", type=int, default=8)
    parser.add_argument("--lm-batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5, help="classifier epochs (default 5)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--settings", default="random,lm,lm_lr1", help=f"any of {', '.join(SETTINGS)}")
    parser.add_argument("--jobs", type=int, default=3, help="classifier runs at a time (default 3)")
    parser.add_argument("--smoke", action="store_true", help="a few batches of each stage: checks the script, measures nothing")
    args = parser.parse_args()
    root = data_root()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    lm = args.lm_ckpt
    if lm is None:
        corpus = args.out / "lm_corpus.txt"
        lines = write_corpus(root, corpus)
        epochs = 1 if args.smoke else args.lm_epochs
        extra = ["--data.dataset", "null", "--data.train_path", str(corpus), "--data.val_path", str(root / "wikitext-2" / "valid.txt"),
                 "--data.max_tokens", "null", "--data.batch_size", str(args.lm_batch_size), "--trainer.max_epochs", str(epochs),
                 "--model.init_args.lr_decay", "0.5", "--model.init_args.lr_decay_start", str(max(1, epochs // 2))]
        folder = args.out / "lm"
        print(f"stage 1: language model on WikiText-2 + {lines:,} SST-2 training sentences, {epochs} epochs", flush=True)
        start = time.perf_counter()
        subprocess.run(fit_command("next_word/lstm_wikitext2_encoder.yaml", folder, extra, args.smoke), check=True, env=env)
        lm_seconds = time.perf_counter() - start
        lm = str(sorted(folder.glob("lightning_logs/version_*/checkpoints/last.ckpt"))[-1])
        ppl = curve(folder, "val/ppl")
        print(f"stage 1 done in {lm_seconds:.0f} s; WikiText-2 validation perplexity by epoch: "
              + ", ".join(f"{p:.1f}" for p in ppl), flush=True)

    runs = []
    for setting in args.settings.split(","):
        for seed in args.seeds.split(","):
            folder = args.out / f"{setting}_seed{seed}"
            extra = [a.format(lm=lm) for a in SETTINGS[setting]] + ["--seed_everything", seed, "--trainer.max_epochs", str(args.epochs),
                                                                   "--data.root", str(root)]
            runs.append((setting, seed, folder, fit_command("sentiment/lstm_transfer.yaml", folder, extra, args.smoke)))
    print(f"stage 2: {len(runs)} classifier runs, {args.jobs} at a time", flush=True)
    pending, active = list(runs), []
    start = time.perf_counter()
    while pending or active:
        while pending and len(active) < args.jobs:
            setting, seed, folder, command = pending.pop(0)
            folder.mkdir(parents=True, exist_ok=True)
            log = (folder / "log.txt").open("w")
            active.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), setting, seed, folder))
        time.sleep(1)
        for entry in [a for a in active if a[0].poll() is not None]:
            active.remove(entry)
            print(f"  {entry[1]} seed {entry[2]}: exit {entry[0].returncode} ({time.perf_counter() - start:.0f} s)", flush=True)

    print(f"\n## SST-2 dev accuracy, 1 x 300 LSTM (recipes/sentiment/lstm_transfer.yaml), language model {lm}\n")
    print("| start | mean best dev acc | min | max | dev acc by epoch, each seed |\n|---|---|---|---|---|")
    for setting in args.settings.split(","):
        curves = [curve(folder, "val/acc") for s, _, folder, _ in runs if s == setting]
        best = [max(c) for c in curves if c]
        if not best:
            print(f"| {setting} | failed: see {args.out}/{setting}_seed*/log.txt | | | |")
            continue
        shown = "; ".join(", ".join(f"{a:.3f}" for a in c) for c in curves)
        print(f"| {setting} | {statistics.mean(best):.1%} | {min(best):.1%} | {max(best):.1%} | {shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
