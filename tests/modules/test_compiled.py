"""The `compiled` backend: the readable loop through torch.compile, with torch.nn's numbers.

Most cases compile with the `aot_eager` backend, which captures the same whole graph and
its autograd as Inductor does without generating C++ for each; Inductor itself compiles
the LSTM and a cell of the user's own (tens of seconds each on a 2-core CPU).
"""

from __future__ import annotations

import warnings
from functools import partial

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from references import CASES, assert_equal_to_torch_nn, guide_namespace
from seqkit.modules import GRU, LSTM, RNN, compiled

pytestmark = pytest.mark.slow


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": "aot_eager"})
    torch._dynamo.reset()


def _assert_compiled_equals_torch_nn(name, cls, reference_cls, extra, num_layers, bidirectional, with_hx, packed):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to the loop would pass unseen otherwise
        assert_equal_to_torch_nn(name, cls, reference_cls, extra, "compiled", num_layers, bidirectional, with_hx, packed)


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("layers,bidirectional,with_hx", [(1, False, False), (2, True, True)], ids=["1-uni", "2-bi-hx"])
@pytest.mark.parametrize("name,cls,reference_cls,extra", CASES, ids=[c[0] for c in CASES])
def test_equal_to_torch_nn(aot_eager, name, cls, reference_cls, extra, layers, bidirectional, with_hx, packed):
    _assert_compiled_equals_torch_nn(name, cls, reference_cls, extra, layers, bidirectional, with_hx, packed)


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_inductor_compiles_the_lstm_with_torch_nns_numbers(packed):
    torch._dynamo.reset()
    _assert_compiled_equals_torch_nn("lstm", LSTM, torch.nn.LSTM, {}, 1, True, True, packed)


