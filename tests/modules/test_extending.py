"""The guide in docs/extending.md runs as written, and its cell has correct gradients."""

from __future__ import annotations

import pytest
import torch

from references import guide_namespace


def test_guide_example_runs_and_matches_the_formula():
    ns = guide_namespace("class MGU")
    torch.manual_seed(0)
    mgu = ns["MGU"](2, 3, backend="loop")
    x = torch.randn(1, 5, 2)
    output, _ = mgu(x)
    # the formula written out directly
    W_f, W_n = mgu.weight_ih_l0.chunk(2)
    U_f, U_n = mgu.weight_hh_l0.chunk(2)
    b_f, b_n = (mgu.bias_ih_l0 + mgu.bias_hh_l0).chunk(2)
    h = torch.zeros(3)
    for t in range(5):
        f = torch.sigmoid(W_f @ x[0, t] + U_f @ h + b_f)
        n = torch.tanh(W_n @ x[0, t] + U_n @ (f * h) + b_n)
        h = (1 - f) * h + f * n
        torch.testing.assert_close(output[0, t], h, atol=1e-6, rtol=0)


def test_guide_cell_gradcheck():
    ns = guide_namespace("class MGU")
    torch.manual_seed(1)
    mgu = ns["MGU"](2, 3, bidirectional=True, backend="loop", dtype=torch.float64)
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in mgu.named_parameters()]

    def run(x, *weights):
        output, h = torch.func.functional_call(mgu, dict(zip(names, weights)), (x,))
        return output.sum() + h.square().sum()

    assert torch.autograd.gradcheck(run, (x, *mgu.parameters()))


def test_the_guides_indrnn_owns_a_vector_weight_and_follows_its_formula():
    ns = guide_namespace("class IndRNN")
    torch.manual_seed(2)
    cell = ns["IndRNN"](2, 3)
    assert [name for name, _ in cell.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert cell.weight_hh_l0.shape == (3,)
    x = torch.randn(4, 5, 2)
    output, _ = cell(x)
    h = torch.zeros(4, 3)
    for t in range(5):
        h = torch.relu(x[:, t] @ cell.weight_ih_l0.T + cell.bias_ih_l0 + cell.weight_hh_l0 * h + cell.bias_hh_l0)
        torch.testing.assert_close(output[:, t], h)


def test_every_python_block_of_the_guide_runs_as_written(monkeypatch):
    """Each block on its own, asserts included (compilation with torch's quick aot_eager backend)."""
    import re

    from references import GUIDE
    from seqkit.modules import compiled

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": "aot_eager"})
    torch._dynamo.reset()
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        if "class MyCell" in block:  # the template, with `...` for the values
            continue
        exec(compile(block, str(GUIDE), "exec"), {})


def _peephole_step(x_proj, state, weight_hh, bias_hh, peephole):
    h, c = state
    gates = torch.addmm(x_proj, h, weight_hh.t())
    i, f, g, o = gates.chunk(4, dim=1)
    p_i, p_f, p_o = peephole.chunk(3)
    i = torch.sigmoid(i + p_i * c)                   # the gates look at the cell (Gers and Schmidhuber 2000)
    f = torch.sigmoid(f + p_f * c)
    c = f * c + i * torch.tanh(g)
    o = torch.sigmoid(o + p_o * c)
    return (o * torch.tanh(c), c), {"pre": gates, "i": i, "f": f, "o": o}


def _peephole_class():
    from seqkit.modules import Recurrent

    class PeepholeLSTM(Recurrent):
        gates = 4
        state_size = 2
        step = staticmethod(_peephole_step)

        def parameter_shapes(self, layer_input):
            return {**super().parameter_shapes(layer_input), "peephole": (3 * self.hidden_size,)}

    return PeepholeLSTM


@pytest.mark.parametrize("backend", ["loop", "compiled"])
def test_parameters_of_a_cells_own_reach_its_step_by_name(backend, monkeypatch):
    from seqkit.modules import compiled

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": "aot_eager"})
    torch.manual_seed(3)
    cell = _peephole_class()(2, 3, num_layers=2, bidirectional=True, backend=backend)
    names = [name for name, _ in cell.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "peephole_l0"]
    assert cell.peephole_l1_reverse.shape == (9,)
    x = torch.randn(4, 5, 2)
    output, (h_n, _) = cell(x)
    # layer 0, forward, written out
    w_ih, w_hh, b = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0 + cell.bias_hh_l0
    p_i, p_f, p_o = cell.peephole_l0.chunk(3)
    h, c = torch.zeros(4, 3), torch.zeros(4, 3)
    for t in range(5):
        i, f, g, o = (x[:, t] @ w_ih.T + h @ w_hh.T + b).chunk(4, dim=1)
        i, f = torch.sigmoid(i + p_i * c), torch.sigmoid(f + p_f * c)
        c = f * c + i * torch.tanh(g)
        h = torch.sigmoid(o + p_o * c) * torch.tanh(c)
    torch.testing.assert_close(h_n[0], h, atol=1e-5, rtol=1e-5)
    output.sum().backward()
    assert cell.peephole_l0.grad is not None and cell.peephole_l0.grad.abs().sum() > 0
