"""The rules as objects: each finding carries the rule that found it (text, JSON, SARIF), rules can be
disabled and suppressed inline, and the checks added with them: dependency cycles, output variables
read in the job that sets them, and conditions that do not test what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline_checker.checker import Options, check
from pipeline_checker.cli import main
from pipeline_checker.rules import all_rules, rule_ids

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "azure-pipelines.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def found(tmp_path: Path, text: str, **options) -> list[tuple[str, str, str]]:
    """(severity, rule, `line: message`) of each finding."""
    result = check(write(tmp_path, text), Options(root=tmp_path, **options))
    return [(f.severity, f.rule, f"{f.line}: {f.message}") for f in result.findings]


# -- dependency cycles ---------------------------------------------------------------------------------
def test_two_stages_depending_on_each_other_are_a_cycle(tmp_path):
    assert found(tmp_path, """
        stages:
        - stage: A
          dependsOn: B
          jobs: [{job: a, steps: [{script: echo}]}]
        - stage: B
          dependsOn: A
          jobs: [{job: b, steps: [{script: echo}]}]
        """) == [("error", "dependency-cycle",
                  '3: stages A -> B -> A depend on each other in a cycle: Azure DevOps refuses to compile it ("Stage A '
                  'depends on stage B which creates a cycle in the dependency graph"); remove one of these dependsOn')]


def test_a_stage_without_depends_on_closes_a_cycle_through_the_one_before_it(tmp_path):
    result = found(tmp_path, """
        stages:
        - stage: A
          dependsOn: C
          jobs: [{job: a, steps: [{script: echo}]}]
        - stage: B
          jobs: [{job: b, steps: [{script: echo}]}]
        - stage: C
          dependsOn: B
          jobs: [{job: c, steps: [{script: echo}]}]
        """)
    assert [(s, r) for s, r, _ in result] == [("error", "dependency-cycle")]
    assert "stages A -> C -> B -> A" in result[0][2]
    assert "a stage without dependsOn depends on the stage before it; `dependsOn: []` for none" in result[0][2]


def test_jobs_in_a_cycle_and_a_job_depending_on_itself(tmp_path):
    result = found(tmp_path, """
        jobs:
        - job: build
          dependsOn: [test]
          steps: [{script: echo}]
        - job: test
          dependsOn: build
          steps: [{script: echo}]
        - job: lint
          dependsOn: lint
          steps: [{script: echo}]
        - job: docs
          dependsOn: [build]
          steps: [{script: echo}]
        """)
    assert [(s, r) for s, r, _ in result] == [("error", "dependency-cycle")] * 2
    assert result[0][2].startswith("3: jobs of stage __default build -> test -> build depend on each other")
    assert result[1][2] == "9: job lint of stage __default depends on itself; remove it from its dependsOn"


def test_a_cycle_only_undecided_branches_make_is_not_reported_and_a_chain_is_fine(tmp_path):
    """An `if`/`else` pair often inserts two variants of one stage that never meet (Azure/azure-sdk-tools'
    sync pipelines): only certain dependencies prove a cycle."""
    result = found(tmp_path, """
        parameters:
        - name: reverse
          type: boolean
          default: false
        stages:
        - stage: A
          dependsOn: []
          jobs: [{job: a, steps: [{script: echo}]}]
        - ${{ if eq(variables['Build.Reason'], 'Manual') }}:
          - stage: B
            dependsOn: C
            jobs: [{job: b, steps: [{script: echo}]}]
        - stage: C
          jobs: [{job: c, steps: [{script: echo}]}]
        """)
    assert [r for r in result if r[1] == "dependency-cycle"] == []
    assert found(tmp_path, """
        stages:
        - stage: A
          jobs: [{job: a, steps: [{script: echo}]}]
        - stage: B
          jobs: [{job: b, steps: [{script: echo}]}]
        - stage: C
          dependsOn: [A, B]
          jobs: [{job: c, steps: [{script: echo}]}]
        """) == []


# -- each finding carries its rule ---------------------------------------------------------------------
MIXED = """
stages:
- stage: A
  jobs:
  - job: a
    steps:
    - bash: echo "##vso[task.setvariable variable=tag;isOutput=true]1"
      name: setTag
