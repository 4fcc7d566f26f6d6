"""`seqkit fit|validate|test|predict`: Lightning's own command line, over any task and data.

LightningCLI does the work: `-c CONFIG` (a recipe YAML), `--print_config`, `class_path`
to choose the task, the data and the recurrent cell, and every Trainer flag
(`--trainer.accelerator gpu`, `--trainer.max_epochs 3`, ...). seqkit adds nothing to
the loops; its tasks and DataModules plug in by class path.
"""

from __future__ import annotations


def run(args: list[str]) -> int:
    """Run LightningCLI with `args` (the subcommand first, e.g. `["fit", "-c", "x.yaml"]`)."""
    import sys

    from lightning.pytorch import LightningDataModule, LightningModule
    from lightning.pytorch.cli import LightningCLI

    LightningCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        # From the shell, LightningCLI reads sys.argv itself (and warns if given both).
        args=None if args == sys.argv[1:] else args,
    )
    return 0
