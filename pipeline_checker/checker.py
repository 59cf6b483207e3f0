"""One check of one pipeline file: expansion, schema, tasks, dependencies, output-variable flow,
same-job output reads and conditions.

`check(path, options)` returns a `Result`: the findings (errors and warnings, by file and line)
left after `--disable` and inline suppression, and a one-line summary of what was read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pipeline_checker.catalog import Catalog
from pipeline_checker.compile.expand import Expander
from pipeline_checker.compile.templates import Repositories, git_root
from pipeline_checker.findings import CheckError, Finding, Findings
from pipeline_checker.model import Model
from pipeline_checker.rules import conditions, dependencies, rule_ids, same_job
from pipeline_checker.rules.flow import Flow
from pipeline_checker.rules.schema import validate, validate_template_file
from pipeline_checker.rules.tasks import check_step
from pipeline_checker.steps.scripts import StepReader
from pipeline_checker.suppression import Suppressions


@dataclass
class Options:
    """`root`: the repository root (default: the git checkout around the pipeline);
    `repositories`: local checkouts of other repositories by alias; `extensions`: a JSON file of
    tasks to add to the built-in ones; `disabled`: rule ids whose findings are dropped."""

    root: Path | None = None
    repositories: dict[str, Path] = field(default_factory=dict)
    extensions: Path | None = None
    disabled: frozenset[str] = frozenset()


@dataclass
class Result:
    path: Path
    findings: list[Finding]
    summary: str
    suppressed: int = 0  # findings left out by --disable or a suppression comment

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


@cache
def _catalog(extensions: Path | None) -> Catalog:
    return Catalog(json.loads(extensions.read_text()) if extensions else None)


def _repositories(path: Path, options: Options) -> Repositories:
    """The pipeline's repository: `--root`, else the nearest folder above the pipeline holding
    `.git`, else none is certain (`/absolute` templates are then looked for in every folder above
    the pipeline, and the summary says so)."""
    if options.root is not None:
        return Repositories(options.root.resolve(), True, {k: v.resolve() for k, v in options.repositories.items()})
    root = git_root(path.resolve().parent)
    return Repositories((root or path.resolve().parent), root is not None,
                        {k: v.resolve() for k, v in options.repositories.items()})


def _task_steps(value):
    if isinstance(value, dict):
        if "task" in value and isinstance(value.get("task"), str):
            yield value
        for item in value.values():
            yield from _task_steps(item)
    elif isinstance(value, list):
        for item in value:
            yield from _task_steps(item)


def check(path: Path, options: Options | None = None) -> Result:
    """Check the pipeline at `path` and the templates and scripts it uses."""
    options = options or Options()
    findings = Findings()
    repositories = _repositories(path, options)
    expander = Expander(repositories, findings)
    try:
        expansion = expander.pipeline(path)
    except CheckError as error:
        return _kept(Result(path, [error.finding], "not read"), expander, options)
    for finding in validate(expansion.pipeline):
        if expansion.unread_extends and finding.message.startswith("schema: the top level is missing"):
            # What the extends template would have added is not known: not an error of the pipeline's.
            finding = Finding(finding.file, finding.line, f"not checked: {finding.message.removeprefix('schema: ')}: "
                              f"the extends template {expansion.unread_extends} was not read", "warning", finding.rule)
        findings.add(finding)
    done = set()
    for use in expansion.templates:
        if use.file not in done:
            done.add(use.file)
            findings.extend(validate_template_file(use.kind, use.doc))
    catalog = _catalog(options.extensions)
    reported: set[str] = set()
    for step in _task_steps({k: v for k, v in expansion.pipeline.items() if k in ("stages", "jobs", "steps")}):
        check_step(step, catalog, findings, reported)
    reader = StepReader(repositories.root, catalog, None if repositories.certain else path.resolve().parent)
    model = Model(expansion.pipeline, reader, findings)
    dependencies.check(model, findings)
    flow = Flow(model, findings)
    flow.check()
    same_job.check(model, findings)
    conditions.check(model, expansion.pipeline, findings)
    jobs = sum(len(variants) for stage in model.stages.values() for s in stage for variants in s.jobs.values())
    files = len({use.file for use in expansion.templates})
    summary = f"{sum(len(v) for v in model.stages.values())} stages, {jobs} jobs, " \
              f"{len(expansion.templates)} template uses ({files} files)"
    total = sum(flow.counts.values())
    if total:
        summary += f"; {total} output references: " + ", ".join(f"{n} {k}" for k, n in flow.counts.items() if n)
    if expansion.unread_extends:
        summary += f"; extends template {expansion.unread_extends} not read"
    if not repositories.certain:
        summary += (f"; no git checkout around it: /absolute template paths looked for in {repositories.root} and "
                    "the folders above (give --root)")
    return _kept(Result(path, _ordered(findings.items), summary), expander, options)


def _kept(result: Result, expander: Expander, options: Options) -> Result:
    """`result` without the findings `--disable` or a suppression comment drops; a comment naming no
    rule is reported."""
    suppressions = Suppressions(expander.paths, set(rule_ids()))
    kept = [f for f in result.findings if f.rule not in options.disabled and not suppressions.suppressed(f)]
    problems = [f for f in suppressions.problems if f.rule not in options.disabled]
    result.suppressed = len(result.findings) - len(kept)
    result.findings = _ordered(kept + problems)
    return result


def _ordered(items: list[Finding]) -> list[Finding]:
    """By file (in the order files were first reported) and line."""
    rank: dict[str, int] = {}
    for finding in items:
        rank.setdefault(finding.file, len(rank))
    return sorted(items, key=lambda f: (rank[f.file], f.line))
