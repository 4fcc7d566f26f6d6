"""Training loaders that a killed run can pick up in the middle of an epoch, batch for batch.

Lightning saves where the training loop is (epoch, batches done) in every checkpoint, and
asks each training loader for its own state if it has one (`state_dict`/`load_state_dict`).
A plain DataLoader has none, so a run resumed mid-epoch starts the epoch's batches again
from the first one while counting the ones it did before the kill: it repeats some batches
and never sees others. Two pieces make the resumed epoch the same as the lost one:

- `EpochRandomSampler`: the shuffled order of an epoch depends on `seed` and the epoch
  only, never on how many orders were drawn before, so a new process draws the same order
  for epoch 5 as the run it continues (Lightning calls `set_epoch` before every epoch, as it
  does for `DistributedSampler`).
- `ResumableDataLoader`: counts the batches it has given out in the current pass and, after
  `load_state_dict`, passes over as many at the start of its next pass. Lightning fetches no
  batch ahead of a loader with a length, so the batches given out are the batches trained.

The batches passed over are loaded and dropped, not skipped by index: the count stays right
with worker processes, and for seqkit's data (tensors in memory) it takes well under a
second even late in a long epoch.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler


class EpochRandomSampler(RandomSampler):
    """Indices in a random order drawn from `seed` and the epoch: the same pair gives the same order.

    A `RandomSampler` (so that Lightning swaps in its `DistributedSampler` on many
    processes, as for `shuffle=True`) whose generator is reseeded at the start of every
    pass from `(seed, epoch)`.

    Args:
        data_source: the dataset (only its length is used).
        seed: the seed of every epoch's order.
    """

    def __init__(self, data_source: Dataset, seed: int = 0) -> None:
        super().__init__(data_source, generator=torch.Generator())
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the order of epoch `epoch` on the next pass."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        # Seeds a million apart for neighbouring seeds; the offset keeps them off the seeds that
        # seqkit's data generators derive from the same `seed` (`seqkit.data.memory.split_generator`).
        self.generator.manual_seed((self.seed * 1_000_003 + 104_729 + self.epoch) % 2**63)
        return super().__iter__()


class ResumableDataLoader(DataLoader):
    """A DataLoader whose place in the current pass is saved in checkpoints and restored on resume.

    Takes DataLoader's arguments unchanged (Lightning rebuilds it from them to add its
    distributed sampler). Its order must not depend on the global random state, which a
    resumed process does not share with the run it continues: shuffle with an
    `EpochRandomSampler`, not `shuffle=True`.

    Raises:
        ValueError: `shuffle=True` (its order would come from the global random state).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("shuffle"):
            raise ValueError("ResumableDataLoader cannot resume a shuffle=True order; "
                             "pass sampler=EpochRandomSampler(dataset, seed) instead")
        super().__init__(*args, **kwargs)
        self._given = 0  # batches given out in the current pass
        self._resume_at = 0  # batches to pass over at the start of the next pass (set by load_state_dict)

    def state_dict(self) -> dict[str, int]:
        """`{"batches": n}`: the batches of the current pass given out (and so trained) so far."""
        return {"batches": self._given}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next pass start after `state["batches"]` batches, where the saved run was."""
        self._resume_at = int(state.get("batches", 0))

    def end_pass(self) -> None:
        """Mark the current pass as finished, for a pass cut short by the Trainer (`limit_train_batches`).

        A checkpoint written after this resumes at the next pass, not in the rest of this one.
        """
        self._given = len(self)

    def __iter__(self) -> Iterator[Any]:
        # Taken now, at iter(), not at the first batch: after a resume Lightning may start a
        # pass it never reads (when the saved epoch had ended), and the position belongs to
        # that pass only.
        skip, self._resume_at = self._resume_at, 0
        return self._pass(0 if skip >= len(self) else skip)

    def _pass(self, skip: int) -> Iterator[Any]:
        # A generator: nothing runs until the first batch is asked for, which Lightning does
        # after `set_epoch`, so a sampler draws the order of the right epoch.
        if skip:
            # Starting a pass draws a number from the global generator (the seed of worker
            # processes). The lost run drew it at the start of the epoch, before its checkpoint
            # recorded the generator; drawing it again here would shift every later draw (dropout).
            with torch.random.fork_rng(devices=[]):
                batches = super().__iter__()
                for _ in range(skip):
                    next(batches)
        else:
            batches = super().__iter__()
        self._given = skip
        for batch in batches:
            self._given += 1
            yield batch
