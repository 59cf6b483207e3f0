#!/usr/bin/env bash
# Installs what builds and runs the workloads image without a daemon: Debian's podman and buildah
# with runc (crun refuses this machine kind's mixed cgroup v1/v2 layout), mmdebstrap for the base
# image, and a containers.conf that selects runc and lowers the default ulimits (the host's raised
# ones are refused inside the user namespace). slirp4netns gives each played pod its own network
# with the host's loopback at 10.0.2.2; catatonit is the pods' infra (pause) process. Idempotent;
# runs as root.
set -euo pipefail
missing=()
for tool in podman buildah mmdebstrap runc slirp4netns catatonit; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "need root to apt-get install: ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends podman buildah mmdebstrap runc uidmap fuse-overlayfs \
    slirp4netns catatonit netavark aardvark-dns ca-certificates >/dev/null
  echo "installed: ${missing[*]}"
fi
conf=/etc/containers/containers.conf.d/mlops-platform.conf
if [ ! -f "$conf" ]; then
  mkdir -p "$(dirname "$conf")"
  cat > "$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
fi
echo "podman $(podman --version | awk '{print $3}'), buildah $(buildah --version | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}')"
