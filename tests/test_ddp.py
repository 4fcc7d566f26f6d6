"""Lightning's DDP on two CPU processes (gloo) gives the numbers of one process with the same global batch.

Each recipe family (next word, sentiment, forecast) is trained from the shell with
`--trainer.strategy ddp --trainer.devices 2 --trainer.accelerator cpu` and, in this
process, on one device with the same global batch, both from one starting checkpoint
(`--init_from`) with dropout off:

- next word: `batch_size` streams per process, so 2 x 2 streams against 4 on one process
  (the same 4 rows of the token stream; see `NextWordData`);
- sentiment and forecast: the whole training set in every step (a batch larger than the
  set), split in two equal halves between the processes.

The two runs then compute the same sums in another order. Tolerances: weights and
validation metrics after training agree to 1e-4 relative, 1e-5 absolute (measured: the
weights differ by less than 1e-6, float32 rounding); the test metrics of one checkpoint,
scored on two processes and on one, agree to 1e-5 relative (only the order of summation
differs). Evaluation shares differ by a sample between processes here (`ShardSampler`,
odd split sizes): perplexity must be exp(total loss over all tokens / all tokens), which
the test recomputes process by process and shows to differ from the mean of the
per-process perplexities; accuracy, F1 and the confusion matrix count every text once;
the forecasts are gathered before scoring, and the backtest holds every test window once.
The language model's test stage runs the same code as its validation (`_step`,
`_loader`), so its validation after training stands for both.

The two-process runs are real `python -m seqkit.cli` processes, each with one OpenMP
thread; each runs in its own process group, which the test checks is empty (every worker
gone) afterwards and kills if a run fails.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from torch.nn import functional as F
from torch.utils.data.distributed import DistributedSampler

from seqkit.training import checkpoints
from seqkit.cli import main
from seqkit.data import Columns, ForecastData, NextWordData, SentimentData
from seqkit.training.distributed import ShardSampler, eval_sampler, shard_of
from seqkit.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
DDP = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
ONE = ["--trainer.devices", "1", "--trainer.accelerator", "cpu"]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
TRAINED = dict(rtol=1e-4, atol=1e-5)  # after a few optimizer steps
SCORED = dict(rtol=1e-5, atol=1e-6)   # one checkpoint, scored on one process and on two


def on_processes(rank: int, processes: int) -> SimpleNamespace:
    """What a DataModule sees of a Trainer running `processes` processes, as process `rank`."""
    return SimpleNamespace(distributed_sampler_kwargs={"rank": rank, "num_replicas": processes})


# ----------------------------------------------------------------------------- without processes

def test_shard_sampler_gives_every_index_once_in_contiguous_uneven_shares():
    shares = [list(ShardSampler(range(7), num_replicas=3, rank=r)) for r in range(3)]
    assert shares == [[0, 1, 2], [3, 4], [5, 6]]
    assert [len(ShardSampler(range(7), 3, r)) for r in range(3)] == [3, 2, 2]
    # Lightning keeps a DistributedSampler as it is; its own would repeat an index to even out the shares.
    assert isinstance(ShardSampler(range(7), 3, 0), DistributedSampler)
    padded = [i for r in range(3) for i in DistributedSampler(range(7), num_replicas=3, rank=r, shuffle=False)]
    assert len(padded) == 9 and len(set(padded)) == 7
    with pytest.raises(DataError, match="cannot be shared among 3 processes"):
        ShardSampler(range(2), 3, 0)


def test_one_process_outside_a_trainer():
    data = NextWordData()
    assert shard_of(data) == (0, 1) and eval_sampler(data, range(5)) is None
    data.trainer = on_processes(1, 4)
    assert shard_of(data) == (1, 4) and list(eval_sampler(data, range(10))) == [3, 4, 5]


def lm_text(folder: Path) -> dict[str, Path]:
    """Train, val and test files of seeded sentences; each split's first third is one sentence over and over.

    The repeated sentence is easy to predict, so the first streams (the first process's)
    score a lower perplexity than the last ones: an average of per-process perplexities
    then differs from the perplexity over all tokens.
    """
    rng = random.Random(0)
    words = "the cat sat on a mat and dog ran to big red house it was not then so".split()
    paths = {}
    for split, lines in (("train", 240), ("val", 41), ("test", 37)):
        paths[split] = folder / f"{split}.txt"
        paths[split].write_text("".join("the cat sat on a mat\n" if i < lines // 3 else
                                        " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n"
                                        for i in range(lines)))
    return paths


def lm_data(paths: dict[str, Path], batch: int, eval_batch: int, trainer=None) -> NextWordData:
    data = NextWordData(train_path=str(paths["train"]), val_path=str(paths["val"]), test_path=str(paths["test"]),
                        batch_size=batch, eval_batch_size=eval_batch, bptt=10)
    data.trainer = trainer
    data.setup("fit")
    return data


def test_language_model_processes_take_contiguous_rows_of_the_same_streams(tmp_path):
    paths = lm_text(tmp_path)
    whole = lm_data(paths, batch=4, eval_batch=6)
    shares = [lm_data(paths, batch=2, eval_batch=3, trainer=on_processes(r, 2)) for r in range(2)]
    for split, loader in (("train", "train_dataloader"), ("test", "test_dataloader")):
        reference = list(getattr(whole, loader)())
        per_process = [list(getattr(share, loader)()) for share in shares]
        assert all(len(batches) == len(reference) for batches in per_process), split  # the same steps everywhere
        for k, batch in enumerate(reference):
            # Window k of process r is window k of rows [r*B, (r+1)*B) of the one-process streams.
            assert torch.equal(torch.cat([p[k].inputs for p in per_process]), batch.inputs), (split, k)
            assert torch.equal(torch.cat([p[k].targets for p in per_process]), batch.targets), (split, k)
    assert isinstance(shares[0].train_dataloader().sampler, ShardSampler)  # Lightning must not cut the windows


def test_language_model_text_too_short_for_every_process(tmp_path):
    paths = lm_text(tmp_path)
    paths["val"].write_text("a b c d e f\n")  # 7 tokens with <eos>: 2 streams of 3, not 4 streams of 1
    lm_data(paths, batch=2, eval_batch=2)
    with pytest.raises(DataError, match=r"too short for 4 parallel streams \(2 processes\)"):
        lm_data(paths, batch=2, eval_batch=2, trainer=on_processes(0, 2))


def test_evaluation_loaders_share_out_without_repeats(tmp_path):
    sentiment = SentimentData(train_path=str(ROOT / "datasets" / "reviews.csv"), text_column="review",
                              label_column="label", eval_batch_size=4)
    sentiment.setup("fit")
    forecast = ForecastData(train_path=str(ROOT / "datasets" / "store_sales.csv"), columns=Columns(time_column="date", target_columns=["sales"], id_column="store"), input_length=28, horizon=7)
    forecast.setup("fit")
    for data, size in ((sentiment, len(sentiment.data["val"])), (forecast, len(forecast.windows["val"]))):
        seen = []
        for rank in range(3):
            data.trainer = on_processes(rank, 3)
            loader = data.val_dataloader()
            assert isinstance(loader.sampler, ShardSampler)
            seen += list(loader.sampler)
        assert seen == list(range(size)), type(data).__name__


# ----------------------------------------------------------------------------- two real processes

def run_two_processes(args: list[str]) -> str:
    """`python -m seqkit.cli ARGS` on two DDP processes; its stderr. Fails (and kills the group) on a non-zero exit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen([sys.executable, "-m", "seqkit.cli", *args, *DDP, *QUIET], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=1200)  # a guard against a hung collective, not a speed limit
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, f"exit {process.returncode}\n{out[-3000:]}\n{err[-5000:]}"
    assert_group_gone(process.pid)
    return err


def assert_group_gone(group: int) -> None:
    """Every process of the run's group (the worker Lightning started too) has exited."""
    for _ in range(600):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)
    pytest.fail("a DDP worker outlived its run (killed)")


