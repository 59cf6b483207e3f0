"""The stages, jobs and steps of an expanded pipeline, and who depends on whom.

From Microsoft's YAML schema and "Stages", "Jobs" and "Deployment jobs" docs:
- a pipeline with `jobs:` or `steps:` at the top has one implicit stage (and one implicit job);
- a stage without `dependsOn` depends on the stage before it; a job depends only on what it lists;
- a deployment job runs its strategy's lifecycle hooks (`preDeploy`, `deploy`, `routeTraffic`,
  `postRouteTraffic`, `on: failure / success`) for `runOnce`, `rolling` and `canary`; each hook
  runs as its own job, so step names are unique per hook;
- a job with `strategy: matrix` runs one leg per matrix entry, `strategy: parallel: N` runs legs
  job1 .. jobN;
- stage, job and step names are unique in their scope (Azure DevOps refuses a duplicate).
Names compare case-insensitively. An item that an undecidable `${{ if }}` inserted
(`LDict.alternative`) is one variant among others: it may share its name with another variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_checker.findings import Findings
from pipeline_checker.located import UnknownText, key_line, located, where
from pipeline_checker.rules import Rule
from pipeline_checker.steps.scripts import Sets, StepReader

DUPLICATE_NAME = Rule("duplicate-name", "Two stages of the pipeline, two jobs of a stage or two steps of a job (or of "
                                        "a deployment hook) have the same name, compared case-insensitively: Azure "
                                        "DevOps refuses to compile the pipeline.",
                      help_uri="https://learn.microsoft.com/azure/devops/pipelines/process/stages")
HOOKS = ("preDeploy", "deploy", "routeTraffic", "postRouteTraffic")
OUTCOMES = ("success", "failure")


@dataclass
class Step:
    name: str | None
    sets: Sets
    spec: Any


@dataclass
class Job:
    name: str
    spec: Any
    deployment: bool = False
    strategy: str | None = None  # matrix, parallel, runOnce, rolling, canary
    legs: list[str] | None = None  # matrix legs or job1..jobN; None: not known offline
    hooks: dict[str, list[Step]] = field(default_factory=dict)  # "" for a regular job's steps
    depends_on: list[str] = field(default_factory=list)
    alternative: bool = False
    incomplete: str = ""
    resource: str | None = None  # environment.resourceName, or "" when only a resourceType is given
    increments: list[str] = field(default_factory=list)


@dataclass
class Stage:
    name: str
    spec: Any
    depends_on: list[str]
    jobs: dict[str, list[Job]] = field(default_factory=dict)  # lower-case name -> variants
    alternative: bool = False
    incomplete: str = ""
    maybe_previous: list[str] = field(default_factory=list)  # the stage before may be one of these


def names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []


def os_of(pool: Any) -> str | None:
    """"linux", "windows" or None from a pool's vmImage (Microsoft-hosted) or its Agent.OS demand."""
    if isinstance(pool, dict):
        image = str(pool.get("vmImage", "")).lower()
        demands = " ".join(names(pool.get("demands"))).lower()
        if image.startswith(("windows", "vs20", "win")) or "windows_nt" in demands:
            return "windows"
        if image.startswith(("ubuntu", "macos", "mac")) or "agent.os -equals linux" in demands \
                or "agent.os -equals darwin" in demands:
            return "linux"
    return None


