"""Texts in, texts out of a trained `Seq2SeqTask`, and the exact-match score of what it writes.

`Seq2SeqTask.translate` and `predict_from` call these; the model (`seqkit.modules.Seq2Seq`)
works on ids.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import Tensor
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence

from seqkit.data.dates import SPECIALS
from seqkit.errors import DataError
from seqkit.text import EOS, PAD, UNK, read_lines


def predict_from(task, datamodule) -> pd.DataFrame:
    """`seqkit predict`: every line of the DataModule's `predict_path` (else its test split) and its translation.

    For the test split the expected output stands beside the prediction (`target`, `correct`).
    """
    path = getattr(datamodule, "predict_path", None)
    if path is not None:
        sources = [line.strip() for line in read_lines(Path(path)) if line.strip()]
        if not sources:
            raise DataError(f"{path} holds nothing to translate (every line is empty); write one text a line")
        return pd.DataFrame({"source": sources, "prediction": task.translate(sources)})
    pairs = datamodule.generate()["test"]
    frame = pd.DataFrame({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})
    frame["prediction"] = task.translate(frame["source"].tolist())
    frame["correct"] = frame["prediction"] == frame["target"]
    return frame


def translate(task, texts: list[str], beam_size: int | None = None, batch_size: int = 256) -> list[str]:
    """Translate each text (e.g. `["3 march 2021"]` -> `["2021-03-03"]`).

    Args:
        texts: the sources; characters the training data never showed become `<unk>`,
            and an empty text is read as one `<unk>`.
        beam_size: the beam (1: greedy); None uses the task's `beam_size`.
        batch_size: texts decoded at once.

    Returns:
        One string per text: the output's characters before `<eos>`, specials left out.
    """
    unknown = task.source_vocab[UNK]
    specials = {task.target_vocab[token] for token in SPECIALS}
    eos = task.target_vocab[EOS]
    was_training = task.training
    task.eval()  # no dropout while translating
    results = []
    try:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            ids = [torch.tensor(task.source_vocab(list(text)) or [unknown]) for text in chunk]
            lengths = torch.tensor([len(row) for row in ids])
            source = pad_sequence(ids, batch_first=True, padding_value=task.source_vocab[PAD]).to(task.device)
            for row in task.decode(source, lengths, beam_size).tolist():
                row = row[: row.index(eos)] if eos in row else row
                results.append("".join(task.target_vocab.lookup_token(i) for i in row if i not in specials))
    finally:
        task.train(was_training)
    return results


def same_outputs(predicted: Tensor, target: Tensor, pad_index: int) -> Tensor:
    """`(B,)` bool: each predicted output equals its target exactly, `<eos>` included.

    Both are `(B, T)` ids padded with `pad_index` after their `<eos>` (their widths may
    differ); an output that never wrote `<eos>` differs from every target.
    """
    width = max(predicted.size(1), target.size(1))
    predicted = F.pad(predicted, (0, width - predicted.size(1)), value=pad_index)
    target = F.pad(target, (0, width - target.size(1)), value=pad_index)
    return (predicted == target).all(dim=1)
