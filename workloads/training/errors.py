"""Outcomes and errors of the training job, with their exit codes.

0 promoted (or promotion done), 10 kept the champion ("no change", a decision, not a failure),
2 usage, 3 bad training data (nothing registered), 4 a model version that cannot be served (its
files missing or incomplete, or it does not load or score its input example: no alias moved to
it), 8 a model, alias or artifact not found or the credentials refused; 1 anything a retry may fix
(MLflow, S3 or the registry unreachable).
"""

from workloads.cli import WorkloadError, fail_fast_codes

KEPT_EXIT_CODE = 10


class TrainingDataError(WorkloadError):
    """The labels or features cannot make a training set and a holdout window; nothing registered."""

    exit_code = 3


class BrokenModelError(WorkloadError):
    """A model version that cannot be served: files missing or incomplete, or it does not load or
    score its own input example (verify.py). No alias is moved to it."""

    exit_code = 4


class NotFoundError(WorkloadError):
    """A registered model, alias, run or artifact does not exist, or the credentials are refused."""

    exit_code = 8


FAIL_FAST_EXIT_CODES = fail_fast_codes(TrainingDataError, BrokenModelError, NotFoundError)
