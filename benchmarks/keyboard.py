"""The keyboard benchmark: per-keystroke cost, model files, int8 agreement, and keystroke savings.

    python benchmarks/keyboard.py                      # trains what it needs (about 15 minutes on 2 cores)
    python benchmarks/keyboard.py --default CKPT --ptb_lstm CKPT --ptb_rnn CKPT

Models: the default next-word recipe (`next_word/lstm`, the King James Bible) and the PTB
recipe (`next_word/lstm_ptb_small`, 2 x 200), plus the same PTB recipe with a vanilla RNN
of the same size (learning rate 4: the LSTM's 20 makes the RNN's loss blow up, see
benchmarks/next_word.py). Checkpoints not given are trained here, the PTB ones for
`--epochs` epochs.

On one CPU thread, for the default and the PTB model side by side:
- the keyboard ONNX files (`seqkit export --keyboard`, float32 and `--int8`), in KiB;
- the latency of one keystroke that ends a word (the model's work; a letter within a word
  only ranks the completions from the same probabilities), p50 and p99 over `--repeats`:
  (a) PyTorch re-reading the whole 50-word prefix, (b) PyTorch one step from the carried
  state, (c) onnxruntime one step, float32, (d) the same in int8;
- the top-3 agreement of int8 with float32: the share of positions in the PTB test text
  where both suggest the same three words (in any order).
Keystroke savings on the PTB test text, RNN beside LSTM: a word is typed letter by letter
and taken (one tap, which also types the space) as soon as it is among the 3 suggestions
(after a space: the next words; within a word: the completions of its first letters). The
savings are the share of keystrokes (letters and spaces) not typed; `<unk>` tokens are read
by the model but not counted, since no one types them.

Reads PTB from SEQKIT_DATA (or the download cache).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PREFIX_WORDS = 50


def _ptb_test() -> list[str]:
    from seqkit.data.catalog import data_folder

    path = data_folder() / "ptb" / "ptb.test.txt"
    if not path.is_file():
        raise SystemExit(f"PTB not found under {data_folder()}; set SEQKIT_DATA to a folder holding ptb/ptb.test.txt")
    return path.read_text().splitlines()


def _tokens(task, lines: list[str], limit: int) -> list[str]:
    """The first `limit` tokens of `lines` as `task` reads text: its tokenizer, `<eos>` at each line's end."""
    from seqkit.text import get_tokenizer

    tokenize, tokens = get_tokenizer(task.tokenizer_name), []
    for line in lines:
        tokens += [*tokenize(line), "<eos>"]
        if len(tokens) >= limit:
            break
    return tokens[:limit]


def _train(recipe: str, folder: Path, *options: str) -> Path:
    command = [sys.executable, "-m", "seqkit.cli", "fit", "-c", recipe, "--trainer.default_root_dir", str(folder),
               "--trainer.enable_progress_bar", "false", *options]
    print("training:", " ".join(command[3:]), flush=True)
    subprocess.run(command, check=True, env={**os.environ})
    return next(folder.rglob("last.ckpt"))


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _timed(step, positions: range) -> tuple[float, float]:
    """p50 and p99 in ms of `step(i)` over successive words `i` of the text (the first 20 warm up, untimed)."""
    seconds = []
    for n, i in enumerate(positions):
        start = time.perf_counter()
        step(i)
        if n >= 20:
            seconds.append(time.perf_counter() - start)
    return _percentiles(seconds)


class _Onnx:
    """A keyboard ONNX file on one thread: `step(word_id) -> log_probs (V,)`, carrying the state."""

    def __init__(self, path: Path, side: dict) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.runner = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = side["state"]["tensors"]
        self.zeros = [np.zeros((side["state"]["layers"], 1, side["state"]["hidden_size"]), np.float32) for _ in self.names]
        self.reset()

    def reset(self) -> None:
        self.state = list(self.zeros)

    def step(self, word: int) -> np.ndarray:
        feeds = {"word": np.array([word], dtype=np.int64), **dict(zip(self.names, self.state))}
        log_probs, *self.state = self.runner.run(None, feeds)
        return log_probs[0]


def _top3(log_probs: np.ndarray, hidden: frozenset[int]) -> tuple[int, ...]:
    """The three most likely words a keyboard may offer: the best 3 + len(hidden) by one partial sort, then filtered."""
    best = np.argpartition(log_probs, -(3 + len(hidden)))[-(3 + len(hidden)):]
    offered = [i for i in best.tolist() if i not in hidden]
    return tuple(sorted(offered, key=lambda i: -log_probs[i])[:3])


