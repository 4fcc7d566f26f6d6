"""`RecurrentClassifier`: one label per text from a recurrent encoder, as a plain `nn.Module` on token ids.

    tokens (B, T) + lengths (B,) -> (reverse: each text's tokens last first) -> embedding (B, T, E) -> dropout
        -> packed sequence -> encoder, uni- or bidirectional (in training, W_hh masked if weight_drop) -> output (B, T, D*H)
        -> pooling over each text's real steps (last, mean, max or all three) -> dropout -> logits (B, C)

Texts are padded to the longest in their batch and handed to the encoder packed, so padding
never reaches a step: a text gets the same logits alone and in a batch of longer ones.
`seqkit.tasks.SentimentTask` holds one as `task.model`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqkit.modules import ClassifierHead, Recurrent


class RecurrentClassifier(nn.Module):
    """A recurrent text classifier.

    Args:
        vocab_size: the number of token ids.
        encoder: a seqkit recurrent module; its `input_size` is the embedding size.
        num_classes: the number of labels.
        pooling: `"last"`, `"mean"`, `"max"` over each text's real steps, or `"concat"` (all three).
        dropout: on the embeddings and on the pooled features.
        padding_idx: the id of `<pad>`, whose embedding row stays zero (None: no such row).
        reverse: read each text last word first (padding stays at the end). A classifier
            started from a backward language model reads as it did; averaged with a forward
            one, the pair is ULMFiT's forward and backward ensemble.
        weight_drop: in training, the probability of zeroing each recurrent weight (W_hh) for
            a batch, DropConnect as in AWD-LSTM and ULMFiT's classifier; 0 leaves them whole.
    """

    def __init__(self, vocab_size: int, encoder: Recurrent, num_classes: int, pooling: str = "max",
                 dropout: float = 0.5, padding_idx: int | None = None, reverse: bool = False,
                 weight_drop: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= weight_drop < 1.0:
            raise ValueError(f"weight_drop is a probability in [0, 1), got {weight_drop}")
        self.reverse, self.weight_drop = reverse, weight_drop
        self.embedding = nn.Embedding(vocab_size, encoder.input_size, padding_idx=padding_idx)
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.head = ClassifierHead(encoder.hidden_size * encoder.num_directions, num_classes, pooling=pooling,
                                   dropout=dropout, bidirectional=encoder.bidirectional)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        """`tokens (B, T)` ids padded at the end, `lengths (B,)` -> logits `(B, C)`.

        Without `lengths` every row is a whole text of T tokens (one text, or texts of one
        length): nothing is packed, the form that ONNX takes. Under `torch.export` the texts
        are not packed either but run padded, each stopping at its length
        (`Recurrent.forward_padded`): the same logits, with shapes fixed by T alone.
        """
        if self.reverse:
            tokens = reverse_texts(tokens, lengths)                                  # (B, T)
        x = self.drop(self.embedding(tokens))                                        # (B, T, E)
        if lengths is None:
            output, _ = self._encode(x)                                              # (B, T, D*H)
            return self.head(output)
        if torch.compiler.is_exporting() or torch.jit.is_tracing():  # no data-dependent shapes: run padded, each text stopping at its length
            output, _ = self.encoder.forward_padded(x, lengths)                      # (B, T, D*H)
            return self.head(output, lengths)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self._encode(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=tokens.size(1))  # (B, T, D*H), zeros past each length
        return self.head(output, lengths)

    def _encode(self, x: Tensor | PackedSequence) -> tuple[Tensor | PackedSequence, tuple[Tensor, ...]]:
        """The encoder on `x`; in training with `weight_drop`, on its W_hh with a fresh DropConnect mask."""
        if not (self.training and self.weight_drop):
            return self.encoder(x)
        # The same dropped W_hh at every step of the batch: the recurrence is regularised
        # without a new mask per step, and the fused kernel still runs. The parameters
        # themselves (and the state dict) are untouched.
        dropped = {name: F.dropout(weight, self.weight_drop) for name, weight in self.encoder.named_parameters()
                   if name.startswith("weight_hh")}
        return torch.func.functional_call(self.encoder, dropped, (x,))


def reverse_texts(tokens: Tensor, lengths: Tensor | None) -> Tensor:
    """`tokens (B, T)` with each row's first `lengths[b]` ids in reverse order; the padding after them stays put."""
    steps = torch.arange(tokens.size(1), device=tokens.device).unsqueeze(0)          # (1, T)
    if lengths is None:
        return tokens.flip(1)
    lengths = lengths.to(tokens.device).unsqueeze(1)                                 # (B, 1)
    source = torch.where(steps < lengths, lengths - 1 - steps, steps)                # (B, T): where step t reads from
    return tokens.gather(1, source)
