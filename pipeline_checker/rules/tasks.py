"""Task steps against the tasks' definitions (catalog.py): the name and version, each input's name,
type and options, and the inputs a definition marks required.

Azure DevOps resolves task names, input names and input values case-insensitively (the schema's
`ignoreCase`), and accepts an input under any of its aliases. It does not check task inputs when
it compiles a pipeline: an input the task does not have is ignored (dotnet/SqlClient's pipeline
passes DotNetCoreCLI@2 a `verbosity` it does not have), a value outside the input's type or
options reaches the task, and `required` is enforced by the task itself, if at all (Microsoft's
own samples leave out inputs the definitions mark required). So every finding of this rule is a
warning. A task found in no source is a marketplace task the checker cannot check: a warning too.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pipeline_checker.catalog import Catalog, TaskInput, TaskSpec
from pipeline_checker.findings import Findings
from pipeline_checker.located import key_line, located
from pipeline_checker.rules import WARNING, Rule

TASK = Rule("task", "A task step does not match the task's definition: an unknown task or version, an input the task "
                    "does not have, a value outside the input's type or options, a required input left out.", WARNING,
            "https://learn.microsoft.com/azure/devops/pipelines/tasks/reference/")
RUNTIME = ("$(", "$[", "${{", "<?>")


def _undecidable(value: Any) -> bool:
    return isinstance(value, str) and any(marker in value for marker in RUNTIME)


def _value_problem(spec: TaskInput, value: Any) -> str | None:
    if isinstance(value, (dict, list)):
        return f"must be a string, not a {'mapping' if isinstance(value, dict) else 'list'}"
    if _undecidable(value) or value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if spec.type == "boolean" and text.lower() not in ("true", "false"):
        return f"must be true or false, got {text!r}"
    if spec.type == "integer" and not re.fullmatch(r"\s*[-+]?\d+\s*", text):
        return f"must be a whole number, got {text!r}"
    if spec.options is not None and text.casefold() not in {o.casefold() for o in spec.options}:
        return f"must be one of {', '.join(spec.options)}; got {text!r}"
    return None


def check_step(step: dict, catalog: Catalog, findings: Findings, reported: set | None = None) -> None:
    """Findings for one `task:` step: its name and version, and its inputs against the task's definition.
    A task the checker does not know is reported once per `reported` set."""
    reference = step.get("task")
    if not isinstance(reference, str) or _undecidable(reference):
        return
    spec = catalog.lookup(reference)
    at = located("", *key_line(step, "task"))
    if spec is None and reported is not None and reference.casefold() in reported:
        return
    if spec is None:
        if reported is not None:
            reported.add(reference.casefold())
        name = reference.partition("@")[0].strip()
        versions = catalog.by_name.get(name.casefold())
        if versions:
            findings.warning(at, f"not checked: task {reference}: the checker knows {', '.join(sorted(versions))} "
                                 "of this task, not this version", TASK)
        else:
            findings.warning(at, f"not checked: task {reference} is not a built-in task the checker knows (a "
                                 "marketplace task?): its inputs and outputs are not checked; describe it in "
                                 "an --extensions file to check them", TASK)
        return
    inputs = step.get("inputs")
    if spec.inputs is None:
        return
    if inputs is None:
        _check_required(spec, set(), step, findings)
        return
    if not isinstance(inputs, dict):
        findings.warning(located("", *key_line(step, "inputs")), f"task {spec.name}: `inputs` must be a mapping",
                         TASK)
        return
    given = _check_inputs(spec, inputs, findings)
    _check_required(spec, given, step, findings)


def _check_inputs(spec: TaskSpec, inputs: dict, findings: Findings) -> set[str]:
    given = set()
    for key, value in inputs.items():
        at = located("", *key_line(inputs, key))
        canonical = spec.canonical(key)
        if canonical is None:
            if isinstance(key, str) and key.lstrip().startswith("${{"):
                continue
            close = difflib.get_close_matches(str(key), list(spec.inputs), n=1, cutoff=0.6)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            findings.warning(at, f"task {spec.name} has no input `{key}`{hint}, so the task ignores it; its "
                                 f"inputs: {', '.join(spec.inputs) or 'none'}", TASK)
            continue
        given.add(canonical)
        problem = _value_problem(spec.inputs[canonical], value)
        if problem:
            shown = f"`{key}`" if str(key) == canonical else f"`{key}` (`{canonical}`)"
            findings.warning(at, f"task {spec.name}: input {shown} {problem}", TASK)
    return given


def _check_required(spec: TaskSpec, given: set[str], step: dict, findings: Findings) -> None:
    missing = [spec.canonical(name) or name for name in spec.required if (spec.canonical(name) or name) not in given]
    if missing:
        aliases = {name: spec.inputs[name].aliases for name in missing if spec.inputs and name in spec.inputs}
        shown = ", ".join(f"`{n}`" + (f" (or {', '.join(aliases[n])})" if aliases.get(n) else "") for n in missing)
        plural = "s" if len(missing) > 1 else ""
        findings.warning(located("", *key_line(step, "task")), f"not checked: task {spec.name} may need the "
                         f"input{plural} {shown}: its definition marks {'them' if plural else 'it'} required, but "
                         "whether the task fails without it is up to the task", TASK)
