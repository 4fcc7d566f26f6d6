"""`seqkit forecast` and `seqkit backtest` given bad tables, spans or outputs: one line each, no file changed."""

from __future__ import annotations

import pytest

from seqkit import packaged
from seqkit.cli import main as seqkit
from seqkit.errors import CheckpointError, DataError, SeqkitError

SERIES = "time,y\n" + "".join(f"2020-{1 + i // 28:02d}-{1 + i % 28:02d},{10 + i % 7 + 0.1 * i:.1f}\n" for i in range(60))
FORECAST = ["forecast", "--ckpt_path", "{forecast}", "--input", "{input}", "--output", "{out}"]

MISUSES = [  # (what is wrong, the files in the folder, the command, the error, what it says)
    ("forecast: --ckpt_path of another task", {"in.csv": SERIES}, ["forecast", "--ckpt_path", "{sentiment}", "--input",
     "{input}"], CheckpointError, r"is a checkpoint of the 'sentiment' task; this needs a 'forecast' checkpoint"),
    ("forecast: --input timestamps that do not parse", {"in.csv": SERIES.replace("2020-01-09", "Jan the 9th")}, FORECAST,
     DataError, r"{input}: 1 timestamps in column 'time' do not parse \(line 10: 'Jan the 9th'\)"),
    ("forecast: --input without the target column", {"in.csv": SERIES.replace("time,y", "time,sales")}, FORECAST,
     DataError, r"{input}: no column 'y'"),
    ("forecast: --output is the --input", {"in.csv": SERIES}, FORECAST[:-1] + ["{input}"], SeqkitError,
     r"--output {input} is the input file; write elsewhere"),
    ("forecast: --plot NAME while NAME.png exists", {"in.csv": SERIES, "f.png": b"mine"},
     FORECAST + ["--plot", "{folder}/f"], SeqkitError, r"{folder}/f.png exists; pass --force to overwrite it"),
    ("forecast: --plot of an unknown format", {"in.csv": SERIES}, FORECAST + ["--plot", "{folder}/f.gif"], SeqkitError,
     r"--plot {folder}/f.gif: seqkit writes .png or .pdf or .svg here, not .gif"),
    ("backtest: --ckpt_path truncated", {"in.csv": SERIES, "cut.ckpt": b"PK\x03\x04" + bytes(200)},
     ["backtest", "--ckpt_path", "{folder}/cut.ckpt", "--input", "{input}", "--test_size", "6"], CheckpointError,
     r"cut.ckpt is not a readable checkpoint \(truncated or corrupt\?\)"),
    ("backtest: --test_start that is no date", {"in.csv": SERIES},
     ["backtest", "--ckpt_path", "{forecast}", "--input", "{input}", "--test_start", "tomorrow"], SeqkitError,
     r"--test_start 'tomorrow' is not a date"),
    ("backtest: a negative --test_size", {"in.csv": SERIES},
     ["backtest", "--ckpt_path", "{forecast}", "--input", "{input}", "--test_size", "-3"], SeqkitError,
     r"--test_size must be a number of steps"),
]


@pytest.mark.parametrize("files, argv, error, message", [case[1:] for case in MISUSES], ids=[c[0] for c in MISUSES])
def test_forecast_given_something_bad_stops_with_one_line_and_writes_nothing(files, argv, error, message, misuse):
    misuse(files, argv, error, message)


@pytest.mark.parametrize("options, said", [
    (["--test_size", "25"], "--test_size 25: a test span of 25 of the 2284 steps of {input}; give 26 to 2153 steps"),
    (["--test_size", "2154"], "give 26 to 2153 steps (at least the horizon, 26, and leaving 131 steps before it"),
    (["--test_start", "2030-01-01"], "--test_start 2030-01-01: 0 of the 2284 steps of {input} are on or after it; "
                                     "give a date from 1960-10-01 to 2001-07-07"),
    (["--test_start", "1950-01-01"], "2284 of the 2284 steps"),
])
def test_a_backtest_span_that_cannot_be_scored_is_said_in_backtests_terms(options, said, forecaster, capsys):
    series = packaged.sample("co2_weekly.csv")
    assert seqkit(["backtest", "--ckpt_path", str(forecaster), "--input", str(series), *options]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert said.format(input=series) in error and "--data." not in error
    assert seqkit(["backtest", "--ckpt_path", str(forecaster), "--input", str(series), "--test_size", "26"]) == 0
