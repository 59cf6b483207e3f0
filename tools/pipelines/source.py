"""YAML loading that remembers where every mapping, list and string came from (file and line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class LDict(dict):
    file: str = "?"
    line: int = 0


class LList(list):
    file: str = "?"
    line: int = 0


class LStr(str):
    file: str = "?"
    line: int = 0


def located(value: Any, file: str, line: int) -> Any:
    """`value` carrying a location; strings become LStr, other scalars are returned as they are."""
    if isinstance(value, str) and not isinstance(value, LStr):
        value = LStr(value)
    elif isinstance(value, dict) and not isinstance(value, LDict):
        value = LDict(value)
    elif isinstance(value, list) and not isinstance(value, LList):
        value = LList(value)
    if isinstance(value, (LStr, LDict, LList)):
        value.file, value.line = file, line
    return value


def where(value: Any, fallback: Any = None) -> tuple[str, int]:
    for candidate in (value, fallback):
        if isinstance(candidate, (LStr, LDict, LList)):
            return candidate.file, candidate.line
    return "?", 0


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CheckError(Exception):
    """A construct the checker cannot read, or a broken template call: stops the check."""

    def __init__(self, at: Any, message: str):
        file, line = where(at)
        self.finding = Finding(file, line, message)
        super().__init__(str(self.finding))


def load(path: Path, display: str) -> Any:
    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: Loader, node: yaml.MappingNode) -> LDict:
        loader.flatten_mapping(node)
        result = LDict()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            result[key] = loader.construct_object(value_node, deep=True)
        result.file, result.line = display, node.start_mark.line + 1
        return result

    def sequence(loader: Loader, node: yaml.SequenceNode) -> LList:
        result = LList(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = display, node.start_mark.line + 1
        return result

    def string(loader: Loader, node: yaml.ScalarNode) -> LStr:
        return located(loader.construct_scalar(node), display, node.start_mark.line + 1)

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
    Loader.add_constructor("tag:yaml.org,2002:str", string)
    try:
        return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except OSError as error:
        raise CheckError(None, f"cannot read {display}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise CheckError(located("", display, mark.line + 1 if mark else 0), f"not valid YAML: {error}") from None
