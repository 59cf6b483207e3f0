#!/usr/bin/env bash
# Builds the Pulumi Kubernetes provider (pulumi-resource-kubernetes) once, from the Go module proxy,
# into ~/.cache/mlops-platform/bin/pulumi-resource-kubernetes-<version>/. Prints that directory on
# the last line; the engine tier puts it on PATH, where the Pulumi engine takes a provider from first.
#
# The proxy serves the provider module only as the pseudo-version pinned in
# go/kubernetes-provider/go.mod: upstream commit f47bc2d6f199 (2026-01-15, master after v4.24.0).
# Its command embeds schema-embed.json and terraform-mapping-embed.json, which upstream's
# `go generate` makes from schema.json and terraform-mapping.json; the module cache is read-only,
# so the command's files are copied into a scratch copy of that main module, generated, then built.
# The version stamped in is the Python SDK's (requirements.txt) plus the commit as build metadata,
# so the SDK's version request is met and `pulumi about` still says which source it is.
set -euo pipefail
cd "$(dirname "$0")/go/kubernetes-provider"
command -v go >/dev/null || { echo "go is required to build the Kubernetes provider" >&2; exit 1; }

MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
PSEUDO=$(go list -m -f '{{.Version}}' "$MODULE")
SDK=$(sed -n 's/^pulumi-kubernetes==\(.*\)$/\1/p' ../../../../requirements.txt)
[ -n "$SDK" ] || { echo "requirements.txt pins no pulumi-kubernetes==<version>" >&2; exit 1; }
VERSION="$SDK+${PSEUDO##*-}"
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
DIR="$CACHE/bin/pulumi-resource-kubernetes-v$SDK-${PSEUDO##*-}"

if [ -x "$DIR/pulumi-resource-kubernetes" ]; then
  echo "pulumi-resource-kubernetes $VERSION present"
else
  src=$(go mod download -json "$MODULE@$PSEUDO" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "go mod download gave no source directory for $MODULE@$PSEUDO" >&2; exit 1; }
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  cp go.mod go.sum "$work/"
  mkdir "$work/cmd"
  cp "$src"/cmd/pulumi-resource-kubernetes/{main.go,generate.go,schema.json,terraform-mapping.json} "$work/cmd/"
  chmod u+w "$work"/cmd/*
  (cd "$work/cmd" && VERSION="$VERSION" go run generate.go)
  (cd "$work" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $MODULE/pkg/version.Version=$VERSION" -o "$work/pulumi-resource-kubernetes" ./cmd)
  mkdir -p "$DIR" && tmp=$(mktemp "$DIR/.provider.XXXXXX")
  mv "$work/pulumi-resource-kubernetes" "$tmp" && mv "$tmp" "$DIR/pulumi-resource-kubernetes"
  echo "pulumi-resource-kubernetes $VERSION built"
fi
echo "$DIR"
