"""One error type: a message that says which database or object and why; exit code 1."""

from workloads.cli import WorkloadError


class BackupError(WorkloadError):
    pass
