"""Findings: what the checker reports, with a severity, a rule and the place (file and line).

- `error`: the pipeline is provably wrong: Azure DevOps would refuse to compile it, or a job would
  read an empty output variable.
- `warning`: something the checker could not decide offline ("not checked: ..." with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING = "error", "warning"

RULES = {
    "yaml": "The file is not valid YAML, or a key is written twice.",
    "template": "A template reference or template parameter is wrong: not found, not declared, missing, of the "
                "wrong type.",
    "expression": "A template expression (${{ }}) cannot be evaluated: wrong syntax, wrong arguments, a failed "
                  "conversion.",
    "schema": "The expanded pipeline does not match the official Azure Pipelines schema.",
    "task": "A task reference or one of its inputs does not match the task's definition.",
    "dependency": "A dependsOn names a job or stage that does not exist, or a name is used twice.",
    "output-reference": "A dependencies/stageDependencies output reference does not point at a variable that is set.",
    "not-checked": "Something the checker cannot decide offline; the reason is in the message.",
}


@dataclass(frozen=True)
class Finding:
    """One problem: `file:line: severity: message`, with a rule id from RULES."""

    file: str
    line: int
    message: str
    severity: str = ERROR
    rule: str = "schema"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Findings:
    """An ordered, de-duplicated collection of findings."""

    items: list[Finding] = field(default_factory=list)
    _seen: set = field(default_factory=set)

    def add(self, finding: Finding) -> None:
        key = (finding.file, finding.line, finding.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(finding)

    def error(self, at: Any, message: str, rule: str) -> None:
        from tools.pipelines.source import where

        self.add(Finding(*where(at), message, ERROR, rule))

    def warning(self, at: Any, message: str, rule: str = "not-checked") -> None:
        from tools.pipelines.source import where

        self.add(Finding(*where(at), message, WARNING, rule))

    def extend(self, findings) -> None:
        for finding in findings:
            self.add(finding)


class CheckError(Exception):
    """A construct that stops the check of one file (unreadable YAML): carries its finding."""

    def __init__(self, at: Any, message: str, rule: str = "yaml"):
        from tools.pipelines.source import where

        file, line = where(at)
        self.finding = Finding(file, line, message, ERROR, rule)
        super().__init__(str(self.finding))
