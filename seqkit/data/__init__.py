"""DataModules and the dataset catalog."""

from seqkit.data.dates import DatesData, Seq2SeqBatch
from seqkit.data.forecast import ForecastBatch, ForecastData
from seqkit.data.forecast_arguments import Columns
from seqkit.data.memory import AddingData, MemoryBatch, RecallData
from seqkit.data.next_word import LMBatch, NextWordData
from seqkit.data.sentiment import SentimentData, TextBatch

__all__ = ["AddingData", "Columns", "DatesData", "ForecastBatch", "ForecastData", "LMBatch", "MemoryBatch", "NextWordData", "RecallData",
           "SentimentData", "Seq2SeqBatch", "TextBatch"]
