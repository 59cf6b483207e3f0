"""Realistic pipelines for each construct the checker reads, written from Microsoft's docs; each
test checks a right one is clean and a wrong one gets the specific finding."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pipeline_checker.checker import Options, check


def run(tmp_path: Path, files: dict[str, str], pipeline: str = "azure-pipelines.yml", **options) -> list[str]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    result = check(tmp_path / pipeline, Options(root=tmp_path, **options))
    return [str(f) for f in result.findings]


def errors(found: list[str]) -> list[str]:
    return [f for f in found if ": error: " in f]


# -- variables ---------------------------------------------------------------------------------------
VARIABLE_TEMPLATES = {
    "azure-pipelines.yml": """
        variables:
          - group: shared-secrets
          - template: vars/common.yml
            parameters:
              environment: prod
        stages:
          - stage: Build
            jobs:
              - job: build
                steps:
                  - bash: echo "##vso[task.setvariable variable=tag;isOutput=true]1.0"
                    name: ${{ variables.stepName }}
          - stage: Deploy
            jobs:
              - job: deploy
                variables:
                  ${{ if eq(variables['Build.SourceBranch'], 'refs/heads/main') }}:
                    tag: $[ stageDependencies.Build.build.outputs['setTag.tag'] ]
                  ${{ else }}:
                    tag: $[ stageDependencies.Build.build.outputs['setTag.tagg'] ]
                steps:
                  - script: echo $(tag) ${{ variables.region }}
    """,
    "vars/common.yml": """
        parameters:
          - name: environment
            type: string
            values: [test, prod]
        variables:
          - name: stepName
            value: setTag
          - ${{ if eq(parameters.environment, 'prod') }}:
            - name: region
              value: westeurope
    """,
}


def test_variable_templates_groups_and_compile_time_variables(tmp_path):
    found = run(tmp_path, VARIABLE_TEMPLATES)
    # the step is named through a template variable; the else branch on an unknown branch name is
    # compiled too (Build.SourceBranch is known only to Azure DevOps), and it reads a wrong variable
    assert errors(found) == ["azure-pipelines.yml:20: error: stageDependencies.Build.build.outputs['setTag.tagg']: "
                             "step setTag of job build does not set 'tagg' (it sets: tag)"]


def test_a_variable_template_parameter_outside_its_values_is_an_error(tmp_path):
    files = dict(VARIABLE_TEMPLATES)
    files["azure-pipelines.yml"] = files["azure-pipelines.yml"].replace("environment: prod", "environment: qa")
    found = run(tmp_path, files)
    assert any("error: parameter 'environment' of vars/common.yml must be one of test, prod, got 'qa'" in f
               for f in found), found


# -- extends, insert, each ---------------------------------------------------------------------------
EXTENDS = {
    "azure-pipelines.yml": """
        extends:
          template: templates/pipeline.yml
          parameters:
            environments:
              test: {approval: false}
              prod: {approval: true}
            buildSteps:
              - bash: echo "##vso[task.setvariable variable=version;isOutput=true]2.0"
                name: version
    """,
    "templates/pipeline.yml": """
        parameters:
          - name: environments
            type: object
          - name: buildSteps
            type: stepList
            default: []
          - name: poolSettings
            type: object
            default:
              vmImage: ubuntu-latest
        stages:
          - stage: Build
            jobs:
              - job: build
                pool:
                  ${{ insert }}: ${{ parameters.poolSettings }}
                steps:
                  - checkout: self
                  - ${{ parameters.buildSteps }}
          - ${{ each environment in parameters.environments }}:
            - stage: deploy_${{ environment.key }}
              dependsOn: Build
              jobs:
                - deployment: deploy
                  environment: ${{ environment.key }}
                  variables:
                    version: $[ stageDependencies.Build.build.outputs['version.version'] ]
                    ${{ if environment.value.approval }}:
                      checked: $[ stageDependencies.Build.build.outputs['version.approved'] ]
                  strategy:
                    runOnce:
                      deploy:
                        steps:
                          - script: echo $(version)
    """,
}


def test_extends_with_a_steplist_an_inserted_mapping_and_each_over_an_object(tmp_path):
    found = run(tmp_path, EXTENDS)
    assert errors(found) == ["templates/pipeline.yml:29: error: stageDependencies.Build.build.outputs["
                             "'version.approved']: step version of job build does not set 'approved' "
                             "(it sets: version)"]


def test_extends_from_another_repository_checks_what_it_is_given(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        resources:
          repositories:
            - repository: templates
              type: git
              name: platform/templates
        extends:
          template: pipeline.yml@templates
          parameters:
            stages:
              - stage: A
                jobs:
                  - job: a
                    steps:
                      - bash: echo "##vso[task.setvariable variable=x;isOutput=true]1"
                        name: set
              - stage: B
                dependsOn: A
                jobs:
                  - job: b
                    variables:
                      x: $[ stageDependencies.A.a.outputs['set.y'] ]
                    steps:
                      - script: echo $(x)
    """})
    assert found == [
        "azure-pipelines.yml:7: warning: not checked: template pipeline.yml@templates is in repository 'templates'; "
        "give a local checkout with --repository templates=PATH to check it",
        "azure-pipelines.yml:21: error: stageDependencies.A.a.outputs['set.y']: step set of job a does not set 'y' "
        "(it sets: x)"]


