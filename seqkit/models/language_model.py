"""`RecurrentLM`: the next-word model as a plain `nn.Module`, on token ids, with no Lightning.

    tokens (B, T) -> embedding (B, T, E) -> dropout -> encoder (B, T, H) -> dropout
                  -> head W_hy h_t + b_y -> logits (B, T, V)

Train it in any loop (docs/extending.md has one of 15 lines) or inside a LightningModule;
`seqkit.tasks.NextWordTask` holds one as `task.model`.
"""

from __future__ import annotations

from torch import Tensor, nn

from seqkit.errors import SeqkitError
from seqkit.modules import LanguageModelHead, Recurrent


class RecurrentLM(nn.Module):
    """A recurrent language model (the pytorch/examples word_language_model design).

    Args:
        vocab_size: the number of token ids.
        encoder: a seqkit recurrent module (`seqkit.modules.LSTM(200, 200, num_layers=2)`),
            forward-only: a bidirectional one would read the word it must predict. Its
            `input_size` is the embedding size.
        dropout: on the embeddings and on the encoder's output.
        tie_weights: the output layer shares the embedding matrix (Press & Wolf 2017); needs
            the encoder's hidden size to equal its input size.
    """

    def __init__(self, vocab_size: int, encoder: Recurrent, dropout: float = 0.2, tie_weights: bool = False) -> None:
        super().__init__()
        if encoder.bidirectional:
            raise SeqkitError("a language model cannot use a bidirectional encoder: the reverse pass would read the "
                              "word it must predict")
        if tie_weights and encoder.hidden_size != encoder.input_size:
            raise SeqkitError(f"tie_weights needs the encoder's hidden_size ({encoder.hidden_size}) to equal its "
                              f"input_size (the embedding size, {encoder.input_size})")
        self.embedding = nn.Embedding(vocab_size, encoder.input_size)
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.head = LanguageModelHead(encoder.hidden_size, vocab_size, tie_to=self.embedding if tie_weights else None)

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, object]:
        """`tokens (B, T)` ids, the state carried from before (None: zeros) -> `logits (B, T, V)`, the final state."""
        x = self.drop(self.embedding(tokens))   # (B, T, E)
        output, state = self.encoder(x, state)  # (B, T, H)
        return self.head(self.drop(output)), state
