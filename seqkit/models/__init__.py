"""The headline models as plain `nn.Module`s on tensors and token ids, with no Lightning.

- `RecurrentLM`: embedding, encoder, dropout, (tied) head: `forward(tokens, state) -> (logits, state)`.
- `RecurrentClassifier`: embedding, encoder over packed texts, pooling, head: `forward(tokens, lengths) -> logits`.
- `RecurrentForecaster`: per-window normalisation, encoder, direct multi-step head, baseline residual,
  quantiles: `forward(past, future) -> forecast (B, H, n_targets, Q)`; baselines `Naive`, `SeasonalNaive`,
  `SeasonalDrift`; `ForecastEnsemble`: several of them over input lengths, their median.
- `RecurrentReadout`: an encoder read out at its last step (the memory tasks): `forward(inputs) -> answer`.
- `generation`: next-word ranking and sampling on ids, for any such model.

A task in `seqkit.tasks` holds one as `task.model` and adds the loss, metrics, optimizer
and logging; use the model alone in a loop of your own (docs/extending.md).
"""

from seqkit.models import generation
from seqkit.models.classifier import RecurrentClassifier
from seqkit.models.forecaster import (Baseline, ForecastEnsemble, Naive, PinballLoss, RecurrentForecaster,
                                     SeasonalDrift, SeasonalNaive)
from seqkit.models.language_model import RecurrentLM
from seqkit.models.readout import RecurrentReadout

__all__ = ["Baseline", "ForecastEnsemble", "Naive", "PinballLoss", "RecurrentClassifier", "RecurrentForecaster", "RecurrentLM", "RecurrentReadout", "SeasonalDrift", "SeasonalNaive",
           "generation"]
