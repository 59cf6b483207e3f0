"""Output-variable flow: each cross-job reference must point at a variable some step really sets.

Azure DevOps evaluates `dependencies.<job>.outputs['<step>.<var>']` and the other forms
(`references.py`) to an empty string when any part is wrong, without an error. This module checks
every reference in a job's or a stage's `condition` and `variables` (and a job's `strategy`)
against the model (`model.py`): the producing stage or job exists and the consumer depends on it,
the key has the form the producer publishes under, the step exists by `name:` (not displayName),
and it sets the variable with `isOutput=true`.

Errors only where the reference provably reads nothing; warnings where the checker could not
read everything (a template or script it could not read, an undecidable `${{ if }}`, a name known
only at run time), each saying why.
"""

from __future__ import annotations

from typing import Any

from pipeline_checker.compile.expressions import UNKNOWN_MARK
from pipeline_checker.findings import Findings
from pipeline_checker.located import LDict
from pipeline_checker.model import Job, Model, Stage
from pipeline_checker.rules import Rule
from pipeline_checker.rules.references import ERROR, WARNING, Reference, job_key, references, suggest

OUTPUT_REFERENCE = Rule(
    "output-reference", "A dependencies/stageDependencies output reference in a condition or variable does not "
    "point at a variable some step sets with isOutput=true (Azure DevOps reads it as an empty string): the producer "
    "is not a stage or job, is not depended on, has no step of that name, or the step does not set the variable as "
    "an output.", help_uri="https://learn.microsoft.com/azure/devops/pipelines/process/set-variables-scripts")

Problems = list[tuple[str, str]]


