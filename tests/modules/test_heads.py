"""Output heads return logits; the softmax lives in the loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from seqkit.modules import ClassifierHead, LanguageModelHead


def test_language_model_head_returns_logits_and_cross_entropy_is_log_softmax_nll():
    torch.manual_seed(0)
    head = LanguageModelHead(8, 20)
    h = torch.randn(2, 5, 8)
    logits = head(h)
    assert logits.shape == (2, 5, 20)
    assert not torch.allclose(logits.sum(-1), torch.ones(2, 5))  # logits, not probabilities
    targets = torch.randint(20, (2, 5))
    ce = F.cross_entropy(logits.reshape(-1, 20), targets.reshape(-1))
    nll = F.nll_loss(torch.log_softmax(logits, -1).reshape(-1, 20), targets.reshape(-1))
    torch.testing.assert_close(ce, nll)


def test_stable_where_softmax_then_log_is_not():
    logits = torch.tensor([[0.0, 200.0]])
    naive = -torch.log(torch.softmax(logits, -1))[0, 0]
    assert torch.isinf(naive)
    assert torch.isfinite(F.cross_entropy(logits, torch.tensor([0])))


def test_weight_tying_shares_one_parameter():
    embedding = torch.nn.Embedding(20, 8)
    head = LanguageModelHead(8, 20, tie_to=embedding)
    assert head.tied and head.proj.weight is embedding.weight
    model = torch.nn.ModuleDict({"embedding": embedding, "head": head})
    assert sum(p.numel() for p in model.parameters()) == 20 * 8 + 20
    with pytest.raises(ValueError, match=r"\(vocab_size, hidden_size\) = \(20, 16\), got \(20, 8\)"):
        LanguageModelHead(16, 20, tie_to=embedding)


def test_classifier_pooling_ignores_padding():
    torch.manual_seed(1)
    output = torch.randn(2, 4, 6)
    lengths = torch.tensor([4, 2])
    padded = output.clone()
    padded[1, 2:] = 1e6
    for pooling in ("last", "mean", "max", "concat"):
        head = ClassifierHead(6, 3, pooling=pooling)
        a = head.pool(padded, lengths)[1]
        b = head.pool(output[1:2, :2], torch.tensor([2]))[0]
        torch.testing.assert_close(a, b)
    head = ClassifierHead(6, 3, pooling="last", bidirectional=True)
    pooled = head.pool(output, lengths)
    torch.testing.assert_close(pooled[1], torch.cat([output[1, 1, :3], output[1, 0, 3:]]))
    assert head(output, lengths).shape == (2, 3)
    concat = ClassifierHead(6, 3, pooling="concat")
    assert concat.proj.in_features == 18 and concat(output, lengths).shape == (2, 3)
    parts = [ClassifierHead(6, 3, pooling=one).pool(output, lengths) for one in ("last", "max", "mean")]
    torch.testing.assert_close(concat.pool(output, lengths), torch.cat(parts, dim=1))  # ULMFiT's [last; max; mean]
    with pytest.raises(ValueError, match="pooling must be one of"):
        ClassifierHead(6, 3, pooling="attention")
