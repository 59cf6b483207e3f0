"""Errors of the batch scoring job, each with its exit code and a message naming the culprit.

Codes (documented in docs/scoring.md and `python -m workloads.scoring --help`), the drift job's
numbering wherever the meaning is the same:
  0  scored and committed
  2  usage: a bad argument (cli.UsageError)
  3  no data: no input files for the interval, or none with rows
  4  schema mismatch: a column the model needs is missing from an input file or has a type the
     model's signature cannot take, or the model's inputs and its feature service disagree
  5  unusable values: the model refused a batch's values (missing or infinite numbers where the
     model cannot take them); the message names the file and the columns
  6  unreadable file: an input file that is not readable parquet (the message names it)
  7  infrastructure: MLflow, S3 or the feature store failed, or an unexpected error (retried)
  8  not found: the model, its alias or the input does not exist, or the credentials are refused
  9  the interval has not ended yet
A retry cannot fix 2-6, 8 or 9, so the CronJob's podFailurePolicy fails the Job at once on
FAIL_FAST_EXIT_CODES. Whatever the code, nothing is committed: the interval's output and its
prediction-log rows are those of the last run that succeeded (or absent).
"""

from __future__ import annotations

from workloads.cli import UsageError, WorkloadError, fail_fast_codes
from workloads.drift.errors import IntervalNotEndedError

INFRASTRUCTURE_FAILURE = 7


class ScoringInputError(WorkloadError):
    """Bad input: a retry reads the same data and fails the same way."""

    exit_code = 3


class NoDataError(ScoringInputError):
    exit_code = 3


class SchemaMismatchError(ScoringInputError):
    exit_code = 4


class UnusableValuesError(ScoringInputError):
    exit_code = 5


class UnreadableFileError(ScoringInputError):
    exit_code = 6


class InfrastructureError(WorkloadError):
    exit_code = INFRASTRUCTURE_FAILURE


class NotFoundError(WorkloadError):
    exit_code = 8


FAIL_FAST_EXIT_CODES = fail_fast_codes(UsageError, NoDataError, SchemaMismatchError, UnusableValuesError,
                                       UnreadableFileError, NotFoundError, IntervalNotEndedError)
