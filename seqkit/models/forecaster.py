"""`RecurrentForecaster`: a direct multi-step forecaster as a plain `nn.Module` on scaled tensors.

    past (B, L, F_in) -> [per-window normalisation of the targets] -> encoder (B, L, D*H)
        -> the last state, beside the known future (B, H * F_known) -> dropout
        -> head: every horizon step and quantile at once (B, H, n_targets, Q)
        -> [+ a baseline forecast of the same window] [+ a learned linear map of it] -> [scaled back]

The baselines are small `Baseline` objects (`Naive()`, `SeasonalNaive(12)`, `SeasonalDrift(12)`): the
network learns the correction over one, and its head starts at zero, so training starts
from the baseline. `seqkit.tasks.ForecastTask` holds one as `task.model`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqkit import forecast_metrics as fm
from seqkit.modules import Recurrent


class Baseline:
    """A forecast from the window alone, `baseline(history (B, L, n), horizon) -> (B, horizon, n)`.

    The forecaster learns the correction over one. In a recipe:
    `baseline: {class_path: seqkit.models.SeasonalNaive, init_args: {season: 12}}`.
    """

    def __call__(self, history: Tensor, horizon: int) -> Tensor:
        raise NotImplementedError

    def init_args(self) -> dict:
        """The arguments that rebuild this baseline (saved in checkpoints)."""
        return {"season": self.season} if hasattr(self, "season") else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.init_args().items())})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.init_args() == other.init_args()


class Naive(Baseline):
    """The last value of the window, repeated over the horizon."""

    def __call__(self, history: Tensor, horizon: int) -> Tensor:
        return fm.naive_forecast(history, horizon)


class SeasonalNaive(Baseline):
    """The value one season before each step, from the window's last season."""

    def __init__(self, season: int) -> None:
        if season < 1:
            raise ValueError(f"season must be at least 1, got {season}")
        self.season = season

    def __call__(self, history: Tensor, horizon: int) -> Tensor:
        return fm.seasonal_naive_forecast(history, horizon, self.season)


class SeasonalDrift(Baseline):
    """Seasonal naive plus the window's mean growth per season (`season=1`: the naive forecast with drift)."""

    def __init__(self, season: int = 1) -> None:
        if season < 1:
            raise ValueError(f"season must be at least 1, got {season}")
        self.season = season

    def __call__(self, history: Tensor, horizon: int) -> Tensor:
        return fm.seasonal_drift_forecast(history, horizon, self.season)


class PinballLoss(nn.Module):
    """Mean pinball loss of quantile forecasts: `forecast (..., Q)`, `target (...)`, Q in increasing order.

    For quantile q and error e = y - yhat the loss is `q * e` when e >= 0 and `(q - 1) * e`
    otherwise: under-forecasting the 90th percentile costs 9 times what over-forecasting does.
    A forecaster trained with it takes the median (0.5, which the task then requires) as its point forecast.
    """

    def __init__(self, quantiles: list[float] = (0.1, 0.5, 0.9)) -> None:
        super().__init__()
        quantiles = sorted(float(q) for q in quantiles)
        if not quantiles or any(not 0 < q < 1 for q in quantiles) or len(set(quantiles)) != len(quantiles):
            raise ValueError(f"quantiles must be distinct and between 0 and 1; got {quantiles}")
        self.levels = quantiles  # as given, in increasing order: the forecast's last dimension
        self.register_buffer("quantiles", torch.tensor(quantiles), persistent=False)  # (Q,)

    def init_args(self) -> dict:
        return {"quantiles": list(self.levels)}

    def forward(self, forecast: Tensor, target: Tensor) -> Tensor:
        error = target.unsqueeze(-1) - forecast                                         # (..., Q)
        return torch.maximum(self.quantiles * error, (self.quantiles - 1) * error).mean()


