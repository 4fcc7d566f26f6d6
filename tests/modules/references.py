"""What the modules' tests check seqkit against: torch.nn's own modules, and the guide's own code.

Imported by the test files of this folder (pytest puts the folder on the path).
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.modules import GRU, LSTM, RNN

CASES = [("rnn", RNN, torch.nn.RNN, {}), ("rnn-relu", RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
         ("lstm", LSTM, torch.nn.LSTM, {}), ("gru", GRU, torch.nn.GRU, {})]
LENGTHS = torch.tensor([5, 2, 7, 1])  # unsorted on purpose: exercises sorted/unsorted indices
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def run_with_gradients(module, x, hx, packed):
    """Output (padded), final state tuple, and the gradients of a loss that reads all of them."""
    x = x.detach().requires_grad_(True)
    inp = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False) if packed else x
    output, state = module(inp, hx)
    if packed:
        output, _ = pad_packed_sequence(output, batch_first=True)
    state = state if isinstance(state, tuple) else (state,)
    weights = torch.linspace(-1, 1, output.numel()).reshape(output.shape)
    loss = (output * weights).sum() + sum((s * s).sum() for s in state)
    return [output, *state, *torch.autograd.grad(loss, [x, *module.parameters()])]


def assert_equal_to_torch_nn(name, cls, reference_cls, extra, backend, num_layers, bidirectional, with_hx, packed):
    """seqkit's `cls` on `backend` and torch.nn's `reference_cls` with the same state dict: output,
    final states, the input gradient and every parameter gradient within 1e-5."""
    torch.manual_seed(zlib.crc32(f"{name}{num_layers}{bidirectional}".encode()))
    reference = reference_cls(3, 5, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **extra)
    module = cls(3, 5, num_layers=num_layers, bidirectional=bidirectional, backend=backend, **extra)
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(4, 7, 3)
    hx = None
    if with_hx:
        shape = (num_layers * (2 if bidirectional else 1), 4, 5)
        hx = (torch.randn(shape), torch.randn(shape)) if cls is LSTM else torch.randn(shape)
    got = run_with_gradients(module, x, hx, packed)
    expected = run_with_gradients(reference, x, hx, packed)
    labels = ["output", "h_n", "c_n"][: 1 + module.state_size] + ["d input"] + [f"d {n}" for n, _ in reference.named_parameters()]
    for label, a, b in zip(labels, got, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=lambda m: f"{label}: {m}")


def guide_namespace(marker: str) -> dict:
    """Run the Python block of docs/extending.md that contains `marker`, as written; its names."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    code = next(block for block in blocks if marker in block)
    namespace: dict = {}
    exec(compile(code, str(GUIDE), "exec"), namespace)  # the guide's own code, asserts included
    return namespace
