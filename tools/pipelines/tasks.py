"""Built-in and extension tasks: their inputs (names, aliases, types, options) and output variables.

Sources, later ones adding to earlier ones:
1. the vendored official schema (`pipelines/schema/service-schema.json`): each task's inputs with
   their `aliases`, `type` (boolean, integer) and `enum` options, and its always-required inputs;
2. `data/tasks.json`, generated from microsoft/azure-pipelines-tasks (`generate_task_data.py`):
   each task's `outputVariables`, and the inputs of tasks the schema names without defining them;
3. `extensions.json` (the project's, or `--extensions FILE`): tasks a project allows that neither
   knows, such as marketplace tasks, each with its inputs (JSON-schema properties), `required`
   and optionally `outputs`.

Azure DevOps resolves task names, input names and input values case-insensitively (the schema's
`ignoreCase`), and accepts an input under any of its aliases. Azure DevOps does not check task
inputs when it compiles a pipeline: an input the task does not have is ignored (dotnet/SqlClient's
pipeline passes DotNetCoreCLI@2 a `verbosity` it does not have), a value outside the input's type
or options reaches the task, and `required` is enforced by the task itself, if at all (Microsoft's
own samples leave out inputs the definitions mark required). So every input finding is a warning.
A task found in none of the sources is a marketplace task the checker cannot check: a warning too.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tools.pipelines.findings import Findings
from tools.pipelines.source import key_line, located

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "schema"
DATA = Path(__file__).resolve().parent / "data" / "tasks.json"
RUNTIME = ("$(", "$[", "${{", "<?>")


@cache
def raw_schema() -> dict:
    """The vendored official schema, parsed once."""
    return json.loads((SCHEMA_DIR / "service-schema.json").read_text())


def schema_task_names(with_inputs: bool = False) -> list[str]:
    """Task names (Name@Major) the schema lists; with_inputs: only those it defines inputs for."""
    task = raw_schema()["definitions"]["task"]
    if with_inputs:
        return [re.sub(r"\\(.)", r"\1", b["properties"]["task"]["pattern"].strip("^$")) for b in task["anyOf"]]
    return [name for entry in task["properties"]["task"]["anyOf"] for name in entry["enum"]]


@dataclass
class TaskInput:
    name: str
    aliases: tuple[str, ...] = ()
    type: str = "string"
    options: tuple[str, ...] | None = None


@dataclass
class TaskSpec:
    """One task version. `inputs` None: the inputs are not known; `outputs` None: not known."""

    name: str
    inputs: dict[str, TaskInput] | None = None
    required: tuple[str, ...] = ()
    outputs: tuple[str, ...] | None = None
    _names: dict[str, str] = field(default_factory=dict)

    def canonical(self, key: str) -> str | None:
        """The input `key` names (its own name or an alias, in any case), or None."""
        if not self._names and self.inputs:
            for spec in self.inputs.values():
                for name in (spec.name, *spec.aliases):
                    self._names.setdefault(name.casefold(), spec.name)
        return self._names.get(str(key).casefold())


def _from_schema_branch(branch: dict) -> TaskSpec:
    name = re.sub(r"\\(.)", r"\1", branch["properties"]["task"]["pattern"].strip("^$"))
    inputs = branch["properties"].get("inputs", {})
    specs = {}
    for key, prop in (inputs.get("properties") or {}).items():
        options = tuple(map(str, prop["enum"])) if "enum" in prop else None
        specs[key] = TaskInput(key, tuple(prop.get("aliases", ())), prop.get("type", "string"), options)
    return TaskSpec(name, specs, tuple(inputs.get("required", ())))


def _from_data(name: str, entry: dict) -> TaskSpec:
    inputs = None
    if "inputs" in entry:
        inputs = {key: TaskInput(key, tuple(spec.get("aliases", ())), spec.get("type", "string"),
                                 tuple(spec["options"]) if "options" in spec else None)
                  for key, spec in entry["inputs"].items()}
    return TaskSpec(name, inputs, tuple(entry.get("required", ())), tuple(entry.get("outputs", ())))


def _from_extension(name: str, entry: dict) -> TaskSpec:
    inputs = {key: TaskInput(key, tuple(prop.get("aliases", ())), prop.get("type", "string"),
                             tuple(map(str, prop["enum"])) if "enum" in prop else None)
              for key, prop in (entry.get("inputs") or {}).items()}
    outputs = tuple(entry["outputs"]) if "outputs" in entry else None
    return TaskSpec(name, inputs, tuple(entry.get("required", ())), outputs)


class Catalog:
    """Every task the checker knows, by `Name@Major` (case-insensitive)."""

    def __init__(self, extensions: dict | None = None):
        self.tasks: dict[str, TaskSpec] = {}
        for branch in raw_schema()["definitions"]["task"]["anyOf"]:
            spec = _from_schema_branch(branch)
            self.tasks.setdefault(spec.name.casefold(), spec)
        for name in schema_task_names():
            self.tasks.setdefault(name.casefold(), TaskSpec(name))
        data = json.loads(DATA.read_text())["tasks"] if DATA.is_file() else {}
        for name, entry in data.items():
            known = self.tasks.get(name.casefold())
            if known is None or known.inputs is None:
                self.tasks[name.casefold()] = _from_data(name, entry)
            else:
                known.outputs = tuple(entry.get("outputs", ()))
                known.required = tuple(entry.get("required", known.required))
                for name in entry.get("editable", ()):
                    canonical = known.canonical(name)
                    if canonical:
                        known.inputs[canonical].options = None
        for name, entry in ((extensions or {}).get("tasks") or {}).items():
            self.tasks[name.casefold()] = _from_extension(name, entry)
        self.by_name: dict[str, list[str]] = {}
        for spec in self.tasks.values():
            self.by_name.setdefault(spec.name.partition("@")[0].casefold(), []).append(spec.name)

    def lookup(self, reference: str) -> TaskSpec | None:
        return self.tasks.get(str(reference).strip().casefold())

    def inputs(self, step: dict) -> dict[str, Any]:
        """The step's inputs under their canonical names (aliases and case resolved)."""
        spec = self.lookup(step.get("task", ""))
        inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
        if spec is None or not spec.inputs:
            return dict(inputs)
        return {spec.canonical(k) or k: v for k, v in inputs.items()}


