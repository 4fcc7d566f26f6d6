"""A training run that survives being killed: atomic checkpoints, `last.ckpt` to resume from, a stop on divergence.

`seqkit fit` (SeqkitCLI) puts these on every Trainer it builds:

- `atomic_save`, through `seqkit.training.checkpoints.AtomicCheckpointIO`: each checkpoint
  is written to `NAME.partial` in its own folder, flushed to disk, then renamed over `NAME`. A rename within a folder is atomic, so a kill
  at any moment leaves the previous file whole. (Lightning's own writer renames from the
  system's temporary folder, which is a copy, not a rename, when that folder lies on another
  disk, as it often does on clusters.)
- `LastCheckpoint`: writes `last.ckpt` every `every_n_steps` training steps, after every
  validation and at the end, so that a run killed mid-epoch loses at most that many steps.
  With Lightning's loop position, optimizer and schedulers, each checkpoint then also holds
  the random generators and the training loader's place in its epoch
  (`seqkit.data.resumable`): the resumed run draws the same batches and dropout masks as the
  run it continues.
- `StopOnDivergence`: a loss that becomes NaN or infinite stops the run at once with a
  message that names the step and suggests the fixes, before the bad step changes the
  weights; a checkpoint whose weights are not finite is never written, so `last.ckpt`
  stays the last good one.

and chooses each run's folder (`run_folder`): `DEFAULT_ROOT_DIR/lightning_logs/version_N`,
a new N for a new run, the N of the checkpoint for a resumed one, whose config and logs go
to `version_N/resume-K` beside those of the part before the kill (`resume_folder`).
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Callable

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from seqkit.console import say
from seqkit.errors import SeqkitError

LAST = "last.ckpt"
RUNS = "lightning_logs"  # the folder of run versions, as Lightning's loggers name it


class DivergedError(SeqkitError):
    """The training loss (or the weights) stopped being finite numbers: the run has diverged."""


# ----------------------------------------------------------------------------- writing files
def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file such that `path` is always either the old file or the whole new one.

    `write(file)` puts the bytes into `path.partial` in the same folder; they reach the disk
    (fsync) before a rename puts them in place, so a kill or a full disk leaves the old file
    whole. A `.partial` file left by a killed write is overwritten by the next one.

    Raises:
        SeqkitError: the file cannot be written (no space left, no permission, no such
            folder); nothing is left behind.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
    except (OSError, RuntimeError) as error:
        partial.unlink(missing_ok=True)
        # torch's writer reports a full disk as a RuntimeError ("unexpected pos ..."): ask the disk.
        full = getattr(error, "errno", None) == errno.ENOSPC or (
            isinstance(error, RuntimeError) and _free_bytes(path.parent) < 1 << 20)
        if isinstance(error, RuntimeError) and not full:
            raise
        reason = "no space left on its disk" if full else (getattr(error, "strerror", None) or str(error))
        raise SeqkitError(f"cannot write {path}: {reason}; the file there before (if any) is unchanged") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    try:  # make the rename itself durable (POSIX; not possible on Windows, where it is skipped)
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 1 << 62


def atomic_save(checkpoint: dict, path: str | Path) -> None:
    """`torch.save(checkpoint, path)` through `atomic_write`: the old file or the whole new one, never half."""
    atomic_write(path, lambda file: torch.save(checkpoint, file))


def atomic_write_text(text: str, path: str | Path) -> None:
    """Write `text` (UTF-8) to `path` through `atomic_write`."""
    atomic_write(path, lambda file: file.write(text.encode("utf-8")))


# ----------------------------------------------------------------------------- random generators
def random_states() -> dict[str, Any]:
    """The global random generators (torch, CUDA, numpy, Python) as plain data: loadable with `weights_only=True`."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        # The current device's generator, and only if CUDA is in use (asking would start it on every device).
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
        "python": random.getstate(),
    }


