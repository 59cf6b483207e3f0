"""Values that remember where they were written (file and line): what every check reports at.

Mappings load as `LDict` (with the line of each key in `key_lines`), lists as `LList`, strings as
`LStr`, integers as `LInt` and other numbers as `LFloat` (both keep the text as written, so `3.10`
stays "3.10" where a string is wanted); `UnknownText` is a string with a part known only when
Azure DevOps compiles or runs the pipeline.
"""

from __future__ import annotations

from typing import Any


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
