"""The scripts the pipeline steps call, run here as the agent would run them."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_checker.catalog import default_catalog
from pipeline_checker.steps.scripts import StepReader
from pipeline_checker.steps.shells import live_text

SCRIPTS = Path(__file__).resolve().parents[2] / "pipelines" / "scripts"


def script(name: str):
    spec = importlib.util.spec_from_file_location(f"pipeline_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


STACK_OUTPUTS = {
    "namespace": "mlops",
    "mlflowUrl": "http://mlflow.mlops.svc.cluster.local:5000",
    "secretNames": {"redis": "mlops-redis-auth-1", "objectStoreDrift": "mlops-object-store-drift-2"},
    "mlflowAdminPassword": "s3cr3t;with]odd%chars",
    "mlflowExternalUrl": "",
    "buckets": ["monitoring", "features"],
}


def run_export(tmp_path: Path, *names: str) -> subprocess.CompletedProcess:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(STACK_OUTPUTS))
    return subprocess.run([sys.executable, str(SCRIPTS / "export_outputs.py"), str(outputs), *names],
                          capture_output=True, text=True)


def test_export_outputs_writes_one_output_variable_per_name(tmp_path):
    result = run_export(tmp_path, "namespace", "mlflowUrl", "secretNames", "buckets", "mlflowAdminPassword=secret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "##vso[task.setvariable variable=namespace;isOutput=true]mlops",
        "##vso[task.setvariable variable=mlflowUrl;isOutput=true]http://mlflow.mlops.svc.cluster.local:5000",
        '##vso[task.setvariable variable=secretNames;isOutput=true]{"objectStoreDrift":"mlops-object-store-drift-2","redis":"mlops-redis-auth-1"}',
        '##vso[task.setvariable variable=buckets;isOutput=true]["monitoring","features"]',
        "##vso[task.setvariable variable=mlflowAdminPassword;isOutput=true;issecret=true]s3cr3t;with]odd%AZP25chars",
    ]


def test_export_outputs_escapes_newlines_so_a_value_cannot_inject_a_command():
    module = script("export_outputs")
    (command,) = module.logging_commands({"x": "a\n##vso[task.setvariable variable=evil]1"}, ["x"])
    assert "\n" not in command and command.endswith("a%0A##vso[task.setvariable variable=evil]1")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["mlflowUrls"], "stack output 'mlflowUrls' does not exist; the stack has: buckets, mlflowAdminPassword"),
        (["mlflowExternalUrl"], "stack output 'mlflowExternalUrl' is empty; refusing to pass an empty variable on"),
        (["namespace=hidden"], "namespace=hidden: the only flag is =secret"),
    ],
)
def test_export_outputs_refuses_what_would_become_an_empty_variable(tmp_path, names, message):
    result = run_export(tmp_path, *names)
    assert result.returncode == 1 and result.stdout == ""
    assert message in result.stderr


def test_export_outputs_names_a_file_it_cannot_read(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPTS / "export_outputs.py"), str(tmp_path / "none.json"), "x"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "cannot read" in result.stderr and "none.json" in result.stderr


def test_the_checker_reads_the_variables_an_export_step_sets():
    step = {"name": "exported", "task": "AzureCLI@2", "inputs": {"inlineScript": (
        'python pipelines/scripts/export_outputs.py "$outputs" namespace mlflowUrl mlflowAdminPassword=secret\n'
        'echo "##vso[task.setvariable variable=local]1"\n')}}
    sets = StepReader(SCRIPTS.parents[1], default_catalog()).sets(step, "linux")
    assert {name: is_output for name, is_output in sets.variables.values()} == {
        "namespace": True, "mlflowUrl": True, "mlflowAdminPassword": True, "local": False}
    assert sets.unknown == [] and sets.maybe == {}


def test_apply_secret_builds_the_secret_from_env_without_printing_values(capsys):
    module = script("apply_secret")
    values = module.values_from_env(["url=HOOK_URL", "token=HOOK_TOKEN"], {"HOOK_URL": "https://ci", "HOOK_TOKEN": "t0k"})
    manifest = module.secret_manifest("mlops", "retrain-hook", values)
    assert manifest["metadata"] == {"name": "retrain-hook", "namespace": "mlops",
                                    "labels": {"app.kubernetes.io/managed-by": "azure-pipelines"}}
    assert manifest["data"] == {"url": "aHR0cHM6Ly9jaQ==", "token": "dDBr"}
    with pytest.raises(ValueError, match="unset or empty: HOOK_TOKEN"):
        module.values_from_env(["url=HOOK_URL", "token=HOOK_TOKEN"], {"HOOK_URL": "https://ci"})
    assert module.main(["--namespace", "mlops", "--name", "x", "--dry-run", "a=PATH"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "would apply Secret mlops/x with keys a"


def test_smoke_forwards_each_service_url_to_localhost():
    module = script("smoke")
    mlflow = module.forward_for("http://mlflow.mlops.svc.cluster.local:5000", "mlops")
    assert (mlflow.service, mlflow.port, mlflow.local_url()) == ("mlflow", 5000, "http://127.0.0.1:5000")
    redis = module.forward_for("redis.mlops.svc.cluster.local", "mlops")
    assert (redis.service, redis.port, redis.local_url()) == ("redis", 6379, "127.0.0.1:6379")
    with pytest.raises(ValueError, match="is not a Service of namespace mlops"):
        module.forward_for("https://example.com", "mlops")


def test_install_pulumi_is_valid_bash_and_verifies_the_checksum():
    text = (SCRIPTS / "install_pulumi.sh").read_text()
    assert subprocess.run(["bash", "-n", str(SCRIPTS / "install_pulumi.sh")]).returncode == 0
    assert "sha256sum --check --strict" in text and "set -euo pipefail" in text
    requirements = (SCRIPTS.parents[1] / "requirements.txt").read_text()
    pipeline = (SCRIPTS.parents[1] / "azure-pipelines.yml").read_text()
    pin = next(line.split("==")[1] for line in requirements.splitlines() if line.startswith("pulumi=="))
    assert f'pulumiVersion\n    value: "{pin}"' in pipeline, "the CLI and the SDK must be the same version"


@pytest.mark.parametrize(("shell", "text", "printed"), [
    ("bash", 'echo "##vso[x]" # echo ##vso[y]', ['"##vso[x]"']),
    ("bash", "echo ##vso[y]", []),  # `#` starts a comment at the start of a word
    ("bash", "echo ${#items[@]} '##vso[x]'", ["'##vso[x]'"]),
    ("bash", "cat <<EOF\n##vso[x]\nEOF\nexit 0\necho '##vso[y]'", ["##vso[x]"]),
    ("bash", "read -r v <<< \"$in\"\necho '##vso[x]'", ["'##vso[x]'"]),
    ("bash", "if [ -z \"$a\" ]; then\n  exit 1\nfi\necho '##vso[x]'", ["'##vso[x]'"]),
    ("pwsh", "<#\nWrite-Host '##vso[y]'\n#>\nWrite-Host \"##vso[x]\" # '##vso[z]'", ['"##vso[x]"']),
    ("python", "# print('##vso[y]')\nprint('##vso[x]')  # ##vso[z]\nsys.exit(0)\nprint('##vso[w]')", ["'##vso[x]'"]),
    ("cmd", "REM echo ##vso[y]\n:: echo ##vso[z]\necho ##vso[x]", ["##vso[x]"]),
    ("js", "// console.log('##vso[y]')\n/* '##vso[z]' */\nconsole.log('##vso[x]')", ["'##vso[x]'"]),
])
def test_only_what_a_shell_runs_prints_logging_commands(shell, text, printed):
    live = live_text(text, shell)
    assert re.findall(r"['\"]?##vso\[\w\]['\"]?", live) == printed
