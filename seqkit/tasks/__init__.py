"""Tasks: LightningModules that own the loss, the metrics and the optimizer of one job."""

from seqkit.tasks.common import SlantedTriangular, StepDecay
from seqkit.tasks.forecast import ForecastTask
from seqkit.tasks.memory import MemoryTask
from seqkit.tasks.next_word import NextWordTask
from seqkit.tasks.seq2seq import Seq2SeqTask
from seqkit.tasks.sentiment import SentimentTask

__all__ = ["SlantedTriangular", "StepDecay", "ForecastTask", "MemoryTask", "NextWordTask", "SentimentTask", "Seq2SeqTask"]
