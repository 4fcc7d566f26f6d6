"""Sequence to sequence: an encoder reads the source, a decoder writes the target one token at a time.

    source ids (B, S) -> embedding (B, S, E) -> encoder RNN/LSTM/GRU -> outputs (B, S, H), final state
    final state -> initial state of the decoder
    target_in ids (B, T) -> embedding (B, T, E) -> decoder -> s_t (B, T, H)
        [attention: context_t = sum_j a_tj enc_j, a_t = softmax_j(s_t . enc_j); s~_t = tanh(W_c [s_t; context_t])]
        -> W_out -> logits (B, T, V)

Sutskever et al. (2014) and Cho et al. (2014) give the encoder-decoder; the attention is
Luong et al. (2015)'s "dot" score without input feeding, so that in training (teacher
forcing: the decoder reads the gold target shifted right, `<bos> y_1 ... y_{T-1}`) the
decoder runs over the whole target in one call, and attention for every step is one
batched matmul. At inference the decoder reads its own previous prediction, one step at a
time (`greedy`, `beam_search`).

Source padding never changes a result: the source is packed, so the encoder's final state
is each sequence's own last step, and attention gives padded steps weight zero.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.modules.recurrent import Recurrent

DecoderState = Tensor | tuple[Tensor, ...]
"""The decoder's state as its `forward` takes it: `h (L, B, H)`, or `(h, c)` for an LSTM."""


class Memory(NamedTuple):
    """What the decoder may attend to.

    Attributes:
        outputs: `(B, S, H)` the encoder's last-layer outputs (a bidirectional encoder's two
            directions summed), zeros past each source's length.
        mask: `(B, S)` bool, True at each source's real steps.
    """

    outputs: Tensor
    mask: Tensor


