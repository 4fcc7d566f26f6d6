"""Long short-term memory: a cell state c_t that gates decide to keep, forget or write.

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
    g_t = tanh   (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate cell
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

The additive update of c_t is why an LSTM remembers: where f_t is near 1, the gradient
flows back through c_t almost unchanged, instead of being squashed by tanh' and W_hh at
every step as in the vanilla RNN. Everything around the step lives in `recurrent.py`.
"""

from __future__ import annotations

import torch
from torch import Tensor, _VF

from seqkit.modules.recurrent import Recurrent, State


def lstm_step(x_proj: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[State, dict[str, Tensor]]:
    """One timestep of the LSTM.

    Args:
        x_proj: `W_ih x_t + b_ih + b_hh` for the four gates, `(B, 4H)`, computed for all
            timesteps before the loop.
        state: `(h_{t-1}, c_{t-1})`, each `(B, H)`.
        weight_hh: `W_hh`, the four recurrent blocks stacked i, f, g, o: `(4H, H)`.
        bias_hh: None (folded into `x_proj`).
    """
    h, c = state
    gates = torch.addmm(x_proj, h, weight_hh.t())  # all four pre-activations in one matmul, (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)             # (B, H) each
    i = torch.sigmoid(i)                           # input gate: how much of g to write
    f = torch.sigmoid(f)                           # forget gate: how much of c_{t-1} to keep
    g = torch.tanh(g)                              # candidate values
    o = torch.sigmoid(o)                           # output gate: how much of the cell to show
    c = f * c + i * g                              # c_t
    h = o * torch.tanh(c)                          # h_t
    return (h, c), {"pre": gates, "i": i, "f": f, "g": g, "o": o}


class LSTM(Recurrent):
    """LSTM, equal to `torch.nn.LSTM` (same arguments, parameters and results).

    For each layer and timestep (see the module docstring for the gate equations):

        c_t = f_t * c_{t-1} + i_t * g_t,    h_t = o_t * tanh(c_t)

    In torch's names, the four gates are stacked in the order i, f, g, o:

        weight_ih_l0 = [W_ii; W_if; W_ig; W_io]   (4H, input_size)
        weight_hh_l0 = [W_hi; W_hf; W_hg; W_ho]   (4H, H)
        bias_ih_l0 + bias_hh_l0 = the gate biases b_i, b_f, b_g, b_o   (4H,)

    Args:
        input_size: features of x_t.
        hidden_size: H, units in h_t and c_t.
        num_layers: stacked layers.
        bias: learn the gate biases.
        batch_first: input and output are `(B, T, features)`. **True by default in
            seqkit** (torch.nn's default is False); state tensors are `(layers, B, H)` either way.
        dropout: dropout on the outputs of every layer but the last, in training.
        bidirectional: add a second pass from the last timestep to the first.
        backend: `"auto"` (default) and `"fused"` run torch's fused kernel; `"loop"` runs the
            readable step above in a Python loop; `"compiled"` runs that loop through
            `torch.compile` (a compilation per sequence length, then cached). All three
            give the same numbers.
        device, dtype: where and how the parameters are created.

    `forward(x, (h_0, c_0))` returns `(output, (h_n, c_n))`. torch.nn.LSTM's `proj_size`
    is not supported.
    """

    gates = 4
    state_size = 2
    linear_recurrence = True
    step = staticmethod(lstm_step)
    fused_kernel = staticmethod(_VF.lstm)
    cudnn_mode = "LSTM"
    torch_twin = torch.nn.LSTM
    gate_names = ("i", "f", "g", "o")
    formula = (
        "[i f g o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      (pre)",
        "i, f, o = sigmoid(.)   g = tanh(.)",
        "c_t = f * c_{t-1} + i * g        h_t = o * tanh(c_t)",
    )
