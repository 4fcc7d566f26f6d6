"""DataModules and the dataset catalog."""

from seqkit.data.next_word import NextWordData
from seqkit.data.sentiment import SentimentData, TextBatch

__all__ = ["NextWordData", "SentimentData", "TextBatch"]
