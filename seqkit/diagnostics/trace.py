"""`trace`: the hidden state, pre-activation and gates of a recurrent module at every timestep, as a table.

It runs the module's readable loop path through `Recurrent.run_observed`, whatever its
`backend` (only the loop has an h_t for every timestep to look at), with the module's own
parameters, and leaves the module as it found it (mode, backend).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from seqkit.modules.recurrent import Recurrent, State

DIRECTIONS = ("forward", "reverse")


def _as_input(module: Recurrent, x: Tensor | list) -> tuple[Tensor, bool]:
    """`x` as a batched tensor in the module's layout and dtype, and whether it was unbatched."""
    if not isinstance(module, Recurrent):
        raise ValueError(f"expected a seqkit recurrent module (RNN, LSTM, GRU, ...), got {type(module).__name__}")
    weight = module.weight_ih_l0
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x, dtype=weight.dtype, device=weight.device)
        if x.dim() == 1:  # a plain list of numbers: one feature per timestep
            x = x.unsqueeze(-1)
    module.check_input(x)
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(0 if module.batch_first else 1)
    return x, unbatched


@contextmanager
def _loop_in_eval(module: Recurrent) -> Iterator[None]:
    """Run `module` on its loop path without dropout, then restore backend and mode."""
    backend, training = module.backend, module.training
    module.backend = "loop"
    module.train(False)
    try:
        yield
    finally:
        module.backend = backend
        module.train(training)


def _run_observed(module: Recurrent, x: Tensor, hx, observe) -> tuple[Tensor, State]:
    return module.run_observed(x, hx, observe)


def trace(module: Recurrent, x: Tensor | list, hx: Tensor | State | None = None) -> pd.DataFrame:
    """Every timestep of every layer and direction, as a table a student can check by hand.

    Args:
        module: a seqkit `RNN`, `LSTM`, `GRU` (or a cell built on `Recurrent`).
        x: one sequence `(T, input_size)` or a batch in the module's layout; a list of
            numbers is one sequence with one feature per step.
        hx: the initial state, as for `forward` (zeros if None).

    Returns:
        One row per (sample, layer, direction, t), sorted in that order, with columns
        `sample, layer, direction, t, x, pre, h` and the cell's own: `i, f, g, o, c` for
        the LSTM, `r, z, n` for the GRU. Each value column holds a NumPy vector:
        `x` is the layer's input x_t, `pre` the pre-activation (for gated cells, all
        gate pre-activations stacked as in `weight_hh`), `h` the state h_t. For the last
        layer, the rows of the final timestep (t = T-1 forward, t = 0 reverse) hold
        exactly the `h_n` that `forward` returns. Runs without dropout.
    """
    x, unbatched = _as_input(module, x)
    if unbatched and hx is not None:
        hx = tuple(s.unsqueeze(1) for s in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(1)
    records: list[dict] = []

    def observe(layer: int, direction: int, t: int, state: State, internals: dict[str, Tensor]) -> None:
        values = {"h": state[0]}
        if len(state) > 1:
            values["c"] = state[1]
        values.update(internals)
        arrays = {k: v.detach().cpu().numpy() for k, v in values.items()}
        for sample in range(state[0].shape[0]):
            records.append({"sample": sample, "layer": layer, "direction": DIRECTIONS[direction], "t": t,
                            **{k: a[sample].copy() for k, a in arrays.items()}})

    with torch.no_grad(), _loop_in_eval(module):
        _run_observed(module, x, hx, observe)

    table = pd.DataFrame.from_records(records)
    # x_t of layer 0 is the input; of layer k, the h_t of layer k-1, directions concatenated.
    inputs = x.detach().cpu().numpy()
    if not module.batch_first:
        inputs = inputs.transpose(1, 0, 2)
    h_by_key = {(r["sample"], r["layer"], r["direction"], r["t"]): r["h"] for r in records}
    table.insert(4, "x", [
        inputs[s, t].copy() if layer == 0 else
        np.concatenate([h_by_key[(s, layer - 1, d, t)] for d in DIRECTIONS[: module.num_directions]])
        for s, layer, t in zip(table["sample"], table["layer"], table["t"])
    ])
    order = ["sample", "layer", "direction", "t", "x", "pre", "h"]
    order += [c for c in table.columns if c not in order]
    return table[order].sort_values(["sample", "layer", "direction", "t"], kind="stable").reset_index(drop=True)
