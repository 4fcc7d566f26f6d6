"""Sentiment analysis on SST-2: dev accuracy and training time per cell, and inference speed.

    python benchmarks/sentiment.py                       # BiLSTM and BiRNN recipes, then predict speed
    python benchmarks/sentiment.py --cells lstm --epochs 2
    python benchmarks/sentiment.py --cells lstm_transfer --transfer LM.ckpt   # from a WikiText-2 language model, and from random weights
    python benchmarks/sentiment.py --cells lstm --seed_everything 1 --model.init_args.optimizer.init_args.lr 0.002   # other flags go to `seqkit fit`
    python benchmarks/sentiment.py --predict-only CKPT   # only the inference speed of a trained classifier

Trains `recipes/sentiment/lstm.yaml` and `rnn.yaml` through `seqkit fit` (SeqkitCLI, in
this process, one after the other), logging dev accuracy after every epoch, and prints
a Markdown table: best dev accuracy, the epoch it came at, seconds per epoch. Then times
`SentimentTask.predict` over the 872 dev sentences (sentences per second, best of 3).
Reads SST-2 from `SEQKIT_DATA` (or the download cache).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seqkit.data.catalog import data_folder

ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    root = data_folder()
    if not (root / "sst2" / "train.tsv").is_file():
        raise SystemExit(f"SST-2 not found under {root}; set SEQKIT_DATA to a folder holding sst2/train.tsv")
    return root


def train(cell: str, epochs: int | None, out: Path, init_from: str | None = None, extra: list[str] = ()) -> dict:
    import lightning.pytorch as pl

    from seqkit.training import lightning_cli

    class EpochClock(pl.Callback):
        def __init__(self) -> None:
            self.rows: list[tuple[int, float, float]] = []
            self.start = 0.0

        def on_train_epoch_start(self, trainer, module) -> None:
            self.start = time.perf_counter()

        def on_validation_epoch_end(self, trainer, module) -> None:
            if not trainer.sanity_checking:
                self.rows.append((trainer.current_epoch, time.perf_counter() - self.start, trainer.callback_metrics["val/acc"].item()))

    clock = EpochClock()
    name = cell + ("_from_lm" if init_from else "")
    args = ["fit", "-c", str(ROOT / "recipes" / "sentiment" / f"{cell}.yaml"), "--data.root", str(_data_root()),
            "--trainer.default_root_dir", str(out / name), "--trainer.enable_progress_bar", "false"]
    if init_from:
        args += ["--init_from", init_from]
    if epochs:
        args += ["--trainer.max_epochs", str(epochs)]
    args += list(extra)
    cli = lightning_cli.build(args, trainer_defaults={"callbacks": [clock]})
    best = max(clock.rows, key=lambda r: r[2])
    return {"cell": cell, "name": f"{cell}.yaml" + (" --init_from (WikiText-2 LM)" if init_from else ""), "best_acc": best[2], "best_epoch": best[0] + 1, "epochs": len(clock.rows),
            "s_per_epoch": sum(r[1] for r in clock.rows) / len(clock.rows), "curve": [r[2] for r in clock.rows],
            "checkpoint": cli.trainer.checkpoint_callback.best_model_path}


def predict_speed(checkpoint: str) -> float:
    import pandas as pd

    from seqkit.tasks.sentiment import SentimentTask

    model = SentimentTask.from_checkpoint(checkpoint)
    sentences = pd.read_csv(_data_root() / "sst2" / "dev.tsv", sep="\t")["sentence"].tolist()
    model.predict(sentences[:64])  # warm-up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        model.predict(sentences)
        best = min(best, time.perf_counter() - start)
    return len(sentences) / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="lstm,rnn")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipes' max_epochs")
    parser.add_argument("--output_dir", type=Path, default=Path("runs/benchmarks/sentiment"))
    parser.add_argument("--transfer", metavar="CKPT", help="a next-word checkpoint: each cell is also trained from it "
                        "(--init_from), beside its random start")
    parser.add_argument("--predict-only", metavar="CKPT", help="time SentimentTask.predict with this checkpoint; train nothing")
    args, extra = parser.parse_known_args()
    import torch

    if args.predict_only:
        speed = predict_speed(args.predict_only)
        print(f"predict: {speed:,.0f} sentences/s on the dev set, {torch.get_num_threads()} threads, torch {torch.__version__}")
        return 0

    rows = []
    for cell in args.cells.split(","):
        rows.append(train(cell, args.epochs, args.out, extra=extra))
        if args.transfer:
            rows.append(train(cell, args.epochs, args.out, init_from=args.transfer, extra=extra))
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("## SST-2 dev accuracy\n")
    print("| recipe | best dev acc | at epoch | epochs | s per epoch | dev acc by epoch |\n|---|---|---|---|---|---|")
    for r in rows:
        curve = ", ".join(f"{a:.3f}" for a in r["curve"])
        print(f"| recipes/sentiment/{r['name']} | {r['best_acc']:.1%} | {r['best_epoch']} | {r['epochs']} | {r['s_per_epoch']:.0f} | {curve} |")
    lstm = next((r for r in rows if r["name"] == "lstm.yaml"), None)
    if lstm:
        minutes = lstm["s_per_epoch"] * lstm["best_epoch"] / 60
        print(f"\nLSTM: best dev accuracy {lstm['best_acc']:.1%}, reached after {minutes:.1f} min of training")
        speed = predict_speed(lstm["checkpoint"])
        print(f"predict: {speed:,.0f} sentences/s on the dev set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
