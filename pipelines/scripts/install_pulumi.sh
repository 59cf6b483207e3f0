#!/usr/bin/env bash
# Install the Pulumi CLI at exactly $1 (the version requirements.txt pins for the SDK) into
# $HOME/.pulumi/bin, verifying the release checksum, and put it on the PATH of later steps.
set -euo pipefail
version="${1:?usage: install_pulumi.sh VERSION}"
archive="pulumi-v${version}-linux-x64.tar.gz"
base="https://github.com/pulumi/pulumi/releases/download/v${version}"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
curl -fsSL --retry 3 -o "$workdir/$archive" "$base/$archive"
curl -fsSL --retry 3 -o "$workdir/checksums.txt" "$base/pulumi-${version}-checksums.txt"
(cd "$workdir" && grep " ${archive}\$" checksums.txt | sha256sum --check --strict -)
tar -xzf "$workdir/$archive" -C "$workdir"   # a pulumi/ directory of binaries
mkdir -p "$HOME/.pulumi/bin"
cp "$workdir"/pulumi/* "$HOME/.pulumi/bin/"
"$HOME/.pulumi/bin/pulumi" version | grep -qx "v${version}"
echo "##vso[task.prependpath]$HOME/.pulumi/bin"
