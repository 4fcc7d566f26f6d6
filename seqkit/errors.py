"""The errors seqkit raises for problems a user can fix: each message names the problem and the fix."""

from __future__ import annotations


class SeqkitError(Exception):
    """Base class of seqkit's own errors. The command line prints these as one line, no traceback."""


class DataError(SeqkitError, ValueError):
    """A data file or folder that seqkit cannot use: missing, empty, not UTF-8, too short, malformed."""


class CheckpointError(SeqkitError, ValueError):
    """A checkpoint that seqkit cannot load: corrupt, truncated, of another task, or not seqkit's."""
