#!/usr/bin/env bash
# Fetches the Prometheus Operator's CustomResourceDefinitions (ServiceMonitor, PodMonitor,
# PrometheusRule, ...) at a pinned release from the Go module proxy (the module's example/
# directory holds them) into Go's module cache: the manifest tier validates the platform's monitors
# and rules against their schemas, the engine tier installs them in its API server. The module
# proxy serves the repository's root module up to v0.85.0. Prints the CRD directory last.
set -euo pipefail
VERSION=v0.85.0
command -v go >/dev/null || { echo "go is required to fetch the Prometheus Operator CRDs" >&2; exit 1; }
dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$VERSION" \
      | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
crds="$dir/example/prometheus-operator-crd"
[ -f "$crds/monitoring.coreos.com_servicemonitors.yaml" ] || { echo "no CRDs under $crds" >&2; exit 1; }
echo "prometheus-operator CRDs $VERSION in the module cache"
echo "$crds"
