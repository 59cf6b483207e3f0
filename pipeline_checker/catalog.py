"""Built-in and extension tasks: their inputs (names, aliases, types, options) and output variables.

Sources, later ones adding to earlier ones:
1. the vendored official schema (`pipeline_checker/data/service-schema.json`): each task's inputs with
   their `aliases`, `type` (boolean, integer) and `enum` options, and its always-required inputs;
2. `data/tasks.json`, generated from microsoft/azure-pipelines-tasks (`generate_task_data.py`):
   each task's `outputVariables`, and the inputs of tasks the schema names without defining them;
3. `data/extensions.json`: built-in tasks the schema lists without their inputs;
4. `--extensions FILE`: tasks a project allows that none of these knows, such as marketplace
   tasks, each with its inputs (JSON-schema properties), `required` and optionally `outputs`.

Azure DevOps resolves task names, input names and input values case-insensitively (the schema's
`ignoreCase`), and accepts an input under any of its aliases. Azure DevOps does not check task
inputs when it compiles a pipeline: an input the task does not have is ignored (dotnet/SqlClient's
pipeline passes DotNetCoreCLI@2 a `verbosity` it does not have), a value outside the input's type
or options reaches the task, and `required` is enforced by the task itself, if at all (Microsoft's
own samples leave out inputs the definitions mark required). So every input finding is a warning.
A task found in none of the sources is a marketplace task the checker cannot check: a warning too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA = DATA_DIR / "tasks.json"
BUILT_IN_EXTENSIONS = DATA_DIR / "extensions.json"  # built-in tasks the schema lacks


@cache
def raw_schema() -> dict:
    """The vendored official schema, parsed once."""
    return json.loads((DATA_DIR / "service-schema.json").read_text())


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
        """`extensions`: a project's own tasks (`--extensions`), on top of the built-in ones."""
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
        built_in = json.loads(BUILT_IN_EXTENSIONS.read_text())
        for source in (built_in, extensions or {}):
            for name, entry in (source.get("tasks") or {}).items():
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
    return Catalog()


