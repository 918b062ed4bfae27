#!/usr/bin/env bash
# Lab stand-in for the K3s binary; make-k3s.sh bakes a version into a copy.
#
#   k3s --version      "k3s version <version> (lab stand-in)"
#   k3s server ...     start (or reuse) the lab cluster $CAPI_LAB_K3S_CLUSTER with
#                      test/lab/k8s/up.sh, write its kubeconfig where K3s writes
#                      its own ($CAPI_MGMT_ROOT/etc/rancher/k3s/k3s.yaml), then
#                      stay running like the real server
#   k3s kubectl ...    the lab's kubectl
set -euo pipefail
version='@K3S_VERSION@'
# Answering the version needs no lab; everything else runs inside a seed host session.
if [[ "${1:-}" =~ ^(--version|-v|version)$ ]]; then
  echo "k3s version $version (lab stand-in)"
  exit 0
fi
repo="${CAPI_LAB_REPO:?the K3s stand-in runs only inside a lab seed host session}"
# shellcheck source=standins/_lib.sh source-path=SCRIPTDIR
source "$repo/test/lab/seed-host/standins/_lib.sh"

case "${1:-}" in
  --version | -v | version)
    echo "k3s version $version (lab stand-in)"
    echo "go version go1.24.0 (lab)"
    ;;
  server)
    shift
    standin_call "k3s server $*"
    mode=0600
    while (($# > 0)); do
      case "$1" in
        --write-kubeconfig-mode) mode="$2"; shift 2 ;;
        *) shift ;;
      esac
    done
    cluster="${CAPI_LAB_K3S_CLUSTER:?set in the sandbox env.sh}"
    # Never start a (long) build from here: the lab builds its binaries up front.
    "$repo/test/lab/k8s/build.sh" --print-dir >/dev/null ||
      { echo "k3s (lab stand-in): the lab's Kubernetes binaries are not built (test/lab/k8s/build.sh)" >&2; exit 1; }
    echo "$cluster" >"$standin_state/k3s-cluster"
    # The lab cluster outlives this process (unlike a real K3s), so record the
    # running version first: the API may answer before up.sh returns.
    echo "$version" >"$standin_state/k3s-running-version"
    out="$("$repo/test/lab/k8s/up.sh" "$cluster" | tail -n 1)"
    kc="${out#* }"
    [[ -f "$kc" ]] || { echo "k3s (lab stand-in): no kubeconfig from up.sh ($out)" >&2; exit 1; }
    mkdir -p "$CAPI_MGMT_ROOT/etc/rancher/k3s"
    install -m "$mode" "$kc" "$CAPI_MGMT_ROOT/etc/rancher/k3s/k3s.yaml"
    echo "k3s (lab stand-in) $version serving $cluster"
    exec sleep infinity
    ;;
  kubectl)
    shift
    bin="$("$repo/test/lab/k8s/build.sh" --print-dir)"
    exec "$bin/kubectl" "$@"
    ;;
  *)
    echo "k3s (lab stand-in): unsupported command '${1:-}'" >&2
    exit 1
    ;;
esac
