"""The recipes and samples that ship with seqkit: names from anywhere, `seqkit recipes`, offline runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from seqkit import packaged
from seqkit.cli import main
from seqkit.data import catalog

ROOT = Path(__file__).resolve().parents[1]
NAMES = sorted(p.relative_to(ROOT / "recipes").with_suffix("").as_posix() for p in (ROOT / "recipes").glob("*/*.yaml")
               if not p.name.endswith(".space.yaml"))


def dataset_of(name: str) -> str | None:
    config = yaml.safe_load(packaged.recipe_path(name).read_text())
    return (config["data"].get("init_args") or {}).get("dataset")


OFFLINE = [name for name in NAMES if not catalog.fetched(dataset_of(name))]


def test_every_recipe_has_a_name_and_opens_with_what_it_does_and_its_command():
    assert packaged.recipe_names() == NAMES and len(NAMES) >= 17
    for name in NAMES:
        text = packaged.recipe_path(name).read_text()
        summary = text.splitlines()[0]
        assert summary.startswith("# ") and len(summary) <= 120, name
        assert f"seqkit fit -c {name}" in text, name
        # The summary says whether the recipe needs a download, and the data section agrees.
        downloads = catalog.fetched(dataset_of(name))
        assert ("downloaded once" in summary) == downloads, name
        assert ("offline" in summary) == (not downloads), name


def test_each_job_has_a_recipe_that_runs_offline():
    for job in ("next_word", "sentiment", "forecasting"):
        assert any(name.startswith(job + "/") for name in OFFLINE), job


@pytest.mark.parametrize("value", ["next_word/lstm", "recipes/next_word/lstm.yaml", "next_word/lstm.yaml"])
def test_a_recipe_is_found_by_name_or_by_path(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # from any folder
    assert packaged.resolve_recipe(value) == str(packaged.folder("recipes") / "next_word" / "lstm.yaml")


def test_an_existing_file_wins_over_a_recipe_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "next_word").mkdir()
    (tmp_path / "next_word" / "lstm.yaml").write_text("seed_everything: 1\n")
    assert packaged.resolve_recipe("next_word/lstm.yaml") == "next_word/lstm.yaml"
    assert packaged.resolve_recipe("next_word/lstm") != "next_word/lstm.yaml"  # no file of that name: the recipe


def test_an_unknown_recipe_gets_one_line_with_the_names(capsys):
    assert main(["fit", "-c", "next_word/lstmm", "--trainer.fast_dev_run", "true"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("seqkit fit: error: no file and no recipe named 'next_word/lstmm'; the recipes are ")
    assert "next_word/lstm, " in err and "usage:" not in err
    assert main(["compare", "-c", "memory/nope"]) == 2
    assert "no file and no recipe named 'memory/nope'" in capsys.readouterr().err


def test_seqkit_recipes_lists_shows_and_copies(tmp_path, capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    assert lines[NAMES.index("sentiment/lstm_reviews")].split(None, 1)[1].startswith("tune  bidirectional LSTM on the 334")

    assert main(["--verbose", "recipes"]) == 0  # --verbose goes before or after the command
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == NAMES

    assert main(["recipes", "show", "memory/adding"]) == 0
    assert capsys.readouterr().out == (ROOT / "recipes" / "memory" / "adding.yaml").read_text()

    assert main(["recipes", "copy", "memory/adding", str(tmp_path)]) == 0
    copied = tmp_path / "memory_adding.yaml"
    assert copied.read_text() == (ROOT / "recipes" / "memory" / "adding.yaml").read_text()
    assert f"seqkit fit -c {copied}" in capsys.readouterr().out
    copied.write_text("mine\n")
    assert main(["recipes", "copy", "memory/adding", str(tmp_path)]) == 2  # never over a user's file unasked
    assert "exists; pass --force" in capsys.readouterr().err and copied.read_text() == "mine\n"
    assert main(["recipes", "copy", "memory/adding", str(copied), "--force"]) == 0
    assert copied.read_text().startswith("# the adding problem")
    assert main(["recipes", "copy", "memory/adding", str(tmp_path / "absent" / "x.yaml")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["recipes", "show", "nope"]) == 2
    assert "no recipe named 'nope'; the recipes are forecasting/lstm" in capsys.readouterr().err


@pytest.mark.parametrize("name", OFFLINE)
def test_the_offline_recipes_run_with_no_data_folder_and_an_empty_cache(name, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "-c", name, "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false"]) == 0
    assert not (tmp_path / "empty-cache").exists()  # nothing was downloaded


@pytest.mark.parametrize("name", ["next_word/lstm_ptb_small", "sentiment/lstm", "forecasting/lstm_airline"])
def test_a_recipe_whose_data_is_not_here_says_in_one_line_how_to_get_it(name, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(catalog, "RETRIES", 0)
    entry = catalog.CATALOG[dataset_of(name)]
    offline = {split: dataclasses.replace(remote, url=f"http://127.0.0.1:9/{remote.name}")  # nothing listens there
               for split, remote in entry.splits.items()}
    monkeypatch.setitem(catalog.CATALOG, entry.name, dataclasses.replace(entry, splits=offline))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "-c", name, "--trainer.fast_dev_run", "true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"seqkit fit: error: could not download {entry.name} (")
    assert "or set SEQKIT_DATA (or --data.root) to a folder holding" in err[-1]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in OFFLINE])
def test_the_recipes_that_read_a_corpus_run_one_batch_of_everything(name, tmp_path, monkeypatch):
    dataset = dataset_of(name)
    try:
        catalog.locate(dataset, root=catalog.data_folder(), download=False)
    except Exception:  # noqa: BLE001 (the corpus is not here: nothing to run)
        pytest.skip(f"{dataset} is not in SEQKIT_DATA")
    monkeypatch.setenv("SEQKIT_DATA", str(catalog.data_folder()))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "-c", name, "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false"]) == 0
