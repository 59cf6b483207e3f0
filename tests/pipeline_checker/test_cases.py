"""Every case of tests/pipeline_checker/cases (copied from the shared cases, each with its README): the
documented right answer, and a seeded defect in the same pipeline, which shows the construct is
really read rather than skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline_checker.checker import Options, check

CASES = Path(__file__).resolve().parent / "cases"
MARKETPLACE = ("azure-pipelines.yml:2: warning: not checked: task replacetokens@5 is not a built-in task the checker "
               "knows (a marketplace task?): its inputs and outputs are not checked; describe it in an "
               "--extensions file to check them")

# case -> (pipeline, findings): the right answer each README documents. Only FA17's marketplace
# task cannot be checked offline; every other case is clean.
EXPECTED = {
    "CR01-steplist-parameter-inserted-as-item": ("azure-pipelines.yml", []),
    "CR02-stagelist-parameter-inserted-as-item": ("azure-pipelines.yml", []),
    "FA01-boolean-task-input": ("azure-pipelines.yml", []),
    "FA01b-boolean-input-in-deployment-job-misleading-message": ("azure-pipelines.yml", []),
    "FA02-task-continueOnError": ("azure-pipelines.yml", []),
    "FA03-task-timeoutInMinutes": ("azure-pipelines.yml", []),
    "FA04-windows-backslash-script-path": ("azure-pipelines.yml", []),
    "FA05-absolute-template-path": ("pipelines/azure-pipelines.yml", []),
    "FA06-legacy-untyped-template-parameter": ("azure-pipelines.yml", []),
    "FA07-deployment-on-failure-hook": ("azure-pipelines.yml", []),
    "FA08-matrix-job-output-prefix": ("azure-pipelines.yml", []),
    "FA09-output-set-by-python-script": ("azure-pipelines.yml", []),
    "FA10-script-path-relative-to-repo-root": ("ci/azure-pipelines.yml", []),
    "FA11-script-path-with-SourcesDirectory": ("azure-pipelines.yml", []),
    "FA12-task-declared-output-variable": ("azure-pipelines.yml", []),
    "FA13-task-name-case": ("azure-pipelines.yml", []),
    "FA14-task-input-alias": ("azure-pipelines.yml", []),
    "FA15-task-input-enum-case": ("azure-pipelines.yml", []),
    "FA16-task-input-key-case": ("azure-pipelines.yml", []),
    "FA17-marketplace-task": ("azure-pipelines.yml", [MARKETPLACE]),
    "FA18-eq-number-vs-string": ("azure-pipelines.yml", []),
    "FA19-eq-boolean-vs-string": ("azure-pipelines.yml", []),
    "FA20-builtin-task-without-schema-inputs": ("azure-pipelines.yml", []),
    "FA21-deployment-to-environment-resource": ("azure-pipelines.yml", []),
    "FA22-same-step-name-in-two-lifecycle-hooks": ("azure-pipelines.yml", []),
    "OK-controls/relay-of-task-output": ("azure-pipelines.yml", []),
    "OK-controls/script-continueOnError": ("azure-pipelines.yml", []),
    "ST01-template-at-self": ("azure-pipelines.yml", []),
    "ST02-stage-level-output-reference": ("azure-pipelines.yml", []),
    "ST03-rolling-deployment-output": ("azure-pipelines.yml", []),
}


def findings(folder: Path, pipeline: str, root: Path | None = None) -> list[str]:
    result = check(folder / pipeline, Options(root=root if root is not None else folder))
    return [str(f) for f in result.findings]


def test_every_case_has_its_right_answer_here():
    folders = {str(p.parent.relative_to(CASES)) for p in CASES.rglob("azure-pipelines.yml")}
    folders = {f.split("/")[0] if not f.startswith("OK-controls") else "/".join(f.split("/")[:2]) for f in folders}
    assert folders == set(EXPECTED)
    assert all((CASES / case / "README.md").is_file() for case in EXPECTED if not case.startswith("OK-controls"))
    assert (CASES / "README.md").is_file()


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_case_gets_its_documented_answer(case):
    pipeline, expected = EXPECTED[case]
    assert findings(CASES / case, pipeline) == expected


@pytest.mark.parametrize("case", ["FA05-absolute-template-path", "FA10-script-path-relative-to-repo-root"])
def test_outside_a_git_checkout_the_repository_root_is_found_upwards(tmp_path, case):
    """`make check-pipelines PIPELINE=../shared/cases/...` has no git root and no --root."""
    shutil.copytree(CASES / case, tmp_path / case)
    pipeline = EXPECTED[case][0]
    result = check(tmp_path / case / pipeline)
    assert result.findings == []


# One seeded defect per case (case, file, text, replacement, what must then be reported).
SEEDED = [(d["case"], d["file"], d["text"], d["replacement"], d["expected"])
          for d in yaml.safe_load((Path(__file__).parent / "seeded_defects.yml").read_text())]


@pytest.mark.parametrize(("case", "file", "text", "replacement", "expected"), SEEDED,
                         ids=[f"{s[0]}:{s[4][:30]}" for s in SEEDED])
def test_a_seeded_defect_in_each_case_is_found(tmp_path, case, file, text, replacement, expected):
    shutil.copytree(CASES / case, tmp_path / "case")
    path = tmp_path / "case" / file
    assert text in path.read_text(), "the seeded text must exist in the case"
    path.write_text(path.read_text().replace(text, replacement, 1))
    found = findings(tmp_path / "case", EXPECTED[case][0])
    assert any(expected in f for f in found), found
