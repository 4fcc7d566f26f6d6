"""Whatever values a user types, the commands end in a result or one line: only SeqkitError (or argparse's usage) escapes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit.cli import main

SETTINGS = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
NUMBERS = st.one_of(st.integers(-5, 40).map(str), st.sampled_from(["0", "-1", "1e9", "nan", "inf", "1.5", "", "x"]))
VECTORS = st.one_of(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=6).map(
    lambda xs: ",".join(map(str, xs))), st.sampled_from(["", "[[1,0],[0,1]]", "[[1],[2", "1,,2", "a,b", "[]"]))


def _outcome(argv: list[str], capsys) -> int:
    try:
        code = main(argv)
    except SystemExit as done:  # argparse: a value of the wrong type, with its usage line
        code = done.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code


@SETTINGS
@given(cell=st.sampled_from(["rnn", "lstm", "gru", "x"]), input_size=NUMBERS, hidden_size=NUMBERS, layers=NUMBERS,
       x=VECTORS, precision=NUMBERS)
def test_trace_takes_any_values(cell, input_size, hidden_size, layers, x, precision, capsys):
    argv = ["trace", "--cells", cell, "--input_size", input_size, "--hidden_size", hidden_size, "--num_layers", layers,
            "--precision", precision]
    if x:
        argv += ["--x", x]
    code = _outcome(argv, capsys)
    assert code in (0, 2)
    if precision.lstrip("-").isdigit() and not 0 <= int(precision) <= 12:
        assert code == 2  # refused, not printed with a nonsense format


@SETTINGS
@given(length=NUMBERS, hidden_size=NUMBERS, radius=NUMBERS, forget_bias=NUMBERS)
def test_gradients_takes_any_values(length, hidden_size, radius, forget_bias, tmp_path_factory, capsys):
    plot = tmp_path_factory.mktemp("g") / "g.png"
    argv = ["gradients", "--length", length, "--hidden_size", hidden_size, "--radius", radius,
            "--forget_bias", forget_bias, "--plot", str(plot), "--cells", "rnn"]
    code = _outcome(argv, capsys)
    assert code in (0, 2)
    if radius in ("nan", "inf", "0", "-1") or forget_bias in ("nan", "inf"):
        assert code == 2 and not plot.exists()  # no picture of nonsense


@pytest.fixture(scope="module")
def reviews_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("reviews")
    assert main(["fit", "-c", "sentiment/lstm_reviews", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar",
                 "false", "--trainer.default_root_dir", str(root)]) == 0
    return root


TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@SETTINGS
@given(texts=st.lists(TEXTS, max_size=3), cells=st.lists(TEXTS, min_size=1, max_size=4), column=st.sampled_from(
    ["text", "review", "x"]), suffix=st.sampled_from([".csv", ".tsv", ".jsonl", "", ".xyz"]))
def test_classify_takes_any_texts_and_tables(texts, cells, column, suffix, reviews_model, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("c")
    assert _outcome(["classify", "--ckpt_path", str(reviews_model), *[t for t in texts if not t.startswith("-")]],
                    capsys) in (0, 2)
    table = folder / "in.csv"
    table.write_text("text\n" + "\n".join(c.replace("\n", " ") for c in cells) + "\n", encoding="utf-8")
    code = _outcome(["classify", "--ckpt_path", str(reviews_model), "--input", str(table), "--text_column", column,
                     "--output", str(folder / f"out{suffix}")], capsys)
    assert code in (0, 2)
    assert table.read_text(encoding="utf-8").startswith("text\n")  # the input is never changed


@SETTINGS
@given(prompt=TEXTS, k=NUMBERS, temperature=NUMBERS, top_k=NUMBERS, max_new_tokens=st.sampled_from(["0", "3", "-1", "x"]))
def test_generate_takes_any_prompt_and_values(prompt, k, temperature, top_k, max_new_tokens, language_model, capsys):
    argv = ["generate", "--ckpt_path", str(language_model), f"--prompt={prompt}", "--k", k, "--temperature",
            temperature, "--top_k", top_k, "--max_new_tokens", max_new_tokens, "--seed", "0"]
    code = _outcome(argv, capsys)
    assert code in (0, 2)
    if temperature in ("nan", "inf", "0", "-1") or k in ("0", "-1", "1e9"):
        assert code == 2


CELLS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), st.sampled_from(["", "x", "1e308", "340"]))


@SETTINGS
@given(steps=st.integers(0, 400), spoil=st.lists(st.tuples(st.integers(0, 399), st.sampled_from(["date", "co2"]),
                                                           CELLS), max_size=4),
       horizon=st.sampled_from([None, "1", "26", "27", "0", "-3"]), command=st.sampled_from(["forecast", "backtest"]))
def test_forecast_and_backtest_take_any_table(steps, spoil, horizon, command, forecaster, tmp_path_factory, capsys):
    import pandas as pd

    from seqkit import packaged

    frame = pd.read_csv(packaged.sample("co2_weekly.csv")).tail(steps).reset_index(drop=True).astype(object)
    for row, column, value in spoil:
        if row < len(frame):
            frame.loc[row, column] = value
    table = tmp_path_factory.mktemp("f") / "in.csv"
    frame.to_csv(table, index=False)
    before = table.read_bytes()
    argv = [command, "--ckpt_path", str(forecaster), "--input", str(table)]
    argv += (["--horizon", horizon] if horizon else []) if command == "forecast" else ["--test_size", horizon or "30"]
    assert _outcome(argv, capsys) in (0, 2)
    assert table.read_bytes() == before
