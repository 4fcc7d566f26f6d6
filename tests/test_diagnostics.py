"""trace and gradient_norms: what they show agrees with forward and with the formulas."""

from __future__ import annotations

from functools import partial
import numpy as np
import pytest
import torch

from seqkit.diagnostics import gradient_norms, trace
from seqkit.modules import GRU, LSTM, RNN


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_last_rows_equal_forward(cls):
    torch.manual_seed(0)
    module = cls(2, 3, num_layers=2, bidirectional=True)  # the fused kernel by default: trace still runs the loop
    x = torch.randn(2, 5, 2)
    table = trace(module, x)
    assert len(table) == 2 * 2 * 2 * 5
    assert module.backend == "auto" and module.training  # left as found
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


# ---------------------------------------------------------------------- gradients through time, as pictures

import math  # noqa: E402

import lightning.pytorch as pl  # noqa: E402
from torch.nn.utils.rnn import pack_sequence  # noqa: E402

from seqkit.diagnostics import (  # noqa: E402
    GradientNormLogger, exploding_demo, gradients_at_init, plot_gradient_norms, plot_hidden_states,
)
from seqkit.diagnostics.gradients import hidden_gradient_norms  # noqa: E402
from seqkit.errors import SeqkitError  # noqa: E402

PNG = b"\x89PNG"


def test_rnn_gradients_vanish_far_faster_than_an_lstms_with_its_forget_gate_open():
    curves = gradients_at_init(("rnn", "lstm"), length=100, forget_bias=1.0, seed=0)
    ratio = {label: norms[0] / norms[-1] for label, norms in curves.items()}
    assert set(ratio) == {"rnn", "lstm (forget bias 1)"}
    assert ratio["rnn"] < 1e-15 and ratio["rnn"] < 1e-6 * ratio["lstm (forget bias 1)"]
    # torch's own initialisation puts the forget gate near 0.5: that LSTM's gradient vanishes too
    default = gradients_at_init(("lstm",), length=100, seed=0)["lstm"]
    assert default[0] / default[-1] < 1e-15
    # a recurrent matrix of spectral radius 2 makes the tanh RNN's curve grow backwards in time
    grown = gradients_at_init(("rnn",), length=100, radius=2.0, seed=0)["rnn (radius 2)"]
    assert grown[0] / grown[-1] > 100


def test_exploding_demo_diverges_without_clipping_and_trains_with_it():
    plain = exploding_demo(radius=1.5, seed=0)
    assert len(plain) == 100
    finite = [v for v in plain if math.isfinite(v)]
    assert len(finite) < len(plain) or max(finite) > 1e3 * plain[0]
    clipped = exploding_demo(radius=1.5, clip=1.0, seed=0)
    assert all(math.isfinite(v) for v in clipped)
    assert np.mean(clipped[-10:]) < 0.7 * np.mean(clipped[:10])


def test_the_replayed_gradient_is_the_total_derivative_at_every_step():
    torch.manual_seed(0)
    module = LSTM(3, 5, num_layers=2)
    x, weights = torch.randn(1, 7, 3), torch.randn(1, 7, 5)
    expected = gradient_norms(module, x, lambda out: (out * weights).sum())
    top = expected[expected.layer == 1].grad_norm.to_numpy()
    np.testing.assert_allclose(hidden_gradient_norms(module, x, None, weights), top, rtol=1e-5)
    # packed: at step t, the mean over the sequences still running
    a, b = torch.randn(6, 3), torch.randn(4, 3)
    packed = pack_sequence([a, b])
    grad = torch.randn(packed.data.size(0), 5)  # the gradient of the packed output (10, H)
    out_a = grad.new_zeros(6, 5)
    out_a[:4] = grad[0:8:2]
    out_a[4:] = grad[8:]
    out_b = grad[1:8:2]
    norm_a = gradient_norms(module, a, lambda out: (out * out_a).sum())
    norm_b = gradient_norms(module, b, lambda out: (out * out_b).sum())
    na, nb = (n[n.layer == 1].grad_norm.to_numpy() for n in (norm_a, norm_b))
    expected = np.concatenate([(na[:4] + nb) / 2, na[4:]])
    np.testing.assert_allclose(hidden_gradient_norms(module, packed, None, grad), expected, rtol=1e-5)


