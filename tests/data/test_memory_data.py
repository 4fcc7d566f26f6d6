"""AddingData and RecallData: shapes, the markers and targets, determinism per seed, disjoint splits, bad arguments."""

from __future__ import annotations

import pytest
import torch

from seqkit.data import AddingData, MemoryBatch, RecallData
from seqkit.data.memory import ADDING_TRIVIAL_MSE, adding_problem, recall_problem
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
def test_recall_shows_a_symbol_then_distractors_then_the_cue():
    n_symbols, length = 5, 9
    inputs, target = recall_problem(300, length, n_symbols, torch.Generator().manual_seed(2))
    assert inputs.shape == (300, length + 1, 2 * n_symbols + 1) and inputs.dtype == torch.float32
    assert target.dtype == torch.int64 and target.shape == (300,)
    assert (inputs.sum(-1) == 1).all()  # one-hot at every step
    tokens = inputs.argmax(-1)  # (N, T + 1)
    assert torch.equal(tokens[:, 0], target)  # the target is the first symbol
    assert ((tokens[:, 1:-1] >= n_symbols) & (tokens[:, 1:-1] < 2 * n_symbols)).all()  # distractors: their own set
    assert (tokens[:, -1] == 2 * n_symbols).all()  # the cue, alone, at the last step
    assert set(target.tolist()) == set(range(n_symbols))


def test_recall_data_sizes_its_task_and_is_deterministic():
    data = ready(RecallData(length=6, n_symbols=4, train_size=64, val_size=16, test_size=16, batch_size=8, seed=5))
    assert data.kind == "classification" and data.input_size == 9 and data.n_classes == 4
    assert data.chance_accuracy == 0.25
    batch = next(iter(data.val_dataloader()))
    assert batch.inputs.shape == (16, 7, 9) and batch.target.dtype == torch.int64
    again = ready(RecallData(length=6, n_symbols=4, train_size=64, val_size=16, test_size=16, batch_size=8, seed=5))
    assert all(torch.equal(data.splits[s].inputs, again.splits[s].inputs) for s in ("train", "val", "test"))
    long = ready(RecallData(length=30, train_size=300, val_size=300, test_size=300))
    rows = [tuple(x.argmax(-1).tolist()) for split in ("train", "val", "test") for x in long.splits[split].inputs]
    assert len(set(rows)) == len(rows)


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
