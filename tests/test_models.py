"""The models in seqkit.models work alone: a plain PyTorch loop trains RecurrentLM, and each model is what its task runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqkit.models import RecurrentClassifier, RecurrentForecaster, RecurrentLM, RecurrentReadout, generation
from seqkit.modules import GRU, LSTM

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_plain_loop_of_the_docs_trains_a_language_model(capsys):
    """The 15-line loop in docs/models.md, run as written: the loss falls and the model knows what follows."""
    [code] = re.findall(r"```python\n(.*?)```", (DOCS / "models.md").read_text(), re.S)
    assert len([line for line in code.strip().splitlines() if line.strip()]) <= 22
    torch.manual_seed(0)
    scope: dict = {}
    exec(compile(code, "docs/models.md", "exec"), scope)  # noqa: S102 -- the page's own example
    assert "lightning" not in code
    loss = float(capsys.readouterr().out.split()[-1])
    assert loss < 0.6  # the toy text is nearly deterministic: from ln(V) = 2.1 to well below 1
    model, vocab, tokenize = scope["model"], scope["vocab"], scope["tokenize"]
    model.eval()
    probabilities, _ = generation.next_token_probabilities(model, torch.tensor([vocab(tokenize("the cat"))]))
    assert vocab.lookup_token(int(probabilities.argmax())) == "sat"


def test_the_models_import_no_lightning():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import sys, seqkit.models; "
                           "print(any(name.startswith(('lightning', 'pytorch_lightning')) for name in sys.modules))"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_each_model_has_the_shapes_it_promises():
    lm = RecurrentLM(50, LSTM(8, 8), tie_weights=True)
    logits, (h, c) = lm(torch.randint(0, 50, (3, 7)))
    assert logits.shape == (3, 7, 50) and h.shape == (1, 3, 8) and lm.head.proj.weight is lm.embedding.weight
    classifier = RecurrentClassifier(50, LSTM(8, 6, bidirectional=True), num_classes=4, pooling="mean", padding_idx=0)
    tokens, lengths = torch.randint(1, 50, (3, 9)), torch.tensor([9, 4, 1])
    tokens[1, 4:], tokens[2, 1:] = 0, 0
    logits = classifier.eval()(tokens, lengths)
    assert logits.shape == (3, 4)
    torch.testing.assert_close(classifier(tokens[1:2, :4], lengths[1:2]), logits[1:2])  # padding changes nothing
    forecaster = RecurrentForecaster(LSTM(3, 8), horizon=5, n_targets=2, future_size=1, n_quantiles=3)
    assert forecaster(torch.randn(4, 12, 3), torch.randn(4, 5, 1)).shape == (4, 5, 2, 3)
    readout = RecurrentReadout(LSTM(2, 8, bidirectional=True), n_outputs=1, regression=True)
    assert readout(torch.randn(5, 30, 2)).shape == (5,)
    assert RecurrentReadout(LSTM(2, 8), n_outputs=4)(torch.randn(5, 30, 2)).shape == (5, 4)


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_the_classifiers_weight_drop_masks_w_hh_in_training_only(backend):
    torch.manual_seed(0)
    plain = RecurrentClassifier(50, LSTM(8, 6, backend=backend), num_classes=3, dropout=0.0)
    dropped = RecurrentClassifier(50, LSTM(8, 6, backend=backend), num_classes=3, dropout=0.0, weight_drop=0.5)
    dropped.load_state_dict(plain.state_dict())  # the same keys: no parameter is added or renamed
    tokens, lengths = torch.randint(0, 50, (4, 7)), torch.tensor([7, 5, 3, 2])
    torch.testing.assert_close(dropped.eval()(tokens, lengths), plain.eval()(tokens, lengths))  # whole W_hh in eval
    before = dropped.encoder.weight_hh_l0.detach().clone()
    dropped.train()
    first, second = dropped(tokens, lengths), dropped(tokens, lengths)
    assert not torch.allclose(first, second)  # a fresh mask per batch
    torch.manual_seed(1)
    masked = dropped(tokens, lengths)
    torch.manual_seed(1)
    mask = torch.nn.functional.dropout(torch.ones_like(plain.encoder.weight_hh_l0), 0.5)
    with torch.no_grad():
        plain.encoder.weight_hh_l0.mul_(mask)  # W_hh with that mask (scaled by 1 / (1 - p)), by hand
    torch.testing.assert_close(masked, plain.eval()(tokens, lengths))
    masked.sum().backward()
    assert dropped.encoder.weight_hh_l0.grad.abs().sum() > 0  # the weights learn through their masks
    assert torch.equal(dropped.encoder.weight_hh_l0, before)  # and are never changed by them
    with pytest.raises(ValueError, match="weight_drop"):
        RecurrentClassifier(50, LSTM(8, 6), num_classes=3, weight_drop=1.0)


def test_the_forecaster_in_segments_reads_each_channel_alone_with_one_shared_head():
    """`segment=4`: a channel's window of 12 steps is 3 recurrent steps of 4 values, and no channel sees another."""
    torch.manual_seed(0)
    forecaster = RecurrentForecaster(LSTM(4, 8), horizon=5, n_targets=3, segment=4, revin=True, linear_skip=12)
    torch.nn.init.normal_(forecaster.head.weight)  # the head starts at zero; give the encoder a say
    past = torch.randn(2, 12, 3)
    forecast = forecaster(past, torch.zeros(2, 5, 0))
    assert forecast.shape == (2, 5, 3, 1) and forecaster.head.out_features == 5  # one head for the 3 channels
    changed = past.clone()
    changed[:, :, 1] += torch.randn(2, 12)
    again = forecaster(changed, torch.zeros(2, 5, 0))
    torch.testing.assert_close(again[:, :, [0, 2]], forecast[:, :, [0, 2]])  # channels 0 and 2 never saw channel 1
    assert not torch.allclose(again[:, :, 1], forecast[:, :, 1])
    # The same channel in another position is forecast alike: the head and the encoder are shared.
    swapped = forecaster(past[:, :, [2, 1, 0]], torch.zeros(2, 5, 0))
    torch.testing.assert_close(swapped[:, :, 0], forecast[:, :, 2])
    with pytest.raises(ValueError, match="segment=4 reads each target alone: it needs an encoder of input_size 4"):
        RecurrentForecaster(LSTM(3, 8), horizon=5, n_targets=3, segment=4)
    with pytest.raises(ValueError, match="segment=4 must divide the input window; got 10 steps"):
        forecaster(torch.randn(2, 10, 3), torch.zeros(2, 5, 0))
    with pytest.raises(ValueError, match="segment=4 reads the 3 targets alone; got 4 features a step"):
        forecaster(torch.randn(2, 12, 4), torch.zeros(2, 5, 0))


def test_the_forecasters_linear_skip_starts_from_the_windows_mean_and_learns_a_linear_map():
    """`linear_skip=L`: a map from the window's L steps to the H of the horizon, shared by the targets."""
    torch.manual_seed(0)
    forecaster = RecurrentForecaster(GRU(2, 8), horizon=3, n_targets=2, linear_skip=12)
    past = torch.randn(4, 12, 2)
    start = forecaster(past, torch.zeros(4, 3, 0))
    torch.testing.assert_close(start[..., 0], past.mean(dim=1, keepdim=True).expand(4, 3, 2))  # the head starts at zero
    # Any linear map of the window is in reach: the skip alone fits "the value two steps before the end" exactly.
    with torch.no_grad():
        forecaster.skip.weight.zero_()
        forecaster.skip.weight[:, -3] = 1.0
    torch.testing.assert_close(forecaster(past, torch.zeros(4, 3, 0))[..., 0], past[:, -3:-2].expand(4, 3, 2))
    assert {"skip.weight", "skip.bias"} <= set(forecaster.state_dict())
    assert "skip.weight" not in RecurrentForecaster(GRU(2, 8), horizon=3, n_targets=2).state_dict()
