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
