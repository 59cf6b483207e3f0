"""The pipeline checker: the project's pipeline passes, and each rule fails a broken example."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline_checker.catalog import Catalog
from pipeline_checker.checker import Options, check
from pipeline_checker.cli import main
from pipeline_checker.compile.expand import Expander
from pipeline_checker.compile.templates import Repositories
from pipeline_checker.findings import Findings
from pipeline_checker.rules.tasks import check_step

ROOT = Path(__file__).resolve().parents[2]

PRODUCER_CONSUMER = """
stages:
  - stage: A
    jobs:
      - job: build
        steps: [{script: 'echo "##vso[task.setvariable variable=tag;isOutput=true]v1"', name: setTag}]
      - job: use
        dependsOn: build
        variables: {tag: "$[ dependencies.build.outputs['setTag.tag'] ]"}
        steps: [{script: echo $(tag)}]
  - stage: B
    jobs:
      - deployment: ship
        environment: prod
        strategy:
          runOnce:
            deploy:
              steps:
                - script: echo "##vso[task.setvariable variable=url;isOutput=true]https://x"
                  name: out
      - job: verify
        dependsOn: ship
        variables:
          url: $[ dependencies.ship.outputs['ship.out.url'] ]
        steps:
          - script: echo $(url)
  - stage: C
    jobs:
      - job: next
        variables:
          url: $[ stageDependencies.B.ship.outputs['ship.out.url'] ]
          tag: $[ stageDependencies.B.verify.outputs['none.none'] ]
        steps:
          - script: echo $(url)
