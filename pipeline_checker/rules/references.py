"""Output-variable references in expressions, and how a producing job names its outputs.

Forms (Microsoft's Expressions doc, "Dependencies"; Variables doc, "Set a multi-job output
variable"; Deployment jobs doc, "Support for output variables"):
- in a job: `dependencies.<job>.outputs['<key>']` (a job of the same stage) and
  `stageDependencies.<stage>.<job>.outputs['<key>']` (a job of an earlier stage);
- in a stage's `condition`: `dependencies.<stage>.outputs['<job>.<key>']`; in a stage's
  `variables`, also `stageDependencies.<stage>.<job>.outputs['<key>']`.
The `<key>` a job publishes under:
- a job: `<step>.<var>`; a matrix or parallel job: `<leg>.<step>.<var>` (legs: the matrix names,
  or job1 .. jobN);
- a runOnce deployment: `<job>.<step>.<var>`; the docs also show `<hook>.<step>.<var>`
  (`Deploy.StepA.VariableA`) and, for an environment resource, `<hook>_<resource>.<step>.<var>`;
- rolling: `<hook>_<resource>.<step>.<var>`; canary: `<hook>_<increment>.<step>.<var>`.
Where the docs disagree or a name (a resource) is known only to Azure DevOps, the checker accepts
the documented forms and warns where it cannot decide; it reports an error only for a key no
documented form can produce.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from pipeline_checker.model import HOOKS, Job

REFERENCE = re.compile(r"(?<![\w.])(stageDependencies|dependencies)((?:\s*\.\s*[A-Za-z_][\w-]*|\s*\[\s*'[^']*'\s*\])+)",
                       re.IGNORECASE)
SEGMENT = re.compile(r"\.\s*([A-Za-z_][\w-]*)|\[\s*'([^']*)'\s*\]")
ANY_OUTPUTS = re.compile(r"(?:stageDependencies|dependencies)\b[^\s]*\boutputs\b", re.IGNORECASE)
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Reference:
    context: str  # "dependencies" or "stageDependencies"
    names: tuple[str, ...]  # the stage and/or job before `outputs`
    key: str
    text: str


def references(text: str) -> tuple[list[Reference], bool]:
    """(the output references in `text`, whether some mention of outputs could not be read)."""
    found = []
    for match in REFERENCE.finditer(text):
        segments = [a or b for a, b in SEGMENT.findall(match.group(2))]
        lowered = [s.lower() for s in segments]
        if "outputs" not in lowered:
            continue
        position = lowered.index("outputs")
        if position + 2 != len(segments):
            continue
        context = "stageDependencies" if match.group(1).lower() == "stagedependencies" else "dependencies"
        found.append(Reference(context, tuple(segments[:position]), segments[position + 1], match.group(0)))
    return found, len(found) < len(ANY_OUTPUTS.findall(text))


def suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, [c for c in choices if c], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def job_key(job: Job, parts: list[str], shown: str) -> tuple[str | None, list[str], list[tuple[str, str]]]:
    """(hook, [step, var], problems) for the key `parts` of outputs of `job`."""
    if job.deployment:
        return _deployment_key(job, parts, shown)
    if job.strategy in ("matrix", "parallel"):
        example = f"{(job.legs or ['<leg>'])[0]}.{'.'.join(parts[-2:])}"
        if len(parts) != 3:
            return None, [], [(ERROR, f"{shown}: job {job.name} runs a {job.strategy} strategy, whose outputs are "
                                      f"'<leg>.<step>.<variable>': use outputs['{example}']")]
        if job.legs is not None and not any(_same(parts[0], leg) for leg in job.legs):
            return None, [], [(ERROR, f"{shown}: job {job.name} has no {job.strategy} leg {parts[0]!r} "
                                      f"(legs: {', '.join(job.legs)}){suggest(parts[0], job.legs)}")]
        return "", parts[1:], []
    if len(parts) == 2:
        return "", parts, []
    hint = f": use outputs['{'.'.join(parts[1:])}']" if len(parts) == 3 and _same(parts[0], job.name) else ""
    return None, [], [(ERROR, f"{shown}: {job.name} is a job, whose outputs are '<step>.<variable>'{hint}")]


def _deployment_key(job: Job, parts: list[str], shown: str) -> tuple[str | None, list[str], list[tuple[str, str]]]:
    documented = {"runOnce": f"'{job.name}.<step>.<variable>'", "rolling": "'<hook>_<resource>.<step>.<variable>'",
                  "canary": "'<hook>_<increment>.<step>.<variable>'"}.get(job.strategy, "'<job>.<step>.<variable>'")
    if len(parts) == 2 and job.strategy == "runOnce":
        return None, [], [(ERROR, f"{shown}: {job.name} is a runOnce deployment job, whose outputs carry the job "
                                  f"name: use outputs['{job.name}.{'.'.join(parts)}']")]
    if len(parts) != 3:
        return None, [], [(ERROR, f"{shown}: outputs of deployment job {job.name} ({job.strategy}) are named "
                                  f"{documented}")]
    prefix = parts[0]
    if _same(prefix, job.name):
        if job.strategy == "runOnce":
            return "deploy", parts[1:], []
        return "deploy", parts[1:], [(WARNING, f"not checked: {shown}: the docs name outputs of a {job.strategy} "
                                               f"deployment {documented}, not after the job")]
    hook, _, suffix = prefix.partition("_")
    known = next((h for h in (*HOOKS, "on.success", "on.failure") if _same(hook, h.replace("on.", "on"))
                  or _same(hook, h.split(".")[-1])), None)
    if known is None:
        return None, [], [(ERROR, f"{shown}: {prefix!r} is not a name deployment job {job.name} gives its outputs: "
                                  f"use {documented}")]
    return known, parts[1:], _suffix_problems(job, suffix, shown)


def _suffix_problems(job: Job, suffix: str, shown: str) -> list[tuple[str, str]]:
    if job.strategy == "canary" and suffix and job.increments and suffix not in job.increments:
        return [(WARNING, f"not checked: {shown}: canary deployment {job.name} has increments "
                          f"{', '.join(job.increments)}, not {suffix}")]
    if job.strategy == "canary" and not suffix:
        return [(WARNING, f"not checked: {shown}: canary outputs are documented as '<hook>_<increment>...'")]
    if job.resource and suffix and not _same(suffix, job.resource):
        return [(WARNING, f"not checked: {shown}: deployment {job.name} targets resource {job.resource}, "
                          f"not {suffix}")]
    return []
