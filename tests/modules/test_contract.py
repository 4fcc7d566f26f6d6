"""The torch.nn contract: names, state dicts, packed batches, errors, and the loop's cost."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.modules import GRU, LSTM, RNN, Recurrent
from seqkit.modules.checks import initial_state

PAIRS = [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)]


@pytest.mark.parametrize("cls,reference_cls", PAIRS)
def test_state_dict_moves_both_ways_strictly(cls, reference_cls):
    ours = cls(4, 6, num_layers=2, bidirectional=True)
    theirs = reference_cls(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "weight_hh_l1_reverse" in ours.state_dict()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    for name, value in ours.state_dict().items():
        assert torch.equal(value, theirs.state_dict()[name])
    fresh = cls(4, 6, num_layers=2, bidirectional=True, backend="loop")
    fresh.load_state_dict(theirs.state_dict(), strict=True)
    for name, value in theirs.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[name])


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_batch_first_is_the_default_and_shapes(cls):
    module = cls(3, 5, num_layers=2, bidirectional=True)
    assert module.batch_first is True
    output, state = module(torch.randn(7, 11, 3))
    assert output.shape == (7, 11, 10)
    h = state[0] if cls is LSTM else state
    assert h.shape == (4, 7, 5)


@pytest.mark.parametrize("backend", ["fused", "loop"])
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_padding_never_touches_state_or_output(cls, backend):
    """Each sequence packed in a batch gives what it gives alone, whatever the padding holds."""
    torch.manual_seed(3)
    module = cls(3, 5, num_layers=2, bidirectional=True, backend=backend)
    lengths = torch.tensor([2, 6, 4])
    x = torch.randn(3, 6, 3)
    garbage = x.clone()
    for row, length in enumerate(lengths):
        garbage[row, length:] = 1e6  # padding full of huge values
    packed = pack_padded_sequence(garbage, lengths, batch_first=True, enforce_sorted=False)
    output, state = module(packed)
    output, out_lengths = pad_packed_sequence(output, batch_first=True)
    h = state[0] if cls is LSTM else state
    assert torch.equal(out_lengths, lengths)
    for row, length in enumerate(lengths.tolist()):
        alone_out, alone_state = module(x[row : row + 1, :length])
        alone_h = alone_state[0] if cls is LSTM else alone_state
        torch.testing.assert_close(output[row, :length], alone_out[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(h[:, row], alone_h[:, 0], atol=1e-5, rtol=0)
        assert torch.all(output[row, length:] == 0)  # padded steps stay zero, as in torch


def _graph_node_names(tensor: torch.Tensor) -> set[str]:
    seen, names, stack = set(), set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    return names


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_loop_never_indexes_the_hoisted_projection(cls):
    """Indexing x_proj[t] in the loop makes backward quadratic in T (performance notes).

    The loop must take timesteps with unbind/split, whose backward is one op; a
    Select or Slice node in the graph of a padded batch means someone indexed.
    """
    module = cls(3, 4, backend="loop")
    output, _ = module(torch.randn(2, 9, 3))
    names = _graph_node_names(output.sum())
    assert "UnbindBackward0" in names
    assert not {"SelectBackward0", "SliceBackward0"} & names, names


@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_recurrent_weight_gradient_is_one_matmul_not_one_per_step(cls):
    """W_hh's gradient comes from one node for all timesteps (see _RecurrentWeightGrad)."""
    module = cls(3, 4, backend="loop")
    output, _ = module(torch.randn(2, 9, 3))
    names = _graph_node_names(output.sum())
    assert "_RecurrentWeightGradBackward" in names
    output.sum().backward()
    assert module.weight_hh_l0.grad is not None and module.weight_hh_l0.grad.abs().sum() > 0


