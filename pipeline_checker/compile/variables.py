"""Compile-time variables from a `variables:` section (Microsoft's "Define variables" doc).

A section is a mapping `{name: value}` or a list of `{name, value, readonly}`, `{group}` and
`{template, parameters}` items (templates are already expanded into their items here). Variables
are strings; a group's variables are unknown offline, so a name the YAML does not define stays
unknown (`expressions.Variables`).
"""

from __future__ import annotations

from typing import Any

from pipeline_checker.compile.expressions import Variables


def as_text(value: Any) -> Any:
    """A variable's value as Azure DevOps holds it: a string (YAML true stays 'true')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return value
    return value if isinstance(value, str) else str(value)


def read(section: Any, outer: Variables) -> Variables:
    """`outer` plus what `section` (already expanded) defines."""
    values: dict = {}
    groups: list[str] = []
    if isinstance(section, dict):
        values = {str(k): as_text(v) for k, v in section.items() if not str(k).startswith("${{")}
    elif isinstance(section, list):
        for item in section:
            if not isinstance(item, dict):
                continue
            if "name" in item:
                values[str(item["name"])] = as_text(item.get("value"))
            elif "group" in item:
                groups.append(str(item["group"]))
    return outer.with_values(values, tuple(groups)) if values or groups else outer
