"""Unit tier: the Pulumi program under the mock engine, once per committed stack file."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from infra.offline import OfflineRun, available_stacks, run_offline
from tools.synth import manifests, pod_template

STACKS = available_stacks()


@cache
def _stack_run(stack: str) -> OfflineRun:
    return run_offline(stack)


@pytest.fixture(params=STACKS)
def stack_run(request) -> OfflineRun:
    """The unmodified program for each committed stack (evaluated once per test session)."""
    return _stack_run(request.param)


def run_with(stack: str = "dev", **overrides: Any) -> OfflineRun:
    """The program for `stack` with config keys overridden (`mlflowReplicas=2`)."""
    return run_offline(stack, overrides)


def objects(run: OfflineRun, kind: str | None = None) -> list[dict[str, Any]]:
    return [m for m in manifests(run) if kind is None or m["kind"] == kind]


def one(run: OfflineRun, kind: str, name: str) -> dict[str, Any]:
    found = [m for m in objects(run, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name}, found {len(found)}"
    return found[0]


def pods(run: OfflineRun) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that runs pods."""
    return [
        (f"{m['kind']}/{m['metadata']['name']}", pod)
        for m in objects(run)
        if (pod := pod_template(m)) is not None
    ]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod.get("initContainers", []) + pod["containers"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def on_azure(run: OfflineRun) -> bool:
    """The stack provisions AKS (qa, prod): its outputs name the cluster."""
    return "aksClusterName" in run.outputs


def postgres_host(run: OfflineRun) -> str:
    """The managed server's name when the stack has one, else the in-cluster Service."""
    if "postgresHost" in run.outputs:
        return run.outputs["postgresHost"][0]
    return f"postgres.{run.outputs['namespace'][0]}.svc.cluster.local"


def workloads_image(run: OfflineRun) -> str:
    """The stack's workloads image: the shared build registry's on AKS (Pulumi.<stack>.yaml)."""
    return ("mlopsbuildteam1.azurecr.io/mlops-platform/workloads:0.1.0" if on_azure(run)
            else "mlops-platform/workloads:0.1.0")