@cache
def default_catalog() -> Catalog:
    path = SCHEMA_DIR / "extensions.json"
    return Catalog(json.loads(path.read_text()) if path.is_file() else None)


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
                                 "of this task, not this version")
        else:
            findings.warning(at, f"not checked: task {reference} is not a built-in task the checker knows (a "
                                 "marketplace task?): its inputs and outputs are not checked; describe it in "
                                 "extensions.json to check them")
        return
    inputs = step.get("inputs")
    if spec.inputs is None:
        return
    if inputs is None:
        _check_required(spec, set(), step, findings)
        return
    if not isinstance(inputs, dict):
        findings.warning(located("", *key_line(step, "inputs")), f"task {spec.name}: `inputs` must be a mapping",
                         "task")
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
                                 f"inputs: {', '.join(spec.inputs) or 'none'}", "task")
            continue
        given.add(canonical)
        problem = _value_problem(spec.inputs[canonical], value)
        if problem:
            shown = f"`{key}`" if str(key) == canonical else f"`{key}` (`{canonical}`)"
            findings.warning(at, f"task {spec.name}: input {shown} {problem}", "task")
    return given


def _check_required(spec: TaskSpec, given: set[str], step: dict, findings: Findings) -> None:
    missing = [spec.canonical(name) or name for name in spec.required if (spec.canonical(name) or name) not in given]
    if missing:
        aliases = {name: spec.inputs[name].aliases for name in missing if spec.inputs and name in spec.inputs}
        shown = ", ".join(f"`{n}`" + (f" (or {', '.join(aliases[n])})" if aliases.get(n) else "") for n in missing)
        plural = "s" if len(missing) > 1 else ""
        findings.warning(located("", *key_line(step, "task")), f"not checked: task {spec.name} may need the "
                         f"input{plural} {shown}: its definition marks {'them' if plural else 'it'} required, but "
                         "whether the task fails without it is up to the task", "task")
