#!/usr/bin/env bash
# Builds the pinned SeaweedFS `weed` binary once and caches it outside the clone, so a new clone
# on the same machine reuses it. Prints the binary's path on the last line.
#
# `go install github.com/seaweedfs/seaweedfs/weed@<version>` refuses this module (its go.mod has
# replace directives), so the pinned module is downloaded through the Go module proxy and built
# as the main module, which is what `go install` would do without that restriction.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The module version of the SeaweedFS 4.53 release; images.py pins the same release's image.
MODULE=github.com/seaweedfs/seaweedfs
MODULE_VERSION=v0.0.0-20261109003541-7506e5f91cd6
RELEASE=$(sed -n 's/^SEAWEEDFS_VERSION = "\(.*\)"$/\1/p' platform_components/images.py)
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
BIN="$CACHE/bin/weed-$RELEASE-${MODULE_VERSION##*-}"

if [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q " $RELEASE "; then
  echo "seaweedfs $RELEASE present"
else
  command -v go >/dev/null || { echo "go is required to build SeaweedFS" >&2; exit 1; }
  mkdir -p "$CACHE/bin"
  dir=$(go mod download -json "$MODULE@$MODULE_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "go mod download gave no source directory for $MODULE@$MODULE_VERSION" >&2; exit 1; }
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" ./weed)
  mv "$BIN.tmp" "$BIN"
  "$BIN" version | grep -q " $RELEASE " || { echo "built weed is not release $RELEASE: $("$BIN" version)" >&2; exit 1; }
  echo "seaweedfs $RELEASE built"
fi
ln -sf "$BIN" "$CACHE/bin/weed"
echo "$CACHE/bin/weed"
