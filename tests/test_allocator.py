"""`seqkit fit|validate|test|predict` tune glibc's allocator, unless the user has chosen otherwise."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

from seqkit.training import allocator

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or "libc" not in str(ctypes.util.find_library("c")),
                           reason="glibc's mallopt is Linux's")


@glibc
def test_the_thresholds_are_set_on_glibc(monkeypatch):
    for name in ("SEQKIT_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert allocator.tune()


@pytest.mark.parametrize("name,value", [("SEQKIT_MALLOC", "default"), ("MALLOC_MMAP_THRESHOLD_", "65536"),
                                        ("MALLOC_TRIM_THRESHOLD_", "0")])
def test_the_users_own_settings_win(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert not allocator.tune()


def test_the_lightning_commands_tune_it_first(monkeypatch):
    from seqkit.training import lightning_cli

    called = []
    monkeypatch.setattr(allocator, "tune", lambda: called.append(True) or True)
    monkeypatch.setattr(lightning_cli, "build", lambda args: None)
    assert lightning_cli.run(["fit", "--help"]) == 0 and called


def test_a_step_whose_activations_cannot_fit_is_refused_before_it_runs(language_model, monkeypatch):
    import pytest
    import torch

    from seqkit.errors import SeqkitError
    from seqkit.tasks import NextWordTask
    from seqkit.training import allocator

    task = NextWordTask.from_checkpoint(language_model)
    batch = (torch.zeros(8, 1000, dtype=torch.long), torch.zeros(8, 1000, dtype=torch.long))
    b, t, needed = allocator.step_bytes(task, batch)
    encoder = task.encoder
    assert (b, t) == (8, 1000)
    assert needed == 4 * 8 * 1000 * (encoder.hidden_size * (encoder.gates + 2) * encoder.num_layers + 3 * len(task.vocab))
    assert allocator.step_bytes(task, batch, training=False)[2] < needed  # evaluating keeps less
    monkeypatch.setattr(allocator, "free_memory", lambda device: needed)
    allocator.StepMemory()._check(task, batch, training=True)  # it fits, just
    monkeypatch.setattr(allocator, "free_memory", lambda device: needed - 1)
    with pytest.raises(SeqkitError, match=r"one training step would need at least .* GiB for its activations \(a batch "
                                          r"of 8 x 1000 steps\), and .* GiB is free; lower --data.batch_size"):
        allocator.StepMemory()._check(task, batch, training=True)


def test_seqkit_fit_checks_the_first_step_before_it_runs(monkeypatch, tmp_path, capsys):
    from seqkit.cli import main

    monkeypatch.setattr(allocator, "free_memory", lambda device: 1024)  # a machine with 1 KiB free
    assert main(["fit", "-c", "memory/adding", "--trainer.fast_dev_run", "true", "--trainer.default_root_dir",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("seqkit fit: error: one ") and "step would need at least" in err and "lower --data.batch_size" in err
