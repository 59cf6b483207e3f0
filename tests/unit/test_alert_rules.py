"""The alert rules with the real promtool: they load (`check rules`), every alert fires on the
series of tests/unit/alerts/rules_test.yml and stays quiet on the others (`test rules`), their
annotations render, and each runbook link lands on a section of docs/operations.md."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from platform_components.alert_rules import RUNBOOK_DOC, AlertThresholds, alerts, rule_groups
from platform_components.validation import ArgError
from tools.servers.prometheus import promtool

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).parent / "alerts" / "rules_test.yml"
# The thresholds rules_test.yml is written for (its header says so).
THRESHOLDS = AlertThresholds("mlops", availability_slo=0.995, latency_slo_seconds=0.5, performance_floor=0.7,
                             cronjob_grace_minutes=60, backup_max_age_hours=26, verify_max_age_hours=192)


def _without_annotations(groups: list[dict]) -> list[dict]:
    return [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups]


def _run(tmp_path: Path, groups: list[dict], tests: dict) -> str:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    (tmp_path / "rules_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", "rules_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_pass_promtool_check(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule_groups(THRESHOLDS)}, sort_keys=False))
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts(THRESHOLDS))} rules found" in result.stdout


def test_every_alert_fires_and_stays_quiet_in_promtool(tmp_path):
    tests = yaml.safe_load(TESTS.read_text())
    fired = {case["alertname"] for group in tests["tests"] for case in group["alert_rule_test"] if case["exp_alerts"]}
    quiet = {case["alertname"] for group in tests["tests"] for case in group["alert_rule_test"] if not case["exp_alerts"]}
    names = {alert.name for alert in alerts(THRESHOLDS)}
    assert names - fired == set(), "alerts without a series that makes them fire"
    assert names - quiet == set(), "alerts without a case where they must stay quiet"
    assert (fired | quiet) - names == set(), "tests of alerts that no longer exist"
    # Annotations are the next test's subject; promtool compares them exactly.
    _run(tmp_path, _without_annotations(rule_groups(THRESHOLDS)), tests)


def test_a_broken_rule_fails_the_promtool_tests(tmp_path):
    """The harness can fail: a rule whose threshold moved no longer fires where the test expects."""
    groups = _without_annotations(rule_groups(THRESHOLDS))
    for group in groups:
        for rule in group["rules"]:
            if rule["alert"] == "DatasetDriftDetected":
                rule["expr"] = rule["expr"].replace("== 1", "== 2")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(TESTS, tmp_path / "rules_test.yml")
    result = promtool("test", "rules", "rules_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "DatasetDriftDetected" in result.stdout + result.stderr


def test_annotations_render_with_the_alert_labels_and_value(tmp_path):
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'mlops_drift_dataset_drift{namespace="mlops", job="drift", model="churn", instance=""}',
             "values": "1x3"},
            {"series": 'mlops_drift_auc{namespace="mlops", job="drift", model="churn", instance=""}', "values": "0.61x3"},
        ],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "DatasetDriftDetected", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "namespace": "mlops", "model": "churn"},
                "exp_annotations": {
                    "summary": "churn: the last interval's inputs drifted from the training data",
                    "description": "The drift job found dataset drift; the MLflow run in experiment "
                                   "monitoring/churn has the report and the drifted features.",
                    "runbook_url": "https://git.example.com/platform/-/blob/main/docs/operations.md#dataset-drift-detected",
                }}]},
            {"eval_time": "1m", "alertname": "ModelPerformanceBelowFloor", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "namespace": "mlops", "model": "churn"},
                "exp_annotations": {
                    "summary": "churn: AUC 0.610 under the floor 0.7",
                    "description": "Measured on the newest interval whose labels have landed.",
                    "runbook_url": "https://git.example.com/platform/-/blob/main/docs/operations.md"
                                   "#model-performance-below-floor",
                }}]},
        ],
    }]}
    url = "https://git.example.com/platform/-/blob/main/docs/operations.md"
    thresholds = AlertThresholds("mlops", performance_floor=0.7, runbook_url=url)
    groups = [{**g, "rules": [r for r in g["rules"] if r["alert"] in ("DatasetDriftDetected", "ModelPerformanceBelowFloor")]}
              for g in rule_groups(thresholds)]
    _run(tmp_path, [g for g in groups if g["rules"]], tests)


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but hyphens dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_runbook_link_lands_on_a_section_of_the_operations_guide():
    anchors = _anchors((ROOT / RUNBOOK_DOC).read_text())
    missing = sorted(a.runbook for a in alerts(THRESHOLDS) if a.runbook not in anchors)
    assert missing == [], f"runbook sections missing from {RUNBOOK_DOC}"


def test_optional_alerts_follow_the_settings():
    bare = {a.name for a in alerts(AlertThresholds("mlops", backup_max_age_hours=None))}
    assert {"ModelPerformanceBelowFloor", "BackupStale", "BackupVerifyStale"} & bare == set()
    every = {a.name for a in alerts(THRESHOLDS)}
    assert {"ModelPerformanceBelowFloor", "BackupStale", "BackupVerifyStale"} <= every


@pytest.mark.parametrize(("field", "value"), [("availability_slo", 1.0), ("availability_slo", 0.2),
                                              ("latency_slo_seconds", 0.3), ("cronjob_grace_minutes", 0)])
def test_thresholds_out_of_range_name_their_field(field, value):
    with pytest.raises(ArgError) as error:
        AlertThresholds("mlops", **{field: value})
    assert error.value.field == field
