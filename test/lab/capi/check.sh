#!/usr/bin/env bash
# Check, on a throwaway cluster (etcd, kube-apiserver, the ClusterRole
# aggregation controller, kwok), the two links the lab's Cluster API setup
# depends on, before any boot simulator exists:
#
#   etcd-link  KCP -> workload kube-apiserver pods/portforward -> kwok -> etcd:
#              a real etcd (TLS, client certificates) named after a kwok Node,
#              a mirror Pod kube-system/etcd-<node>, and kwok's
#              ClusterPortForward 2379 -> that etcd; then `kubectl port-forward`
#              + `etcdctl member list`, and kcp-etcd-probe (KCP's own client code).
#   webhooks   the rendered manifests applied, the five managers started with
#              run.sh, and objects sent through their webhooks (server-side
#              dry runs, a v1beta1 create that needs the conversion webhook,
#              an invalid object that must be denied).
#
#   test/lab/capi/check.sh [etcd-link|webhooks|all] [--keep]
#
# Needs test/lab/k8s/build.sh, build.sh and (for webhooks) manifests.sh done.
# Everything listens on 127.0.0.1; state under ${CAPI_CHECK_DIR:-/tmp/capi-check}
# (deleted at the start). --keep leaves the processes running (stop them with
# `check.sh stop`). Exit 0 when every check passed.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

what="${1:-all}"
keep="${2:-}"
dir="${CAPI_CHECK_DIR:-/tmp/capi-check}"
node=capi-check-cp-0
failures=0

log() { printf '[capi-check] %s\n' "$*" >&2; }
pass() { log "PASS $*"; }
fail() { log "FAIL $*"; failures=$((failures + 1)); }

# ---------------------------------------------------------------- processes

pid_alive() { [[ -f "$dir/$1.pid" ]] && kill -0 "$(<"$dir/$1.pid")" 2>/dev/null; }

start_proc() { # <name> <exe> <args...>
  local name="$1"
  shift
  (
    for f in /proc/self/fd/*; do
      n="${f##*/}"
      if ((n > 2)); then exec {n}>&-; fi
    done
    exec setsid "$@" </dev/null >"$dir/logs/$name.log" 2>&1
  ) &
  echo "$!" >"$dir/$name.pid"
}

stop_procs() {
  local name pid
  [[ -d "$dir" ]] || return 0
  CAPI_LAB_DIR="$dir/lab" "$capi_here/run.sh" stop 2>/dev/null || true
  for name in port-forward kwok kube-controller-manager kube-apiserver etcd; do
    [[ -f "$dir/$name.pid" ]] || continue
    pid="$(<"$dir/$name.pid")"
    # Only our own: every process here was started with a path under $dir.
    if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid"
  done
}

if [[ "$what" == stop ]]; then
  stop_procs
  exit 0
fi
case "$what" in etcd-link | webhooks | all) ;; *) capi_die "usage: $0 [etcd-link|webhooks|all|stop] [--keep]" ;; esac

wait_for() { # <what> <seconds> <command...>
  local label="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out waiting for $label"
      return 1
    fi
    sleep 0.3
  done
}

port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
declare -A taken=()
free_port() { # sets picked
  local p
  while :; do
    p=$((20000 + RANDOM % 12768))
    [[ -z "${taken[$p]:-}" ]] && ! port_in_use "$p" && break
  done
  taken[$p]=1
  picked="$p"
}

# ---------------------------------------------------------------- PKI

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # <base> <CN>
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 30 -sha256 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
cert() { # <base> <ca base> <subject> <extendedKeyUsage> [subjectAltName]
  local ext
  ext="$(printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment "extendedKeyUsage=$4")"
  [[ -z "${5:-}" ]] || ext+=$'\n'"subjectAltName=$5"
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 -sha256 \
    -out "$1.crt" -extfile <(echo "$ext") 2>/dev/null
  rm -f "$1.csr"
}

kubeconfig() { # <file> <port> <client base>
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: check
  cluster:
    server: https://127.0.0.1:$2
    certificate-authority-data: $(base64 -w0 <"$dir/pki/ca.crt")
users:
- name: check
  user:
    client-certificate-data: $(base64 -w0 <"$3.crt")
    client-key-data: $(base64 -w0 <"$3.key")
contexts:
- name: check
  context: {cluster: check, user: check}
current-context: check
EOF
  chmod 600 "$1"
}

