"""Tasks: LightningModules that own the loss, the metrics and the optimizer of one job."""

from seqkit.tasks.next_word import NextWordTask

__all__ = ["NextWordTask"]
