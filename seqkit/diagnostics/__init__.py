"""Instruments for seeing inside a recurrent network: what a textbook only describes.

- `trace`: the hidden state, pre-activation and gates at every timestep, as a table.
- `gradient_norms`: the norm of dL/dh_t for every timestep t, the quantity behind
  vanishing and exploding gradients under backpropagation through time.
- `gradients_at_init`: that curve for fresh RNN/LSTM/GRU layers side by side (what
  `seqkit gradients` draws); `exploding_demo`: plain SGD on an RNN whose gradients
  explode, with and without gradient clipping.
- `GradientNormLogger`: a Lightning callback that measures the same curve while a task
  trains, with the norm of every parameter's gradient.
- `plot_gradient_norms`, `plot_hidden_states`: the pictures (need matplotlib).

`trace` and `gradient_norms` run the module's readable loop path, whatever its `backend`:
only the loop has an h_t for every timestep to look at (the fused kernel keeps them inside
C++). They use the module's own parameters and leave it as they found it (mode, backend,
gradients).
"""

from __future__ import annotations

from seqkit.diagnostics.gradients import exploding_demo, gradient_norms, gradients_at_init
from seqkit.diagnostics.plots import plot_gradient_norms, plot_hidden_states
from seqkit.diagnostics.trace import DIRECTIONS, trace

__all__ = ["DIRECTIONS", "GradientNormLogger", "exploding_demo", "gradient_norms", "gradients_at_init",
           "plot_gradient_norms", "plot_hidden_states", "trace"]


def __getattr__(name: str):
    # GradientNormLogger is a Lightning Callback, and importing Lightning takes seconds that
    # `seqkit trace` and `seqkit gradients` should not pay: its module is imported on first use.
    if name == "GradientNormLogger":
        from seqkit.diagnostics.callbacks import GradientNormLogger

        return GradientNormLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
