"""What seqkit says while it works: one line to stderr, from the first process only; and quiet runs.

Results and tables go to stdout; these lines (which data a run reads, where its
checkpoints went) go to stderr, so that `seqkit ... > out.txt` keeps only the results.
A default run shows no notices of Lightning's that say nothing about it (`quiet`).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep


def from_seqkit(filename: str) -> bool:
    """Whether `filename` is one of seqkit's own source files (for warnings and errors raised there)."""
    return str(filename).startswith(_PACKAGE)


QUIET = False  # set by quiet(): a default run of the seqkit command


def say(message: str) -> None:
    """A line for the person at the terminal, on stderr (once, from the first process of a multi-process run)."""
    from lightning.pytorch.utilities.rank_zero import rank_zero_only  # here: `seqkit --help` loads no Lightning

    if getattr(rank_zero_only, "rank", 0) == 0:
        print(message, file=sys.stderr, flush=True)


# Lightning's and torch's notices that say nothing about the user's run: tips, a dependency
# note, deprecations inside Lightning, and remarks on seqkit's own, deliberate settings (its
# tasks bring their ModelCheckpoint; small recipes log more often than they have batches;
# its tasks size their model from the data in configure_model, which Lightning's weight
# averaging takes for a sharded model; `fit` alone writes `last.ckpt` with its
# LastCheckpoint; a checkpoint of averaged weights needs no averaging to be evaluated).
NOISE = (
    r"Starting from v1\.9\.0, `tensorboardX` has been removed",
    r".*isinstance\(treespec, LeafSpec\)",
    r"The dirpath has changed from",
    r"Checkpoint directory .* exists and is not empty",
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r"The '\w+_dataloader' does not have many workers",
    r"You defined a `validation_step` but have no `val_dataloader`",
    r"You're using the WeightAveraging callback with a model that overrides the configure_model",
    r"You're using the WeightAveraging callback, but loading a checkpoint outside the 'fit' stage",
    r"Be aware that when using `ckpt_path`, callbacks used to create the checkpoint need to be provided during "
    r"`Trainer` instantiation\. Please add the following callbacks: \['LastCheckpoint'\]",
)


def quiet() -> None:
    """A default run: progress bars and seqkit's own lines, not Lightning's notices (`--verbose` keeps them).

    Lightning's info lines (seed set, GPU available, tips, callbacks overridden, why fit
    stopped) are switched off; the warnings in `NOISE` are dropped; seqkit's
    own warnings print as one `seqkit: warning: ...` line, without a file name and source line.
    Other warnings print as Python prints them.
    """
    global QUIET
    if QUIET:
        return
    QUIET = True
    # Lightning's notices are INFO records of its loggers, whose levels it sets when imported:
    # switch INFO off for every logger instead (seqkit's own lines are printed, not logged).
    logging.disable(logging.INFO)
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    python_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if from_seqkit(filename):
            print(f"seqkit: warning: {message}", file=sys.stderr, flush=True)
        else:
            python_show(message, category, filename, lineno, file, line)

    warnings.showwarning = show
