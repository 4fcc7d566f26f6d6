"""Many processes (Lightning's DDP): how seqkit shares out data and adds up metrics across them.

Lightning runs one process per device (`--trainer.devices 4 --trainer.strategy ddp`), each
with its own copy of the model and its own share of the data; gradients are averaged at
every step. `--data.batch_size` and `--data.eval_batch_size` are per process, as everywhere
in Lightning: 4 processes at batch 32 take steps of 128 samples.

- **Training.** Lightning gives each process every W-th sample of the training order
  (its `DistributedSampler`) and repeats a few samples so that all processes take the same
  number of steps, which gradient averaging needs. The language model shares out its
  parallel token streams instead (`NextWordData`), because its batches must follow one
  another in order.
- **Evaluation.** Every sample is scored exactly once. Lightning's sampler would repeat
  samples to even out the shares, and a repeated sample counts twice in a metric; seqkit's
  evaluation loaders use `ShardSampler` instead: a contiguous slice per process, no repeats,
  no padding. Shares may then differ by one sample, so no metric is an average of
  per-process values: losses are `MeanMetric`s of sums and counts, accuracy and F1 are
  torchmetrics (their counts are summed across processes), perplexity is exp of the mean
  loss over all tokens of all processes, and forecasts are gathered from every process
  (`gather_rows`) before they are scored.
"""

from __future__ import annotations

from typing import Iterator

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torch.utils.data.distributed import DistributedSampler

from seqkit.errors import DataError


def shard_of(datamodule: pl.LightningDataModule) -> tuple[int, int]:
    """`(rank, processes)` among the processes that share out the data; `(0, 1)` outside a distributed Trainer."""
    trainer = getattr(datamodule, "trainer", None)
    kwargs = getattr(trainer, "distributed_sampler_kwargs", None) if trainer is not None else None
    if not kwargs:
        return 0, 1
    return int(kwargs["rank"]), int(kwargs["num_replicas"])


class ShardSampler(DistributedSampler):
    """One contiguous slice of a dataset per process, in order: no repeats, no padding, no shuffling.

    Process r of W gets `torch.tensor_split(range(N), W)[r]`: slices differ in size by at
    most one, and together they hold every index exactly once. With `num_replicas=1` it is
    every index in order: a dataset already cut per process (the language model's streams)
    uses it so that Lightning does not cut it again. It is a `DistributedSampler` so that
    Lightning keeps it instead of putting its own (padding) sampler in its place.

    Raises:
        DataError: fewer samples than processes (a process would have nothing to score
            and the others would wait for it forever).
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        if len(dataset) < num_replicas:
            raise DataError(f"an evaluation split of {len(dataset)} samples cannot be shared among {num_replicas} "
                            "processes (each needs at least one); use fewer devices or more data")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.indices = torch.tensor_split(torch.arange(len(dataset)), num_replicas)[rank].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def eval_sampler(datamodule: pl.LightningDataModule, dataset: Dataset) -> ShardSampler | None:
    """The sampler of an evaluation loader: this process's `ShardSampler`, or None (in order) on one process."""
    rank, processes = shard_of(datamodule)
    return ShardSampler(dataset, processes, rank) if processes > 1 else None


def gather_rows(module: pl.LightningModule, *tensors: Tensor) -> tuple[Tensor, ...]:
    """Every process's rows of `tensors`, process 0's first, on the CPU of every process.

    Each tensor is `(N_r, ...)` with the same N_r within a process; N_r may differ between
    processes (`ShardSampler`), so each is padded to the largest N_r, gathered, and cut
    back. On one process the tensors come back as they are.
    """
    trainer = module._trainer
    if trainer is None or trainer.world_size == 1:
        return tensors
    count = torch.tensor([len(tensors[0])], device=module.device)
    counts = module.all_gather(count).flatten().tolist()  # (W,)
    most = max(counts)
    gathered = []
    for tensor in tensors:
        padded = tensor.new_zeros((most, *tensor.shape[1:]))
        padded[: len(tensor)] = tensor
        parts = module.all_gather(padded.to(module.device)).cpu()  # (W, most, ...)
        gathered.append(torch.cat([parts[r, :n] for r, n in enumerate(counts)]))
    return tuple(gathered)