def test_a_template_from_another_repository_is_read_from_a_local_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "steps").mkdir(parents=True)
    (checkout / "steps" / "build.yml").write_text("parameters:\n- name: flag\n  type: boolean\nsteps:\n"
                                                  "- template: /steps/inner.yml\n")
    (checkout / "steps" / "inner.yml").write_text("steps:\n- script: echo hi\n  timeoutMinutes: 1\n")
    found = run(tmp_path / "repo", {"azure-pipelines.yml": """
        resources:
          repositories:
            - repository: tools
              type: github
              name: org/tools
              endpoint: github
        steps:
          - template: steps/build.yml@tools
            parameters:
              flag: yes
    """}, repositories={"tools": checkout})
    assert found == [
        "azure-pipelines.yml:10: error: parameter 'flag' of steps/build.yml@tools is a boolean, got 'yes'",
        "steps/inner.yml@tools:3: error: schema: `timeoutMinutes` is not allowed in steps[0] (did you mean "
        "`timeoutInMinutes`?); allowed here: condition, continueOnError, displayName, enabled, env, failOnStderr, "
        "name, retryCountOnTaskFailure, script, target, timeoutInMinutes, workingDirectory"]


# -- parameters -------------------------------------------------------------------------------------
def test_a_runtime_parameter_without_a_default_takes_each_allowed_value(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        parameters:
          - name: environment
            type: string
            values: [dev, prod]
          - name: verbose
            type: boolean
        jobs:
          - job: a
            steps:
              - bash: echo "##vso[task.setvariable variable=x;isOutput=true]1"
                name: set
          - job: b
            dependsOn: a
            variables:
              ${{ if eq(parameters.environment, 'prod') }}:
                x: $[ dependencies.a.outputs['set.x'] ]
              ${{ if eq(parameters.environment, 'test') }}:
                y: $[ dependencies.a.outputs['never.compiled'] ]
              ${{ if parameters.verbose }}:
                z: $[ dependencies.a.outputs['set.z'] ]
            steps:
              - script: echo
    """})
    assert errors(found) == ["azure-pipelines.yml:20: error: dependencies.a.outputs['set.z']: step set of job a "
                             "does not set 'z' (it sets: x)"]


def test_template_parameters_are_checked_and_typed(tmp_path):
    found = run(tmp_path, {
        "azure-pipelines.yml": """
            steps:
              - template: steps.yml
                parameters:
                  count: '3'
                  mode: fast
                  extra: 1
              - template: steps.yml
        """,
        "steps.yml": """
            parameters:
              - name: count
                type: number
              - name: mode
                type: string
                default: slow
                values: [slow, fast]
            steps:
              - ${{ if eq(parameters.count, 3) }}:
                - script: echo three
        """})
    assert errors(found) == [
        "azure-pipelines.yml:6: error: template parameter 'extra' does not exist in steps.yml (it declares: count, "
        "mode)",
        "azure-pipelines.yml:7: error: template steps.yml requires parameter 'count', which is not passed"]


# -- deployment strategies, matrix, parallel ---------------------------------------------------------
STRATEGIES = """
jobs:
- deployment: web
  environment:
    name: smarthotel-dev
    resourceType: VirtualMachine
  strategy:
    rolling:
      maxParallel: 2
      preDeploy:
        steps:
        - bash: echo "##vso[task.setvariable variable=pre;isOutput=true]1"
          name: setvar
      deploy:
        steps:
        - bash: echo "##vso[task.setvariable variable=main;isOutput=true]1"
          name: setvar
      routeTraffic:
        steps:
        - script: echo route
      postRouteTraffic:
        steps:
        - script: echo post
      on:
        failure:
          steps:
          - script: echo rollback
            name: setvar
        success:
          steps:
          - script: echo done
- deployment: canary
  environment: prod
  strategy:
    canary:
      increments: [10, 20]
      deploy:
        steps:
        - bash: echo "##vso[task.setvariable variable=v;isOutput=true]1"
          name: setvarStep
- job: matrix
  strategy:
    matrix:
      linux: {image: ubuntu-latest}
      windows: {image: windows-latest}
  steps:
  - bash: echo "##vso[task.setvariable variable=os;isOutput=true]$(image)"
    name: detect
- job: sliced
  strategy:
    parallel: 2
  steps:
  - bash: echo "##vso[task.setvariable variable=slice;isOutput=true]$(System.JobPositionInPhase)"
    name: slice
- job: consumer
  dependsOn: [web, canary, matrix, sliced]
  variables:
    a: $[ dependencies.web.outputs['Deploy_vm1.setvar.main'] ]
    b: $[ dependencies.web.outputs['PreDeploy_vm1.setvar.pre'] ]
    c: $[ dependencies.canary.outputs['deploy_10.setvarStep.v'] ]
    d: $[ dependencies.matrix.outputs['linux.detect.os'] ]
    e: $[ dependencies.sliced.outputs['job2.slice.slice'] ]
  steps:
  - script: echo
"""


def test_every_strategy_and_lifecycle_hook_publishes_its_outputs(tmp_path):
    assert run(tmp_path, {"azure-pipelines.yml": STRATEGIES}) == []


def test_wrong_keys_for_each_strategy_are_errors(tmp_path):
    text = (STRATEGIES.replace("Deploy_vm1.setvar.main", "Deploy_vm1.setvar.pre")
            .replace("linux.detect", "mac.detect").replace("job2.slice", "job3.slice")
            .replace("deploy_10.setvarStep.v", "setvarStep.v"))
    found = run(tmp_path, {"azure-pipelines.yml": text})
    assert errors(found) == [
        "azure-pipelines.yml:57: error: dependencies.web.outputs['Deploy_vm1.setvar.pre']: step setvar of job web "
        "does not set 'pre' (it sets: main)",
        "azure-pipelines.yml:59: error: dependencies.canary.outputs['setvarStep.v']: outputs of deployment job "
        "canary (canary) are named '<hook>_<increment>.<step>.<variable>'",
        "azure-pipelines.yml:60: error: dependencies.matrix.outputs['mac.detect.os']: job matrix has no matrix leg "
        "'mac' (legs: linux, windows)",
        "azure-pipelines.yml:61: error: dependencies.sliced.outputs['job3.slice.slice']: job sliced has no parallel "
        "leg 'job3' (legs: job1, job2) (did you mean 'job2'?)"]


def test_a_step_name_twice_in_one_hook_is_an_error(tmp_path):
    text = STRATEGIES.replace("        - script: echo route", "        - script: echo route\n          name: r\n"
                                                               "        - script: echo again\n          name: r")
    found = run(tmp_path, {"azure-pipelines.yml": text})
    assert errors(found) == ["azure-pipelines.yml:22: error: the routeTraffic hook of deployment web has two steps "
                             "named 'r'"]


# -- stage-level references ---------------------------------------------------------------------------
def test_stage_conditions_and_variables_read_other_stages(tmp_path):
    text = """
        stages:
        - stage: build
          jobs:
          - deployment: build_job
            environment: Production
            strategy:
              runOnce:
                deploy:
                  steps:
                  - task: PowerShell@2
                    name: setRunTests
                    inputs:
                      targetType: inline
                      pwsh: true
                      script: echo "##vso[task.setvariable variable=runTests;isOutput=true]true"
        - stage: test
          dependsOn: build
          condition: eq(dependencies.build.outputs['build_job.build_job.setRunTests.runTests'], 'true')
          variables:
            run: $[ stageDependencies.build.build_job.outputs['build_job.setRunTests.runTests'] ]
          jobs:
          - job: run_tests
            condition: eq(stageDependencies.build.build_job.outputs['build_job.setRunTests.runTests'], 'true')
            steps:
            - script: echo
        - stage: report
          dependsOn: test
          condition: eq(stageDependencies.build.build_job.outputs['build_job.setRunTests.runTests'], 'true')
          jobs:
          - job: r
            steps:
            - script: echo
    """
    found = run(tmp_path, {"azure-pipelines.yml": text})
    assert errors(found) == [
        "azure-pipelines.yml:28: error: stage report: a stage condition reads outputs through dependencies, not "
        "stageDependencies: write dependencies.build.outputs['build_job.build_job.setRunTests.runTests']"]


# -- scripts -----------------------------------------------------------------------------------------
SCRIPTS = {
    "azure-pipelines.yml": """
        jobs:
        - job: produce
          pool: {vmImage: ubuntu-latest}
          steps:
          - task: Bash@3
            name: bashFile
            inputs:
              filePath: ci/set.sh
          - task: PowerShell@2
            name: psFile
            inputs:
              filePath: '$(System.DefaultWorkingDirectory)\\ci\\set.ps1'
          - task: PythonScript@0
            name: pyFile
            inputs:
              scriptSource: filePath
              scriptPath: ci/emit.py
          - script: |
              echo ##vso[task.setvariable variable=unquoted;isOutput=true]1
            name: inline
          - task: AzureCLI@2
            name: cli
            inputs:
              azureSubscription: conn
              scriptType: bash
              scriptLocation: scriptPath
              scriptPath: ci/unknown.sh
        - job: consume
          dependsOn: produce
          variables:
            a: $[ dependencies.produce.outputs['bashFile.fromBash'] ]
            b: $[ dependencies.produce.outputs['bashFile.dead'] ]
            c: $[ dependencies.produce.outputs['psFile.fromPwsh'] ]
            d: $[ dependencies.produce.outputs['psFile.commented'] ]
            e: $[ dependencies.produce.outputs['pyFile.fromModule'] ]
            f: $[ dependencies.produce.outputs['inline.unquoted'] ]
            g: $[ dependencies.produce.outputs['cli.whatever'] ]
          steps:
          - script: echo
    """,
    "ci/set.sh": """
        #!/bin/bash
        set -euo pipefail
        source "$(dirname "$0")/lib.sh"
        echo "##vso[task.setvariable variable=fromBash;isOutput=true]1"
        exit 0
        echo "##vso[task.setvariable variable=dead;isOutput=true]1"
    """,
    "ci/lib.sh": "true\n",
    "ci/set.ps1": """
        <#
        Write-Host "##vso[task.setvariable variable=commented;isOutput=true]1"
        #>
        Write-Host "##vso[task.setvariable variable=fromPwsh;isOutput=true]1"
    """,
    "ci/emit.py": """
        from helpers import outputs

        outputs.emit()
    """,
    "ci/helpers/outputs.py": """
        def emit():
            print("##vso[task.setvariable variable=fromModule;isOutput=true]1")
    """,
}


def test_what_scripts_print_in_each_shell(tmp_path):
    found = run(tmp_path, SCRIPTS)
    assert found == [
        "azure-pipelines.yml:32: error: dependencies.produce.outputs['bashFile.dead']: step bashFile of job produce "
        "does not set 'dead' (it sets: fromBash): script set.sh writes it, but it is commented out or after the "
        "script exits",
        "azure-pipelines.yml:34: error: dependencies.produce.outputs['psFile.commented']: step psFile of job produce "
        "does not set 'commented' (it sets: fromPwsh): script set.ps1 writes it, but it is commented out or after "
        "the script exits",
        "azure-pipelines.yml:36: error: dependencies.produce.outputs['inline.unquoted']: step inline of job produce "
        "does not set 'unquoted' (it sets: nothing the checker can see): the script of this step writes it, but "
        "bash reads an unquoted `#` as the start of a comment: quote the logging command",
        "azure-pipelines.yml:37: warning: not checked: dependencies.produce.outputs['cli.whatever']: whether step cli "
        "sets 'whatever': script ci/unknown.sh is not a file the checker can read"]


def test_a_script_step_on_an_unknown_agent_may_run_cmd(tmp_path):
    text = SCRIPTS["azure-pipelines.yml"].replace("  pool: {vmImage: ubuntu-latest}\n", "  pool: {name: self-hosted}\n")
    found = run(tmp_path, {**SCRIPTS, "azure-pipelines.yml": text})
    assert ("azure-pipelines.yml:36: warning: not checked: dependencies.produce.outputs['inline.unquoted']: step "
            "inline may not set 'unquoted': it is printed only when the script runs in cmd.exe (Windows agents); "
            "bash reads an unquoted `echo ##vso[...]` as a comment, so quote it") in found


def test_a_step_running_a_program_the_checker_does_not_read_is_not_judged(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        jobs:
        - job: a
          steps:
          - script: |
              cd tools
              npm ci
              node publish.js
            name: publish
        - job: b
          dependsOn: a
          variables:
            url: $[ dependencies.a.outputs['publish.url'] ]
          steps:
          - script: echo $(url)
    """, "tools/publish.js": "// console.log('##vso[task.setvariable variable=old;isOutput=true]x')\n"
                             "console.log(`##vso[task.setvariable variable=url;isOutput=true]${url}`)\n"})
    assert found == []


