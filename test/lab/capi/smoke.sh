#!/usr/bin/env bash
# Smoke run of the real Cluster API controllers against the lab OpenStack,
# with the boot simulator playing the machines. Uses no capi-mgmt code.
#
#   test/lab/capi/smoke.sh [--keep]     run; --keep leaves everything up (then `smoke.sh stop`)
#   test/lab/capi/smoke.sh stop         delete the Cluster (CAPO cleans OpenStack), stop everything
#
# 1. check.sh webhooks --keep: a throwaway management cluster on loopback
#    (etcd, kube-apiserver, ClusterRole aggregation), the rendered release
#    manifests applied, the five managers started (run.sh).
# 2. The boot simulator (build.sh --simulator) against that cluster.
# 3. A minimal cluster: Cluster + KubeadmControlPlane (1 replica) +
#    OpenStackCluster + 2 OpenStackMachineTemplates + KubeadmConfigTemplate +
#    MachineDeployment (1 replica), with the lab's application credential,
#    image fake-image, flavor m1.small, external network public. Control-plane
#    endpoint 127.0.77.1:6443 with disableAPIServerFloatingIP (README:
#    "control-plane endpoint").
# 4. Wait for Cluster Available=True, printing progress; then check the
#    workload kubeconfig lists Nodes whose provider IDs are the Nova servers.
# 5. Unless --keep: delete the Cluster, wait for CAPO to delete its OpenStack
#    resources, list what is left by tag and name (must be nothing), stop all.
#
# Needs the lab OpenStack up (CAPI_LAB_DIR, default /work/main/.lab style:
# <repo>/.lab) and build.sh + manifests.sh + ../k8s/build.sh done.
# Environment: CAPI_SMOKE_DIR (default /tmp/capi-smoke), CAPI_SMOKE_TIMEOUT
# (seconds to wait for Available, default 600), CAPI_SMOKE_HOLD (seconds the
# cluster must then stay Available and unchanged, default 150: past KCP's
# 2-minute etcd-member grace and kwok's 40 s node leases).
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${1:-run}"
dir="${CAPI_SMOKE_DIR:-/tmp/capi-smoke}"
lab_dir="${CAPI_LAB_DIR:-$capi_repo_root/.lab}"
timeout="${CAPI_SMOKE_TIMEOUT:-600}"
hold="${CAPI_SMOKE_HOLD:-150}"
ns=smoke
cluster=capi-smoke
tag=capi-lab-smoke
endpoint_host=127.0.77.1

log() { printf '[capi-smoke %s] %s\n' "$(date +%T)" "$*" >&2; }

k8s_bin="$("$capi_here/../k8s/build.sh" --print-dir)" || capi_die "run test/lab/k8s/build.sh first"
sim="$("$capi_here/build.sh" --simulator)" || capi_die "run test/lab/capi/build.sh first"
kubectl_() { "$k8s_bin/kubectl" --kubeconfig "$dir/check/admin.kubeconfig" --request-timeout=30s "$@"; }
os_() { OS_CLIENT_CONFIG_FILE="$lab_dir/clouds.yaml" openstack --os-cloud lab "$@"; }

stop_simulator() {
  [[ -f "$dir/simulator.pid" ]] || return 0
  local pid
  pid="$(<"$dir/simulator.pid")"
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--state-dir=$dir/"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/simulator.pid"
}

# What CAPO made for this cluster, as an independent listing: servers, ports,
# routers, networks, security groups and floating IPs tagged or named after it.
# shellcheck disable=SC2086 # $kind is two words for some resources
leftovers() {
  local kind out="$dir/leftovers"
  rm -rf "$out"
  mkdir -p "$out"
  # One listing per kind, side by side (each openstack call takes seconds).
  os_ --os-compute-api-version 2.53 server list -f value -c ID -c Name --tags "$tag" >"$out/server-tag" 2>&1 &
  for kind in server port router network subnet "security group" "floating ip"; do
    [[ "$kind" == server || "$kind" == subnet ]] ||
      os_ $kind list -f value -c ID --tags "$tag" >"$out/$kind-tag" 2>&1 &
    os_ $kind list -f value -c ID -c Name >"$out/$kind-all" 2>&1 &
  done
  wait
  for f in "$out"/*; do
    if [[ "$f" == *-tag ]]; then sed "s|^|${f##*/}: |" "$f"; else grep -F -- "$cluster" "$f" | sed "s|^|${f##*/} (name): |" || true; fi
  done
}

