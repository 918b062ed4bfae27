#!/usr/bin/env bash
# Build the real Cluster API managers (and the tools the lab's boot simulator
# needs) from the Go module proxy, or reuse them.
#
#   test/lab/capi/build.sh              build if needed; prints the bin dir on stdout
#   test/lab/capi/build.sh --print-dir  print the bin dir only (no build; exit 1 if absent)
#   test/lab/capi/build.sh --key        print the cache key only
#   test/lab/capi/build.sh --prune      delete other keys' bin dirs from the cache
#   test/lab/capi/build.sh --simulator  print the boot simulator's path only (no build; exit 1 if absent)
#
# Output: ${CAPI_LAB_CACHE:-$HOME/.cache/capi-mgmt-lab}/capi/bin/<key>/ holding
#   capi-manager, kubeadm-bootstrap-manager, kubeadm-control-plane-manager
#                  cluster-api (gomod/capi: cluster-api + cluster-api/api)
#   capo-manager   cluster-api-provider-openstack (gomod/capo)
#   orc-manager    openstack-resource-controller (gomod/orc)
#   kwok           kwok, from the k8s lab's wrapper (../k8s/gomod/kwok), for the simulator
#   etcdctl        at the lab etcd's version (gomod/etcdctl)
#   kcp-etcd-probe KCP's own etcd client path as a command (gomod/capi/kcp-etcd-probe)
#   VERSIONS, BUILD-TIMES
# and ${CAPI_LAB_CACHE}/capi/simulator/<key>/boot-simulator (simulator/, its
# own wrapper module with gomod/capi's requirements), keyed apart so a change
# to the simulator rebuilds only it (about 5 s with the managers' GOCACHE).
# <key> hashes the go.mod/go.sum files, the build flags and the Go version.
# Versions come from the wrapper go.mod files, which must match
# src/model/versions.ts (checked). Modules are fetched at exact versions only
# (go build -mod=readonly never asks the proxy for a version list, which it
# refuses for some of these modules).
#
# Environment:
#   CAPI_LAB_CACHE        cache root (default ~/.cache/capi-mgmt-lab)
#   CAPI_LAB_BUILD_JOBS   go build -p (default 2)
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

jobs="${CAPI_LAB_BUILD_JOBS:-2}"
kwok_gomod="$capi_here/../k8s/gomod/kwok"

command -v go >/dev/null || capi_die "go is not on PATH (the lab needs Go >= 1.26 and the module proxy)"
capi_check_pins

capi_version="$(capi_version_of capi)"
capo_version="$(capi_version_of capo)"
orc_version="$(capi_version_of orc)"
kwok_version="$(capi_modver "$kwok_gomod/go.mod" sigs.k8s.io/kwok)"
etcdctl_version="$(capi_modver "$capi_gomod/etcdctl/go.mod" go.etcd.io/etcd/etcdctl/v3)"
for v in capi_version capo_version orc_version kwok_version etcdctl_version; do
  [[ -n "${!v}" ]] || capi_die "cannot read $v from the wrapper go.mod files"
done

