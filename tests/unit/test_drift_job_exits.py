"""The job's exit codes and backfill without servers: fakes stand in for MLflow and one day's work."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow.tracking
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

import workloads.drift.__main__ as drift_cli
from workloads.drift.errors import NoDataError, NotFoundError, Problem, UnreadableFileError
from workloads.drift.job import DriftJob, IntervalOutcome, JobConfig
from workloads.drift.results import DriftReport, FeatureResult
from workloads.drift.tracking import TAG_DRIFTED, metric_key, metrics_of, tags_of, trend_of


class UnknownModelClient:
    def __init__(self, *args, **kwargs):
        pass

    def get_model_version_by_alias(self, name, alias):
        raise MlflowException(f"Registered Model with name={name} not found", error_code=RESOURCE_DOES_NOT_EXIST)

    get_model_version = get_model_version_by_alias


def test_a_mistyped_model_name_is_not_found_not_an_infrastructure_failure(monkeypatch, capsys):
    with pytest.raises(NotFoundError, match="model 'chrun' alias 'champion': Registered Model with name=chrun not found"):
        DriftJob(JobConfig(model="chrun"), UnknownModelClient(), s3=None)
    monkeypatch.setattr(mlflow.tracking, "MlflowClient", UnknownModelClient)
    assert drift_cli.main(["run", "--model", "chrun", "--interval-end", "2026-01-02"]) == 8
    assert "NotFoundError" in capsys.readouterr().err


class ScriptedJob:
    """Each interval does what the script says: succeed (None), raise, or log a report with a problem."""

    def __init__(self, script):
        self.script, self.seen = script, []

    def run(self, interval):
        self.seen.append(interval.start.isoformat())
        action = self.script[len(self.seen) - 1]
        if isinstance(action, Exception):
            raise action
        problems = [action] if action is not None else []
        return IntervalOutcome(interval, "logged", f"run-{len(self.seen)}", False, [], False, problems)


def test_backfill_goes_on_past_every_kind_of_failing_day_and_exits_with_the_first_code(monkeypatch, capsys):
    job = ScriptedJob([None, NoDataError("no prediction logs"), Problem.of(UnreadableFileError("b.parquet: junk")),
                       RuntimeError("a bug"), None])
    monkeypatch.setattr(drift_cli, "_job", lambda args: job)
    code = drift_cli.main(["backfill", "--model", "churn", "--start", "2026-01-01", "--end", "2026-01-05"])
    assert code == 3  # the first failure (no data on the 2nd), not the last
    assert job.seen == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]
    out, err = capsys.readouterr()
    assert out.count(": logged (run run-") == 3  # days 1, 3 (with problems, its report written) and 5
    assert "interval [2026-01-02, 2026-01-03): FAILED (NoDataError, exit 3): no prediction logs" in err
    assert "UnreadableFileError (exit 6): b.parquet: junk" in err
    assert "interval [2026-01-04, 2026-01-05): FAILED (RuntimeError, exit 7): a bug" in err


def test_a_run_with_problems_exits_with_the_first_problems_code(monkeypatch):
    monkeypatch.setattr(drift_cli, "_job", lambda args: ScriptedJob([None]))
    assert drift_cli.main(["run", "--model", "churn", "--interval-end", "2026-01-02"]) == 0
    monkeypatch.setattr(drift_cli, "_job", lambda args: SimpleNamespace(
        run=lambda interval: IntervalOutcome(interval, "logged with problems", "r", True, [], False,
                                             [Problem.of(UnreadableFileError("x"))])))
    assert drift_cli.main(["run", "--model", "churn", "--interval-end", "2026-01-02"]) == 6


def report_with(names: list[str], drifted: list[str]) -> DriftReport:
    features = [FeatureResult(name=n, kind="numeric", tests=[], psi=0.1 if n in drifted else None, missing_reference=0,
                              missing_current=0, rows_reference=10, rows_current=10, drifted=n in drifted) for n in names]
    return DriftReport(settings={}, rows_reference=10, rows_current=10, features=features, multivariate=None,
                       dataset_drift=bool(drifted), drifted_features=drifted)


def test_metric_keys_survive_any_column_name_and_undefined_values_are_not_logged():
    assert metric_key("income ($)", "psi") == "income ___.psi"
    assert metric_key("../etc", "drifted") == "_.._etc.drifted"
    keys = {m.key for m in metrics_of(report_with(["a/b", "c:d"], ["a/b"]), 0)}
    assert {"a_b.drifted", "a_b.psi", "c_d.drifted"} <= keys and "c_d.psi" not in keys  # psi None: not logged


def test_the_drifted_features_tag_lists_them_for_filtering_and_stays_under_mlflows_limit():
    assert tags_of(report_with(["x", "y"], ["x", "y"]))[TAG_DRIFTED] == "x,y"
    many = [f"feature_{i:04d}" for i in range(1_000)]
    tag = tags_of(report_with(many, many))[TAG_DRIFTED]
    assert len(tag) <= 5_000 and tag.endswith("more)") and tag.startswith("feature_0000,feature_0001")


def test_the_trend_keeps_one_finished_run_per_earlier_interval_oldest_first():
    def run(start, status, drift, psi):
        return SimpleNamespace(info=SimpleNamespace(status=status),
                               data=SimpleNamespace(tags={"mlops.interval_start": start},
                                                    metrics={"dataset_drift": drift, "x.psi": psi, "x.drifted": drift}))
    runs = [run("2026-01-05", "FINISHED", 0.0, 0.5),  # this interval: not part of its own trend
            run("2026-01-04", "FAILED", 1.0, 0.9), run("2026-01-04", "FINISHED", 1.0, 0.3),
            run("2026-01-02", "FINISHED", 0.0, 0.01)]
    trend = trend_of(runs, "2026-01-05", ["x"])
    assert [t["interval_start"] for t in trend] == ["2026-01-02", "2026-01-04"]
    assert trend[1] == {"interval_start": "2026-01-04", "dataset_drift": True, "share_drifted": None,
                        "features": {"x": {"drifted": True, "psi": 0.3}}}
