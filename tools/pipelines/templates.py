"""Where a `template:` reference points, as Microsoft's Templates doc ("Reference template paths",
"Use other repositories") defines it:

- `path.yml`: relative to the file that holds the reference;
- `/path.yml`: relative to the root of the repository that holds that file;
- `path.yml@self`: in the repository that holds the pipeline;
- `path.yml@alias`: in the repository the pipeline declares as `resources.repositories` with
  `repository: alias`; the checker reads it from a local checkout given as `--repository alias=PATH`,
  otherwise it reports the template as not checked (a warning) and checks the rest.

The repository root is `--root`, else the enclosing git checkout. Without either, a `/path` is
looked for in each folder above the pipeline, nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.pipelines.findings import Findings


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
            checkout = next((p for alias, p in self.checkouts.items() if alias.lower() == repository.lower()), None)
            if checkout is None:
                return []
            root, base = checkout, checkout if path.startswith("/") else including.parent
            if not including.is_relative_to(checkout):
                base = checkout  # a relative path into another repository starts at its root
        elif repository:
            root, base = self.root, self.root if path.startswith("/") else including.parent
        else:
            root, base = self.root_of(including), including.parent
        if not path.startswith("/"):
            return [(base / path).resolve()]
        found = [(root / path.lstrip("/")).resolve()]
        if not self.certain:
            found += [(folder / path.lstrip("/")).resolve() for folder in (including.parent, *including.parents)]
        return found

    def resolve(self, reference: str, including: Path, at: Any, findings: Findings, display) -> Path | None:
        """The file `reference` names, or None after a finding: an error when it is missing, a warning
        when it lives in a repository without a local checkout."""
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
        findings.error(at, f"template {reference} not found (looked for {display(options[0])}, "
                           + ("from the repository root)" if path.startswith("/") else
                              f"relative to {display(including)})"), "template")
        return None
