"""Synthesised manifests pass Kubernetes schema validation (strict, 1.34), checkov and kube-score."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from infra.offline import ROOT, available_stacks
from tools.servers.prometheus import operator_crds

KUBERNETES_VERSION = "1.34.0"
SKIPS_FILE = Path(__file__).with_name("skips.yaml")
SKIPS = yaml.safe_load(SKIPS_FILE.read_text())
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv-checkov" / "bin" / "checkov"))
CACHE = Path(os.environ.get("MLOPS_CACHE_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlops-platform"))
KUBE_SCORE = Path(os.environ.get("KUBE_SCORE", CACHE / "bin" / "kube-score"))
OK_GRADE = 10  # kube-score grades: 10 ok, 5 warning, 1 critical


def strict(schema: dict) -> dict:
    """A CRD's structural schema made strict: no property it does not declare (the API server
    prunes or, with strict field validation, rejects them), except where it preserves unknown fields."""
    if not isinstance(schema, dict):
        return schema
    out = {key: (strict(value) if key in ("items", "additionalProperties") else value) for key, value in schema.items()}
    if "properties" in schema:
        out["properties"] = {name: strict(sub) for name, sub in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in schema:
            out["additionalProperties"] = False
    return out


@pytest.fixture(scope="session")
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the Prometheus Operator CRD's schema, strict (its pinned release)."""
    schemas = {}
    for kinds in ("servicemonitors", "podmonitors", "prometheusrules"):  # the kinds the platform creates
        path = operator_crds() / f"monitoring.coreos.com_{kinds}.yaml"
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            schemas[key] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


@pytest.mark.parametrize("stack", available_stacks())
def test_manifests_validate_strictly_against_kubernetes_1_34(rendered, crd_schemas, stack):
    """Built-in kinds against Kubernetes' schemas, the monitoring kinds against their CRDs'."""
    files = sorted(rendered[stack].glob("*.yaml"))
    assert files, f"synth rendered nothing for {stack}"
    for path in files:
        manifest = yaml.safe_load(path.read_text())
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            errors = [f"{e.message} at {list(e.path)}" for e in
                      Draft7Validator(crd_schemas[(manifest["apiVersion"], manifest["kind"])]).iter_errors(manifest)]
            assert not errors, f"{path.name}: {errors}"
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {error.message} at {list(error.path)}")


def test_crd_validation_is_strict(crd_schemas):
    """A misspelt field of a ServiceMonitor fails, as the API server's strict validation would."""
    schema = crd_schemas[("monitoring.coreos.com/v1", "ServiceMonitor")]
    good = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
            "spec": {"selector": {}, "endpoints": [{"port": "http"}]}}
    assert not list(Draft7Validator(schema).iter_errors(good))
    bad = {**good, "spec": {"selector": {}, "endpoints": [{"prot": "http"}]}}
    assert list(Draft7Validator(schema).iter_errors(bad))


def test_strict_validation_rejects_an_unknown_field():
    """The validator is really strict (a typo in a spec would otherwise pass silently)."""
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prots": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def checkov_failures(directory: Path) -> tuple[list[dict], int]:
    assert CHECKOV.exists(), f"checkov not installed at {CHECKOV}: run `make checkov` (its own virtualenv)"
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(directory), "--framework", "kubernetes", "--skip-download",
         "--quiet", "--compact", "--output", "json", "--skip-check", ",".join(SKIPS["checkov"])],
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


def kube_score_findings(directory: Path) -> tuple[list[str], int]:
    """(`<check id>/<object>: <comment>` for every check below an OK grade, checks that ran)."""
    assert KUBE_SCORE.exists(), f"kube-score not installed at {KUBE_SCORE}: run tools/install/kube-score.sh"
    skips = SKIPS["kube-score"]
    ignored = [arg for check in skips["checks"] for arg in ("--ignore-test", check)]
    result = subprocess.run(
        [str(KUBE_SCORE), "score", "--kubernetes-version", "v" + KUBERNETES_VERSION.rsplit(".", 1)[0],
         "--output-format", "json", *skips["flags"], *ignored, *sorted(map(str, directory.glob("*.yaml")))],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert result.stdout.startswith("["), f"kube-score printed no report: {result.stderr[-2000:]}"
    findings, ran = [], 0
    for scored in json.loads(result.stdout):
        for check in scored["checks"]:
            if check["skipped"]:
                continue
            ran += 1
            if check["grade"] < OK_GRADE:
                comments = "; ".join(f"{c.get('path', '')} {c['summary']}".strip() for c in check["comments"] or [])
                findings.append(f"{check['check']['id']}/{scored['object_meta']['name']}: {comments}")
    return findings, ran


@pytest.fixture(scope="module")
def kube_score(rendered) -> dict[str, tuple[list[str], int]]:
    return {stack: kube_score_findings(directory) for stack, directory in rendered.items()}


@pytest.mark.parametrize("stack", available_stacks())
def test_manifests_pass_kube_score(kube_score, stack):
    findings, ran = kube_score[stack]
    assert ran > 100, "kube-score ran too few checks to mean anything"
    objects = SKIPS["kube-score"]["objects"]
    unexpected = [f for f in findings if f.split(":", 1)[0] not in objects]
    assert not unexpected, "\n".join(unexpected)


def test_every_object_level_kube_score_skip_is_still_needed(kube_score):
    """An object skip that no stack needs any more is stale: delete it rather than keep a blind spot."""
    failing = {f.split(":", 1)[0] for findings, _ in kube_score.values() for f in findings}
    assert set(SKIPS["kube-score"]["objects"]) <= failing


def test_every_skipped_check_has_a_reason():
    kube_score_skips = SKIPS["kube-score"]
    reasons = [*SKIPS["checkov"].values(), *kube_score_skips["flags"].values(), *kube_score_skips["checks"].values(),
               *kube_score_skips["objects"].values()]
    assert all(isinstance(reason, str) and len(reason) > 40 for reason in reasons)
