"""Schema validation read as Azure DevOps reads YAML, every error listed with a plain message."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pipeline_checker.checker import Options, check
from pipeline_checker.compile.source import load


def findings(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> list[str]:
    for name, body in {"azure-pipelines.yml": text, **(files or {})}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(body).lstrip("\n"))
    return [str(f) for f in check(tmp_path / "azure-pipelines.yml", Options(root=tmp_path)).findings]


def test_yaml_is_read_with_the_yaml_1_2_core_schema(tmp_path):
    path = tmp_path / "x.yml"
    path.write_text("on: yes\nflag: True\nnumber: 3.10\ncount: 010\nnothing: ~\n")
    doc = load(path, "x.yml")
    assert doc == {"on": "yes", "flag": True, "number": 3.1, "count": 10, "nothing": None}
    assert str(doc["number"]) == "3.10" and doc.key_lines == {"on": 1, "flag": 2, "number": 3, "count": 4,
                                                               "nothing": 5}


def test_a_key_written_twice_is_an_error(tmp_path):
    assert findings(tmp_path, "steps:\n- script: a\nsteps:\n- script: b\n") == [
        "azure-pipelines.yml:3: error: 'steps' is already defined"]


def test_booleans_and_integers_are_read_where_the_schema_wants_them(tmp_path):
    assert findings(tmp_path, """
        jobs:
        - job: a
          continueOnError: true
          timeoutInMinutes: 10
          workspace: {clean: all}
          steps:
          - script: echo
            enabled: false
            retryCountOnTaskFailure: 2
          - task: Bash@3
            continueOnError: "TRUE"
            timeoutInMinutes: "5"
            inputs:
              targetType: inline
              script: echo
              failOnStderr: true
    """) == []


def test_every_error_is_listed_at_its_own_line_in_plain_words(tmp_path):
    found = findings(tmp_path, """
        jobs:
        - deployment: deploy
          environment: test
          strategy:
            runOnce:
              deploy:
                steps:
                - script: echo
                  continueOnError: sometimes
                - bash: echo
                  displayname: Typo
        - job: b
          timeoutMinutes: 5
          pool: [a]
          steps:
          - checkout: self
            clean: maybe
    """)
    assert found == [
        "azure-pipelines.yml:9: error: schema: jobs[0].strategy.runOnce.deploy.steps[0].continueOnError must be "
        "one of true, y, yes, on, false, n, no, off; got 'sometimes'",
        "azure-pipelines.yml:11: error: schema: `displayname` is not allowed in "
        "jobs[0].strategy.runOnce.deploy.steps[1] (did you mean `displayName`?); allowed here: bash, condition, "
        "continueOnError, displayName, enabled, env, failOnStderr, name, retryCountOnTaskFailure, target, "
        "timeoutInMinutes, workingDirectory",
        "azure-pipelines.yml:13: error: schema: `timeoutMinutes` is not allowed in jobs[1] (did you mean "
        "`timeoutInMinutes`?); allowed here: cancelTimeoutInMinutes, condition, container, continueOnError, dependsOn, "
        "displayName, job, pool, services, steps, strategy, templateContext, timeoutInMinutes, uses, variables, "
        "workspace",
        "azure-pipelines.yml:14: error: schema: jobs[1].pool must be a string or a mapping, not a list",
        "azure-pipelines.yml:17: error: schema: jobs[1].steps[0].clean must be one of true, false; got 'maybe'",
    ]


def test_what_is_known_only_at_run_time_is_not_judged(tmp_path):
    assert findings(tmp_path, """
        parameters:
        - name: retries
          type: number
          default: 2
        steps:
        - script: echo
          continueOnError: $(continue)
          timeoutInMinutes: ${{ variables['Build.BuildId'] }}
          retryCountOnTaskFailure: ${{ parameters.retries }}
    """) == []


def test_the_path_filter_pattern_azure_devops_does_not_enforce_is_a_warning(tmp_path):
    assert findings(tmp_path, """
        trigger:
          paths:
            include: [docs/]
        steps:
        - script: echo
    """) == ["azure-pipelines.yml:3: warning: not checked: trigger.paths.include[0] must be text matching "
             "^[^\\/~\\^\\: \\[\\]\\\\]+(\\/[^\\/~\\^\\: \\[\\]\\\\]+)*$; got 'docs/': the schema's pattern for branch "
             "and path filters is stricter than Azure DevOps, which accepts, for example, a trailing / "
             "(microsoft/azure-pipelines-vscode#372)"]


def test_a_template_file_top_level_is_checked_once(tmp_path):
    template = """
        parameters:
        - name: a
          type: strin
        variables:
          x: 1
        steps:
        - script: echo ${{ parameters.a }}
    """
    found = findings(tmp_path, "steps:\n- template: t.yml\n  parameters: {a: 1}\n- template: t.yml\n"
                               "  parameters: {a: 2}\n", {"t.yml": template})
    assert found == [
        "t.yml:3: error: schema: parameters[0].type must be one of boolean, container, containerList, deployment, "
        "deploymentList, job, jobList, legacyObject, number, object, stage, stageList, step, stepList, string, "
        "stringList; got 'strin'",
        "t.yml:4: error: schema: `variables` is not allowed in the top level; allowed here: parameters, steps"]


def test_tasks_are_read_case_insensitively_with_aliases_and_every_input_problem_is_a_warning(tmp_path):
    found = findings(tmp_path, """
        steps:
        - task: azurecli@2
          inputs:
            connectedServiceNameARM: conn
            SCRIPTTYPE: BASH
            scriptLocation: inlineScript
            inlineScript: az version
            addSpnToEnvironment: sometimes
            colour: blue
        - task: PublishCodeCoverageResults@2
          inputs:
            summaryFileLocation: coverage.xml
        - task: Bash@9
        - task: Contoso.Tools.Deploy@1
        - task: Contoso.Tools.Deploy@1
    """)
    assert found == [
        "azure-pipelines.yml:8: warning: task AzureCLI@2: input `addSpnToEnvironment` must be true or false, got "
        "'sometimes'",
        "azure-pipelines.yml:9: warning: task AzureCLI@2 has no input `colour`, so the task ignores it; its inputs: "
        "azureSubscription, scriptType, scriptLocation, scriptPath, inlineScript, arguments, "
        "powerShellErrorActionPreference, addSpnToEnvironment, useGlobalConfig, workingDirectory, failOnStandardError, "
        "powerShellIgnoreLASTEXITCODE, visibleAzLogin, keepAzSessionActive",
        "azure-pipelines.yml:13: warning: not checked: task Bash@9: the checker knows Bash@3 of this task, not this "
        "version",
        "azure-pipelines.yml:14: warning: not checked: task Contoso.Tools.Deploy@1 is not a built-in task the checker "
        "knows (a marketplace task?): its inputs and outputs are not checked; describe it in an --extensions file "
        "to check them",
    ]


def test_an_extensions_file_describes_a_marketplace_task(tmp_path):
    extensions = tmp_path / "tasks.json"
    extensions.write_text('{"tasks": {"Contoso.Tools.Deploy@1": {"inputs": {"target": {"type": "string"}}, '
                          '"outputs": ["url"]}}}')
    (tmp_path / "azure-pipelines.yml").write_text(textwrap.dedent("""
        jobs:
        - job: a
          steps:
          - task: Contoso.Tools.Deploy@1
            name: deploy
            inputs:
              targt: prod
        - job: b
          dependsOn: a
          variables:
            url: $[ dependencies.a.outputs['deploy.url'] ]
            other: $[ dependencies.a.outputs['deploy.other'] ]
          steps:
          - script: echo
    """).lstrip())
    result = check(tmp_path / "azure-pipelines.yml", Options(root=tmp_path, extensions=extensions))
    assert [str(f) for f in result.findings] == [
        "azure-pipelines.yml:7: warning: task Contoso.Tools.Deploy@1 has no input `targt` (did you mean `target`?), "
        "so the task ignores it; its inputs: target",
        "azure-pipelines.yml:12: error: dependencies.a.outputs['deploy.other']: step deploy of job a does not set "
        "'other' (it sets: url)"]


def test_an_empty_mapping_and_integer_keys_are_read_as_azure_devops_reads_them(tmp_path):
    assert findings(tmp_path, """
        resources:
        variables:
        jobs:
        - job: a
          strategy:
            matrix:
              1: {python: '3.11'}
              2: {python: '3.12'}
          steps:
          - script: echo $(python)
    """) == []


def test_a_failure_of_the_checker_is_a_warning_not_a_traceback(tmp_path, capsys, monkeypatch):
    from pipeline_checker import cli

    def broken(path, options):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "check", broken)
    (tmp_path / "azure-pipelines.yml").write_text("steps: []\n")
    assert cli.main([str(tmp_path / "azure-pipelines.yml")]) == 0
    assert "warning: not checked: the checker failed on this pipeline (RuntimeError: boom)" in capsys.readouterr().out
