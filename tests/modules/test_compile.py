"""torch.compile(fullgraph=True) takes every module on every backend, and the models, with eager's results.

Under the compiler the fused kernel gives way to the readable loop over the same parameters
(the compiler traces the step functions), and the compiled backend's own compilation gives
way to the outer one, so every backend compiles to the same graph.
Inductor compiles the LSTM, as a user would; the other cases use the `aot_eager` backend,
which checks the same full-graph capture and autograd without generating C++ for each.
"""

from __future__ import annotations

import pytest
import torch

from seqkit.models import RecurrentClassifier, RecurrentForecaster, RecurrentLM, RecurrentReadout, SeasonalNaive
from seqkit.modules import GRU, LSTM, RNN, compiled

pytestmark = pytest.mark.slow


def _same_forward_and_backward(module: torch.nn.Module, backend: str, *inputs: torch.Tensor) -> None:
    """Compiled and eager give the same outputs and the same gradient for every parameter."""
    torch._dynamo.reset()
    compiled = torch.compile(module, fullgraph=True, backend=backend)
    results = []
    for run in (module, compiled):
        module.zero_grad()
        output = run(*inputs)
        first = output[0] if isinstance(output, tuple) else output
        (first.square().mean() + sum(s.sum() for s in torch.utils._pytree.tree_leaves(output[1:]))).backward()
        results.append((first.detach().clone(), {n: p.grad.clone() for n, p in module.named_parameters()}))
    (eager, eager_grads), (fast, fast_grads) = results
    torch.testing.assert_close(fast, eager, atol=1e-5, rtol=1e-5)
    for name in eager_grads:
        torch.testing.assert_close(fast_grads[name], eager_grads[name], atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("backend", ["loop", "fused"])
def test_the_lstm_compiles_with_inductor_on_both_backends(backend):
    torch.manual_seed(0)
    lstm = LSTM(4, 8, num_layers=2, bidirectional=True, backend=backend)
    _same_forward_and_backward(lstm, "inductor", torch.randn(3, 6, 4))


@pytest.mark.parametrize("cell", [RNN, GRU, LSTM])
@pytest.mark.parametrize("backend", ["loop", "fused", "compiled"])
def test_every_cell_compiles_as_one_graph(cell, backend, monkeypatch):
    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": "aot_eager"})  # the eager side's own compilation
    torch.manual_seed(0)
    module = cell(3, 5, num_layers=2, backend=backend)
    x, h0 = torch.randn(2, 7, 3), torch.randn(2, 2, 5)
    _same_forward_and_backward(module, "aot_eager", x, (h0, torch.randn(2, 2, 5)) if cell is LSTM else h0)


def test_the_models_compile_as_one_graph():
    torch.manual_seed(0)
    lm = RecurrentLM(30, LSTM(8, 8), dropout=0.0, tie_weights=True)
    _same_forward_and_backward(lm, "aot_eager", torch.randint(0, 30, (2, 9)))
    classifier = RecurrentClassifier(30, LSTM(8, 6, bidirectional=True), num_classes=3, dropout=0.0)
    _same_forward_and_backward(classifier, "aot_eager", torch.randint(0, 30, (2, 9)))  # whole texts, no packing
    _same_forward_and_backward(RecurrentReadout(RNN(2, 8), n_outputs=1, regression=True), "aot_eager", torch.randn(3, 20, 2))
    forecaster = RecurrentForecaster(GRU(2, 8), horizon=4, n_targets=1, future_size=1, n_quantiles=3, revin=True,
                                     baseline=SeasonalNaive(3))
    _same_forward_and_backward(forecaster, "aot_eager", torch.randn(2, 12, 2), torch.randn(2, 4, 1))


@pytest.mark.parametrize("cell", [RNN, GRU, LSTM])
@pytest.mark.parametrize("backend", ["fused", "compiled"])
def test_torch_jit_trace_takes_the_fused_backend(cell, backend, monkeypatch):
    """TorchScript is deprecated upstream, but tracing the fused backend works (the ONNX export relies on it).

    The compiled backend, traced, runs the kernel too: one op for any length, not a loop unrolled
    over the example's."""
    import warnings

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": "aot_eager"})  # for the untraced call below
    torch.manual_seed(0)
    module = cell(3, 5, num_layers=2, bidirectional=True, backend=backend).eval()
    x = torch.randn(2, 7, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, (x,))
    other = torch.randn(4, 9, 3)  # another batch and length than the traced example
    torch.testing.assert_close(traced(other)[0], module(other)[0])
