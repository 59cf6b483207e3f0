#!/usr/bin/env bash
# Builds the pinned Prometheus server and promtool once from the Go module proxy and caches them
# outside the clone (by version), so a new clone on the same machine reuses them. Prometheus 3.x is
# published on the module proxy as github.com/prometheus/prometheus v0.3MM.P (= release 3.MM.P).
# The server is built without the `builtinassets` tag: no web UI, the HTTP API (all the tests use)
# is complete. Prints the directory holding `prometheus` and `promtool` on the last line.
set -euo pipefail

MODULE_VERSION=v0.316.0
RELEASE=3.16.0
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
DIR="$CACHE/bin/prometheus-$RELEASE"

built() { [ -x "$DIR/promtool" ] && [ -x "$DIR/prometheus" ] \
  && "$DIR/promtool" --version 2>&1 | grep -q "version $RELEASE"; }

if built; then
  echo "prometheus/promtool $RELEASE present"
else
  command -v go >/dev/null || { echo "go is required to build promtool" >&2; exit 1; }
  mkdir -p "$CACHE/bin"
  work=$(mktemp -d "$CACHE/bin/.prometheus.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # The version ldflag is what upstream's promu sets; without it --version reports nothing useful.
  CGO_ENABLED=0 GOBIN="$work" go install -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$RELEASE" \
    "github.com/prometheus/prometheus/cmd/promtool@$MODULE_VERSION" \
    "github.com/prometheus/prometheus/cmd/prometheus@$MODULE_VERSION"
  rm -rf "$DIR"; mv "$work" "$DIR"; trap - EXIT
  built || { echo "built promtool does not report $RELEASE: $("$DIR/promtool" --version 2>&1)" >&2; exit 1; }
  echo "prometheus/promtool $RELEASE built"
fi
echo "$DIR"
