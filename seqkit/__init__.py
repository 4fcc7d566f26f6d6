"""seqkit: readable recurrent networks and Lightning recipes for sequence modeling.

Importing `seqkit` itself is cheap (no torch): the `seqkit` command answers `--help`
and `--version` at once. The parts live in submodules:

- `seqkit.modules`: `RNN`, `LSTM`, `GRU` (equal to `torch.nn`, with a readable loop
  path and the fused kernel), and output heads.
- `seqkit.diagnostics`: hidden-state traces and per-timestep gradient norms.
"""

__version__ = "0.1.0"
