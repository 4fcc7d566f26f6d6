"""Gradients through time: the norm of dL/dh_t at every timestep, behind vanishing and exploding gradients.

- `gradient_norms`: that curve for one module and input;
- `gradients_at_init`: the curve for fresh RNN/LSTM/GRU layers side by side (what `seqkit
  gradients` draws); `exploding_demo`: plain SGD on an RNN whose gradients explode, with and
  without clipping;
- `hidden_gradient_norms`: the curve of a real training step, replayed (for the callback).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from seqkit.diagnostics.trace import DIRECTIONS, _as_input, _loop_in_eval, _run_observed
from seqkit.modules.recurrent import Recurrent, State


def gradient_norms(
    module: Recurrent,
    x: Tensor | list,
    loss_fn: Callable[[Tensor], Tensor],
    hx: Tensor | State | None = None,
) -> pd.DataFrame:
    """The norm of dL/dh_t at every timestep: how much the loss still hears from step t.

    Under backpropagation through time, the gradient reaching h_t is multiplied by the
    Jacobian dh_{t+1}/dh_t once per step it travels back. For a tanh RNN that Jacobian is
    `diag(1 - h_{t+1}^2) W_hh`: if its norm stays below 1 the gradient vanishes
    geometrically, above 1 it explodes. An LSTM's cell state offers a path whose
    Jacobian is just the forget gate, so its curve stays flatter.

    Args:
        module: a seqkit recurrent module.
        x: input as for `trace`.
        loss_fn: maps the module's output `(B, T, D*H)` (batch-first layout, or the
            module's layout) to a scalar loss, e.g. `lambda out: out[:, -1].sum()` for a
            loss that only reads the last step.
        hx: the initial state, as for `forward`.

    Returns:
        One row per (layer, direction, t) with `grad_norm`, the Frobenius norm over batch
        and units of the total derivative dL/dh_t (through the output at t and through
        every later step), and for the LSTM `cell_grad_norm`, the same for c_t. The
        module's parameter gradients are not touched.
    """
    x, unbatched = _as_input(module, x)
    if unbatched and hx is not None:
        hx = tuple(s.unsqueeze(1) for s in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(1)
    keys: list[tuple[int, str, int]] = []
    states: list[State] = []

    def observe(layer: int, direction: int, t: int, state: State, internals: dict[str, Tensor]) -> None:
        keys.append((layer, DIRECTIONS[direction], t))
        states.append(state)

    with torch.enable_grad(), _loop_in_eval(module):
        # The states must be part of a graph even when nothing in the module is trainable.
        x = x.detach().requires_grad_(True)
        output, _ = _run_observed(module, x, hx, observe)
        loss = loss_fn(output.squeeze(0 if module.batch_first else 1) if unbatched else output)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise ValueError("loss_fn must return a scalar tensor (for example out[:, -1].sum())")
        flat = [s for state in states for s in state]
        grads = torch.autograd.grad(loss, flat, allow_unused=True)

    per_state = len(states[0])
    rows = []
    for i, (layer, direction, t) in enumerate(keys):
        row = {"layer": layer, "direction": direction, "t": t}
        for k, column in enumerate(("grad_norm", "cell_grad_norm")[:per_state]):
            grad = grads[i * per_state + k]
            row[column] = 0.0 if grad is None else grad.norm().item()
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["layer", "direction", "t"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------- fresh cells side by side


def _scale_to_spectral_radius(weight: Tensor, radius: float) -> None:
    """Rescale a square matrix in place so that its largest |eigenvalue| is `radius`."""
    with torch.no_grad():
        weight.mul_(radius / torch.linalg.eigvals(weight).abs().max())


def gradients_at_init(
    cells: Sequence[str] = ("rnn", "lstm"),
    length: int = 100,
    hidden_size: int = 64,
    input_size: int = 8,
    batch: int = 32,
    seed: int = 0,
    radius: float | None = None,
    forget_bias: float = 0.0,
) -> dict[str, np.ndarray]:
    """|dL/dh_t| at every t for fresh one-layer cells, with a loss on the last output only.

    The loss `L = sum of h_{T-1}` reads nothing but the last step, so dL/dh_t is the signal
    from the end that still reaches step t after backpropagation through time has
    multiplied it by one Jacobian dh_{t+1}/dh_t per step. Every cell reads the same input
    x ~ N(0, 1) and starts from torch's initialisation drawn after `torch.manual_seed(seed)`
    (the caller's random state is restored afterwards). Runs in float64 so that norms below
    float32's 1e-38 do not underflow to 0.

    Args:
        cells: registered cells, by short name or class path (`seqkit.modules.cells()`; "rnn" is the tanh RNN).
        length, hidden_size, input_size, batch: the sizes of the input `(batch, length,
            input_size)` and of h_t.
        radius: if set, the RNN's `weight_hh_l0` is first rescaled to this spectral radius.
            Above 1 the curve can grow backwards in time instead of fading: exploding gradients.
        forget_bias: added to the forget-gate bias (the block a cell's `gate_names` calls "f":
            the LSTM's b_if). torch's initialisation puts the forget gate near sigmoid(0) = 0.5, so at first the cell path halves the
            gradient at every step too; 1.0 (Gers et al. 2000, Jozefowicz et al. 2015) keeps
            far more of it.

    Returns:
        `{label: norms}` with `norms` of shape `(length,)`: the Frobenius norm over the batch
        and the units of dL/dh_t for t = 0 .. length-1. A label is the cell's name, followed
        by the radius or forget bias when one was set, e.g. `"rnn (radius 1.5)"`.
    """
    from seqkit.modules import RNN, cell_class

    classes = {cell: cell_class(cell) for cell in cells}  # every name checked before any work
    curves = {}
    with torch.random.fork_rng(devices=[]):
        x = torch.randn(batch, length, input_size, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed))
        for cell in cells:
            torch.manual_seed(seed)
            module = classes[cell](input_size, hidden_size).double()
            label = cell
            if isinstance(module, RNN) and radius is not None:
                _scale_to_spectral_radius(module.weight_hh_l0, radius)
                label += f" (radius {radius:g})"
            gate_names = list(module.gate_names or ())
            if forget_bias and "f" in gate_names and module.bias:
                block = gate_names.index("f")  # the LSTM's f block of [i f g o]
                with torch.no_grad():
                    module.bias_ih_l0[block * hidden_size : (block + 1) * hidden_size] += forget_bias
                label += f" (forget bias {forget_bias:g})"
            norms = gradient_norms(module, x, lambda out: out[:, -1].sum())
            curves[label] = norms.grad_norm.to_numpy()
    return curves


def exploding_demo(
    radius: float = 1.5,
    length: int = 50,
    steps: int = 100,
    lr: float = 0.05,
    clip: float | None = None,
    seed: int = 0,
    hidden_size: int = 64,
) -> list[float]:
    """Plain SGD on a tanh RNN whose recurrent matrix starts at spectral radius `radius`.

    The task: read `length` numbers x_t ~ N(0, 1) and predict their sum (divided by
    sqrt(length), so the target has unit variance) from the last hidden state, mean squared
    error, a fresh batch of 32 sequences at every step. Above radius 1, with enough units,
    the tanh network is chaotic: a change of h_t grows along the sequence, and so do the
    gradients that backpropagation through time carries back. One SGD step then throws the
    weights far away and the loss overflows to inf and NaN. Clipping the gradient's norm to
    `clip` (as pytorch/examples' word_language_model does) bounds every step by `lr * clip`,
    and the same run trains.

    Args:
        radius: the spectral radius `weight_hh_l0` is rescaled to before training.
        length: timesteps per sequence. steps: SGD steps. lr: the learning rate.
        clip: the maximum gradient norm (`torch.nn.utils.clip_grad_norm_`), None for none.
        seed: the seed of the weights and the data (the caller's random state is restored).
        hidden_size: units in h_t.

    Returns:
        The loss before each step's update, `steps` values. Once one is inf or NaN the
        weights are NaN, so the remaining steps are not run and read NaN.
    """
    from seqkit.modules import RNN

    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        rnn, head = RNN(1, hidden_size), nn.Linear(hidden_size, 1)
        _scale_to_spectral_radius(rnn.weight_hh_l0, radius)
        parameters = [*rnn.parameters(), *head.parameters()]
        optimizer = torch.optim.SGD(parameters, lr=lr)
        data = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            x = torch.randn(32, length, 1, generator=data)                 # (B, T, 1)
            target = x.sum(dim=1) / math.sqrt(length)                      # (B, 1), unit variance
            output, _ = rnn(x)                                             # (B, T, H)
            loss = nn.functional.mse_loss(head(output[:, -1]), target)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                break
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()
    return losses + [math.nan] * (steps - len(losses))


# ---------------------------------------------------------------------- while a task trains


def _detached(value):
    """A tensor, PackedSequence, state tuple or None, cut from the graph."""
    if value is None:
        return None
    if isinstance(value, PackedSequence):
        return value._replace(data=value.data.detach())
    if isinstance(value, (tuple, list)):
        return tuple(v.detach() for v in value)
    return value.detach()


def hidden_gradient_norms(module: Recurrent, x: Tensor | PackedSequence, hx, output_grad: Tensor) -> np.ndarray:
    """Mean over the batch of |dL/dh_t|, top layer, forward direction, by replaying the module.

    The module's output only receives the part of dL/dh_t that comes from step t's own
    consumer (the head); the part that travels back through h_{t+1}, h_{t+2}, ... stays
    inside the module, on h_t tensors the fused kernel never shows. So the module is run
    again on its loop path from the same input and initial state, and the gradient its
    output received is pushed back through that run (a vector-Jacobian product): the total
    derivative at every h_t. The replay has no dropout: exact for one layer, an
    approximation when dropout between layers changed the top layer's input in the real
    step. For a PackedSequence, the mean at step t is over the sequences still running.
    """
    packed = isinstance(x, PackedSequence)
    data, batch_sizes = (x.data, x.batch_sizes) if packed else (x, None)
    top, states = module.num_layers - 1, {}

    def observe(layer: int, direction: int, t: int, state: State, internals: dict[str, Tensor]) -> None:
        if layer == top and direction == 0:
            states[t] = state[0]                                           # (B_t, H)

    with torch.enable_grad(), _loop_in_eval(module):
        data = data.detach().requires_grad_(True)
        # the packed data is sorted by length; hx follows the user's batch order
        output, _ = module.run_observed(data, hx, observe, batch_sizes, x.sorted_indices if packed else None)
        steps = sorted(states)
        grads = torch.autograd.grad(output, [states[t] for t in steps], grad_outputs=output_grad, allow_unused=True)
    norms = [torch.zeros((), dtype=output.dtype) if g is None else g.norm(dim=-1).mean().cpu() for g in grads]
    return torch.stack(norms).numpy()
