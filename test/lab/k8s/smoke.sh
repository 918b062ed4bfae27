#!/usr/bin/env bash
# End-to-end check of one running lab cluster (default: seed) with the built
# helm and kubectl:
#   - helm upgrade --install --wait --wait-for-jobs of testdata/smoke-chart
#     (a Deployment, a Service, a Job and a post-install hook Job);
#   - the Deployment is Available, both Jobs Complete, the Service has endpoints;
#   - a second `helm upgrade` (re-runs the hook);
#   - helm uninstall, then the namespace is deleted (needs the namespace and
#     garbage-collector controllers) and can be created again.
#
#   test/lab/k8s/smoke.sh [NAME]
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${1:-seed}"
lab_check_name "$name"
kubeconfig="$lab_k8s_dir/$name/kubeconfig"
[[ -f "$kubeconfig" ]] || lab_die "no cluster '$name' (run up.sh $name)"
bin="$("$lab_k8s_here/build.sh" --print-dir)"
export KUBECONFIG="$kubeconfig"
helm="$bin/helm"
kubectl=("$bin/kubectl" --request-timeout=30s)

ns="smoke-$(date +%s)-$RANDOM"
release=smoke
chart="$lab_k8s_here/testdata/smoke-chart"
step_t0=0
step() { step_t0=$SECONDS; lab_log "smoke[$name]: $*"; }
took() { lab_log "smoke[$name]:   ok in $((SECONDS - step_t0))s"; }

cleanup() {
  if "${kubectl[@]}" get namespace "$ns" >/dev/null 2>&1; then
    "${kubectl[@]}" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "server version"
"${kubectl[@]}" version -o yaml | sed -n '/serverVersion/,$p' | grep -E 'gitVersion|platform' >&2
"$helm" version --short >&2
took

step "helm upgrade --install --wait --wait-for-jobs into namespace $ns"
"$helm" upgrade --install "$release" "$chart" --namespace "$ns" --create-namespace \
  --wait --wait-for-jobs --timeout 90s
took

step "checks: Deployment Available, Jobs Complete, Service endpoints"
"${kubectl[@]}" -n "$ns" wait --for=condition=Available "deployment/$release-web" --timeout=10s
"${kubectl[@]}" -n "$ns" wait --for=condition=Complete "job/$release-migrate" "job/$release-hook" --timeout=10s
"${kubectl[@]}" -n "$ns" get pods -o wide >&2
eps="$("${kubectl[@]}" -n "$ns" get endpointslices -l "kubernetes.io/service-name=$release-web" \
  -o jsonpath='{.items[*].endpoints[*].addresses[*]}')"
[[ -n "$eps" ]] || lab_die "service $release-web has no endpoints"
lab_log "smoke[$name]:   endpoints: $eps"
took

step "helm upgrade (hook runs again)"
"$helm" upgrade "$release" "$chart" --namespace "$ns" --set replicas=3 --wait --wait-for-jobs --timeout 90s
"${kubectl[@]}" -n "$ns" wait --for=condition=Complete "job/$release-hook" --timeout=10s
took

step "helm uninstall"
"$helm" uninstall "$release" --namespace "$ns" --wait --timeout 60s
took

step "delete namespace $ns (namespace controller + garbage collector)"
"${kubectl[@]}" delete namespace "$ns" --wait=true --timeout=90s
took

step "re-create namespace $ns"
"${kubectl[@]}" create namespace "$ns"
"${kubectl[@]}" delete namespace "$ns" --wait=true --timeout=90s
took

lab_log "smoke[$name]: all checks passed"
