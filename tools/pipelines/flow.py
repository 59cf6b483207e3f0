"""Output-variable flow: each cross-job reference must point at a variable some step really exports.

Azure DevOps evaluates `dependencies.<job>.outputs['<step>.<var>']` and
`stageDependencies.<stage>.<job>.outputs['<step>.<var>']` to an empty string when any part is
wrong, without an error. This module rebuilds who depends on whom (a stage without `dependsOn`
depends on the one before it; a job only on what it lists) and which step sets which variable,
then checks every reference against that.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.pipelines.source import Finding, where

JOB_REF = re.compile(r"(?<![\w.])dependencies\.(\w+)\.outputs\[\s*['\"]([^'\"]+)['\"]\s*\]")
STAGE_REF = re.compile(r"(?<![\w.])stageDependencies\.(\w+)\.(\w+)\.outputs\[\s*['\"]([^'\"]+)['\"]\s*\]")
ANY_OUTPUTS = re.compile(r"(?:dependencies|stageDependencies)\.[^\s'\"]*outputs\b", re.IGNORECASE)
SET_VARIABLE = re.compile(r"##vso\[task\.setvariable\s+([^\]]*)\]", re.IGNORECASE)
EXPORT_SCRIPT = re.compile(r"export_outputs\.py\s+(.*)")
SCRIPT_FILE = re.compile(r"(?:^|[\s\"'])((?:\./)?[\w.-]+(?:/[\w.-]+)*\.(?:sh|py|ps1|bash))\b")
SCRIPT_KEYS = ("script", "bash", "pwsh", "powershell")
INPUT_SCRIPT_KEYS = ("inlineScript", "script", "Inline")
INPUT_FILE_KEYS = ("scriptPath", "filePath", "ScriptPath")
RUN_ONCE_HOOKS = ("preDeploy", "deploy", "routeTraffic", "postRouteTraffic")


@dataclass
class Step:
    name: str | None
    outputs: dict[str, bool] = field(default_factory=dict)  # variable -> isOutput
    at: Any = None


@dataclass
class Job:
    name: str
    deployment: bool
    strategy: str | None
    depends_on: list[str]
    steps: list[Step]
    spec: Any


@dataclass
class Stage:
    name: str
    depends_on: list[str]
    jobs: dict[str, Job]
    spec: Any


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _strings(value: Any, skip: tuple[str, ...] = ()):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class Flow:
    def __init__(self, pipeline: Any, repository: Path):
        self.repository = repository
        self.findings: list[Finding] = []
        self.stages = self._stages(pipeline)

    def error(self, at: Any, message: str) -> None:
        file, line = where(at)
        self.findings.append(Finding(file, line, message))

    # -- model -----------------------------------------------------------------------------------
    def _stages(self, pipeline: Any) -> dict[str, Stage]:
        stage_specs = pipeline.get("stages")
        if stage_specs is None:  # a single-stage pipeline: jobs (or steps) at the top
            jobs = pipeline.get("jobs") or [{"job": "__default", "steps": pipeline.get("steps") or []}]
            stage_specs = [{"stage": "__default", "jobs": jobs}]
        stages: dict[str, Stage] = {}
        previous: str | None = None
        for spec in stage_specs:
            name = str(spec.get("stage", "__default"))
            depends = _names(spec["dependsOn"]) if "dependsOn" in spec else ([previous] if previous else [])
            jobs = {}
            for job_spec in spec.get("jobs") or []:
                job = self._job(job_spec)
                if job.name in jobs:
                    self.error(job_spec, f"stage {name} has two jobs named {job.name!r}")
                jobs[job.name] = job
            stages[name] = Stage(name, depends, jobs, spec)
            previous = name
        for stage in stages.values():
            for dependency in stage.depends_on:
                if dependency not in stages:
                    self.error(stage.spec, f"stage {stage.name} depends on {dependency!r}, which is not a stage")
            for job in stage.jobs.values():
                for dependency in job.depends_on:
                    if dependency not in stage.jobs:
                        self.error(job.spec, f"job {job.name} depends on {dependency!r}, which is not a job of stage {stage.name}")
        return stages

    def _job(self, spec: dict) -> Job:
        deployment = "deployment" in spec
        name = str(spec.get("deployment") if deployment else spec.get("job", "__default"))
        strategy, steps = None, list(spec.get("steps") or [])
        if deployment:
            strategies = spec.get("strategy") or {}
            strategy = next(iter(strategies), None)
            body = strategies.get(strategy) or {}
            for hook in (*RUN_ONCE_HOOKS, "on"):
                part = body.get(hook) or {}
                if hook == "on":
                    for outcome in part.values():
                        steps += list((outcome or {}).get("steps") or [])
                else:
                    steps += list(part.get("steps") or [])
        named: dict[str, Step] = {}
        parsed = []
        for step_spec in steps:
            step = Step(step_spec.get("name"), self._outputs(step_spec), step_spec)
            if step.name:
                if step.name in named:
                    self.error(step_spec, f"job {name} has two steps named {step.name!r}")
                named[step.name] = step
            parsed.append(step)
        return Job(name, deployment, strategy, _names(spec.get("dependsOn")), parsed, spec)

    def _outputs(self, step: dict) -> dict[str, bool]:
        """Variables a step sets: literal logging commands in its script or the script files it
        runs, and the names given to pipelines/scripts/export_outputs.py (always isOutput=true)."""
        texts = [step[k] for k in SCRIPT_KEYS if isinstance(step.get(k), str)]
        inputs = step.get("inputs") or {}
        texts += [inputs[k] for k in INPUT_SCRIPT_KEYS if isinstance(inputs.get(k), str)]
        files = [inputs[k] for k in INPUT_FILE_KEYS if isinstance(inputs.get(k), str)]
        files += [match for text in texts for match in SCRIPT_FILE.findall(text)]
        for relative in files:
            candidate = self.repository / relative.removeprefix("./") if not relative.startswith("/") else Path(relative)
            if candidate.is_file() and candidate.suffix != ".py":
                texts.append(candidate.read_text(errors="replace"))
        outputs: dict[str, bool] = {}
        for text in texts:
            for match in SET_VARIABLE.finditer(text):
                props = dict(part.strip().partition("=")[::2] for part in match.group(1).split(";") if part.strip())
                props = {k.lower(): v for k, v in props.items()}
                name = props.get("variable", "")
                if name and "$" not in name:
                    outputs[name] = outputs.get(name, False) or props.get("isoutput", "").lower() == "true"
            for match in EXPORT_SCRIPT.finditer(text):
                words = shlex.split(match.group(1).split("#")[0], posix=True)
                for word in words[1:]:  # the first is the JSON file
                    if word in ("|", "&&", ";", ">", "||"):
                        break
                    outputs[word.partition("=")[0]] = True
        return outputs

    # -- references ------------------------------------------------------------------------------
    def check(self) -> list[Finding]:
        for stage in self.stages.values():
            for text in _strings(stage.spec, skip=("jobs",)):
                if ANY_OUTPUTS.search(text):
                    self.error(text, "output references in a stage's own condition or variables are not checked by "
                                     "this checker; read them in a job (stageDependencies) instead")
            for job in stage.jobs.values():
                for text in _strings(job.spec):
                    self._references(text, stage, job)
        return self.findings

    def _references(self, text: str, stage: Stage, job: Job) -> None:
        understood = 0
        for match in JOB_REF.finditer(text):
            understood += 1
            producer_name, key = match.groups()
            producer = stage.jobs.get(producer_name)
            if producer is None:
                elsewhere = [s.name for s in self.stages.values() if producer_name in s.jobs]
                hint = (f"; it is in stage {elsewhere[0]}: use stageDependencies.{elsewhere[0]}.{producer_name}"
                        f".outputs['{key}']" if elsewhere else self._suggest(producer_name, stage.jobs))
                self.error(text, f"job {job.name} reads dependencies.{producer_name}, which is not a job of stage {stage.name}{hint}")
                continue
            if producer_name not in job.depends_on:
                self.error(text, f"job {job.name} reads outputs of job {producer_name} but does not depend on it: "
                                 f"add `dependsOn: {producer_name}` to job {job.name}")
            self._variable(text, producer, key, f"dependencies.{producer_name}")
        for match in STAGE_REF.finditer(text):
            understood += 1
            stage_name, producer_name, key = match.groups()
            source = self.stages.get(stage_name)
            if source is None:
                self.error(text, f"stageDependencies.{stage_name}: no stage named {stage_name!r}{self._suggest(stage_name, self.stages)}")
                continue
            if source is stage:
                self.error(text, f"job {job.name} reads stageDependencies of its own stage {stage.name}: use "
                                 f"dependencies.{producer_name}.outputs['{key}'] and `dependsOn: {producer_name}`")
                continue
            if stage_name not in stage.depends_on:
                self.error(text, f"stage {stage.name} reads outputs of stage {stage_name} but does not depend on it: "
                                 f"add {stage_name} to the `dependsOn` of stage {stage.name}")
            producer = source.jobs.get(producer_name)
            if producer is None:
                self.error(text, f"stage {stage_name} has no job {producer_name!r}{self._suggest(producer_name, source.jobs)}")
                continue
            self._variable(text, producer, key, f"stageDependencies.{stage_name}.{producer_name}")
        if understood < len(ANY_OUTPUTS.findall(text)):
            self.error(text, f"an output reference the checker cannot read: {text.strip()[:120]!r}; write "
                             "dependencies.<job>.outputs['<step>.<var>'] or stageDependencies.<stage>.<job>.outputs[...]")

    def _variable(self, at: Any, producer: Job, key: str, prefix: str) -> None:
        parts = key.split(".")
        if producer.deployment:
            if producer.strategy != "runOnce":
                self.error(at, f"deployment job {producer.name} uses strategy {producer.strategy}: only runOnce "
                               "output names are checked")
                return
            if len(parts) == 2:
                self.error(at, f"{prefix}.outputs['{key}']: {producer.name} is a runOnce deployment job, whose outputs "
                               f"carry the job name: use outputs['{producer.name}.{key}']")
                return
            if len(parts) != 3 or parts[0] != producer.name:
                self.error(at, f"{prefix}.outputs['{key}']: expected '{producer.name}.<step>.<variable>'")
                return
            parts = parts[1:]
        elif len(parts) != 2:
            hint = f": use outputs['{'.'.join(parts[1:])}']" if len(parts) == 3 and parts[0] == producer.name else ""
            self.error(at, f"{prefix}.outputs['{key}']: {producer.name} is a job, whose outputs are '<step>.<variable>'{hint}")
            return
        step_name, variable = parts
        steps = {s.name: s for s in producer.steps if s.name}
        step = steps.get(step_name)
        if step is None:
            self.error(at, f"{prefix}.outputs['{key}']: job {producer.name} has no step named {step_name!r}"
                           f"{self._suggest(step_name, steps)} (a step is referenced by its `name:`, not displayName)")
            return
        if variable not in step.outputs:
            sets = ", ".join(sorted(step.outputs)) or "nothing the checker can see"
            self.error(at, f"{prefix}.outputs['{key}']: step {step_name} of job {producer.name} does not set "
                           f"{variable!r} (it sets: {sets})")
        elif not step.outputs[variable]:
            self.error(at, f"{prefix}.outputs['{key}']: step {step_name} of job {producer.name} sets {variable!r} "
                           f"without isOutput=true, so no other job can read it: "
                           f"##vso[task.setvariable variable={variable};isOutput=true]")

    @staticmethod
    def _suggest(name: str, choices) -> str:
        close = difflib.get_close_matches(name, [c for c in choices if c], n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""