def one_process(args: list[str]) -> None:
    assert main([*args, *ONE, *QUIET]) == 0


def train_and_test_both_ways(folder: Path, common: list[str], one: list[str], two: list[str],
                             test: bool = True) -> SimpleNamespace:
    """Fit on one process and on two from the same weights, then (`test`) test the two-process model both ways.

    Both fits start `--init_from` one checkpoint: Lightning re-seeds every DDP process once
    it has started (after the encoder is built, before the vocabulary-sized layers are), so
    the same seed gives other initial weights on two processes than on one.
    """
    one_process(["fit", *common, *one, "--trainer.max_steps", "1", "--trainer.default_root_dir", str(folder / "start")])
    start = last_checkpoint(folder / "start")
    one_process(["fit", *common, *one, "--init_from", str(start), "--trainer.default_root_dir", str(folder / "one")])
    run_two_processes(["fit", *common, *two, "--init_from", str(start), "--trainer.default_root_dir", str(folder / "two")])
    checkpoint = last_checkpoint(folder / "two")
    if test:
        run_two_processes(["test", *common, *two, "--ckpt_path", str(checkpoint), "--trainer.default_root_dir", str(folder / "two_test")])
        one_process(["test", *common, *one, "--ckpt_path", str(checkpoint), "--trainer.default_root_dir", str(folder / "one_test")])
    # seqkit test writes under the --trainer.default_root_dir it is given, not beside the checkpoint's run.
    tests = {name: folder / name for name in ("two_test", "one_test")} if test else {}
    return SimpleNamespace(folder=folder, one=folder / "one", two=folder / "two", checkpoint=checkpoint, **tests)


