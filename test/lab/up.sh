#!/usr/bin/env bash
# Starts the whole lab: OpenStack (Debian packages), the Kubernetes clusters
# (binaries built from the Go module proxy, cached outside the repo), the
# seed host (OpenSSH on loopback), the real Cluster API managers and boot
# simulator for the seed cluster, and the download mirror. Idempotent: what
# runs is left alone.
# State: .lab/ at the repo root. Heavy caches: ${CAPI_LAB_CACHE:-~/.cache/capi-mgmt-lab}.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
lab=${CAPI_LAB_DIR:-$root/.lab}
mkdir -p "$lab/env.d"

# Debian packages every part of the lab needs besides OpenStack's own.
need=()
for pair in sshd:openssh-server shellcheck:shellcheck openssl:openssl iptables:iptables; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "lab: installing ${need[*]}"
  compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
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

# The download mirror serves what a real runner fetches from GitHub and the
# chart repositories (test/lab/mirror/), on a fixed loopback port.
start_mirror() {
  local pidfile=$lab/mirror.pid envfile=$lab/env.d/mirror.sh port=${CAPI_LAB_MIRROR_PORT:-22080}
  local url=http://127.0.0.1:$port
  if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
    # shellcheck disable=SC1091
    . "$lab/env.d/k8s.sh"
    CAPI_LAB_HELM=$CAPI_LAB_HELM setsid node --import tsx "$here/mirror/main.ts" --port "$port" \
      </dev/null >"$lab/mirror.log" 2>&1 &
    echo $! > "$pidfile"
  fi
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$url/index.yaml" 2>/dev/null; then
      echo "export CAPI_LAB_MIRROR_URL=$url" > "$envfile"
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.5
  done
  echo "lab: the mirror did not start:" >&2
  tail -n 20 "$lab/mirror.log" >&2
  return 1
}

# The real Cluster API on the seed cluster: the release manifests rendered
# from the pinned modules (the mirror serves them), and the managers and the
# boot simulator as host processes (test/lab/capi/README.md).
start_cluster_api() {
  local manifests
  manifests=$(bash "$here/capi/manifests.sh")
  printf 'export CAPI_LAB_CAPI_MANIFESTS=%q\n' "$manifests" > "$lab/env.d/capi.sh"
  CAPI_LAB_DIR=$lab bash "$here/capi/run.sh" supervise
}

built() { # <pid> <what> <log>
  if ! wait "$1"; then
    echo "lab: building $2 failed:" >&2
    tail -n 40 "$3" >&2
    exit 1
  fi
}

# The Go builds take longest cold; they run while OpenStack starts. The
# Kubernetes binaries come first (the clusters need them); the Cluster API
# managers build at a lower priority beside them.
bash "$here/k8s/build.sh" > "$lab/k8s-build.log" 2>&1 &
build_pid=$!
nice -n 5 bash "$here/capi/build.sh" > "$lab/capi-build.log" 2>&1 &
capi_build_pid=$!
step openstack bash "$here/openstack/up.sh"
built "$build_pid" "the Kubernetes binaries" "$lab/k8s-build.log"
step kubernetes bash "$here/k8s/up.sh"
[ -f "$here/seed-host/up.sh" ] && step seed-host bash "$here/seed-host/up.sh"
built "$capi_build_pid" "the Cluster API managers" "$lab/capi-build.log"
step cluster-api start_cluster_api
step mirror start_mirror

cat "$lab"/env.d/*.sh > "$lab/env"
echo "lab: up in $(( $(date +%s) - start )) s; exports in $lab/env"
