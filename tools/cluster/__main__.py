"""`python -m tools.cluster up`: the engine tier's local control plane, for manual runs, until Ctrl-C.

Prints the kubeconfig to export; `kubectl`, `pulumi up` with `clusterTarget: kubeconfig`, and the
engine tests' helpers all work against it. Ctrl-C stops every process by PID and removes its files.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

from tools.cluster.binaries import control_plane_binary
from tools.cluster.control_plane import LocalCluster
from tools.servers.process import ServerError


def up() -> int:
    cluster = LocalCluster()
    try:
        cluster.start()
    except (ServerError, OSError, subprocess.CalledProcessError) as error:
        print(error, file=sys.stderr)
        print(f"logs kept in {cluster.workdir}", file=sys.stderr)
        return 1
    print(f"API server {cluster.server}  (node {cluster.node.cpu} CPU, {cluster.node.memory}; logs in {cluster.workdir})")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    print(f"alias kubectl={control_plane_binary('kubectl')}")
    # Blocked only now: children inherit the signal mask, and they must still answer SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.destroy()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up"])
    parser.parse_args(argv)
    return up()


if __name__ == "__main__":
    sys.exit(main())