- stage: B
  dependsOn: [A, Nope]
  variables:
    tag: $[ stageDependencies.A.a.outputs['setTag.tagg'] ]
  jobs:
  - job: b
    steps:
    - script: echo $(tag)
"""


def test_each_finding_carries_the_rule_that_found_it_in_text_json_and_sarif(tmp_path, capsys):
    path = str(write(tmp_path, MIXED))
    assert main([path, "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("stage B depends on 'Nope', which is not a stage [unknown-dependency]")
    assert out[1].endswith("does not set 'tagg' (it sets: tag) [output-reference]")

    assert main([path, "--root", str(tmp_path), "--format", "json"]) == 1
    (pipeline,) = json.loads(capsys.readouterr().out)["pipelines"]
    assert [f["rule"] for f in pipeline["findings"]] == ["unknown-dependency", "output-reference"]

    assert main([path, "--root", str(tmp_path), "--format", "sarif"]) == 1
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == rule_ids(), "the SARIF rules are the registry's"
    assert all(rule["helpUri"].startswith("https://learn.microsoft.com/") and rule["shortDescription"]["text"]
               and rule["defaultConfiguration"]["level"] in ("error", "warning") for rule in rules)
    assert [(r["ruleId"], rules[r["ruleIndex"]]["id"]) for r in run["results"]] == [
        ("unknown-dependency", "unknown-dependency"), ("output-reference", "output-reference")]


def test_every_rule_has_a_unique_id_a_description_and_is_listed(capsys):
    rules = all_rules()
    assert len({rule.id for rule in rules}) == len(rules) >= 14
    assert main(["--list-rules"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == [rule.id for rule in rules]


# -- disabling and suppressing ---------------------------------------------------------------------------
def test_disable_leaves_out_a_rules_findings_and_an_unknown_rule_is_a_usage_error(tmp_path, capsys):
    path = str(write(tmp_path, MIXED))
    assert main([path, "--root", str(tmp_path), "--disable", "unknown-dependency"]) == 1
    out = capsys.readouterr()
    assert "[unknown-dependency]" not in out.out and "[output-reference]" in out.out
    assert "1 errors, 0 warnings, 1 suppressed" in out.err
    assert main([path, "--root", str(tmp_path), "--disable", "unknown-dependency,output-reference"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        main([path, "--disable", "output-refs"])
    assert exit_info.value.code == 2
    assert "no rule 'output-refs'; the rules: yaml, template" in capsys.readouterr().err


def test_an_inline_comment_suppresses_its_line_or_the_next(tmp_path):
    suppressed = MIXED.replace("  dependsOn: [A, Nope]", "  # pipeline-checker: disable=unknown-dependency\n"
                                                         "  dependsOn: [A, Nope]")
    suppressed = suppressed.replace("outputs['setTag.tagg'] ]", "outputs['setTag.tagg'] ]  # pipeline-checker: "
                                                                "disable=output-reference,schema")
    result = check(write(tmp_path, suppressed), Options(root=tmp_path))
    assert result.findings == [] and result.suppressed == 2
    # Another rule's id does not silence it, and an id that names no rule is reported.
    wrong = MIXED.replace("  dependsOn: [A, Nope]", "  dependsOn: [A, Nope]  # pipeline-checker: disable=output-refs")
    assert found(tmp_path, wrong) == [
        ("error", "unknown-dependency", "9: stage B depends on 'Nope', which is not a stage"),
        ("warning", "suppression", "9: `# pipeline-checker: disable=output-refs` names no rule (see --list-rules)"),
        ("error", "output-reference", "11: stageDependencies.A.a.outputs['setTag.tagg']: step setTag of job a does not "
                                      "set 'tagg' (it sets: tag)")]


# -- output variables read in the same job -------------------------------------------------------------
SAME_JOB = """
variables:
  region: westeurope
steps:
- bash: |
    echo "##vso[task.setvariable variable=imageTag;isOutput=true]v1"
    echo "##vso[task.setvariable variable=plain]x"
  name: setTag
- script: echo $(setTag.imageTag) $(plain) $(region) $(Build.BuildId)
  name: good
"""


def test_a_same_job_read_of_an_output_variable_must_name_the_step(tmp_path):
    assert found(tmp_path, SAME_JOB) == []
    wrong = SAME_JOB + """- script: echo $(imageTag)