@pytest.mark.parametrize("cls,reference_cls", [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_time_major_no_bias_and_unbatched(aot_eager, cls, reference_cls):
    torch.manual_seed(0)
    reference = reference_cls(3, 4, num_layers=2, bias=False, batch_first=False)
    module = cls(3, 4, num_layers=2, bias=False, batch_first=False, backend="compiled")
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(6, 2, 3)  # (T, B, I)
    torch.testing.assert_close(module(x)[0], reference(x)[0], atol=1e-5, rtol=0)
    one = torch.randn(6, 3)  # one sequence, (T, I)
    torch.testing.assert_close(module(one)[0], reference(one)[0], atol=1e-5, rtol=0)


def test_texts_of_many_lengths_share_a_few_compilations(monkeypatch):
    """A PackedSequence runs padded to a multiple of PACKED_BUCKET steps: new lengths within a bucket compile nothing."""
    graphs = []

    def counting(graph, example_inputs):
        graphs.append(graph)
        return graph.forward

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": counting})
    torch._dynamo.reset()
    torch.manual_seed(0)
    module, reference = GRU(3, 4, backend="compiled"), torch.nn.GRU(3, 4, batch_first=True)
    reference.load_state_dict(module.state_dict())
    with torch.no_grad():
        for lengths in ([5, 2, 7, 1], [3, 8, 4, 4], [6, 6, 2, 1]):  # all within the first 8 steps
            x = torch.randn(4, max(lengths), 3)
            packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
            got, want = module(packed), reference(packed)
            torch.testing.assert_close(got[0].data, want[0].data, atol=1e-5, rtol=0)
            torch.testing.assert_close(got[1], want[1], atol=1e-5, rtol=0)
    assert len(graphs) == 1


def test_w_hh_gets_its_gradient_outside_the_compiled_graph_in_one_matmul(monkeypatch):
    """The compiled walk over time sees W_hh as a constant (a graph holding its gradient would add
    one term per step); `_RecurrentWeightGrad` around it gives the gradient, equal to torch.nn's."""
    graphs = []

    def counting(graph, example_inputs):
        graphs.append([t for t in example_inputs if isinstance(t, torch.Tensor)])
        return graph.forward

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": counting})
    torch._dynamo.reset()
    torch.manual_seed(0)
    module, reference = LSTM(3, 4, num_layers=2, backend="compiled"), torch.nn.LSTM(3, 4, 2, batch_first=True)
    reference.load_state_dict(module.state_dict())
    x = torch.randn(2, 6, 3)
    module(x)[0].square().sum().backward()
    reference(x)[0].square().sum().backward()
    assert len(graphs) == 1  # one graph for both layers: same length, same shapes
    (w_hh,) = [t for t in graphs[0] if t.shape == (16, 4)]
    assert not w_hh.requires_grad
    for name in ("weight_hh_l0", "weight_hh_l1"):
        torch.testing.assert_close(getattr(module, name).grad, getattr(reference, name).grad, atol=1e-5, rtol=0)


def test_where_torch_compile_cannot_run_the_loop_runs_with_one_warning(monkeypatch):
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    torch.manual_seed(0)
    module, reference = LSTM(3, 4, backend="compiled"), torch.nn.LSTM(3, 4, batch_first=True)
    reference.load_state_dict(module.state_dict())
    x = torch.randn(2, 5, 3)
    with pytest.warns(RuntimeWarning, match=r"LSTM\(backend='compiled'\): torch.compile cannot run here .*readable loop"):
        first = module(x)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once, not at every call
        second = module(x)[0]
    torch.testing.assert_close(first, reference(x)[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(second, first)


def test_a_compiler_failure_falls_back_to_the_loop(monkeypatch):
    def failing(graph, example_inputs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(compiled, "COMPILE_OPTIONS", {"backend": failing})
    torch._dynamo.reset()
    module = RNN(3, 4, backend="compiled")
    with pytest.warns(RuntimeWarning, match="torch.compile cannot run here"):
        output, _ = module(torch.randn(2, 5, 3))
    assert output.shape == (2, 5, 4)


def test_a_compiled_module_copies_pickles_and_keeps_its_state_dict(aot_eager, tmp_path):
    import copy

    module = LSTM(3, 4, backend="compiled")
    x = torch.randn(2, 5, 3)
    want = module(x)[0]
    twin = copy.deepcopy(module)
    torch.testing.assert_close(twin(x)[0], want)
    torch.save(module, tmp_path / "m.pt")
    torch.testing.assert_close(torch.load(tmp_path / "m.pt", weights_only=False)(x)[0], want)
    loop = LSTM(3, 4, backend="loop")
    loop.load_state_dict(module.state_dict())
    torch.testing.assert_close(loop(x)[0], want, atol=1e-6, rtol=0)


def test_the_guides_layer_norm_lstm_runs_as_written(aot_eager):
    guide_namespace("class LayerNormLSTM")


def test_inductor_compiles_a_cell_of_ones_own_with_the_loops_numbers():
    """The guide's layer-normalised LSTM (no fused kernel): compiled equals the loop, forward and backward."""
    torch._dynamo.reset()
    cls = guide_namespace("class LayerNormLSTM")["LayerNormLSTM"]
    torch.manual_seed(0)
    loop, compiled = cls(3, 6, backend="loop"), cls(3, 6, backend="compiled")
    compiled.load_state_dict(loop.state_dict())
    x = torch.randn(2, 6, 3)
    results = []
    for module in (loop, compiled):
        output, (h, c) = module(x)
        (output.square().sum() + c.sum()).backward()
        results.append([output, h, c, *(p.grad for p in module.parameters())])
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


def test_many_lengths_modes_and_modules_compile_past_the_compilers_default_limit(aot_eager):
    """Each sequence length, mode and module is a graph of its own: more than torch.compile's default of 8."""
    torch.manual_seed(0)
    for cls in (RNN, GRU):
        module = cls(2, 3, backend="compiled")
        for length in range(2, 8):
            x = torch.randn(2, length, 2)
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                module(x)[0].sum().backward()
                with torch.no_grad():
                    module(x)


def test_a_language_model_trains_with_the_compiled_backend_and_reloads_with_another(aot_eager, tmp_path):
    """Under Lightning: the carried state, dropout between layers, a checkpoint that the fused backend reloads."""
    import lightning.pytorch as pl

    from seqkit.data.next_word import NextWordData
    from seqkit.tasks import NextWordTask

    corpus = tmp_path / "train.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 100)
    torch.manual_seed(0)
    task = NextWordTask(LSTM(16, 16, num_layers=2, dropout=0.2, backend="compiled"), tie_weights=True,
                        optimizer=partial(torch.optim.AdamW, lr=0.02))
    trainer = pl.Trainer(default_root_dir=tmp_path, accelerator="cpu", max_epochs=2, enable_progress_bar=False,
                         enable_model_summary=False, logger=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to the loop
        trainer.fit(task, datamodule=NextWordData(train_path=str(corpus), batch_size=4, eval_batch_size=2, bptt=6))
    assert trainer.callback_metrics["val/ppl"] < len(task.vocab) / 1.5  # better than a uniform guess: learnt
    reloaded = NextWordTask.from_checkpoint(trainer.checkpoint_callback.last_model_path)
    assert reloaded.encoder.backend == "compiled"
    reloaded.encoder.backend = "fused"
    task.eval()
    tokens = torch.randint(0, len(task.vocab), (2, 5))
    torch.testing.assert_close(reloaded(tokens)[0], task.cpu()(tokens)[0], atol=1e-5, rtol=0)
