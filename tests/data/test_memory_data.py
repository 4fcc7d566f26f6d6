"""AddingData and RecallData: shapes, the markers and targets, one alphabet for recall, chance, determinism per seed, disjoint splits, bad arguments."""

from __future__ import annotations

import pytest
import torch

from seqkit.data import AddingData, MemoryBatch, RecallData
from seqkit.data.memory import ADDING_TRIVIAL_MSE, adding_problem, marked_window, recall_problem
from seqkit.errors import DataError


def ready(data):
    data.setup("fit")
    return data


# ----------------------------------------------------------------------------- the adding problem
def test_adding_batches_are_memory_batches_of_the_promised_shapes():
    data = ready(AddingData(length=12, train_size=100, val_size=30, test_size=20, batch_size=16, eval_batch_size=25))
    batch = next(iter(data.train_dataloader()))
    assert isinstance(batch, MemoryBatch)
    assert batch.inputs.shape == (16, 12, 2) and batch.inputs.dtype == torch.float32
    assert batch.target.shape == (16,) and batch.target.dtype == torch.float32
    assert [len(b.target) for b in data.val_dataloader()] == [25, 5]
    assert sum(len(b.target) for b in data.test_dataloader()) == 20
    assert data.kind == "regression" and data.input_size == 2


@pytest.mark.parametrize("length", [2, 3, 11, 50])
def test_two_markers_one_in_each_half_and_the_target_is_their_sum(length):
    inputs, target = adding_problem(500, length, torch.Generator().manual_seed(1))
    values, markers = inputs[..., 0], inputs[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = length // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    assert torch.allclose(target, (values * markers).sum(1))


def test_the_trivial_answer_scores_one_sixth():
    data = ready(AddingData(length=20, train_size=20000, val_size=20000))
    val = data.splits["val"].target
    assert ADDING_TRIVIAL_MSE == pytest.approx(1 / 6)
    assert data.target_mean == pytest.approx(1.0, abs=0.01)
    assert ((val - 1) ** 2).mean().item() == pytest.approx(ADDING_TRIVIAL_MSE, abs=0.005)


def test_the_same_seed_gives_the_same_splits_and_splits_share_no_sequence():
    first, again, other = (ready(AddingData(length=10, train_size=200, val_size=200, test_size=200, seed=s))
                           for s in (3, 3, 4))
    for split in ("train", "val", "test"):
        assert torch.equal(first.splits[split].inputs, again.splits[split].inputs)
        assert not torch.equal(first.splits[split].inputs, other.splits[split].inputs)
    rows = [tuple(x.flatten().tolist()) for split in ("train", "val", "test") for x in first.splits[split].inputs]
    assert len(set(rows)) == len(rows)


def test_generation_never_touches_the_global_random_state():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    ready(AddingData(length=10, train_size=50, val_size=5, test_size=5))
    ready(RecallData(length=10, train_size=50, val_size=5, test_size=5))
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------- delayed recall
def parts(inputs, n_symbols):
    """A recall batch taken apart: symbol ids (N, T), marker (N, T), cue (N, T + 1)."""
    steps = inputs[:, :-1]
    return steps[..., :n_symbols].argmax(-1), steps[..., n_symbols], inputs[..., n_symbols + 1]


@pytest.mark.parametrize("length", [2, 9, 19, 20, 100])
def test_recall_marks_one_early_symbol_of_one_alphabet_and_asks_for_it_at_the_cue(length):
    n_symbols = 5
    inputs, target = recall_problem(2000, length, n_symbols, torch.Generator().manual_seed(2))
    assert inputs.shape == (2000, length + 1, n_symbols + 2) and inputs.dtype == torch.float32
    assert target.shape == (2000,) and target.dtype == torch.int64
    symbols, marker, cue = parts(inputs, n_symbols)
    # Every step before the cue shows exactly one symbol; the cue step shows nothing else.
    assert (inputs[:, :-1, :n_symbols].sum(-1) == 1).all()
    assert (inputs[:, -1, : n_symbols + 1] == 0).all() and (cue[:, -1] == 1).all() and (cue[:, :-1] == 0).all()
    # One marker per sequence, in the first tenth (step 0 when T < 20), and the target is the marked symbol.
    assert set(marker.unique().tolist()) <= {0.0, 1.0} and (marker.sum(1) == 1).all()
    position = marker.argmax(1)
    window = max(1, length // 10)
    assert marked_window(length) == window
    assert (position < window).all() and set(position.tolist()) == set(range(window))
    assert torch.equal(target, symbols.gather(1, position.unsqueeze(1)).squeeze(1))
    # The same alphabet everywhere: the symbols after the marked one are as varied as the target.
    after = symbols[:, window:] if length > window else symbols
    assert set(after.unique().tolist()) == set(target.unique().tolist()) == set(range(n_symbols))


def test_the_marked_symbol_cannot_be_told_apart_by_identity():
    # The symbol at the marked step is drawn like every other: each symbol about 1/S of the time, marked or not.
    n_symbols, length = 4, 50
    inputs, target = recall_problem(20000, length, n_symbols, torch.Generator().manual_seed(3))
    symbols, marker, _ = parts(inputs, n_symbols)
    marked_share = torch.bincount(target, minlength=n_symbols) / len(target)
    other_share = torch.bincount(symbols[marker == 0], minlength=n_symbols) / (marker == 0).sum()
    assert torch.allclose(marked_share, torch.full((n_symbols,), 1 / n_symbols), atol=0.015)
    assert torch.allclose(other_share, torch.full((n_symbols,), 1 / n_symbols), atol=0.005)


def test_recall_data_sizes_its_task_states_chance_and_is_deterministic():
    data = ready(RecallData(length=6, n_symbols=4, train_size=64, val_size=16, test_size=16, batch_size=8, seed=5))
    assert data.kind == "classification" and data.input_size == 6 and data.n_classes == 4
    assert data.chance_accuracy == 0.25
    batch = next(iter(data.val_dataloader()))
    assert batch.inputs.shape == (16, 7, 6) and batch.target.dtype == torch.int64
    again, other = (ready(RecallData(length=6, n_symbols=4, train_size=64, val_size=16, test_size=16, batch_size=8,
                                     seed=s)) for s in (5, 6))
    for split in ("train", "val", "test"):
        assert torch.equal(data.splits[split].inputs, again.splits[split].inputs)
        assert torch.equal(data.splits[split].target, again.splits[split].target)
        assert not torch.equal(data.splits[split].inputs, other.splits[split].inputs)
    long = ready(RecallData(length=30, train_size=300, val_size=300, test_size=300))
    rows = [tuple(x.flatten().tolist()) for split in ("train", "val", "test") for x in long.splits[split].inputs]
    assert len(set(rows)) == len(rows)


def test_guessing_scores_the_stated_chance():
    data = ready(RecallData(length=20, n_symbols=8, train_size=10, val_size=20000, test_size=10))
    guesses = torch.randint(0, 8, (20000,), generator=torch.Generator().manual_seed(0))
    accuracy = (guesses == data.splits["val"].target).float().mean().item()
    assert data.chance_accuracy == 1 / 8 and accuracy == pytest.approx(data.chance_accuracy, abs=0.01)


# ----------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("make, argument", [
    (lambda: AddingData(length=1), "length"),
    (lambda: AddingData(length=10.5), "length"),
    (lambda: AddingData(train_size=0), "train_size"),
    (lambda: AddingData(val_size=-3), "val_size"),
    (lambda: AddingData(test_size=0), "test_size"),
    (lambda: AddingData(batch_size=0), "batch_size"),
    (lambda: AddingData(eval_batch_size=0), "eval_batch_size"),
    (lambda: AddingData(seed=-1), "seed"),
    (lambda: RecallData(length=1), "length"),
    (lambda: RecallData(n_symbols=1), "n_symbols"),
    (lambda: RecallData(train_size=True), "train_size"),
])
def test_bad_arguments_raise_a_one_line_data_error_naming_the_flag(make, argument):
    with pytest.raises(DataError) as error:
        make()
    message = str(error.value)
    assert message.startswith(f"{argument} must be") and f"--data.{argument}" in message and "\n" not in message
