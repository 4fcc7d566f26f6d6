"""Output heads: what turns the hidden states h_t into predictions.

The textbook writes the RNN's output as `y_t = softmax(W_hy h_t + b_y)`. The heads
here return the logits `W_hy h_t + b_y` and stop there: the softmax belongs in the loss
(`F.cross_entropy` is log-softmax followed by the negative log-likelihood, which stays
finite where a softmax followed by a log underflows to log(0)) and in sampling
(`torch.softmax(logits / temperature, -1)`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

POOLINGS = ("last", "mean", "max", "concat")


class LanguageModelHead(nn.Module):
    """`W_hy h_t + b_y` at every timestep: the next-token logits of a language model.

    Args:
        hidden_size: features of h_t (the recurrent output, all directions).
        vocab_size: number of tokens to score.
        bias: learn `b_y`.
        tie_to: an `nn.Embedding(vocab_size, hidden_size)` whose weight becomes `W_hy`
            (weight tying, Press & Wolf 2017, Inan et al. 2017): one matrix both reads
            and writes words, which saves parameters and usually lowers perplexity.

    Shapes:
        `(..., hidden_size)` -> `(..., vocab_size)` logits.
    """

    def __init__(self, hidden_size: int, vocab_size: int, bias: bool = True, tie_to: nn.Embedding | None = None) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, vocab_size, bias=bias)
        self.tied = tie_to is not None
        if tie_to is not None:
            expected = (vocab_size, hidden_size)
            if tuple(tie_to.weight.shape) != expected:
                raise ValueError(
                    f"weight tying needs an embedding of shape (vocab_size, hidden_size) = {expected}, "
                    f"got {tuple(tie_to.weight.shape)}; make the embedding size equal the recurrent output size"
                )
            self.proj.weight = tie_to.weight  # the same Parameter, trained by both uses

    def forward(self, h: Tensor) -> Tensor:
        return self.proj(h)  # logits; softmax lives in the loss


class ClassifierHead(nn.Module):
    """One prediction per sequence (many-to-one): pool h_t over time, then `W_hy h + b_y`.

    Args:
        in_features: features of h_t (all directions).
        num_classes: number of labels.
        pooling: `"last"` (h at each sequence's last real step; for a bidirectional
            output, the reverse direction's last step is t = 0), `"mean"` or `"max"` over
            the real steps, or `"concat"`: the three side by side, `[last; max; mean]`
            (ULMFiT's concat pooling; the head then reads 3 x in_features). Padding never
            enters any of them.
        dropout: dropout on the pooled features, in training.
        bidirectional: the features are `[forward; reverse]` halves (matters for `"last"`).

    Shapes:
        `output (B, T, in_features)`, `lengths (B,)` (None: every sequence has T steps)
        -> logits `(B, num_classes)`.
    """

    def __init__(
        self, in_features: int, num_classes: int, pooling: str = "last", dropout: float = 0.0, bidirectional: bool = False
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if bidirectional and in_features % 2:
            raise ValueError(f"a bidirectional output has an even number of features, got {in_features}")
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(in_features * (3 if pooling == "concat" else 1), num_classes)

    def pool(self, output: Tensor, lengths: Tensor | None = None) -> Tensor:
        """`(B, T, F)` -> `(B, F)` (`(B, 3F)` for concat), over each sequence's real steps only."""
        batch, steps, features = output.shape
        if lengths is None:
            lengths = torch.full((batch,), steps, device=output.device)
        lengths = lengths.to(output.device)
        return self._pool(self.pooling, output, lengths)

    def _pool(self, pooling: str, output: Tensor, lengths: Tensor) -> Tensor:
        batch, steps, features = output.shape
        if pooling == "concat":
            return torch.cat([self._pool(one, output, lengths) for one in ("last", "max", "mean")], dim=1)  # (B, 3F)
        if pooling == "last":
            last = (lengths - 1).clamp(min=0).view(batch, 1, 1).expand(batch, 1, features)
            pooled = output.gather(1, last).squeeze(1)  # (B, F): h at each sequence's own last step
            if self.bidirectional:
                half = features // 2
                pooled = torch.cat([pooled[:, :half], output[:, 0, half:]], dim=1)
            return pooled
        real = torch.arange(steps, device=output.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        real = real.unsqueeze(-1)
        if pooling == "mean":
            return (output * real).sum(1) / lengths.clamp(min=1).unsqueeze(1).to(output.dtype)
        return output.masked_fill(~real, float("-inf")).amax(1)

    def forward(self, output: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.proj(self.dropout(self.pool(output, lengths)))
