"""Nothing is lost when a run is killed, diverges or is run twice (seqkit.training.faults, seqkit.data.resumable).

The resume tests kill a real `python -m seqkit.cli fit` process with SIGKILL in the middle
of an epoch, resume it in its folder with `--ckpt_path last`, and compare the result with
an uninterrupted run of the same seed: the weights and the best validation score must
agree to 1e-6 (on one CPU they agree bit for bit). The process kills itself, at a step
the test chooses (`SigkillAt`) or in the middle of writing a checkpoint
(`SigkillWhileSaving`), so that the moment is exact and the test needs no timing.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from seqkit.training import checkpoints
from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.data.resumable import EpochRandomSampler, ResumableDataLoader
from seqkit.training.faults import DivergedError, StopOnDivergence, atomic_save, next_version, run_version

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


# ----------------------------------------------------------------------------- run in the killed process
class SigkillAt(pl.Callback):
    """Kill this process (SIGKILL, no clean-up) when training step `step` is about to start."""

    sent = signal.SIGKILL

    def __init__(self, step: int = 1) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.sent)


class CtrlCAt(SigkillAt):
    """Press Ctrl-C (SIGINT to this process) when training step `step` is about to start."""

    sent = signal.SIGINT


class SigkillWhileSaving(pl.Callback):
    """Kill this process halfway through writing its `save`-th checkpoint file."""

    def __init__(self, save: int = 1) -> None:
        self.save = save

    def setup(self, trainer, pl_module, stage) -> None:
        real_save, count = torch.save, itertools.count(1)

        def save(obj, file, *args, **kwargs):
            if next(count) == self.save:
                file.write(b"PK\x03\x04 half a checkpoint")
                file.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return real_save(obj, file, *args, **kwargs)

        torch.save = save


# ----------------------------------------------------------------------------- helpers
def fit_and_get_killed(args: list[str], callback: str, value: int) -> None:
    """`seqkit fit ARGS` in a new process that `callback(value)` kills; the process must die of SIGKILL."""
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "PYTHONWARNINGS": "ignore"}
    name = "step" if callback == "SigkillAt" else "save"
    command = [sys.executable, "-m", "seqkit.cli", "fit", *args, f"--trainer.callbacks+=tests.test_faults.{callback}",
               f"--trainer.callbacks.{name}", str(value)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]


def last_checkpoint(root: Path, version: int = 0) -> Path:
    return root / "lightning_logs" / f"version_{version}" / "checkpoints" / "last.ckpt"


def position(checkpoint: dict) -> tuple[int, int]:
    """(epoch, batches of that epoch done) of a checkpoint."""
    current = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]
    return checkpoint["epoch"], current["completed"]


def best_score(checkpoint: dict) -> float:
    states = [state for key, state in checkpoint["callbacks"].items() if key.startswith("ModelCheckpoint")]
    return float(states[0]["best_model_score"])


def assert_same_run(ours: Path, reference: Path) -> None:
    a, b = checkpoints.load(ours), checkpoints.load(reference)
    assert a["global_step"] == b["global_step"] and a["epoch"] == b["epoch"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][name], b["state_dict"][name], rtol=1e-6, atol=1e-6, msg=name)
    assert best_score(a) == pytest.approx(best_score(b), rel=1e-6)


def kill_and_resume(args: list[str], tmp_path: Path, callback: str = "SigkillAt", after_kill=None) -> dict:
    """Fit uninterrupted; fit again killed in the middle of epoch 1; resume that; the two must agree.

    `after_kill(checkpoint folder)` looks at the killed run's files before it is resumed.
    Returns the checkpoint the resumed run started from.
    """
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert main(["fit", *args, "--trainer.default_root_dir", str(reference)]) == 0
    finished = checkpoints.load(last_checkpoint(reference))
    per_epoch = finished["global_step"] // (finished["epoch"] + 1)
    assert per_epoch >= 4, "too few batches per epoch to be killed in the middle of one"
    # With a checkpoint at every step, step k is the k-th save (the validation saves come after steps).
    fit_and_get_killed([*args, "--trainer.default_root_dir", str(run)], callback, per_epoch + per_epoch // 2)
    if after_kill is not None:
        after_kill(last_checkpoint(run).parent)
    resumed_from = checkpoints.load(last_checkpoint(run))
    epoch, done = position(resumed_from)
    assert epoch == 1 and 0 < done < per_epoch, "the kill was not in the middle of an epoch"
    assert main(["fit", *args, "--trainer.default_root_dir", str(run), "--ckpt_path", "last"]) == 0
    assert_same_run(last_checkpoint(run), last_checkpoint(reference))
    assert not list(run.glob("lightning_logs/version_1")), "the resumed run must stay in its own folder"
    return resumed_from


# ----------------------------------------------------------------------------- resume, per recipe
@pytest.mark.slow  # a new process, which takes seconds to import Lightning
def test_next_word_resumes_mid_epoch_with_its_carried_state(tmp_path):
    text = tmp_path / "text.txt"
    words = "the lord said unto moses and aaron go forth into the land which i give you".split()
    text.write_text("\n".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(9)) for i in range(120)))
    args = ["-c", str(RECIPES / "next_word" / "lstm.yaml"), "--data.dataset", "null", "--data.train_path", str(text),
            "--data.batch_size", "4", "--data.bptt", "12", "--data.eval_batch_size", "2",
            "--model.init_args.encoder.init_args.input_size", "16", "--model.init_args.encoder.init_args.hidden_size", "16",
            "--model.init_args.lr_scheduler", "seqkit.tasks.StepDecay",  # an epoch schedule must resume too
            "--model.init_args.lr_scheduler.init_args.factor", "0.5", "--model.init_args.lr_scheduler.init_args.start", "1",
            "--trainer.max_epochs", "2", "--trainer.logger", "false", "--checkpoint_every_n_steps", "1", *QUIET]
    resumed_from = kill_and_resume(args, tmp_path)
    # The state carried into the next batch travels in the checkpoint (not zeros on resume).
    carried = resumed_from["next_word_stream"]["state"]
    assert all(float(s.abs().sum()) > 0 for s in carried)


@pytest.mark.slow  # a new process, which takes seconds to import Lightning
def test_sentiment_resumes_mid_epoch(tmp_path):
    rows = ["review,stars"]
    for i in range(96):
        good = i % 2 == 0
        words = ["great", "lovely", "fine", "superb"] if good else ["awful", "broken", "dull", "poor"]
        rows.append(" ".join(words[(i + k) % 4] for k in range(3 + i % 5)) + f",{5 if good else 1}")
    table = tmp_path / "reviews.csv"
    table.write_text("\n".join(rows) + "\n")
    args = ["-c", str(RECIPES / "sentiment" / "lstm.yaml"), "--data.dataset", "null", "--data.train_path", str(table),
            "--data.text_column", "review", "--data.label_column", "stars", "--data.batch_size", "8",
            "--model.init_args.encoder.init_args.input_size", "8", "--model.init_args.encoder.init_args.hidden_size", "8",
            "--trainer.max_epochs", "2", "--trainer.logger", "false", "--checkpoint_every_n_steps", "1", *QUIET]
    kill_and_resume(args, tmp_path)


@pytest.mark.slow  # a new process, which takes seconds to import Lightning
def test_forecasting_resumes_after_a_kill_in_the_middle_of_a_save(tmp_path):
    args = ["-c", str(RECIPES / "forecasting" / "lstm.yaml"), "--data.batch_size", "128",
            "--model.init_args.encoder.init_args.hidden_size", "8",
            "--trainer.max_epochs", "2", "--trainer.logger", "false", "--checkpoint_every_n_steps", "1", *QUIET]

    def half_written(folder: Path) -> None:
        # The process died writing last.ckpt: the half-written bytes lie beside it, and last.ckpt
        # itself is the previous checkpoint, whole (kill_and_resume then loads and resumes it).
        assert (folder / "last.ckpt.partial").read_bytes() == b"PK\x03\x04 half a checkpoint"
        assert checkpoints.load(folder / "last.ckpt", task="forecast")["global_step"] > 0

    kill_and_resume(args, tmp_path, callback="SigkillWhileSaving", after_kill=half_written)


@pytest.mark.slow  # a new process, which takes seconds to import Lightning
def test_memory_resumes_mid_epoch(tmp_path):
    args = ["-c", str(RECIPES / "memory" / "adding.yaml"), "--data.length", "8", "--data.train_size", "96",
            "--data.val_size", "32", "--data.test_size", "32", "--data.batch_size", "16",
            "--model.init_args.encoder.init_args.hidden_size", "8",
            "--trainer.max_epochs", "2", "--trainer.logger", "false", "--checkpoint_every_n_steps", "1", *QUIET]
    kill_and_resume(args, tmp_path)


@pytest.mark.slow  # a new process, which takes seconds to import Lightning
def test_seq2seq_resumes_mid_epoch(tmp_path):
    args = ["-c", str(RECIPES / "seq2seq" / "dates.yaml"), "--data.train_size", "96", "--data.val_size", "16",
            "--data.test_size", "16", "--data.batch_size", "16",
            "--model.init_args.encoder.init_args.hidden_size", "8", "--model.init_args.decoder.init_args.hidden_size", "8",
            "--model.embedding_size", "8",
            "--trainer.max_epochs", "2", "--trainer.logger", "false", "--checkpoint_every_n_steps", "1", *QUIET]
    kill_and_resume(args, tmp_path)


# ----------------------------------------------------------------------------- atomic checkpoint files
def test_a_save_that_fails_halfway_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_save({"seqkit": {"task": "toy"}, "state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def broken_save(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 the first bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(SeqkitError, match=f"cannot write {path}: no space left on its disk; the file there before"):
        atomic_save({"seqkit": {"task": "toy"}, "state_dict": {"w": torch.zeros(3)}}, path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path], "the half-written file must be cleaned up"
    monkeypatch.undo()
    assert torch.equal(checkpoints.load(path)["state_dict"]["w"], torch.ones(3))


def test_seqkit_fit_writes_checkpoints_through_the_atomic_writer(tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr("seqkit.training.checkpoints.atomic_save", lambda checkpoint, path: written.append(Path(path).name))
    assert main(["fit", "-c", str(RECIPES / "forecasting" / "lstm.yaml"), "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "3", "--trainer.logger", "false",
                 "--trainer.default_root_dir", str(tmp_path), "--checkpoint_every_n_steps", "1", *QUIET]) == 0
    # every step but the last (its validation follows), the best after validation, last after validation
    assert written[:2] == ["last.ckpt", "last.ckpt"] and written[2].startswith("best-") and written[3] == "last.ckpt"


# ----------------------------------------------------------------------------- divergence
class PoisonWeightsAt(pl.Callback):
    """Make a weight NaN after training step `step`, as an infinite gradient would."""

    def __init__(self, step: int = 1) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.parameters()).view(-1)[0] = float("nan")


ADDING = ["-c", str(RECIPES / "memory" / "adding.yaml"), "--data.length", "8", "--data.train_size", "96",
          "--data.val_size", "32", "--data.test_size", "32", "--data.batch_size", "16",
          "--model.init_args.encoder.init_args.hidden_size", "8", "--trainer.max_epochs", "2",
          "--trainer.logger", "false", "--checkpoint_every_n_steps", "1", *QUIET]


def test_an_absurd_learning_rate_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    code = main(["fit", *ADDING, "--model.init_args.optimizer", "torch.optim.SGD", "--model.init_args.optimizer.init_args.lr", "1e6", "--trainer.gradient_clip_val", "null",
                 "--trainer.default_root_dir", str(tmp_path)])
    assert code == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    match = re.search(r"the loss became (nan|infinite) at step (\d+) \(epoch 0, batch \d+\)", message)
    assert match, message
    assert "--trainer.gradient_clip_val" in message and "lower the learning rate" in message
    last = last_checkpoint(tmp_path)
    assert f"last good checkpoint is {last}" in message
    saved = checkpoints.load(last, task="memory")
    assert 0 < saved["global_step"] <= int(match.group(2))
    assert all(bool(torch.isfinite(t).all()) for t in saved["state_dict"].values())


def test_weights_that_stop_being_finite_are_never_saved(tmp_path, capsys):
    code = main(["fit", *ADDING, "--trainer.default_root_dir", str(tmp_path),
                 "--trainer.callbacks+=tests.test_faults.PoisonWeightsAt", "--trainer.callbacks.step", "3"])
    assert code == 2
    assert "the weights stopped being finite numbers by step 3" in capsys.readouterr().err
    saved = checkpoints.load(last_checkpoint(tmp_path), task="memory")
    assert saved["global_step"] == 2 and all(bool(torch.isfinite(t).all()) for t in saved["state_dict"].values())


def test_the_divergence_check_refuses_a_checkpoint_with_nan_weights():
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    with pytest.raises(DivergedError, match=r"weights stopped being finite .*layer.weight.* lower the learning rate"):
        StopOnDivergence().on_save_checkpoint(trainer, None, {"state_dict": {"layer.weight": torch.tensor([1.0, float("nan")]),
                                                                             "layer.steps": torch.tensor([3])}})
    StopOnDivergence().on_save_checkpoint(trainer, None, {"state_dict": {"layer.weight": torch.ones(2)}})


# ----------------------------------------------------------------------------- one folder per run
def test_a_second_run_gets_a_folder_of_its_own_and_a_resume_stays_in_its_own(tmp_path, capsys):
    base = ["fit", "-c", str(RECIPES / "forecasting" / "lstm.yaml"), "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", "3", "--trainer.default_root_dir", str(tmp_path), *QUIET]
    assert main([*base, "--trainer.logger", "false"]) == 0
    first = {p: p.read_bytes() for p in (tmp_path / "lightning_logs" / "version_0").rglob("*") if p.is_file()}
    assert {p.name for p in first} >= {"config.yaml", "last.ckpt"}
    assert main(base) == 0  # with Lightning's default logger this time
    assert main([*base, "--trainer.logger", "false"]) == 0
    runs = sorted(p.name for p in (tmp_path / "lightning_logs").iterdir())
    assert runs == ["version_0", "version_1", "version_2"]
    assert (tmp_path / "lightning_logs" / "version_1" / "metrics.csv").is_file()
    assert all(p.read_bytes() == content for p, content in first.items()), "the first run's files were changed"
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "config.yaml").exists()

    # Resuming the newest logged run for more epochs: its checkpoints go on in version_1, its
    # config and metrics go to resume-1/, and what the first part wrote is left as it was.
    second = {p: p.read_bytes() for p in (tmp_path / "lightning_logs" / "version_1").rglob("*")
              if p.is_file() and p.suffix != ".ckpt"}
    os.utime(last_checkpoint(tmp_path, 1))  # the newest last.ckpt is the one `last` takes
    capsys.readouterr()
    assert main([*base, "--trainer.max_epochs", "2", "--ckpt_path", "last"]) == 0
    assert f"resuming {last_checkpoint(tmp_path, 1)}" in capsys.readouterr().err
    folder = tmp_path / "lightning_logs" / "version_1"
    assert all(p.read_bytes() == content for p, content in second.items()), "the resumed run changed earlier logs"
    assert (folder / "resume-1" / "config.yaml").is_file() and (folder / "resume-1" / "metrics.csv").is_file()
    assert checkpoints.load(last_checkpoint(tmp_path, 1))["epoch"] == 1
    assert sorted(p.name for p in (tmp_path / "lightning_logs").iterdir()) == runs


def test_ckpt_path_last_without_a_checkpoint_starts_a_new_run(tmp_path, capsys):
    assert main(["fit", "-c", str(RECIPES / "forecasting" / "lstm.yaml"), "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "2", "--trainer.logger", "false", "--ckpt_path", "last",
                 "--trainer.default_root_dir", str(tmp_path), *QUIET]) == 0
    assert f"no last.ckpt under {tmp_path} yet: starting a new run" in capsys.readouterr().err
    assert last_checkpoint(tmp_path).is_file()


def test_run_versions(tmp_path):
    assert next_version(tmp_path) == 0
    for name in ("version_0", "version_3", "version_x", "notes"):
        (tmp_path / "lightning_logs" / name).mkdir(parents=True)
    assert next_version(tmp_path) == 4
    assert run_version(last_checkpoint(tmp_path, 3), tmp_path) == 3
    assert run_version(tmp_path / "lightning_logs" / "version_3" / "last.ckpt", tmp_path) is None
    assert run_version(tmp_path / "elsewhere" / "version_3" / "checkpoints" / "last.ckpt", tmp_path) is None


# ----------------------------------------------------------------------------- resumable loaders
def test_a_resumed_loader_gives_the_batches_after_the_saved_ones_none_twice():
    data = list(range(20))
    first = ResumableDataLoader(data, batch_size=3, sampler=EpochRandomSampler(data, seed=7))
    first.sampler.set_epoch(2)
    seen = []
    for batch in first:
        seen.append(batch.tolist())
        if len(seen) == 4:
            state = first.state_dict()
            break
    assert state == {"batches": 4}
    again = ResumableDataLoader(data, batch_size=3, sampler=EpochRandomSampler(data, seed=7))
    again.load_state_dict(state)
    again.sampler.set_epoch(2)
    seen += [batch.tolist() for batch in again]
    whole = ResumableDataLoader(data, batch_size=3, sampler=EpochRandomSampler(data, seed=7))
    whole.sampler.set_epoch(2)
    assert seen == [batch.tolist() for batch in whole]
    assert sorted(sum(seen, [])) == data
    # The position is for one pass only: the next pass is a whole epoch again.
    assert len(list(again)) == 7


def test_an_epoch_order_depends_on_the_seed_and_the_epoch_only():
    data = list(range(50))

    def order(seed, epoch, draws_before=0):
        sampler = EpochRandomSampler(data, seed)
        for _ in range(draws_before):
            list(sampler)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0, 3) == order(0, 3, draws_before=5)
    assert order(0, 3) != order(0, 4) and order(0, 3) != order(1, 3)
    assert sorted(order(0, 3)) == data


def test_a_resumable_loader_refuses_a_global_shuffle():
    with pytest.raises(ValueError, match="EpochRandomSampler"):
        ResumableDataLoader(list(range(8)), batch_size=2, shuffle=True)


def test_a_pass_ended_early_resumes_at_the_next_pass():
    loader = ResumableDataLoader(list(range(12)), batch_size=2)
    iterator = iter(loader)
    next(iterator), next(iterator)
    loader.end_pass()  # what LastCheckpoint does when limit_train_batches ends the epoch here
    resumed = ResumableDataLoader(list(range(12)), batch_size=2)
    resumed.load_state_dict(loader.state_dict())
    assert [b.tolist() for b in resumed][0] == [0, 1]


@pytest.mark.slow  # a new process, which takes seconds to import Lightning
@pytest.mark.parametrize("every, said", [("2", "holds step 4: go on with --ckpt_path last"),
                                         ("0", "nothing was saved yet (last.ckpt is written every 0 steps")])
def test_ctrl_c_says_in_one_line_what_was_saved(tmp_path, every, said):
    args = ["-c", str(RECIPES / "forecasting" / "lstm.yaml"), "--data.batch_size", "16", "--trainer.max_epochs", "1",
            "--trainer.logger", "false", "--checkpoint_every_n_steps", every, "--trainer.default_root_dir", str(tmp_path),
            "--trainer.callbacks+=tests.test_faults.CtrlCAt", "--trainer.callbacks.step", "5", *QUIET]
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "seqkit.cli", "fit", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if "interrupted at epoch 0, step 5" in line]
    assert len(lines) == 1 and said in lines[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
