"""What a language model carries from one batch to the next (truncated backpropagation through time).

The DataModule makes batch k+1 continue batch k, stream by stream; `CarriedState` keeps the
hidden state leaving each batch, cut from its graph (values flow on, gradients stop at the
batch boundary), and starts every epoch and every evaluation from zeros. A checkpoint
written mid-epoch keeps the training streams' state and the epoch's loss so far, so that a
resumed run goes on where it stopped. `Perplexity` is the metric that goes with it.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import MeanMetric


class Perplexity(MeanMetric):
    """exp of the mean negative log-likelihood per token: `update(mean_nll_of_batch, tokens_in_batch)`.

    The mean over all tokens of the split (and of every process), so the perplexity is
    exp(total loss / total tokens), never an average of per-batch perplexities.
    """

    def compute(self) -> Tensor:
        return torch.exp(super().compute())


def _map(state, fn):
    if state is None:
        return None
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class CarriedState:
    """The hidden state each stage (`"train"`, `"val"`, `"test"`) carries into its next batch."""

    def __init__(self) -> None:
        self.states: dict[str, object] = {}

    def entering(self, stage: str, batch_idx: int, carry: bool = True):
        """The state entering batch `batch_idx` of `stage`: None (zeros) at the first batch, or when not carrying."""
        if batch_idx == 0 or not carry:
            self.states[stage] = None
        return self.states.get(stage)

    def leaving(self, stage: str, state) -> None:
        """Keep the state leaving a batch, detached: the next batch's backward pass stops here."""
        self.states[stage] = _map(state, torch.Tensor.detach)

    def to(self, device: torch.device) -> None:
        """Bring the training streams' state (loaded where it was saved) to `device`."""
        self.states["train"] = _map(self.states.get("train"), lambda s: s.to(device))

    def save(self, checkpoint: dict, perplexity: Perplexity) -> None:
        """Put the training streams' state and the epoch's loss so far into `checkpoint`.

        Each process carries its own streams, which a checkpoint (written by process 0)
        cannot hold: on many processes the caller leaves this out, and the resumed streams
        start from zeros.
        """
        checkpoint["next_word_stream"] = {"state": self.states.get("train"),
                                          "nll": (perplexity.mean_value, perplexity.weight)}

    def restore(self, checkpoint: dict, perplexity: Perplexity) -> None:
        """Take them back from a checkpoint written mid-epoch (none saved: nothing to do)."""
        stream = checkpoint.get("next_word_stream")
        if stream is None:
            return
        self.states["train"] = stream["state"]
        total, count = (t.to(perplexity.weight) for t in stream["nll"])
        perplexity.reset()
        if count > 0:  # through update(), so that the metric knows it holds values (no warning at compute)
            perplexity.update(total / count, count)
