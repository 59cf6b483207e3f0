"""Failures of the feature-store jobs that retrying cannot fix, with their exit codes.

The materialisation CronJob's podFailurePolicy fails the Job at once on FAIL_FAST_EXIT_CODES
(platform_components/feature_store.py imports them); other errors exit 1 and are retried.
"""

from workloads.cli import EXIT_USAGE, WorkloadError, fail_fast_codes


class FeatureJobError(WorkloadError):
    exit_code = 1


class SourceDataError(FeatureJobError):
    """A feature view's offline source is missing or unreadable."""

    exit_code = 3


class OnlineStoreAuthError(FeatureJobError):
    """Redis refused the credentials in REDIS_PASSWORD."""

    exit_code = 4


class ConfigError(FeatureJobError):
    """The repository or its config directory is missing or incomplete."""

    exit_code = EXIT_USAGE


FAIL_FAST_EXIT_CODES = fail_fast_codes(SourceDataError, OnlineStoreAuthError)
