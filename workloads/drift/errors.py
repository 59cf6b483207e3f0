"""Errors of the drift job, each with its exit code and a message naming the culprit.

Bad input (3-6) cannot be fixed by a retry: the CronJob fails at once on FAIL_FAST_EXIT_CODES.
A failure of MLflow, S3 or the retrain hook exits INFRASTRUCTURE_FAILURE (7), which is retried.
"""

from __future__ import annotations

from workloads.cli import WorkloadError, fail_fast_codes

INFRASTRUCTURE_FAILURE = 7


class DriftInputError(WorkloadError):
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


class HookError(WorkloadError):
    """The retrain hook refused the call or stayed unreachable after its retries."""

    exit_code = INFRASTRUCTURE_FAILURE


FAIL_FAST_EXIT_CODES = fail_fast_codes(NoDataError, SchemaMismatchError, UnusableColumnError, UnreadableFileError)
