#!/usr/bin/env bash
# Builds the pinned kube-score once from the Go module proxy and caches it outside the clone (by
# version), so a new clone on the same machine reuses it. Prints the binary's path on the last line.
set -euo pipefail

VERSION=v1.20.0
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
BIN="$CACHE/bin/kube-score-$VERSION"

if [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "version: $VERSION,"; then
  echo "kube-score $VERSION present"
else
  command -v go >/dev/null || { echo "go is required to build kube-score" >&2; exit 1; }
  mkdir -p "$CACHE/bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # The version ldflag makes `kube-score version` name the release it was built from.
  CGO_ENABLED=0 GOBIN="$work" go install -trimpath -ldflags "-X main.version=$VERSION" \
    "github.com/zegl/kube-score/cmd/kube-score@$VERSION"
  mv "$work/kube-score" "$BIN"
  echo "kube-score $VERSION built"
fi
ln -sf "$BIN" "$CACHE/bin/kube-score"
echo "$CACHE/bin/kube-score"
