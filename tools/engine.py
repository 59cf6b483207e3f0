"""`python -m tools.engine <up|preview|destroy> --stack dev --kubeconfig FILE --workdir DIR`: the Pulumi
program under the real Pulumi engine and Kubernetes provider, against the cluster FILE points at.

It uses Pulumi's Automation API with the program inline (`infra.program.deploy`; no Python language
host needed), the CLI built by tools/install/pulumi.sh, the provider built by
tools/install/pulumi-kubernetes.sh (first on PATH, where the engine takes providers from first), a
local file backend and passphrase secrets under DIR. DIR holds copies of Pulumi.yaml and
Pulumi.<stack>.yaml, so the repository's stack files are never written.

On the first use of DIR (until that succeeds) the stack is configured with `clusterTarget: kubeconfig`, the kubeconfig
as a secret, and `credentialSource: config` with a fresh random value for every credential the
stack needs (pulumi-random is not available from the registries this runs with). `--set key=value`
changes a setting (the value as YAML: `--set mlflowReplicas=2`) in DIR's stack file, as `pulumi
config set` does: it stays for later runs in DIR. The engine's own output goes to
stderr; stdout's last line is a JSON result: {"ok", "changes", "outputs", "error"} (secret
outputs as "[secret]"). Exit status 0
when the operation succeeded, 1 when it failed (the error is in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
from pathlib import Path

import yaml

from tools.cluster.binaries import kubernetes_provider_dir, pulumi_root
from tools.servers.process import ROOT

PROJECT = "mlops-platform"
PASSPHRASE = "engine-tier-local-passphrase"  # protects only this throwaway local state


def workspace(stack: str, workdir: Path, kubeconfig: Path):
    """The stack in `workdir`, created and configured on first use."""
    from pulumi import automation as auto

    from infra.program import deploy

    configured = workdir / ".configured"
    first_use = not configured.exists()
    if first_use:
        (workdir / "state").mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "Pulumi.yaml", workdir / "Pulumi.yaml")
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", workdir / f"Pulumi.{stack}.yaml")
    env = {
        "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PATH": f"{kubernetes_provider_dir()}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(workdir), pulumi_home=str(workdir / "home"), env_vars=env, secrets_provider="passphrase",
        pulumi_command=auto.PulumiCommand(root=str(pulumi_root())))
    instance = auto.create_or_select_stack(stack_name=stack, project_name=PROJECT, program=deploy, opts=opts)
    if first_use:
        configure(instance, stack, kubeconfig)
        configured.touch()
    return instance


def configure(instance, stack: str, kubeconfig: Path) -> None:
    from pulumi import automation as auto

    config = {
        f"{PROJECT}:clusterTarget": auto.ConfigValue("kubeconfig"),
        f"{PROJECT}:kubeconfig": auto.ConfigValue(kubeconfig.read_text(), secret=True),
        f"{PROJECT}:credentialSource": auto.ConfigValue("config"),
    }
    instance.set_all_config(config)
    # In a child process: the offline render installs Pulumi's mocks, which must not meet the engine.
    names = subprocess.run([sys.executable, "-m", "tools.credentials", "--stack", stack], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    instance.set_all_config({f"{PROJECT}:credentials.{name}": auto.ConfigValue(credential_value(name), secret=True)
                             for name in names}, path=True)


def credential_value(name: str) -> str:
    """What pulumi-random would make: an access key ID of 20 upper-case letters and digits, else 32
    letters and digits."""
    upper = string.ascii_uppercase + string.digits
    if name.endswith("-access-key"):
        return "".join(secrets.choice(upper) for _ in range(20))
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def settings(pairs: list[str]) -> dict:
    from pulumi import automation as auto

    values = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set takes key=value, got {pair!r}")
        value = yaml.safe_load(raw)
        text = raw if isinstance(value, str) else json.dumps(value)
        values[f"{PROJECT}:{key}"] = auto.ConfigValue(text)
    return values


def run(operation: str, instance) -> dict:
    from pulumi import automation as auto

    log = {"on_output": lambda line: print(line, file=sys.stderr, flush=True)}
    try:
        if operation == "up":
            result = instance.up(**log)
            changes = dict(result.summary.resource_changes or {})
        elif operation == "preview":
            result = instance.preview(diff=True, **log)
            changes = dict(result.change_summary or {})
        else:
            result = instance.destroy(**log)
            changes = dict(result.summary.resource_changes or {})
    except auto.CommandError as error:
        return {"ok": False, "changes": {}, "outputs": {}, "error": str(error)}
    outputs = ({name: "[secret]" if value.secret else value.value for name, value in instance.outputs().items()}
               if operation != "destroy" else {})
    return {"ok": True, "changes": changes, "outputs": outputs, "error": ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.engine", description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=["up", "preview", "destroy"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    instance = workspace(args.stack, args.workdir.resolve(), args.kubeconfig)
    if args.settings:
        instance.set_all_config(settings(args.settings))
    result = run(args.operation, instance)
    print(json.dumps(result, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