# Version stamps, as each project's hack/version.sh sets them for a release.
stamp() { # <version package> <version>
  local pkg="$1" v="$2" major minor
  major="$(cut -d. -f1 <<<"${v#v}")"
  minor="$(cut -d. -f2 <<<"$v")"
  printf -- '-X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=1970-01-01T00:00:00Z' \
    "$pkg" "$v" "$pkg" "$major" "$pkg" "$minor" "$pkg" "$pkg"
}
capi_ldflags="-s -w $(stamp sigs.k8s.io/cluster-api/version "$capi_version")"
capo_ldflags="-s -w $(stamp sigs.k8s.io/cluster-api-provider-openstack/version "$capo_version")"
orc_ldflags="-s -w $(stamp github.com/k-orc/openstack-resource-controller/v2/internal/version "$orc_version")"
# Same flags as test/lab/k8s/build.sh uses for kwok, so its compiled packages
# come from GOCACHE.
kwok_ldflags="-s -w"
etcdctl_ldflags="-s -w"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"

go_version="$(go env GOVERSION)"
goos_arch="$(go env GOOS)/$(go env GOARCH)"

key="$(
  {
    printf '%s\n' "$go_version" "$goos_arch" "$GOFLAGS" "CGO_ENABLED=$CGO_ENABLED" \
      "$capi_ldflags" "$capo_ldflags" "$orc_ldflags" "$kwok_ldflags" "$etcdctl_ldflags" "recipe=1"
    for m in capi capo orc etcdctl; do cat "$capi_gomod/$m/go.mod" "$capi_gomod/$m/go.sum"; done
    cat "$kwok_gomod/go.mod" "$kwok_gomod/go.sum"
  } | sha256sum | cut -c1-16
)"
bin_root="$capi_cache/bin"
bin_dir="$bin_root/$key"
binaries=(capi-manager kubeadm-bootstrap-manager kubeadm-control-plane-manager capo-manager orc-manager kwok etcdctl
  kcp-etcd-probe)

sim_src="$capi_here/simulator"
sim_key="$(
  {
    printf '%s\n' "$go_version" "$goos_arch" "$GOFLAGS" "CGO_ENABLED=$CGO_ENABLED" "recipe=1"
    cat "$sim_src"/go.mod "$sim_src"/go.sum "$sim_src"/*.go
  } | sha256sum | cut -c1-16
)"
sim_bin="$capi_cache/simulator/$sim_key/boot-simulator"

# The simulator's wrapper must require exactly what gomod/capi requires, so
# it is built against the managers' cluster-api and reuses their packages.
build_simulator() {
  [[ -x "$sim_bin" ]] && return 0
  local requires_sim requires_capi t0=$SECONDS
  requires_sim="$(sed -n '/^require/,$p' "$sim_src/go.mod")"
  requires_capi="$(sed -n '/^require/,$p' "$capi_gomod/capi/go.mod")"
  [[ "$requires_sim" == "$requires_capi" ]] && cmp -s "$sim_src/go.sum" "$capi_gomod/capi/go.sum" ||
    capi_die "$sim_src/go.mod or go.sum differ from $capi_gomod/capi's: copy its require blocks and go.sum"
  mkdir -p "${sim_bin%/*}"
  capi_log "go build boot-simulator ..."
  (cd "$sim_src" && go build -p "$jobs" -ldflags "-s -w" -o "$sim_bin.tmp.$$" .)
  mv "$sim_bin.tmp.$$" "$sim_bin"
  capi_log "built $sim_bin in $((SECONDS - t0))s"
}

complete() {
  [[ -f "$bin_dir/.complete" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

case "${1:-}" in
  --key) echo "$key"; exit 0 ;;
  --print-dir) complete || capi_die "managers not built yet: run $0"; echo "$bin_dir"; exit 0 ;;
  --simulator) [[ -x "$sim_bin" ]] || capi_die "boot simulator not built yet: run $0"; echo "$sim_bin"; exit 0 ;;
  --prune)
    for d in "$bin_root"/*/; do
      d="${d%/}"
      [[ -d "$d" && "$d" != "$bin_dir" ]] || continue
      capi_log "deleting $d"
      rm -rf "$d"
    done
    exit 0
    ;;
  "") ;;
  *) capi_die "usage: $0 [--print-dir|--key|--prune|--simulator]" ;;
esac

versions_line="cluster-api $capi_version, CAPO $capo_version, ORC $orc_version, kwok $kwok_version, etcdctl $etcdctl_version"
if complete; then
  capi_log "reusing $bin_dir ($versions_line)"
  build_simulator
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$bin_root"
exec 9>"$bin_root/.lock"
capi_log "waiting for the build lock $bin_root/.lock"
flock 9
if complete; then # another process built it while we waited
  capi_log "reusing $bin_dir (built concurrently)"
  build_simulator
  echo "$bin_dir"
  exit 0
fi

tmp="$bin_root/.tmp-$key-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

