#!/usr/bin/env bash
# Starts the whole lab: OpenStack (Debian packages), the Kubernetes clusters
# (binaries built from the Go module proxy, cached outside the repo) and the
# seed host (OpenSSH on loopback). Idempotent: what runs is left alone.
# State: .lab/ at the repo root. Heavy caches: ${CAPI_LAB_CACHE:-~/.cache/capi-mgmt-lab}.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
lab=${CAPI_LAB_DIR:-$root/.lab}
mkdir -p "$lab/env.d"

# Debian packages every part of the lab needs besides OpenStack's own.
need=()
for pair in sshd:openssh-server shellcheck:shellcheck openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "lab: installing ${need[*]}"
  [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

start=$(date +%s)
step() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "lab: $name ..."
  "$@"
  echo "lab: $name ready in $(( $(date +%s) - t0 )) s"
}

# The Kubernetes binaries take longest cold; build them while OpenStack starts.
bash "$here/k8s/build.sh" > "$lab/k8s-build.log" 2>&1 &
build_pid=$!
step openstack bash "$here/openstack/up.sh"
if ! wait "$build_pid"; then
  echo "lab: building the Kubernetes binaries failed:" >&2
  tail -n 40 "$lab/k8s-build.log" >&2
  exit 1
fi
step kubernetes bash "$here/k8s/up.sh"
[ -f "$here/seed-host/up.sh" ] && step seed-host bash "$here/seed-host/up.sh"

cat "$lab"/env.d/*.sh > "$lab/env"
echo "lab: up in $(( $(date +%s) - start )) s; exports in $lab/env"
