"""trace and gradient_norms: what they show agrees with forward and with the formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqkit.diagnostics import gradient_norms, trace
from seqkit.modules import GRU, LSTM, RNN


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_last_rows_equal_forward(cls):
    torch.manual_seed(0)
    module = cls(2, 3, num_layers=2, bidirectional=True)  # fused backend: trace still runs the loop
    x = torch.randn(2, 5, 2)
    table = trace(module, x)
    assert len(table) == 2 * 2 * 2 * 5
    assert module.backend == "fused" and module.training  # left as found
    _, state = module(x)
    h_n = state[0] if cls is LSTM else state
    for layer in range(2):
        for direction, index, t in (("forward", 2 * layer, 4), ("reverse", 2 * layer + 1, 0)):
            for sample in range(2):
                row = table[(table.layer == layer) & (table.direction == direction) & (table.t == t) & (table["sample"] == sample)]
                np.testing.assert_allclose(row.h.iloc[0], h_n[index, sample].detach().numpy(), atol=1e-6)


def test_lstm_rows_obey_the_cell_equations():
    torch.manual_seed(1)
    table = trace(LSTM(1, 2), [1.0, 0.5, -1.0])
    assert list(table.columns) == ["sample", "layer", "direction", "t", "x", "pre", "h", "c", "i", "f", "g", "o"]
    c_prev = np.zeros(2)
    for row in table.itertuples():
        np.testing.assert_allclose(row.c, row.f * c_prev + row.i * row.g, atol=1e-6)
        np.testing.assert_allclose(row.h, row.o * np.tanh(row.c), atol=1e-6)
        pre_i, pre_f, pre_g, pre_o = np.split(row.pre, 4)
        np.testing.assert_allclose(row.i, 1 / (1 + np.exp(-pre_i)), atol=1e-6)
        np.testing.assert_allclose(row.g, np.tanh(pre_g), atol=1e-6)
        c_prev = row.c
    np.testing.assert_allclose(np.concatenate(table.x.tolist()), [1.0, 0.5, -1.0])


def test_rnn_trace_by_hand():
    """The textbook exercise: 1-D input, 2-D hidden state, three timesteps."""
    module = RNN(1, 2)
    module.load_state_dict({
        "weight_ih_l0": torch.tensor([[0.5], [-1.0]]), "weight_hh_l0": torch.tensor([[0.1, 0.2], [0.3, 0.4]]),
        "bias_ih_l0": torch.tensor([0.0, 0.1]), "bias_hh_l0": torch.tensor([0.0, 0.0]),
    })
    table = trace(module, [1.0, 0.5, -1.0])
    h = np.zeros(2)
    for row, x in zip(table.itertuples(), [1.0, 0.5, -1.0]):
        a = np.array([[0.1, 0.2], [0.3, 0.4]]) @ h + np.array([0.5, -1.0]) * x + np.array([0.0, 0.1])
        h = np.tanh(a)
        np.testing.assert_allclose(row.pre, a, atol=1e-6)
        np.testing.assert_allclose(row.h, h, atol=1e-6)
    np.testing.assert_allclose(table.h.iloc[0], [0.46211716, -0.71629786], atol=1e-6)


def test_gradient_norms_follow_the_bptt_recursion():
    """For a 1-unit tanh RNN, dL/dh_t = dL/dh_{t+1} * w_hh * (1 - h_{t+1}^2) (loss on the last step)."""
    module = RNN(1, 1)
    module.load_state_dict({"weight_ih_l0": torch.tensor([[0.8]]), "weight_hh_l0": torch.tensor([[0.9]]),
                            "bias_ih_l0": torch.tensor([0.1]), "bias_hh_l0": torch.tensor([0.0])})
    x = [0.5, -0.3, 0.8, 0.1, -0.6, 0.2]
    norms = gradient_norms(module, x, lambda out: out[-1].sum())
    h = np.concatenate(trace(module, x).h.tolist())
    expected = [1.0]
    for t in range(len(x) - 2, -1, -1):
        expected.append(expected[-1] * 0.9 * (1 - h[t + 1] ** 2))
    np.testing.assert_allclose(norms.grad_norm.to_numpy(), np.abs(expected[::-1]), rtol=1e-5)
    assert module.weight_hh_l0.grad is None  # parameters untouched


def test_rnn_gradients_vanish_and_lstm_keeps_a_cell_path():
    torch.manual_seed(0)
    x = torch.randn(4, 60, 3)
    rnn = gradient_norms(RNN(3, 32), x, lambda out: out[:, -1].sum())
    assert rnn.grad_norm.iloc[0] < 1e-3 * rnn.grad_norm.iloc[-1]  # vanished over 60 steps
    lstm = gradient_norms(LSTM(3, 32), x, lambda out: out[:, -1].sum())
    assert set(lstm.columns) == {"layer", "direction", "t", "grad_norm", "cell_grad_norm"}
    assert (lstm.cell_grad_norm > 0).all()


def test_errors():
    with pytest.raises(ValueError, match="seqkit recurrent module"):
        trace(torch.nn.RNN(1, 2), [1.0])
    with pytest.raises(ValueError, match="scalar"):
        gradient_norms(RNN(1, 2), [1.0, 2.0], lambda out: out)
