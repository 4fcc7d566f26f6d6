"""The `compiled` backend: a module's readable loop over time (`scan.scan_padded`) through `torch.compile`.

The compiler unrolls the loop over time and fuses each step's element-wise work, so the
step functions a student reads (and a cell of one's own) are the code that runs. What is
compiled is the walk over time of one layer and direction; around it the module runs as
the `loop` backend does (`Recurrent._forward_loop`): the input projection of all steps in
one matmul, dropout between layers, and W_hh's gradient as one matmul over all steps
(`scan._RecurrentWeightGrad`, which a compiled graph could not hold). Layers of the same
shapes share one graph. Each sequence length compiles once (seconds to a few minutes on a
CPU) and then runs from the cache. A PackedSequence would fix its `batch_sizes` in the graph, a compilation per batch
of texts: it runs padded instead, to a length rounded up to `PACKED_BUCKET` steps, each
sequence keeping its state past its end (as `Recurrent.forward_padded`), then is packed
again. Where torch.compile cannot run, the module warns once and runs the loop.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqkit.modules.scan import scan_padded

State = tuple[Tensor, ...]

COMPILE_OPTIONS: dict = {}
"""Keyword arguments for `torch.compile` beside `fullgraph=True` (e.g. `{"mode":
"max-autotune-no-cudagraphs"}`; the tests use `{"backend": "aot_eager"}`)."""

RECOMPILE_LIMIT = 64
"""The compiled graphs kept (lengths, modes, modules) before torch.compile refuses more."""

PACKED_BUCKET = 8
"""A PackedSequence runs padded to a multiple of this many steps, so that batches of texts
of many lengths share a few compiled graphs."""

ATTRIBUTE = "_compiled"  # where a module keeps its compiled scan (False once compiling failed)


def forward(module, input: Tensor, batch_sizes: Tensor | None, state: State) -> tuple[Tensor, State]:
    """`module._forward_loop(input, batch_sizes, state)`, its loops over time compiled."""
    run = _compiled_scan(module)
    if run is None:
        return module._forward_loop(input, batch_sizes, state)
    lengths = None
    if batch_sizes is not None:
        total = -(-len(batch_sizes) // PACKED_BUCKET) * PACKED_BUCKET
        input, lengths = pad_packed_sequence(PackedSequence(input, batch_sizes), module.batch_first, total_length=total)
    try:
        # One graph per sequence length, mode (training, no_grad), direction and module: more
        # than the compiler's default of 8 for one function, a hard failure under fullgraph.
        with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
            output, state = module._forward_loop(input, None, state, lengths=lengths, scan=run)
    except torch._dynamo.exc.TorchDynamoException as error:  # the compiler failed: the loop, from the start
        _give_up(module, error)
        output, state = module._forward_loop(input, None, state, lengths=lengths)
    if lengths is not None:
        output = pack_padded_sequence(output, lengths, module.batch_first).data
    return output, state


def _compiled_scan(module) -> Callable | None:
    """`torch.compile(scan_padded with module.step, fullgraph=True)`, made once; None where it cannot run."""
    run = module.__dict__.get(ATTRIBUTE)
    if run is None:
        if not torch._dynamo.is_dynamo_supported():
            _give_up(module, RuntimeError(f"torch.compile does not support this Python (torch {torch.__version__})"))
            return None
        run = module.__dict__[ATTRIBUTE] = torch.compile(partial(scan_padded, module.step), fullgraph=True, **COMPILE_OPTIONS)
    return run or None


def _give_up(module, error: Exception) -> None:
    """Warn once and run the readable loop from now on."""
    module.__dict__[ATTRIBUTE] = False
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    warnings.warn(f"{type(module).__name__}(backend='compiled'): torch.compile cannot run here ({reason}); "
                  "running the readable loop instead, with the same results", RuntimeWarning, stacklevel=5)
