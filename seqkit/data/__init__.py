"""DataModules and the dataset catalog."""

from seqkit.data.forecast import ForecastBatch, ForecastData
from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData, TextBatch

__all__ = ["ForecastBatch", "ForecastData", "NextWordData", "SentimentData", "TextBatch"]
