"""Transfer from a language model to sentiment analysis (ULMFiT's idea): SST-2 dev accuracy.

    python benchmarks/transfer.py                         # both stages; sized for a GPU
    python benchmarks/transfer.py --lm-ckpt LM.ckpt       # reuse a language model
    python benchmarks/transfer.py --settings bi_random,bi_lm,bilm   # bidirectional, with a backward LM
    python benchmarks/transfer.py --export DIR            # also keep the language models, compact
    python benchmarks/transfer.py --smoke                 # a few batches of everything (tests the script)

`--export DIR` writes each language model trained here as a compact copy (half-precision
weights, no optimizer state: `seqkit.training.checkpoints.compact`), `DIR/lm_forward.ckpt` and
`DIR/lm_backward.ckpt`: pass one to `--lm-ckpt` (or `--lm-bwd-ckpt`) to train classifiers
on another machine without stage 1.

Stage 1, the language model (`recipes/next_word/lstm_wikitext2_encoder.yaml`: a 1 x 300
LSTM with a tied 300-wide embedding) reads WikiText-2's training text followed by the
*sentences* of SST-2's training split (no labels; Howard and Ruder's second stage, "target
task language-model fine-tuning", folded into one run). Its vocabulary is every word of
that text: WikiText-2 alone leaves 9.2% of SST-2's training tokens unknown (17.6% with
its 10,000 most frequent words). Validation is WikiText-2's.

Stage 1b, only for the `bilm` setting: a backward language model (`--data.reverse true`: the
same text read last word first, so it predicts the word before), started from the forward
one with its embedding (and so its tied output weights) frozen, so that both read the same
word vectors, and trained for the same epochs on the same text.

Stage 2 trains `recipes/sentiment/lstm_transfer.yaml` (the same 1 x 300 LSTM, max
pooling, a new head; AdamW at lr 0.002) on SST-2 in some of these ways, each with every seed:

    random        from random weights (its vocabulary: SST-2's training words), lr 0.001
    lm            --init_from the language model, every layer at the recipe's rate
    lm_lr1        the same at lr 0.001
    lm_body_half  --init_from, lr 0.001, the embedding and encoder at half of it
    ulmfit        --init_from, lr 0.001, the head alone for the first epoch, then
                  everything with the embedding and encoder at 0.3 x the head's rate
                  (gradual unfreezing and discriminative rates, in two steps)
    bi_random     a bidirectional 2 x 300 classifier from random weights, lr 0.001
    bi_lm         the same, --init_from the forward model (the reverse direction starts random)
    bilm          the same, and --init_from_backward the backward model for the reverse
                  direction (the pairing of ULMFiT's and ELMo's two language models)

The classifiers are independent, so they run as parallel processes (`--jobs`); on a GPU
that costs little. Prints a Markdown table: mean, min and max over seeds of the best dev
accuracy, and each run's accuracy by epoch. Reads `SEQKIT_DATA` (or the download cache).
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

from seqkit.data.catalog import data_folder

ROOT = Path(__file__).resolve().parents[1]
BIDIRECTIONAL = ["--model.init_args.encoder.init_args.bidirectional", "true"]
SETTINGS = {  # the rates are spelled out where they differ from the recipe's (lr 0.002)
    "random": ["--model.init_args.optimizer.init_args.lr", "0.001"],
    "lm": ["--init_from", "{lm}"],
    "lm_lr1": ["--init_from", "{lm}", "--model.init_args.optimizer.init_args.lr", "0.001"],
    "lm_body_half": ["--init_from", "{lm}", "--model.init_args.optimizer.init_args.lr", "0.001", "--model.init_args.body_lr_scale", "0.5"],
    "ulmfit": ["--init_from", "{lm}", "--model.init_args.optimizer.init_args.lr", "0.001", "--model.init_args.freeze_body_epochs", "1",
               "--model.init_args.body_lr_scale", "0.3"],
    "bi_random": [*BIDIRECTIONAL, "--model.init_args.optimizer.init_args.lr", "0.001"],
    "bi_lm": [*BIDIRECTIONAL, "--init_from", "{lm}"],
    "bilm": [*BIDIRECTIONAL, "--init_from", "{lm}", "--init_from_backward", "{lm_bwd}"],
}


def data_root() -> Path:
    root = data_folder()
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


def export(path: Path, folder: Path, name: str) -> str:
    """A compact copy of the checkpoint at `path` as `folder/NAME.ckpt` (never over an existing file)."""
    sys.path.insert(0, str(ROOT))
    from seqkit.training.checkpoints import compact

    whole = folder / f"{name}.ckpt"
    compact(path, whole)
    return f"{whole.stat().st_size / 2**20:.1f} MiB, {whole}"


def curve(folder: Path, metric: str) -> list[float]:
    """`metric` after each epoch, from the run's CSVLogger file."""
    files = sorted(folder.glob("lightning_logs/version_*/metrics.csv"))
    if not files:
        return []
    with files[-1].open() as handle:
        return [float(row[metric]) for row in csv.DictReader(handle) if row.get(metric)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, default=Path("runs/benchmarks/transfer"))
    parser.add_argument("--lm-ckpt", help="a next-word checkpoint to start from (skips stage 1)")
    parser.add_argument("--lm-bwd-ckpt", help="a backward next-word checkpoint, for bilm (skips stage 1b)")
    parser.add_argument("--export", type=Path, help="write compact copies of the language models trained here into this folder")
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

    settings = args.settings.split(",")
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown setting(s) {unknown}; choose from {', '.join(SETTINGS)}")
    corpus = args.out / "lm_corpus.txt"
    epochs = 1 if args.smoke else args.lm_epochs
    lm_extra = ["--data.dataset", "null", "--data.train_path", str(corpus), "--data.val_path", str(root / "wikitext-2" / "valid.txt"),
                "--data.max_tokens", "null", "--data.batch_size", str(args.lm_batch_size), "--trainer.max_epochs", str(epochs),
                "--model.init_args.lr_scheduler", "seqkit.tasks.StepDecay",
                "--model.init_args.lr_scheduler.init_args.factor", "0.5",
                "--model.init_args.lr_scheduler.init_args.start", str(max(1, epochs // 2))]

    def language_model(name: str, what: str, extra: list[str]) -> str:
        if not corpus.is_file():
            write_corpus(root, corpus)
        folder = args.out / name
        print(f"stage {what}, {epochs} epochs", flush=True)
        start = time.perf_counter()
        subprocess.run(fit_command("next_word/lstm_wikitext2_encoder.yaml", folder, lm_extra + extra, args.smoke), check=True, env=env)
        ppl = curve(folder, "val/ppl")
        print(f"  done in {time.perf_counter() - start:.0f} s; WikiText-2 validation perplexity by epoch: "
              + ", ".join(f"{p:.1f}" for p in ppl), flush=True)
        return str(sorted(folder.glob("lightning_logs/version_*/checkpoints/last.ckpt"))[-1])

    lm = args.lm_ckpt or language_model("lm", "1: the forward language model on WikiText-2 + SST-2's training sentences", [])
    lm_bwd = args.lm_bwd_ckpt
    if lm_bwd is None and any("{lm_bwd}" in a for s in settings for a in SETTINGS[s]):
        lm_bwd = language_model("lm_bwd", "1b: the backward language model, from the forward one, its embedding frozen",
                                ["--init_from", lm, "--data.reverse", "true", "--model.init_args.freeze_embeddings", "true"])

    if args.export:
        args.export.mkdir(parents=True, exist_ok=True)
        for name, path in (("lm_forward", lm if not args.lm_ckpt else None), ("lm_backward", lm_bwd if not args.lm_bwd_ckpt else None)):
            if path:
                print(f"  {name}: {export(Path(path), args.export, name)}", flush=True)

    runs = []
    for setting in settings:
        for seed in args.seeds.split(","):
            folder = args.out / f"{setting}_seed{seed}"
            extra = [a.format(lm=lm, lm_bwd=lm_bwd) for a in SETTINGS[setting]] + ["--seed_everything", seed, "--trainer.max_epochs", str(args.epochs),
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

    print(f"\n## SST-2 dev accuracy, 300-unit LSTM (recipes/sentiment/lstm_transfer.yaml), language model {lm}"
          + (f", backward {lm_bwd}" if lm_bwd else "") + "\n")
    print("| start | mean best dev acc | min | max | dev acc by epoch, each seed |\n|---|---|---|---|---|")
    for setting in settings:
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
