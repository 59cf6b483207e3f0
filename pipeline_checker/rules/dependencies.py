"""Who depends on whom: every `dependsOn` names a stage or job that exists, and no dependencies
form a cycle.

From Microsoft's YAML schema (stages.stage: "By default stages are run sequentially in the order
defined in the pipeline. Specify `dependsOn: []` for a stage if it shouldn't depend on the previous
stage") and "Jobs" doc (jobs run in parallel unless `dependsOn` is set); the refusals are Azure
DevOps' own (its pipeline validator, `GraphValidator`): "Stage {0} depends on unknown stage {1}",
"Stage {0} depends on stage {1} which creates a cycle in the dependency graph", and the same for
jobs; a graph where every node has dependencies ("The pipeline must contain at least one stage
with no dependencies") holds a cycle too, and is reported as one.

A stage without `dependsOn` depends on the one before it, so an implicit edge can close a cycle.
Only certain edges count: a stage or job an undecidable `${{ if }}` inserted is left out (an
`if`/`else` pair inserts two variants of one stage, never both, and the checker cannot always
prove which conditions exclude each other: Azure/azure-sdk-tools' sync pipelines would be
reported for a cycle no run has), and so is a name known only when Azure DevOps compiles.
"""

from __future__ import annotations

from typing import Any

from pipeline_checker.compile.expressions import UNKNOWN_MARK
from pipeline_checker.findings import Findings
from pipeline_checker.model import Model, Stage
from pipeline_checker.rules import Rule
from pipeline_checker.rules.references import suggest

STAGES_DOC = "https://learn.microsoft.com/azure/devops/pipelines/process/stages"
UNKNOWN_DEPENDENCY = Rule("unknown-dependency", "A `dependsOn` names a stage or job that does not exist (Azure DevOps "
                                                "refuses to compile: \"depends on unknown stage\").", help_uri=STAGES_DOC)
DEPENDENCY_CYCLE = Rule("dependency-cycle", "Stages, or jobs of one stage, depend on each other in a cycle (a stage "
                                            "without `dependsOn` depends on the one before it): Azure DevOps refuses "
                                            "to compile the pipeline.", help_uri=STAGES_DOC)


def check(model: Model, findings: Findings) -> None:
    stages = [variants for variants in model.stages.values()]
    stage_names = [variants[0].name for variants in stages]
    for variants in stages:
        for stage in variants:
            _exist(findings, stage.depends_on, stage_names, f"stage {stage.name}", "a stage", model.incomplete,
                   stage.spec.get("dependsOn", stage.spec))
            job_names = [jobs[0].name for jobs in stage.jobs.values()]
            for jobs in stage.jobs.values():
                for job in jobs:
                    _exist(findings, job.depends_on, job_names, f"job {job.name}", f"a job of stage {stage.name}",
                           stage.incomplete, job.spec.get("dependsOn", job.spec))
    _cycles(findings, {name: [(s.name, s.depends_on, s.alternative, s.spec) for s in variants]
                       for name, variants in model.stages.items()}, "stage", "stages")
    for variants in stages:
        for stage in variants:
            _cycles(findings, {name: [(j.name, j.depends_on, j.alternative, j.spec) for j in jobs]
                               for name, jobs in stage.jobs.items()}, "job", f"jobs of stage {stage.name}", stage)


def _exist(findings: Findings, names: list[str], known: list[str], who: str, what: str, incomplete: str,
           at: Any) -> None:
    """Each of `names` (a dependsOn) must be one of `known`; a warning when the list was not fully read."""
    lowered = {k.lower() for k in known}
    for name in names:
        if str(name).lower() in lowered or UNKNOWN_MARK in str(name):
            continue
        message = f"{who} depends on {name!r}, which is not {what}{suggest(name, known)}"
        if incomplete:
            findings.warning(at, f"not checked: {message} the checker read ({incomplete})", UNKNOWN_DEPENDENCY)
        else:
            findings.error(at, message, UNKNOWN_DEPENDENCY)


Node = tuple[str, list[str], bool, Any]  # (name, dependsOn, inserted by an undecided `${{ if }}`, spec)


def _cycles(findings: Findings, graph: dict[str, list[Node]], kind: str, what: str, stage: Stage | None = None) -> None:
    """Report each strongly connected group of `graph` (lower-case name -> variants) that is a cycle."""
    edges: dict[str, dict[str, bool]] = {}  # node -> {dependency: True}: certain edges only
    for name, variants in graph.items():
        mine = edges.setdefault(name, {})
        for _shown, depends_on, alternative, _spec in variants:
            for dependency in depends_on:
                target = str(dependency).lower()
                if target in graph and UNKNOWN_MARK not in target and not alternative \
                        and not any(v[2] for v in graph[target]):
                    mine[target] = True
    for group in _strongly_connected(edges):
        if len(group) == 1 and group[0] not in edges[group[0]]:
            continue
        path = _cycle_path(group, edges)
        shown = [graph[name][0][0] for name in path]
        first = graph[path[0]][0]
        at = first[3].get("dependsOn", first[3]) if isinstance(first[3], dict) else first[3]
        where = f" of stage {stage.name}" if stage is not None else ""
        if len(path) == 2:
            message = f"{kind} {shown[0]}{where} depends on itself"
        else:
            message = (f"{what} {' -> '.join(shown)} depend on each other in a cycle: Azure DevOps refuses to compile "
                       f"it (\"{kind.capitalize()} {shown[0]} depends on {kind} {shown[1]} which creates a cycle in "
                       "the dependency graph\")")
        fix = ("; remove one of these dependsOn" if len(path) > 2 else "; remove it from its dependsOn")
        if kind == "stage" and any("dependsOn" not in graph[name][0][3] for name in path[:-1]
                                   if isinstance(graph[name][0][3], dict)):
            fix += " (a stage without dependsOn depends on the stage before it; `dependsOn: []` for none)"
        findings.error(at, message + fix, DEPENDENCY_CYCLE)


def _strongly_connected(edges: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each in the order its nodes were first met (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    order = list(edges)
    for root in order:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group, key=order.index))
    return sorted(groups, key=lambda g: order.index(g[0]))


def _cycle_path(group: list[str], edges: dict[str, dict[str, bool]]) -> list[str]:
    """The shortest cycle through the group's first node, as [a, b, ..., a] (breadth first)."""
    members, start = set(group), group[0]
    if start in edges[start]:
        return [start, start]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in edges[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if target in members and target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [start, start]  # not reached: the group is strongly connected
