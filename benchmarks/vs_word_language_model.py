"""seqkit beside pytorch/examples' word_language_model: the same model on Penn Treebank, turn by turn.

    python benchmarks/vs_word_language_model.py --peer PATH/TO/pytorch-examples/word_language_model

The peer is run from the folder given, unmodified: `main.py --data PTB --epochs 6` with its
defaults (2 x 200 LSTM, bptt 35, batch 20, dropout 0.2, lr 20 divided by 4 when the
validation loss does not improve, clip 0.25). Then seqkit runs `next_word/lstm_ptb_examples`,
the same configuration as a recipe: `seqkit fit`, then `seqkit test --ckpt_path best`.
Both on this machine, one after the other, with the same threads.

`seqkit fit` and `seqkit test` set glibc's allocator thresholds at start
(`seqkit/training/allocator.py`); `--peer-tuned-malloc` runs the peer a second time under
the same thresholds (its environment's `MALLOC_MMAP_THRESHOLD_` and
`MALLOC_TRIM_THRESHOLD_`), so that the table also compares like with like.

Printed for each: the seconds from start to test perplexity (the process or processes
whole: reading PTB, every epoch with its validation, the test), the training tokens per
second over that time (epochs x PTB's training tokens / seconds), the test perplexity, and
seqkit's ratio to the peer. Reads PTB from SEQKIT_DATA (or the download cache).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = "next_word/lstm_ptb_examples"


def _ptb() -> Path:
    from seqkit.data.catalog import data_folder

    folder = data_folder() / "ptb"
    if not (folder / "ptb.train.txt").is_file():
        raise SystemExit(f"PTB not found under {data_folder()}; set SEQKIT_DATA to a folder holding ptb/ptb.train.txt")
    return folder


def _training_tokens(ptb: Path) -> int:
    """PTB's training tokens as both read them: the words of each line and an end-of-line token."""
    return sum(len(line.split()) + 1 for line in (ptb / "ptb.train.txt").read_text().splitlines())


def run_peer(peer: Path, ptb: Path, out: Path, epochs: int, env: dict | None = None) -> dict:
    data = out / "peer_data"
    data.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train"), ("valid", "valid"), ("test", "test")):
        link = data / f"{split}.txt"
        link.unlink(missing_ok=True)
        link.symlink_to(ptb / f"ptb.{name}.txt")
    command = [sys.executable, str(peer / "main.py"), "--data", str(data), "--epochs", str(epochs),
               "--save", str(out / "peer_model.pt")]
    print("peer:", " ".join(command), flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=out, env=env)
    seconds = time.perf_counter() - start
    (out / "peer.log").write_text(result.stdout + result.stderr)  # its ms/batch every 200 batches, for a closer look
    if result.returncode != 0:
        raise SystemExit(f"the peer failed:\n{result.stderr[-2000:]}")
    found = re.search(r"test ppl\s+([0-9.]+)", result.stdout)
    epochs_seconds = [float(s) for s in re.findall(r"end of epoch\s+\d+ \| time:\s+([0-9.]+)s", result.stdout)]
    return {"seconds": seconds, "test_ppl": float(found.group(1)), "epoch_seconds": epochs_seconds}


def run_seqkit(out: Path, epochs: int) -> dict:
    root = out / "seqkit"
    common = ["-c", RECIPE, "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false",
              "--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.init_args.save_dir", str(root)]
    base = [sys.executable, "-m", "seqkit.cli"]
    print("seqkit:", " ".join(["seqkit", "fit", *common, "--trainer.max_epochs", str(epochs)]), flush=True)
    start = time.perf_counter()
    subprocess.run(base + ["fit", *common, "--trainer.max_epochs", str(epochs)], check=True)
    fit_seconds = time.perf_counter() - start
    best = next(root.rglob("best-*.ckpt"))
    subprocess.run(base + ["test", *common, "--ckpt_path", str(best)], check=True)
    seconds = time.perf_counter() - start
    test_ppl = None
    for path in root.rglob("metrics.csv"):
        with open(path) as handle:
            for row in csv.DictReader(handle):
                if row.get("test/ppl"):
                    test_ppl = float(row["test/ppl"])
    return {"seconds": seconds, "fit_seconds": fit_seconds, "test_ppl": test_ppl}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=Path, required=True, help="the word_language_model folder of pytorch/examples")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--peer-tuned-malloc", action="store_true", help="also run the peer under seqkit's allocator thresholds")
    parser.add_argument("--out", type=Path, help="a folder for both runs (else a temporary one)")
    args = parser.parse_args()
    if not (args.peer / "main.py").is_file():
        raise SystemExit(f"{args.peer} has no main.py: give --peer the word_language_model folder")
    out = (args.out or Path(tempfile.mkdtemp(prefix="seqkit-vs-wlm-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ptb = _ptb()
    tokens = _training_tokens(ptb) * args.epochs
    peer = run_peer(args.peer.resolve(), ptb, out, args.epochs)
    runs = [("pytorch/examples word_language_model", peer)]
    if args.peer_tuned_malloc:
        from seqkit.training.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD

        tuned = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
        runs.append(("pytorch/examples, seqkit's allocator thresholds", run_peer(args.peer.resolve(), ptb, out, args.epochs, tuned)))
    ours = run_seqkit(out, args.epochs)
    runs.append(("seqkit next_word/lstm_ptb_examples", ours))
    import torch

    print(f"\nPenn Treebank, {args.epochs} epochs, 2 x 200 LSTM (pytorch/examples' defaults); {os.cpu_count()} CPU "
          f"threads, torch {torch.__version__}; seconds from start to test perplexity, everything included\n")
    print("| run | seconds | training tokens/s | test perplexity |")
    print("|---|---|---|---|")
    for name, run in runs:
        print(f"| {name} | {run['seconds']:.0f} | {tokens / run['seconds']:,.0f} | {run['test_ppl']:.2f} |")
    print(f"| seqkit / peer | {ours['seconds'] / peer['seconds']:.2f}x the time | "
          f"{peer['seconds'] / ours['seconds']:.2f}x the tokens/s | {ours['test_ppl'] / peer['test_ppl']:.3f}x the "
          "perplexity |")
    if len(runs) == 3:
        same = runs[1][1]
        print(f"| seqkit / peer, both with the same thresholds | {ours['seconds'] / same['seconds']:.2f}x the time | "
              f"{same['seconds'] / ours['seconds']:.2f}x the tokens/s | {ours['test_ppl'] / same['test_ppl']:.3f}x "
              "the perplexity |")
    print(f"\npeer epochs (train + validation), s: {', '.join(f'{s:.0f}' for s in peer['epoch_seconds'])}; "
          f"seqkit fit: {ours['fit_seconds']:.0f} s, test included in its total. Runs in {out}")


if __name__ == "__main__":
    main()