- script: echo $(setTag.imagetagg) $(setTagg.imageTag) $(setTag.plain)
- bash: echo $(later.value)
- bash: echo "##vso[task.setvariable variable=value;isOutput=true]1"
  name: later
"""
    assert found(tmp_path, wrong) == [
        ("error", "same-job-output", "10: step #3 of job Job reads $(imageTag), which step setTag sets only as an "
                                     "output variable (isOutput=true): in the same job that is $(setTag.imageTag), and "
                                     "$(imageTag) is left as the text it is"),
        ("error", "same-job-output", "11: step #4 of job Job reads $(setTag.imagetagg), but step setTag sets no output "
                                     "'imagetagg' (it sets imageTag); did you mean $(setTag.imageTag)?"),
        ("error", "same-job-output", "11: step #4 of job Job reads $(setTagg.imageTag), but job Job has no step "
                                     "'setTagg': did you mean $(setTag.imageTag)?"),
        ("error", "same-job-output", "11: step #4 of job Job reads $(setTag.plain), but step setTag sets 'plain' without "
                                     "isOutput=true: read it as $(plain)"),
        ("error", "same-job-output", "12: step #5 of job Job reads $(later.value) before step later sets it (step 6 of "
                                     "the job, this is step 5)"),
    ]


def test_a_plain_read_a_variable_group_may_define_is_a_warning(tmp_path):
    text = SAME_JOB.replace("variables:\n  region: westeurope", "variables:\n- group: shared\n- name: region\n  "
                                                                  "value: westeurope") + "- script: echo $(imageTag)\n"
    assert [(s, r) for s, r, _ in found(tmp_path, text)] == [("warning", "same-job-output")]
    assert found(tmp_path, SAME_JOB.replace("region: westeurope", "imageTag: latest") + "- script: echo $(imageTag)\n") == []


# -- conditions -------------------------------------------------------------------------------------------
CONDITIONS = """
variables:
  isMain: $[eq(variables['Build.SourceBranch'], 'refs/heads/main')]
  deploy: false
jobs:
- job: a
  condition: variables.isMain
  steps: [{script: echo}]
- job: b
  condition: and(succeeded(), variables['deploy'])
  steps: [{script: echo}]
- job: c
  condition: and(succeeded(), eq(variables.isMain, true), ne(variables['deploy'], 'false'))
  steps:
  - script: echo
    condition: or(failed(), variables.fromTheUi)
  - script: echo
    condition: and(succeeded(), 'false')
  - script: echo
    condition: eq(true, dependencies.x.outputs['s.v'])
  - script: echo
    condition: and(succeededOrFailed(), eq(true, 'true'), eq(false, 'True'), 'yes')
