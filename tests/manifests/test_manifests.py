"""Synthesised manifests pass Kubernetes schema validation (strict, 1.34) and checkov."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from infra.offline import ROOT, available_stacks

KUBERNETES_VERSION = "1.34.0"
SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv-checkov" / "bin" / "checkov"))


@pytest.mark.parametrize("stack", available_stacks())
def test_manifests_validate_strictly_against_kubernetes_1_34(rendered, stack):
    files = sorted(rendered[stack].glob("*.yaml"))
    assert files, f"synth rendered nothing for {stack}"
    for path in files:
        manifest = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {error.message} at {list(error.path)}")


def test_strict_validation_rejects_an_unknown_field():
    """The validator is really strict (a typo in a spec would otherwise pass silently)."""
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prots": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def checkov_failures(directory: Path) -> tuple[list[dict], int]:
    assert CHECKOV.exists(), f"checkov not installed at {CHECKOV}: run `make checkov` (its own virtualenv)"
    skips = yaml.safe_load(SKIPS_FILE.read_text())
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(directory), "--framework", "kubernetes", "--skip-download",
         "--quiet", "--compact", "--output", "json", "--skip-check", ",".join(skips)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert result.stdout.strip(), f"checkov printed nothing: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [check for r in reports for check in r.get("results", {}).get("failed_checks", [])]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    return failed, passed


@pytest.mark.parametrize("stack", available_stacks())
def test_manifests_pass_checkov(rendered, stack):
    failed, passed = checkov_failures(rendered[stack])
    assert passed > 100, "checkov ran too few checks to mean anything"
    assert not failed, "\n".join(f"{c['check_id']} {c['check_name']}: {c['resource']}" for c in failed)


def test_every_skipped_check_has_a_reason():
    skips = yaml.safe_load(SKIPS_FILE.read_text())
    assert all(isinstance(reason, str) and len(reason) > 40 for reason in skips.values())
