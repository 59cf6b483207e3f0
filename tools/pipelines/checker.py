"""One check of one pipeline file: expansion, schema, tasks, then output-variable flow.

`check(path, options)` returns a `Result`: the findings (errors and warnings, in file order of
discovery) and a one-line summary of what was read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tools.pipelines.expand import Expander
from tools.pipelines.findings import CheckError, Finding, Findings
from tools.pipelines.flow import Flow
from tools.pipelines.model import Model
from tools.pipelines.schema import validate, validate_template_file
from tools.pipelines.scripts import StepReader
from tools.pipelines.tasks import SCHEMA_DIR, Catalog, check_step
from tools.pipelines.templates import Repositories, git_root


@dataclass
class Options:
    """`root`: the repository root (default: the git checkout around the pipeline);
    `repositories`: local checkouts of other repositories by alias; `extensions`: a JSON file of
    tasks to add (default: pipelines/schema/extensions.json)."""

    root: Path | None = None
    repositories: dict[str, Path] = field(default_factory=dict)
    extensions: Path | None = None


@dataclass
class Result:
    path: Path
    findings: list[Finding]
    summary: str

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


@cache
def _catalog(extensions: Path | None) -> Catalog:
    path = extensions or SCHEMA_DIR / "extensions.json"
    return Catalog(json.loads(path.read_text()) if path.is_file() else None)


def _repositories(path: Path, options: Options) -> Repositories:
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
        return Result(path, [error.finding], "not read")
    findings.extend(validate(expansion.pipeline))
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
    flow = Flow(model, findings)
    flow.check()
    jobs = sum(len(variants) for stage in model.stages.values() for s in stage for variants in s.jobs.values())
    files = len({use.file for use in expansion.templates})
    summary = f"{sum(len(v) for v in model.stages.values())} stages, {jobs} jobs, " \
              f"{len(expansion.templates)} template uses ({files} files)"
    total = sum(flow.counts.values())
    if total:
        summary += f"; {total} output references: " + ", ".join(f"{n} {k}" for k, n in flow.counts.items() if n)
    if expansion.unread_extends:
        summary += f"; extends template {expansion.unread_extends} not read"
    return Result(path, _ordered(findings.items), summary)


def _ordered(items: list[Finding]) -> list[Finding]:
    """By file (in the order files were first reported) and line."""
    rank: dict[str, int] = {}
    for finding in items:
        rank.setdefault(finding.file, len(rank))
    return sorted(items, key=lambda f: (rank[f.file], f.line))
