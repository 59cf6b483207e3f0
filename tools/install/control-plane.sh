#!/usr/bin/env bash
# Builds the local Kubernetes control plane the engine tier runs on (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and etcd) once, from the Go module proxy, into
# ~/.cache/mlops-platform/bin/control-plane-<k8s>-etcd-<etcd>/, so every later clone reuses it.
# The versions are pinned by go/control-plane/go.mod and go.sum. Prints the directory on the last line.
set -euo pipefail
cd "$(dirname "$0")/go/control-plane"
command -v go >/dev/null || { echo "go is required to build the control plane" >&2; exit 1; }

K8S=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
ETCD=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
DIR="$CACHE/bin/control-plane-$K8S-etcd-$ETCD"
BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubectl etcd"

if [ -f "$DIR/.complete" ]; then
  echo "control plane $K8S (etcd $ETCD) present"
else
  minor=${K8S#v1.}; minor=${minor%%.*}
  # What the release build stamps in (hack/lib/version.sh); without it the binaries call themselves v0.0.0.
  v=k8s.io/component-base/version
  flags="-s -w -X $v.gitVersion=$K8S -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  flags="$flags -X k8s.io/client-go/pkg/version.gitVersion=$K8S -X k8s.io/client-go/pkg/version.gitMajor=1"
  flags="$flags -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  mkdir -p "$CACHE/bin"
  tmp=$(mktemp -d "$DIR.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$tmp/" tool ./etcd
  for b in $BINARIES; do [ -x "$tmp/$b" ] || { echo "the build made no $b" >&2; exit 1; }; done
  "$tmp/kube-apiserver" --version | grep -qx "Kubernetes $K8S" \
    || { echo "built kube-apiserver is not $K8S: $("$tmp/kube-apiserver" --version)" >&2; exit 1; }
  touch "$tmp/.complete"
  rm -rf "$DIR"
  mv -T "$tmp" "$DIR" 2>/dev/null || true  # another build finished first: keep its copy
  echo "control plane $K8S (etcd $ETCD) built"
fi
echo "$DIR"
