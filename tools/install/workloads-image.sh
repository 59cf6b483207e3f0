#!/usr/bin/env bash
# Builds workloads/Dockerfile, unchanged, with podman (no daemon) FROM the Debian-built python base
# (tools/install/python-base-image.sh), tagged localhost/mlops-platform/workloads:build-<hash> where
# the hash covers everything that goes into the image (the Dockerfile, the workloads tree, the
# base), so a cached `make test` pays nothing. The host's CA bundle and a pip.conf naming it are
# mounted into the build's RUN steps only (the registries are reached through this machine's
# proxy), never copied into the image. Prints the image reference last.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=$(tools/install/python-base-image.sh | tail -1)
hash=$( { echo "$base"; find workloads -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
          | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-12)
IMAGE=localhost/mlops-platform/workloads:build-$hash
if podman image exists "$IMAGE"; then
  echo "workloads image $IMAGE present"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$work/pip.conf"
  podman build --quiet --network host --build-arg "PYTHON_IMAGE=$base" \
    -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    -v "$work/pip.conf:/etc/pip.conf:ro" \
    -f workloads/Dockerfile -t "$IMAGE" . >/dev/null
  echo "workloads image $IMAGE built ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
  # Earlier builds are superseded: drop their tags and the layers only they used.
  podman images --format '{{.Repository}}:{{.Tag}}' localhost/mlops-platform/workloads \
    | grep ':build-' | grep -vx "$IMAGE" | xargs -r podman rmi --force >/dev/null 2>&1 || true
  podman image prune --force >/dev/null 2>&1 || true
fi
echo "$IMAGE"
