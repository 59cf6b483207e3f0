"""The checker installs on its own: into a fresh virtual environment, from the package's files only
(pyproject.toml, pipeline_checker/, its readme), with only its own dependencies, and runs there as
`pipeline-checker` on any folder.

pip fetches PyYAML, jsonschema and the build backend from the package index (the registry this
machine reaches); a missing index is a failure, not a skip."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = {"azure-pipelines-checker", "pyyaml", "jsonschema"}
# What jsonschema itself requires (its metadata), and what a fresh venv brings.
ALLOWED = OWN | {"attrs", "jsonschema-specifications", "referencing", "rpds-py", "typing-extensions", "pip",
                 "setuptools"}


def test_it_installs_and_runs_from_a_fresh_virtual_environment(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "pipeline_checker", source / "pipeline_checker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source)
    (source / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "pipelines.md", source / "docs")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(source)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format", "freeze", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout
    installed = {line.split("==")[0].lower().replace("_", "-") for line in listed.splitlines()}
    assert installed >= OWN and installed <= ALLOWED, f"not only its own dependencies: {sorted(installed - ALLOWED)}"

    # This repository's pipelines, checked from another folder (the root found from .git).
    checker = str(venv / "bin" / "pipeline-checker")
    done = subprocess.run([checker, str(ROOT / "azure-pipelines.yml"), str(ROOT / "pipelines" / "training.yml")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok: ") == 2 and "0 errors, 0 warnings" in done.stdout

    # A broken pipeline: the rule's id in the text, exit 1; --list-rules from the installed data.
    broken = tmp_path / "work" / "azure-pipelines.yml"
    broken.parent.mkdir()
    broken.write_text(textwrap.dedent("""
        stages:
        - stage: A
          dependsOn: B
          jobs: [{job: a, steps: [{script: echo}]}]
        - stage: B
          dependsOn: A
          jobs: [{job: b, steps: [{script: echo}]}]
        """).lstrip())
    done = subprocess.run([checker], capture_output=True, text=True, cwd=broken.parent, timeout=300)
    assert done.returncode == 1 and "depend on each other in a cycle" in done.stdout and "[dependency-cycle]" in done.stdout
    assert "no git checkout around it" in done.stderr
    rules = subprocess.run([checker, "--list-rules"], capture_output=True, text=True, check=True, timeout=300).stdout
    assert "output-reference" in rules and "same-job-output" in rules
