"""Next-word ranking and sampling on token ids, for any model `tokens (B, T), state -> logits (B, T, V), state`.

Text goes in and out at the edges (`NextWordTask.predict_next` / `generate` tokenize and
look words up); here there are only ids, so the same code serves a `RecurrentLM`, a
user's own model, or a compiled one.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seqkit.errors import SeqkitError


MAX_NEW = 100_000  # words one call may write: a bound, so that a slip of the keyboard cannot run for hours


def check_sampling(temperature: float, top_k: int | None, max_new_tokens: int) -> None:
    """Refuse sampling options that cannot work, naming the option.

    Raises:
        SeqkitError: a temperature that is not a positive finite number, a top_k below 1,
            a max_new_tokens below 0 or above `MAX_NEW`.
    """
    if not (math.isfinite(temperature) and temperature > 0):
        raise SeqkitError(f"temperature must be a positive number, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise SeqkitError(f"top_k must be a whole number of at least 1 (or none, for every word), got {top_k}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or not 0 <= max_new_tokens <= MAX_NEW:
        raise SeqkitError(f"max_new_tokens must be a whole number from 0 to {MAX_NEW:,}, got {max_new_tokens}")


@torch.no_grad()
def next_token_probabilities(model: nn.Module, ids: Tensor, state=None) -> tuple[Tensor, object]:
    """`ids (1, T)` -> the probability of every token coming next `(V,)`, and the state after reading `ids`."""
    logits, state = model(ids, state)
    return torch.softmax(logits[0, -1], dim=-1), state


def top_k_tokens(probabilities: Tensor, k: int, exclude: list[int] = ()) -> list[tuple[int, float]]:
    """The `k` most likely token ids with their probabilities, leaving out `exclude` (say `<unk>`)."""
    probabilities = probabilities.clone()
    probabilities[list(exclude)] = 0.0
    values, indices = probabilities.topk(min(k, probabilities.numel()))
    return list(zip(indices.tolist(), values.tolist()))


@torch.no_grad()
def sample(model: nn.Module, ids: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
           generator: torch.Generator | None = None) -> list[int]:
    """Continue `ids (1, T)` by `max_new_tokens` ids, sampled one at a time from the carried state.

    Each new token costs one step of the recurrence: the state after the prompt is carried on,
    the prompt is never read again.
    """
    check_sampling(temperature, top_k, max_new_tokens)
    logits, state = model(ids)
    out = []
    for _ in range(max_new_tokens):
        scores = logits[0, -1] / temperature
        if top_k is not None:
            threshold = scores.topk(min(top_k, scores.numel())).values[-1]
            scores = scores.masked_fill(scores < threshold, -math.inf)
        token = torch.multinomial(torch.softmax(scores, -1), 1, generator=generator)  # (1,)
        out.append(token.item())
        logits, state = model(token.view(1, 1), state)
    return out
