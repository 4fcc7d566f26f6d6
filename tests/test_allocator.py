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
