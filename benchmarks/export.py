"""Compiling and exporting seqkit's models: compile time, and how closely an exported file matches PyTorch.

    python benchmarks/export.py            # about 2 minutes on 2 cores; needs `pip install "seqkit[export]"`

1. `torch.compile(LSTM(32, 64, num_layers=2), fullgraph=True)` on both backends: the
   seconds of the first call (compile, forward and backward on a (8, 35, 32) batch, with
   Inductor's caches off) and the largest difference from eager.
2. A next-word, a sentiment and a forecasting model, each trained for two batches from its
   shipped recipe (offline), exported by `seqkit export` to ONNX and run in onnxruntime on
   a batch of 16 of another length than the export traced: the largest difference from
   PyTorch, and the milliseconds per batch of each (median of 20).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")  # a cold compile, as a user's first run has
import torch  # noqa: E402

SHORT = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
         "--trainer.enable_progress_bar", "false"]


def compile_times() -> None:
    from seqkit.modules import LSTM

    print("| backend | first call, s | max abs difference from eager |\n|---|---|---|")
    for backend in ("loop", "fused"):
        torch._dynamo.reset()
        torch.manual_seed(0)
        module = LSTM(32, 64, num_layers=2, backend=backend)
        x = torch.randn(8, 35, 32)
        compiled = torch.compile(module, fullgraph=True)
        start = time.perf_counter()
        output = compiled(x)[0]
        output.sum().backward()
        seconds = time.perf_counter() - start
        difference = (output - module(x)[0]).abs().max().item()
        print(f"| {backend} | {seconds:.1f} | {difference:.1e} |")


def _median_ms(run, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def onnx_agreement(folder: Path) -> None:
    import onnxruntime as ort

    from seqkit.cli import main
    from seqkit.tasks import ForecastTask, NextWordTask, SentimentTask

    families = {"next_word": ("next_word/lstm", NextWordTask), "sentiment": ("sentiment/lstm_reviews", SentimentTask),
                "forecast": ("forecasting/lstm", ForecastTask)}
    print("\n| model | input | max abs difference | torch ms | onnxruntime ms |\n|---|---|---|---|---|")
    for name, (recipe, cls) in families.items():
        root, target = folder / name, folder / f"{name}.onnx"
        assert main(["fit", "-c", recipe, *SHORT, "--trainer.default_root_dir", str(root)]) == 0
        assert main(["export", "--ckpt_path", str(root), "--output", str(target)]) == 0
        task, side = cls.from_checkpoint(root), json.loads(target.with_suffix(".json").read_text())
        torch.manual_seed(0)
        if name == "next_word":
            encoder = task.model.encoder
            state = [torch.zeros(encoder.num_layers, 16, encoder.hidden_size) for _ in range(encoder.state_size)]
            inputs = (torch.randint(0, len(task.vocab), (16, 35)), *state)
            reference = lambda: task.model(inputs[0], tuple(inputs[1:]) if len(inputs) > 2 else inputs[1])[0]  # noqa: E731
        elif name == "sentiment":
            inputs = (torch.randint(0, len(task.vocab), (16, 40)),)
            reference = lambda: torch.softmax(task.model(inputs[0]), -1)  # noqa: E731
        else:
            shapes = task.shapes
            inputs = (torch.randn(16, shapes["input_length"], shapes["input_size"]),)
            reference = lambda: task.model(inputs[0], inputs[0].new_zeros(16, shapes["horizon"], 0))  # noqa: E731
        runner = ort.InferenceSession(str(target))
        feed = {key: tensor.numpy() for key, tensor in zip(side["inputs"], inputs)}
        with torch.no_grad():
            want = reference().numpy()
            torch_ms = _median_ms(reference)
        got = runner.run(None, feed)[0]
        onnx_ms = _median_ms(lambda: runner.run(None, feed))
        shape = " + state" if name == "next_word" else ""
        print(f"| {name} | {tuple(inputs[0].shape)}{shape} | {np.abs(got - want).max():.1e} | {torch_ms:.2f} | "
              f"{onnx_ms:.2f} |")


def main() -> int:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    compile_times()
    with tempfile.TemporaryDirectory() as folder:
        onnx_agreement(Path(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
