"""seqkit's RNN, LSTM and GRU give torch.nn's numbers on both backends.

Outputs, final states, the input gradient and every parameter gradient agree within
1e-5 in float32 after copying torch.nn's state dict, over layers, directions, initial
states and variable-length (packed) batches.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from references import CASES, assert_equal_to_torch_nn
from seqkit.modules import GRU, LSTM, RNN


@pytest.mark.parametrize("backend", ["fused", "loop"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["zeros", "hx"])
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("name,cls,reference_cls,extra", CASES, ids=[c[0] for c in CASES])
def test_equal_to_torch_nn(name, cls, reference_cls, extra, backend, num_layers, bidirectional, with_hx, packed):
    assert_equal_to_torch_nn(name, cls, reference_cls, extra, backend, num_layers, bidirectional, with_hx, packed)


@pytest.mark.parametrize("backend", ["fused", "loop"])
@pytest.mark.parametrize("cls,reference_cls", [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_time_major_and_no_bias(cls, reference_cls, backend):
    torch.manual_seed(0)
    reference = reference_cls(3, 4, num_layers=2, bias=False, batch_first=False)
    module = cls(3, 4, num_layers=2, bias=False, batch_first=False, backend=backend)
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(6, 2, 3)  # (T, B, I)
    out, _ = module(x)
    torch.testing.assert_close(out, reference(x)[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", ["fused", "loop"])
@pytest.mark.parametrize("cls,reference_cls", [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_unbatched_input(cls, reference_cls, backend):
    torch.manual_seed(1)
    reference = reference_cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    module = cls(3, 4, num_layers=2, bidirectional=True, backend=backend)
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(5, 3)  # one sequence, (T, I)
    h0 = torch.randn(4, 4)
    hx = (h0, torch.randn(4, 4)) if cls is LSTM else h0
    out, state = module(x, hx)
    ref_out, ref_state = reference(x, hx)
    assert out.shape == (5, 8)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    for a, b in zip(state if cls is LSTM else (state,), ref_state if cls is LSTM else (ref_state,)):
        assert a.shape == (4, 4)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_eval_mode_dropout_matches_and_training_dropout_changes_output(cls):
    torch.manual_seed(2)
    fused = cls(3, 8, num_layers=2, dropout=0.5)
    loop = cls(3, 8, num_layers=2, dropout=0.5, backend="loop")
    loop.load_state_dict(fused.state_dict())
    x = torch.randn(2, 6, 3)
    fused.eval(), loop.eval()
    torch.testing.assert_close(loop(x)[0], fused(x)[0], atol=1e-5, rtol=0)
    loop.train()
    assert not torch.allclose(loop(x)[0], fused(x)[0])  # dropout between the layers is active


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_loop_trains_under_bfloat16_autocast(cls):
    # bf16-mixed training: the gates' gradient arrives in bfloat16 while h and W_hh are float32.
    torch.manual_seed(0)
    module = cls(8, 16, num_layers=2, bidirectional=True, backend="loop")
    x = torch.randn(4, 10, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = module(x)
    out.float().square().sum().backward()
    exact = cls(8, 16, num_layers=2, bidirectional=True, backend="loop")
    exact.load_state_dict(module.state_dict())
    exact(x)[0].square().sum().backward()
    for (name, p), q in zip(module.named_parameters(), exact.parameters()):
        assert p.grad.dtype == torch.float32, name
        # bfloat16 keeps 8 bits of mantissa: close to the float32 gradient, not equal.
        assert torch.nn.functional.cosine_similarity(p.grad.flatten(), q.grad.flatten(), dim=0) > 0.99, name


@pytest.mark.parametrize("cell", [RNN, GRU, LSTM])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_padded_equals_a_packed_sequence(cell, bidirectional):
    """Padded texts that stop at their lengths: the packed output at every real step, and the packed final state."""
    torch.manual_seed(0)
    module = cell(5, 4, num_layers=2, bidirectional=bidirectional)
    x, lengths = torch.randn(4, 7, 5), torch.tensor([7, 2, 5, 1])
    packed, packed_state = module(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    want, _ = pad_packed_sequence(packed, batch_first=True)
    got, state = module.forward_padded(x, lengths)
    real = (torch.arange(7)[None, :] < lengths[:, None])[..., None]                 # (B, T, 1)
    torch.testing.assert_close(torch.where(real, got, 0.0), want, atol=1e-6, rtol=1e-6)
    for mine, theirs in zip(state if isinstance(state, tuple) else (state,),
                            packed_state if isinstance(packed_state, tuple) else (packed_state,)):
        torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("cell", [RNN, GRU, LSTM])
def test_one_timestep_on_the_cpu_takes_the_readable_step_with_torch_nns_results(cell, monkeypatch):
    """A keyboard or a sampler feeds one word at a time: the fused backend runs the step itself, not the kernel."""
    torch.manual_seed(0)
    module = cell(5, 4, num_layers=2, backend="fused")
    reference = getattr(torch.nn, cell.__name__)(5, 4, num_layers=2, batch_first=True)
    reference.load_state_dict(module.state_dict())
    x = torch.randn(3, 1, 5)
    want = reference(x)
    assert module.path(1) == "loop" and module.path(2) == "fused"
    monkeypatch.setattr(module, "_forward_fused", None)  # calling the kernel would now raise
    got = module(x)
    torch.testing.assert_close(got[0], want[0], atol=1e-6, rtol=1e-6)
    with pytest.raises(TypeError):
        module(torch.randn(3, 2, 5))