delete_cluster() {
  if kubectl_ get cluster "$cluster" -n "$ns" >/dev/null 2>&1; then
    local t0=$SECONDS
    log "deleting Cluster $ns/$cluster (CAPO deletes its OpenStack resources)"
    kubectl_ delete cluster "$cluster" -n "$ns" --wait=false >/dev/null
    if kubectl_ wait --for=delete "cluster/$cluster" -n "$ns" --timeout=300s >/dev/null 2>&1; then
      log "Cluster deleted in $((SECONDS - t0))s"
    else
      log "Cluster not deleted after 300s:"
      kubectl_ get cluster,openstackcluster,machine,openstackmachine -n "$ns" -o wide >&2 || true
    fi
  fi
}

stop_all() {
  [[ -d "$dir/check" ]] && delete_cluster
  stop_simulator
  CAPI_CHECK_DIR="$dir/check" "$capi_here/check.sh" stop
  local left
  left="$(leftovers)"
  if [[ -n "$left" ]]; then
    log "LEFT ON OPENSTACK:"
    printf '%s\n' "$left" >&2
    return 1
  fi
  log "nothing tagged $tag or named *$cluster* left on the lab OpenStack (servers, ports, routers, networks, subnets, security groups, floating IPs)"
}

if [[ "$mode" == stop ]]; then
  stop_all
  exit
fi
[[ "$mode" == run || "$mode" == --keep ]] || capi_die "usage: $0 [--keep|stop]"
[[ -f "$lab_dir/clouds.yaml" ]] || capi_die "$lab_dir/clouds.yaml missing: is the lab OpenStack up? (set CAPI_LAB_DIR)"
[[ -z "$(leftovers)" ]] || capi_die "the lab OpenStack already has resources of a previous smoke run: run $0 stop"
if ss -Htln "src $endpoint_host" | grep -q .; then capi_die "something listens on $endpoint_host already"; fi

t_start=$SECONDS
stop_simulator
rm -rf "$dir"
mkdir -p "$dir/sim"
chmod 700 "$dir"
[[ "$mode" == --keep ]] || trap 'stop_all' EXIT

# KCP re-reads the workload cluster at each sync; a short period makes the
# status follow the simulated machines sooner (README: ordering).
export CAPI_LAB_CAPI_ARGS_CONTROLPLANE="${CAPI_LAB_CAPI_ARGS_CONTROLPLANE:---sync-period=1m}"
CAPI_CHECK_DIR="$dir/check" "$capi_here/check.sh" webhooks --keep 2>"$dir/check.log" ||
  { tail -n 30 "$dir/check.log" >&2; capi_die "management cluster setup (check.sh webhooks) failed: $dir/check.log"; }
log "management cluster and managers up ($((SECONDS - t_start))s)"

(
  for f in /proc/self/fd/*; do
    n="${f##*/}"
    if ((n > 2)); then exec {n}>&-; fi
  done
  exec setsid "$sim" --kubeconfig="$dir/check/admin.kubeconfig" --k8s-bin="$k8s_bin" \
    --kwok="$("$capi_here/build.sh" --print-dir)/kwok" --state-dir="$dir/sim" </dev/null >"$dir/simulator.log" 2>&1
) &
echo "$!" >"$dir/simulator.pid"