capi_log "building $versions_line into $bin_dir with $go_version, -p $jobs (GOCACHE=$(go env GOCACHE), GOMODCACHE=$(go env GOMODCACHE))"
start=$SECONDS
: >"$tmp/BUILD-TIMES"

# Download a module's packages at the exact versions in go.mod/go.sum
# (go list -deps fetches only what the build needs; `go mod download` would
# also fetch test-only modules, some of which the proxy refuses).
fetch() { # <module dir> <packages...>
  local dir="$1" t0=$SECONDS
  shift
  (cd "$dir" && go list -deps "$@" >/dev/null)
  printf 'download %s: %ss\n' "$(basename "$dir")" "$((SECONDS - t0))" | tee -a "$tmp/BUILD-TIMES" >&2
}

step() { # <binary> <module dir> <ldflags> <package>
  local out="$1" dir="$2" ldflags="$3" pkg="$4" t0=$SECONDS
  capi_log "go build $out ($pkg) ..."
  (cd "$dir" && go build -p "$jobs" -ldflags "$ldflags" -o "$tmp/$out" "$pkg")
  printf 'build %s: %ss\n' "$out" "$((SECONDS - t0))" | tee -a "$tmp/BUILD-TIMES" >&2
}

# The downloads wait on the network, not the CPU: all five at once (the
# module cache locks what two of them share).
fetches=()
fetch "$capi_gomod/capi" sigs.k8s.io/cluster-api/core sigs.k8s.io/cluster-api/bootstrap/kubeadm \
  sigs.k8s.io/cluster-api/controlplane/kubeadm &
fetches+=($!)
fetch "$capi_gomod/capo" sigs.k8s.io/cluster-api-provider-openstack &
fetches+=($!)
fetch "$capi_gomod/orc" github.com/k-orc/openstack-resource-controller/v2/cmd/manager &
fetches+=($!)
fetch "$capi_gomod/etcdctl" go.etcd.io/etcd/etcdctl/v3 &
fetches+=($!)
fetch "$kwok_gomod" sigs.k8s.io/kwok/cmd/kwok &
fetches+=($!)
for p in "${fetches[@]}"; do wait "$p" || capi_die "downloading the modules failed (see above)"; done

# The three cluster-api managers share ~1,300 packages: the first build
# compiles them, the other two mostly link.
step capi-manager "$capi_gomod/capi" "$capi_ldflags" sigs.k8s.io/cluster-api/core
step kubeadm-bootstrap-manager "$capi_gomod/capi" "$capi_ldflags" sigs.k8s.io/cluster-api/bootstrap/kubeadm
step kubeadm-control-plane-manager "$capi_gomod/capi" "$capi_ldflags" sigs.k8s.io/cluster-api/controlplane/kubeadm
step kcp-etcd-probe "$capi_gomod/capi" "-s -w" ./kcp-etcd-probe
step capo-manager "$capi_gomod/capo" "$capo_ldflags" sigs.k8s.io/cluster-api-provider-openstack
step orc-manager "$capi_gomod/orc" "$orc_ldflags" github.com/k-orc/openstack-resource-controller/v2/cmd/manager
step etcdctl "$capi_gomod/etcdctl" "$etcdctl_ldflags" go.etcd.io/etcd/etcdctl/v3
step kwok "$kwok_gomod" "$kwok_ldflags" sigs.k8s.io/kwok/cmd/kwok

{
  echo "key=$key"
  echo "go=$go_version"
  echo "cluster-api=$capi_version"
  echo "capo=$capo_version"
  echo "orc=$orc_version"
  echo "kwok=$kwok_version"
  echo "etcdctl=$etcdctl_version"
} >"$tmp/VERSIONS"
printf 'total: %ss\n' "$((SECONDS - start))" >>"$tmp/BUILD-TIMES"
touch "$tmp/.complete"

rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
trap - EXIT
capi_log "built in $((SECONDS - start))s: $bin_dir"
du -sh "$bin_dir" >&2
build_simulator
echo "$bin_dir"
