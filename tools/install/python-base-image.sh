#!/usr/bin/env bash
# Builds the base image the workloads image is built FROM in the tests, from Debian packages only
# (no registry serves docker.io/library/python here): bookworm minbase with Debian's python3, and a
# virtual environment rooted at /usr/local, which reproduces the official python image's layout
# (python and pip in /usr/local/bin, packages in /usr/local/lib/python3.11/site-packages; Debian's
# own pip with --prefix would put them under local/ where that Python never looks). Imported into
# podman as localhost/mlops-python-base:<hash of this script>, so a rebuild happens only when this
# recipe changes. Prints the image reference last.
set -euo pipefail
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
tag=$(sha256sum "$0" | cut -c1-12)
IMAGE=localhost/mlops-python-base:$tag
if podman image exists "$IMAGE"; then
  echo "python base image $IMAGE present"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  # Debian's "slim" images' dpkg and apt settings (debuerreotype), as the official python:*-slim
  # inherits them: no manuals, docs (except copyrights) or translations, and apt keeps no package
  # cache after installing (the Dockerfile's `apt-get install` relies on it).
  slim=()
  for path in doc groff info linda lintian locale man; do slim+=(--dpkgopt="path-exclude=/usr/share/$path/*"); done
  slim+=(--dpkgopt='path-include=/usr/share/doc/*/copyright')
  clean='rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true'
  printf 'DPkg::Post-Invoke { "%s"; };\nAPT::Update::Post-Invoke { "%s"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
    "$clean" "$clean" > "$work/docker-clean"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates,netbase,tzdata "${slim[@]}" \
    --customize-hook="cp $work/docker-clean \"\$1\"/etc/apt/apt.conf.d/docker-clean" \
    --customize-hook='chroot "$1" python3 -m venv /usr/local' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
    "$SUITE" "$work/base.tar" "$MIRROR"
  # The official image's environment: /usr/local first on PATH, a UTF-8 locale, python as CMD.
  podman import --quiet --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$work/base.tar" "$IMAGE" >/dev/null
  echo "python base image $IMAGE built"
  podman images --format '{{.Repository}}:{{.Tag}}' localhost/mlops-python-base | grep -vx "$IMAGE" \
    | xargs -r podman rmi --force >/dev/null 2>&1 || true
fi
echo "$IMAGE"
