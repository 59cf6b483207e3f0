#!/usr/bin/env bash
# Builds the pinned Prometheus Pushgateway once from the Go module proxy and caches it outside the
# clone (by version): the batch-outcome tests push to the real server. Same release as the image
# the monitoring component deploys (platform_components/images.py). Prints its path last.
set -euo pipefail

VERSION=v1.11.5  # = images.PUSHGATEWAY_VERSION (a unit test checks)
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
BIN="$CACHE/bin/pushgateway-$VERSION"

if [ -x "$BIN" ] && "$BIN" --version 2>&1 | grep -q "version ${VERSION#v}"; then
  echo "pushgateway $VERSION present"
else
  command -v go >/dev/null || { echo "go is required to build the pushgateway" >&2; exit 1; }
  mkdir -p "$CACHE/bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  CGO_ENABLED=0 GOBIN="$work" go install -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION#v}" \
    "github.com/prometheus/pushgateway@$VERSION"
  mv "$work/pushgateway" "$BIN"
  echo "pushgateway $VERSION built"
fi
echo "$BIN"
