"""Outcomes and errors of the training job, with their exit codes.

0 promoted (or promotion done), 10 kept the champion ("no change", a decision, not a failure),
2 usage, 3 bad training data (nothing registered), 8 a model, alias or artifact not found or the
credentials refused; 1 anything a retry may fix (MLflow, S3 or the registry unreachable).
"""

from workloads.cli import WorkloadError, fail_fast_codes

KEPT_EXIT_CODE = 10


class TrainingDataError(WorkloadError):
    """The labels or features cannot make a training set and a holdout window; nothing registered."""

    exit_code = 3


class NotFoundError(WorkloadError):
    """A registered model, alias, run or artifact does not exist, or the credentials are refused."""

    exit_code = 8


FAIL_FAST_EXIT_CODES = fail_fast_codes(TrainingDataError, NotFoundError)
