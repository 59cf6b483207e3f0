#!/usr/bin/env bash
# Builds the pinned Pulumi CLI once, from the Go module proxy, into
# ~/.cache/mlops-platform/bin/pulumi-<version>/bin/pulumi (the layout the Automation API's
# PulumiCommand(root=...) expects). Pinned by go/pulumi/go.mod and go.sum. Prints the root on the last line.
set -euo pipefail
cd "$(dirname "$0")/go/pulumi"
command -v go >/dev/null || { echo "go is required to build the Pulumi CLI" >&2; exit 1; }

VERSION=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
ROOT="$CACHE/bin/pulumi-$VERSION"

if [ -x "$ROOT/bin/pulumi" ] && "$ROOT/bin/pulumi" version 2>/dev/null | grep -qx "$VERSION"; then
  echo "pulumi $VERSION present"
else
  mkdir -p "$ROOT/bin"
  tmp=$(mktemp "$ROOT/bin/.pulumi.XXXXXX"); trap 'rm -f "$tmp"' EXIT
  # The version stamp upstream's Makefile sets; without it the CLI reports v3.0.0-dev.
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
    -o "$tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$tmp" "$ROOT/bin/pulumi"
  "$ROOT/bin/pulumi" version | grep -qx "$VERSION" \
    || { echo "built pulumi is not $VERSION: $("$ROOT/bin/pulumi" version)" >&2; exit 1; }
  echo "pulumi $VERSION built"
fi
echo "$ROOT"
