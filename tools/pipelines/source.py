"""YAML loading that remembers where every value came from (file and line), read as Azure DevOps reads it.

Mappings load as `LDict` (with the line of each key in `key_lines`), lists as `LList`, strings as
`LStr`, integers as `LInt` and other numbers as `LFloat` (both keep the text as written, so `3.10`
stays "3.10" where a string is wanted). Plain scalars follow the YAML 1.2 core schema, as Azure
Pipelines does: only `true`/`false` are booleans, so `on:` (a deployment lifecycle hook) and `yes`
stay strings, where PyYAML's YAML 1.1 rules would turn them into booleans. A mapping key written
twice is an error (Azure DevOps: "'x' is already defined").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tools.pipelines.findings import CheckError


class LDict(dict):
    file: str = "?"
    line: int = 0
    key_lines: dict
    alternative: bool = False  # inserted by an `${{ if }}` the checker could not decide
    alternatives: dict | None = None  # key -> the values other undecided branches gave it
    conditional: frozenset = frozenset()  # keys an undecided branch set


class LList(list):
    file: str = "?"
    line: int = 0
    incomplete: str = ""  # why some items could not be read (then missing names are warnings)


class LStr(str):
    file: str = "?"
    line: int = 0


class UnknownText(LStr):
    """A string with a part that cannot be known offline (shown as <?>); `unknown` is the
    `values.Unknown` it stands for when the whole string is unknown."""

    unknown: Any = None
    reason: str = ""


def unknown_text(unknown: Any, text: str, at: Any) -> UnknownText:
    result = UnknownText(text)
    result.file, result.line = where(at)
    result.unknown, result.reason = unknown, getattr(unknown, "reason", str(unknown))
    return result


class LInt(int):
    file: str = "?"
    line: int = 0
    text: str = ""

    def __str__(self) -> str:
        return self.text or int.__repr__(self)


class LFloat(float):
    file: str = "?"
    line: int = 0
    text: str = ""

    def __str__(self) -> str:
        return self.text or float.__repr__(self)


LOCATED = (LDict, LList, LStr, LInt, LFloat)  # UnknownText is an LStr


def located(value: Any, file: str, line: int) -> Any:
    """`value` carrying a location; strings, dicts and lists become located copies, others stay as they are."""
    if isinstance(value, str) and not isinstance(value, LStr):
        value = LStr(value)
    elif isinstance(value, dict) and not isinstance(value, LDict):
        value = LDict(value)
    elif isinstance(value, list) and not isinstance(value, LList):
        value = LList(value)
    if isinstance(value, LOCATED):
        value.file, value.line = file, line
    return value


def where(value: Any, fallback: Any = None) -> tuple[str, int]:
    """(file, line) of the first of `value`, `fallback` that has a location, else ("?", 0)."""
    for candidate in (value, fallback):
        if isinstance(candidate, LOCATED) and candidate.line:
            return candidate.file, candidate.line
    for candidate in (value, fallback):
        if isinstance(candidate, LOCATED):
            return candidate.file, candidate.line
    return "?", 0


def key_line(mapping: Any, key: Any) -> tuple[str, int]:
    """(file, line) of `key` in `mapping`, falling back to the value's own location, then the mapping's."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if isinstance(value, LOCATED) and value.line and not isinstance(value, (LDict, LList)):
        return value.file, value.line
    lines = getattr(mapping, "key_lines", None) or {}
    if key in lines:
        return mapping.file, lines[key]
    return where(value, mapping)


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's when installed) with the YAML 1.2 core schema for plain scalars."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (("bool", _BOOL, "tTfF"), ("null", _NULL, ["~", "n", "N", ""]),
                               ("int", _INT, "-+0123456789"), ("float", _FLOAT, "-+.0123456789")):
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", _pattern, list(_first))


def _scalar(loader: _Loader, node: yaml.ScalarNode, display: str) -> Any:
    line = node.start_mark.line + 1
    text = loader.construct_scalar(node)
    if node.tag.endswith(":bool"):
        return text.lower() == "true"
    if node.tag.endswith(":null"):
        return None
    if node.tag.endswith(":int"):
        value = LInt(int(text, 0) if text[:2] in ("0o", "0x") else int(text))
    elif node.tag.endswith(":float"):
        value = LFloat(float(text.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")))
    else:
        return located(text, display, line)
    value.text, value.file, value.line = text, display, line
    return value


def load(path: Path, display: str) -> Any:
    """The YAML document at `path`, located as `display`. Raises CheckError when unreadable or not YAML."""

    class Loader(_Loader):
        pass

    def mapping(loader: Loader, node: yaml.MappingNode) -> LDict:
        loader.flatten_mapping(node)
        result = LDict()
        result.key_lines = {}
        result.file, result.line = display, node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                raise CheckError(result, f"a mapping key must be a scalar (line {key_node.start_mark.line + 1})")
            if key in result and not (isinstance(key, str) and key.lstrip().startswith("${{")):
                raise CheckError(located("", display, key_node.start_mark.line + 1), f"'{key}' is already defined")
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def sequence(loader: Loader, node: yaml.SequenceNode) -> LList:
        result = LList(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = display, node.start_mark.line + 1
        return result

    for tag in ("str", "bool", "null", "int", "float"):
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", lambda loader, node: _scalar(loader, node, display))
    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CheckError(None, f"cannot read {display}: {error.strerror}") from None
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise CheckError(located("", display, mark.line + 1 if mark else 0), f"not valid YAML: {problem}") from None
