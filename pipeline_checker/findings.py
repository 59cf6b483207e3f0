"""Findings: what the checker reports, each with a severity, the id of the rule that found it and
the place (file and line).

- `error`: the pipeline is provably wrong: Azure DevOps would refuse to compile it, or a job would
  read an empty output variable, or a condition does not test what it says.
- `warning`: something the checker could not decide offline ("not checked: ..." with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_checker.located import where
from pipeline_checker.rules import ERROR, WARNING, Rule

NOT_CHECKED = Rule("not-checked", "Something the checker cannot decide offline, outside any other rule (a value "
                                  "known only when Azure DevOps compiles, a pipeline the checker failed on); the "
                                  "reason is in the message.", WARNING)


@dataclass(frozen=True)
class Finding:
    """One problem: `file:line: severity: message` (`shown` adds ` [rule]`, as the text report
    prints it)."""

    file: str
    line: int
    message: str
    severity: str = ERROR
    rule: str = "schema"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"

    @property
    def shown(self) -> str:
        return f"{self} [{self.rule}]"


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

    def error(self, at: Any, message: str, rule: Rule) -> None:
        self.add(Finding(*where(at), message, ERROR, rule.id))

    def warning(self, at: Any, message: str, rule: Rule = NOT_CHECKED) -> None:
        self.add(Finding(*where(at), message, WARNING, rule.id))

    def report(self, at: Any, severity: str, message: str, rule: Rule) -> None:
        (self.error if severity == ERROR else self.warning)(at, message, rule)

    def extend(self, findings) -> None:
        for finding in findings:
            self.add(finding)


class CheckError(Exception):
    """A construct that stops the check of one file (unreadable YAML): carries its finding."""

    def __init__(self, at: Any, message: str, rule: Rule):
        file, line = where(at)
        self.finding = Finding(file, line, message, ERROR, rule.id)
        super().__init__(str(self.finding))
