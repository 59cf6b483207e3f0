"""YAML loading that remembers where every value came from (file and line), read as Azure DevOps reads it.

Values load located (`located.py`): mappings as `LDict`, lists as `LList`, strings as `LStr`,
integers as `LInt` and other numbers as `LFloat`. Plain scalars follow the YAML 1.2 core schema, as Azure
Pipelines does: only `true`/`false` are booleans, so `on:` (a deployment lifecycle hook) and `yes`
stay strings, where PyYAML's YAML 1.1 rules would turn them into booleans. A mapping key written
twice is an error (Azure DevOps: "'x' is already defined").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pipeline_checker.findings import CheckError
from pipeline_checker.located import LDict, LFloat, LInt, LList, located
from pipeline_checker.rules import Rule

YAML = Rule("yaml", "The file cannot be read, is not valid YAML, or writes a mapping key twice (Azure DevOps: \"'x' "
                    "is already defined\").", help_uri="https://learn.microsoft.com/azure/devops/pipelines/yaml-schema/")


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
                raise CheckError(result, f"a mapping key must be a scalar (line {key_node.start_mark.line + 1})", YAML)
            if key in result and not (isinstance(key, str) and key.lstrip().startswith("${{")):
                raise CheckError(located("", display, key_node.start_mark.line + 1), f"'{key}' is already defined", YAML)
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
        raise CheckError(None, f"cannot read {display}: {error.strerror}", YAML) from None
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise CheckError(located("", display, mark.line + 1 if mark else 0), f"not valid YAML: {problem}", YAML) from None
