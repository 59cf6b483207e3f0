"""Errors of the drift job, each with its exit code and a message naming the culprit.

Codes (documented in docs/drift.md and `python -m workloads.drift --help`):

  0  done (drift or not)
  2  usage: a bad argument (cli.UsageError)
  3  no data for the interval: no partition files, or none with rows
  4  schema mismatch: a reference column missing from the current data, or of another kind
  5  unusable column: a reference column without a single value
  6  unreadable file: a data file that is not readable parquet (the message names it)
  7  infrastructure: MLflow, S3 or the retrain hook failed, or an unexpected error (retried)
  8  not found: the model, version, alias, reference artifact or bucket does not exist, or the
     credentials are refused
  9  the interval has not ended yet
  10 `compare --fail-on-drift` found dataset drift (not an error; for CI gates)

A retry cannot fix 2-6, 8 or 9, so the CronJob's podFailurePolicy fails the Job at once on
FAIL_FAST_EXIT_CODES (the component imports that tuple). With 4-6 the job still writes the report
of what it could compute before exiting with the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from workloads.cli import UsageError, WorkloadError, fail_fast_codes

INFRASTRUCTURE_FAILURE = 7
DATASET_DRIFT_EXIT = 10


class DriftInputError(WorkloadError):
    """Bad input data: a retry reads the same data and fails the same way."""

    exit_code = 3


class NoDataError(DriftInputError):
    """No rows for the interval (no partition files, or only empty ones)."""

    exit_code = 3


class SchemaMismatchError(DriftInputError):
    """Columns missing, or of another kind (numeric vs categorical) than in the reference."""

    exit_code = 4


class UnusableColumnError(DriftInputError):
    """A reference column without a single value (all missing or non-finite): nothing to compare."""

    exit_code = 5


class UnreadableFileError(DriftInputError):
    """A data file that cannot be read as parquet; the message names the file."""

    exit_code = 6


class InfrastructureError(WorkloadError):
    """MLflow or S3 answered with an error a retry may fix (5xx, throttling, connection)."""

    exit_code = INFRASTRUCTURE_FAILURE


class NotFoundError(WorkloadError):
    """What the job was told to monitor does not exist (model, version, alias, reference artifact,
    bucket) or the credentials are refused: a retry asks the same question."""

    exit_code = 8


class IntervalNotEndedError(WorkloadError):
    """The interval asked for has not ended yet; its data is incomplete."""

    exit_code = 9


class HookError(WorkloadError):
    """The retrain hook refused the call or stayed unreachable after its retries."""

    exit_code = INFRASTRUCTURE_FAILURE


FAIL_FAST_EXIT_CODES = fail_fast_codes(
    UsageError, NoDataError, SchemaMismatchError, UnusableColumnError, UnreadableFileError,
    NotFoundError, IntervalNotEndedError,
)


@dataclass(frozen=True)
class Problem:
    """A bad-input error met while the job went on with the rest: reported, and the run's exit code."""

    error: str  # the error type's name
    exit_code: int
    message: str

    @classmethod
    def of(cls, error: WorkloadError) -> Problem:
        return cls(type(error).__name__, error.exit_code, str(error))
