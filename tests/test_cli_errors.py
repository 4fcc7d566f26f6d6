"""Options that cannot work end in one line that names the option, never a traceback or a guess."""

from __future__ import annotations

import pytest

from seqkit.cli import main

CASES = [  # (recipe, options, what the one line says)
    ("memory/adding", ["--trainer.max_epoch", "1"], "unrecognized arguments: --trainer.max_epoch 1"),
    ("memory/adding", ["--trainer.max_epo", "1"], "unrecognized arguments: --trainer.max_epo 1"),
    ("memory/adding", ["--model.init_args.encoder.init_args.hidden_size", "0"],
     "hidden_size must be a positive integer, got 0"),
    ("sentiment/lstm_reviews", ["--model.init_args.dropout", "1.5"],
     "--model.init_args.dropout must be at least 0 and below 1, got 1.5"),
    ("sentiment/lstm_reviews", ["--model.init_args.lr", "-1"], "--model.init_args.lr must be at least 0, got -1.0"),
    ("forecasting/lstm", ["--model.init_args.weight_decay", "-0.1"],
     "--model.init_args.weight_decay must be at least 0, got -0.1"),
    ("next_word/lstm", ["--data.max_tokens", "0"], "max_tokens must be an integer above the number of specials"),
]


@pytest.mark.parametrize("recipe, options, said", CASES, ids=[" ".join(c[1]) for c in CASES])
def test_a_bad_option_gets_one_line(recipe, options, said, tmp_path, capsys):
    code = main(["fit", "-c", recipe, *options, "--trainer.fast_dev_run", "true", "--trainer.default_root_dir",
                 str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("seqkit fit: error: ") and said in err[-1], err
    assert not any("Traceback" in line or line.startswith("usage:") for line in err), err
    assert not (tmp_path / "lightning_logs").exists()  # nothing ran
