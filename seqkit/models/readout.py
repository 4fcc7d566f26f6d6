"""`RecurrentReadout`: read a sequence of vectors, answer at its end (the long-range memory tasks' model).

    inputs (B, T, F) -> encoder (B, T, D*H) -> the last step's output (each direction's own last step)
                     -> linear -> (B,) for a number, logits (B, C) for a class

`seqkit.tasks.MemoryTask` holds one as `task.model`.
"""

from __future__ import annotations

from torch import Tensor, nn

from seqkit.modules import ClassifierHead, Recurrent


class RecurrentReadout(nn.Module):
    """A recurrent encoder read out at its last step.

    Args:
        encoder: a seqkit recurrent module whose `input_size` is the features per step.
        n_outputs: 1 for a number (regression), the number of classes otherwise.
        regression: answer `(B,)` numbers rather than `(B, C)` logits.
    """

    def __init__(self, encoder: Recurrent, n_outputs: int, regression: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ClassifierHead(encoder.hidden_size * encoder.num_directions, n_outputs, pooling="last",
                                   bidirectional=encoder.bidirectional)
        self.regression = regression

    def forward(self, inputs: Tensor) -> Tensor:
        """`inputs (B, T, F)` -> the answer: `(B,)` for regression, logits `(B, C)` for classification."""
        output, _ = self.encoder(inputs)  # (B, T, D*H)
        answer = self.head(output)        # (B, n_outputs), read from the last step only
        return answer.squeeze(-1) if self.regression else answer
