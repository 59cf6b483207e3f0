"""Runs a container of a rendered pod spec from the workloads image with podman, as the kubelet
would: the pod's UID (or an arbitrary one with group 0, as OpenShift assigns), a read-only root
filesystem with only the pod's emptyDirs writable (tmpfs of their size limit), no capabilities,
no privilege escalation, and the container's own command, args and environment, its secretKeyRefs
resolved from the values the test gives. The host network stands in for the cluster's, so the
local servers on 127.0.0.1 are reachable. The image comes from tools/install/workloads-image.sh.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from platform_components.k8s import Manifest, resolve_env
from tools.servers.process import ROOT, ServerError

POD_UID = 10001  # platform_components: Pulumi.yaml runAsUser
OPENSHIFT_UID = 1000620000  # an arbitrary UID from an OpenShift namespace's range, group 0


def workloads_image() -> str:
    """The image built from workloads/Dockerfile (cached by the hash of its inputs)."""
    result = subprocess.run(["bash", str(ROOT / "tools" / "install" / "workloads-image.sh")],
                            capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise ServerError(f"the workloads image did not build:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def podman_args(container: Manifest, pod: Manifest, secrets: Mapping[str, Mapping[str, str]], env_file: Path,
                *, uid: int = POD_UID, files: Mapping[str, Path] | None = None) -> list[str]:
    """`podman run` arguments for `container` of `pod`. `files` maps a configMap or secret volume's
    name to a local directory holding its files (mounted read-only)."""
    context = container.get("securityContext", {})
    args = ["--rm", "--network", "host", "--user", f"{uid}:0", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--pull", "never"]
    assert context.get("capabilities") == {"drop": ["ALL"]} and context.get("allowPrivilegeEscalation") is False
    if context.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]  # writable only where the pod mounts a volume
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            size = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m").replace("Gi", "g")
            args += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},mode=1777"]
        else:
            source = (files or {}).get(mount["name"])
            if source is None:
                raise ValueError(f"volume {mount['name']!r} needs its files (configMap or secret) given")
            args += ["-v", f"{source}:{mount['mountPath']}:ro,Z"]
    env_file.write_text("".join(f"{k}={v}\n" for k, v in resolve_env(container.get("env", []), secrets).items()))
    args += ["--env-file", str(env_file)]
    return args


def run_in_image(container: Manifest, pod: Manifest, secrets: Mapping[str, Mapping[str, str]], *,
                 image: str | None = None, uid: int = POD_UID, files: Mapping[str, Path] | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the container to completion; its exit code, stdout and stderr."""
    with tempfile.TemporaryDirectory(prefix="mlops-env-") as scratch:
        env_file = Path(scratch) / "env"
        args = podman_args(container, pod, secrets, env_file, uid=uid, files=files)
        command = [*container.get("command", []), *container.get("args", [])]
        return subprocess.run(["podman", "run", *args, image or workloads_image(), *command],
                              capture_output=True, text=True, timeout=timeout)
