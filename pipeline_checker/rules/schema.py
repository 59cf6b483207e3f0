"""Validation against the official Azure Pipelines schema, vendored in pipelines/schema/.

The schema is compiled once per process. It is read as Azure DevOps reads YAML:
- a value the schema types as a string may be any scalar (`1` is "1"); a boolean may be `true`
  or the string "true"; an integer may be `10` or "10"; a value with `$( )`, `$[ ]` or an unknown
  part (`<?>`) cannot be decided offline and passes;
- `pattern` and `enum` compare case-insensitively (the schema says `ignoreCase` for most keywords;
  Azure DevOps reads the others, such as a repository's `type: GitHub`, in any case too), and an
  `enum` beside a `$ref` is enforced (checkout `clean: true|false`, workspace `clean`);
- tasks (`task:` steps) are checked by `tasks.py` against each task's own definition, so the
  step schema here only checks the properties every task step has.

Every error is reported, each at the line of the key or value it concerns, with a plain message.
Where the schema offers alternatives (`anyOf`: a job or a deployment; runOnce, rolling or canary),
the alternative the YAML evidently means (the one whose keys it uses) is the one whose errors are
reported, so a boolean two levels down is reported as such.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from decimal import Decimal
from functools import cache
from typing import Any

from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import ValidationError

from pipeline_checker.catalog import raw_schema
from pipeline_checker.findings import Finding
from pipeline_checker.located import LDict, LList, key_line, where
from pipeline_checker.rules import ERROR, WARNING, Rule

SCHEMA = Rule("schema", "The expanded pipeline does not match the official Azure Pipelines schema (Microsoft's, "
                        "vendored): an unknown key, a value of the wrong type, a required key missing.",
              help_uri="https://learn.microsoft.com/azure/devops/pipelines/yaml-schema/")

RUNTIME = ("$(", "$[", "${{", "<?>")
TEMPLATE_DEFINITIONS = {"stages": "stagesTemplate", "jobs": "jobsTemplate", "steps": "stepsTemplate",
                        "variables": "variablesTemplate", "extends": "extendsTemplate"}


def _undecidable(value: Any) -> bool:
    return isinstance(value, str) and any(marker in value for marker in RUNTIME)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (str, int, float, Decimal)):
        return str(value)
    return None


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and (bool(re.fullmatch(r"\s*[-+]?\d+\s*", value)) or _undecidable(value))


TYPES = Draft7Validator.TYPE_CHECKER.redefine_many({
    "string": lambda _, v: v is None or isinstance(v, (str, bool, int, float, Decimal)),
    "boolean": lambda _, v: isinstance(v, bool) or (isinstance(v, str) and (v.lower() in ("true", "false")
                                                                           or _undecidable(v))),
    "integer": lambda _, v: _is_integer(v),
    "number": lambda _, v: _is_integer(v) or isinstance(v, (float, Decimal)),
    "object": lambda _, v: isinstance(v, dict),
    "array": lambda _, v: isinstance(v, list),
})


def _pattern(validator, pattern, instance, schema):
    text = _scalar_text(instance)
    if text is None or _undecidable(instance):
        return
    if not re.search(pattern, text, re.IGNORECASE):  # Azure DevOps reads keywords in any case
        yield ValidationError(f"{text!r} does not match {pattern!r}")


def _enum(validator, enums, instance, schema):
    text = _scalar_text(instance)
    if _undecidable(instance) or (text is None and instance in enums):
        return
    options = {(_scalar_text(e) or "").casefold() for e in enums}
    if text is None or text.casefold() not in options:
        yield ValidationError(f"{text!r} is not one of {enums!r}")


Validator = validators.extend(Draft7Validator, {"pattern": _pattern, "enum": _enum}, type_checker=TYPES)


def _generic_task(definitions: dict) -> dict:
    """The step schema for `task:` steps: the properties every task step has; inputs go to tasks.py."""
    task = definitions["task"]
    properties = {k: v for k, v in task["properties"].items() if k != "task"}
    properties["task"] = {"type": "string", "description": task["properties"]["task"].get("description", "")}
    properties["inputs"] = {"type": "object"}
    properties.setdefault("target", definitions["taskBase"]["properties"]["target"])  # steps.task `target`
    return {"type": "object", "properties": properties, "additionalProperties": False, "required": ["task"]}


def _siblings_of_ref(node: Any) -> Any:
    """A copy where an `enum` beside a `$ref` is enforced too (Draft 7 ignores keywords beside `$ref`;
    the schema uses them for checkout `clean`, repository `type` and workspace `clean`)."""
    if isinstance(node, list):
        return [_siblings_of_ref(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _siblings_of_ref(value) for key, value in node.items()}
    if "$ref" in node and "enum" in node:
        rest = {k: v for k, v in node.items() if k not in ("$ref", "enum")}
        return {**rest, "allOf": [{"$ref": node["$ref"]}, {"enum": node["enum"]}]}
    return node


@cache
def compiled_schema() -> dict:
    schema = dict(raw_schema())
    definitions = {name: _siblings_of_ref(value) for name, value in schema["definitions"].items() if name != "task"}
    definitions["task"] = _generic_task(schema["definitions"])
    schema["definitions"] = definitions
    return schema


@cache
def validator(definition: str | None = None) -> Validator:
    """The validator for the whole pipeline, or for one schema definition (e.g. stepsTemplate)."""
    schema = compiled_schema()
    if definition is not None:
        schema = {**{k: v for k, v in schema.items() if k != "oneOf"}, "$ref": f"#/definitions/{definition}"}
    return Validator(schema)


# -- error selection -----------------------------------------------------------------------------------
def _resolve(schema: dict) -> dict:
    definitions = compiled_schema()["definitions"]
    while isinstance(schema, dict) and "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branch_score(instance: Any, branch: dict, errors: list[ValidationError]) -> float:
    branch = _resolve(branch)
    score = -len(errors) * 0.01
    if any(e.validator == "type" and not e.relative_path for e in errors):
        score -= 1000
    if isinstance(instance, dict):
        properties = branch.get("properties") or {}
        first = (branch.get("firstProperty") or [None])[0]
        score += 100 if first in instance else 0
        score += 50 if branch.get("required") and all(r in instance for r in branch["required"]) else 0
        score += 10 * len(set(map(str, instance)) & set(properties))
    return score


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors that say what is wrong: inside an anyOf, those of the alternative the YAML means."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[int, list[ValidationError]] = defaultdict(list)
    for sub in error.context:
        branches[sub.relative_schema_path[0]].append(sub)
    options = error.schema[error.validator]
    if all(not sub.relative_path and sub.validator in ("type", "pattern", "enum") for sub in error.context):
        return [error]  # the value itself fits no alternative: one message listing them
    best = max(branches, key=lambda i: _branch_score(error.instance, options[i], branches[i]))
    return [leaf for sub in branches[best] for leaf in _leaves(sub)]


def _scalar_choice(schema: dict) -> list[str] | None:
    if "pattern" in schema and re.fullmatch(r"\^[\w.\-]+\$", schema["pattern"]):
        return [schema["pattern"][1:-1]]
    if "enum" in schema:
        return [str(e) for e in schema["enum"]]
    return None


# -- messages --------------------------------------------------------------------------------------------
def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the top level"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(_scalar_text(value))


TYPE_WORDS = {"string": "a string", "boolean": "true or false", "integer": "a whole number", "number": "a number",
              "object": "a mapping", "array": "a list"}


def _message(error: ValidationError) -> tuple[str, Any]:
    """(plain message, key to point at or None) for one leaf error."""
    where_text = _path(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties") or {})
        extra = [k for k in instance if str(k) not in allowed and not any(
            re.search(p, str(k)) for p in (error.schema.get("patternProperties") or {}))]
        key = extra[0] if extra else None
        close = difflib.get_close_matches(str(key), allowed, n=1) if key is not None else []
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        listed = f"; allowed here: {', '.join(allowed)}" if len(allowed) <= 25 else ""
        return f"`{key}` is not allowed in {where_text}{hint}{listed}", key
    if error.validator == "required":
        missing = [r for r in error.validator_value if r not in instance]
        return f"{where_text} is missing `{', '.join(missing)}`", None
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(TYPE_WORDS.get(t, t) for t in wanted)
        return f"{where_text} must be {words}, not {_describe(instance)}", None
    if error.validator in ("anyOf", "oneOf"):
        options = [_resolve(o) for o in error.schema[error.validator]]
        choices = [c for o in options for c in (_scalar_choice(o) or [])]
        if choices and all(_scalar_choice(o) for o in options):
            return f"{where_text} must be one of {', '.join(choices)}; got {_describe(instance)}", None
        kinds = []
        for option in options:
            word = "one of " + ", ".join(_scalar_choice(option)) if _scalar_choice(option) else \
                TYPE_WORDS.get(option.get("type"), "something else")
            kinds += [word] if word not in kinds else []
        return f"{where_text} must be {' or '.join(kinds)}, not {_describe(instance)}", None
    if error.validator in ("enum", "pattern"):
        choices = _scalar_choice(error.schema) or []
        expected = f"one of {', '.join(choices)}" if choices else f"text matching {error.validator_value}"
        return f"{where_text} must be {expected}; got {_describe(instance)}", None
    return f"{where_text}: {error.message[:200]}", None


def _location(document: Any, error: ValidationError, key: Any) -> tuple[str, int]:
    node, parent, found = document, None, where(document)
    for part in error.absolute_path:
        try:
            parent, node = node, node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(parent, LDict) and not isinstance(node, (LDict, LList)):
            found = key_line(parent, part)
        elif where(node)[1]:
            found = where(node)
    if key is not None and isinstance(node, LDict):
        found = key_line(node, key)
    return found


def _empty_collection(error: ValidationError) -> bool:
    """An empty `key:` (null) where a mapping or a list goes: nothing is given, which Azure DevOps takes."""
    if error.instance is not None:
        return False
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return set(wanted) <= {"object", "array"}
    if error.validator in ("anyOf", "oneOf"):
        return all(_resolve(o).get("type") in ("object", "array") for o in error.schema[error.validator])
    return False


def _inside_unknown(document: Any, error: ValidationError) -> bool:
    node = document
    for part in error.absolute_path:
        if _undecidable(node) and isinstance(node, str):
            return True
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return _undecidable(node)


def _lenient(error: ValidationError) -> str | None:
    """Why Azure DevOps accepts what the schema rejects, for the schema rules it does not enforce."""
    if error.validator == "pattern" and error.validator_value == raw_schema()["definitions"]["branchFilter"]["pattern"]:
        return ("the schema's pattern for branch and path filters is stricter than Azure DevOps, which accepts, "
                "for example, a trailing / (microsoft/azure-pipelines-vscode#372)")
    if error.validator == "pattern" and error.validator_value == raw_schema()["definitions"]["referenceName"]["pattern"] \
            and list(error.absolute_path)[:1] == ["resources"]:
        return ("the schema's pattern for names is stricter than Azure DevOps for resource aliases, which real "
                "pipelines write with a dot (Azure/azure-sdk-tools' `azure-sdk-docs-eng.ms`)")
    return None


def _string_keys(value: Any) -> Any:
    """`value` with every mapping key a string, as Azure DevOps reads keys (`1:` is "1")."""
    if isinstance(value, dict):
        result = LDict({(k if isinstance(k, str) else _scalar_text(k)): _string_keys(v) for k, v in value.items()})
        result.file, result.line = where(value)
        result.key_lines = {(k if isinstance(k, str) else _scalar_text(k)): n
                            for k, n in (getattr(value, "key_lines", None) or {}).items()}
        return result
    if isinstance(value, list):
        result = LList(_string_keys(v) for v in value)
        result.file, result.line = where(value)
        return result
    return value


def validate(document: Any, definition: str | None = None) -> list[Finding]:
    """Every schema error in `document` (a pipeline, or `definition` of the schema), as findings."""
    findings, seen = [], set()
    document = _string_keys(document)
    for error in validator(definition).iter_errors(document):
        for leaf in _leaves(error):
            if _inside_unknown(document, leaf) or _empty_collection(leaf):
                continue
            message, key = _message(leaf)
            file, line = _location(document, leaf, key)
            lenient = _lenient(leaf)
            if lenient:
                finding = Finding(file, line, f"not checked: {message}: {lenient}", WARNING, SCHEMA.id)
            else:
                finding = Finding(file, line, f"schema: {message}", ERROR, SCHEMA.id)
            if (file, line, finding.message) not in seen:
                seen.add((file, line, finding.message))
                findings.append(finding)
    return findings


def _literal(value: Any) -> Any:
    """`value` without its `${{ }}` directives and expressions, which the expansion reads instead."""
    if isinstance(value, dict):
        result = LDict({k: _literal(v) for k, v in value.items() if not (isinstance(k, str) and "${{" in k)})
        result.file, result.line = where(value)
        result.key_lines = getattr(value, "key_lines", {})
        return result
    if isinstance(value, list):
        return LList(_literal(v) for v in value
                     if not (isinstance(v, dict) and len(v) == 1 and "${{" in str(next(iter(v)))))
    return value


def validate_template_file(kind: str, doc: Any) -> list[Finding]:
    """Errors in a template file's top level: its keys and its `parameters:` declarations."""
    definition = TEMPLATE_DEFINITIONS.get(kind)
    if definition is None or not isinstance(doc, dict):
        return []
    shell = _literal(doc)
    for key in ("stages", "jobs", "steps", "variables"):
        if key in shell:
            shell[key] = []  # the expanded body is validated with the pipeline
    if kind == "extends" and "extends" in shell and isinstance(shell["extends"], dict):
        shell["extends"] = LDict({k: v for k, v in shell["extends"].items() if k == "template"})
    return validate(shell, definition)
