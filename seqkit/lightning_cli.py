"""`seqkit fit|validate|test|predict`: Lightning's own command line, over any task and data.

LightningCLI does the work: `-c CONFIG` (a recipe YAML), `--print_config`, `class_path`
to choose the task, the data and the recurrent cell, and every Trainer flag
(`--trainer.accelerator gpu`, `--trainer.max_epochs 3`, ...). seqkit adds:

- `--init_from CKPT` (fit): start from a trained model's weights and keep its vocabulary
  (and, in later recipes, its label map or scalers): fine-tuning on your own data. Each
  task says what it keeps in its `init_from_checkpoint`.
- a summary when training ends: the best validation score and where its checkpoint is.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from seqkit.errors import SeqkitError


class SeqkitCLI(LightningCLI):
    """LightningCLI with `--init_from` and a closing summary."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--init_from", type=Optional[str], default=None,
            help="fit only: start from the weights of this seqkit checkpoint and keep its vocabulary (fine-tuning)",
        )

    def before_fit(self) -> None:
        init_from = self._get(self.config, "init_from")
        if init_from:
            if not hasattr(self.model, "init_from_checkpoint"):
                raise SeqkitError(f"{type(self.model).__name__} does not support --init_from")
            self.model.init_from_checkpoint(init_from, self.datamodule)

    def _refuse_init_from(self) -> None:
        if self._get(self.config, "init_from"):
            raise SeqkitError("--init_from belongs to `seqkit fit`; to evaluate a checkpoint use --ckpt_path")

    before_validate = before_test = before_predict = _refuse_init_from

    def after_fit(self) -> None:
        callback = self.trainer.checkpoint_callback
        if self.trainer.global_rank != 0 or callback is None:
            return
        datamodule = self.datamodule
        oov = getattr(datamodule, "oov_rate", None)
        lines = ["", "seqkit: training finished"]
        if self._get(self.config, "init_from") and oov is not None:
            lines.append(f"  fine-tuned from {self._get(self.config, 'init_from')}; {oov:.2%} of the training tokens were out of its vocabulary (<unk>)")
        if callback.best_model_score is not None:
            lines.append(f"  best {callback.monitor}: {callback.best_model_score.item():.4g}")
        for label, path in (("best", callback.best_model_path), ("last", callback.last_model_path)):
            if path and os.path.exists(path):  # fast_dev_run, for one, writes none
                lines.append(f"  {label} checkpoint: {path}")
        print("\n".join(lines), file=sys.stderr)


def run(args: list[str]) -> int:
    """Run the CLI with `args` (the subcommand first, e.g. `["fit", "-c", "x.yaml"]`)."""
    SeqkitCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        # From the shell, LightningCLI reads sys.argv itself (and warns if given both).
        args=None if args == sys.argv[1:] else args,
    )
    return 0
