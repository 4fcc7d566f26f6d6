"""Texts in, labels out: the edges of a trained text classifier, and its confusion matrix on disk.

`SentimentTask.encode`, `predict`, `predict_frame` and `predict_from` call these; the
model itself (`seqkit.models.RecurrentClassifier`) works on token ids.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from seqkit.errors import DataError
from seqkit.text import PAD, get_tokenizer


MAX_WORDS = 20_000
"""Words of a text a classifier reads when it was trained without a length limit (`--data.max_length`)."""


def encode(task, texts: list[str]) -> list[Tensor]:
    """Token ids of each text with the trained vocabulary (an empty text becomes one `<unk>`).

    A text is read up to the model's `max_length` tokens, or `MAX_WORDS` when it has none
    (said once, with how many texts were cut): never minutes over one pasted book.
    """
    tokenize = get_tokenizer(task.tokenizer_name)
    unknown = task.vocab.get_default_index()
    limit = task.max_length or MAX_WORDS
    ids, cut = [], 0
    for text in texts:
        text = text if isinstance(text, str) else ""
        words = tokenize(text[: 50 * limit])  # no need to split more of it than can be read
        cut += len(words) > limit
        ids.append(torch.tensor(task.vocab.lookup_indices(words[:limit]) or [unknown], dtype=torch.long))
    if cut and not task.max_length:
        rank_zero_warn(f"{cut} of the texts are longer than {MAX_WORDS:,} words: each is read up to its "
                       f"{MAX_WORDS:,}th (the model was trained without --data.max_length)")
    return ids


@torch.no_grad()
def probabilities(task, texts: list[str], batch_size: int = 256) -> Tensor:
    """`(len(texts), C)`: the probability of every label for each text, in `task.labels`' order."""
    task.eval()
    rows = []
    pad = task.vocab[PAD] if PAD in task.vocab else 0  # any id: padded steps are never read
    encoded = encode(task, texts)  # all at once: a note on texts cut comes once, counting them all
    for start in range(0, len(texts), batch_size):
        ids = encoded[start : start + batch_size]
        lengths = torch.tensor([len(i) for i in ids])
        tokens = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=pad)      # (B, T)
        rows.append(torch.softmax(task(tokens.to(task.device), lengths), dim=-1).cpu())  # (B, C)
    return torch.cat(rows) if rows else torch.zeros(0, len(task.labels))


def predict(task, texts: list[str], batch_size: int = 256) -> list[dict]:
    """For each text, `{"label": best label, "probabilities": {label: p, ...}}` (`task`: a classifier or an `Averaged`)."""
    table = task.probabilities(texts, batch_size) if isinstance(task, Averaged) else probabilities(task, texts, batch_size)
    results = []
    for row in table.tolist():
        best = max(range(len(row)), key=row.__getitem__)
        results.append({"label": task.labels[best], "probabilities": dict(zip(task.labels, row))})
    return results


class Averaged:
    """Several trained classifiers of the same labels as one: each text's probabilities are their mean.

    Classifiers that learned differently err on different texts: two started from language
    models of different seeds, or ULMFiT's pair, one reading forwards and one last word
    first (`SentimentTask(reverse=True)`). docs/results.md measures both on SST-2.
    `seqkit classify --ckpt_path A --ckpt_path B` builds one.

        pair = Averaged([SentimentTask.from_checkpoint(a), SentimentTask.from_checkpoint(b)])
        pair.predict(["a gripping film"])       # as SentimentTask.predict

    Raises:
        DataError: no classifier, or classifiers with different labels.
    """

    def __init__(self, tasks: list) -> None:
        if not tasks:
            raise DataError("Averaged needs at least one classifier")
        for task in tasks[1:]:
            if list(task.labels) != list(tasks[0].labels):
                raise DataError(f"classifiers to average must share their labels: {list(tasks[0].labels)} and "
                                f"{list(task.labels)}")
        self.tasks = list(tasks)
        self.labels = list(tasks[0].labels)
        self.tokenizer_name = tasks[0].tokenizer_name

    def probabilities(self, texts: list[str], batch_size: int = 256) -> Tensor:
        """`(len(texts), C)`: the mean of the classifiers' probabilities."""
        return torch.stack([probabilities(task, texts, batch_size) for task in self.tasks]).mean(0)

    def predict(self, texts: list[str], batch_size: int = 256) -> list[dict]:
        return predict(self, texts, batch_size)

    def predict_frame(self, table: pd.DataFrame, text_column: str = "text", source: object = "the table",
                      option: str = "--data.text_column") -> pd.DataFrame:
        return predict_frame(self, table, text_column, source, option)


