"""Side-by-side measurements of seqkit's modules against torch.nn: equality, speed, memory.

Used by `seqkit modules` (a quick check of an install) and `benchmarks/modules.py`
(the full table in docs/results.md). Each measurement builds torch.nn's module, copies its
state dict into seqkit's `fused` and `loop` modules (and `compiled` when asked), and times
them all in one process on the same input, so that ratios compare like with like.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from seqkit.modules import cell_class

IMPLS = ("torch.nn", "fused", "loop")
"""What `seqkit modules` times; `benchmarks/modules.py` adds `"compiled"`."""


@dataclass(frozen=True)
class Size:
    """One benchmark shape: batch, sequence length, input and hidden size, layers."""

    batch: int
    seq: int
    input: int
    hidden: int
    layers: int = 1

    @property
    def tokens(self) -> int:
        return self.batch * self.seq


SIZES = {
    "S": Size(batch=32, seq=35, input=64, hidden=128),
    "M": Size(batch=20, seq=35, input=650, hidden=650, layers=2),
    "L": Size(batch=64, seq=100, input=256, hidden=512),
}


def reference_class(cell: str) -> type:
    """The torch.nn module a cell is timed beside: its twin (`torch_twin`), else torch.nn.LSTM."""
    return cell_class(cell).torch_twin or torch.nn.LSTM


def build(cell: str, impl: str, size: Size, seed: int = 0) -> torch.nn.Module:
    """The module `impl` of `cell` (any registered cell) at `size`, with weights drawn from `seed`.

    Every impl of a cell gets the same weights: torch.nn's reference module is drawn first,
    and seqkit's modules take its state dict where their parameters have its shapes (a
    layer-normalised LSTM takes torch.nn.LSTM's); other cells draw their own from the same seed.
    """
    torch.manual_seed(seed)
    reference = reference_class(cell)(size.input, size.hidden, size.layers, batch_first=True)
    if impl == "torch.nn":
        return reference
    torch.manual_seed(seed)
    module = cell_class(cell)(size.input, size.hidden, size.layers, backend=impl)
    theirs = reference.state_dict()
    if {k: v.shape for k, v in module.state_dict().items()} == {k: v.shape for k, v in theirs.items()}:
        module.load_state_dict(theirs, strict=True)
    return module


def _loss(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    output, state = module(x)
    h = state[0] if isinstance(state, tuple) else state
    return output.square().mean() + h.sum()


def max_differences(cell: str, size: Size, seed: int = 0) -> dict[str, float]:
    """Largest relative difference from torch.nn over the output and every parameter gradient (cells with a twin).

    For each tensor, max |seqkit - torch.nn| divided by max |torch.nn| (gradients of
    large layers sum thousands of terms, so an absolute figure would mostly measure
    their magnitude); the largest over all tensors, per backend.
    """
    torch.manual_seed(seed + 1)
    x = torch.randn(size.batch, size.seq, size.input)
    reference = build(cell, "torch.nn", size, seed)
    _loss(reference, x).backward()
    result = {}
    for impl in ("fused", "loop"):
        module = build(cell, impl, size, seed)
        loss = _loss(module, x)
        loss.backward()
        with torch.no_grad():
            pairs = [(module(x)[0], reference(x)[0])]
        grads = dict(reference.named_parameters())
        pairs += [(p.grad, grads[n].grad) for n, p in module.named_parameters()]
        result[impl] = max(((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item() for a, b in pairs)
    return result


def _step_fn(module: torch.nn.Module, x: torch.Tensor, train: bool):
    """One forward+backward (train) or one forward under no_grad, as a function of no arguments."""
    if train:
        def run() -> None:
            module.zero_grad(set_to_none=True)
            _loss(module, x).backward()
    else:
        def run() -> None:
            with torch.no_grad():
                module(x)
    return run


def _time_block(run, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def interleaved_seconds(runs: dict[str, Callable[[], None]], budget: float, block: float = 0.05) -> tuple[dict[str, float], int]:
    """Seconds per call of each function, the functions taking turns in blocks of at least `block` seconds.

    About `budget` seconds in all, at least 5 blocks each, after two warm-up calls; returns
    each function's median over its blocks, and the number of blocks.
    """
    one_call = max(_time_block(run, 2) for run in runs.values())  # also warms up
    calls = max(1, round(block / one_call))
    blocks = max(5, round(budget / (len(runs) * calls * one_call)))
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(blocks):
        for name, run in runs.items():
            samples[name].append(_time_block(run, calls))
    return {name: statistics.median(times) for name, times in samples.items()}, blocks


def compare_speed(cells: list[str], sizes: list[str], budget: float = 6.0, block: float = 0.05,
                  impls: tuple[str, ...] = IMPLS) -> list[dict]:
    """Tokens per second of every impl, and seqkit's speed as a fraction of torch.nn's.

    The impls take turns in short blocks (at least `block` seconds of calls each), for
    about `budget` seconds per (size, cell, mode); each impl's time per call is the
    median of its blocks. Interleaving at that grain means a slow phase of a shared
    machine falls on every impl alike, which is what makes the ratios trustworthy.
    A cell without a fused kernel skips `fused`; one without a torch.nn twin is timed beside
    torch.nn.LSTM of the same size (`reference_class`).

    Returns one row per (size, cell, impl, mode) with `tokens_per_s`, `vs_torch`
    (torch.nn's time divided by this impl's: 1.0 is parity, higher is faster), `blocks`,
    the number of timed blocks per impl, and `first_call_s`, the first call's seconds
    (for `compiled`, the compilation of that shape and mode).
    """
    rows = []
    for size_name in sizes:
        size = SIZES[size_name]
        torch.manual_seed(123)
        x = torch.randn(size.batch, size.seq, size.input)
        for cell in cells:
            has_kernel = cell_class(cell).fused_kernel is not None  # a cell of one's own may have no kernel to time
            modules = {impl: build(cell, impl, size) for impl in impls if impl != "fused" or has_kernel}
            for mode, train in (("fwd+bwd", True), ("fwd", False)):
                runs = {impl: _step_fn(modules[impl], x, train) for impl in modules}
                first = {impl: _time_block(run, 1) for impl, run in runs.items()}  # compiles `compiled`
                seconds, blocks = interleaved_seconds(runs, budget, block)
                for impl in runs:
                    rows.append({
                        "size": size_name, "cell": cell, "impl": impl, "mode": mode,
                        "tokens_per_s": size.tokens / seconds[impl],
                        "vs_torch": seconds["torch.nn"] / seconds[impl],
                        "blocks": blocks, "first_call_s": first[impl],
                    })
    return rows


def peak_memory_mib(cell: str, impl: str, size_name: str) -> float:
    """Peak RSS over three forward+backward steps minus RSS before them, in a fresh process.

    Linux only: the peak is reset through /proc/self/clear_refs before the steps, so
    what importing torch and building the module touched does not hide the growth.
    """
    code = f"from seqkit.training.bench import _memory_child; _memory_child({cell!r}, {impl!r}, {size_name!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    return float(done.stdout.strip().splitlines()[-1])


def _memory_child(cell: str, impl: str, size_name: str) -> None:
    size = SIZES[size_name]
    module = build(cell, impl, size)
    x = torch.randn(size.batch, size.seq, size.input)
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    for _ in range(3):
        module.zero_grad(set_to_none=True)
        _loss(module, x).backward()
    print((_status_kib("VmHWM") - before) / 1024)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def environment() -> dict[str, str]:
    """What the numbers depend on: torch, threads, allocator settings."""
    return {
        "torch": torch.__version__,
        "threads": str(torch.get_num_threads()),
        "MALLOC_MMAP_THRESHOLD_": os.environ.get("MALLOC_MMAP_THRESHOLD_", "(unset)"),
        "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_", "(unset)"),
    }


def as_json(rows: list[dict]) -> str:
    return json.dumps({"environment": environment(), "sizes": {k: asdict(v) for k, v in SIZES.items()}, "rows": rows}, indent=1)
