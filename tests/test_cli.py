"""The `seqkit` command: fast help, version, trace, modules, and the Lightning subcommands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqkit import __version__
from seqkit.cli import main

TESTS = Path(__file__).resolve().parent

EXERCISE = """\
cell: rnn
weight_ih_l0: [[0.5], [-1.0]]
weight_hh_l0: [[0.1, 0.2], [0.3, 0.4]]
bias_ih_l0: [0.0, 0.1]
bias_hh_l0: [0.0, 0.0]
x: [1.0, 0.5, -1.0]
"""


def _seqkit(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqkit.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def test_help_and_version_import_neither_torch_nor_lightning():
    code = ("import sys\nfrom seqkit.cli import main\n"
            "for argv in (['--help'], ['--version']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'torch' not in sys.modules and 'lightning' not in sys.modules, 'heavy import'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "fit" in done.stdout and "trace" in done.stdout and f"seqkit {__version__}" in done.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_trace_checks_a_textbook_exercise_by_hand(tmp_path, capsys):
    spec = tmp_path / "exercise.yaml"
    spec.write_text(EXERCISE)
    assert main(["trace", "--weights", str(spec), "--csv", str(tmp_path / "trace.csv")]) == 0
    out = capsys.readouterr().out
    assert "h_t = tanh(a_t)" in out
    # t=0: a = [0.5, -0.9], h = tanh(a); t=1: a = W_hh h_0 + W_xh * 0.5 + b
    assert "[0.5000 -0.9000] [0.4621 -0.7163]" in out
    assert "[0.1530 -0.5479] [0.1518 -0.4989]" in out
    import pandas as pd

    table = pd.read_csv(tmp_path / "trace.csv")
    assert json.loads(table.h[2]) == pytest.approx([-0.5260, 0.7379], abs=1e-4)
    # an existing output file is never overwritten without --force
    with pytest.raises(SystemExit):
        main(["trace", "--weights", str(spec), "--csv", str(tmp_path / "trace.csv")])
    assert "pass --force" in capsys.readouterr().err


def test_trace_random_lstm_and_bad_weight_files(tmp_path, capsys):
    assert main(["trace", "--cell", "lstm", "--hidden-size", "3", "--x", "1,0.5,-1"]) == 0
    out = capsys.readouterr().out
    assert "c_t = f * c_{t-1} + i * g" in out and " i " in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXERCISE.replace("cell: rnn", "cell: lstm"))
    with pytest.raises(SystemExit):
        main(["trace", "--weights", str(bad)])
    assert "weight_hh_l0 has 2 rows; a lstm with hidden size 2 needs 8" in capsys.readouterr().err
    bad.write_text(EXERCISE.replace("bias_hh_l0: [0.0, 0.0]\n", ""))
    with pytest.raises(SystemExit):
        main(["trace", "--weights", str(bad)])
    assert "missing ['bias_hh_l0']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["trace", "--weights", str(tmp_path / "absent.yaml")])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["trace", "--x", "1,two"])
    assert "--x must be comma-separated numbers" in capsys.readouterr().err


def test_modules_quick_comparison(capsys):
    assert main(["modules", "--cells", "rnn", "--sizes", "S", "--budget", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "S rnn   fused 0.0e+00" in out  # the fused path is torch's own kernel
    assert "fwd+bwd" in out
    with pytest.raises(SystemExit, match="unknown cells"):
        main(["modules", "--cells", "transformer"])


@pytest.mark.slow
def test_fit_runs_lightning_cli_with_a_seqkit_module(tmp_path):
    done = _seqkit("fit", "--model", "toy_task.ToyTask", "--data", "toy_task.ToyData",
                   "--trainer.fast_dev_run", "2", "--trainer.default_root_dir", str(tmp_path),
                   cwd=tmp_path, env={"PYTHONPATH": str(TESTS)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "max_steps=2" in done.stderr + done.stdout


def test_fit_help_lists_trainer_options():
    done = _seqkit("fit", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--trainer.max_epochs" in done.stdout and "--print_config" in done.stdout