# ---------------------------------------------------------------- cluster

k8s_bin="$("$capi_here/../k8s/build.sh" --print-dir)" || capi_die "run test/lab/k8s/build.sh first"
capi_bin="$("$capi_here/build.sh" --print-dir)" || capi_die "run test/lab/capi/build.sh first"
kubectl_() { "$k8s_bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" --request-timeout=20s "$@"; }

stop_procs
rm -rf "$dir"
mkdir -p "$dir/pki" "$dir/logs"
chmod 700 "$dir"
if [[ "$keep" != --keep ]]; then trap 'stop_procs' EXIT; fi
t_start=$SECONDS

pki="$dir/pki"
ca "$pki/ca" capi-check-ca
ca "$pki/etcd-ca" capi-check-etcd-ca
cert "$pki/apiserver" "$pki/ca" /CN=kube-apiserver serverAuth IP:127.0.0.1,DNS:localhost
cert "$pki/admin" "$pki/ca" "/O=system:masters/CN=check-admin" clientAuth
cert "$pki/kwok" "$pki/ca" "/O=system:masters/CN=kwok" clientAuth
cert "$pki/etcd-server" "$pki/etcd-ca" "/CN=$node" serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost,DNS:$node"
cert "$pki/apiserver-etcd-client" "$pki/etcd-ca" /CN=kube-apiserver-etcd-client clientAuth
# What KCP signs for itself with the <cluster>-etcd CA key.
cert "$pki/kcp-etcd-client" "$pki/etcd-ca" /CN=cluster-api.x-k8s.io clientAuth
openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null

free_port; etcd_port=$picked
free_port; etcd_peer_port=$picked
free_port; api_port=$picked
free_port; kwok_port=$picked
free_port; pf_port=$picked
kubeconfig "$dir/admin.kubeconfig" "$api_port" "$pki/admin"
kubeconfig "$dir/kwok.kubeconfig" "$api_port" "$pki/kwok"

start_proc etcd "$k8s_bin/etcd" --name="$node" --data-dir="$dir/etcd-data" \
  --listen-client-urls="https://127.0.0.1:$etcd_port" --advertise-client-urls="https://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster="$node=http://127.0.0.1:$etcd_peer_port" \
  --cert-file="$pki/etcd-server.crt" --key-file="$pki/etcd-server.key" \
  --client-cert-auth --trusted-ca-file="$pki/etcd-ca.crt" \
  --unsafe-no-fsync --log-level=warn
wait_for "etcd" 60 "$capi_bin/etcdctl" --endpoints="https://127.0.0.1:$etcd_port" --cacert="$pki/etcd-ca.crt" \
  --cert="$pki/apiserver-etcd-client.crt" --key="$pki/apiserver-etcd-client.key" endpoint health

start_proc kube-apiserver "$k8s_bin/kube-apiserver" \
  --etcd-servers="https://127.0.0.1:$etcd_port" --etcd-cafile="$pki/etcd-ca.crt" \
  --etcd-certfile="$pki/apiserver-etcd-client.crt" --etcd-keyfile="$pki/apiserver-etcd-client.key" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" --service-cluster-ip-range=10.96.0.0/16 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.key" --service-account-signing-key-file="$pki/sa.key" \
  --authorization-mode=RBAC --allow-privileged=true --endpoint-reconciler-type=none \
  --kubelet-preferred-address-types=InternalIP --profiling=false --v=1
wait_for "kube-apiserver /readyz" 120 curl -fsS --max-time 3 --cacert "$pki/ca.crt" \
  --cert "$pki/admin.crt" --key "$pki/admin.key" "https://127.0.0.1:$api_port/readyz"
# Only the ClusterRole aggregation controller: the release RBAC of the core and
# control-plane managers is an aggregated ClusterRole, empty without it.
start_proc kube-controller-manager "$k8s_bin/kube-controller-manager" --kubeconfig="$dir/admin.kubeconfig" \
  --controllers=clusterrole-aggregation --leader-elect=false --secure-port=0 --profiling=false --v=1
log "throwaway cluster: etcd 127.0.0.1:$etcd_port (TLS), kube-apiserver https://127.0.0.1:$api_port ($((SECONDS - t_start))s)"

