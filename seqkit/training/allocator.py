"""What a training step asks of memory: glibc's allocator tuned for it, and a check of its size before the first.

glibc serves a large allocation (above a threshold that starts at 128 KiB and adapts) with
a fresh mapping from the operating system, and returns it when freed. A training step
frees and allocates the same activations and gradients, megabytes each, every time, so
the process maps them again and takes a page fault on every new page, step after step:
up to about a quarter of a language model's step on a 2-core CPU. Two thresholds,
the same ones as the `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` environment
variables, keep those blocks in the process's heap instead:

- below 32 MiB an allocation comes from the heap, not a mapping of its own;
- the heap is not given back to the operating system while under 2 GiB is free at its top.

The memory a run holds at its peak stays with it until it ends, which is what a training
process wants. `seqkit fit|validate|test|predict` call `tune()` at start; it changes
nothing where the allocator is not glibc's, where either variable is set (the user's
choice wins), or with `SEQKIT_MALLOC=default`.

`StepMemory` estimates, from the first batch's shape and the model, the memory that the
activations of one training step take, and refuses a step that cannot fit before it runs
(a batch size or sequence length mistyped by a few zeros would otherwise end in the
out-of-memory killer, or a traceback from deep inside torch).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import lightning.pytorch as pl
import torch
from torch import Tensor

from seqkit.errors import SeqkitError
from seqkit.modules import recurrent_modules
from seqkit.modules.checks import machine_memory

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 2**31 - 1  # the largest mallopt takes (an int): 2 GiB
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h


def tune() -> bool:
    """Set glibc's two thresholds (see the module docstring); True when they were set."""
    if not sys.platform.startswith("linux") or os.environ.get("SEQKIT_MALLOC") == "default":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt  # glibc only: musl and others have none
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def free_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on `device`: a GPU's free memory, or the system's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as info:
            fields = dict(line.split(":", 1) for line in info)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return machine_memory()


def step_bytes(task: pl.LightningModule, batch, training: bool = True) -> tuple[int, int, int] | None:
    """`(B, T, bytes)`: a lower estimate of the activations of one step on `batch`, training or evaluating.

    B and T are the first two sizes of the batch's largest tensor of two or more dimensions.
    Per token, training keeps each recurrent layer's gates, state and output for the backward,
    evaluation the last layer's output; a language model computes its logits and their
    softmax (and, training, their gradient), one number per vocabulary word each.
    """
    fields = batch if isinstance(batch, (tuple, list)) else [batch]
    shaped = [t for t in fields if isinstance(t, Tensor) and t.dim() >= 2]
    if not shaped:
        return None
    batch_size, steps = max(shaped, key=lambda t: t.shape[0] * t.shape[1]).shape[:2]
    per_token = 0
    for m in recurrent_modules(task):
        directions = 2 if m.bidirectional else 1
        per_token += m.num_layers * directions * m.hidden_size * (getattr(m, "gates", 1) + 2) if training \
            else directions * m.hidden_size
    if getattr(task, "task_name", "") == "next_word" and getattr(task, "vocab", None) is not None:
        per_token += (3 if training else 2) * len(task.vocab)
    return batch_size, steps, 4 * batch_size * steps * per_token


class StepMemory(pl.Callback):
    """Before the first step of training and of validation: refuse one whose activations cannot fit in the free
    memory (`step_bytes`), naming the sizes to lower."""

    def __init__(self) -> None:
        self.checked: set[str] = set()

    def _check(self, task: pl.LightningModule, batch, training: bool) -> None:
        stage = "training" if training else "validation"
        if stage in self.checked:
            return
        self.checked.add(stage)
        estimate, free = step_bytes(task, batch, training), free_memory(task.device)
        if estimate is None or free is None or estimate[2] <= free:
            return
        batch_size, steps, needed = estimate
        raise SeqkitError(f"one {stage} step would need at least {needed / 2**30:.1f} GiB for its activations "
                          f"(a batch of {batch_size} x {steps} steps), and {free / 2**30:.1f} GiB is free; lower "
                          "--data.batch_size (or eval_batch_size) or the sequence length (bptt, length, max_length or "
                          "input_length), or the model's size")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        self._check(pl_module, batch, training=True)

    def on_validation_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        self._check(pl_module, batch, training=False)
