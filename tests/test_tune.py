"""`seqkit tune`: the search space as data, a study that resumes, survives a killed trial and takes two workers at
once, pruning through Lightning, and a best recipe that trains to the same score again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqkit import packaged, tuning
from seqkit.cli import main
from seqkit.errors import SeqkitError

optuna = pytest.importorskip("optuna")
pytest.importorskip("optuna_integration")

TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
        "--trainer.enable_progress_bar", "false"]


def _tune(out: Path, *extra: str) -> list[str]:
    return ["tune", "-c", "forecasting/lstm", "--output_dir", str(out), *extra]


def _study(out: Path, name: str = "forecasting/lstm"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


@pytest.mark.parametrize("spec, says", [
    ("[1, 2]", "write {int: [LOW, HIGH]}"),
    ("{int: [64]}", "a choice of one value?"),
    ("{int: [64, 16]}", "is empty or one value"),
    ("{int: [16, 16]}", "is empty or one value"),
    ("{float: [0.0, 0.1], log: true}", "a log scale needs LOW above 0"),
    ("{float: [0.1, 0.5], log: true, step: 0.1}", "not both"),
    ("{int: [1, 8], steps: 2}", "unknown option 'steps'"),
    ("{choice: [lstm]}", "two or more different values"),
    ("{choice: [lstm, lstm]}", "two or more different values"),
    ("{int: [1, 2], float: [1, 2]}", "write {int: [LOW, HIGH]}"),
    ("{int: [1.5, 4]}", "two whole numbers"),
])
def test_a_bad_space_entry_is_one_line_naming_the_key(tmp_path, spec, says):
    space = tmp_path / "space.yaml"
    space.write_text(f"model.init_args.encoder.init_args.hidden_size: {spec}\n")
    with pytest.raises(SeqkitError, match="hidden_size") as error:
        tuning.read_space(space, {})
    assert says in str(error.value) and "\n" not in str(error.value)


def test_the_space_file_reads_ranges_choices_and_steps(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("model.init_args.encoder.init_args.hidden_size: {int: [8, 64], log: true}\n"
                     "data.init_args.input_length: {int: [52, 156], step: 26}\n"
                     "model.init_args.encoder.class_path: {choice: [rnn, lstm, gru]}\n")
    dims = tuning.read_space(space, {})
    assert [d.name for d in dims.values()] == ["model.encoder.hidden_size", "data.input_length", "model.encoder.class_path"]
    assert dims["data.init_args.input_length"].step == 26 and dims["model.init_args.encoder.init_args.hidden_size"].log
    args = tuning.as_args({"model.init_args.encoder.class_path": "gru", "model.init_args.dropout": 0.25,
                           "model.init_args.attention": False})
    assert args == ["--model.init_args.encoder.class_path", "seqkit.modules.gru.GRU", "--model.init_args.dropout", "0.25",
                    "--model.init_args.attention", "false"]


def test_trial_n_draws_the_same_values_in_every_study_with_the_seed_and_other_trials_draw_others():
    config = packaged.recipe_path("forecasting/lstm_airline")
    space = tuning.read_space(packaged.space_path(config), {})

    def drawn(seed: int, trials: int) -> list[dict]:
        study, values = optuna.create_study(), []
        for _ in range(trials):
            trial = study.ask()
            trial.study.sampler = tuning.sampler_for(seed, trial.number)
            values.append({key: dimension.suggest(trial) for key, dimension in space.items()})
            study.tell(trial, 1.0)
        return values

    first = drawn(0, 3)
    assert drawn(0, 3) == first  # the same study again
    assert first[0] != first[1] != first[2] and drawn(1, 1)[0] != first[0]


def test_every_shipped_space_builds_its_recipe_and_the_list_marks_them(capsys):
    spaced = [name for name in packaged.recipe_names() if packaged.space_path(packaged.recipe_path(name))]
    offline = ["forecasting/lstm", "forecasting/rnn", "memory/adding", "memory/recall", "next_word/lstm",
               "next_word/rnn", "sentiment/lstm_reviews", "seq2seq/dates"]
    assert set(offline) <= set(spaced)
    for name in spaced:
        config = packaged.recipe_path(name)
        space = tuning.read_space(packaged.space_path(config), packaged.read_recipe(config))
        monitor, mode = tuning.check_trial(config, space, [], packaged.space_path(config))
        assert monitor.startswith("val/") and mode in ("min", "max"), name
    assert main(["recipes"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert " tune " in lines["sentiment/lstm_reviews"] and " tune " not in lines["sentiment/lstm"]
    assert not any(name.endswith(".space") for name in packaged.recipe_names())


@pytest.mark.parametrize("argv, says", [
    (["--trials", "0"], "--trials 0: a study needs at least 1 trial"),
    (["--trials", "2", "--timeout", "0"], "--timeout 0"),
    (["--trials", "2", "-x"], "-x: not an option of seqkit tune"),
    (["--trials", "2", "--timout", "3"], "unrecognized arguments: --timout 3"),  # a misspelt option: the command line's
])
def test_bad_arguments_are_one_line(tmp_path, capsys, argv, says):
    assert main(_tune(tmp_path / "s", *argv)) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s" / "study.db").exists()


def test_an_unknown_key_names_the_nearest_keys_of_the_recipe(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("model.init_args.encoder.init_args.hiden_size: {int: [8, 64]}\n")
    assert main(_tune(tmp_path / "s", "--space", str(space), "--trials", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert "hiden_size is not an option of lstm.yaml" in err
    assert "nearest keys of the recipe: model.init_args.encoder.init_args.hidden_size" in err
    assert len(err.splitlines()) == 1


def test_without_optuna_it_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(_tune(tmp_path / "s", "--trials", "2")) == 2
    assert 'pip install "seqkit[tune]"' in capsys.readouterr().err


def test_a_study_runs_resumes_and_its_best_recipe_trains_to_the_same_score(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(_tune(out, "--trials", "3", *TINY)) == 0
    captured = capsys.readouterr()
    assert captured.err.count("tune: trial ") == 3 and "tune: trial 3 of 3" in captured.err
    assert "best trial #" in captured.out
    for name in ("trials.csv", "best.yaml", "history.png", "importances.png"):
        assert (out / name).is_file(), name
    import pandas as pd

    table = pd.read_csv(out / "trials.csv")
    assert list(table["trial"]) == [0, 1, 2] and set(table["state"]) == {"complete"}
    assert {"model.encoder.class_path", "model.encoder.hidden_size", "model.optimizer.lr"} <= set(table.columns)
    # Again: the study is there already, and nothing is trained twice.
    assert main(_tune(out, "--trials", "3", *TINY)) == 0
    assert "already has 3 finished trials" in capsys.readouterr().err
    assert main(_tune(out, "--trials", "4", *TINY)) == 0
    study = _study(out)
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert all(len(list((out / f"trial_{n}" / "lightning_logs").iterdir())) == 1 for n in range(4))
    # best.yaml is the whole recipe: seqkit fit -c best.yaml trains the best trial again, to its score.
    assert main(["fit", "-c", str(out / "best.yaml")]) == 0
    best = next((out / "best").rglob("best-*.ckpt"))
    assert float(best.stem.rsplit("-", 1)[1]) == pytest.approx(study.best_value, abs=1e-4)


def test_a_command_line_option_fixes_a_searched_key(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(_tune(out, "--trials", "1", "--study", "co2", "--pruner", "hyperband",
                      "--model.init_args.encoder.class_path", "seqkit.modules.GRU", *TINY)) == 0
    assert "fixed there, not searched" in capsys.readouterr().err
    trial = _study(out, "co2").trials[0]  # the study under the name given
    assert "model.encoder.class_path" not in trial.params
    assert "seqkit.modules.GRU" in (out / "best.yaml").read_text()


def test_an_unpromising_trial_is_pruned_through_lightning(tmp_path):
    from optuna_integration import PyTorchLightningPruningCallback

    config = packaged.recipe_path("forecasting/lstm")
    space = tuning.read_space(packaged.space_path(config), {})
    runner = tuning.TrialRunner(config, space, ["--trainer.max_epochs", "3", *TINY[2:]], tmp_path, "val/loss", 0,
                                lambda trial: PyTorchLightningPruningCallback(trial, "val/loss"))
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=-1.0))  # every loss is above -1: prune
    study.optimize(runner, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED and tuning.pruned_epoch(trial) == 1
    assert tuning.table(study).loc[0, "epochs"] == 1


def _spawn(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seqkit.cli", *_tune(out, *extra)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_a_trial_killed_mid_fit_is_marked_failed_and_the_study_goes_on(tmp_path):
    out = tmp_path / "study"
    # A trial that would train for a long time: killed (SIGKILL) once it is fitting.
    process = _spawn(out, "--trials", "1", "--trainer.max_epochs", "100000", *TINY[2:])
    deadline = time.time() + 120
    while not list((out / "trial_0").rglob("metrics.csv")) and time.time() < deadline:
        time.sleep(0.5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    again = subprocess.run([sys.executable, "-m", "seqkit.cli", *_tune(out, "--trials", "1", *TINY)],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "trial 0 stopped without finishing" in again.stderr
    states = [t.state for t in _study(out).trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]


@pytest.mark.slow
def test_two_workers_share_one_study_and_no_trial_runs_twice(tmp_path):
    out = tmp_path / "study"
    workers = [_spawn(out, "--trials", "4", *TINY) for _ in range(2)]
    logs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    study = _study(out)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) >= 4 and len(finished) == len(study.trials)
    assert all(log.count("tune: trial ") >= 1 for log in logs)  # both took part
    assert len({tuple(sorted(t.params.items())) for t in finished}) == len(finished)  # never the same values twice
    for trial in finished:  # each trial trained once, in its own folder
        assert len(list((out / f"trial_{trial.number}" / "lightning_logs").iterdir())) == 1


@pytest.mark.slow
def test_ctrl_c_stops_the_study_and_prints_what_finished(tmp_path):
    out = tmp_path / "study"
    process = _spawn(out, "--trials", "3", "--pruner", "none", "--trainer.max_epochs", "100000", *TINY[2:])
    deadline = time.time() + 120
    while not list((out / "trial_0").rglob("metrics.csv")) and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    said = process.communicate(timeout=120)[0]
    assert process.returncode == 130, said
    assert "tune: interrupted; the finished trials are kept" in said
    assert "interrupted (Ctrl-C)" in said  # the table, with the trial that was stopped
    assert _study(out).trials[0].state == optuna.trial.TrialState.FAIL
