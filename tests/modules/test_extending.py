"""The guide in docs/extending.md runs as written, and its cell has correct gradients."""

from __future__ import annotations

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