def set_random_states(states: dict[str, Any]) -> None:
    """Put back what `random_states` returned (the CUDA generator on the current device, if one was saved)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


# ----------------------------------------------------------------------------- run folders
def newest_last_checkpoint(root: str | Path) -> Path | None:
    """The most recently written `last.ckpt` anywhere under `root`, or None."""
    root = Path(root)
    found = sorted(root.rglob(LAST), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    return found[-1] if found else None


def run_version(checkpoint: str | Path, root: str | Path) -> int | None:
    """N when `checkpoint` lies in `root/lightning_logs/version_N/checkpoints/`, else None."""
    folder = Path(checkpoint).resolve().parent
    match = re.fullmatch(r"version_(\d+)", folder.parent.name)
    if folder.name != "checkpoints" or match is None or folder.parent.parent != (Path(root) / RUNS).resolve():
        return None
    return int(match.group(1))


def next_version(root: str | Path) -> int:
    """One more than the highest `version_N` under `root/lightning_logs` (0 for none), as Lightning's loggers count."""
    runs = Path(root) / RUNS
    numbers = [int(m.group(1)) for p in (runs.iterdir() if runs.is_dir() else [])
               if p.is_dir() and (m := re.fullmatch(r"version_(\d+)", p.name))]
    return max(numbers, default=-1) + 1


def run_folder(root: str | Path, version: int) -> Path:
    """`root/lightning_logs/version_N`: a run's config, metrics and `checkpoints/`."""
    return Path(root) / RUNS / f"version_{version}"


def resume_folder(folder: str | Path, prefix: str = "resume") -> Path:
    """`folder/resume-K` for the first K from 1 not taken: the config and logs of the K-th resume of a run.

    With another `prefix`, the same for the K-th `test` (or `validate`, `predict`) of the run.
    """
    k = 1
    while (Path(folder) / f"{prefix}-{k}").exists():
        k += 1
    return Path(folder) / f"{prefix}-{k}"