class Seq2Seq(nn.Module):
    """An encoder-decoder over seqkit recurrent modules, with optional dot-product attention.

    The encoder's final state becomes the decoder's initial state, layer by layer: `h_n`
    (and for an LSTM encoder and decoder, `c_n`; an LSTM decoder after an RNN or GRU encoder
    starts from `c = 0`; an RNN or GRU decoder after an LSTM encoder takes only `h_n`). A
    bidirectional encoder's two directions are *summed*, for the state of each layer and
    for the outputs that attention reads, so the decoder keeps the encoder's hidden size.

    Args:
        encoder: reads the embedded source; `input_size == embedding_size`.
        decoder: writes the target; unidirectional, `input_size == embedding_size`, and the
            same `hidden_size` and `num_layers` as the encoder.
        source_vocab_size, target_vocab_size: rows of the two embeddings; the target's is
            also the number of logits.
        embedding_size: E, features of each token's embedding.
        bos_index: the target token the decoder reads first.
        eos_index: the target token that ends an output.
        pad_index: the padding id of both vocabularies (its embeddings stay zero).
        attention: add Luong dot attention over the encoder outputs (see the module docstring).

    Shapes:
        `source (B, S)`, `source_lengths (B,)`, `target_in (B, T)` -> logits `(B, T, target_vocab_size)`.

    Raises:
        ValueError: a part that is not a seqkit recurrent module, or sizes that do not fit.
    """

    def __init__(self, encoder: Recurrent, decoder: Recurrent, source_vocab_size: int, target_vocab_size: int,
                 embedding_size: int, bos_index: int, eos_index: int, pad_index: int, attention: bool = True) -> None:
        super().__init__()
        for name, part in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(part, Recurrent):
                raise ValueError(f"the {name} must be a seqkit recurrent module (seqkit.modules.RNN, LSTM, GRU), "
                                 f"got {type(part).__name__}")
            if part.input_size != embedding_size:
                raise ValueError(f"the {name} reads embeddings of size {embedding_size}, but its input_size is "
                                 f"{part.input_size}; build it with input_size={embedding_size}")
            if not part.batch_first:
                raise ValueError(f"the {name} must be batch_first (seqkit's default): tensors are (B, T, ...)")
        if decoder.bidirectional:
            raise ValueError("the decoder must be unidirectional: it writes the target left to right")
        if (encoder.hidden_size, encoder.num_layers) != (decoder.hidden_size, decoder.num_layers):
            raise ValueError(
                f"the decoder starts from the encoder's final state, so both need the same hidden_size and "
                f"num_layers; got encoder ({encoder.hidden_size}, {encoder.num_layers}) and decoder "
                f"({decoder.hidden_size}, {decoder.num_layers})")
        self.encoder = encoder
        self.decoder = decoder
        self.bos_index, self.eos_index, self.pad_index = bos_index, eos_index, pad_index
        hidden = decoder.hidden_size
        self.source_embedding = nn.Embedding(source_vocab_size, embedding_size, padding_idx=pad_index)
        self.target_embedding = nn.Embedding(target_vocab_size, embedding_size, padding_idx=pad_index)
        # W_c of Luong et al.: [s_t; context_t] (2H) -> the attentional state s~_t (H).
        self.combine = nn.Linear(2 * hidden, hidden) if attention else None
        self.output = nn.Linear(hidden, target_vocab_size)  # W_out: logits; the softmax lives in the loss

    @property
    def attention(self) -> bool:
        return self.combine is not None

    # ------------------------------------------------------------------ the two halves

    def encode(self, source: Tensor, source_lengths: Tensor) -> tuple[Memory, DecoderState]:
        """Read the source: what attention reads and the decoder's initial state.

        Args:
            source: `(B, S)` token ids, padded after each source's end (with any id).
            source_lengths: `(B,)` real tokens of each source, all at least 1.

        Returns:
            `(Memory(outputs (B, S, H), mask (B, S)), state)` with `state` the decoder's
            initial state (`(L, B, H)`, or a pair of them for an LSTM decoder).
        """
        steps = source.size(1)
        x = self.source_embedding(source)                                            # (B, S, E)
        # Packed, so the encoder never reads padding and its final state is each source's own last step.
        packed = pack_padded_sequence(x, source_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, state = self.encoder(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=steps)  # (B, S, D*H), zeros past ends
        if self.encoder.bidirectional:
            hidden = self.encoder.hidden_size
            outputs = outputs[..., :hidden] + outputs[..., hidden:]                  # (B, S, H): directions summed
        mask = torch.arange(steps, device=source.device) < source_lengths.to(source.device).unsqueeze(1)  # (B, S)
        return Memory(outputs, mask), self._bridge(state)

    def _bridge(self, state: Tensor | tuple[Tensor, ...]) -> DecoderState:
        """The encoder's final state `(L*D, B, H)` (each part) -> the decoder's initial state `(L, B, H)`."""
        parts = state if isinstance(state, tuple) else (state,)
        if self.encoder.bidirectional:
            layers, batch, hidden = self.encoder.num_layers, parts[0].size(1), self.encoder.hidden_size
            # (L*2, B, H) is ordered layer by layer, forward then reverse: (L, 2, B, H), summed over directions.
            parts = tuple(p.view(layers, 2, batch, hidden).sum(1) for p in parts)
        h = parts[0]
        if self.decoder.state_size == 1:
            return h
        c = parts[1] if len(parts) > 1 else torch.zeros_like(h)  # an LSTM decoder after an RNN/GRU encoder
        return (h, c)

    def decode(self, target_in: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState]:
        """Run the decoder over `target_in` from `state`: every step at once, or one step.

        Args:
            target_in: `(B, T)` the tokens the decoder reads (`<bos>`, then the previous tokens).
            state: the decoder's state before the first of them.
            memory: what `encode` returned (for attention), rows matching `target_in`'s.

        Returns:
            `(logits (B, T, V), state after the last step)`.
        """
        y = self.target_embedding(target_in)                                         # (B, T, E)
        s, state = self.decoder(y, state)                                            # (B, T, H)
        if self.combine is not None:
            scores = s @ memory.outputs.transpose(1, 2)                              # (B, T, S): s_t . enc_j
            scores = scores.masked_fill(~memory.mask.unsqueeze(1), float("-inf"))    # padding gets weight 0
            weights = torch.softmax(scores, dim=-1)                                  # (B, T, S), each row sums to 1
            context = weights @ memory.outputs                                       # (B, T, H)
            s = torch.tanh(self.combine(torch.cat([s, context], dim=-1)))            # (B, T, H): s~_t
        return self.output(s), state                                                 # (B, T, V)

    def forward(self, source: Tensor, source_lengths: Tensor, target_in: Tensor) -> Tensor:
        """Teacher forcing: the logits of every target step given the gold previous tokens.

        Args:
            source: `(B, S)` source token ids.
            source_lengths: `(B,)` real tokens of each source.
            target_in: `(B, T)` `<bos>` followed by the target shifted right by one.

        Returns:
            `(B, T, V)` logits of the next target token at every step.
        """
        memory, state = self.encode(source, source_lengths)
        logits, _ = self.decode(target_in, state, memory)
        return logits

    # ------------------------------------------------------------------ decoding

    @torch.no_grad()
    def greedy(self, source: Tensor, source_lengths: Tensor, max_length: int = 50) -> Tensor:
        """Decode by taking the most likely token at every step.

        Args:
            source: `(B, S)` source token ids.
            source_lengths: `(B,)` real tokens of each source.
            max_length: the most tokens an output may have, `<eos>` included.

        Returns:
            `(B, T)` token ids, T <= max_length: each output up to and including its
            `<eos>`, then `pad_index`. An output that reached `max_length` has no `<eos>`.
        """
        memory, state = self.encode(source, source_lengths)
        batch = source.size(0)
        token = torch.full((batch, 1), self.bos_index, dtype=torch.long, device=source.device)  # (B, 1)
        finished = torch.zeros(batch, dtype=torch.bool, device=source.device)
        tokens = []
        for _ in range(max_length):
            logits, state = self.decode(token, state, memory)                        # (B, 1, V)
            token = logits.argmax(-1).masked_fill(finished.unsqueeze(1), self.pad_index)  # (B, 1)
            tokens.append(token)
            finished |= token.squeeze(1) == self.eos_index
            if bool(finished.all()):
                break
        return torch.cat(tokens, dim=1)                                              # (B, T)

    @torch.no_grad()
    def beam_search(self, source: Tensor, source_lengths: Tensor, beam_size: int = 4, max_length: int = 50) -> Tensor:
        """Decode each source by beam search, keeping the `beam_size` best partial outputs.

        One source at a time, for clarity: its `beam_size` hypotheses run through the
        decoder as one batch. At each step every live hypothesis is extended by every token,
        and the best `beam_size` extensions by total log-probability live on; an extension
        by `<eos>` is set aside as finished instead. The search stops when `beam_size`
        outputs have finished or after `max_length` steps (then the live hypotheses count
        as finished), and answers the finished output with the best length-normalised score,
        `sum of log-probabilities / number of tokens` (`<eos>` counted), so that longer
        outputs are not penalised merely for being longer. With `beam_size=1` this is
        exactly `greedy`.

        Args:
            source: `(B, S)` source token ids.
            source_lengths: `(B,)` real tokens of each source.
            beam_size: hypotheses kept at every step (at least 1).
            max_length: the most tokens an output may have, `<eos>` included.

        Returns:
            `(B, T)` token ids laid out as `greedy`'s: each output up to its `<eos>`, then
            `pad_index`.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        memory, state = self.encode(source, source_lengths)
        outputs = []
        for b in range(source.size(0)):
            one = Memory(memory.outputs[b:b + 1], memory.mask[b:b + 1])              # (1, S, H), (1, S)
            outputs.append(self._beam_one(one, _select(state, torch.tensor([b], device=source.device)), beam_size,
                                          max_length))
        width = max(len(tokens) for tokens in outputs)
        result = torch.full((len(outputs), width), self.pad_index, dtype=torch.long, device=source.device)
        for b, tokens in enumerate(outputs):
            result[b, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        return result

    def _beam_one(self, memory: Memory, state: DecoderState, beam_size: int, max_length: int) -> list[int]:
        """Beam search for one source: `memory` and `state` have batch 1; returns the best output's tokens."""
        device = memory.outputs.device
        hypotheses: list[list[int]] = [[]]                       # the live outputs so far (without <bos>)
        scores = torch.zeros(1, device=device)                   # (K,) their total log-probabilities
        last = torch.full((1, 1), self.bos_index, dtype=torch.long, device=device)  # (K, 1) the tokens to read next
        finished: list[tuple[float, list[int]]] = []             # (normalised score, tokens with <eos>)
        for _ in range(max_length):
            live = len(hypotheses)
            expanded = Memory(memory.outputs.expand(live, -1, -1), memory.mask.expand(live, -1))
            logits, state = self.decode(last, state, expanded)                       # (K, 1, V)
            total = scores.unsqueeze(1) + F.log_softmax(logits.squeeze(1), dim=-1)   # (K, V)
            vocab = total.size(1)
            # 2K candidates are enough: at most K of them end in <eos>, so K live ones remain.
            best, flat = total.flatten().topk(min(2 * beam_size, total.numel()))
            keep, next_tokens, next_scores = [], [], []
            for score, index in zip(best.tolist(), flat.tolist()):
                parent, token = divmod(index, vocab)
                tokens = hypotheses[parent] + [token]
                if token == self.eos_index:
                    finished.append((score / len(tokens), tokens))
                    if len(finished) == beam_size:
                        break
                else:
                    keep.append(parent)
                    next_tokens.append(tokens)
                    next_scores.append(score)
                    if len(keep) == beam_size:
                        break
            if len(finished) >= beam_size or not keep:
                break
            hypotheses = next_tokens
            parents = torch.tensor(keep, device=device)
            scores = torch.tensor(next_scores, device=device)
            state = _select(state, parents)                                          # follow each survivor's parent
            last = torch.tensor([tokens[-1] for tokens in hypotheses], device=device).unsqueeze(1)  # (K, 1)
        else:
            # max_length reached: the live outputs compete too, without an <eos>.
            finished.extend((score / len(tokens), tokens) for score, tokens in zip(scores.tolist(), hypotheses))
        return max(finished, key=lambda item: item[0])[1]


def _select(state: DecoderState, index: Tensor) -> DecoderState:
    """The rows `index` of the batch dimension (dim 1) of a state, `h` or `(h, c)`."""
    if isinstance(state, tuple):
        return tuple(part.index_select(1, index) for part in state)
    return state.index_select(1, index)
