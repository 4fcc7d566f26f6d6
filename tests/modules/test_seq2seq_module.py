"""Seq2Seq: shapes, padding never matters, decoding agrees with teacher forcing, beam search is a search."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from seqkit.modules import GRU, LSTM, RNN, Seq2Seq

PAD, BOS, EOS = 0, 2, 3
SOURCE_VOCAB, TARGET_VOCAB, EMBEDDING = 20, 12, 8

PAIRS = {
    "lstm-lstm": lambda: (LSTM(EMBEDDING, 16), LSTM(EMBEDDING, 16)),
    "rnn-rnn": lambda: (RNN(EMBEDDING, 16), RNN(EMBEDDING, 16)),
    "bidirectional 2-layer lstm-gru": lambda: (LSTM(EMBEDDING, 16, num_layers=2, bidirectional=True),
                                               GRU(EMBEDDING, 16, num_layers=2)),
    "gru-lstm": lambda: (GRU(EMBEDDING, 16), LSTM(EMBEDDING, 16)),
    "loop backend": lambda: (LSTM(EMBEDDING, 16, backend="loop"), RNN(EMBEDDING, 16, backend="loop")),
}


def model(pair: str = "lstm-lstm", attention: bool = True, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    encoder, decoder = PAIRS[pair]()
    return Seq2Seq(encoder, decoder, SOURCE_VOCAB, TARGET_VOCAB, EMBEDDING, bos_index=BOS, eos_index=EOS,
                   pad_index=PAD, attention=attention).eval()


def padded_sources(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    source = torch.randint(4, SOURCE_VOCAB, (len(lengths), max(lengths)), generator=generator)
    for row, length in enumerate(lengths):
        source[row, length:] = PAD
    return source, torch.tensor(lengths)


CASES = [(pair, attention) for pair in PAIRS for attention in (True, False)]


@pytest.mark.parametrize("pair, attention", CASES)
def test_shapes_of_logits_and_decoded_outputs(pair, attention):
    m = model(pair, attention)
    source, lengths = padded_sources([7, 3, 5, 1])
    target_in = torch.randint(4, TARGET_VOCAB, (4, 6))
    assert m(source, lengths, target_in).shape == (4, 6, TARGET_VOCAB)
    greedy = m.greedy(source, lengths, max_length=9)
    beam = m.beam_search(source, lengths, beam_size=3, max_length=9)
    for output in (greedy, beam):
        assert output.dtype == torch.long and output.shape[0] == 4 and 1 <= output.shape[1] <= 9
    assert (m.combine is not None) == attention == m.attention


@pytest.mark.parametrize("pair, attention", CASES)
def test_padding_never_changes_a_result(pair, attention):
    # The second source (3 tokens) alone, and inside a batch padded to 9 steps.
    m = model(pair, attention)
    source, lengths = padded_sources([9, 3, 6, 8])
    target_in = torch.randint(4, TARGET_VOCAB, (4, 5))
    alone_source, alone_lengths = source[1:2, :3], lengths[1:2]
    batched = m(source, lengths, target_in)[1:2]
    alone = m(alone_source, alone_lengths, target_in[1:2])
    assert torch.allclose(batched, alone, atol=1e-5, rtol=0)
    # Any id in the padding: still the same.
    noisy = source.clone()
    noisy[1, 3:] = 7
    assert torch.allclose(m(noisy, lengths, target_in), m(source, lengths, target_in), atol=1e-6, rtol=0)
    greedy = m.greedy(source, lengths, max_length=8)[1:2]
    greedy_alone = m.greedy(alone_source, alone_lengths, max_length=8)
    assert torch.equal(greedy[:, :greedy_alone.size(1)], greedy_alone)
    assert (greedy[:, greedy_alone.size(1):] == PAD).all()
    beam = m.beam_search(source, lengths, beam_size=3, max_length=8)[1]
    beam_alone = m.beam_search(alone_source, alone_lengths, beam_size=3, max_length=8)[0]
    assert torch.equal(beam[:len(beam_alone)], beam_alone)


@pytest.mark.parametrize("pair, attention", CASES)
def test_teacher_forced_logits_equal_step_by_step_decoding(pair, attention):
    m = model(pair, attention)
    source, lengths = padded_sources([6, 2, 4])
    target_in = torch.cat([torch.full((3, 1), BOS), torch.randint(4, TARGET_VOCAB, (3, 5))], dim=1)
    all_at_once = m(source, lengths, target_in)                                # (B, T, V)
    memory, state = m.encode(source, lengths)
    steps = []
    for t in range(target_in.size(1)):
        logits, state = m.decode(target_in[:, t:t + 1], state, memory)          # (B, 1, V)
        steps.append(logits)
    assert torch.allclose(torch.cat(steps, dim=1), all_at_once, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pair, attention", CASES)
def test_greedy_is_the_argmax_of_teacher_forcing_on_its_own_output_and_a_beam_of_one(pair, attention):
    m = model(pair, attention)
    source, lengths = padded_sources([6, 2, 4, 5])
    greedy = m.greedy(source, lengths, max_length=7)
    assert torch.equal(m.beam_search(source, lengths, beam_size=1, max_length=7), greedy)
    # Fed its own output (shifted right after <bos>), the model's argmax is that output again.
    target_in = torch.cat([torch.full((4, 1), BOS), greedy[:, :-1]], dim=1)
    predicted = m(source, lengths, target_in).argmax(-1)
    for row in range(4):
        tokens = greedy[row].tolist()
        length = tokens.index(EOS) + 1 if EOS in tokens else len(tokens)
        assert predicted[row, :length].tolist() == tokens[:length]
        assert set(tokens[length:]) <= {PAD}


def sequence_score(m: Seq2Seq, source: torch.Tensor, lengths: torch.Tensor, tokens: list[int]) -> float:
    """Length-normalised log-probability of one output under teacher forcing."""
    target_in = torch.tensor([[BOS] + tokens[:-1]])
    log_probs = F.log_softmax(m(source, lengths, target_in), dim=-1)[0]      # (T, V)
    return log_probs[torch.arange(len(tokens)), torch.tensor(tokens)].sum().item() / len(tokens)


@pytest.mark.parametrize("attention", [True, False])
def test_a_beam_wide_enough_finds_the_best_output_by_exhaustive_search(attention):
    # Target vocabulary of 5: every output of up to 3 tokens can be listed and scored.
    torch.manual_seed(3)
    m = Seq2Seq(LSTM(EMBEDDING, 16), LSTM(EMBEDDING, 16), SOURCE_VOCAB, 5, EMBEDDING, bos_index=BOS,
                eos_index=EOS, pad_index=PAD, attention=attention).eval()
    with torch.no_grad():
        for weight in m.parameters():
            weight.mul_(4)  # outputs that depend more on the source and the step: greedy is often not the best
    others = [t for t in range(5) if t != EOS]
    differs = 0
    for seed in range(6):
        source, lengths = padded_sources([5], seed=seed)
        candidates = [list(prefix) + [EOS] for n in range(3) for prefix in itertools.product(others, repeat=n)]
        candidates += [list(tokens) for tokens in itertools.product(others, repeat=3)]  # cut at max_length
        with torch.no_grad():
            scores = {tuple(c): sequence_score(m, source, lengths, c) for c in candidates}
        best = max(scores, key=scores.get)
        found = m.beam_search(source, lengths, beam_size=len(others) ** 3, max_length=3)[0].tolist()
        found = found[: found.index(EOS) + 1] if EOS in found else found
        assert scores[tuple(found)] == pytest.approx(scores[best], abs=1e-6)
        greedy = m.greedy(source, lengths, max_length=3)[0].tolist()
        greedy = greedy[: greedy.index(EOS) + 1] if EOS in greedy else greedy
        assert scores[tuple(greedy)] <= scores[best] + 1e-6
        differs += greedy != found
    assert differs > 0  # the test did exercise a case where the beam beats greedy


def test_overfits_a_tiny_batch_of_reversals():
    # Target = the source reversed: attention has to find the right source step for each output.
    torch.manual_seed(0)
    m = Seq2Seq(LSTM(16, 48), LSTM(16, 48), 12, 12, 16, bos_index=BOS, eos_index=EOS, pad_index=PAD).train()
    lengths = torch.tensor([5, 3, 4, 5, 2, 4, 3, 5])
    source, _ = padded_sources(lengths.tolist())
    source = source.remainder(8) + 4  # ids 4..11
    for row, length in enumerate(lengths):
        source[row, length:] = PAD
    targets = [source[row, :length].flip(0).tolist() for row, length in enumerate(lengths)]
    target_in = torch.nn.utils.rnn.pad_sequence([torch.tensor([BOS] + t) for t in targets], batch_first=True)
    target_out = torch.nn.utils.rnn.pad_sequence([torch.tensor(t + [EOS]) for t in targets], batch_first=True)
    optimizer = torch.optim.Adam(m.parameters(), lr=0.01)
    losses = []
    for _ in range(150):
        loss = F.cross_entropy(m(source, lengths, target_in).flatten(0, 1), target_out.flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    m.eval()
    decoded = m.greedy(source, lengths, max_length=8)
    assert torch.equal(decoded[:, :target_out.size(1)], target_out)


def test_parts_that_do_not_fit_are_named():
    def build(encoder, decoder, embedding=EMBEDDING):
        return Seq2Seq(encoder, decoder, SOURCE_VOCAB, TARGET_VOCAB, embedding, BOS, EOS, PAD)

    with pytest.raises(ValueError, match="seqkit recurrent module"):
        build(torch.nn.LSTM(EMBEDDING, 16, batch_first=True), LSTM(EMBEDDING, 16))
    with pytest.raises(ValueError, match="input_size=8"):
        build(LSTM(4, 16), LSTM(EMBEDDING, 16))
    with pytest.raises(ValueError, match="same hidden_size and num_layers"):
        build(LSTM(EMBEDDING, 16), LSTM(EMBEDDING, 32))
    with pytest.raises(ValueError, match="same hidden_size and num_layers"):
        build(LSTM(EMBEDDING, 16, num_layers=2), LSTM(EMBEDDING, 16))
    with pytest.raises(ValueError, match="unidirectional"):
        build(LSTM(EMBEDDING, 16), LSTM(EMBEDDING, 16, bidirectional=True))
    with pytest.raises(ValueError, match="batch_first"):
        build(LSTM(EMBEDDING, 16, batch_first=False), LSTM(EMBEDDING, 16))
    with pytest.raises(ValueError, match="beam_size must be at least 1"):
        model().beam_search(*padded_sources([3]), beam_size=0)
