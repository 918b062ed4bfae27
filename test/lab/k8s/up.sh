#!/usr/bin/env bash
# Start one or more local Kubernetes clusters for the lab (default: seed mgmt).
#
#   test/lab/k8s/up.sh                 start (or check) the clusters "seed" and "mgmt"
#   test/lab/k8s/up.sh k3s-standin     start (or check) one extra cluster
#
# Each cluster is etcd + kube-apiserver + kube-controller-manager +
# kube-scheduler + kwok (a fake kubelet with one fake Node), all on 127.0.0.1
# with free ports, built by build.sh. Pods on the fake node become Ready and
# Job pods Succeed, so `helm --wait` and hook Jobs work; no container runs.
#
# Re-running while a cluster is up only checks it. A cluster with a dead
# component is restarted from its existing state (certs, etcd data).
#
# Output: state under ${CAPI_LAB_DIR:-<repo>/.lab}/k8s/<name>/ (admin
# kubeconfig at .../<name>/kubeconfig) and .lab/env.d/k8s.sh, which exports
# CAPI_LAB_KUBECONFIG_<NAME>, CAPI_LAB_HELM, CAPI_LAB_KUBECTL and
# CAPI_LAB_K8S_BIN. The last line of stdout per cluster is "<name> <kubeconfig>".
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_timeout="${CAPI_LAB_K8S_START_TIMEOUT:-180}"
node_name=kwok-node-0
service_cidr=10.96.0.0/16
pod_cidr=10.244.0.0/16

command -v openssl >/dev/null || lab_die "openssl is required"
command -v curl >/dev/null || lab_die "curl is required"

bin="$("$lab_k8s_here/build.sh")"
[[ -f "$bin/kwok-stages.yaml" ]] || lab_die "$bin/kwok-stages.yaml missing (rebuild with build.sh)"
k8s_version="$(awk -F= '$1 == "kubernetes" { print $2 }' "$bin/VERSIONS")"

# ---------------------------------------------------------------- helpers

