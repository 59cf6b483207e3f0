"""Inline suppression: `# pipeline-checker: disable=RULE[,RULE...]` in a YAML or script file.

A comment at the end of a line suppresses the listed rules' findings on that line; a comment on a
line of its own suppresses them on the line after it too (where the finding it is about sits).
`disable=all` suppresses every rule. An id that names no rule is itself reported (rule
`suppression`), so a typo never silences nothing quietly. The same comment works in the shell,
PowerShell and Python scripts the checker reads (all use `#`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_checker.findings import Finding
from pipeline_checker.rules import WARNING, Rule

SUPPRESSION = Rule("suppression", "A `# pipeline-checker: disable=...` comment names a rule that does not exist.",
                   WARNING, "https://learn.microsoft.com/azure/devops/pipelines/yaml-schema/")
COMMENT = re.compile(r"#\s*pipeline-checker:\s*disable=([\w\-]+(?:\s*,\s*[\w\-]+)*)")


@dataclass
class Suppressions:
    """The suppression comments of the files a check read, by the files' display names."""

    paths: dict[str, Path]  # display name -> file
    known: set[str]  # rule ids
    _lines: dict[str, dict[int, set[str]]] = field(default_factory=dict)
    problems: list[Finding] = field(default_factory=list)

    def _of(self, file: str) -> dict[int, set[str]]:
        if file not in self._lines:
            self._lines[file] = {}
            path = self.paths.get(file)
            try:
                text = path.read_text(encoding="utf-8-sig") if path else ""
            except (OSError, UnicodeDecodeError):
                text = ""
            for number, line in enumerate(text.splitlines(), start=1):
                match = COMMENT.search(line)
                if not match:
                    continue
                ids = {part.strip() for part in match.group(1).split(",")}
                for unknown in sorted(ids - self.known - {"all"}):
                    self.problems.append(Finding(file, number, f"`# pipeline-checker: disable={unknown}` names no "
                                                               "rule (see --list-rules)", WARNING, SUPPRESSION.id))
                lines = [number] + ([number + 1] if line.lstrip().startswith("#") else [])
                for target in lines:
                    self._lines[file].setdefault(target, set()).update(ids)
        return self._lines[file]

    def suppressed(self, finding: Finding) -> bool:
        ids = self._of(finding.file).get(finding.line, set())
        return finding.rule in ids or "all" in ids
