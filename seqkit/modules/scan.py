"""The loop over time under every readable recurrent module: one direction of one layer, step by step.

`_scan` walks the timesteps (forwards or backwards, padded or packed) calling a cell's
step function; `scan_padded` is the same walk over one padded `(T, B, G*H)` tensor, the
unit the `compiled` backend compiles; `_RecurrentWeightGrad` gives W_hh its gradient as one
matmul over all steps instead of one per step. `seqkit.modules.recurrent.Recurrent` drives them.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

State = tuple[Tensor, ...]
Observer = Callable[[int, int, int, State, dict[str, Tensor]], None]
CellStep = Callable[..., tuple[State, dict[str, Tensor]]]


def _bind(observe: Observer, layer: int, direction: int) -> Callable[[int, State, dict[str, Tensor]], None]:
    return lambda t, state, internals: observe(layer, direction, t, state, internals)


def _scan(
    step: CellStep,
    steps: list[Tensor] | tuple[Tensor, ...],
    initial: State,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    reverse: bool,
    observe: Callable[[int, State, dict[str, Tensor]], None] | None = None,
    h_prev: list[Tensor] | None = None,
    alive: list[Tensor] | None = None,
) -> tuple[list[Tensor], State]:
    """Backpropagation through time starts here: one direction of one layer, step by step.

    Args:
        steps: the input projections, one `(B_t, G*H)` tensor per timestep, where B_t
            (the number of sequences still running at t) never grows with t; it is B at
            every t for a padded tensor, `batch_sizes[t]` for a PackedSequence.
        initial: the initial state, tuple of `(B, H)`.
        reverse: walk from the last timestep to the first.
        observe: called as `observe(t, state, internals)` after each step.
        h_prev: if a list, receives h_{t-1} as each step reads it, in the order of `steps`.
        alive: for a padded batch of sequences of their own lengths, one `(B, 1)` bool per
            timestep, true where the sequence has not ended: elsewhere the state is kept as it
            is (after a sequence's end forwards, before its start backwards), which gives
            the results of a PackedSequence with shapes that do not depend on the lengths.

    Returns:
        h_t for every timestep in time order (`(B_t, H)` each) and each sequence's final
        state (`(B, H)` each): for the forward direction, the state at its own last step.
    """
    outputs: list[Tensor] = []
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))

    def advance(t: int, state: State) -> State:
        """One step from `state` at t: h_t kept for the output (and the observer, and W_hh's gradient)."""
        if h_prev is not None:
            h_prev.append(state[0].detach())
        new, internals = step(steps[t], state, weight_hh, bias_hh)
        if alive is not None:  # a padded sequence that has ended (or not begun) keeps its state
            new = tuple(torch.where(alive[t], n, s) for n, s in zip(new, state))
        outputs.append(new[0])
        if observe is not None:
            observe(t, new, internals)
        return new

    if not reverse:
        state, finished = initial, []
        for t in order:
            running = steps[t].shape[0]
            if running < state[0].shape[0]:
                # Sequences running..B-1 ended at t-1: keep their state, stop updating it.
                finished.append(tuple(s[running:] for s in state))
                state = tuple(s[:running] for s in state)
            state = advance(t, state)
        if finished:
            # The pieces were cut from the end of the batch: reassemble them in batch order.
            finished.append(state)
            state = tuple(torch.cat([piece[k] for piece in reversed(finished)]) for k in range(len(state)))
        return outputs, state

    batch = initial[0].shape[0]
    state = None
    for t in order:
        running = steps[t].shape[0]
        if state is None:
            state = initial if running == batch else tuple(s[:running] for s in initial)
        elif running > state[0].shape[0]:
            # Read backwards, a shorter sequence starts at its own last step: from h_0.
            state = tuple(torch.cat([s, s0[s.shape[0] : running]]) for s, s0 in zip(state, initial))
        state = advance(t, state)
    outputs.reverse()
    if h_prev is not None:
        h_prev.reverse()
    return outputs, state


def scan_padded(
    step: CellStep, x_proj: Tensor, initial: State, weight_hh: Tensor, bias_hh: Tensor | None, reverse: bool,
    alive: Tensor | None = None, extras: dict[str, Tensor] | None = None,
) -> tuple[Tensor, State]:
    """`_scan` over a padded projection `(T, B, G*H)`: returns h_t for every step, `(T, B, H)`, and the final state.

    `alive`, if given, is `(T, B, 1)` (see `_scan`); `extras`, the cell's own parameters, go to
    every step by name. Only tensors go in and out, so that `torch.compile` can take the whole
    walk over time as one graph.
    """
    step = partial(step, **extras) if extras else step
    hs, final = _scan(step, x_proj.unbind(0), initial, weight_hh, bias_hh, reverse,
                      alive=None if alive is None else alive.unbind(0))
    return torch.stack(hs), final


def previous_states(outputs: Tensor, h0: Tensor, reverse: bool) -> Tensor:
    """h_{t-1} as step t read it, for every t of a padded scan: `(T, B, H)`, detached.

    Forwards, step t reads the output of step t-1 (h_0 at the first); backwards, that of
    step t+1 (h_0 at the last). For `_RecurrentWeightGrad` after a scan that did not fill
    its list as it went (a compiled one).
    """
    outputs, h0 = outputs.detach(), h0.detach().unsqueeze(0)
    return torch.cat([outputs[1:], h0]) if reverse else torch.cat([h0, outputs[:-1]])


class _RecurrentWeightGrad(torch.autograd.Function):
    """Identity on the input projection whose backward also returns W_hh's gradient.

    In a cell with `linear_recurrence`, step t computes `gates_t = x_proj_t + h_{t-1} W_hh^T`,
    so the gradient reaching `x_proj_t` *is* dL/dgates_t, and backpropagation through time
    gives `dL/dW_hh = sum_t (dL/dgates_t)^T h_{t-1}`. Autograd left to itself computes and
    accumulates that sum one (G*H, H) term per timestep; this function computes it as one
    matmul once every dL/dgates_t is known (x_proj's gradient is complete only after the
    whole backward loop). The loop uses W_hh detached so that nothing is counted twice.
    """

    @staticmethod
    def forward(ctx, x_proj: Tensor, weight_hh: Tensor, h_prev: list[Tensor]) -> Tensor:
        # Filled by the loop with h_{t-1} for every step, in x_proj's row order. Detached
        # values only: a graph tensor kept here would close a reference cycle through the
        # autograd graph that Python's garbage collector cannot see.
        ctx.h_prev = h_prev
        ctx.weight_dtype = weight_hh.dtype
        return x_proj.view_as(x_proj)

    @staticmethod
    @once_differentiable  # double backward through W_hh would need h_prev's graph: refuse it loudly
    def backward(ctx, grad: Tensor):
        h_prev = torch.cat(ctx.h_prev)  # (T*B, H) or (N, H): rows match grad's
        grad_rows = grad.reshape(h_prev.shape[0], -1)  # (T*B, G*H)
        # Under autocast the gates' gradient may be bfloat16 and h float32 (or the other way):
        # sum in the weight's own precision, which is also the dtype its gradient must have.
        dtype = ctx.weight_dtype
        return grad, grad_rows.t().to(dtype).mm(h_prev.to(dtype)), None