def strings(value: Any, skip: tuple[str, ...] = ()):
    """Every string in `value`, also those of mapping keys that undecided `${{ if }}` branches set;
    not below the keys in `skip`, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        alternatives = getattr(value, "alternatives", None) or {} if isinstance(value, LDict) else {}
        for key, item in value.items():
            if key not in skip:
                yield from strings(item, skip)
                for other in alternatives.get(key, ()):
                    yield from strings(other, skip)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, skip)


def _best(results: list[Problems]) -> Problems:
    """The verdict over variants: fine if one variant is fine, else warnings if one has only warnings."""
    if not results or any(not r for r in results):
        return []
    only_warnings = [r for r in results if all(severity == WARNING for severity, _ in r)]
    return only_warnings[0] if only_warnings else results[0]


class Flow:
    def __init__(self, model: Model, findings: Findings):
        self.model, self.findings = model, findings
        self.counts = {"verified": 0, "not checked": 0, "wrong": 0}  # output references, by outcome

    def _count(self, problems: Problems) -> None:
        severities = {severity for severity, _ in problems}
        self.counts["wrong" if ERROR in severities else "not checked" if severities else "verified"] += 1

    def check(self) -> None:
        for variants in self.model.stages.values():
            for stage in variants:
                alternatives = getattr(stage.spec, "alternatives", None) or {}
                for key, value in stage.spec.items():
                    for item in (value, *alternatives.get(key, ())) if key != "jobs" else ():
                        for text in strings(item):
                            self._stage_text(text, stage, str(key))
                for jobs in stage.jobs.values():
                    for job in jobs:
                        for text in strings(job.spec, skip=("steps", "templateContext")):
                            self._job_text(text, stage, job)

    def _report(self, at: Any, problems: Problems) -> None:
        for severity, message in problems:
            self.findings.report(at, severity, message, OUTPUT_REFERENCE)

    # -- references in a job ---------------------------------------------------------------------
    def _job_text(self, text: str, stage: Stage, job: Job) -> None:
        found, unreadable = references(text)
        for reference in found:
            if reference.context == "dependencies":
                problems = self._job_dependency(reference, stage, job)
            else:
                problems = self._stage_dependency(reference, stage, f"job {job.name}")
            self._count(problems)
            self._report(text, problems)
        if unreadable:
            self._report(text, [(WARNING, f"not checked: an output reference the checker cannot read: "
                                          f"{text.strip()[:120]!r}; write dependencies.<job>.outputs['<step>.<var>'] "
                                          "or stageDependencies.<stage>.<job>.outputs['<step>.<var>']")])

    def _job_dependency(self, reference: Reference, stage: Stage, job: Job) -> Problems:
        if len(reference.names) != 1:
            return [(WARNING, f"not checked: {reference.text}: expected dependencies.<job>.outputs['...']")]
        name, key = reference.names[0], reference.key
        shown = f"dependencies.{name}.outputs['{key}']"
        producers = stage.jobs.get(name.lower())
        if not producers:
            elsewhere = [s.name for v in self.model.stages.values() for s in v if name.lower() in s.jobs]
            hint = (f"; it is in stage {elsewhere[0]}: use stageDependencies.{elsewhere[0]}.{name}.outputs['{key}']"
                    if elsewhere else suggest(name, [j[0].name for j in stage.jobs.values()]))
            if not elsewhere and self.model.variants(name):
                hint = (f"; {name} is a stage: in a job, use stageDependencies.{name}.<job>.outputs['<step>.<var>'] "
                        "and make the stage depend on it")
            message = f"job {job.name} reads dependencies.{name}, which is not a job of stage {stage.name}{hint}"
            return [(WARNING, f"not checked: {message} the checker read ({stage.incomplete})")
                    if stage.incomplete and not elsewhere else (ERROR, message)]
        problems: Problems = []
        if any(UNKNOWN_MARK in str(d) for d in job.depends_on):
            problems.append((WARNING, f"not checked: whether job {job.name} depends on job {name}: its dependsOn is "
                                      "known only when Azure DevOps compiles"))
        elif not any(str(d).lower() == name.lower() for d in job.depends_on):
            problems.append((ERROR, f"job {job.name} reads outputs of job {name} but does not depend on it: "
                                    f"add `dependsOn: {producers[0].name}` to job {job.name}"))
        return problems + _best([self._output(p, key.split("."), shown) for p in producers])

    # -- references in a stage -------------------------------------------------------------------
    def _stage_text(self, text: str, stage: Stage, key: str) -> None:
        found, unreadable = references(text)
        for reference in found:
            if reference.context == "dependencies":
                problems = self._stage_condition(reference, stage)
            elif key == "condition":
                problems = [(ERROR, f"stage {stage.name}: a stage condition reads outputs through dependencies, not "
                                    f"stageDependencies: write dependencies.{reference.names[0]}.outputs["
                                    f"'{'.'.join(reference.names[1:] + (reference.key,))}']")]
            else:
                problems = self._stage_dependency(reference, stage, f"stage {stage.name}")
            self._count(problems)
            self._report(text, problems)
        if unreadable:
            self._report(text, [(WARNING, f"not checked: an output reference the checker cannot read: "
                                          f"{text.strip()[:120]!r}")])

    def _producer_stage(self, name: str, stage: Stage, consumer: str) -> tuple[list[Stage], Problems]:
        sources = self.model.variants(name)
        if not sources:
            message = f"{consumer} reads outputs of {name!r}, which is not a stage" \
                      f"{suggest(name, [s[0].name for s in self.model.stages.values()])}"
            return [], [(WARNING, f"not checked: {message} the checker read ({self.model.incomplete})")
                        if self.model.incomplete else (ERROR, message)]
        if any(s is stage for s in sources):
            return [], [(ERROR, f"{consumer} reads outputs of its own stage {stage.name} as another stage's: "
                                "use dependencies.<job>.outputs['<step>.<var>'] and `dependsOn: <job>`")]
        depends = [d.lower() for d in stage.depends_on + stage.maybe_previous]
        if name.lower() not in depends and any(UNKNOWN_MARK in d for d in depends):
            return sources, [(WARNING, f"not checked: whether stage {stage.name} depends on stage {sources[0].name}: "
                                       "its dependsOn is known only when Azure DevOps compiles")]
        if name.lower() not in depends:
            return sources, [(ERROR, f"stage {stage.name} reads outputs of stage {sources[0].name} but does not "
                                     f"depend on it: add {sources[0].name} to the `dependsOn` of stage {stage.name}")]
        return sources, []

    def _stage_dependency(self, reference: Reference, stage: Stage, consumer: str) -> Problems:
        if len(reference.names) != 2:
            return [(WARNING, f"not checked: {reference.text}: expected "
                              "stageDependencies.<stage>.<job>.outputs['...']")]
        stage_name, job_name = reference.names
        shown = f"stageDependencies.{stage_name}.{job_name}.outputs['{reference.key}']"
        sources, problems = self._producer_stage(stage_name, stage, consumer)
        if not sources:
            return problems
        return problems + _best([self._job_in(source, job_name, reference.key.split("."), shown)
                                 for source in sources])

    def _stage_condition(self, reference: Reference, stage: Stage) -> Problems:
        if len(reference.names) != 1:
            return [(WARNING, f"not checked: {reference.text}: expected dependencies.<stage>.outputs['<job>...']")]
        name, parts = reference.names[0], reference.key.split(".")
        shown = f"dependencies.{name}.outputs['{reference.key}']"
        sources, problems = self._producer_stage(name, stage, f"stage {stage.name}")
        if not sources:
            return problems
        if len(parts) < 3:
            return problems + [(ERROR, f"{shown}: at stage level, outputs are '<job>.<step>.<variable>' (a "
                                       "deployment job: '<job>.<job>.<step>.<variable>')")]
        return problems + _best([self._job_in(source, parts[0], parts[1:], shown) for source in sources])

    def _job_in(self, source: Stage, job_name: str, parts: list[str], shown: str) -> Problems:
        producers = source.jobs.get(job_name.lower())
        if not producers:
            message = f"{shown}: stage {source.name} has no job {job_name!r}" \
                      f"{suggest(job_name, [j[0].name for j in source.jobs.values()])}"
            return [(WARNING, f"not checked: {message} the checker read ({source.incomplete})")
                    if source.incomplete else (ERROR, message)]
        return _best([self._output(p, parts, shown) for p in producers])

    # -- the producing step ----------------------------------------------------------------------
    def _output(self, producer: Job, parts: list[str], shown: str) -> Problems:
        hook, step_and_variable, problems = job_key(producer, parts, shown)
        if hook is None or any(severity == ERROR for severity, _ in problems):
            return problems
        step_name, variable = step_and_variable
        steps = producer.hooks.get(hook, [])
        named = [s for s in steps if s.name and s.name.lower() == step_name.lower()]
        if not named:
            elsewhere = [h for h, hs in producer.hooks.items() if any(s.name and s.name.lower() == step_name.lower()
                                                                      for s in hs)]
            if elsewhere:
                return problems + [(WARNING, f"not checked: {shown}: step {step_name} is in the {elsewhere[0]} hook "
                                             f"of {producer.name}, not in {hook or 'its steps'}: which name Azure "
                                             "DevOps gives it there is not documented")]
            choices = [s.name for hs in producer.hooks.values() for s in hs if s.name]
            message = (f"{shown}: job {producer.name} has no step named {step_name!r}{suggest(step_name, choices)} "
                       "(a step is referenced by its `name:`, not displayName)")
            return problems + [(WARNING, f"not checked: {message}; the checker could not read all its steps "
                                         f"({producer.incomplete})") if producer.incomplete else (ERROR, message)]
        return problems + _best([self._sets(step, producer, variable, shown) for step in named])

    @staticmethod
    def _sets(step, producer: Job, variable: str, shown: str) -> Problems:
        sets = step.sets
        known = sets.variables.get(variable.lower())
        if known and known[1]:
            return []
        if known:
            return [(ERROR, f"{shown}: step {step.name} of job {producer.name} sets {variable!r} without "
                            f"isOutput=true, so no other job can read it: "
                            f"##vso[task.setvariable variable={known[0]};isOutput=true]")]
        if variable.lower() in sets.maybe:
            return [(WARNING, f"not checked: {shown}: step {step.name} may not set {variable!r}: "
                              f"{sets.maybe[variable.lower()]}")]
        if sets.unknown:
            return [(WARNING, f"not checked: {shown}: whether step {step.name} sets {variable!r}: "
                              f"{sets.unknown[0]}")]
        names = ", ".join(sorted(name for name, _ in sets.variables.values())) or "nothing the checker can see"
        why = f": {sets.unprinted[variable.lower()]}" if variable.lower() in sets.unprinted else ""
        return [(ERROR, f"{shown}: step {step.name} of job {producer.name} does not set {variable!r} "
                        f"(it sets: {names}){why}")]
