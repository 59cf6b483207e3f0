"""Write a Kubernetes Secret from pipeline secrets without putting a value on a command line.

    python pipelines/scripts/apply_secret.py --namespace mlops --name retrain-hook \
        url=RETRAIN_HOOK_URL token=RETRAIN_HOOK_TOKEN

Each KEY=ENV takes the value of environment variable ENV (mapped into the step with `env:` from
the Key Vault-linked variable group) and the manifest goes to `kubectl apply -f -` on stdin.
An unset or empty variable fails with its name, before anything is applied.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys


def secret_manifest(namespace: str, name: str, values: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "azure-pipelines"}},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def values_from_env(pairs: list[str], env: dict[str, str]) -> dict[str, str]:
    values, missing = {}, []
    for pair in pairs:
        key, sep, variable = pair.partition("=")
        if not sep or not key or not variable:
            raise ValueError(f"{pair!r} is not KEY=ENV_VARIABLE")
        if not env.get(variable):
            missing.append(variable)
        values[key] = env.get(variable, "")
    if missing:
        raise ValueError(f"unset or empty: {', '.join(missing)} (map them into the step with env:)")
    return values


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="apply_secret.py")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--dry-run", action="store_true", help="print the keys that would be written, not the values")
    parser.add_argument("pairs", nargs="+", metavar="KEY=ENV")
    args = parser.parse_args(argv)
    try:
        values = values_from_env(args.pairs, dict(os.environ))
    except ValueError as error:
        print(f"apply_secret: {error}", file=sys.stderr)
        return 2
    manifest = secret_manifest(args.namespace, args.name, values)
    if args.dry_run:
        print(f"would apply Secret {args.namespace}/{args.name} with keys {', '.join(sorted(values))}")
        return 0
    result = subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(manifest), text=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
