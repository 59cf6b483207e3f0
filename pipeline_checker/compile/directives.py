"""The `${{ if }}` / `${{ elseif }}` / `${{ else }}` chain, and how a branch joins its mapping.

From Microsoft's Template expressions doc ("Conditional insertion"): the first branch whose
condition is true is inserted. When a condition cannot be decided offline (it is `Unknown`),
every branch that may be taken is inserted, each marked as an alternative, so the later checks see
every pipeline Azure DevOps may compile: a list item gets `LDict.alternative`, a mapping key set by
two branches keeps the other values in `LDict.alternatives`.
"""

from __future__ import annotations

from typing import Any

from pipeline_checker.compile.values import Unknown, to_bool
from pipeline_checker.located import LDict, located, where


class Chain:
    """The state of an `${{ if }}` / `${{ elseif }}` / `${{ else }}` chain."""

    def __init__(self):
        self.state: str | None = None  # None, "open" (all false so far), "maybe" (one unknown), "taken"

    def reset(self) -> None:
        self.state = None

    def step(self, word: str, condition: Any) -> tuple[bool, bool]:
        """(include the branch, as an alternative) for `word` whose condition evaluated to `condition`."""
        if word == "if":
            self.state = "open"
        if self.state == "taken":
            self.state = None if word == "else" else "taken"
            return False, False
        if word == "else":
            alternative, self.state = self.state == "maybe", None
            return True, alternative
        outcome = decided(condition)
        if outcome is None:
            self.state = "maybe"
            return True, True
        if outcome:
            alternative, self.state = self.state == "maybe", "taken"
            return True, alternative
        return False, False


def decided(value: Any) -> bool | None:
    """A condition's truth (Azure DevOps' boolean conversion), or None when it cannot be decided offline."""
    if not isinstance(value, Unknown):
        return to_bool(value)
    if value.candidates:
        outcomes = {to_bool(c) for c in value.candidates}
        if len(outcomes) == 1:
            return outcomes.pop()
    return None


def merge(result: LDict, part: dict, alternative: bool) -> None:
    """Insert the mapping `part` a branch produced into `result`; an alternative does not replace a key
    another branch set, it joins `result.alternatives`."""
    for key, value in part.items():
        if key in result and (alternative or key in result.conditional):
            result.alternatives = result.alternatives or {}
            result.alternatives.setdefault(key, []).append(value)
            continue
        result[key] = value
        result.key_lines[key] = (getattr(part, "key_lines", None) or {}).get(key, getattr(part, "line", 0))
        if alternative:
            result.conditional = result.conditional | {key}


def new_mapping(value: Any) -> LDict:
    """An empty mapping located where `value` is."""
    result = located({}, *where(value))
    result.key_lines = {}
    return result
