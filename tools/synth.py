"""`python -m tools.synth --stack dev`: render a stack offline to build/<stack>/.

Evaluates the Pulumi program under the mock engine (no CLI, cluster or cloud), then writes every
Kubernetes object as a manifest (`manifests/<kind>-<name>.yaml`) and `summary.md` (resources by
type, images, total requests and limits, outputs). Secret values are never written: a Secret's
data becomes a reference to the Pulumi state, any other secret value a `<secret>` marker.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from infra.offline import ROOT, OfflineRun, available_stacks, run_offline
from infra.settings import SettingsError
from platform_components.quantities import parse_quantity

SECRET_MARKER = "<secret>"
SECRET_DATA_REFERENCE = "<secret: value kept in Pulumi state, encrypted>"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
BATCH_KINDS = ("Job", "CronJob")


def _clean(value: Any) -> Any:
    """Wire values -> YAML values: redact secrets, restore integers, drop unset fields."""
    if rpc.is_rpc_secret(value):
        return SECRET_MARKER
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the Pulumi wire format carries every number as a double
    return value


def secret_keys(section: Any) -> list[str]:
    """The key names of a Secret's `data`/`stringData`, also when the whole mapping is one secret
    value (Pulumi marks it so when any value in it is secret): the names are not secret, and a
    reviewer needs them to see that every `secretKeyRef` resolves."""
    if rpc.is_rpc_secret(section):
        section = section.get("value")
    return sorted(section) if isinstance(section, dict) else []


def to_manifest(state: dict[str, Any]) -> dict[str, Any]:
    manifest = _clean(state)
    if manifest.get("kind") == "Secret":
        for section in ("data", "stringData"):
            if section in manifest:
                manifest[section] = {key: SECRET_DATA_REFERENCE for key in secret_keys(state[section])}
    ordered = {key: manifest.pop(key) for key in ("apiVersion", "kind", "metadata") if key in manifest}
    return {**ordered, **manifest}


def manifests(run: OfflineRun) -> list[dict[str, Any]]:
    """The objects the stack creates: not its providers, nor its patches of objects that others
    create (the StatefulSets' claims, grown in place by PersistentVolumeClaimPatch resources)."""
    return [to_manifest(r.state) for r in run.kubernetes()
            if not r.typ.startswith("pulumi:providers:") and not r.typ.endswith("Patch") and "helm.sh" not in r.typ]


def pod_template(manifest: dict[str, Any]) -> dict[str, Any] | None:
    spec = manifest.get("spec", {})
    if manifest["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec")


def _amount(container: dict[str, Any], kind: str, resource: str) -> float:
    value = container.get("resources", {}).get(kind, {}).get(resource)
    return parse_quantity(value) if value is not None else 0.0


def effective_pod_resources(pod: dict[str, Any]) -> dict[str, float]:
    """What the scheduler reserves: max(largest init container, sum of app containers)."""
    totals: dict[str, float] = {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            app = sum(_amount(c, kind, resource) for c in pod.get("containers", []))
            init = max((_amount(c, kind, resource) for c in pod.get("initContainers", [])), default=0.0)
            totals[f"{kind}.{resource}"] = max(app, init)
    return totals


@dataclass
class Totals:
    values: Counter = field(default_factory=Counter)

    def add(self, resources: dict[str, float], times: int) -> None:
        for key, value in resources.items():
            self.values[key] += value * times

    def row(self) -> str:
        v = self.values
        return (
            f"| {v['requests.cpu']:.2f} | {v['requests.memory'] / 2**30:.2f} GiB "
            f"| {v['limits.memory'] / 2**30:.2f} GiB |"
        )


def totals(objects: list[dict[str, Any]]) -> tuple[Totals, Totals]:
    """(long-running workloads x replicas, one run of every Job/CronJob)."""
    steady, batch = Totals(), Totals()
    for manifest in objects:
        pod = pod_template(manifest)
        if pod is None:
            continue
        if manifest["kind"] in WORKLOAD_KINDS:
            steady.add(effective_pod_resources(pod), int(manifest["spec"].get("replicas", 1)))
        elif manifest["kind"] in BATCH_KINDS:
            batch.add(effective_pod_resources(pod), 1)
    return steady, batch


def images(objects: list[dict[str, Any]]) -> list[str]:
    found = set()
    for manifest in objects:
        pod = pod_template(manifest) or {}
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            found.add(c["image"])
    return sorted(found)


def summary(run: OfflineRun, objects: list[dict[str, Any]]) -> str:
    steady, batch = totals(objects)
    lines = [f"# Stack `{run.stack}` (offline synth)", "",
             "`manifests/` shows what the stack creates, one file per object, for review; it is not for "
             "`kubectl apply`: a Secret there holds a reference to the Pulumi state, not its values (`pulumi up` "
             "creates them).", "", "## Resources by type", "", "| type | count |", "|---|---|"]
    for typ, count in sorted(Counter(r.typ for r in run.resources).items()):
        why = ""
        if typ.endswith("Patch"):
            why = " (no manifest: patches of objects others create, the StatefulSets' claims grown in place)"
        elif not typ.startswith("kubernetes:") or typ.startswith("pulumi:providers:"):
            why = " (no manifest: not a Kubernetes object)"
        lines.append(f"| `{typ}`{why} | {count} |")
    lines += ["", "## Images", ""] + [f"- `{image}`" for image in images(objects)]
    lines += [
        "", "## Compute", "",
        "| scope | CPU requested (cores) | memory requested | memory limit |", "|---|---|---|---|",
        "| long-running workloads (x replicas) " + steady.row(),
        "| one run of every Job/CronJob " + batch.row(),
    ]
    lines += ["", "## Outputs", "", "| output | value |", "|---|---|"]
    for name, (value, secret) in run.outputs.items():
        lines.append(f"| `{name}` | {'[secret]' if secret else f'`{value}`'} |")
    return "\n".join(lines) + "\n"


def manifest_filename(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def synth(stack: str, out_root: Path) -> tuple[Path, str]:
    run = run_offline(stack)
    objects = manifests(run)
    out = out_root / stack
    shutil.rmtree(out, ignore_errors=True)
    (out / "manifests").mkdir(parents=True)
    for manifest in objects:
        path = out / "manifests" / manifest_filename(manifest)
        if path.exists():
            raise RuntimeError(f"two objects render to {path.name}: names must be unique per kind")
        path.write_text(yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False))
    text = summary(run, objects)
    (out / "summary.md").write_text(text)
    (out / "manifests" / "README.md").write_text(
        f"# Stack `{stack}`: what `pulumi up` creates, for review\n\nGenerated by `make synth STACK={stack}`. Not "
        "for `kubectl apply`: each Secret holds a reference to the Pulumi state instead of its values, the claims' "
        "size patches are left out, and `pulumi up` orders, awaits and owns these objects.\n")
    return out, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description="Render a stack's manifests offline.")
    parser.add_argument("--stack", action="append", help=f"stack to render (repeatable); one of {', '.join(available_stacks())}")
    parser.add_argument("--all", action="store_true", help="render every committed stack")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--quiet", action="store_true", help="do not print the summary")
    args = parser.parse_args(argv)
    stacks = available_stacks() if args.all else (args.stack or ["dev"])
    for stack in stacks:
        try:
            out, text = synth(stack, args.out)
        except (SettingsError, FileNotFoundError) as error:
            print(f"synth {stack}: {error}", file=sys.stderr)
            return 2
        count = len(list((out / "manifests").glob("*.yaml")))
        print(f"wrote {count} manifests to {out / 'manifests'} and {out / 'summary.md'}")
        if not args.quiet:
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
