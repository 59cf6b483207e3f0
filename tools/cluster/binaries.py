"""Where the engine tier's binaries are: each installer in tools/install/ builds its binary once
(cached by version) and prints where it is on its last line, so the versions live in one place."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from tools.servers.process import ROOT, ServerError

INSTALLERS = ROOT / "tools" / "install"


@cache
def installed(installer: str) -> Path:
    """Run tools/install/<installer>.sh (instant once built) and return the path it prints last.

    Raises ServerError with the installer's output if it fails (for example: no Go toolchain)."""
    result = subprocess.run([str(INSTALLERS / f"{installer}.sh")], capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise ServerError(f"tools/install/{installer}.sh failed ({result.returncode}); run `make test`, "
                          f"which builds it:\n{result.stdout}{result.stderr}")
    return Path(lines[-1])


def control_plane_binary(name: str) -> str:
    """kube-apiserver, kube-controller-manager, kube-scheduler, kubectl or etcd."""
    return str(installed("control-plane") / name)


def kwok_binary() -> Path:
    return installed("kwok")


def pulumi_root() -> Path:
    """The Pulumi CLI's root (bin/pulumi under it), as PulumiCommand(root=...) takes it."""
    return installed("pulumi")


def kubernetes_provider_dir() -> Path:
    """The directory holding pulumi-resource-kubernetes (put it first on PATH for the engine)."""
    return installed("pulumi-kubernetes")
