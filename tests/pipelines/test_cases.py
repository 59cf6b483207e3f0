"""Every case of tests/pipelines/cases (copied from the shared cases, each with its README): the
documented right answer, and a seeded defect in the same pipeline, which shows the construct is
really read rather than skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.pipelines.checker import Options, check

CASES = Path(__file__).resolve().parent / "cases"
MARKETPLACE = ("azure-pipelines.yml:2: warning: not checked: task replacetokens@5 is not a built-in task the checker "
               "knows (a marketplace task?): its inputs and outputs are not checked; describe it in extensions.json "
               "to check them")

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


# (case, file, text, replacement, the error that must then appear)
SEEDED = [
    ("CR01-steplist-parameter-inserted-as-item", "build.yml", "  - script: echo build",
     "  - script: echo build\n    timeoutMinutes: 5", "`timeoutMinutes` is not allowed"),
    ("CR02-stagelist-parameter-inserted-as-item", "azure-pipelines.yml", "- stage: build",
     "- stage: pre", "the pipeline has two stages named 'pre'"),
    ("FA01-boolean-task-input", "azure-pipelines.yml", "failOnStderr: true", "failOnStderr: maybe",
     "warning: task PowerShell@2: input `failOnStderr` must be true or false, got 'maybe'"),
    ("FA01b-boolean-input-in-deployment-job-misleading-message", "azure-pipelines.yml", "addToPath: true",
     "addToPath: true\n            addToPth: true", "task UsePythonVersion@0 has no input `addToPth`"),
    ("FA02-task-continueOnError", "azure-pipelines.yml", "continueOnError: true", "continueOnError: perhaps",
     "azure-pipelines.yml:3: error: schema: steps[0].continueOnError must be true or false, not 'perhaps'"),
    ("FA03-task-timeoutInMinutes", "azure-pipelines.yml", "timeoutInMinutes: 10", "timeoutInMinutes: ten",
     "azure-pipelines.yml:3: error: schema: steps[0].timeoutInMinutes must be a whole number, not 'ten'"),
    ("FA04-windows-backslash-script-path", "scripts/set.ps1", "variable=tag;", "variable=tag2;",
     "step setter of job A does not set 'tag' (it sets: tag2)"),
    ("FA05-absolute-template-path", "pipelines/azure-pipelines.yml", "/ci/templates/steps.yml",
     "/ci/templates/step.yml", "template /ci/templates/step.yml not found"),
    ("FA06-legacy-untyped-template-parameter", "job.yml", "  - script: echo hi",
     "  - script: echo ${{ parameters.pool.vmImage.x }}\n  - task: Bash@9", "task Bash@9"),
    ("FA07-deployment-on-failure-hook", "azure-pipelines.yml", "failure:", "fail:",
     "`fail` is not allowed in jobs[0].strategy.runOnce.on (did you mean `failure`?)"),
    ("FA08-matrix-job-output-prefix", "azure-pipelines.yml", "debugJob.setvarStep", "debug.setvarStep",
     "job A has no matrix leg 'debug' (legs: debugJob, releaseJob)"),
    ("FA09-output-set-by-python-script", "set_output.py", 'print("##vso',
     '# print("##vso', "does not set 'runId' (it sets: nothing the checker can see): script set_output.py writes "
                       "it, but it is commented out or after the script exits"),
    ("FA10-script-path-relative-to-repo-root", "scripts/set.sh", 'echo "##vso', 'echo ##vso',
     "bash reads an unquoted `#` as the start of a comment: quote the logging command"),
    ("FA11-script-path-with-SourcesDirectory", "azure-pipelines.yml", "outputs['setter.tag']",
     "outputs['setter.tags']", "step setter of job A does not set 'tags' (it sets: tag)"),
    ("FA12-task-declared-output-variable", "azure-pipelines.yml", "webapp.AppServiceApplicationUrl",
     "webapp.AppServiceUrl", "step webapp of job deploy does not set 'AppServiceUrl' (it sets: AppServiceApplicationUrl)"),
    ("FA13-task-name-case", "azure-pipelines.yml", "targetType: inline", "targetType: online",
     "input `targetType` must be one of filePath, inline; got 'online'"),
    ("FA14-task-input-alias", "azure-pipelines.yml", "connectedServiceNameARM: my-connection", "connection: x",
     "task AzureCLI@2 may need the input `azureSubscription` (or connectedServiceNameARM)"),
    ("FA15-task-input-enum-case", "azure-pipelines.yml", "targetType: Inline", "targetType: Inlined",
     "input `targetType` must be one of filePath, inline; got 'Inlined'"),
    ("FA16-task-input-key-case", "azure-pipelines.yml", "ScriptType: bash", "ScriptType: bosh",
     "input `ScriptType` (`scriptType`) must be one of ps, pscore, batch, bash; got 'bosh'"),
    ("FA17-marketplace-task", "azure-pipelines.yml", "- task: replacetokens@5", "- task: replacetokens@5\n  timeout: 1",
     "`timeout` is not allowed in steps[0]"),
    ("FA18-eq-number-vs-string", "azure-pipelines.yml", "eq(parameters.replicas, '1')",
     "eq(parameters.replicas, '2')", "job A has no step named 'setterTypo'"),
    ("FA18-eq-number-vs-string", "azure-pipelines.yml", "eq(parameters.replicas, '1')",
     "eq(parameters.replicas, 'one')", "job A has no step named 'setterTypo'"),
    ("FA19-eq-boolean-vs-string", "azure-pipelines.yml", "eq(parameters.skipSmoke, 'false')",
     "eq(parameters.skipSmoke, '')", "job A has no step named 'noSuchStep'"),
    ("FA20-builtin-task-without-schema-inputs", "azure-pipelines.yml", "version: '20.x'", "versionSpec: '20.x'",
     "task UseNode@1 has no input `versionSpec` (did you mean `version`?)"),
    ("FA21-deployment-to-environment-resource", "azure-pipelines.yml", "Deploy_vmsfortesting.setvarStepTwo",
     "Deploy_vmsfortesting.setvarStep", "job A2 has no step named 'setvarStep' (did you mean 'setvarStepTwo'?)"),
    ("FA22-same-step-name-in-two-lifecycle-hooks", "azure-pipelines.yml", "      deploy:\n        steps:\n"
     "        - bash: echo \"##vso[task.setvariable variable=myOutputVar;isOutput=true]this is the deployment",
     "      deploy:\n        steps:\n        - bash: echo \"##vso[task.setvariable variable=myOtherVar;isOutput=true]this "
     "is the deployment", "step setvarStep of job A does not set 'myOutputVar' (it sets: myOtherVar)"),
    ("OK-controls/relay-of-task-output", "azure-pipelines.yml", "variable=outputsJson;isOutput=true",
     "variable=outputsJson", "sets 'outputsJson' without isOutput=true"),
    ("OK-controls/script-continueOnError", "azure-pipelines.yml", "continueOnError: true", "continueOnError: []",
     "steps[0].continueOnError must be"),
    ("ST01-template-at-self", "azure-pipelines.yml", "/templates/steps.yml@self", "/templates/step.yml@self",
     "template /templates/step.yml@self not found"),
    ("ST02-stage-level-output-reference", "azure-pipelines.yml", "stageDependencies.A.A1", "stageDependencies.A.A2",
     "stageDependencies.A.A2.outputs['printvar.myStageOutputVar']: stage A has no job 'A2'"),
    ("ST03-rolling-deployment-output", "azure-pipelines.yml", "Deploy_vm1.setter.v", "Deploy_vm1.setter.w",
     "step setter of job VMDeploy does not set 'w' (it sets: v)"),
]


@pytest.mark.parametrize(("case", "file", "text", "replacement", "expected"), SEEDED,
                         ids=[f"{s[0]}:{s[4][:30]}" for s in SEEDED])
def test_a_seeded_defect_in_each_case_is_found(tmp_path, case, file, text, replacement, expected):
    shutil.copytree(CASES / case, tmp_path / "case")
    path = tmp_path / "case" / file
    assert text in path.read_text(), "the seeded text must exist in the case"
    path.write_text(path.read_text().replace(text, replacement, 1))
    found = findings(tmp_path / "case", EXPECTED[case][0])
    assert any(expected in f for f in found), found