# The credentials CAPO gets: the lab cloud's entry of clouds.yaml (an
# application credential), as the cluster layer will give it.
clouds="$(python3 - "$lab_dir/clouds.yaml" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"]["lab"]
print(yaml.safe_dump({"clouds": {"lab": c}}))
EOF
)"
kubectl_ create namespace "$ns" >/dev/null
kubectl_ create secret generic "$cluster-cloud-credentials" -n "$ns" --from-literal=clouds.yaml="$clouds" >/dev/null
version="$("$k8s_bin/kube-apiserver" --version | awk '{ print $2 }')"
kubectl_ apply -f - >/dev/null <<EOF
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: $cluster, namespace: $ns}
spec:
  clusterNetwork:
    pods: {cidrBlocks: [10.244.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
  controlPlaneRef: {apiGroup: controlplane.cluster.x-k8s.io, kind: KubeadmControlPlane, name: $cluster-control-plane}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: OpenStackCluster, name: $cluster}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: OpenStackCluster
metadata: {name: $cluster, namespace: $ns}
spec:
  identityRef: {name: $cluster-cloud-credentials, cloudName: lab}
  externalNetwork: {filter: {name: public}}
  managedSubnets: [{cidr: 192.168.77.0/24}]
  managedSecurityGroups: {allowAllInClusterTraffic: true}
  apiServerLoadBalancer: {enabled: false}
  disableAPIServerFloatingIP: true
  controlPlaneEndpoint: {host: $endpoint_host, port: 6443}
  tags: [$tag]
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: OpenStackMachineTemplate
metadata: {name: $cluster-control-plane, namespace: $ns}
spec:
  template:
    spec:
      flavor: m1.small
      image: {filter: {name: fake-image}}
      tags: [$tag]
---
apiVersion: controlplane.cluster.x-k8s.io/v1beta2
kind: KubeadmControlPlane
metadata: {name: $cluster-control-plane, namespace: $ns}
spec:
  replicas: 1
  version: $version
  machineTemplate:
    spec:
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: OpenStackMachineTemplate, name: $cluster-control-plane}
  kubeadmConfigSpec:
    initConfiguration:
      nodeRegistration: {name: '{{ local_hostname }}'}
    joinConfiguration:
      nodeRegistration: {name: '{{ local_hostname }}'}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: OpenStackMachineTemplate
metadata: {name: $cluster-md-0, namespace: $ns}
spec:
  template:
    spec:
      flavor: m1.small
      image: {filter: {name: fake-image}}
      tags: [$tag]
---
apiVersion: bootstrap.cluster.x-k8s.io/v1beta2
kind: KubeadmConfigTemplate
metadata: {name: $cluster-md-0, namespace: $ns}
spec:
  template:
    spec:
      joinConfiguration:
        nodeRegistration: {name: '{{ local_hostname }}'}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachineDeployment
metadata: {name: $cluster-md-0, namespace: $ns}
spec:
  clusterName: $cluster
  replicas: 1
  selector: {matchLabels: {}}
  template:
    spec:
      clusterName: $cluster
      version: $version
      bootstrap:
        configRef: {apiGroup: bootstrap.cluster.x-k8s.io, kind: KubeadmConfigTemplate, name: $cluster-md-0}
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: OpenStackMachineTemplate, name: $cluster-md-0}
EOF
log "applied Cluster $ns/$cluster (Kubernetes $version, endpoint $endpoint_host:6443)"

cond() { # <resource> <name> <type>
  kubectl_ get "$1" "$2" -n "$ns" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].status}" 2>/dev/null || true
}
t_applied=$SECONDS
declare -A seen=()
milestone() { # <label> <command...>: log once, with the time since apply, when the command first succeeds
  local label="$1"
  shift
  [[ -n "${seen[$label]:-}" ]] && return 0
  if "$@" >/dev/null 2>&1; then
    seen[$label]=$((SECONDS - t_applied))
    log "+${seen[$label]}s $label"
  fi
}
# shellcheck disable=SC2317 # called through milestone
is_true() { [[ "$(cond "$@")" == True ]]; }
# shellcheck disable=SC2317 # called through milestone
has_server() { [[ -n "$(kubectl_ get openstackmachine -n "$ns" -l "$1" -o jsonpath='{.items[*].spec.providerID}')" ]]; }
last_report=0
available=false
while ((SECONDS - t_applied < timeout)); do
  milestone "OpenStackCluster Ready (network, router, security groups)" is_true openstackcluster "$cluster" Ready
  milestone "control-plane server ACTIVE (providerID set)" has_server cluster.x-k8s.io/control-plane
  milestone "Cluster RemoteConnectionProbe True (workload API reached)" is_true cluster "$cluster" RemoteConnectionProbe
  milestone "Cluster ControlPlaneInitialized True" is_true cluster "$cluster" ControlPlaneInitialized
  milestone "worker server ACTIVE (providerID set)" has_server cluster.x-k8s.io/deployment-name
  milestone "KubeadmControlPlane Available True" is_true kubeadmcontrolplane "$cluster-control-plane" Available
  milestone "MachineDeployment Available True" is_true machinedeployment "$cluster-md-0" Available
  if is_true cluster "$cluster" Available; then
    available=true
    log "+$((SECONDS - t_applied))s Cluster Available True"
    # Nodes that report the Machines' kubelet version keep every Machine
    # up to date: no rollout starts (a second control-plane machine would).
    for _ in $(seq 30); do
      is_true cluster "$cluster" ControlPlaneMachinesUpToDate && is_true cluster "$cluster" WorkerMachinesUpToDate && break
      sleep 2
    done
    break
  fi
  if ((SECONDS - last_report >= 60)); then
    last_report=$SECONDS
    log "+$((SECONDS - t_applied))s waiting; Cluster conditions:"
    kubectl_ get cluster "$cluster" -n "$ns" -o go-template='{{range .status.conditions}}  {{.type}}={{.status}} {{.reason}}: {{.message}}{{"\n"}}{{end}}' >&2 || true
  fi
  sleep 2
