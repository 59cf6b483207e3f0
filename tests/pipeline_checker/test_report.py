"""The command line: exit codes, --strict, and the text, JSON and SARIF 2.1.0 outputs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pipeline_checker.cli import main

PIPELINE = """
jobs:
- job: a
  steps:
  - bash: echo "##vso[task.setvariable variable=tag;isOutput=true]1"
    name: setTag
  - task: Contoso.Deploy@1
- job: b
  dependsOn: a
  variables:
    tag: $[ dependencies.a.outputs['setTag.tags'] ]
  steps:
  - script: echo $(tag)
"""
WARNING_ONLY = "steps:\n- task: Contoso.Deploy@1\n"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "azure-pipelines.yml"
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def test_text_lists_each_finding_and_exits_1_on_an_error(tmp_path, capsys):
    assert main([write(tmp_path, PIPELINE), "--root", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "azure-pipelines.yml:6: warning: not checked: task Contoso.Deploy@1 is not a built-in task the checker knows "
        "(a marketplace task?): its inputs and outputs are not checked; describe it in an --extensions file to check them "
        "[task]",
        "azure-pipelines.yml:10: error: dependencies.a.outputs['setTag.tags']: step setTag of job a does not set "
        "'tags' (it sets: tag) [output-reference]"]
    assert err.startswith("FAILED: ") and "1 output references: 1 wrong; 1 errors, 1 warnings" in err


def test_warnings_alone_exit_0_unless_strict(tmp_path, capsys):
    path = write(tmp_path, WARNING_ONLY)
    assert main([path, "--root", str(tmp_path)]) == 0
    assert main([path, "--root", str(tmp_path), "--strict"]) == 1
    assert "ok: " in capsys.readouterr().out


def test_json_output(tmp_path, capsys):
    assert main([write(tmp_path, PIPELINE), "--root", str(tmp_path), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["errors"] == 1 and document["warnings"] == 1
    (pipeline,) = document["pipelines"]
    assert pipeline["findings"][1] == {
        "file": "azure-pipelines.yml", "line": 10, "severity": "error", "rule": "output-reference",
        "message": "dependencies.a.outputs['setTag.tags']: step setTag of job a does not set 'tags' (it sets: tag)"}
    assert pipeline["summary"].startswith("1 stages, 2 jobs")


def test_sarif_2_1_0_output(tmp_path, capsys):
    assert main([write(tmp_path, PIPELINE), "--root", str(tmp_path), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert {"schema", "output-reference", "not-checked", "task"} <= set(rules)
    levels = [(r["level"], r["ruleId"]) for r in run["results"]]
    assert levels == [("warning", "task"), ("error", "output-reference")]
    error = run["results"][1]
    assert rules[error["ruleIndex"]] == "output-reference"
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "azure-pipelines.yml", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 10}}


def test_a_repository_option_must_name_a_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([write(tmp_path, WARNING_ONLY), "--repository", "templates"])
    assert "expected NAME=PATH" in capsys.readouterr().err


def test_an_unreadable_file_is_an_error_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "azure-pipelines.yml"
    path.write_text("steps: [\n")
    assert main([str(path), "--root", str(tmp_path)]) == 1
    assert "azure-pipelines.yml:2: error: not valid YAML" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.yml"), "--root", str(tmp_path)]) == 1
    assert "cannot read missing.yml" in capsys.readouterr().out
