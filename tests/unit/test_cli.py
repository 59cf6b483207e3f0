"""The workload CLI convention: one error root carrying its exit code, one `main`."""

from __future__ import annotations

import argparse
import logging

import pytest

from platform_components import drift_monitor, feature_store, postgres_backup
from workloads import cli
from workloads.drift import errors as drift_errors
from workloads.features import errors as feature_errors


class BadRows(cli.WorkloadError):
    exit_code = 5


def parser(handler) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="job")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("run").set_defaults(handler=handler)
    return top


def run(handler, capsys, **kwargs) -> tuple[int, str]:
    code = cli.main("job", parser(handler), ["run"], **kwargs)
    return code, capsys.readouterr().err


def raising(error: Exception):
    def handler(args):
        raise error
    return handler


def test_a_handler_s_own_exit_code_is_returned(capsys):
    assert run(lambda args: 0, capsys) == (0, "")


def test_a_workload_error_exits_with_its_code_and_one_line_naming_it(capsys):
    code, err = run(raising(BadRows("file x.parquet, column 'age': all missing")), capsys)
    assert code == 5
    assert err == "job run: BadRows: file x.parquet, column 'age': all missing\n"


def test_a_usage_error_exits_2(capsys):
    assert run(raising(cli.UsageError("--keep must be at least 1")), capsys)[0] == cli.EXIT_USAGE == 2


def test_an_unexpected_error_is_retryable_and_keeps_its_traceback_in_the_log(capsys, caplog):
    with caplog.at_level(logging.ERROR):
        code, err = run(raising(ConnectionError("mlflow unreachable")), capsys, unexpected_exit_code=7)
    assert code == 7
    assert err.endswith("job run: ConnectionError: mlflow unreachable\n")
    assert caplog.records[0].exc_info is not None


def test_bad_arguments_exit_2_through_argparse(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main("job", parser(lambda args: 0), ["walk"])
    assert caught.value.code == 2


def test_fail_fast_codes_are_the_distinct_sorted_codes():
    assert cli.fail_fast_codes(BadRows, drift_errors.NoDataError, BadRows) == (3, 5)


@pytest.mark.parametrize("module", [drift_errors, feature_errors])
def test_fail_fast_codes_never_include_the_retryable_ones(module):
    assert module.FAIL_FAST_EXIT_CODES and min(module.FAIL_FAST_EXIT_CODES) > cli.EXIT_FAILURE


def test_components_list_the_codes_their_jobs_define():
    """The CronJobs' podFailurePolicies use the errors modules' tuples, never copied literals."""
    assert drift_monitor.FAIL_FAST_EXIT_CODES is drift_errors.FAIL_FAST_EXIT_CODES
    assert feature_store.FAIL_FAST_EXIT_CODES is feature_errors.FAIL_FAST_EXIT_CODES
    assert postgres_backup.EXIT_USAGE is cli.EXIT_USAGE


def test_a_job_log_keeps_the_jobs_own_lines_only():
    """Under a Job, stderr is a pipe: progress bars and library deprecation warnings are off, the
    job's own warnings stay."""
    import subprocess
    import sys

    code = ("import os, warnings\nfrom workloads import cli\ncli.quiet_libraries()\n"
            "warnings.warn('old api', DeprecationWarning)\nwarnings.warn('changes soon', FutureWarning)\n"
            "warnings.warn('the job says this', UserWarning)\n"
            "print(os.environ['MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR'], os.environ['TQDM_DISABLE'])")
    result = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["false", "1"]
    assert "the job says this" in result.stderr
    assert "old api" not in result.stderr and "changes soon" not in result.stderr
