"""The continuous-training pipeline: checked like any pipeline, and the structure promotion needs."""

from __future__ import annotations

import shutil

import yaml

from pipeline_checker.checker import Options, check
from pipelines.scripts.run_training_job import parse_decision
from tests.pipeline_checker.test_checker import ROOT, expand

PIPELINE = ROOT / "pipelines" / "training.yml"


def test_the_training_pipeline_passes_every_check():
    result = check(PIPELINE)
    assert result.findings == [], "\n".join(map(str, result.findings))
    assert result.summary.startswith("3 stages, 3 jobs")


def test_it_trains_in_test_then_qa_and_promotes_to_prod_behind_approval_only_after_qa_promoted():
    stages = {stage["stage"]: stage for stage in expand(PIPELINE)["stages"]}
    assert list(stages) == ["TrainTEST", "TrainQA", "PromotePROD"]
    assert stages["TrainQA"]["dependsOn"] == ["TrainTEST"] and stages["PromotePROD"]["dependsOn"] == "TrainQA"
    assert "eq(dependencies.TrainQA.outputs['train.decide.decision'], 'promoted')" in stages["PromotePROD"]["condition"]
    (promote,) = stages["PromotePROD"]["jobs"]
    assert promote["environment"] == "mlops-prod", "PROD only after the environment's approvals"
    assert stages["PromotePROD"]["variables"]["qaChampion"] == "$[ stageDependencies.TrainQA.train.outputs['decide.champion'] ]"

def test_it_declares_every_template_parameter_the_retrain_hook_sends():
    """Azure DevOps refuses a run with an undeclared template parameter (workloads/drift/job.py)."""
    declared = {p["name"] for p in yaml.safe_load(PIPELINE.read_text())["parameters"]}
    assert declared == {"model", "modelVersion", "intervalStart", "driftRunId", "driftedFeatures"}


def test_a_wrong_output_reference_in_it_is_caught(tmp_path):
    """A seeded defect: reading the decision from a step that does not exist."""
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines", ignore=shutil.ignore_patterns("schema"))
    broken = tmp_path / "pipelines" / "training.yml"
    broken.write_text(broken.read_text().replace("outputs['train.decide.decision']", "outputs['train.decided.decision']"))
    result = check(broken, Options(root=tmp_path))
    assert any("decided" in str(finding) for finding in result.errors), result.findings


def test_the_decision_is_read_from_the_training_log_s_last_line():
    log = "registered churn v3 (alias challenger) ...\nkept: not better by the margin\ndecision=kept version=3 champion=2\n"
    assert parse_decision(log) == {"decision": "kept", "version": "3", "champion": "2"}
    assert parse_decision("Traceback ...\n") == {}