# -- structure -------------------------------------------------------------------------------------------
def test_undecidable_branches_may_define_the_same_job_but_a_real_duplicate_is_an_error(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        jobs:
        - ${{ if eq(variables['Build.Reason'], 'PullRequest') }}:
          - job: build
            steps:
            - script: echo pr
        - ${{ else }}:
          - job: build
            steps:
            - script: echo ci
        - job: test
          steps:
          - script: echo
        - job: test
          steps:
          - script: echo
    """})
    assert errors(found) == ["azure-pipelines.yml:13: error: stage __default has two jobs named 'test'"]


def test_depends_on_a_job_that_does_not_exist_is_an_error_unless_the_list_is_incomplete(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        parameters:
        - name: extraJobs
          type: jobList
        jobs:
        - job: a
          steps:
          - script: echo
        - job: b
          dependsOn: [a, lint]
          steps:
          - script: echo
    """})
    assert errors(found) == ["azure-pipelines.yml:9: error: job b depends on 'lint', which is not a job of stage "
                             "__default"]
    found = run(tmp_path, {"azure-pipelines.yml": """
        parameters:
        - name: extraJobs
          type: jobList
        jobs:
        - ${{ parameters.extraJobs }}
        - job: b
          dependsOn: [lint]
          steps:
          - script: echo
    """})
    assert errors(found) == []
    assert any("not checked: job b depends on 'lint', which is not a job of stage __default the checker read" in f
               for f in found), found