# ---------------------------------------------------------------- etcd link

check_etcd_link() {
  local t0=$SECONDS out
  {
    cat "$k8s_bin/kwok-stages.yaml"
    cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: control-plane
spec:
  selector:
    matchNamespaces: [kube-system]
  forwards:
  - ports: [2379]
    target: {address: 127.0.0.1, port: $etcd_port}
EOF
  } >"$dir/kwok.yaml"
  start_proc kwok "$capi_bin/kwok" --kubeconfig="$dir/kwok.kubeconfig" --config="$dir/kwok.yaml" \
    --manage-all-nodes=true --node-ip=127.0.0.1 --node-port="$kwok_port" \
    --server-address="127.0.0.1:$kwok_port" --cidr=10.244.0.0/16 --v=WARN
  wait_for "kwok /healthz" 60 curl -fsS --max-time 3 "http://127.0.0.1:$kwok_port/healthz"

  # Order as the simulator will use it: etcd and its Pod first, then the Node.
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: etcd-$node
  namespace: kube-system
  labels: {component: etcd, tier: control-plane}
  annotations:
    kubernetes.io/config.mirror: capi-check
    kubernetes.io/config.source: file
spec:
  nodeName: $node
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.6.4-0
---
apiVersion: v1
kind: Node
metadata:
  name: $node
  labels:
    kubernetes.io/hostname: $node
    node-role.kubernetes.io/control-plane: ""
  annotations:
    kwok.x-k8s.io/node: fake
spec:
  providerID: openstack://RegionOne/00000000-0000-0000-0000-000000000000
  taints:
  - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}
EOF
  if wait_for "pod etcd-$node Ready" 60 kubectl_ -n kube-system wait --for=condition=Ready --timeout=5s "pod/etcd-$node"; then
    pass "mirror pod kube-system/etcd-$node Running and Ready on kwok node $node ($((SECONDS - t0))s)"
  else
    fail "mirror pod kube-system/etcd-$node not Ready"
    kubectl_ -n kube-system get pod "etcd-$node" -o yaml >&2 || true
    return
  fi

  # 1. kubectl port-forward (WebSocket tunnelling SPDY since Kubernetes 1.31) + etcdctl.
  start_proc port-forward "$k8s_bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" -n kube-system \
    port-forward --address 127.0.0.1 "pod/etcd-$node" "$pf_port:2379"
  if wait_for "port-forward" 20 port_in_use "$pf_port" &&
    out="$("$capi_bin/etcdctl" --endpoints="https://127.0.0.1:$pf_port" --cacert="$pki/etcd-ca.crt" \
      --cert="$pki/kcp-etcd-client.crt" --key="$pki/kcp-etcd-client.key" --command-timeout=15s \
      member list -w table 2>&1)"; then
    pass "kubectl port-forward pod/etcd-$node + etcdctl member list:"
    printf '%s\n' "$out" >&2
  else
    fail "kubectl port-forward + etcdctl member list: ${out:-port-forward did not listen}"
    tail -n 20 "$dir/logs/port-forward.log" >&2 || true
  fi

  # 2. KCP's own client (pods/portforward dialer, TLS without host name).
  local t1=$SECONDS
  if out="$("$capi_bin/kcp-etcd-probe" --kubeconfig "$dir/admin.kubeconfig" --node "$node" \
    --etcd-ca "$pki/etcd-ca.crt" --client-cert "$pki/kcp-etcd-client.crt" --client-key "$pki/kcp-etcd-client.key" 2>"$dir/logs/kcp-etcd-probe.log")"; then
    if grep -q "\"Name\":\"$node\"" <<<"$out"; then
      pass "kcp-etcd-probe (KCP's etcd client through pods/portforward) in $((SECONDS - t1))s: $out"
    else
      fail "kcp-etcd-probe answered, but no member named $node: $out"
    fi
  else
    fail "kcp-etcd-probe: $(tail -n 5 "$dir/logs/kcp-etcd-probe.log")"
  fi

  # 3. A client certificate from another CA must be refused by etcd (the link checks TLS end to end).
  cert "$pki/stranger" "$pki/ca" /CN=cluster-api.x-k8s.io clientAuth
  if "$capi_bin/kcp-etcd-probe" --kubeconfig "$dir/admin.kubeconfig" --node "$node" --timeout 20s \
    --etcd-ca "$pki/etcd-ca.crt" --client-cert "$pki/stranger.crt" --client-key "$pki/stranger.key" >/dev/null 2>&1; then
    fail "etcd accepted a client certificate signed by another CA"
  else
    pass "etcd refuses a client certificate from another CA through the same link"
  fi
}

