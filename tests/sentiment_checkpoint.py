"""A tiny trained sentiment checkpoint for tests of the commands that read one (trace, the textbook page).

Twenty copies of ten short reviews, "good" ones positive and "bad" ones negative; a small
bidirectional LSTM learns them in a few seconds on one thread.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import torch

from seqkit.data.sentiment import SentimentData
from seqkit.modules import LSTM
from seqkit.tasks.sentiment import SentimentTask

GOOD = ["a good film", "good acting and a good story", "really good", "the story was good", "good good good fun"]
BAD = ["a bad film", "bad acting and a bad story", "really bad", "the story was bad", "bad bad bad boredom"]


def train_tiny_sentiment(root: Path, epochs: int = 3) -> Path:
    """Train the tiny model under `root` (a run folder, as a recipe's default_root_dir) and return its last.ckpt."""
    root.mkdir(parents=True, exist_ok=True)
    reviews = root / "reviews.csv"
    rows = [(text, "pos") for text in GOOD] + [(text, "neg") for text in BAD]
    reviews.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows * 20))
    torch.manual_seed(0)
    data = SentimentData(train_path=str(reviews), batch_size=16, eval_batch_size=32)
    task = SentimentTask(LSTM(16, 6, bidirectional=True), pooling="max", dropout=0.1, optimizer=partial(torch.optim.AdamW, lr=0.01))
    trainer = pl.Trainer(default_root_dir=root, accelerator="cpu", max_epochs=epochs, enable_progress_bar=False,
                         enable_model_summary=False, logger=False)
    trainer.fit(task, datamodule=data)
    return Path(trainer.checkpoint_callback.last_model_path)