"""


def test_a_string_where_a_boolean_is_expected_is_always_true(tmp_path):
    result = found(tmp_path, CONDITIONS)
    assert result == [
        ("error", "condition-string", "6: job a: variables.isMain is a string (a $[ ] expression, which gives 'True' or "
                                      "'False') where a boolean is expected, so it is always true; compare it: "
                                      "eq(variables.isMain, true)"),
        ("error", "condition-string", "9: job b: variables['deploy'] is a string ('false') where a boolean is expected, "
                                      "so it is always true; compare it: eq(variables['deploy'], true)"),
        ("warning", "condition-string", "15: step #1 of job c: not checked: variables.fromTheUi is a string where a "
                                        "boolean is expected: it is true whenever it is not empty, 'False' included; "
                                        "compare it: eq(variables.fromTheUi, true)"),
        ("error", "condition-string", "17: step #2 of job c: 'false' is a non-empty string where a boolean is expected, "
                                      "so it is true; write false without quotes"),
        ("warning", "condition-string", "19: step #3 of job c: not checked: dependencies.x.outputs['s.v'] is a string "
                                        "(output variables are strings) where a boolean is expected: it is true whenever "
                                        "it is not empty, 'False' included; compare it: "
                                        "eq(dependencies.x.outputs['s.v'], true)"),
    ]


def test_a_macro_in_a_condition_is_not_expanded_even_through_a_template_parameter(tmp_path):
    write(tmp_path, """
        parameters:
        - name: cnd
          type: string
          default: 'true'
        steps:
        - script: echo
          condition: ${{ parameters.cnd }}
        """, "steps.yml")
    result = found(tmp_path, """
        variables:
          cnd: false
        steps:
        - template: steps.yml
          parameters:
            cnd: $(cnd)
        - script: echo
          condition: eq('$(cnd)', 'true')
        - template: steps.yml
          parameters:
            cnd: eq(variables['cnd'], 'true')
        """)
    assert [(s, r) for s, r, _ in result] == [("error", "condition-macro")] * 2
    assert result[0][2].startswith("6: step #1 of job Job: the condition `$(cnd)` is not an expression: conditions do "
                                   "not expand macros, and Azure DevOps refuses `$(`")
    assert "write eq(variables['cnd'], 'true')" in result[0][2]
    assert "the text comes from azure-pipelines.yml:6 (a template parameter given a macro passes the text" in result[0][2]
    assert result[1][2] == ("8: step #2 of job Job: the condition `eq('$(cnd)', 'true')` compares the text '$(cnd)', "
                            "not the variable's value: conditions do not expand macros; write variables['cnd']")


# -- the repository root -------------------------------------------------------------------------------------
def test_the_root_is_the_git_checkout_around_the_pipeline_whatever_the_current_folder(tmp_path, monkeypatch):
    repository = tmp_path / "repo"
    (repository / ".git").mkdir(parents=True)
    write(repository, "steps:\n- script: echo\n", "templates/steps.yml")
    pipeline = write(repository, "steps:\n- template: /templates/steps.yml\n", "ci/azure-pipelines.yml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = check(Path(os.path.relpath(pipeline, elsewhere)))
    assert result.findings == [] and "no git checkout" not in result.summary
    (repository / ".git").rmdir()
    result = check(Path(os.path.relpath(pipeline, elsewhere)))
    assert result.findings == []
    assert f"no git checkout around it: /absolute template paths looked for in {repository / 'ci'} and the folders " \
           "above (give --root)" in result.summary


# -- the package on its own ---------------------------------------------------------------------------------
def test_the_projects_own_pipelines_pass_with_every_rule():
    for pipeline in ("azure-pipelines.yml", "pipelines/training.yml"):
        result = check(ROOT / pipeline, Options(root=ROOT))
        assert result.findings == [], (pipeline, [f.shown for f in result.findings])


def test_the_command_runs_as_python_dash_m(tmp_path):
    path = write(tmp_path, MIXED)
    done = subprocess.run([sys.executable, "-m", "pipeline_checker", str(path), "--root", str(tmp_path),
                           "--disable", "unknown-dependency,output-reference"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ok: " in done.stdout and "2 suppressed" in done.stdout


def test_the_docs_list_every_rule_with_what_it_proves_and_an_example():
    text = (ROOT / "docs" / "pipelines.md").read_text()
    rows = {line.split("|")[1].strip().split()[0].strip("`"): line for line in text.splitlines()
            if line.startswith("| `") and line.count("|") == 4}
    for rule in all_rules():
        assert rule.id in rows, f"docs/pipelines.md does not list rule {rule.id}"
        assert all(cell.strip() for cell in rows[rule.id].split("|")[1:4]), rows[rule.id]


PUBLIC = Path(__file__).resolve().parent / "public"


@pytest.mark.parametrize("case", sorted(p.name for p in PUBLIC.iterdir() if p.is_dir()))
def test_real_pipelines_constructs_give_no_false_error(case):
    """public/README.md says where each comes from and what was reported before."""
    result = check(PUBLIC / case / "pipeline.yml", Options(root=PUBLIC / case))
    assert result.errors == [], [f.shown for f in result.errors]
    assert not [f for f in result.warnings if f.rule in ("dependency-cycle", "same-job-output", "condition-string",
                                                         "duplicate-name")], [f.shown for f in result.warnings]
    if case == "extends-in-another-repository":
        assert any("the extends template ci/code-mirror.yml@eng was not read" in f.message for f in result.warnings)


def test_a_string_that_reads_as_false_after_eq_true_is_still_reported(tmp_path):
    assert [(s, r) for s, r, _ in found(tmp_path, """
        jobs:
        - job: nuget
          condition: eq(true, 'false')
          steps: [{script: echo}]
        """)] == [("error", "condition-string")]