def test_backend_switch_and_bad_backend():
    module = LSTM(2, 3)
    assert module.backend == "auto" and module.path(4) == "fused"  # auto: the kernel where there is one
    x = torch.randn(1, 4, 2)
    fused_out = module(x)[0]
    module.backend = "loop"
    torch.testing.assert_close(module(x)[0], fused_out, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        module.backend = "cudnn"
    with pytest.raises(ValueError, match="backend must be one of"):
        RNN(2, 3, backend="fast")


def test_a_cell_without_fused_kernel_runs_the_loop_and_refuses_fused():
    class Doubling(Recurrent):
        gates = 1
        state_size = 1

        @staticmethod
        def step(x_proj, state, weight_hh, bias_hh):
            (h,) = state
            h = torch.tanh(torch.addmm(x_proj, h, weight_hh.t()))
            return (h,), {"pre": h}

    module = Doubling(2, 3)
    assert module.path(4) == "loop" and module(torch.randn(1, 4, 2))[0].shape == (1, 4, 3)
    with pytest.raises(ValueError, match="Doubling has no fused kernel; use backend='auto'"):
        module.backend = "fused"


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_bad_input_gets_a_value_error_naming_expected_and_given(backend):
    lstm = LSTM(3, 5, num_layers=2, backend=backend)
    with pytest.raises(ValueError, match=r"4-D tensor of shape \(1, 2, 3, 3\)"):
        lstm(torch.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"input_size=3, but the input's last dimension is 4"):
        lstm(torch.randn(2, 6, 4))
    with pytest.raises(ValueError, match="floating-point input, got torch.int64; token ids go through an nn.Embedding"):
        lstm(torch.ones(2, 6, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"dtype torch.float64 does not match its weights \(torch.float32\)"):
        lstm(torch.randn(2, 6, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="input is on meta but its weights are on cpu"):
        lstm(torch.randn(2, 6, 3, device="meta"))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 2, 5\) .* got \(1, 2, 5\)"):
        lstm(torch.randn(2, 6, 3), (torch.zeros(1, 2, 5), torch.zeros(1, 2, 5)))
    with pytest.raises(ValueError, match=r"c_0 of shape \(2, 2, 5\) .* got \(2, 2, 4\)"):
        lstm(torch.randn(2, 6, 3), (torch.zeros(2, 2, 5), torch.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"tuple \(h_0, c_0\)"):
        lstm(torch.randn(2, 6, 3), torch.zeros(2, 2, 5))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 5\)"):
        lstm(torch.randn(6, 3), (torch.zeros(2, 1, 5), torch.zeros(2, 1, 5)))  # unbatched input, batched state
    rnn = RNN(3, 5, backend=backend)
    with pytest.raises(ValueError, match="expects hx as one tensor h_0"):
        rnn(torch.randn(2, 6, 3), (torch.zeros(1, 2, 5),))
    with pytest.raises(ValueError, match="h_0 of dtype torch.float32, got torch.float64"):
        rnn(torch.randn(2, 6, 3), torch.zeros(1, 2, 5, dtype=torch.float64))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNN(3, 4, nonlinearity="sigmoid")


def test_positional_arguments_follow_torch_nn():
    # torch.nn.RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional)
    rnn = RNN(3, 4, 2, "relu", False, True, 0.0, True)
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.bidirectional) == (2, "relu", False, True)
    lstm = LSTM(3, 4, 2, False, True, 0.0, True)
    assert (lstm.num_layers, lstm.bias, lstm.bidirectional) == (2, False, True)
    assert "bidirectional=True" in repr(lstm) and "backend='auto'" in repr(lstm)


def test_float64_and_to_dtype():
    torch.manual_seed(4)
    reference = torch.nn.LSTM(3, 4, batch_first=True).double()
    module = LSTM(3, 4, backend="loop", dtype=torch.float64)
    module.load_state_dict(reference.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(module(x)[0], reference(x)[0], atol=1e-12, rtol=0)
    assert module.float().weight_ih_l0.dtype == torch.float32


def test_gradcheck_of_the_loop_path_in_float64():
    """The loop's gradients (including the hoisted W_hh gradient) agree with finite differences."""
    torch.manual_seed(5)
    module = LSTM(2, 3, num_layers=2, bidirectional=True, backend="loop", dtype=torch.float64)
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    params = tuple(module.parameters())

    def run(x, *weights):
        replaced = dict(zip((n for n, _ in module.named_parameters()), weights))
        output, (h, c) = torch.func.functional_call(module, replaced, (x,))
        return output.sum() + h.square().sum() + c.sum()

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize("run_backward", [True, False], ids=["backward", "no-backward"])
def test_loop_graph_is_freed_without_garbage_collection(run_backward):
    """No reference cycle through the autograd graph: outputs die with their last reference."""
    import gc
    import weakref

    module = LSTM(3, 4, backend="loop")
    watched = []  # weak references to every h_t the loop makes

    def observe(layer, direction, t, state, internals):
        watched.append(weakref.ref(state[0]))

    gc.disable()
    try:
        state = initial_state(module, None, 2, False, module.weight_ih_l0)
        output, final = module._forward_loop(torch.randn(2, 6, 3), None, state, observe=observe)
        if run_backward:
            output.sum().backward()
        del output, final
        assert len(watched) == 6 and all(ref() is None for ref in watched)
    finally:
        gc.enable()


def test_double_backward_through_the_loop_is_refused_clearly():
    module = RNN(2, 3, backend="loop")
    output, _ = module(torch.randn(1, 4, 2))
    (grad,) = torch.autograd.grad(output.sum(), module.weight_hh_l0, create_graph=True)
    with pytest.raises(RuntimeError, match="marked with @once_differentiable"):
        grad.sum().backward()


def test_parameters_that_would_not_fit_in_memory_are_refused_before_any_is_allocated():
    with pytest.raises(ValueError, match=r"LSTM\(input_size=2, hidden_size=1000000000, num_layers=1\) would hold "
                                         r"4,000,000,016,000,000,000 parameters \([\d,.]+ GiB\), more than this machine's"):
        LSTM(2, 10**9)
    with pytest.raises(ValueError, match=r"num_layers=100000\) would hold"):
        GRU(8, 128, num_layers=100_000)