# ----------------------------------------------------------------------------- callbacks
class LastCheckpoint(Callback):
    """Keep `last.ckpt` fresh enough to resume a killed run from the middle of an epoch.

    Writes `last.ckpt` (through the Trainer, so atomically with `AtomicCheckpointIO`) every
    `every_n_steps` training steps within an epoch, after every validation while fitting,
    and when training ends. (Lightning's `ModelCheckpoint(save_last=True)` writes it only
    when it also writes a best checkpoint: a run that stopped improving would resume from
    an older state.)

    Its own part of every checkpoint is the random generators, put back when a resumed run
    starts training; it also tells a `ResumableDataLoader` when the Trainer ends an epoch
    early (`limit_train_batches`).

    Args:
        dirpath: the folder of `last.ckpt`. It is also given to every `ModelCheckpoint`
            without a folder of its own, so that best and last checkpoints lie together.
            None: the folder of the Trainer's first `ModelCheckpoint`.
        every_n_steps: write every this many training steps; 0: only after validations
            and at the end.
    """

    def __init__(self, dirpath: str | Path | None = None, every_n_steps: int = 500) -> None:
        if every_n_steps < 0:
            raise SeqkitError(f"--checkpoint_every_n_steps must be 0 (off) or more, got {every_n_steps}")
        self.dirpath = str(dirpath) if dirpath is not None else None
        self.every_n_steps = every_n_steps
        self.path: str | None = None  # the last.ckpt written, once one is
        self._saved_step = -1
        self._resumed_states: dict | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        # Run after every other callback, ModelCheckpoints included (Lightning puts those last): the
        # last.ckpt written after a validation then records the best score that validation set. A new
        # list, since Lightning is iterating over the old one to call this hook.
        trainer.callbacks = [c for c in trainer.callbacks if c is not self] + [self]
        # Every process writes to the folder process 0 chose (they may count versions at different moments).
        self.dirpath = trainer.strategy.broadcast(self.dirpath)
        if self.dirpath is not None:
            for callback in trainer.checkpoint_callbacks:
                if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                    callback.dirpath = self.dirpath

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.fast_dev_run or trainer.sanity_checking:
            return
        folder = self.dirpath
        if folder is None:
            checkpoint = trainer.checkpoint_callback
            folder = checkpoint.dirpath if checkpoint is not None and checkpoint.dirpath else os.path.join(
                trainer.log_dir or trainer.default_root_dir, "checkpoints")
        self.path = os.path.join(folder, LAST)
        trainer.save_checkpoint(self.path, weights_only=False)
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        last_batch = batch_idx + 1 >= trainer.num_training_batches
        if last_batch and hasattr(trainer.train_dataloader, "end_pass"):
            trainer.train_dataloader.end_pass()
        # Not at the last batch: the epoch's validation and its save come right after (a
        # checkpoint from between the two would resume past that validation). Not in the
        # middle of accumulating gradients, which a checkpoint does not hold.
        stepped = (batch_idx + 1) % trainer.accumulate_grad_batches == 0
        if self.every_n_steps and stepped and not last_batch and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step != self._saved_step:  # not saved yet in this state (max_steps ended mid-epoch)
            self._save(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """On Ctrl-C, one line: what is saved, and how to go on from it (nothing is written now: a step
        cut in the middle is no state to resume from)."""
        if not isinstance(exception, KeyboardInterrupt) or trainer.global_rank != 0:
            return
        where = f"interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}"
        if self.path is not None and os.path.isfile(self.path):
            say(f"seqkit: {where}; {self.path} holds step {self._saved_step}: go on with --ckpt_path last "
                "(the same command and recipe)")
        else:
            say(f"seqkit: {where}; nothing was saved yet (last.ckpt is written every {self.every_n_steps} steps "
                "and after each validation)")

    def state_dict(self) -> dict[str, Any]:
        return {"random": random_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed_states = state_dict.get("random")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Now, not in load_state_dict: nothing between here and the first resumed step draws
        # a random number, so that step draws what it would have drawn in the lost run.
        if self._resumed_states is not None:
            set_random_states(self._resumed_states)
            self._resumed_states = None


class StopOnDivergence(Callback):
    """Stop training with `DivergedError` when the loss is NaN or infinite; never save non-finite weights.

    The loss is checked before its backward pass, so the step that went wrong changes
    nothing; a checkpoint is checked before it is written, so a finite loss followed by an
    infinite gradient cannot leave NaN weights in `last.ckpt` either.
    """

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        if not bool(torch.isfinite(loss).all()):
            value = "nan" if bool(torch.isnan(loss).any()) else "infinite"
            raise DivergedError(f"training diverged: the loss became {value} at step {trainer.global_step} "
                                f"(epoch {trainer.current_epoch}, batch {trainer.fit_loop.epoch_loop.batch_idx})"
                                f"{_advice(trainer)}")

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        bad = [name for name, tensor in checkpoint.get("state_dict", {}).items()
               if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
        if bad:
            raise DivergedError(f"training diverged: the weights stopped being finite numbers by step "
                                f"{trainer.global_step} ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}); "
                                f"this checkpoint is not written{_advice(trainer)}")


def _advice(trainer: pl.Trainer) -> str:
    """What to do about a diverged run, and where its last good checkpoint is."""
    clip = trainer.gradient_clip_val
    fix = (f"; clip the gradients harder than {clip} (--trainer.gradient_clip_val)" if clip else
           "; clip the gradients (--trainer.gradient_clip_val 1.0)")
    fix += " or lower the learning rate (--model.init_args.optimizer.init_args.lr)"
    last = next((c.path for c in trainer.callbacks if isinstance(c, LastCheckpoint) and c.path), None)
    if last and os.path.isfile(last):
        return f"{fix}. The last good checkpoint is {last}"
    return f"{fix}. No checkpoint had been written yet"