class Model:
    """The pipeline's stages (lower-case name -> variants); structural problems go to `findings`."""

    def __init__(self, pipeline: Any, reader: StepReader, findings: Findings):
        self.reader, self.findings = reader, findings
        self.stages: dict[str, list[Stage]] = {}
        specs = pipeline.get("stages") if isinstance(pipeline, dict) else None
        self.incomplete = getattr(specs, "incomplete", "")
        if specs is None:
            jobs = pipeline.get("jobs") if isinstance(pipeline, dict) else None
            if jobs is None:
                steps = pipeline.get("steps") if isinstance(pipeline, dict) else None
                implicit = located({"job": "Job", "steps": steps or []}, *where(steps, pipeline))
                implicit.key_lines = {}
                jobs = [implicit]
            self.incomplete = getattr(jobs, "incomplete", "")
            specs = [{"stage": "__default", "jobs": jobs}]
        self.pipeline = pipeline
        self.pool = pipeline.get("pool") if isinstance(pipeline, dict) else None
        self._read_stages(specs)

    def variants(self, name: str) -> list[Stage]:
        return self.stages.get(str(name).lower(), [])

    def _read_stages(self, specs: list) -> None:
        previous: list[Stage] = []
        for spec in specs or []:
            if not isinstance(spec, dict):
                continue
            name = str(spec["stage"]) if spec.get("stage") not in (None, "") else (
                "__default" if "stage" not in spec else f"<unnamed stage at line {getattr(spec, 'line', 0)}>")
            alternative = bool(getattr(spec, "alternative", False))
            explicit = "dependsOn" in spec
            before = [previous[-1].name] if previous else []
            maybe = [s.name for s in previous[-4:] if s.alternative] if previous else []
            stage = Stage(name, spec, names(spec["dependsOn"]) if explicit else before, alternative=alternative,
                          incomplete=getattr(spec.get("jobs"), "incomplete", ""),
                          maybe_previous=[] if explicit else maybe)
            if isinstance(spec.get("stage"), UnknownText):
                self.incomplete = self.incomplete or f"a stage name is not known offline ({spec['stage']})"
            self._add(self.stages, stage, "stage", "the pipeline")
            pool = spec.get("pool", self.pool)
            for job_spec in spec.get("jobs") or []:
                if isinstance(job_spec, dict):
                    job = self._job(job_spec, pool)
                    self._add(stage.jobs, job, "job", f"stage {name}")
                    if isinstance(job_spec.get("job", job_spec.get("deployment")), UnknownText):
                        stage.incomplete = stage.incomplete or "a job name is not known offline"
            previous.append(stage)

    def _add(self, table: dict, item: Any, what: str, where: str) -> None:
        variants = table.setdefault(item.name.lower(), [])
        # Azure DevOps names an unnamed stage or job itself, uniquely; a name known only when it
        # compiles cannot be compared.
        if variants and not item.alternative and not any(v.alternative for v in variants) \
                and "<?>" not in item.name and not item.name.startswith("<unnamed "):
            self.findings.error(located("", *key_line(item.spec, what if what in item.spec else "deployment")),
                                f"{where} has two {what}s named {item.name!r}", DUPLICATE_NAME)
        variants.append(item)

    def _job(self, spec: dict, pool: Any) -> Job:
        deployment = "deployment" in spec
        unnamed = f"<unnamed job at line {getattr(spec, 'line', 0)}>"  # Azure DevOps names it; nothing can read it
        name = str(spec.get("deployment") if deployment else spec.get("job") or unnamed)
        job = Job(name, spec, deployment, depends_on=names(spec.get("dependsOn")),
                  alternative=bool(getattr(spec, "alternative", False)))
        os = os_of(spec.get("pool", pool))
        strategy = spec.get("strategy") if isinstance(spec.get("strategy"), dict) else {}
        if deployment:
            self._deployment(job, strategy, os, pool)
        else:
            self._legs(job, strategy)
            job.hooks[""] = self._steps(spec.get("steps"), os, f"job {name}", job)
        return job

    def _legs(self, job: Job, strategy: dict) -> None:
        if "matrix" in strategy:
            job.strategy = "matrix"
            matrix = strategy["matrix"]
            job.legs = [str(k) for k in matrix] if isinstance(matrix, dict) else None
        elif "parallel" in strategy:
            job.strategy = "parallel"
            count = str(strategy["parallel"])
            job.legs = [f"job{i}" for i in range(1, int(count) + 1)] if count.isdigit() else None

    def _deployment(self, job: Job, strategy: dict, os: str | None, pool: Any) -> None:
        environment = job.spec.get("environment")
        if isinstance(environment, dict):
            job.resource = str(environment.get("resourceName", "")) if (
                environment.get("resourceName") or environment.get("resourceType")) else None
        elif isinstance(environment, str) and "." in environment:
            job.resource = environment.split(".", 1)[1]
        job.strategy = next(iter(strategy), "runOnce") if strategy else "runOnce"
        body = strategy.get(job.strategy) if isinstance(strategy.get(job.strategy), dict) else {}
        if job.strategy == "canary":
            job.increments = [str(i) for i in body.get("increments") or [] if not isinstance(i, (dict, list))]
        for hook in HOOKS:
            part = body.get(hook)
            if isinstance(part, dict):
                job.hooks[hook] = self._steps(part.get("steps"), os_of(part.get("pool")) or os,
                                              f"the {hook} hook of deployment {job.name}", job)
        on = body.get("on") if isinstance(body.get("on"), dict) else {}
        for outcome in OUTCOMES:
            if isinstance(on.get(outcome), dict):
                job.hooks[f"on.{outcome}"] = self._steps(on[outcome].get("steps"), os_of(on[outcome].get("pool")) or os,
                                                         f"the on.{outcome} hook of deployment {job.name}", job)

    def _steps(self, specs: Any, os: str | None, where: str, job: Job) -> list[Step]:
        steps, seen = [], {}
        job.incomplete = job.incomplete or getattr(specs, "incomplete", "")
        for spec in specs if isinstance(specs, list) else []:
            if not isinstance(spec, dict):
                continue
            step = Step(str(spec["name"]) if spec.get("name") else None, self.reader.sets(spec, os), spec)
            if step.name and "<?>" in step.name:
                job.incomplete = job.incomplete or f"a step name is known only when Azure DevOps compiles ({step.name})"
            elif step.name:
                other = seen.get(step.name.lower())
                if other is not None and not getattr(spec, "alternative", False) \
                        and not getattr(other.spec, "alternative", False):
                    self.findings.error(located("", *key_line(spec, "name")),
                                        f"{where} has two steps named {step.name!r}", DUPLICATE_NAME)
                seen[step.name.lower()] = step
            steps.append(step)
        return steps
