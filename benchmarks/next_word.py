"""Next-word prediction: seqkit's training speed next to a plain PyTorch loop, and PTB perplexity.

    python benchmarks/next_word.py                 # throughput only: a few minutes
    python benchmarks/next_word.py --full          # plus the full Zaremba-small PTB run (LSTM, then RNN): about 45 minutes

Throughput: the `lstm_ptb_small` recipe trained through `seqkit fit`'s machinery
(SeqkitCLI, Lightning Trainer, NextWordTask, NextWordData) against a hand-written loop
over `torch.nn.LSTM` with the same configuration (the pytorch/examples
word_language_model design: embedding, 2 x 200 LSTM, linear decoder, hidden state carried
and detached, gradient norm clipped at 0.25, SGD lr 20), on the same PTB batches, taking turns in
one process. Training tokens per second are counted after a warm-up.

Quality (`--full`): `seqkit fit` and `seqkit test` of `recipes/next_word/lstm_ptb_small.yaml`
for its 13 epochs, and the same with the vanilla RNN swapped in, each in its own
process; test perplexity and seconds per epoch are printed as Markdown rows.
Reads PTB from `SEQKIT_DATA` (or the download cache).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqkit.data.catalog import data_folder

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "next_word" / "lstm_ptb_small.yaml"


def _data_root() -> Path:
    root = data_folder()
    if not (root / "ptb" / "ptb.train.txt").is_file():
        raise SystemExit(f"PTB not found under {root}; set SEQKIT_DATA to a folder holding ptb/ptb.train.txt")
    return root


def seqkit_tokens_per_second(batches: int, warmup: int) -> float:
    """Train `batches` batches with the recipe through SeqkitCLI; tokens/s after `warmup` batches."""
    import lightning.pytorch as pl

    from seqkit.training import lightning_cli

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.marks: list[tuple[float, int]] = []
            self.tokens = 0

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            self.tokens += batch.targets.numel()
            self.marks.append((time.perf_counter(), self.tokens))

    clock = Clock()
    lightning_cli.build(
        ["fit", "-c", str(RECIPE), "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(batches),
         "--trainer.limit_val_batches", "0", "--data.root", str(_data_root())],
        save_config_callback=None,
        trainer_defaults={"callbacks": [clock], "logger": False, "enable_checkpointing": False,
                          "enable_progress_bar": False, "enable_model_summary": False},
    )
    (t0, n0), (t1, n1) = clock.marks[warmup - 1], clock.marks[-1]
    return (n1 - n0) / (t1 - t0)


def plain_tokens_per_second(batches: int, warmup: int) -> float:
    """The same training written by hand over torch.nn.LSTM, as pytorch/examples does it."""
    import torch
    from torch import nn

    from seqkit.data.next_word import NextWordData

    torch.manual_seed(0)
    data = NextWordData(dataset="ptb", root=str(_data_root()), batch_size=20, bptt=20)
    data.setup("fit")
    vocab_size = len(data.vocab)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, 200)
            self.lstm = nn.LSTM(200, 200, 2, batch_first=True)
            self.decoder = nn.Linear(200, vocab_size)
            for p in self.parameters():
                nn.init.uniform_(p, -0.1, 0.1)

        def forward(self, x, hidden):
            output, hidden = self.lstm(self.embedding(x), hidden)
            return self.decoder(output), hidden

    model = Model()
    optimizer = torch.optim.SGD(model.parameters(), lr=20.0)
    hidden = None
    tokens, start = 0, None
    for k, (inputs, targets) in enumerate(data.train_dataloader()):
        if k == batches:
            break
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)
        logits, hidden = model(inputs, hidden)
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        if k == warmup - 1:
            start = time.perf_counter()
        elif k >= warmup:
            tokens += targets.numel()
    return tokens / (time.perf_counter() - start)


def full_run(cell: str, out: Path, rnn_lr: float) -> dict:
    """`seqkit fit` then `seqkit test` of the recipe (with `cell` swapped in); metrics and timings.

    The vanilla RNN takes its own learning rate: with the LSTM's lr 20 its training loss
    blows up in the first epoch (15 to 31 nats a token, against ln 10000 = 9.2 for a uniform
    guess), and lr 10 does too; of 1, 4 and 10, tried for 500 batches, 4 did best.
    """
    root_dir = out / cell
    swap = [] if cell == "lstm" else ["--model.init_args.encoder.class_path", "seqkit.modules.RNN",
                                      "--model.init_args.optimizer.init_args.lr", str(rnn_lr)]
    swap += ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.init_args.save_dir", str(root_dir)]
    env = {**os.environ, "SEQKIT_DATA": str(_data_root())}
    base = [sys.executable, "-m", "seqkit.cli"]
    start = time.perf_counter()
    subprocess.run(base + ["fit", "-c", str(RECIPE), "--trainer.default_root_dir", str(root_dir),
                           "--trainer.enable_progress_bar", "false", *swap], check=True, env=env)
    fit_seconds = time.perf_counter() - start
    last = next(root_dir.rglob("last.ckpt"))
    start = time.perf_counter()
    subprocess.run(base + ["test", "-c", str(RECIPE), "--ckpt_path", str(last), "--trainer.default_root_dir", str(root_dir),
                           "--trainer.enable_progress_bar", "false", *swap], check=True, env=env)
    test_seconds = time.perf_counter() - start
    metrics: dict[str, float] = {}
    for path in sorted(root_dir.rglob("metrics.csv")):
        with open(path) as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    if value not in ("", None) and "/" in key:
                        metrics[key] = float(value)  # the last value of each metric
    val = []
    for path in sorted(root_dir.rglob("metrics.csv")):
        with open(path) as handle:
            val += [float(r["val/ppl"]) for r in csv.DictReader(handle) if r.get("val/ppl")]
    return {"cell": cell, "test_ppl": metrics.get("test/ppl"), "best_val_ppl": min(val) if val else None,
            "fit_seconds": fit_seconds, "test_seconds": test_seconds}


def report_throughput(speeds: dict[str, list[float]], batches: int, warmup: int) -> None:
    plain, ours = (statistics.median(v) for v in speeds.values())
    turns = len(next(iter(speeds.values())))
    print(f"\n## Training throughput, Zaremba small on PTB ({batches - warmup} timed batches of 20 x 20 tokens, {turns} turns each)\n")
    print("| implementation | tokens/s (median) | turns |\n|---|---|---|")
    for name, values in speeds.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |")
    ratio = ours / plain
    print(f"\nseqkit / plain: {ratio:.2f}x; "
          f"a PTB epoch (929,589 tokens) at this speed: {929589 / ours:.0f} s")


def report_full(rows: list[dict], out: Path) -> None:
    print("\n## Penn Treebank, Zaremba small configuration, 13 epochs\n")
    print("| cell | test ppl | best val ppl | s per epoch (train + val) | test s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cell']} | {r['test_ppl']:.1f} | {r['best_val_ppl']:.1f} | {r['fit_seconds'] / 13:.0f} | {r['test_seconds']:.0f} |")
    print(f"runs in {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="training batches per throughput turn (default 300)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--turns", type=int, default=2, help="throughput turns per implementation (default 2)")
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput comparison")
    parser.add_argument("--full", action="store_true", help="also run the 13-epoch PTB recipe with the LSTM and the RNN")
    parser.add_argument("--cells", default="lstm,rnn", help="cells for --full (default lstm,rnn)")
    parser.add_argument("--output_dir", type=Path, default=None, help="folder for the full runs (default: a temporary folder)")
    parser.add_argument("--rnn-lr", type=float, default=4.0, help="the vanilla RNN's SGD learning rate (default 4; "
                        "the LSTM's 20 makes it diverge)")
    args = parser.parse_args()

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', '(unset)')}")
    if not args.no_throughput:
        speeds: dict[str, list[float]] = {"plain torch.nn loop": [], "seqkit fit (recipe)": []}
        for _ in range(args.turns):
            speeds["plain torch.nn loop"].append(plain_tokens_per_second(args.batches, args.warmup))
            speeds["seqkit fit (recipe)"].append(seqkit_tokens_per_second(args.batches, args.warmup))
        report_throughput(speeds, args.batches, args.warmup)
    if args.full:
        out = args.out or Path(tempfile.mkdtemp(prefix="seqkit-ptb-"))
        report_full([full_run(cell, out, args.rnn_lr) for cell in args.cells.split(",")], out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