done

report() {
  log "final state:"
  kubectl_ get cluster,openstackcluster,kubeadmcontrolplane,machinedeployment,machine,openstackmachine -n "$ns" -o wide >&2 || true
  for r in "cluster/$cluster" "kubeadmcontrolplane/$cluster-control-plane" "machinedeployment/$cluster-md-0"; do
    log "$r conditions:"
    kubectl_ get "$r" -n "$ns" -o go-template='{{range .status.conditions}}  {{.type}}={{.status}} {{.reason}}: {{.message}}{{"\n"}}{{end}}' >&2 || true
  done
  log "simulator log (tail):"
  tail -n 15 "$dir/simulator.log" >&2 || true
}
report

result=0
if $available; then
  # The workload API through the kubeconfig Secret KCP wrote, and the Nodes'
  # provider IDs against the Nova servers CAPO created.
  kubectl_ get secret "$cluster-kubeconfig" -n "$ns" -o jsonpath='{.data.value}' | base64 -d >"$dir/workload.kubeconfig"
  chmod 600 "$dir/workload.kubeconfig"
  nodes="$("$k8s_bin/kubectl" --kubeconfig "$dir/workload.kubeconfig" get nodes -o jsonpath='{range .items[*]}{.spec.providerID}{"\n"}{end}' | sort)"
  # CAPO's provider ID: openstack://<identityRef.region>/<server ID>.
  region="$(kubectl_ get openstackcluster "$cluster" -n "$ns" -o jsonpath='{.spec.identityRef.region}')"
  servers="$(os_ --os-compute-api-version 2.53 server list --tags "$tag" -f value -c ID | sed "s|^|openstack://$region/|" | sort)"
  log "workload Nodes' providerIDs: $(tr '\n' ' ' <<<"$nodes")"
  log "Nova servers tagged $tag:    $(tr '\n' ' ' <<<"$servers")"
  if [[ -n "$nodes" && "$nodes" == "$servers" ]]; then
    log "PASS Cluster Available; the Nodes are the Nova servers CAPO created"
  else
    log "FAIL the Nodes' providerIDs differ from the Nova servers"
    result=1
  fi
  stable() { # <when>
    local machines taints
    machines="$(kubectl_ get machines -n "$ns" -o name | wc -l)"
    taints="$("$k8s_bin/kubectl" --kubeconfig "$dir/workload.kubeconfig" get nodes -o jsonpath='{.items[*].spec.taints[*].key}')"
    if is_true cluster "$cluster" Available && is_true kubeadmcontrolplane "$cluster-control-plane" Available &&
      is_true cluster "$cluster" ControlPlaneMachinesUpToDate && is_true cluster "$cluster" WorkerMachinesUpToDate &&
      ((machines == 2)) && [[ "$taints" != *not-ready* && "$taints" != *unreachable* && "$taints" != *uninitialized* ]]; then
      log "PASS $1: Cluster and KCP Available, Machines up to date, no rollout (2 Machines), Node taints: $taints"
    else
      log "FAIL $1: not stable ($machines Machines, Node taints: $taints)"
      report
      result=1
    fi
  }
  stable "at Available"
  log "holding ${hold}s: the cluster must stay as it is"
  sleep "$hold"
  stable "after ${hold}s"
else
  log "FAIL Cluster not Available after ${timeout}s"
  result=1
fi
log "done in $((SECONDS - t_start))s (logs: $dir/simulator.log, $dir/check/lab/capi/logs/, $dir/sim/*/logs/)"
exit "$result"