"""


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path / "azure-pipelines.yml"


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    """The errors for the pipeline `files` make (the root is tmp_path)."""
    result = check(write(tmp_path, files), Options(root=tmp_path))
    return [str(f) for f in result.errors]


def expand(path: Path):
    return Expander(Repositories(path.parent), Findings()).pipeline(path).pipeline


def test_the_projects_pipeline_passes_every_check():
    result = check(ROOT / "azure-pipelines.yml")
    assert result.findings == [], "\n".join(map(str, result.findings))
    assert result.summary.startswith("5 stages, 8 jobs")


def test_the_projects_pipeline_promotes_one_image_tag_test_qa_prod():
    pipeline = expand(ROOT / "azure-pipelines.yml")
    stages = {stage["stage"]: stage for stage in pipeline["stages"]}
    assert list(stages) == ["Validate", "Build", "TEST", "QA", "PROD"]
    for name, stack, previous in (("TEST", "test", "Build"), ("QA", "qa", "TEST"), ("PROD", "prod", "QA")):
        deploy, smoke = stages[name]["jobs"]
        assert deploy["deployment"] == "deploy" and deploy["environment"] == f"mlops-{stack}"
        assert deploy["variables"]["stack"] == stack
        assert stages[name]["dependsOn"] == [previous]
        assert f"stageDependencies.{previous}." in deploy["variables"]["imageTag"]
        assert smoke["dependsOn"] == "deploy"
    assert "refs/heads/main" in stages["PROD"]["condition"]
    assert "refs/heads/main" not in stages["QA"]["condition"]


def test_a_consistent_flow_passes(tmp_path):
    text = PRODUCER_CONSUMER.replace("          tag: $[ stageDependencies.B.verify.outputs['none.none'] ]\n", "")
    assert problems(tmp_path, {"azure-pipelines.yml": text}) == []


def test_a_wrong_step_name_fails_with_the_names_there_are(tmp_path):
    text = PRODUCER_CONSUMER.replace("outputs['setTag.tag']", "outputs['settag2.tag']")
    found = problems(tmp_path, {"azure-pipelines.yml": text})
    assert any("azure-pipelines.yml:9:" in p and "job build has no step named 'settag2'" in p
               and "did you mean 'setTag'" in p for p in found), found


def test_a_variable_set_without_is_output_fails(tmp_path):
    text = PRODUCER_CONSUMER.replace("variable=tag;isOutput=true]", "variable=tag]")
    found = problems(tmp_path, {"azure-pipelines.yml": text})
    assert any("sets 'tag' without isOutput=true" in p and "##vso[task.setvariable variable=tag;isOutput=true]" in p
               for p in found), found


def test_a_missing_depends_on_fails_with_the_fix(tmp_path):
    text = PRODUCER_CONSUMER.replace("        dependsOn: build\n", "")
    found = problems(tmp_path, {"azure-pipelines.yml": text})
    assert any("job use reads outputs of job build but does not depend on it: add `dependsOn: build`" in p
               for p in found), found


def test_a_stage_reading_a_stage_it_does_not_depend_on_fails(tmp_path):
    text = PRODUCER_CONSUMER.replace("  - stage: C\n", "  - stage: C\n    dependsOn: A\n")
    found = problems(tmp_path, {"azure-pipelines.yml": text})
    assert any("stage C reads outputs of stage B but does not depend on it" in p for p in found), found


def test_a_deployment_output_without_the_job_prefix_fails(tmp_path):
    text = PRODUCER_CONSUMER.replace("outputs['ship.out.url'] ]\n        steps:\n          - script: echo $(url)\n  - stage: C",
                                     "outputs['out.url'] ]\n        steps:\n          - script: echo $(url)\n  - stage: C")
    found = problems(tmp_path, {"azure-pipelines.yml": text})
    assert any("ship is a runOnce deployment job" in p and "use outputs['ship.out.url']" in p for p in found), found


def test_a_variable_nobody_sets_fails(tmp_path):
    found = problems(tmp_path, {"azure-pipelines.yml": PRODUCER_CONSUMER})
    assert any("stage B has no job" not in p and "job verify has no step named 'none'" in p for p in found), found


def test_a_template_parameter_that_does_not_exist_fails(tmp_path):
    files = {
        "azure-pipelines.yml": """
            stages:
              - template: templates/stage.yml
                parameters:
                  name: X
                  enviroment: prod
        """,
        "templates/stage.yml": """
            parameters:
              - name: name
                type: string
              - name: environment
                type: string
                default: test
            stages:
              - stage: ${{ parameters.name }}
                jobs:
                  - job: a
                    steps:
                      - script: echo ${{ parameters.environment }}
        """,
    }
    found = problems(tmp_path, files)
    assert len(found) == 1
    assert "azure-pipelines.yml:6: error: template parameter 'enviroment' does not exist in templates/stage.yml " \
           "(did you mean 'environment'?) (it declares: name, environment)" in found[0]


def test_templates_expand_each_if_and_else(tmp_path):
    files = {
        "azure-pipelines.yml": """
            stages:
              - template: stages.yml
                parameters:
                  environments: [dev, prod]
        """,
        "stages.yml": """
            parameters:
              - name: environments
                type: object
            stages:
              - ${{ each env in parameters.environments }}:
                  - stage: deploy_${{ env }}
                    jobs:
                      - job: run
                        steps:
                          - ${{ if eq(env, 'prod') }}:
                              - script: echo careful
                                name: prod
                          - ${{ else }}:
                              - script: echo fast
                                name: other
        """,
    }
    path = write(tmp_path, files)
    pipeline = expand(path)
    assert [s["stage"] for s in pipeline["stages"]] == ["deploy_dev", "deploy_prod"]
    assert [s["jobs"][0]["steps"][0]["name"] for s in pipeline["stages"]] == ["other", "prod"]
    assert check(path).findings == []


@pytest.mark.parametrize(
    ("construct", "message"),
    [
        ("${{ if eq(parameters.a, 'x', 'y') }}", "eq() takes 2 arguments, got 3"),
        ("${{ if eqq(parameters.a, 'x') }}", "unrecognized function `eqq`"),
        ("${{ if eq(parameters.a, 'x' }}", "cannot read"),
        ("${{ elseif eq(parameters.a, 'x') }}", "without a preceding `${{ if }}`"),
    ],
)
def test_an_expression_azure_devops_would_refuse_is_an_error_at_its_line(tmp_path, construct, message):
    files = {"azure-pipelines.yml": f"""
        parameters:
          - name: a
            type: string
            default: x
        jobs:
          - job: a
            steps:
              - {construct}:
                  - script: echo hi
    """}
    found = problems(tmp_path, files)
    assert len(found) == 1 and message in found[0] and "azure-pipelines.yml:9: error:" in found[0], found


def test_the_schema_rejects_an_unknown_key_and_a_marketplace_task_is_only_a_warning(tmp_path):
    found = problems(tmp_path, {"azure-pipelines.yml": """
        jobs:
          - job: a
            timeoutMinutes: 5
            steps:
              - script: echo hi
    """})
    assert len(found) == 1 and "schema:" in found[0] and "`timeoutMinutes` is not allowed" in found[0], found
    assert "did you mean `timeoutInMinutes`?" in found[0] and "azure-pipelines.yml:4:" in found[0]
    result = check(write(tmp_path, {"azure-pipelines.yml": """
        steps:
          - task: Pulumi@1
            inputs:
              command: up
    """}), Options(root=tmp_path))
    assert result.errors == []
    assert [f.message for f in result.warnings] == [
        "not checked: task Pulumi@1 is not a built-in task the checker knows (a marketplace task?): its inputs "
        "and outputs are not checked; describe it in an --extensions file to check them"]


def test_an_extension_task_is_checked_once_it_is_described():
    catalog = Catalog({"tasks": {"Pulumi@1": {"inputs": {"command": {"type": "string"}}, "required": ["command"],
                                              "outputs": ["stackOutputs"]}}})
    right, wrong = Findings(), Findings()
    check_step({"task": "pulumi@1", "inputs": {"Command": "up"}}, catalog, right)
    check_step({"task": "Pulumi@1", "inputs": {"comand": "up"}}, catalog, wrong)
    assert right.items == []
    assert [(f.severity, f.message) for f in wrong.items] == [
        ("warning", "task Pulumi@1 has no input `comand` (did you mean `command`?), so the task ignores it; its "
                    "inputs: command"),
        ("warning", "not checked: task Pulumi@1 may need the input `command`: its definition marks it required, but "
                    "whether the task fails without it is up to the task")]
    assert catalog.lookup("PULUMI@1").outputs == ("stackOutputs",)


def test_the_cli_checks_any_repository_and_exits_non_zero_on_problems(tmp_path, capsys):
    path = write(tmp_path / "repo", {"azure-pipelines.yml": PRODUCER_CONSUMER})
    assert main([str(path), "--root", str(tmp_path / "repo")]) == 1
    out = capsys.readouterr()
    assert "job verify has no step named 'none'" in out.out and "FAILED" in out.err
    assert main([str(ROOT / "azure-pipelines.yml")]) == 0