# ---------------------------------------------------------------- webhooks

# One kubectl call through the webhooks, judged: "ok" must succeed; "denied"
# must fail with <message> (a text only the webhook produces) in the error.
try() { # <label> <ok|denied> <message or -> <kubectl args...>
  local label="$1" expect="$2" message="$3" out rc=0 t0 ms
  shift 3
  t0=$(date +%s%N)
  out="$(kubectl_ "$@" 2>&1)" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  if { [[ "$expect" == ok ]] && ((rc == 0)); } ||
    { [[ "$expect" == denied ]] && ((rc != 0)) && grep -qF -- "$message" <<<"$out"; }; then
    pass "$label (${ms}ms): $(head -c 700 <<<"$out" | tr '\n' ' ')"
  else
    fail "$label, expected $expect${message/#-/} (${ms}ms): $(head -c 1200 <<<"$out" | tr '\n' ' ')"
  fi
}

check_webhooks() {
  local manifests t0=$SECONDS f
  manifests="$("$capi_here/manifests.sh" --print-dir)" || { fail "manifests not rendered: run manifests.sh"; return; }
  local files=(
    "$manifests"/kubernetes-sigs/cluster-api/releases/download/*/cluster-api-components.yaml
    "$manifests"/kubernetes-sigs/cluster-api-provider-openstack/releases/download/*/infrastructure-components.yaml
    "$manifests"/k-orc/openstack-resource-controller/releases/download/*/install.yaml
  )
  for f in "${files[@]}"; do
    kubectl_ apply --server-side --force-conflicts -f "$f" >"$dir/logs/apply-$(basename "$f").log" ||
      { fail "applying $f"; tail "$dir/logs/apply-$(basename "$f").log" >&2; return; }
  done
  kubectl_ wait --for=condition=Established --timeout=60s crd --all >/dev/null
  pass "applied the rendered manifests: $(kubectl_ get crd -o name | wc -l) CRDs ($((SECONDS - t0))s)"

  t0=$SECONDS
  if CAPI_LAB_DIR="$dir/lab" "$capi_here/run.sh" start "$dir/admin.kubeconfig"; then
    pass "five managers ready in $((SECONDS - t0))s"
  else
    fail "run.sh start"
    return
  fi

  # Where the managers listen: health on 127.0.0.1, webhooks on every interface
  # (controller-runtime has no bind-address flag for them), guarded by iptables.
  log "listening sockets of the managers:"
  ss -Htlnp | grep -E 'capi-manager|kubeadm-|capo-manager|orc-manager' | awk '{ print "  " $4, $6 }' >&2 || true
  if iptables -w 5 -C CAPI-LAB-MANAGERS -p tcp --dport 61440:61489 ! -i lo -j DROP 2>/dev/null; then
    pass "iptables drops non-loopback packets to the managers' ports 61440-61489"
  else
    fail "iptables guard for the managers' ports is missing"
  fi

  kubectl_ create namespace check >/dev/null
  local cluster kcp kct osc
  cluster="$(cat <<'EOF'
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: dry, namespace: check}
spec:
  clusterNetwork:
    pods: {cidrBlocks: [10.244.0.0/16]}
  controlPlaneRef: {apiGroup: controlplane.cluster.x-k8s.io, kind: KubeadmControlPlane, name: dry}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: OpenStackCluster, name: dry}
EOF
)"
  try "Cluster v1beta2, server-side dry run (core mutating + validating webhooks)" ok - \
    create --dry-run=server -o jsonpath='{.spec}' -f - <<<"$cluster"
  try "Cluster without any ref denied (core validating webhook)" denied \
    "one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set" \
    create --dry-run=server -f - <<<"$(sed '/Ref:/d' <<<"$cluster")"
  try "Cluster with pods CIDR not-a-cidr denied (core validating webhook)" denied "not-a-cidr" \
    create --dry-run=server -f - <<<"${cluster/10.244.0.0\/16/not-a-cidr}"
  # Stored as v1beta2 (the storage version): the API server calls the core conversion webhook.
  try "Cluster created as v1beta1 (conversion webhook, stored as v1beta2)" ok - \
    create -o jsonpath='{.apiVersion}' -f - <<<"$(cat <<'EOF'
apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata: {name: old, namespace: check}
spec:
  paused: true
  clusterNetwork:
    pods: {cidrBlocks: [10.244.0.0/16]}
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: OpenStackCluster, name: old}
EOF
)"
  try "the same Cluster read as v1beta2" ok - get clusters.v1beta2.cluster.x-k8s.io old -n check \
    -o jsonpath='{.apiVersion}{" paused="}{.spec.paused}{" infrastructureRef="}{.spec.infrastructureRef}'
  try "the same Cluster read as v1beta1" ok - get clusters.v1beta1.cluster.x-k8s.io old -n check \
    -o jsonpath='{.apiVersion}{" paused="}{.spec.paused}{" infrastructureRef="}{.spec.infrastructureRef}'
  kcp="$(cat <<'EOF'
apiVersion: controlplane.cluster.x-k8s.io/v1beta2
kind: KubeadmControlPlane
metadata: {name: dry, namespace: check}
spec:
  replicas: 1
  version: v1.33.10
  machineTemplate:
    spec:
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: OpenStackMachineTemplate, name: cp}
  kubeadmConfigSpec:
    format: cloud-config
EOF
)"
  try "KubeadmControlPlane, server-side dry run (KCP mutating + validating webhooks)" ok - \
    create --dry-run=server -o jsonpath='{.spec}' -f - <<<"$kcp"
  try "KubeadmControlPlane with 2 replicas denied (KCP validating webhook)" denied \
    "cannot be an even number when etcd is stacked" \
    create --dry-run=server -f - <<<"${kcp/replicas: 1/replicas: 2}"
  kct="$(cat <<'EOF'
apiVersion: bootstrap.cluster.x-k8s.io/v1beta2
kind: KubeadmConfigTemplate
metadata: {name: dry, namespace: check}
spec:
  template:
    spec:
      format: cloud-config
EOF
)"
  try "KubeadmConfigTemplate, server-side dry run (kubeadm bootstrap webhooks)" ok - \
    create --dry-run=server -o jsonpath='{.spec}' -f - <<<"$kct"
  osc="$(cat <<'EOF'
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: OpenStackCluster
metadata: {name: dry, namespace: check}
spec:
  identityRef: {cloudName: openstack, name: creds}
  externalNetwork: {filter: {name: public}}
EOF
)"
  try "OpenStackCluster, server-side dry run (CAPO validating webhook)" ok - \
    create --dry-run=server -o name -f - <<<"$osc"
  kubectl_ create -f - >/dev/null <<<"$osc"
  try "OpenStackCluster externalNetwork change denied (CAPO validating webhook)" denied "cannot be modified" \
    patch openstackcluster dry -n check --dry-run=server --type=merge \
    -p '{"spec":{"externalNetwork":{"filter":{"name":"other"}}}}'

  local p kb mem=""
  for p in "$dir"/lab/capi/*.pid; do
    kb=0
    for q in $(pgrep -g "$(<"$p")"); do
      kb=$((kb + $(awk '/^VmRSS:/ { print $2 }' "/proc/$q/status" 2>/dev/null || echo 0)))
    done
    mem+="$(basename "$p" .pid)=$((kb / 1024))MiB "
  done
  log "manager memory (RSS, with its supervising bash): $mem"
  if grep -il 'panic\|webhook.*error' "$dir"/lab/capi/logs/*.log >/dev/null 2>&1; then
    log "note: the manager logs mention panics or webhook errors: $(grep -il 'panic\|webhook.*error' "$dir"/lab/capi/logs/*.log | tr '\n' ' ')"
  fi
}

[[ "$what" == webhooks ]] || check_etcd_link
[[ "$what" == etcd-link ]] || check_webhooks

log "done in $((SECONDS - t_start))s: $failures failed (logs in $dir/logs, $dir/lab/capi/logs)"
((failures == 0))
