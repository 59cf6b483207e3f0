"""Output variables read in the job that sets them.

Microsoft's "Set variables in scripts" doc: "When you use an output variable in the same job, you
don't have to use the `isOutput` property ... However, if you do add the `isOutput` property, you
need to reference the variable with the task name" (`$(setOutput.myOutputJobVar)`); the agent
stores such a variable only as `<step>.<var>` (its ExecutionContext), and a macro it cannot replace
stays as written ("if `$(var)` can't be replaced, it remains as `$(var)`"). So, in a later step of
the same job (or deployment hook):

- `$(var)` of a variable an earlier step sets only with isOutput=true is left as the text `$(var)`
  (in bash, a command substitution that runs `var`): an error, unless a `variables:` section or a
  step (`##vso[task.setvariable variable=var]`, without isOutput) defines `var` too, or a variable
  group may (then a warning);
- `$(step.var)` where `step` names no step of the job but is close to one that sets `var` as an
  output (a misspelt step name), or names such a step that sets no `var` (a misspelt variable):
  an error when the checker read everything the step runs, else a warning;
- a read before the step that sets it (the variable is not set yet): an error.
The same holds for `variables['step.var']` in a later step's condition and for the environment
variable `STEP_VAR`, which the checker does not read.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pipeline_checker.compile import variables as sections
from pipeline_checker.compile.expressions import Variables
from pipeline_checker.findings import Findings
from pipeline_checker.model import Job, Model, Step
from pipeline_checker.rules import Rule
from pipeline_checker.rules.flow import strings

SAME_JOB_OUTPUT = Rule(
    "same-job-output", "A later step of the same job reads a variable an earlier step sets with isOutput=true as "
    "`$(var)` (left unexpanded: the form is `$(step.var)`), or as `$(step.var)` with a step or variable name that does "
    "not match, or before the step that sets it.",
    help_uri="https://learn.microsoft.com/azure/devops/pipelines/process/set-variables-scripts")
MACRO = re.compile(r"\$\(\s*([A-Za-z_][\w.\-]*)\s*\)")
INDEXED = re.compile(r"variables\s*\[\s*'([^']+)'\s*\]", re.IGNORECASE)


def check(model: Model, findings: Findings) -> None:
    defined = _defined_in(model.pipeline, Variables())
    for variants in model.stages.values():
        for stage in variants:
            for jobs in stage.jobs.values():
                for job in jobs:
                    for steps in job.hooks.values():
                        _steps(steps, job, _names(_defined_in(job.spec, _defined_in(stage.spec, defined))),
                               findings)


def _steps(steps: list[Step], job: Job, defined: set[str], findings: Findings) -> None:
    outputs: dict[str, tuple[int, Step, str]] = {}  # lower-case var -> (position, step, name as set)
    plain: set[str] = set()  # also set as a plain variable by some step: `$(var)` then reads that one
    by_name = {step.name.lower(): (position, step) for position, step in enumerate(steps) if step.name}
    for position, step in enumerate(steps):
        sets = step.sets
        plain |= sets.plain
        for name, (shown, is_output) in sets.variables.items():
            if is_output and name not in outputs:
                outputs[name] = (position, step, shown)
    if not outputs and not by_name:
        return
    groups = "*" in defined
    for position, step in enumerate(steps):
        for text in strings(step.spec):
            for read in dict.fromkeys([*MACRO.findall(text), *INDEXED.findall(text)]):
                problem = _problem(read, position, step, outputs, by_name, defined | plain, groups, job)
                if problem:
                    severity, message = problem
                    findings.report(text, severity, message, SAME_JOB_OUTPUT)


def _problem(read: str, position: int, step: Step, outputs: dict, by_name: dict, defined: set[str], groups: bool,
             job: Job) -> tuple[str, str] | None:
    lowered = read.lower()
    where = f"step {step.name or f'#{position + 1}'} of job {job.name}"
    if "." not in lowered:
        if lowered not in outputs or lowered in defined:
            return None
        set_at, setter, shown = outputs[lowered]
        if set_at >= position:
            return None  # a step reading before the setter runs gets the text as it is, like any unknown name
        message = (f"{where} reads $({read}), which step {setter.name} sets only as an output variable "
                   f"(isOutput=true): in the same job that is $({setter.name}.{shown}), and $({read}) is left "
                   "as the text it is")
        if groups:
            return "warning", f"not checked: {message}, unless a variable group defines {read!r}"
        return "error", message
    step_name, _, variable = lowered.partition(".")
    if "." in variable:
        return None
    if step_name in by_name:
        set_at, setter = by_name[step_name]
        known = setter.sets.variables.get(variable)
        if known and known[1]:
            if set_at >= position:
                return "error", (f"{where} reads $({read}) before step {setter.name} sets it (step "
                                 f"{set_at + 1} of the job, this is step {position + 1})")
            return None
        if known:
            return "error", (f"{where} reads $({read}), but step {setter.name} sets {known[0]!r} without "
                             f"isOutput=true: read it as $({known[0]})")
        produced = [shown for name, (shown, output) in setter.sets.variables.items() if output]
        if not produced:
            return None  # a step of that name that sets no outputs: `name.x` may be another variable
        close = difflib.get_close_matches(variable, [p.lower() for p in produced], n=1)
        hint = [p for p in produced if close and p.lower() == close[0]]
        message = (f"{where} reads $({read}), but step {setter.name} sets no output {variable!r} (it sets "
                   f"{', '.join(sorted(produced))}){f'; did you mean $({setter.name}.{hint[0]})?' if hint else ''}")
        if setter.sets.unknown or variable in setter.sets.maybe:
            return "warning", f"not checked: {message}; the checker could not read all it sets"
        return "error", message
    # `name.var` where no step has that name: a misspelt step name when a close one sets `var`.
    close = difflib.get_close_matches(step_name, list(by_name), n=1, cutoff=0.75)
    if close:
        setter = by_name[close[0]][1]
        known = setter.sets.variables.get(variable)
        if known and known[1]:
            return "error", (f"{where} reads $({read}), but job {job.name} has no step {read.partition('.')[0]!r}: did you mean "
                             f"$({setter.name}.{known[0]})?")
    return None


def _defined_in(spec: Any, outer: Variables) -> Variables:
    """`outer` plus the `variables:` a pipeline, stage or job defines (compile/variables.py)."""
    return sections.read(spec.get("variables") if isinstance(spec, dict) else None, outer)


def _names(defined: Variables) -> set[str]:
    """The lower-case names the YAML defines; "*" when a variable group may define any."""
    return set(defined) | ({"*"} if defined.groups else set())