def logged(root: Path) -> dict[str, float]:
    """The last value of every metric in the run's CSV log (its training's, not its tests')."""
    [path] = [p for p in root.rglob("metrics.csv") if not any(part.startswith("test-") for part in p.relative_to(root).parts)]
    frame = pd.read_csv(path)
    return {name: float(frame[name].dropna().iloc[-1]) for name in frame.columns if frame[name].notna().any()}


def last_checkpoint(root: Path) -> Path:
    [path] = root.rglob("last.ckpt")
    return path


def assert_same_weights(left: Path, right: Path) -> None:
    a, b = checkpoints.load(left)["state_dict"], checkpoints.load(right)["state_dict"]
    assert a.keys() == b.keys()
    moved = 0
    for name in a:
        torch.testing.assert_close(a[name], b[name], **TRAINED, msg=name)
        moved += int(not torch.equal(a[name], b[name]))
    assert moved, "the two runs have bit-identical weights: suspicious (was DDP used?)"


def assert_same_metrics(left: dict, right: dict, names: list[str], tolerance: dict) -> None:
    for name in names:
        assert name in left and name in right, (name, sorted(left), sorted(right))
        assert math.isclose(left[name], right[name], rel_tol=tolerance["rtol"], abs_tol=tolerance["atol"]), \
            (name, left[name], right[name])


# Next word ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def next_word_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("next_word")
    paths = lm_text(folder)
    common = ["-c", str(RECIPES / "next_word" / "lstm.yaml"), "--data.dataset", "null",
              "--data.train_path", str(paths["train"]), "--data.val_path", str(paths["val"]),
              "--data.test_path", str(paths["test"]), "--data.bptt", "10",
              "--model.init_args.encoder.init_args.input_size", "32", "--model.init_args.encoder.init_args.hidden_size", "32",
              "--model.init_args.dropout", "0", "--model.init_args.optimizer.init_args.lr", "0.03",
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "6"]
    # Validation and test share every line of code (`_step`, `_loader`): the validation run after training
    # checks the reduction, which saves two more runs.
    runs = train_and_test_both_ways(folder, common, ["--data.batch_size", "4", "--data.eval_batch_size", "6"],
                                    ["--data.batch_size", "2", "--data.eval_batch_size", "3"], test=False)
    runs.paths = paths
    return runs


@pytest.mark.slow
def test_next_word_trains_on_two_processes_as_on_one(next_word_runs):
    runs = next_word_runs
    assert_same_weights(last_checkpoint(runs.one), runs.checkpoint)
    one, two = logged(runs.one), logged(runs.two)
    assert_same_metrics(one, two, ["val/loss", "val/ppl", "train/ppl"], TRAINED)
    assert math.isclose(two["val/ppl"], math.exp(two["val/loss"]), rel_tol=1e-6)


@pytest.mark.slow
def test_next_word_perplexity_is_over_all_tokens_of_both_processes(next_word_runs):
    runs = next_word_runs
    two = logged(runs.two)
    # Score each process's validation streams here with the weights that were validated (the last
    # checkpoint is written after the validation that ends the epoch) ...
    from seqkit.tasks import NextWordTask

    task = NextWordTask.from_checkpoint(runs.checkpoint)
    totals = []
    for rank in range(2):
        data = lm_data(runs.paths, batch=2, eval_batch=3, trainer=on_processes(rank, 2))
        nll, count, state = 0.0, 0, None
        with torch.no_grad():
            for batch in data.val_dataloader():
                logits, state = task(batch.inputs, state)
                nll += F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), reduction="sum").item()
                count += batch.targets.numel()
        totals.append((nll, count))
    # ... the logged value is exp(total loss / total tokens) ...
    over_all_tokens = math.exp(sum(n for n, _ in totals) / sum(c for _, c in totals))
    assert math.isclose(two["val/ppl"], over_all_tokens, rel_tol=1e-5)
    # ... and not the mean of the per-process perplexities, which differs here by more than the tolerance.
    mean_of_processes = sum(math.exp(n / c) for n, c in totals) / 2
    assert abs(mean_of_processes - over_all_tokens) > 0.01 * over_all_tokens


