#!/usr/bin/env bash
# Builds kwok (simulated Kubernetes nodes for the engine tier's control plane) once, from the Go
# module proxy, into ~/.cache/mlops-platform/bin/kwok-<version>, and copies the release's own Stage
# definitions the local cluster uses (nodes, pods, volumes) into kwok-<version>-stages/.
# Prints the binary's path on the last line.
set -euo pipefail

VERSION=v0.8.0
MODULE=sigs.k8s.io/kwok
STAGES="node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete
        pod/fast/pod-delete volume/fast/pvc-provision volume/fast/pv-bind volume/fast/pvc-delete volume/fast/pv-delete"
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
BIN="$CACHE/bin/kwok-$VERSION"
command -v go >/dev/null || { echo "go is required to build kwok" >&2; exit 1; }

if [ -x "$BIN" ] && [ -d "$BIN-stages" ]; then
  echo "kwok $VERSION present"
else
  mkdir -p "$CACHE/bin"
  work=$(mktemp -d "$CACHE/bin/.kwok.XXXXXX"); trap 'rm -rf "$work"' EXIT  # same filesystem: mv is a rename
  CGO_ENABLED=0 GOBIN="$work" go install -trimpath -ldflags "-s -w" "$MODULE/cmd/kwok@$VERSION"
  src=$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$work/stages"
  for s in $STAGES; do cp "$src/kustomize/stage/$s.yaml" "$work/stages/"; done
  rm -rf "$BIN-stages" && mv "$work/stages" "$BIN-stages" && mv "$work/kwok" "$BIN"
  echo "kwok $VERSION built"
fi
echo "$BIN"
