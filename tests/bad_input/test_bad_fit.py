"""`seqkit fit` given options, recipes or training data that cannot work: one line that names the problem.

Nothing is trained, nothing guessed (an abbreviated or misspelt key is refused), and the
user's files stay as they were. The data files themselves are in `test_bad_fit_data.py`.
"""

from __future__ import annotations

import pytest

from seqkit.cli import main



def _overcommits() -> bool:
    try:
        with open("/proc/sys/vm/overcommit_memory") as setting:
            return setting.read().strip() == "1"
    except OSError:
        return False


CASES = [  # (recipe, options, what the one line says)
    ("memory/adding", ["--trainer.max_epoch", "1"], "unrecognized arguments: --trainer.max_epoch 1"),
    ("memory/adding", ["--trainer.max_epo", "1"], "unrecognized arguments: --trainer.max_epo 1"),
    ("memory/adding", ["--model.init_args.encoder.init_args.hidden_size", "0"],
     "hidden_size must be a positive integer, got 0"),
    ("sentiment/lstm_reviews", ["--model.init_args.dropout", "1.5"],
     "--model.init_args.dropout must be at least 0 and below 1, got 1.5"),
    ("sentiment/lstm_reviews", ["--model.init_args.weight_drop", "1"],
     "--model.init_args.weight_drop must be at least 0 and below 1, got 1.0"),
    ("sentiment/lstm_reviews", ["--model.init_args.optimizer.init_args.lr", "-1"],
     "--model.init_args.optimizer: Invalid learning rate: -1.0"),
    ("sentiment/lstm_reviews", ["--model.init_args.lr", "0.1"],
     "--model seqkit.tasks.SentimentTask: Option 'lr' is not accepted (`seqkit fit --help` lists the options)"),
    ("forecasting/lstm", ["--data.time_column", "date"],
     "--data seqkit.data.ForecastData: Option 'time_column' is not accepted"),
    ("forecasting/lstm", ["--model.init_args.optimizer.init_args.weight_decay", "-0.1"],
     "--model.init_args.optimizer: Invalid weight_decay value: -0.1"),
    ("next_word/lstm", ["--data.max_tokens", "0"], "max_tokens must be an integer above the number of specials"),
    # Values of the wrong type, named by their flag (not jsonargparse's union of every subtype's error).
    ("memory/adding", ["--model.init_args.optimizer.init_args.lr", "nan"],
     "--model.init_args.optimizer.init_args.lr nan: expected a finite number"),
    ("memory/adding", ["--model.init_args.optimizer.init_args.lr", "inf"],
     "--model.init_args.optimizer.init_args.lr inf: expected a finite number"),
    ("memory/adding", ["--data.batch_size", "abc"], "--data.init_args.batch_size abc: expected a whole number"),
    ("memory/adding", ["--model.init_args.encoder.init_args.hidden_size", "32.5"],
     "--model.init_args.encoder.init_args.hidden_size 32.5: expected a whole number"),
    # Trainer options that fail deep inside Lightning or silently train wrong.
    ("memory/adding", ["--trainer.gradient_clip_val", "-1"], "--trainer.gradient_clip_val -1.0: the largest gradient norm"),
    ("memory/adding", ["--trainer.gradient_clip_val", "nan"], "--trainer.gradient_clip_val nan: expected a finite number"),
    ("memory/adding", ["--trainer.accumulate_grad_batches", "0"], "--trainer.accumulate_grad_batches 0: batches per "
                                                                   "optimizer step, 1 or more"),
    ("memory/adding", ["--trainer.max_epochs", "-5"], "`max_epochs` must be a non-negative integer or -1. You passed in "
                                                      "-5. (check the --trainer option that sets it)"),
    ("memory/adding", ["--seed_everything", "1180591620717411303424"],
     "--seed_everything 1180591620717411303424: a seed is a whole number from 0 to 4294967295"),
    # Resources the machine does not have: processes beyond its cores, memory beyond what the allocator gives.
    ("memory/adding", ["--trainer.accelerator", "cpu", "--trainer.devices", "64"],
     "--trainer.devices 64: on the CPU each device is a process of its own, and this machine has"),
    pytest.param("memory/adding", ["--data.length", "1000000000"], "out of memory: one allocation of 37252.9 GiB was "
                 "refused; lower the sizes that multiply into a batch's memory", marks=pytest.mark.skipif(
                     _overcommits(), reason="this system grants any allocation (vm.overcommit_memory 1)")),
]


@pytest.mark.parametrize("recipe, options, said", CASES,
                         ids=[" ".join(c.values[1] if hasattr(c, "values") else c[1]) for c in CASES])
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
    (bytes(range(1, 256)) * 400, "is binary data, not a CSV file (6940 control bytes in its first 65,536)"),
    ("caf\xe9,pos\n".encode("latin-1") * 50, "not UTF-8 text"),  # text in another encoding is told how to convert
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


