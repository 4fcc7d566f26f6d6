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


def test_a_fit_that_would_train_nothing_is_refused(tmp_path, capsys):
    for option in ("--trainer.max_epochs", "--trainer.max_steps", "--trainer.limit_train_batches"):
        assert main(["fit", "-c", "memory/adding", option, "0", "--trainer.default_root_dir", str(tmp_path)]) == 2
        assert "this fit would train nothing" in capsys.readouterr().err


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    assert main(["fit", "-c", "next_word/lstm", "--data.max_tokens", "300", "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                 "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root)]) == 0
    return root


@pytest.mark.parametrize("options, said", [
    (["--k", "0"], "k must be a whole number from 1 to the vocabulary's 300 words, got 0"),
    (["--k", "-2"], "got -2"),
    (["--k", "301"], "got 301"),
    (["--top_k", "0"], "top_k must be a whole number of at least 1"),
    (["--top_k", "-5"], "top_k must be a whole number of at least 1"),
    (["--temperature", "nan"], "temperature must be a positive number, got nan"),
    (["--temperature", "0"], "temperature must be a positive number, got 0.0"),
    (["--max_new_tokens", "-1"], "max_new_tokens must be a whole number of at least 0, got -1"),
])
def test_generation_options_that_cannot_work_get_one_line(options, said, language_model, capsys):
    assert main(["generate", "--ckpt_path", str(language_model), "--prompt", "and god said", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("seqkit generate: error: ") and said in err[-1]


def test_a_prompt_of_unknown_words_gets_a_note(language_model):
    with pytest.warns(UserWarning, match="no word of 'zzyzx qqq' is in the model's vocabulary"):
        assert main(["generate", "--ckpt_path", str(language_model), "--prompt", "zzyzx qqq", "--max_new_tokens", "0"]) == 0


def test_old_spellings_work_with_a_note(language_model, tmp_path, capsys):
    assert main(["generate", "--ckpt", str(language_model), "--prompt", "and god said", "--max-new-tokens", "3",
                 "--top-k", "5", "--seed", "0"]) == 0
    err = capsys.readouterr().err
    for old, new in (("--ckpt", "--ckpt_path"), ("--max-new-tokens", "--max_new_tokens"), ("--top-k", "--top_k")):
        assert f"seqkit generate: note: {old} is now {new}; the old name will go in a later release" in err
    assert main(["gradients", "--length", "10", "--output", str(tmp_path / "g.png")]) == 0  # the picture, as before
    assert (tmp_path / "g.png").stat().st_size > 5_000
    assert "the picture is now --plot" in capsys.readouterr().err


def test_device_auto_is_the_default_and_a_missing_gpu_is_one_line(language_model, capsys):
    import torch

    assert main(["generate", "--ckpt_path", str(language_model), "--prompt", "and", "--max_new_tokens", "0"]) == 0
    capsys.readouterr()
    if not torch.cuda.is_available():
        assert main(["generate", "--ckpt_path", str(language_model), "--prompt", "and", "--device", "cuda"]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            "seqkit generate: error: --device cuda: this machine has no CUDA device that torch can use; "
            "use --device cpu (or auto)")


def test_seed_is_a_name_for_seed_everything(capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", "memory/adding", "--seed", "3", "--print_config"])
    assert done.value.code == 0 and "seed_everything: 3" in capsys.readouterr().out


def _table(path, rows):
    path.write_text("text,label\n" + "".join(f"{text},{label}\n" for text, label in rows))
    return path


@pytest.mark.parametrize("rows, said", [
    ([(f"good thing {i}", "pos") for i in range(20)], "every training row has the label 'pos'"),
    ([(f"thing {i}", ["1.0", "0.0", "2.5"][i % 3]) for i in range(30)], "labels such as 2.5 have a fractional part"),
])
def test_training_labels_that_cannot_make_a_classifier_get_one_line(rows, said, tmp_path, capsys):
    table = _table(tmp_path / "mine.csv", rows)
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--data.train_path", str(table),
                 "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert said in capsys.readouterr().err.strip().splitlines()[-1]


def test_labels_are_tidied_with_a_warning(tmp_path):
    from seqkit.data import SentimentData

    rows = [(f"good {i}", "pos") for i in range(10)] + [(f"bad {i}", "pos ") for i in range(10)] + \
        [(f"awful {i}", "1.0") for i in range(10)] + [(f"fine {i}", "1") for i in range(10)]
    data = SentimentData(train_path=str(_table(tmp_path / "mine.csv", rows)))
    with pytest.warns(UserWarning, match=r"10 labels had spaces around them \(e.g. 'pos '\), read as 'pos'"):
        data.setup("fit")
    assert data.labels == ["1", "pos"]  # "pos " is "pos", "1.0" is "1"


@pytest.mark.parametrize("content, said", [
    (b"\x1f\x8b\x08\x00 compressed", "is a gzip-compressed file, not a CSV file; decompress it first"),
    (b"PK\x03\x04 a workbook", "is a zip archive (an .xlsx workbook is one), not a CSV file"),
    (None, "is not a regular file (a pipe or a device)"),
])
def test_a_file_that_is_not_text_gets_one_line_that_says_what_it_is(content, said, tmp_path, capsys):
    import os

    path = tmp_path / "reviews.csv"
    if content is None:
        os.mkfifo(path)  # no writer: reading it would wait forever
    else:
        path.write_bytes(content)
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--data.train_path", str(path),
                 "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert said in capsys.readouterr().err.strip().splitlines()[-1]


def test_classify_with_nothing_to_classify_says_so(language_model, tmp_path, capsys):
    assert main(["classify", "--ckpt_path", str(tmp_path / "x.ckpt")]) == 2
    assert "nothing to classify: give texts" in capsys.readouterr().err


@pytest.mark.parametrize("content, said", [
    ("", "is empty; a recipe names at least the model and the data"),
    ("# only a comment\n", "is empty"),
    ("- a\n- b\n", "holds list, not a recipe"),
    ("model: [\n", "not a readable YAML recipe"),
])
def test_a_config_file_that_is_no_recipe_gets_one_line(content, said, tmp_path, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text(content)
    assert main(["fit", "-c", str(config)]) == 2
    assert said in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("options, said", [
    (["--test_start", "tomorrow"], "--test_start 'tomorrow' is not a date"),
    (["--test_size", "-3"], "--test_size must be a number of steps"),
])
def test_backtest_spans_that_are_no_spans_get_one_line(options, said, tmp_path, capsys):
    assert main(["backtest", "--ckpt_path", str(tmp_path / "x.ckpt"), "--input", str(tmp_path / "in.csv"), *options]) == 2
    assert said in capsys.readouterr().err


def test_a_run_folder_that_is_a_file_gets_one_line(tmp_path, capsys):
    root = tmp_path / "runs"
    root.write_text("mine\n")
    assert main(["fit", "-c", "memory/adding", "--trainer.default_root_dir", str(root),
                 "--trainer.fast_dev_run", "true"]) == 2
    assert "is a file; runs need a folder there" in capsys.readouterr().err and root.read_text() == "mine\n"


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    root = tmp_path_factory.mktemp("co2")
    assert main(["fit", "-c", "forecasting/lstm", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", str(root)]) == 0
    return root


@pytest.mark.parametrize("options, said", [
    (["--test_size", "25"], "--test_size 25: a test span of 25 of the 2284 steps of {input}; give 26 to 2153 steps"),
    (["--test_size", "2154"], "give 26 to 2153 steps (at least the horizon, 26, and leaving 131 steps before it"),
    (["--test_start", "2030-01-01"], "--test_start 2030-01-01: 0 of the 2284 steps of {input} are on or after it; "
                                     "give a date from 1960-10-01 to 2001-07-07"),
    (["--test_start", "1950-01-01"], "2284 of the 2284 steps"),
])
def test_a_backtest_span_that_cannot_be_scored_is_said_in_backtests_terms(options, said, forecaster, capsys):
    from seqkit import packaged

    series = packaged.sample("co2_weekly.csv")
    assert main(["backtest", "--ckpt_path", str(forecaster), "--input", str(series), *options]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert said.format(input=series) in error and "--data." not in error
    assert main(["backtest", "--ckpt_path", str(forecaster), "--input", str(series), "--test_size", "26"]) == 0


def test_a_number_too_large_for_the_model_is_named_before_training(tmp_path, capsys):
    import pandas as pd

    from seqkit import packaged

    frame = pd.read_csv(packaged.sample("co2_weekly.csv"))
    frame.loc[100, "co2"] = 1e308
    series = tmp_path / "big.csv"
    frame.to_csv(series, index=False)
    assert main(["fit", "-c", "forecasting/lstm", "--data.train_path", str(series), "--data.time_column", "date",
                 "--data.target_columns", "[co2]", "--data.missing", "interpolate", "--trainer.fast_dev_run", "true",
                 "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert f"{series}: column 'co2' holds numbers too large for the model at line 102 (1e+308" in \
        capsys.readouterr().err
