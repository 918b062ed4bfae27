#!/usr/bin/env bash
# Build the lab's Kubernetes binaries from the Go module proxy, or reuse them.
#
#   test/lab/k8s/build.sh            build if needed; prints the bin dir on stdout
#   test/lab/k8s/build.sh --print-dir  print the bin dir only (no build; exit 1 if absent)
#   test/lab/k8s/build.sh --key        print the cache key only
#   test/lab/k8s/build.sh --prune      delete other keys' bin dirs from the cache
#
# Output: ${CAPI_LAB_CACHE:-$HOME/.cache/capi-mgmt-lab}/k8s-bin/<key>/ holding
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok,
# helm, kwok-stages.yaml (kwok's default Node and Pod stages, taken from the
# pinned kwok module) and VERSIONS. <key> is a hash of the go.mod/go.sum files, the build flags
# and the Go version, so any change to the recipe builds into a new directory.
# Progress goes to stderr; only the bin dir goes to stdout.
#
# Environment:
#   CAPI_LAB_CACHE        cache root (default ~/.cache/capi-mgmt-lab)
#   CAPI_LAB_BUILD_JOBS   go build -p (default 2)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$here/gomod"
cache_root="${CAPI_LAB_CACHE:-$HOME/.cache/capi-mgmt-lab}"
jobs="${CAPI_LAB_BUILD_JOBS:-2}"

log() { printf '[k8s-build] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Version of a module as pinned in one of the wrapper go.mod files.
modver() { # <module dir> <module path>
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$gomod/$1/go.mod"
}

# Login shells (the seed host's sessions, some CI steps) may lack Go's own bin dir.
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || die "go is not on PATH (the lab needs Go >= 1.26 and the module proxy)"

k8s_version="$(modver k8s k8s.io/kubernetes)"
etcd_version="$(modver k8s go.etcd.io/etcd/server/v3)"
kwok_version="$(modver kwok sigs.k8s.io/kwok)"
helm_version="$(modver helm helm.sh/helm/v3)"
helm_client_go="$(modver helm k8s.io/client-go)"
for v in k8s_version etcd_version kwok_version helm_version helm_client_go; do
  [[ -n "${!v}" ]] || die "cannot read $v from $gomod/*/go.mod"
done

k8s_minor="$(cut -d. -f2 <<<"$k8s_version")"
helm_k8s_minor="$(cut -d. -f2 <<<"$helm_client_go")"

# Version stamps, as Kubernetes' hack/lib/version.sh and helm's Makefile set them.
# Without them /version reports v0.0.0-master and helm rejects charts that
# declare kubeVersion.
kv=k8s.io/component-base/version
cv=k8s.io/client-go/pkg/version
k8s_ldflags="-s -w -X $kv.gitVersion=$k8s_version -X $kv.gitMajor=1 -X $kv.gitMinor=$k8s_minor"
k8s_ldflags+=" -X $kv.gitTreeState=clean -X $kv.buildDate=1970-01-01T00:00:00Z"
k8s_ldflags+=" -X $cv.gitVersion=$k8s_version -X $cv.gitMajor=1 -X $cv.gitMinor=$k8s_minor"
k8s_ldflags+=" -X $cv.gitTreeState=clean -X $cv.buildDate=1970-01-01T00:00:00Z"
etcd_ldflags="-s -w"
kwok_ldflags="-s -w"
hv=helm.sh/helm/v3
helm_ldflags="-s -w -X $hv/internal/version.version=$helm_version -X $hv/internal/version.gitTreeState=clean"
for p in pkg/chartutil pkg/lint/rules; do
  helm_ldflags+=" -X $hv/$p.k8sVersionMajor=1 -X $hv/$p.k8sVersionMinor=$helm_k8s_minor"
done

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"

go_version="$(go env GOVERSION)"
goos_arch="$(go env GOOS)/$(go env GOARCH)"

key="$(
  {
    printf '%s\n' "$go_version" "$goos_arch" "$GOFLAGS" "CGO_ENABLED=$CGO_ENABLED" \
      "$k8s_ldflags" "$etcd_ldflags" "$kwok_ldflags" "$helm_ldflags" "recipe=1"
    for m in k8s kwok helm; do cat "$gomod/$m/go.mod" "$gomod/$m/go.sum"; done
  } | sha256sum | cut -c1-16
)"
bin_root="$cache_root/k8s-bin"
bin_dir="$bin_root/$key"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)

complete() {
  [[ -f "$bin_dir/.complete" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
  [[ -s "$bin_dir/kwok-stages.yaml" ]]
}

case "${1:-}" in
  --key) echo "$key"; exit 0 ;;
  --print-dir) complete || die "binaries not built yet: run $0"; echo "$bin_dir"; exit 0 ;;
  --prune)
    for d in "$bin_root"/*/; do
      d="${d%/}"
      [[ -d "$d" && "$d" != "$bin_dir" ]] || continue
      log "deleting $d"
      rm -rf "$d"
    done
    exit 0
    ;;
  "") ;;
  *) die "usage: $0 [--print-dir|--key|--prune]" ;;
esac

if complete; then
  log "reusing $bin_dir (kubernetes $k8s_version, etcd $etcd_version, kwok $kwok_version, helm $helm_version)"
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$bin_root"
exec 9>"$bin_root/.lock"
log "waiting for the build lock $bin_root/.lock"
flock 9
if complete; then # another process built it while we waited
  log "reusing $bin_dir (built concurrently)"
  echo "$bin_dir"
  exit 0
fi

tmp="$bin_root/.tmp-$key-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

log "building into $bin_dir with $go_version, -p $jobs (GOCACHE=$(go env GOCACHE), GOMODCACHE=$(go env GOMODCACHE))"
start=$SECONDS

step() { # <label> <module dir> <ldflags> <go build args...>
  local label="$1" dir="$2" ldflags="$3" t0=$SECONDS
  shift 3
  log "go build $label ..."
  (cd "$gomod/$dir" && go build -p "$jobs" -ldflags "$ldflags" "$@")
  log "go build $label done in $((SECONDS - t0))s"
}

step "kube-apiserver kube-controller-manager kube-scheduler kubectl $k8s_version" k8s "$k8s_ldflags" \
  -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
step "etcd $etcd_version" k8s "$etcd_ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
step "kwok $kwok_version" kwok "$kwok_ldflags" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
step "helm $helm_version" helm "$helm_ldflags" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm

# kwok has no built-in stages when run on its own (kwokctl normally writes them
# into its config), so ship the defaults kwokctl uses: node-initialize,
# node-heartbeat-with-lease and the fast pod-ready/pod-complete/pod-delete.
kwok_src="$(cd "$gomod/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
{
  echo "# kwok $kwok_version default stages, copied by build.sh from $kwok_src/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    grep -v '^---$' "$kwok_src/kustomize/stage/$f"
  done
} >"$tmp/kwok-stages.yaml"

{
  echo "key=$key"
  echo "go=$go_version"
  echo "kubernetes=$k8s_version"
  echo "etcd=$etcd_version"
  echo "kwok=$kwok_version"
  echo "helm=$helm_version"
} >"$tmp/VERSIONS"
touch "$tmp/.complete"

rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
trap - EXIT
log "built in $((SECONDS - start))s: $bin_dir"
du -sh "$bin_dir" >&2
echo "$bin_dir"
