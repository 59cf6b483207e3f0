"""Where a `template:` reference points, as Microsoft's Templates doc ("Reference template paths",
"Use other repositories") defines it:

- `path.yml`: relative to the file that holds the reference;
- `/path.yml`: relative to the root of the repository that holds that file;
- `path.yml@self`: in the repository that holds the pipeline, from its root (microsoft/terminal
  writes `./build/pipelines/templates-v2/x.yml@self` in build/pipelines/templates-v2/);
- `path.yml@alias`: in the repository the pipeline declares as `resources.repositories` with
  `repository: alias`, from that repository's root; the checker reads it from a local checkout
  given as `--repository alias=PATH`, otherwise it reports the template as not checked (a
  warning) and checks the rest.
A missing template is an error, except under an `${{ if }}` the checker cannot decide: the branch
may compile only where the file exists (a branch of the repository), so that is a warning.

The repository root is `--root`, else the enclosing git checkout. Without either, a `/path` is
looked for in each folder above the pipeline, nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_checker.findings import Findings
from pipeline_checker.rules import Rule

TEMPLATE = Rule("template", "A template reference or template parameter is wrong: the file is not found, a parameter "
                            "is not declared, missing, or of the wrong type or value.",
                help_uri="https://learn.microsoft.com/azure/devops/pipelines/process/templates")


def git_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds `.git` (a directory or a worktree's file)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


@dataclass
class Repositories:
    """The repository of the pipeline (`root`) and the local checkouts of others, by alias."""

    root: Path
    certain: bool = True  # False: no --root and no git checkout, so `/path` is searched upwards
    checkouts: dict[str, Path] = field(default_factory=dict)

    def root_of(self, file: Path) -> Path:
        """The root of the repository that holds `file`: a checkout's, else the pipeline's."""
        for checkout in self.checkouts.values():
            if file.is_relative_to(checkout):
                return checkout
        return self.root

    def candidates(self, path: str, including: Path, repository: str | None) -> list[Path]:
        """Files `path` may mean, most likely first; [] when its repository has no local checkout."""
        if repository and repository.lower() != "self":
            root = next((p for alias, p in self.checkouts.items() if alias.lower() == repository.lower()), None)
            if root is None:
                return []
        else:
            root = self.root if repository else self.root_of(including)
        if not path.startswith("/") and not repository:
            return [(including.parent / path).resolve()]
        # `/path`, and any `path@repository` (microsoft/terminal's `./build/...@self` in build/pipelines/),
        # start at the repository's root; a relative one is also tried beside the including file
        found = [(root / path.lstrip("/")).resolve()]
        if repository and not path.startswith("/"):
            found.append((including.parent / path).resolve())
        if not self.certain:
            found += [(folder / path.lstrip("/")).resolve() for folder in (including.parent, *including.parents)]
        return found

    def resolve(self, reference: str, including: Path, at: Any, findings: Findings, display,
                undecided: str = "") -> Path | None:
        """The file `reference` names, or None after a finding: an error when it is missing (a warning when
        it is included only under the undecided condition `undecided`: the file may exist where that
        holds), a warning when it lives in a repository without a local checkout."""
        path, _, repository = str(reference).strip().rpartition("@") if "@" in str(reference) else (reference, "", "")
        path = str(path).strip().replace("\\", "/")
        options = self.candidates(path, including, repository or None)
        if not options:
            findings.warning(at, f"not checked: template {reference} is in repository {repository!r}; give a local "
                                 f"checkout with --repository {repository}=PATH to check it")
            return None
        for option in options:
            if option.is_file():
                return option
        where = ("from the repository root" if path.startswith("/") or repository
                 else f"relative to {display(including)}")
        message = f"template {reference} not found (looked for {display(options[0])}, {where})"
        if undecided:
            findings.warning(at, f"not checked: {message}; it is included only when `{undecided}`, which the "
                                 "checker cannot decide, and may exist where that holds")
        else:
            findings.error(at, message, TEMPLATE)
        return None
