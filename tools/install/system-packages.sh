#!/usr/bin/env bash
# Installs the Debian packages the integration tests run as real servers: PostgreSQL and Redis.
# Idempotent: does nothing when they are present. Runs as root (sessions and CI do).
# The packages' maintainer scripts would create and start system services; the tests start their
# own servers on free ports instead, so service starts are blocked during the install.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: $(ls -d /usr/lib/postgresql/*/ | xargs -n1 basename | sed 's/^/postgresql-/'), $(redis-server --version | awk '{print $3}')"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "need root to apt-get install: ${missing[*]}" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap 'if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
  || echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