# Sentiment ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def sentiment_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sentiment")
    reviews = ROOT / "datasets" / "reviews.csv"
    data = SentimentData(train_path=str(reviews), text_column="review", label_column="label", val_fraction=0.25)
    data.setup("fit")
    assert len(data.data["train"]) % 2 == 0  # equal halves: the mean of the two processes' losses is the mean
    common = ["-c", str(RECIPES / "sentiment" / "lstm.yaml"), "--data.dataset", "null",
              "--data.train_path", str(reviews), "--data.test_path", str(reviews),
              "--data.text_column", "review", "--data.label_column", "label", "--data.val_fraction", "0.25",
              "--data.batch_size", "1000", "--data.eval_batch_size", "7",  # the whole set per step; uneven shares
              "--model.init_args.encoder.init_args.input_size", "16", "--model.init_args.encoder.init_args.hidden_size", "16",
              "--model.init_args.dropout", "0", "--model.init_args.optimizer.init_args.lr", "0.01", "--trainer.max_epochs", "3"]
    return train_and_test_both_ways(folder, common, [], [])


@pytest.mark.slow
def test_sentiment_trains_on_two_processes_as_on_one(sentiment_runs):
    runs = sentiment_runs
    assert_same_weights(last_checkpoint(runs.one), runs.checkpoint)
    assert_same_metrics(logged(runs.one), logged(runs.two), ["val/loss", "val/acc", "val/f1"], TRAINED)


@pytest.mark.slow
def test_sentiment_test_metrics_and_confusion_matrix_count_every_text_once(sentiment_runs):
    runs = sentiment_runs
    one, two = logged(runs.one_test), logged(runs.two_test)
    assert_same_metrics(one, two, ["test/loss", "test/acc", "test/f1"], SCORED)
    [matrix_one], [matrix_two] = runs.one_test.rglob("confusion_matrix.csv"), runs.two_test.rglob("confusion_matrix.csv")
    counts = pd.read_csv(matrix_two, index_col=0)
    assert counts.values.sum() == 334  # the 334 reviews, none twice, none missing
    assert counts.equals(pd.read_csv(matrix_one, index_col=0))


# Forecast ----------------------------------------------------------------------

STORE = ["--data.dataset", "null", "--data.train_path", str(ROOT / "datasets" / "store_sales.csv"),
         "--data.columns.time_column", "date", "--data.columns.target_columns", "[sales]", "--data.columns.id_column", "store",
         "--data.columns.known_columns", "[promo]", "--data.columns.observed_columns", "[temperature]",
         "--data.input_length", "28", "--data.horizon", "7", "--model.init_args.season", "7"]


@pytest.fixture(scope="module")
def forecast_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forecast")
    data = ForecastData(train_path=str(ROOT / "datasets" / "store_sales.csv"), columns=Columns(time_column="date", target_columns=["sales"], id_column="store", known_columns=["promo"], observed_columns=["temperature"]), input_length=28, horizon=7)
    data.setup("fit")
    assert len(data.windows["train"]) % 2 == 0  # equal halves
    common = ["-c", str(RECIPES / "forecasting" / "lstm.yaml"), *STORE,
              "--data.batch_size", "10000", "--data.eval_batch_size", "25",  # the whole set per step; uneven shares
              "--model.init_args.encoder.init_args.hidden_size", "16", "--trainer.max_epochs", "3"]
    runs = train_and_test_both_ways(folder, common, [], [])
    runs.test_windows = len(data.windows["test"])
    return runs


@pytest.mark.slow
def test_forecast_trains_on_two_processes_as_on_one(forecast_runs):
    runs = forecast_runs
    assert_same_weights(last_checkpoint(runs.one), runs.checkpoint)
    assert_same_metrics(logged(runs.one), logged(runs.two), ["val/loss", "val/mae", "val/mape", "val/mase"], TRAINED)


@pytest.mark.slow
def test_forecast_test_scores_the_gathered_windows_once(forecast_runs):
    runs = forecast_runs
    one, two = logged(runs.one_test), logged(runs.two_test)
    assert_same_metrics(one, two, ["test/loss", "test/mae", "test/rmse", "test/mape", "test/mase"], SCORED)
    # The first process writes the table and the backtest over every window of both processes.
    [table_two], [table_one] = runs.two_test.rglob("test_metrics.csv"), runs.one_test.rglob("test_metrics.csv")
    pd.testing.assert_frame_equal(pd.read_csv(table_two, index_col=0), pd.read_csv(table_one, index_col=0), rtol=1e-5)
    [backtest_two], [backtest_one] = runs.two_test.rglob("backtest.csv"), runs.one_test.rglob("backtest.csv")
    backtest = pd.read_csv(backtest_two)
    assert len(backtest) == runs.test_windows and not backtest.duplicated(["series", "origin"]).any()
    pd.testing.assert_frame_equal(backtest, pd.read_csv(backtest_one), rtol=1e-5)
