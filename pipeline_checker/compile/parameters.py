"""Template and runtime parameters: declarations, binding of passed values, types.

From Microsoft's "Template parameters" and "Runtime parameters" docs (data types table:
learn.microsoft.com/azure/devops/pipelines/process/template-parameters):
- `string`: a scalar; `number`: any number-like string; `boolean`: true or false;
  `object`: anything; `step`, `job`, `deployment`, `stage`, `container`: one mapping; `stepList`,
  `jobList`, `deploymentList`, `stageList`, `stringList`, `containerList`: a sequence; the other
  types the schema names (environment, filePath, pool, secureFile, serviceConnection,
  legacyObject) are not checked. `values:` restricts the allowed values.
- The legacy form `parameters: {name: default}` declares untyped parameters: scalars are strings
  ("Scalar parameters without a specified type are treated as strings": `false` is 'false'),
  mappings and sequences pass as given, and a caller may pass parameters it does not declare; so
  may it to a template that declares none (Arcade's templates forward theirs with
  `${{ each parameter in parameters }}`).
- With the typed list form, passing a parameter the template does not declare ("Unexpected
  parameter"), leaving out one without a default, or a value of the wrong type or outside
  `values:` fails the pipeline's compilation: errors here.
- A runtime parameter without a default is unknown offline: one of its `values:` (or true/false
  for a boolean), or anything.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline_checker.compile.expressions import UNKNOWN_MARK
from pipeline_checker.compile.templates import TEMPLATE
from pipeline_checker.compile.values import Unknown, try_number, try_string
from pipeline_checker.findings import Findings
from pipeline_checker.located import LDict, UnknownText, key_line, located, where

MAPPING_TYPES = ("step", "job", "deployment", "stage", "container")
LIST_TYPES = ("stepList", "jobList", "deploymentList", "stageList", "stringList", "containerList")
RUNTIME = ("$(", "$[")


@dataclass(frozen=True)
class Declaration:
    name: str
    type: str | None  # None: legacy, untyped
    default: Any
    has_default: bool
    values: Any
    at: Any


def declarations(declared: Any, at: Any, findings: Findings) -> list[Declaration]:
    """The parameters a file declares: the list form, or the legacy mapping form (untyped)."""
    if declared is None:
        return []
    if isinstance(declared, dict):
        return [Declaration(str(name), None, value, True, None, located("", *key_line(declared, name)))
                for name, value in declared.items()]
    if not isinstance(declared, list):
        findings.error(declared if where(declared)[1] else at, "`parameters:` must be a list of {name, type, default}",
                       TEMPLATE)
        return []
    result = []
    for item in declared:
        if not isinstance(item, dict) or "name" not in item:
            findings.error(item if where(item)[1] else declared, "each parameter needs a `name:`", TEMPLATE)
            continue
        kind = str(item.get("type", "string"))  # the schema check reports a type that does not exist
        result.append(Declaration(str(item["name"]), kind, item.get("default"), "default" in item,
                                  item.get("values"), item))
    return result


def _fits(kind: str, value: Any) -> Any:
    """(value converted to `kind`) or raise ValueError with the reason."""
    if kind == "string":
        if isinstance(value, (dict, list)):
            raise ValueError(f"a {'mapping' if isinstance(value, dict) else 'list'}")
        if isinstance(value, bool):
            return located("true" if value else "false", *where(value))
        return value if isinstance(value, str) else located("" if value is None else str(value), *where(value))
    if kind == "number":
        number = try_number(value) if isinstance(value, str) or not isinstance(value, bool) else None
        if number is None or isinstance(value, (dict, list)) or value is None:
            raise ValueError(repr(value) if not isinstance(value, (dict, list)) else "not a number")
        return int(number) if number == number.to_integral_value() else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(repr(value) if not isinstance(value, (dict, list)) else "not true or false")
    if kind in MAPPING_TYPES and not isinstance(value, dict):
        raise ValueError(f"{type(value).__name__}, not a mapping")
    if kind in LIST_TYPES and not isinstance(value, list) and value is not None:
        raise ValueError(f"{type(value).__name__}, not a list")
    return value


def typed(declaration: Declaration, value: Any, shown: str, at: Any, findings: Findings) -> Any:
    """`value` as the declared type; an error finding (and the value unchanged) when it does not fit."""
    if declaration.type is None:
        return legacy_scalar(value)
    if isinstance(value, Unknown):
        return value
    if isinstance(value, UnknownText):
        return value.unknown if str(value) == UNKNOWN_MARK and value.unknown else Unknown(value.reason)
    if isinstance(value, str) and any(marker in value for marker in RUNTIME) and declaration.type != "string":
        findings.warning(at, f"not checked: parameter {declaration.name!r} of {shown} is a {declaration.type} but gets "
                             f"the runtime value {value!r}, which Azure DevOps expands only after the type check")
        return Unknown(f"{value} is known only at run time")
    try:
        converted = _fits(declaration.type, value)
    except ValueError as reason:
        findings.error(at, f"parameter {declaration.name!r} of {shown} is a {declaration.type}, got {reason}",
                       TEMPLATE)
        return value
    allowed = declaration.values
    if isinstance(allowed, list) and allowed and not isinstance(converted, (dict, list)):
        text = (try_string(converted) or "").casefold()
        if text not in {(try_string(v) or "").casefold() for v in allowed}:
            findings.error(at, f"parameter {declaration.name!r} of {shown} must be one of "
                               f"{', '.join(map(str, allowed))}, got {converted!r}", TEMPLATE)
    return converted


def bind(declared: list[Declaration], passed: Any, shown: str, at: Any, findings: Findings) -> dict:
    """{name: value} for a template call: passed values checked against the declarations, defaults
    for the rest. Unknown or missing parameters are error findings."""
    passed = passed if isinstance(passed, dict) else {}
    by_name = {d.name.casefold(): d for d in declared}
    legacy = all(d.type is None for d in declared)  # no declarations, or the untyped mapping form
    for name in passed:
        if str(name).casefold() not in by_name and not legacy:
            close = difflib.get_close_matches(str(name), [d.name for d in declared], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            findings.error(located("", *key_line(passed, name)), f"template parameter {name!r} does not exist in "
                           f"{shown}{hint} (it declares: {', '.join(d.name for d in declared) or 'nothing'})",
                           TEMPLATE)
    values = {str(k).casefold(): (k, v) for k, v in passed.items()}
    bound = LDict()
    for declaration in declared:
        if declaration.name.casefold() in values:
            key, value = values[declaration.name.casefold()]
            place = located("", *key_line(passed, key))
        elif declaration.has_default:
            value, place = declaration.default, declaration.at
        else:
            findings.error(at, f"template {shown} requires parameter {declaration.name!r}, which is not passed",
                           TEMPLATE)
            value, place = Unknown(f"parameter {declaration.name} is missing"), at
        bound[declaration.name] = typed(declaration, value, shown, place, findings)
    if legacy:  # the legacy form takes parameters it does not declare, too
        for name, value in passed.items():
            if str(name).casefold() not in by_name:
                bound[str(name)] = legacy_scalar(value)
    return bound


def legacy_scalar(value: Any) -> Any:
    """An untyped (legacy) parameter's value: a scalar is a string ("Scalar parameters without a
    specified type are treated as strings", the Template parameters doc), so `false` passed to
    `${{ if eq(parameters.x, '') }}` compares 'false' with '' (Arcade's is1ESPipeline guard;
    ChristopherHX/runner.server, an independent implementation, converts them the same way);
    mappings and sequences pass as they are."""
    if isinstance(value, bool):
        return located("true" if value else "false", *where(value))
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return located(str(value), *where(value))
    return value


def runtime_values(declared: list[Declaration], shown: str, findings: Findings) -> dict:
    """{name: value} for a pipeline's own (runtime) parameters: the default, else unknown."""
    values = LDict()
    for declaration in declared:
        if declaration.has_default:
            values[declaration.name] = typed(declaration, declaration.default, shown, declaration.at, findings)
            continue
        candidates = None
        if isinstance(declaration.values, list) and declaration.values:
            candidates = tuple(typed(declaration, v, shown, declaration.at, Findings()) for v in declaration.values)
            candidates = candidates if all(isinstance(c, (str, int, float, Decimal, bool)) for c in candidates) \
                else None
        elif declaration.type == "boolean":
            candidates = (True, False)
        values[declaration.name] = Unknown(f"runtime parameter {declaration.name} has no default: it is chosen "
                                           "when the run is queued", candidates)
    return values