class _Losses(pl.Callback):
    def __init__(self) -> None:
        self.values = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.values.append(outputs["loss"].item())


def test_gradient_norm_logger_logs_the_ratio_and_leaves_training_unchanged(tmp_path):
    from seqkit.data.next_word import NextWordData
    from seqkit.tasks.next_word import NextWordTask

    corpus = tmp_path / "train.txt"
    corpus.write_text("".join(["the cat sat on the mat\n", "a bird sang in the tree\n"][i % 2] for i in range(200)))

    def run(name, *callbacks):
        torch.manual_seed(0)
        data = NextWordData(train_path=str(corpus), batch_size=4, eval_batch_size=2, bptt=6)
        task = NextWordTask(LSTM(16, 16, num_layers=2, dropout=0.3), optimizer=partial(torch.optim.SGD, lr=1.0))
        losses = _Losses()
        trainer = pl.Trainer(default_root_dir=tmp_path / name, accelerator="cpu", max_steps=5, limit_val_batches=0, logger=False,
                             enable_progress_bar=False, enable_model_summary=False, callbacks=[losses, *callbacks])
        trainer.fit(task, datamodule=data)
        return losses.values, task, trainer

    logger = GradientNormLogger(every_n_steps=2)
    with_logger, task, trainer = run("with", logger)
    without, plain_task, _ = run("without")
    assert with_logger == without  # same losses, bit for bit
    for (name, p), q in zip(task.named_parameters(), plain_task.parameters()):
        assert torch.equal(p, q), name
    metrics = trainer.callback_metrics
    assert {"grad/h_first", "grad/h_last", "grad/ratio_first_last", "grad/encoder.weight_hh_l1"} <= set(metrics)
    assert metrics["grad/ratio_first_last"].item() == pytest.approx(
        metrics["grad/h_first"].item() / metrics["grad/h_last"].item(), rel=1e-5)
    assert [step for step, _ in logger.curves] == [0, 2, 4]
    assert all(norms.shape == (6,) and (norms > 0).all() for _, norms in logger.curves)  # bptt = 6 steps
    assert logger._hook is None and logger._capture is None  # nothing left behind after fit


def test_gradient_norm_logger_refuses_what_it_cannot_measure():
    with pytest.raises(SeqkitError, match="every_n_steps"):
        GradientNormLogger(every_n_steps=0)
    with pytest.raises(SeqkitError, match="seqkit recurrent module"):
        GradientNormLogger().setup(None, torch.nn.Linear(2, 2), "fit")


def test_pictures_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    torch.manual_seed(0)
    table = trace(GRU(2, 4, num_layers=2, bidirectional=True), torch.randn(2, 5, 2))
    assert plot_hidden_states(table, tmp_path / "h.png", tokens=["a", "b", "c", "d", "e"]).read_bytes()[:4] == PNG
    assert plot_hidden_states(np.random.rand(12, 3), tmp_path / "a.png").read_bytes()[:4] == PNG
    with pytest.raises(ValueError, match="2 tokens for 5 timesteps"):
        plot_hidden_states(table, tmp_path / "x.png", tokens=["a", "b"])
    curves = {"rnn": np.array([1e-20, 1e-5, 1.0]), "lstm": np.array([0.0, 0.1, 1.0])}
    losses = {"no clipping": [1.0, 1e5, math.inf, math.nan], "clip norm 1": [1.0, 0.8, 0.7, 0.6]}
    assert plot_gradient_norms(curves, tmp_path / "g.png", "t", losses=losses).read_bytes()[:4] == PNG