def test_templates_without_typed_declarations_take_any_parameter_and_forward_them(tmp_path):
    """Arcade's wrappers declare nothing and forward with `${{ each parameter in parameters }}`."""
    found = run(tmp_path, {
        "azure-pipelines.yml": """
            jobs:
            - template: wrapper.yml
              parameters:
                name: build
                extra: value
            - job:
              steps:
              - script: echo one
            - job:
              steps:
              - script: echo two
        """,
        "wrapper.yml": """
            jobs:
            - template: core.yml
              parameters:
                ${{ each parameter in parameters }}:
                  ${{ parameter.key }}: ${{ parameter.value }}
        """,
        "core.yml": """
            parameters:
              name: ''
            jobs:
            - job: ${{ parameters.name }}
              steps:
              - script: echo ${{ parameters.extra }}
        """})
    assert found == []


def test_a_job_reading_a_stage_through_dependencies_is_told_to_use_stage_dependencies(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        stages:
        - stage: A
          jobs:
          - job: build
            steps:
            - bash: echo "##vso[task.setvariable variable=x;isOutput=true]1"
              name: set
        - stage: B
          jobs:
          - job: b
            variables:
              x: $[ dependencies.A.outputs['build.set.x'] ]
            steps:
            - script: echo
    """})
    assert errors(found) == [
        "azure-pipelines.yml:12: error: job b reads dependencies.A, which is not a job of stage B; A is a stage: in a "
        "job, use stageDependencies.A.<job>.outputs['<step>.<var>'] and make the stage depend on it"]


def test_repository_paths_start_at_the_repository_root(tmp_path):
    """microsoft/terminal writes `./build/pipelines/templates-v2/x.yml@self` inside build/pipelines/templates-v2/."""
    found = run(tmp_path, {
        "build/pipelines/ci.yml": """
            stages:
            - template: templates-v2/stages.yml
        """,
        "build/pipelines/templates-v2/stages.yml": """
            stages:
            - stage: build
              jobs:
              - template: ./build/pipelines/templates-v2/job.yml@self
              - template: build/pipelines/templates-v2/missing.yml@self
        """,
        "build/pipelines/templates-v2/job.yml": "jobs:\n- job: a\n  steps:\n  - script: echo\n",
    }, pipeline="build/pipelines/ci.yml")
    assert found == ["build/pipelines/templates-v2/stages.yml:5: error: template "
                     "build/pipelines/templates-v2/missing.yml@self not found (looked for "
                     "build/pipelines/templates-v2/missing.yml, from the repository root)"]


def test_a_missing_template_under_an_undecidable_condition_is_a_warning(tmp_path):
    """PowerShell's CI includes a template only when a queue-time variable is set."""
    found = run(tmp_path, {"azure-pipelines.yml": """
        steps:
        - ${{ if ne(variables['UseAzDevOpsFeed'], '') }}:
          - template: /tools/insert-nuget-config.yml
        - ${{ if eq(1, 1) }}:
          - template: /tools/other.yml
    """})
    assert found == [
        "azure-pipelines.yml:3: warning: not checked: template /tools/insert-nuget-config.yml not found (looked for "
        "tools/insert-nuget-config.yml, from the repository root); it is included only when "
        "`if ne(variables['UseAzDevOpsFeed'], '')`, which the checker cannot decide, and may exist where that holds",
        "azure-pipelines.yml:5: error: template /tools/other.yml not found (looked for tools/other.yml, from the "
        "repository root)"]


def test_a_logging_command_assembled_at_run_time_is_not_judged(tmp_path):
    """PowerShell's release pipeline builds "vso[...]" in a variable and prints "##$command"."""
    found = run(tmp_path, {"azure-pipelines.yml": """
        jobs:
        - job: a
          steps:
          - pwsh: |
              $command = "vso[task.setvariable variable=releaseTag;isOutput=true]$tag"
              Write-Host -Object "##$command"
            name: OutputReleaseTag
        - job: b
          dependsOn: a
          variables:
            tag: $[ dependencies.a.outputs['OutputReleaseTag.releaseTag'] ]
          steps:
          - script: echo $(tag)
    """})
    assert found == [
        "azure-pipelines.yml:11: warning: not checked: dependencies.a.outputs['OutputReleaseTag.releaseTag']: whether "
        "step OutputReleaseTag sets 'releaseTag': the pwsh of this step assembles a logging command at run time "
        "(`vso[task.setvariable` without `##` in the text)"]


def test_directives_in_a_template_top_level_are_left_to_the_expansion(tmp_path):
    found = run(tmp_path, {
        "azure-pipelines.yml": "extends:\n  template: base.yml\n  parameters: {official: true}\n",
        "base.yml": """
            parameters:
            - name: official
              type: boolean
            extends:
              template: inner.yml
              ${{ if eq(parameters.official, true) }}:
                parameters:
                  stages:
                  - stage: a
                    jobs:
                    - job: a
                      steps:
                      - script: echo
        """,
        "inner.yml": "parameters:\n- name: stages\n  type: stageList\nstages: ${{ parameters.stages }}\n"})
    assert found == []


def test_names_known_only_at_compile_time_are_not_judged(tmp_path):
    found = run(tmp_path, {"azure-pipelines.yml": """
        stages:
        - stage: A
          jobs:
          - job: a
            steps:
            - bash: echo "##vso[task.setvariable variable=x;isOutput=true]1"
              name: ${{ variables['Build.DefinitionName'] }}
        - stage: B
          dependsOn: ${{ variables['Upstream'] }}
          jobs:
          - job: b
            dependsOn: ${{ variables['Previous'] }}
            variables:
              x: $[ stageDependencies.A.a.outputs['set.x'] ]
            steps:
            - script: echo
    """})
    assert errors(found) == []
    warnings = [f.split(": warning: ")[1] for f in found]
    assert "not checked: whether stage B depends on stage A: its dependsOn is known only when Azure DevOps " \
           "compiles" in warnings
    assert any(w.startswith("not checked: stageDependencies.A.a.outputs['set.x']: job a has no step named 'set'")
               and "a step name is known only when Azure DevOps compiles" in w for w in warnings), warnings
