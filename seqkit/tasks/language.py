"""Text in and out of a trained language model: the edges around `seqkit.models.generation`, which works on ids.

`NextWordTask.predict_next`, `generate`, `predict_frame` and `predict_from` call these. A
backward model (`reverse`) reads text last word first: its "next" words come before the
text, and what it writes precedes it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from seqkit.errors import DataError, SeqkitError
from seqkit.models import generation
from seqkit.text import EOS, UNK, get_tokenizer, read_lines


MAX_PROMPT = 20_000
"""Words a prompt may have. What a recurrent model carries forward is mostly its last few hundred
words; a longer text is refused (never read for minutes) with what to do instead."""


def token_ids(task, text: str) -> Tensor:
    """`text` as the `(1, T)` ids the model reads (reversed for a backward model); a note when no word is known.

    Raises:
        SeqkitError: no word, or more than `MAX_PROMPT` (checked on its characters before it is split, too).
    """
    too_long = (f"; seqkit reads at most {MAX_PROMPT:,} words of a prompt (the model's state carries mostly the last "
                "few hundred): give the end of the text")
    if len(text) > 50 * MAX_PROMPT:
        raise SeqkitError(f"the prompt is {len(text):,} characters{too_long}")
    tokens = get_tokenizer(task.tokenizer_name)(text)
    if len(tokens) > MAX_PROMPT:
        raise SeqkitError(f"the prompt is {len(tokens):,} words{too_long}")
    if not tokens:
        raise SeqkitError("the prompt has no words; give some text to continue")
    ids = task.vocab.lookup_indices(tokens)
    if UNK in task.vocab and all(i == task.vocab[UNK] for i in ids) and tokens != [UNK]:
        warnings.warn(f"no word of {text!r} is in the model's vocabulary: it reads {len(ids)} x {UNK}, "
                      "and what follows says little about the text", stacklevel=1)
    return torch.tensor([ids[::-1] if task.reverse else ids], device=task.device)  # a backward model reads from the end


@torch.no_grad()
def predict_frame(task, prompts: list[str], k: int = 5, max_new_tokens: int = 20, seed: int = 0) -> pd.DataFrame:
    """One row per prompt: its `k` most likely next words (`next_1`, `prob_1`, ...) and a sampled continuation.

    For a backward model (`reverse`) the words are those *before* the prompt, and the
    continuation is the text that precedes it.
    """
    rows = []
    for prompt in prompts:
        row = {"prompt": prompt}
        for rank, (word, probability) in enumerate(predict_next(task, prompt, k=k), 1):
            row[f"next_{rank}"], row[f"prob_{rank}"] = word, probability
        row["continuation"] = generate(task, prompt, max_new_tokens, seed=seed) if max_new_tokens > 0 else ""
        rows.append(row)
    return pd.DataFrame(rows)


def predict_from(task, datamodule) -> pd.DataFrame:
    """`seqkit predict`: next words and a continuation for every line of the DataModule's `predict_path`."""
    path = getattr(datamodule, "predict_path", None)
    if path is None:
        raise DataError("seqkit predict needs prompts: --data.predict_path FILE, a text file with one prompt a line")
    prompts = [line for line in read_lines(Path(path)) if line.strip()]
    if not prompts:
        raise DataError(f"{path} holds no prompt (every line is empty); write one prompt a line")
    return predict_frame(task, prompts)


@torch.no_grad()
def predict_next(task, text: str, k: int = 5, exclude: tuple[str, ...] = (UNK,)) -> list[tuple[str, float]]:
    """The `k` most likely next words after `text`, with their probabilities.

    A backward model (`reverse`) gives the most likely words *before* `text`.

    Raises:
        SeqkitError: `k` below 1 or above the vocabulary.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(task.vocab):
        raise SeqkitError(f"k must be a whole number from 1 to the vocabulary's {len(task.vocab)} words, got {k}")
    task.eval()
    probabilities, _ = generation.next_token_probabilities(task.model, token_ids(task, text))
    exclude = [task.vocab[token] for token in exclude if token in task.vocab]
    return [(task.vocab.lookup_token(i), p) for i, p in generation.top_k_tokens(probabilities, k, exclude)]


@torch.no_grad()
def generate(task, prompt: str, max_new_tokens: int = 30, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None) -> str:
    """Continue `prompt` by sampling one word at a time; `<eos>` becomes a line break.

    A backward model (`reverse`) writes the text that comes *before* the prompt,
    sampled from the prompt's first word backwards and returned in reading order.

    Args:
        temperature: divides the logits; below 1 is more conservative, above 1 more varied.
        top_k: sample only among the k most likely words.
        seed: makes the sample repeatable.
    """
    generation.check_sampling(temperature, top_k, max_new_tokens)
    task.eval()
    generator = torch.Generator(device=task.device)
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    ids = generation.sample(task.model, token_ids(task, prompt), max_new_tokens, temperature, top_k, generator)
    words = task.vocab.lookup_tokens(ids)
    text = " ".join(words[::-1] if task.reverse else words)
    return text.replace(f" {EOS} ", "\n").replace(EOS, "\n")