class RecurrentForecaster(nn.Module):
    """Forecast `horizon` steps of `n_targets` series at once, from a window of the past.

    Args:
        encoder: a seqkit recurrent module whose `input_size` is the number of input
            features (the targets first, then observed and known covariates).
        horizon: H, the steps forecast.
        n_targets: the target channels, the first ones of every input step.
        future_size: the known covariates per future step (calendar features), 0 for none.
        n_quantiles: outputs per step and target (1: a point forecast).
        revin: centre each window's targets on their mean and divide by their spread, and
            scale the forecast back (the RevIN idea, Kim et al. 2022, without its affine).
        baseline: None, or a baseline object (`Naive()`, `SeasonalNaive(m)`, `SeasonalDrift(m)`)
            that the network corrects.
        dropout: on the features entering the head.
        linear_skip: the window's length L to add a learned linear forecast from the window
            (under `revin`, the window as the encoder reads it): one map from its L steps to
            the H of the horizon, shared by every target, as DLinear's linear layer. It
            starts as the window's mean and the head at zero, so the network learns its
            correction over a linear forecast. 0 for none.
        segment: read each target channel alone, its window cut into segments of this many
            steps, one per recurrent step (SegRNN, Lin et al. 2023): `(B, L, n)` becomes
            `(B * n, L / segment, segment)`, and one head, shared by the channels, forecasts
            each channel's horizon from its last state. The encoder's `input_size` is
            `segment`; there are no covariates. 0 (the default): every feature of a step
            at once, one step at a time.
    """

    def __init__(self, encoder: Recurrent, horizon: int, n_targets: int, future_size: int = 0, n_quantiles: int = 1,
                 revin: bool = False, baseline=None, dropout: float = 0.0, linear_skip: int = 0,
                 segment: int = 0) -> None:
        super().__init__()
        if segment and (future_size or encoder.input_size != segment):
            raise ValueError(f"segment={segment} reads each target alone: it needs an encoder of input_size "
                             f"{segment} and no known future features (got {encoder.input_size} and {future_size})")
        self.encoder = encoder
        self.horizon, self.n_targets, self.n_quantiles = horizon, n_targets, n_quantiles
        self.revin, self.baseline, self.segment = revin, baseline, segment
        self.drop = nn.Dropout(dropout)
        features = encoder.hidden_size * encoder.num_directions + horizon * future_size
        self.head = nn.Linear(features, horizon * (1 if segment else n_targets) * n_quantiles)
        self.skip = nn.Linear(linear_skip, horizon) if linear_skip else None
        if self.skip is not None:
            nn.init.constant_(self.skip.weight, 1 / linear_skip)
            nn.init.zeros_(self.skip.bias)
        if baseline is not None or self.skip is not None:
            nn.init.zeros_(self.head.weight)  # start from the baseline or linear forecast
            nn.init.zeros_(self.head.bias)

    def forward(self, past: Tensor, future: Tensor) -> Tensor:
        """`past (B, L, F_in)`, `future (B, H, F_known)` (F_known may be 0) -> forecasts `(B, H, n_targets, Q)`.

        NaN steps of `past` are padding before a series' start: the statistics of `revin`
        leave them out, and the encoder reads them as 0 (the window's level under `revin`).
        """
        n_targets, horizon = self.n_targets, self.horizon
        # Padding (ForecastData's pad_input) is NaN: left out of the window's statistics, then read as 0.
        history = past[..., :n_targets]  # (B, L, n_targets)
        observed = ~torch.isnan(history)
        if self.revin:  # mean and spread over the observed steps of each window and target
            count = observed.sum(dim=1, keepdim=True).clamp(min=1)
            level = history.nan_to_num().sum(dim=1, keepdim=True) / count  # (B, 1, n_targets)
            deviation = torch.where(observed, history - level, 0.0)
            spread = (deviation.square().sum(dim=1, keepdim=True) / count).sqrt() + 1e-5
            history = deviation / spread
            past = torch.cat([history, past[..., n_targets:].nan_to_num()], dim=-1)
        else:
            past = past.nan_to_num()
            history = past[..., :n_targets]
        if self.segment:  # each channel alone, a segment a step: (B, L, n) -> (B * n, L / segment, segment)
            batch, length = history.shape[:2]
            if length % self.segment:
                raise ValueError(f"segment={self.segment} must divide the input window; got {length} steps")
            if past.shape[-1] != n_targets:  # they would be dropped unseen
                raise ValueError(f"segment={self.segment} reads the {n_targets} targets alone; got {past.shape[-1]} "
                                 f"features a step: leave the others out")
            past = history.transpose(1, 2).reshape(batch * n_targets, length // self.segment, self.segment)
        output, _ = self.encoder(past)  # (B, L, D*H_enc), or (B * n, L / segment, D*H_enc)
        if self.encoder.bidirectional:  # the forward direction's last step, the backward one's first
            half = self.encoder.hidden_size
            summary = torch.cat([output[:, -1, :half], output[:, 0, half:]], dim=-1)
        else:
            summary = output[:, -1]
        if self.segment:  # one head for every channel: (B * n, H * Q) -> (B, H, n, Q)
            forecast = self.head(self.drop(summary)).view(-1, n_targets, horizon, self.n_quantiles).transpose(1, 2)
        else:
            features = torch.cat([summary, future.flatten(1)], dim=-1)
            forecast = self.head(self.drop(features)).view(-1, horizon, n_targets, self.n_quantiles)
        if self.baseline is not None:  # which reads a window's padding as its first observed value
            start = fm.fill_padding(history.masked_fill(~observed, float("nan")))
            forecast = forecast + self.baseline(start, horizon).unsqueeze(-1)
        if self.skip is not None:  # over time, each target alike: (B, n, L) -> (B, n, H) -> (B, H, n, 1)
            forecast = forecast + self.skip(history.transpose(1, 2)).transpose(1, 2).unsqueeze(-1)
        if self.revin:
            forecast = forecast * spread.unsqueeze(-1) + level.unsqueeze(-1)
        return forecast


class ForecastEnsemble(nn.Module):
    """Forecasters side by side, each reading the last `length` steps of the window; the forecast is their median.

    The members are trained together on the same batches, each by its own loss (`each`
    gives every member's forecast); they differ in input length and in their first
    weights. An ensemble over input lengths is how N-BEATS led the M4 competition. For
    an even count of members the median is the lower of the two middle forecasts.
    `encoder` and `head` are the first member's.
    """

    def __init__(self, members: list[RecurrentForecaster], lengths: list[int]) -> None:
        super().__init__()
        self.members, self.lengths = nn.ModuleList(members), list(lengths)

    @property
    def encoder(self) -> Recurrent:
        return self.members[0].encoder

    @property
    def head(self) -> nn.Linear:
        return self.members[0].head

    def each(self, past: Tensor, future: Tensor) -> Tensor:
        """Every member's forecast, `(M, B, H, n_targets, Q)`."""
        return torch.stack([member(past[:, -length:], future) for member, length in zip(self.members, self.lengths)])

    def forward(self, past: Tensor, future: Tensor) -> Tensor:
        return self.each(past, future).median(dim=0).values