port_in_use() { # <port>
  ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Set picked_port to a free port in 20000-32767 (below Linux's ephemeral
# range) that is neither listening nor already handed out by this run. Not
# called in $(...), so that taken_ports keeps what it hands out.
declare -A taken_ports=()
picked_port=""
free_port() {
  local p n
  for ((n = 0; n < 200; n++)); do
    p=$((20000 + RANDOM % 12768))
    [[ -z "${taken_ports[$p]:-}" ]] || continue
    port_in_use "$p" && continue
    taken_ports[$p]=1
    picked_port="$p"
    return 0
  done
  lab_die "no free port found"
}

# Wait until a command succeeds. Fails early, with the tail of its log, if the
# named component (or "-" for none) has exited.
wait_for() { # <what> <component or -> <command...>
  local what="$1" comp="$2" deadline=$((SECONDS + start_timeout)) why
  shift 2
  until "$@" >/dev/null 2>&1; do
    why=""
    if [[ "$comp" != - && -z "$(lab_component_pid "$dir" "$comp")" ]]; then
      why="$comp exited"
    elif ((SECONDS >= deadline)); then
      why="timed out after ${start_timeout}s"
    fi
    if [[ -n "$why" ]]; then
      lab_log "$why while waiting for $what; last lines of $dir/logs/${comp/#-/kube-apiserver}.log:"
      tail -n 30 "$dir/logs/${comp/#-/kube-apiserver}.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# Start <binary> in its own session and process group (pid = pgid), logging
# to logs/<comp>.log. The subshell closes every inherited fd above 2 (the
# cluster locks, and any pipe or socket of whoever called up.sh, which a
# long-lived daemon must not hold open), then execs setsid, which execs the
# binary in place, so $! is the daemon's pid.
start_component() { # <dir> <comp> <binary> <args...>
  local dir="$1" comp="$2" exe="$3"
  shift 3
  : >"$dir/logs/$comp.log"
  (
    for f in /proc/self/fd/*; do
      n="${f##*/}"
      if ((n > 2)); then exec {n}>&-; fi
    done
    exec setsid "$exe" "$@" </dev/null >>"$dir/logs/$comp.log" 2>&1
  ) &
  echo "$!" >"$dir/$comp.pid"
}

b64() { base64 -w0 <"$1"; }

write_kubeconfig() { # <file> <cluster name> <port> <ca> <cert> <key>
  local file="$1" cname="$2" port="$3" ca="$4" cert="$5" key="$6" tmp="$1.tmp.$$"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $cname
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(b64 "$ca")
users:
- name: $cname-user
  user:
    client-certificate-data: $(b64 "$cert")
    client-key-data: $(b64 "$key")
contexts:
- name: $cname
  context:
    cluster: $cname
    user: $cname-user
    namespace: default
current-context: $cname
preferences: {}
EOF
  chmod 600 "$tmp"
  mv "$tmp" "$file"
}

# EC P-256 keys: RSA key generation takes about a second per key on a busy
# 2-core machine, and a cluster needs nine keys.
new_key() { # <file>
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# Client certificate signed by the cluster CA.
client_cert() { # <pki dir> <basename> <CN> [O] [CA basename]
  local pki="$1" base="$2" cn="$3" org="${4:-}" ca="${5:-ca}" subj
  [[ -f "$pki/$base.crt" ]] && return 0
  subj="/CN=$cn"
  [[ -z "$org" ]] || subj="/O=$org$subj"
  new_key "$pki/$base.key"
  openssl req -new -key "$pki/$base.key" -subj "$subj" -out "$pki/$base.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$base.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -out "$pki/$base.crt" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') \
    2>/dev/null
  rm -f "$pki/$base.csr"
}

make_pki() { # <pki dir> <cluster name>
  local pki="$1" name="$2"
  mkdir -p "$pki"
  if [[ ! -f "$pki/ca.crt" ]]; then
    new_key "$pki/ca.key"
    openssl req -x509 -new -key "$pki/ca.key" -out "$pki/ca.crt" \
      -days 3650 -sha256 -subj "/CN=capi-lab-$name-ca" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null
  fi
  if [[ ! -f "$pki/apiserver.crt" ]]; then
    new_key "$pki/apiserver.key"
    openssl req -new -key "$pki/apiserver.key" -subj "/CN=kube-apiserver" \
      -out "$pki/apiserver.csr" 2>/dev/null
    openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
      -CAcreateserial -days 3650 -sha256 -out "$pki/apiserver.crt" \
      -extfile <(printf '%s\n' 'basicConstraints=CA:FALSE' \
        'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
        'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local') \
      2>/dev/null
    rm -f "$pki/apiserver.csr"
  fi
  # Service-account key in SEC1 ("EC PRIVATE KEY") form: kube-apiserver's
  # --service-account-key-file does not read PKCS#8 EC keys.
  [[ -f "$pki/sa.key" ]] || openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  # Front proxy (aggregation layer) CA and client: without them every
  # delegating component logs "missing content for CA bundle" errors.
  if [[ ! -f "$pki/front-proxy-ca.crt" ]]; then
    new_key "$pki/front-proxy-ca.key"
    openssl req -x509 -new -key "$pki/front-proxy-ca.key" -out "$pki/front-proxy-ca.crt" -days 3650 -sha256 -subj "/CN=capi-lab-$name-front-proxy-ca" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null
  fi
  client_cert "$pki" front-proxy-client front-proxy-client "" front-proxy-ca
  client_cert "$pki" admin capi-lab-admin system:masters
  client_cert "$pki" kube-controller-manager system:kube-controller-manager
  client_cert "$pki" kube-scheduler system:kube-scheduler
  client_cert "$pki" kwok kwok-controller system:masters
}

# Load ports.env, keep each port that is still free, pick new ones otherwise.
choose_ports() { # <dir>
  local dir="$1" var
  ETCD_PORT="" ETCD_PEER_PORT="" APISERVER_PORT="" KCM_PORT="" SCHEDULER_PORT="" KWOK_PORT=""
  # shellcheck disable=SC1091
  [[ -f "$dir/ports.env" ]] && source "$dir/ports.env"
  for var in ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT; do
    if [[ -z "${!var}" ]] || port_in_use "${!var}" || [[ -n "${taken_ports[${!var}]:-}" ]]; then
      free_port
      printf -v "$var" '%s' "$picked_port"
    else
      taken_ports[${!var}]=1
    fi
  done
  {
    for var in ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT; do
      echo "$var=${!var}"
    done
  } >"$dir/ports.env"
}

kubectl_() { "$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout=10s "$@"; }

apiserver_ready() {
  curl -fsS --max-time 5 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
    --key "$dir/pki/admin.key" "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

healthz() { # <port> (self-signed serving cert of kcm/scheduler/kwok)
  curl -fsSk --max-time 5 "https://127.0.0.1:$1/healthz" | grep -qx ok
}

# shellcheck disable=SC2317 # called through wait_for
kwok_healthz() {
  curl -fsS --max-time 5 "http://127.0.0.1:$KWOK_PORT/healthz" | grep -qx ok
}

node_ready() {
  [[ "$(kubectl_ get node "$node_name" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

cluster_healthy() {
  apiserver_ready && healthz "$KCM_PORT" && healthz "$SCHEDULER_PORT" && node_ready
}

fake_node_manifest() {
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  labels:
    kubernetes.io/hostname: $node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "250"}
  capacity: {cpu: "32", memory: 256Gi, pods: "250"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: fake-$k8s_version
EOF
}

# ---------------------------------------------------------------- one cluster

# Phase 1, in this shell, one cluster after the other (so ports handed out to
# one cluster are not handed out again): lock the cluster, keep it if healthy,
# otherwise stop leftovers and prepare certificates, ports and kubeconfigs.
# Appends the name to to_start when the cluster must be started.
to_start=()
lock_fds=()
prepare_one() { # <name>
  local name="$1" fd
  dir="$lab_k8s_dir/$name"
  kubeconfig="$dir/kubeconfig"
  mkdir -p "$dir/logs" "$dir/kubeconfigs"
  chmod 700 "$dir"

  exec {fd}>"$dir/.lock"
  lock_fds+=("$fd")
  flock "$fd"

  if lab_all_running "$dir" && [[ -f "$dir/ports.env" ]]; then
    # shellcheck disable=SC1091
    source "$dir/ports.env"
    if cluster_healthy; then
      lab_log "$name: already up (https://127.0.0.1:$APISERVER_PORT)"
      echo "$name $kubeconfig"
      return 0
    fi
    lab_log "$name: running but not healthy; restarting it"
  fi
  if lab_any_running "$dir"; then
    lab_log "$name: stopping the leftover processes"
    lab_stop_cluster "$dir"
  fi
  materialize "$name"
  to_start+=("$name")
}

# Certificates, ports, kubeconfigs and config files of a stopped cluster.
materialize() { # <name>
  local name="$1" c
  dir="$lab_k8s_dir/$name"
  kubeconfig="$dir/kubeconfig"
  make_pki "$dir/pki" "$name"
  choose_ports "$dir"
  local pki="$dir/pki"
  write_kubeconfig "$kubeconfig" "capi-lab-$name" "$APISERVER_PORT" "$pki/ca.crt" "$pki/admin.crt" "$pki/admin.key"
  for c in kube-controller-manager kube-scheduler kwok; do
    write_kubeconfig "$dir/kubeconfigs/$c.kubeconfig" "capi-lab-$name" "$APISERVER_PORT" \
      "$pki/ca.crt" "$pki/$c.crt" "$pki/$c.key"
  done
  fake_node_manifest >"$dir/node.yaml"
  cp "$bin/kwok-stages.yaml" "$dir/kwok.yaml"
}

# Phase 2, one background subshell per cluster: start the processes in order
# and wait until the cluster is usable.
start_one() { # <name>
  local name="$1" t0=$SECONDS
  dir="$lab_k8s_dir/$name"
  kubeconfig="$dir/kubeconfig"
  # shellcheck disable=SC1091
  source "$dir/ports.env"
  local pki="$dir/pki" kcs="$dir/kubeconfigs"
  lab_log "$name: starting (state in $dir)"

  start_component "$dir" etcd "$bin/etcd" \
    --name=lab \
    --data-dir="$dir/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="lab=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync \
    --log-level=warn
  wait_for "$name etcd" etcd \
    curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

  start_component "$dir" kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --service-cluster-ip-range="$service_cidr" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.key" \
    --service-account-signing-key-file="$pki/sa.key" \
    --authorization-mode=RBAC \
    --allow-privileged=true \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --endpoint-reconciler-type=none \
    --profiling=false \
    --v=1
  wait_for "$name kube-apiserver /readyz" kube-apiserver apiserver_ready

  start_component "$dir" kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$kcs/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$kcs/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$kcs/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$KCM_PORT" \
    --cert-dir="$dir/kcm-certs" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" \
    --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$service_cidr" \
    --controllers='*' \
    --profiling=false \
    --v=1

  start_component "$dir" kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig="$kcs/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$kcs/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$kcs/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$SCHEDULER_PORT" \
    --cert-dir="$dir/scheduler-certs" \
    --leader-elect=false \
    --profiling=false \
    --v=1

  start_component "$dir" kwok "$bin/kwok" \
    --kubeconfig="$kcs/kwok.kubeconfig" \
    --config="$dir/kwok.yaml" \
    --manage-all-nodes=true \
    --node-ip=127.0.0.1 \
    --node-port="$KWOK_PORT" \
    --server-address="127.0.0.1:$KWOK_PORT" \
    --cidr="$pod_cidr" \
    --node-lease-duration-seconds=40 \
    --v=WARN

  wait_for "$name default namespace" kube-apiserver kubectl_ get namespace default
  wait_for "$name fake node created" kube-apiserver kubectl_ apply -f "$dir/node.yaml"
  wait_for "$name kube-controller-manager /healthz" kube-controller-manager healthz "$KCM_PORT"
  wait_for "$name kube-scheduler /healthz" kube-scheduler healthz "$SCHEDULER_PORT"
  wait_for "$name kwok /healthz" kwok kwok_healthz
  wait_for "$name node $node_name Ready" kwok node_ready
  # The service-account controller (kube-controller-manager) creates this;
  # pods in "default" are refused until it exists.
  wait_for "$name default service account" kube-controller-manager \
    kubectl_ get serviceaccount default -n default

  lab_log "$name: up in $((SECONDS - t0))s, https://127.0.0.1:$APISERVER_PORT, $(lab_cluster_rss_mib "$dir") MiB RSS"
  lab_log "$name: export KUBECONFIG=$kubeconfig"
  echo "$name $kubeconfig"
}

# ---------------------------------------------------------------- main

if (($# == 0)); then set -- seed mgmt; fi
for n in "$@"; do lab_check_name "$n"; done
mkdir -p "$lab_k8s_dir"

for n in "$@"; do prepare_one "$n"; done

# Start in parallel. Each start_one runs in a background subshell, where
# errexit still applies (it would not inside `if ( ... )` or `( ... ) || x`).
rc=0
pids=()
for n in "${to_start[@]}"; do
  start_one "$n" &
  pids+=("$!")
done
for i in "${!pids[@]}"; do
  wait "${pids[i]}" && continue
  n="${to_start[i]}"
  dir="$lab_k8s_dir/$n"
  # Another process may have taken a port between choose_ports and the bind
  # (concurrent up.sh runs for other clusters): pick new ports, try once more.
  if grep -qs 'address already in use' "$dir"/logs/*.log; then
    lab_log "$n: a port was taken meanwhile; retrying with new ports"
    lab_stop_cluster "$dir"
    rm -f "$dir/ports.env"
    materialize "$n"
    start_one "$n" &
    wait "$!" && continue
  fi
  lab_log "$n: failed to start; logs in $dir/logs/ (stop it with down.sh $n)"
  rc=1
done
for fd in "${lock_fds[@]}"; do exec {fd}>&-; done

lab_write_env "$bin"
lab_log "wrote $lab_env_file (source it for CAPI_LAB_KUBECONFIG_<NAME>, CAPI_LAB_HELM, CAPI_LAB_K8S_BIN)"
exit "$rc"