def test_a_run_folder_that_is_a_file_gets_one_line(tmp_path, capsys):
    root = tmp_path / "runs"
    root.write_text("mine\n")
    assert main(["fit", "-c", "memory/adding", "--trainer.default_root_dir", str(root),
                 "--trainer.fast_dev_run", "true"]) == 2
    assert "is a file; runs need a folder there" in capsys.readouterr().err and root.read_text() == "mine\n"


def test_a_number_too_large_for_the_model_is_named_before_training(tmp_path, capsys):
    import pandas as pd

    from seqkit import packaged

    frame = pd.read_csv(packaged.sample("co2_weekly.csv"))
    frame.loc[100, "co2"] = 1e308
    series = tmp_path / "big.csv"
    frame.to_csv(series, index=False)
    assert main(["fit", "-c", "forecasting/lstm", "--data.train_path", str(series), "--data.columns.time_column", "date",
                 "--data.columns.target_columns", "[co2]", "--data.missing", "interpolate", "--trainer.fast_dev_run", "true",
                 "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert f"{series}: column 'co2' holds numbers too large for the model at line 102 (1e+308" in \
        capsys.readouterr().err


def test_a_recipe_with_a_key_its_task_does_not_take_is_refused_in_one_line_naming_it(tmp_path, capsys):
    import yaml

    from seqkit import packaged

    recipe = yaml.safe_load(packaged.recipe_path("memory/adding").read_text())
    recipe["model"]["init_args"]["lr_decay"] = 0.5
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(recipe))
    assert main(["fit", "-c", str(old), "--trainer.default_root_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--model seqkit.tasks.MemoryTask: Option 'lr_decay' is not accepted" in err
    assert not (tmp_path / "lightning_logs").exists()


def test_the_forecast_loss_and_baseline_are_chosen_by_class_on_the_command_line(tmp_path):
    """`--model.init_args.loss CLASS` and its init_args, as LightningCLI takes any class argument."""
    import torch

    from seqkit.training.lightning_cli import build

    cli = build(["-c", "forecasting/lstm", "--model.init_args.loss", "torch.nn.L1Loss",
                 "--model.init_args.baseline", "seqkit.models.SeasonalNaive",
                 "--model.init_args.baseline.init_args.season", "52",
                 "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert isinstance(cli.model.loss, torch.nn.L1Loss) and cli.model.baseline.season == 52
    cli = build(["-c", "forecasting/lstm", "--model.init_args.loss.init_args.quantiles", "[0.05,0.5,0.95]",
                 "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert cli.model.quantiles == [0.05, 0.5, 0.95]
    import yaml

    from seqkit import packaged

    recipe = yaml.safe_load(packaged.recipe_path("forecasting/lstm").read_text())
    recipe["model"]["init_args"]["loss"] = "torch.nn.L1Loss"  # a class path alone: the new form, not an old name
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(recipe))
    assert isinstance(build(["-c", str(mine), "--trainer.default_root_dir", str(tmp_path)], run=False).model.loss,
                      torch.nn.L1Loss)


def test_a_recipe_with_aliases_or_a_key_given_twice_is_refused_before_anything_expands(tmp_path, capsys):
    """Nested YAML aliases ("billion laughs") would expand to gigabytes; a key given twice would silently keep the last."""
    from seqkit import packaged

    laughs = tmp_path / "laughs.yaml"
    laughs.write_text('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                      + "".join(f"{y}: &{y} [{', '.join([f'*{x}'] * 9)}]\n" for x, y in zip("abcdefg", "bcdefgh"))
                      + "model: [" + ", ".join(["*h"] * 9) + "]\n")
    assert main(["fit", "-c", str(laughs), "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"seqkit fit: error: {laughs}: line 2: the alias *a; seqkit reads recipes without YAML anchors and aliases: "
        "write the value out")
    twice = tmp_path / "twice.yaml"
    twice.write_text(packaged.recipe_path("memory/adding").read_text() + "seed_everything: 7\n")
    first = next(k for k, line in enumerate(twice.read_text().splitlines(), 1) if line.startswith("seed_everything:"))
    last = len(twice.read_text().splitlines())
    for command in (["fit", "-c", str(twice)], ["test", "-c", str(twice), "--ckpt_path", "best"]):
        assert main([*command, "--trainer.default_root_dir", str(tmp_path)]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"seqkit {command[0]}: error: {twice}: line {last}: the key 'seed_everything' is given twice "
            f"(first on line {first}); keep one")
    assert not (tmp_path / "lightning_logs").exists()
