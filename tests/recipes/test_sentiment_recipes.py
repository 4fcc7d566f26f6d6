"""Every sentiment recipe parses and trains; classify and fine-tuning work from the shell."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from seqkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes" / "sentiment"
REVIEWS = ROOT / "datasets" / "reviews.csv"
QUICK = ["--trainer.max_epochs", "1", "--trainer.max_steps", "3", "--trainer.limit_val_batches", "2",
         "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_every_recipe_opens_with_its_command():
    names = sorted(p.name for p in RECIPES.glob("*.yaml") if not p.name.endswith(".space.yaml"))
    assert names == ["lstm.yaml", "lstm_imdb.yaml", "lstm_reviews.yaml", "lstm_transfer.yaml", "lstm_ulmfit.yaml", "rnn.yaml"]
    for name in names:
        text = (RECIPES / name).read_text()
        assert text.startswith("# ") and f"seqkit fit -c sentiment/{name[:-5]}" in text


@pytest.mark.parametrize("recipe", ["lstm.yaml", "rnn.yaml", "lstm_imdb.yaml", "lstm_transfer.yaml", "lstm_ulmfit.yaml"])
def test_print_config(recipe, capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(RECIPES / recipe), "--print_config"])
    assert done.value.code == 0
    assert "seqkit.tasks.SentimentTask" in capsys.readouterr().out


@pytest.fixture(scope="module")
def sst2_checkpoint(tmp_path_factory) -> Path:
    from seqkit.data.catalog import data_folder as data_root

    if not (data_root() / "sst2" / "train.tsv").is_file():
        pytest.skip("SST-2 not found (set SEQKIT_DATA)")
    root = tmp_path_factory.mktemp("sst2")
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--data.root", str(data_root()),
                 "--trainer.default_root_dir", str(root), *QUICK]) == 0
    return next(root.rglob("last.ckpt"))


@pytest.mark.parametrize("recipe", ["rnn.yaml", "lstm.yaml", "lstm_ulmfit.yaml"])  # lstm_ulmfit: with its moving average
def test_sst2_recipes_run_on_the_corpora(recipe, corpora, tmp_path):
    assert main(["fit", "-c", str(RECIPES / recipe), "--data.root", str(corpora), "--trainer.fast_dev_run", "2",
                 "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false"]) == 0


def test_classify_texts_and_a_csv(sst2_checkpoint, tmp_path, capsys):
    assert main(["classify", "--ckpt_path", str(sst2_checkpoint), "a gripping film", "dull and far too long"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] in {"negative", "positive"} and "negative=" in lines[0]
    out = tmp_path / "predicted.csv"
    before = REVIEWS.read_bytes()
    assert main(["classify", "--ckpt_path", str(sst2_checkpoint), "--input", str(REVIEWS), "--text_column", "review",
                 "--output", str(out)]) == 0
    assert REVIEWS.read_bytes() == before  # the input is never changed
    table = pd.read_csv(out)
    assert list(table.columns)[:2] == ["review", "label"] and {"predicted_label", "probability_negative", "probability_positive"} <= set(table.columns)
    assert len(table) == len(pd.read_csv(REVIEWS))
    written = out.read_bytes()
    assert main(["classify", "--ckpt_path", str(sst2_checkpoint), "--input", str(REVIEWS), "--text_column", "review",
                 "--output", str(out)]) == 2
    assert "exists; pass --force to overwrite it" in capsys.readouterr().err
    assert out.read_bytes() == written
    assert main(["classify", "--ckpt_path", str(sst2_checkpoint), "--input", str(REVIEWS), "--output", str(tmp_path / "x.csv")]) == 2
    assert "no column 'text'; its columns are ['review', 'label']" in capsys.readouterr().err


def test_fine_tune_on_the_sample_reviews(sst2_checkpoint, tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--init_from", str(sst2_checkpoint), "--data.dataset", "null",
                 "--data.train_path", str(REVIEWS), "--data.text_column", "review", "--data.label_column", "label",
                 "--data.batch_size", "8", "--trainer.default_root_dir", str(tmp_path), *QUICK]) == 0
    captured = capsys.readouterr()
    # SST-2's labels are named negative and positive, as the sample's: the whole model goes on, head included.
    assert "--init_from: all weights loaded (same labels)" in captured.out + captured.err
    stars = tmp_path / "stars.csv"  # other labels: the body is kept, the head starts afresh
    stars.write_text("review,stars\n" + "".join(f"review {i} was {'good' if i % 2 else 'bad'},{1 + 4 * (i % 2)}\n"
                                                 for i in range(40)))
    assert main(["fit", "-c", str(RECIPES / "lstm.yaml"), "--init_from", str(sst2_checkpoint), "--data.dataset", "null",
                 "--data.train_path", str(stars), "--data.text_column", "review", "--data.label_column", "stars",
                 "--data.batch_size", "8", "--trainer.default_root_dir", str(tmp_path / "stars"), *QUICK]) == 0
    captured = capsys.readouterr()
    assert "the classification head starts afresh" in captured.out + captured.err


@pytest.mark.parametrize("lm, recipe", [("lstm_wikitext2_encoder", "lstm_transfer"), ("lstm_sst2", "lstm_ulmfit")])
def test_the_transfer_recipe_fits_the_language_model_it_starts_from(lm, recipe):
    import yaml

    language_model = yaml.safe_load((ROOT / "recipes" / "next_word" / f"{lm}.yaml").read_text())
    classifier = yaml.safe_load((RECIPES / f"{recipe}.yaml").read_text())
    lm_encoder = language_model["model"]["init_args"]["encoder"]
    encoder = classifier["model"]["init_args"]["encoder"]
    assert lm_encoder["class_path"] == encoder["class_path"]
    for size in ("input_size", "hidden_size", "num_layers"):
        assert lm_encoder["init_args"][size] == encoder["init_args"][size], size
    assert not encoder["init_args"].get("bidirectional", False)  # a language model reads one way
    # The classifier reads text as the language model's vocabulary was built: lowercased basic_english.
    assert language_model["data"]["init_args"].get("tokenizer", "basic_english") == "basic_english"


def test_bidirectional_transfer_from_the_shell(tmp_path, capsys):
    """Forward language model -> backward one from it (embedding frozen) -> a BiLSTM classifier from both."""
    text = tmp_path / "text.txt"
    text.write_text("".join(f"{review}\n" for review in pd.read_csv(REVIEWS)["review"]) * 3)
    lm = ["fit", "-c", str(ROOT / "recipes" / "next_word" / "lstm_wikitext2_encoder.yaml"), "--data.dataset", "null",
          "--data.train_path", str(text), "--data.max_tokens", "null", "--data.batch_size", "4", *QUICK]
    assert main([*lm, "--trainer.default_root_dir", str(tmp_path / "fwd")]) == 0
    forward = next((tmp_path / "fwd").rglob("last.ckpt"))
    assert main([*lm, "--trainer.default_root_dir", str(tmp_path / "bwd"), "--init_from", str(forward),
                 "--data.reverse", "true", "--model.init_args.freeze_embeddings", "true"]) == 0
    backward = next((tmp_path / "bwd").rglob("last.ckpt"))
    classifier = ["fit", "-c", str(RECIPES / "lstm_transfer.yaml"), "--data.dataset", "null", "--data.train_path", str(REVIEWS),
                  "--data.text_column", "review", "--data.label_column", "label", "--data.batch_size", "8",
                  "--model.init_args.encoder.init_args.bidirectional", "true", *QUICK]
    capsys.readouterr()
    assert main([*classifier, "--trainer.default_root_dir", str(tmp_path / "clf"), "--init_from", str(forward),
                 "--init_from_backward", str(backward)]) == 0
    said = capsys.readouterr().err
    assert "loaded 9 embedding/encoder tensors" in said and "warning" not in said
    assert main([*classifier, "--trainer.default_root_dir", str(tmp_path / "clf2"), "--init_from_backward", str(backward)]) == 2
    assert "--init_from_backward goes with --init_from: give the forward language model too" in capsys.readouterr().err


def test_the_ulmfit_chain_from_the_shell(corpora, tmp_path, capsys):
    """SST-2's sentences -> a forward and a backward language model -> a classifier from each -> their average."""
    lm = ["fit", "-c", "next_word/lstm_sst2", "--data.root", str(corpora), *QUICK]
    assert main([*lm, "--trainer.default_root_dir", str(tmp_path / "lm")]) == 0
    assert main([*lm, "--trainer.default_root_dir", str(tmp_path / "lm_bwd"), "--data.reverse", "true"]) == 0
    classifier = ["fit", "-c", "sentiment/lstm_ulmfit", "--data.root", str(corpora), *QUICK]
    assert main([*classifier, "--trainer.default_root_dir", str(tmp_path / "fwd"), "--init_from", str(tmp_path / "lm")]) == 0
    assert main([*classifier, "--trainer.default_root_dir", str(tmp_path / "bwd"), "--init_from", str(tmp_path / "lm_bwd"),
                 "--model.init_args.reverse", "true"]) == 0
    capsys.readouterr()
    text = "a gripping, beautifully shot film"
    probabilities = []
    for paths in ([tmp_path / "fwd"], [tmp_path / "bwd"], [tmp_path / "fwd", tmp_path / "bwd"]):
        assert main(["classify", *[a for p in paths for a in ("--ckpt_path", str(p))], text]) == 0
        row = capsys.readouterr().out.strip().split("\t")
        assert row[-1] == text
        probabilities.append(float(row[1].split()[0].split("=")[1]))  # negative=...
    assert probabilities[2] == pytest.approx((probabilities[0] + probabilities[1]) / 2, abs=1e-3)
    # A forward language model cannot start a classifier that reads backwards.
    assert main([*classifier, "--trainer.default_root_dir", str(tmp_path / "bad"), "--init_from", str(tmp_path / "lm"),
                 "--model.init_args.reverse", "true"]) == 2
    assert "is a forward language model, and this classifier reads texts last word first" in capsys.readouterr().err


@pytest.mark.slow  # the whole recipe, about 10 s on 2 cores
def test_the_quickstart_gets_the_readmes_examples_right_and_scores_its_held_out_reviews(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false"]
    assert main(["fit", "-c", "sentiment/lstm_reviews", *root]) == 0
    capsys.readouterr()
    examples = {"the staff were lovely and the food was superb": "positive", "it broke after a day": "negative"}
    assert main(["classify", "--ckpt_path", str(tmp_path), *examples]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert {text: label for label, _, text in rows} == examples
    for label, probabilities, _ in rows:  # labels by name, and sure of them
        assert float(dict(p.split("=") for p in probabilities.split())[label]) > 0.8
    assert main(["test", "-c", "sentiment/lstm_reviews", "--ckpt_path", "best", *root]) == 0
    accuracy = float(re.search(r"test/acc\s+([\d.]+)", capsys.readouterr().out)[1])
    assert accuracy >= 0.9  # 0.957 to 0.979 over seeds 0 to 4 (benchmarks/reviews.py)
