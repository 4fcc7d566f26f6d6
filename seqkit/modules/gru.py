"""Gated recurrent unit, built the way any new cell is added to seqkit: a step function.

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh   (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  candidate state
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Adding a cell takes three things: the step (below), a class that says how many gate
blocks the weights stack and how many tensors the state holds, and (optionally) the
`torch._VF` kernel that computes the same thing fused. `docs/extending.md` walks
through it.
"""

from __future__ import annotations

import torch
from torch import Tensor, _VF
from torch.nn import functional as F

from seqkit.modules.recurrent import Recurrent, State


def gru_step(x_proj: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[State, dict[str, Tensor]]:
    """One timestep of the GRU.

    Args:
        x_proj: `W_ih x_t + b_ih` for the three blocks r, z, n, `(B, 3H)`, computed for all
            timesteps before the loop.
        state: `(h_{t-1},)`, `(B, H)`.
        weight_hh: `W_hh`, the blocks stacked r, z, n: `(3H, H)`.
        bias_hh: `b_hh`, `(3H,)`, or None. Not folded into `x_proj`: `b_hn` sits inside
            `r_t * (...)`.
    """
    (h,) = state
    h_proj = F.linear(h, weight_hh, bias_hh)        # W_hh h_{t-1} + b_hh, (B, 3H)
    x_r, x_z, x_n = x_proj.chunk(3, dim=1)
    h_r, h_z, h_n = h_proj.chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)                    # reset gate
    z = torch.sigmoid(x_z + h_z)                    # update gate
    n = torch.tanh(x_n + r * h_n)                   # candidate state
    h = n + z * (h - n)                             # = (1 - z) * n + z * h_{t-1}
    return (h,), {"pre": x_proj + h_proj, "r": r, "z": z, "n": n}


class GRU(Recurrent):
    """GRU, equal to `torch.nn.GRU` (same arguments, parameters and results).

    In torch's names the blocks are stacked r, z, n:

        weight_ih_l0 = [W_ir; W_iz; W_in]   (3H, input_size)
        weight_hh_l0 = [W_hr; W_hz; W_hn]   (3H, H)
        bias_ih_l0 = [b_ir; b_iz; b_in],  bias_hh_l0 = [b_hr; b_hz; b_hn]

    Arguments as for `seqkit.modules.LSTM` (batch_first=True by default); `forward`
    returns `(output, h_n)`.
    """

    gates = 3
    state_size = 1
    linear_recurrence = False
    step = staticmethod(gru_step)
    fused_kernel = staticmethod(_VF.gru)
    cudnn_mode = "GRU"
    torch_twin = torch.nn.GRU
    gate_names = ("r", "z", "n")
    formula = (
        "[r z .] = sigmoid(W_i x_t + b_i + W_h h_{t-1} + b_h)      (pre: both projections summed)",
        "n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))",
        "h_t = (1 - z) * n + z * h_{t-1}",
    )
