"""DataModules and the dataset catalog."""

from seqkit.data.forecast import ForecastBatch, ForecastData
from seqkit.data.memory import AddingData, MemoryBatch, RecallData
from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData, TextBatch

__all__ = ["AddingData", "ForecastBatch", "ForecastData", "MemoryBatch", "NextWordData", "RecallData", "SentimentData",
           "TextBatch"]
