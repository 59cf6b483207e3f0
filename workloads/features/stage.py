"""Copy the feature repository out of its ConfigMap mount, then run the Feast CLI in the copy.

Kubernetes mounts a ConfigMap as symlinks into a hidden `..<timestamp>` directory; Feast derives
module names from resolved file paths, so it cannot import a repository from the mount itself.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from workloads.features.errors import ConfigError

CONFIG_FILE = "feature_store.yaml"


def stage_repository(config_dir: str | Path, repo_dir: str | Path) -> Path:
    """Regular, non-hidden files of `config_dir` (symlinks followed) -> `repo_dir`; returns repo_dir."""
    source, target = Path(config_dir), Path(repo_dir)
    if not (source / CONFIG_FILE).is_file():
        raise ConfigError(f"{source}: no {CONFIG_FILE} (is the feature-store ConfigMap mounted there?)")
    if source.resolve() == target.resolve():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        shutil.copyfile(entry, target / entry.name)  # follows the ConfigMap's symlinks
    return target


def exec_feast(repo_dir: str | Path, feast_args: list[str]) -> None:
    """Replace this process with `feast -c <repo_dir> ...`: signals reach Feast directly."""
    # The console script installed beside this interpreter (a venv's bin/ need not be on PATH).
    sibling = Path(sys.executable).with_name("feast")
    feast = str(sibling) if os.access(sibling, os.X_OK) else shutil.which("feast")
    if feast is None:
        raise ConfigError("the feast CLI is not installed (workloads/requirements.txt)")
    os.execv(feast, [feast, "-c", str(repo_dir), *feast_args])