def model_row(name: str, ckpt: Path, folder: Path, lines: list[str], limit: int, repeats: int) -> dict:
    """Sizes, latencies (a)-(d) and the int8 agreement of one model."""
    from seqkit.export import export
    from seqkit.tasks import NextWordTask
    from seqkit.tasks.suggester import Suggester

    task = NextWordTask.from_checkpoint(ckpt)
    words = _tokens(task, lines, limit)
    paths = {kind: folder / f"{name}.{kind}.onnx" for kind in ("float32", "int8")}
    sides = {kind: export(task, path, "onnx", keyboard=True, int8=kind == "int8") for kind, path in paths.items()}
    runners = {kind: _Onnx(path, sides[kind]) for kind, path in paths.items()}
    ids = task.vocab.lookup_indices(words)
    positions = range(PREFIX_WORDS, min(len(ids), PREFIX_WORDS + repeats + 20))
    suggester = Suggester(task).feed_ids(ids[:PREFIX_WORDS])
    hidden = frozenset(sides["float32"]["hidden_ids"])

    @torch.no_grad()
    def reread(i: int) -> None:  # (a): the last 50 words from a zero state, then the three best
        logits, _ = task.model(torch.tensor([ids[i - PREFIX_WORDS + 1 : i + 1]]))
        logits[0, -1].topk(3)

    def incremental(i: int) -> None:  # (b): one step from the carried state, then the three best
        suggester.feed_ids([ids[i]]).suggest(3)

    def onnx(kind: str):
        runner = runners[kind]
        for word in ids[:PREFIX_WORDS]:
            runner.step(word)
        return lambda i: _top3(runner.step(ids[i]), hidden)

    row = {"name": name, "vocab": len(task.vocab), "cell": type(task.encoder).__name__,
           "size": f"{task.encoder.num_layers} x {task.encoder.hidden_size}",
           "kib_float32": paths["float32"].stat().st_size / 1024, "kib_int8": paths["int8"].stat().st_size / 1024,
           "reread": _timed(reread, positions), "incremental": _timed(incremental, positions),
           "onnx_float32": _timed(onnx("float32"), positions), "onnx_int8": _timed(onnx("int8"), positions)}
    for runner in runners.values():
        runner.reset()
    same = 0
    for word in ids:
        same += set(_top3(runners["float32"].step(word), hidden)) == set(_top3(runners["int8"].step(word), hidden))
    row["top3_agreement"] = same / len(ids)
    return row


def keystroke_savings(ckpt: Path, lines: list[str], limit: int) -> tuple[float, int]:
    """The share of keystrokes saved on `words` (see the module's docstring), and the keystrokes counted."""
    from seqkit.tasks import NextWordTask
    from seqkit.tasks.suggester import Suggester

    task = NextWordTask.from_checkpoint(ckpt)
    suggester = Suggester(task)
    typed = saved = 0
    for word in _tokens(task, lines, limit):
        if word not in ("<unk>", "<eos>"):  # what a person types: a word's letters and a space
            cost = len(word) + 1
            for letters in range(len(word)):
                rank = suggester.rank(word, word[:letters])
                if rank is None:  # a word the model cannot offer is typed in full
                    break
                if rank < 3:  # shown: one tap takes it, and types the space
                    saved += cost - (letters + 1)
                    break
            typed += cost
        suggester.feed_ids([task.vocab[word]])  # the token as the model read it in training
    return saved / typed, typed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--default", type=Path, help="a next_word/lstm checkpoint (else trained here)")
    parser.add_argument("--ptb_lstm", type=Path, help="a next_word/lstm_ptb_small checkpoint (else trained here)")
    parser.add_argument("--ptb_rnn", type=Path, help="the same recipe with seqkit.modules.RNN (else trained here)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the PTB models trained here")
    parser.add_argument("--repeats", type=int, default=2000, help="timed keystrokes per cell of the latency table")
    parser.add_argument("--words", type=int, default=20000, help="words of the PTB test text scored")
    parser.add_argument("--out", type=Path, help="a folder for the trained models and ONNX files (else a temporary one)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="seqkit-keyboard-"))
    lines = _ptb_test()
    epochs = ["--trainer.max_epochs", str(args.epochs)]
    default = args.default or _train("next_word/lstm", out / "default")
    lstm = args.ptb_lstm or _train("next_word/lstm_ptb_small", out / "ptb_lstm", *epochs)
    rnn = args.ptb_rnn or _train("next_word/lstm_ptb_small", out / "ptb_rnn", *epochs, "--model.init_args.encoder.class_path",
                                 "seqkit.modules.RNN", "--model.init_args.optimizer.init_args.lr", "4")
    torch.set_num_threads(1)
    rows = [model_row(name, ckpt, out, lines, args.words, args.repeats) for name, ckpt in (("default", default), ("ptb", lstm))]
    print(f"\nOne CPU thread, torch {torch.__version__}; latency in ms per keystroke that ends a word, p50 / p99 "
          f"over {args.repeats}; (a) re-reads a {PREFIX_WORDS}-word prefix\n")
    print("| model | cell | vocab | float32 KiB | int8 KiB | (a) PyTorch re-read | (b) PyTorch step | "
          "(c) onnxruntime float32 | (d) onnxruntime int8 | (a)/(b) at p99 | (a)/(d) at p99 | int8 top-3 agreement |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[key][0]:.3f} / {r[key][1]:.3f}" for key in ("reread", "incremental", "onnx_float32", "onnx_int8")]
        print(f"| {r['name']} | {r['cell']} {r['size']} | {r['vocab']:,} | {r['kib_float32']:.0f} | {r['kib_int8']:.0f} | "
              f"{' | '.join(cells)} | {r['reread'][1] / r['incremental'][1]:.1f}x | {r['reread'][1] / r['onnx_int8'][1]:.1f}x | "
              f"{100 * r['top3_agreement']:.1f}% |")
    print(f"\nKeystroke savings on the first {args.words:,} tokens of the PTB test text, 3 suggestions\n")
    print("| cell (PTB, 2 x 200) | keystrokes counted | keystroke savings |")
    print("|---|---|---|")
    for name, ckpt in (("vanilla RNN", rnn), ("LSTM", lstm)):
        share, typed = keystroke_savings(ckpt, lines, args.words)
        print(f"| {name} | {typed:,} | {100 * share:.1f}% |")
    print(f"\nmodels and ONNX files in {out}")


if __name__ == "__main__":
    main()