def predict_frame(task, table: pd.DataFrame, text_column: str = "text", source: object = "the table",
                  option: str = "--data.text_column") -> pd.DataFrame:
    """`table` with each text's `predicted_label` and a `probability_<label>` column per label added.

    Empty texts (or texts with no token) get a label like any other (the model's answer to
    nothing), and a warning that counts them, since training skips such rows.

    Raises:
        DataError: `table` has no `text_column` (naming `option`, the flag that sets it).
    """
    if text_column not in table.columns:
        raise DataError(f"{source} has no column {text_column!r}; its columns are {list(table.columns)} "
                        f"(set {option})")
    nested = next((k for k, value in enumerate(table[text_column].tolist()) if isinstance(value, (dict, list))), None)
    if nested is not None:  # JSON Lines may hold an object or a list where a text belongs: never classify its repr
        raise DataError(f"{source}: row {nested + 1}: {text_column!r} is a JSON "
                        f"{'object' if isinstance(table[text_column].iloc[nested], dict) else 'array'}, not a text; "
                        "write it as a string")
    texts = table[text_column].fillna("").astype(str).tolist()
    tokenize = get_tokenizer(task.tokenizer_name)
    empty = [i for i, text in enumerate(texts) if not tokenize(text[: 50 * MAX_WORDS])]
    if empty:
        rank_zero_warn(f"{source}: {len(empty)} of {len(texts)} texts are empty or have no token (rows "
                       f"{', '.join(str(i + 1) for i in empty[:5])}{', ...' if len(empty) > 5 else ''}); "
                       "their labels say nothing about them")
    results = predict(task, texts)
    table = table.copy()
    table["predicted_label"] = [r["label"] for r in results]
    for label in task.labels:
        table[f"probability_{label}"] = [r["probabilities"][label] for r in results]
    return table


def predict_from(task, datamodule) -> pd.DataFrame:
    """`seqkit predict`: the labels of the texts in the DataModule's `predict_path`."""
    from seqkit.data.sentiment import read_table_of_texts

    path = getattr(datamodule, "predict_path", None)
    if path is None:
        raise DataError("seqkit predict needs the texts to label: --data.predict_path FILE (CSV, TSV or JSON "
                        "Lines, texts in --data.text_column)")
    return predict_frame(task, read_table_of_texts(path), datamodule.text_column, source=path)


def write_confusion(matrix: Tensor, labels: list[str], folder: Path) -> list[Path]:
    """`confusion_matrix.csv` and `.png` in `folder` (rows: the true label, columns: the predicted one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "confusion_matrix.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *labels])
        for label, row in zip(labels, matrix.tolist()):
            writer.writerow([label, *row])
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    size = len(labels)
    figure, axes = plt.subplots(figsize=(1.2 * size + 3, 1.2 * size + 1.8))
    image = axes.imshow(matrix.numpy(), cmap="Blues")
    axes.set_xticks(range(size), labels)
    axes.set_yticks(range(size), labels)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title(f"confusion matrix: {int(matrix.sum())} texts")
    figure.colorbar(image, ax=axes, label="texts")
    half = float(matrix.max()) / 2
    for i in range(size):
        for j in range(size):  # white on the dark cells, black on the light ones: every count readable
            axes.text(j, i, str(int(matrix[i, j])), ha="center", va="center",
                      color="white" if float(matrix[i, j]) > half else "black")
    figure.tight_layout()
    figure.savefig(folder / "confusion_matrix.png", dpi=100)
    plt.close(figure)
    return [path, folder / "confusion_matrix.png"]
