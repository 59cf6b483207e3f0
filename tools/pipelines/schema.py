"""Validation against the official Azure Pipelines schema, vendored in pipelines/schema/.

The expanded pipeline is validated as a pipeline; each template, as expanded where it is used,
against the schema's template definition for its kind (stagesTemplate, jobsTemplate,
stepsTemplate). Marketplace tasks are not in the schema: `extensions.json` beside it lists the
ones a project allows, each with its inputs, and `extended_schema` adds exactly those.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

from tools.pipelines.source import Finding, located, where

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "schema"
TEMPLATE_DEFINITIONS = {"stages": "stagesTemplate", "jobs": "jobsTemplate", "steps": "stepsTemplate"}


def extended_schema(schema: dict, extensions: dict) -> dict:
    """The schema plus each extension task: its name joins the task enum, its inputs are checked."""
    schema = copy.deepcopy(schema)
    task = schema["definitions"]["task"]
    for name, spec in (extensions.get("tasks") or {}).items():
        task["properties"]["task"]["anyOf"].append({"description": spec.get("description", name), "enum": [name]})
        task["anyOf"].append({
            "properties": {"task": {"pattern": f"^{re.escape(name)}$"},
                           "inputs": {"type": "object", "properties": spec.get("inputs", {}),
                                      "required": spec.get("required", []), "additionalProperties": False}},
            "required": ["task"],
        })
    return schema


@cache
def validators() -> tuple[Draft7Validator, dict[str, Draft7Validator]]:
    schema = json.loads((SCHEMA_DIR / "service-schema.json").read_text())
    extensions = json.loads((SCHEMA_DIR / "extensions.json").read_text())
    schema = extended_schema(schema, extensions)
    pipeline = Draft7Validator(schema)
    templates = {kind: Draft7Validator({**schema, "oneOf": [{"$ref": f"#/definitions/{definition}"}]})
                 for kind, definition in TEMPLATE_DEFINITIONS.items()}
    return pipeline, templates


def _located(document: Any, error: ValidationError) -> tuple[str, int]:
    node, found = document, where(document)
    for part in error.absolute_path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        file, line = where(node)
        if line:
            found = (file, line)
    return found


def _describe(error: ValidationError) -> str:
    """The most specific reason: jsonschema's best match, and for anyOf the closest branch."""
    def relevant(e: ValidationError) -> bool:
        """Not a branch for another task (its `task` pattern or `required: task` failed)."""
        wrong_task = e.validator in ("pattern", "enum") and list(e.absolute_path)[-1:] == ["task"]
        return not wrong_task and not (e.validator == "required" and "'task'" in e.message)

    deepest = error
    while deepest.context:
        candidates = [e for e in deepest.context if relevant(e)] or list(deepest.context)
        deepest = max(candidates, key=lambda e: (len(e.absolute_path), e.validator != "required"))
    path = "/".join(str(p) for p in error.absolute_path) or "(top)"
    detail = deepest.message if deepest is not error else error.message
    return f"schema: at {path}: {detail[:300]}"


def as_scalars(value: Any) -> Any:
    """The schema types every scalar as a string, as Azure DevOps reads YAML: `1` is "1"."""
    if isinstance(value, dict):
        return located({str(k): as_scalars(v) for k, v in value.items()}, *where(value))
    if isinstance(value, list):
        return located([as_scalars(v) for v in value], *where(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def validate(document: Any, validator: Draft7Validator) -> list[Finding]:
    document = as_scalars(document)
    errors = list(validator.iter_errors(document))
    if not errors:
        return []
    error = best_match(errors)
    file, line = _located(document, error)
    return [Finding(file, line, _describe(error))]


def validate_pipeline(document: Any) -> list[Finding]:
    pipeline, _ = validators()
    return validate(document, pipeline)


def validate_template(kind: str, declared: Any, body: Any) -> list[Finding]:
    _, templates = validators()
    document = {kind: body} if declared is None else {"parameters": declared, kind: body}
    return validate(document, templates[kind])
