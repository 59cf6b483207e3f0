"""Bad input for the drift job: each kind has its own exit code and a message naming the culprit."""

from __future__ import annotations


class DriftInputError(Exception):
    exit_code = 3


class NoDataError(DriftInputError):
    """No rows for the interval (no partition files, or only empty ones)."""

    exit_code = 3


class SchemaMismatchError(DriftInputError):
    """Columns missing, or of another kind (numeric vs categorical) than in the reference."""

    exit_code = 4


class UnusableColumnError(DriftInputError):
    """A column that cannot be tested: all values missing, or constant in the reference."""

    exit_code = 5


class UnreadableFileError(DriftInputError):
    """A data file that cannot be read as parquet; the message names the file."""

    exit_code = 6

