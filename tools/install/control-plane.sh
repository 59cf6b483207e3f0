#!/usr/bin/env bash
# Builds the local Kubernetes control plane the engine tier runs on (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and etcd) once, from the Go module proxy, into
# ~/.cache/mlops-platform/bin/control-plane-<k8s>-etcd-<etcd>/, so every later clone reuses it.
# The versions are pinned by go/control-plane/go.mod and go.sum. Prints the directory on the last line.
set -euo pipefail
cd "$(dirname "$0")/go/control-plane"

K8S=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
ETCD=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
CACHE=${MLOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-platform}
DIR="$CACHE/bin/control-plane-$K8S-etcd-$ETCD"
BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubectl etcd"

if [ -f "$DIR/.complete" ]; then
  echo "control plane $K8S (etcd $ETCD) present"
else
  command -v go >/dev/null || { echo "go is required to build the control plane" >&2; exit 1; }
  minor=${K8S#v1.}; minor=${minor%%.*}
  # What the release build stamps in (hack/lib/version.sh); without it the binaries call themselves v0.0.0.
  v=k8s.io/component-base/version
  flags="-s -w -X $v.gitVersion=$K8S -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  flags="$flags -X k8s.io/client-go/pkg/version.gitVersion=$K8S -X k8s.io/client-go/pkg/version.gitMajor=1"
  flags="$flags -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  rm -rf "$DIR.tmp" && mkdir -p "$DIR.tmp"
  CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$DIR.tmp/" tool ./etcd
  for b in $BINARIES; do [ -x "$DIR.tmp/$b" ] || { echo "the build made no $b" >&2; exit 1; }; done
  "$DIR.tmp/kube-apiserver" --version | grep -qx "Kubernetes $K8S" \
    || { echo "built kube-apiserver is not $K8S: $("$DIR.tmp/kube-apiserver" --version)" >&2; exit 1; }
  touch "$DIR.tmp/.complete"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
  echo "control plane $K8S (etcd $ETCD) built"
fi
echo "$DIR"
