"""DataModules and the dataset catalog."""

from seqkit.data.next_word import NextWordData

__all__ = ["NextWordData"]
