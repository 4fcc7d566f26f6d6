"""The vanilla (Elman) recurrent network: one tanh (or ReLU) layer fed back into itself.

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)

The step below is that line; everything around it (layers, directions, packed
sequences, the fused kernel) is shared by all cells and lives in `recurrent.py`.
"""

from __future__ import annotations

import torch
from torch import Tensor, _VF

from seqkit.modules.recurrent import Recurrent, State


def rnn_tanh_step(x_proj: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[State, dict[str, Tensor]]:
    """One timestep of the tanh RNN.

    Args:
        x_proj: `W_xh x_t + b_h`, `(B, H)`, computed for all timesteps before the loop
            (`b_h = bias_ih + bias_hh` is folded in there).
        state: `(h_{t-1},)`, each `(B, H)`.
        weight_hh: `W_hh`, `(H, H)`.
        bias_hh: None (folded into `x_proj`).
    """
    (h,) = state
    a = torch.addmm(x_proj, h, weight_hh.t())  # a_t = W_xh x_t + b_h + W_hh h_{t-1}, (B, H)
    h = torch.tanh(a)                          # h_t = tanh(a_t)
    return (h,), {"pre": a}


def rnn_relu_step(x_proj: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[State, dict[str, Tensor]]:
    """One timestep of the ReLU RNN: `h_t = relu(W_hh h_{t-1} + W_xh x_t + b_h)`."""
    (h,) = state
    a = torch.addmm(x_proj, h, weight_hh.t())  # a_t, (B, H)
    h = torch.relu(a)                          # h_t = max(0, a_t)
    return (h,), {"pre": a}


class RNN(Recurrent):
    """Vanilla RNN, equal to `torch.nn.RNN` (same arguments, parameters and results).

    For each layer and timestep:

        h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)

    One set of weights serves every timestep. In torch's names (layer 0; layer k reads
    the previous layer's h_t as its x_t):

        W_xh = weight_ih_l0   (H, input_size)
        W_hh = weight_hh_l0   (H, H)
        b_h  = bias_ih_l0 + bias_hh_l0   (two vectors, as in cuDNN; only their sum matters)

    The output layer of the textbook, `y_t = softmax(W_hy h_t + b_y)`, is not part of
    this module: put `seqkit.modules.LanguageModelHead` (or `ClassifierHead`) on `output`. It returns the logits
    `W_hy h_t + b_y`; the softmax belongs in the loss (`cross_entropy` is log-softmax + NLL,
    the numerically stable form) and in sampling.

    Args:
        input_size: features of x_t.
        hidden_size: H, units in h_t.
        num_layers: stacked layers.
        nonlinearity: `"tanh"` (default) or `"relu"`.
        bias: learn `b_h`.
        batch_first: input and output are `(B, T, features)`. **True by default in
            seqkit** (torch.nn's default is False); state tensors are `(layers, B, H)` either way.
        dropout: dropout on the outputs of every layer but the last, in training.
        bidirectional: add a second pass from the last timestep to the first.
        backend: `"auto"` (default) and `"fused"` run torch's fused kernel; `"loop"` runs the
            readable step above in a Python loop; `"compiled"` runs that loop through
            `torch.compile` (a compilation per sequence length, then cached). All three
            give the same numbers.
        device, dtype: where and how the parameters are created.

    Example:
        >>> rnn = RNN(input_size=8, hidden_size=16)
        >>> output, h_n = rnn(torch.randn(4, 10, 8))   # (B=4, T=10, 8)
        >>> output.shape, h_n.shape
        (torch.Size([4, 10, 16]), torch.Size([1, 4, 16]))
    """

    gates = 1
    state_size = 1
    linear_recurrence = True
    gate_names = ("h",)
    torch_twin = torch.nn.RNN  # with the same nonlinearity
    formula = ("a_t = W_hh h_{t-1} + W_xh x_t + b_h      (pre)", "h_t = {act}(a_t)")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        backend: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, backend, device, dtype)
        self.nonlinearity = nonlinearity

    def init_args(self) -> dict:
        return {**super().init_args(), "nonlinearity": self.nonlinearity}

    # The nonlinearity picks the step, the fused kernel and cuDNN's mode.
    @property
    def step(self):
        return rnn_tanh_step if self.nonlinearity == "tanh" else rnn_relu_step

    @property
    def fused_kernel(self):
        return _VF.rnn_tanh if self.nonlinearity == "tanh" else _VF.rnn_relu

    @property
    def cudnn_mode(self) -> str:
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"
