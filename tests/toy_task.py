"""A tiny LightningModule used only to test that `seqkit fit` reaches LightningCLI.

It learns the running mean of a random sequence with a seqkit RNN; the test needs no recipe.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from seqkit.modules import RNN


class ToyTask(pl.LightningModule):
    def __init__(self, hidden_size: int = 8, lr: float = 0.01) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.rnn = RNN(1, hidden_size)
        self.head = torch.nn.Linear(hidden_size, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        output, _ = self.rnn(x)
        loss = torch.nn.functional.mse_loss(self.head(output), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class ToyData(pl.LightningDataModule):
    def __init__(self, batch_size: int = 16) -> None:
        super().__init__()
        self.batch_size = batch_size

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(64, 10, 1, generator=generator)
        y = x.cumsum(1) / torch.arange(1, 11).view(1, 10, 1)
        return DataLoader(TensorDataset(x, y), batch_size=self.batch_size)
