#!/usr/bin/env bash
# Run the real Cluster API managers as host processes against a cluster.
#
#   test/lab/capi/run.sh start KUBECONFIG   start the five managers (or check them)
#   test/lab/capi/run.sh supervise          play the managers' Deployments (below), and the boot simulator
#   test/lab/capi/run.sh stop               stop them (and the supervisor and simulator)
#   test/lab/capi/run.sh status             exit 0 when all five are up
#
# supervise is what the lab runs (test/lab/up.sh): a daemon that acts as the
# kubelet of the five manager Deployments. The managers' ports are fixed, so
# one set runs per machine, against one target: of the running lab clusters
# (test/lab/k8s), the one whose core Deployment (capi-system/
# capi-controller-manager) is newest, i.e. where Cluster API was installed
# last (by seed-capi, or kubectl with the release manifests). Every 2 s it
# re-picks the target (restarting everything against a new one); a manager
# runs while its namespace on the target holds a Deployment, with that
# Deployment's arguments (minus the flags set here), and is stopped when it
# holds none (uninstalled). It keeps the boot simulator running against the
# same target.
#
# The managers are core, kubeadm bootstrap, kubeadm control plane, CAPO and
# ORC, built by build.sh. Apply the manifests from manifests.sh to the cluster
# first: the managers need their CRDs, and the webhook configurations there
# point at the ports the managers serve here.
#
# Each manager runs in its own session (setsid; pid = process group), under a
# bash loop that restarts it when it exits (as the kubelet would), with
#   - the release's arguments (args/<name>.args from manifests.sh: feature
#     gates, verbosity), minus the flags set here;
#   - the release's identity: a kubeconfig with a token of the ServiceAccount
#     its Deployment runs as (TokenRequest through KUBECONFIG), so the
#     release's RBAC applies; leader election off;
#   - its own fixed ports on 127.0.0.1 (lib.sh): health probes there, the
#     webhook server with the lab serving certificate; diagnostics/metrics off.
# controller-runtime's webhook server has no bind-address flag and listens on
# every interface, so start also installs an iptables rule that drops packets
# to the managers' ports arriving on any interface but lo (removed by stop).
#
# State: ${CAPI_LAB_DIR:-<repo>/.lab}/capi/: kubeconfig (the copy of KUBECONFIG),
# kubeconfigs/<name>.kubeconfig, <name>.pid, logs/<name>.log.
#
# Environment:
#   CAPI_LAB_CAPI_ARGS_<NAME>  extra flags for one manager (NAME: CORE, BOOTSTRAP,
#                              CONTROLPLANE, CAPO, ORC), e.g. --sync-period=2m
#   CAPI_LAB_CAPI_START_TIMEOUT  seconds to wait for each manager (default 120)
#   CAPI_LAB_CAPI_IDENTITY     serviceaccount (default) or admin (every manager
#                              uses KUBECONFIG's own credentials)
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_dir="${CAPI_LAB_DIR:-$capi_repo_root/.lab}"
state="$lab_dir/capi"
start_timeout="${CAPI_LAB_CAPI_START_TIMEOUT:-120}"
identity="${CAPI_LAB_CAPI_IDENTITY:-serviceaccount}"
fw_chain=CAPI-LAB-MANAGERS
fw_ports=61440:61489

# Flags run.sh sets itself; the release's values for them are dropped.
overridden_flags=(kubeconfig leader-elect diagnostics-address insecure-diagnostics webhook-port
  webhook-cert-dir health-addr health-probe-bind-address metrics-bind-address)

pid_is_ours() { # <pid>
  local pid="$1" cmdline
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  # Every manager gets --kubeconfig=<state>/kubeconfigs/<name>.kubeconfig.
  [[ "$cmdline" == *"--kubeconfig=$state/kubeconfigs/"* ]]
}

manager_pid() { # <name>
  local f="$state/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(<"$f")"
  if pid_is_ours "$pid"; then echo "$pid"; fi
}

healthy() { # <name>
  local h
  h="$(capi_manager_field "$1" 6)"
  [[ -n "$(manager_pid "$1")" ]] && curl -fsS --max-time 3 "http://127.0.0.1:$h/readyz" >/dev/null 2>&1
}

# ---------------------------------------------------------------- firewall

fw() { # <iptables|ip6tables> <args...>
  "$1" -w 5 "${@:2}"
}

fw_install() {
  local t
  for t in iptables ip6tables; do
    command -v "$t" >/dev/null || capi_die "$t is required (it keeps the managers' webhook ports, which listen on every interface, reachable from loopback only)"
    fw "$t" -N "$fw_chain" 2>/dev/null || true
    fw "$t" -C "$fw_chain" -p tcp --dport "$fw_ports" ! -i lo -j DROP 2>/dev/null ||
      fw "$t" -A "$fw_chain" -p tcp --dport "$fw_ports" ! -i lo -j DROP ||
      capi_die "$t: cannot add the rule that drops non-loopback packets to ports $fw_ports (run as root)"
    fw "$t" -C INPUT -j "$fw_chain" 2>/dev/null || fw "$t" -I INPUT -j "$fw_chain" ||
      capi_die "$t: cannot hook chain $fw_chain into INPUT"
  done
}

fw_remove() {
  local t
  for t in iptables ip6tables; do
    command -v "$t" >/dev/null || continue
    while fw "$t" -D INPUT -j "$fw_chain" 2>/dev/null; do :; done
    fw "$t" -F "$fw_chain" 2>/dev/null || true
    fw "$t" -X "$fw_chain" 2>/dev/null || true
  done
}

# ---------------------------------------------------------------- start

# The release's arguments of one manager, minus the flags set here.
release_args() { # <manifests dir> <name>
  local f="$1/args/$2.args" a flag skip
  [[ -f "$f" ]] || capi_die "$f is missing (re-run manifests.sh)"
  while IFS= read -r a; do
    [[ -n "$a" ]] || continue
    flag="${a#--}"
    flag="${flag%%=*}"
    skip=""
    for o in "${overridden_flags[@]}"; do [[ "$flag" == "$o" ]] && skip=1; done
    [[ -n "$skip" ]] || printf '%s\n' "$a"
  done <"$f"
}

# The kubeconfig one manager runs with: KUBECONFIG's server and CA, and a
# token of the manager's ServiceAccount (or KUBECONFIG itself for "admin").
write_manager_kubeconfig() { # <kubectl> <manifests dir> <name>
  local kubectl="$1" manifests="$2" name="$3" sa ns token file tmp k=(--kubeconfig "$state/kubeconfig")
  file="$state/kubeconfigs/$name.kubeconfig"
  tmp="$file.tmp.$$"
  if [[ "$identity" == admin ]]; then
    install -m 600 "$state/kubeconfig" "$file"
    return 0
  fi
  [[ "$identity" == serviceaccount ]] || capi_die "CAPI_LAB_CAPI_IDENTITY must be serviceaccount or admin, not '$identity'"
  sa="$(<"$manifests/args/$name.serviceaccount")"
  ns="${sa%%/*}"
  token="$("$kubectl" "${k[@]}" create token "${sa#*/}" -n "$ns" --duration=87600h)" ||
    capi_die "cannot get a token for ServiceAccount $sa (are the manifests from manifests.sh applied?)"
  (
    umask 077
    "$kubectl" "${k[@]}" config view --raw --minify --flatten >"$tmp"
    "$kubectl" --kubeconfig "$tmp" config unset "users" >/dev/null
    "$kubectl" --kubeconfig "$tmp" config set-credentials "$sa" --token="$token" >/dev/null
    "$kubectl" --kubeconfig "$tmp" config set-context "$("$kubectl" --kubeconfig "$tmp" config current-context)" \
      --user="$sa" --namespace="$ns" >/dev/null
  )
  mv "$tmp" "$file"
}

start_manager() { # <bin dir> <manifests dir> <pki dir> <name> [append]
  local bin="$1" manifests="$2" pki="$3" name="$4" append="${5:-}" exe wport hport extra_var args=()
  exe="$bin/$(capi_manager_field "$name" 2)"
  wport="$(capi_manager_field "$name" 5)"
  hport="$(capi_manager_field "$name" 6)"
  mapfile -t args < <(release_args "$manifests" "$name")
  args+=("--kubeconfig=$state/kubeconfigs/$name.kubeconfig" --leader-elect=false)
  if [[ "$name" == orc ]]; then
    args+=("--health-probe-bind-address=127.0.0.1:$hport" --metrics-bind-address=0)
  else
    args+=("--health-addr=127.0.0.1:$hport" --diagnostics-address=0
      "--webhook-port=$wport" "--webhook-cert-dir=$pki/serving")
  fi
  extra_var="CAPI_LAB_CAPI_ARGS_${name^^}"
  # shellcheck disable=SC2206 # word splitting of the extra flags is intended
  [[ -z "${!extra_var:-}" ]] || args+=(${!extra_var})

  if [[ -n "$append" ]]; then
    echo "[run.sh] $(date -u +%FT%TZ) starting $name" >>"$state/logs/$name.log"
  else
    : >"$state/logs/$name.log"
  fi
  (
    # Close inherited fds above 2 (locks, callers' pipes) that a daemon must not hold.
    for f in /proc/self/fd/*; do
      n="${f##*/}"
      if ((n > 2)); then exec {n}>&-; fi
    done
    # Restarted when it exits, as the kubelet restarts a Deployment's Pod
    # (backoff 2s doubling to 60s, back to 2s after a run of 60s or more).
    # shellcheck disable=SC2016 # expanded by the supervising bash
    KUBECONFIG="$state/kubeconfigs/$name.kubeconfig" exec setsid bash -c '
      delay=2
      while :; do
        t0=$SECONDS
        "$@"
        rc=$?
        if ((SECONDS - t0 >= 60)); then delay=2; fi
        echo "[run.sh] $(date -u +%FT%TZ) $0 exited with status $rc; restarting in ${delay}s"
        sleep "$delay"
        delay=$((delay >= 30 ? 60 : delay * 2))
      done' "capi-lab-$name" "$exe" "${args[@]}" </dev/null >>"$state/logs/$name.log" 2>&1
  ) &
  echo "$!" >"$state/$name.pid"
  local where="health http://127.0.0.1:$hport"
  [[ "$wport" == - ]] || where+=", webhooks https://127.0.0.1:$wport"
  capi_log "$name: started (pid $!, $where)"
}

wait_healthy() { # <name>
  local name="$1" deadline=$((SECONDS + start_timeout))
  until healthy "$name"; do
    if [[ -z "$(manager_pid "$name")" ]] || grep -q '^\[run.sh\] .* exited with status' "$state/logs/$name.log"; then
      capi_log "$name exited; last lines of $state/logs/$name.log:"
      tail -n 30 "$state/logs/$name.log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      capi_log "$name not ready after ${start_timeout}s; last lines of $state/logs/$name.log:"
      tail -n 30 "$state/logs/$name.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# Stop managers: SIGTERM to each one's process group (the supervising bash and
# the manager) at once, then wait for all; SIGKILL what is left after 10s.
stop_managers() { # <name...>
  local name pid n left
  local -A pgids=()
  for name in "$@"; do
    pid="$(manager_pid "$name")"
    [[ -z "$pid" ]] || { pgids[$name]="$pid"; kill -TERM -- "-$pid" 2>/dev/null || true; }
    rm -f "$state/$name.pid"
  done
  for ((n = 0; n < 100; n++)); do
    left=""
    for name in "${!pgids[@]}"; do kill -0 -- "-${pgids[$name]}" 2>/dev/null && left+=" $name"; done
    [[ -n "$left" ]] || break
    sleep 0.1
  done
  for name in "${!pgids[@]}"; do
    if kill -0 -- "-${pgids[$name]}" 2>/dev/null; then
      capi_log "$name (process group ${pgids[$name]}) ignored SIGTERM for 10s; sending SIGKILL"
      kill -KILL -- "-${pgids[$name]}" 2>/dev/null || true
    fi
    capi_log "$name: stopped"
  done
}

stop_all() {
  local names
  mapfile -t names < <(capi_manager_names)
  stop_managers "${names[@]}"
}

cmd_start() { # <kubeconfig>
  local kubeconfig="${1:-}" bin manifests pki kubectl name t0=$SECONDS rc=0
  [[ -n "$kubeconfig" ]] || capi_die "usage: $0 start KUBECONFIG"
  [[ -r "$kubeconfig" ]] || capi_die "kubeconfig $kubeconfig is not readable"
  command -v curl >/dev/null || capi_die "curl is required"
  bin="$("$capi_here/build.sh" --print-dir)" || capi_die "managers not built: run test/lab/capi/build.sh"
  manifests="$("$capi_here/manifests.sh" --print-dir)" || capi_die "manifests not rendered: run test/lab/capi/manifests.sh"
  pki="$("$capi_here/manifests.sh" --pki-dir)"
  kubectl="$("$capi_here/../k8s/build.sh" --print-dir)/kubectl" || capi_die "the lab's kubectl is not built: run test/lab/k8s/build.sh"

  mkdir -p "$state/logs" "$state/kubeconfigs"
  chmod 700 "$state"
  exec 9>"$state/.lock"
  flock 9

  # Another cluster than last time: restart everything against the new one.
  if [[ -f "$state/kubeconfig" ]] && ! cmp -s "$kubeconfig" "$state/kubeconfig"; then
    capi_log "kubeconfig changed; restarting the managers"
    stop_all
  fi
  install -m 600 "$kubeconfig" "$state/kubeconfig.tmp"
  mv "$state/kubeconfig.tmp" "$state/kubeconfig"

  fw_install
  for name in $(capi_manager_names); do
    if healthy "$name"; then
      capi_log "$name: already up"
      continue
    fi
    [[ -z "$(manager_pid "$name")" ]] || stop_managers "$name"
    write_manager_kubeconfig "$kubectl" "$manifests" "$name"
    start_manager "$bin" "$manifests" "$pki" "$name"
  done
  for name in $(capi_manager_names); do wait_healthy "$name" || rc=1; done
  ((rc == 0)) || capi_die "a manager failed to start (logs in $state/logs/; stop with $0 stop)"
  capi_log "all managers ready in $((SECONDS - t0))s (state in $state)"
}

cmd_stop() {
  [[ -d "$state" ]] || { fw_remove; return 0; }
  stop_daemon supervisor
  stop_daemon simulator
  exec 9>"$state/.lock"
  flock 9
  stop_all
  fw_remove
}

# ---------------------------------------------------------------- supervise

# A daemon of ours (supervisor, simulator) by its pid file and command line.
daemon_pid() { # <name>
  local f="$state/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(<"$f")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "capi-lab-$1"; then echo "$pid"; fi
}

stop_daemon() { # <name>
  local pid n
  pid="$(daemon_pid "$1")"
  rm -f "$state/$1.pid"
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  capi_log "$1: stopped"
}

# Run a command as a daemon in its own session: stdin closed, output to a log,
# inherited fds above 2 closed; argv[0] names it (capi-lab-<name>) for daemon_pid.
spawn_daemon() { # <name> <command...>
  local name="$1"
  shift
  (
    for f in /proc/self/fd/*; do
      n="${f##*/}"
      if ((n > 2)); then exec {n}>&-; fi
    done
    # shellcheck disable=SC2016 # expanded by the inner bash
    exec setsid bash -c 'exec -a "$0" "$@"' "capi-lab-$name" "$@" </dev/null >>"$state/logs/$name.log" 2>&1
  ) &
  echo "$!" >"$state/$name.pid"
}

# One GET on a lab cluster's API as its admin (curl: the supervisor polls
# often, and kubectl costs a tenth of a second of CPU per call).
lab_get() { # <cluster dir> <path>
  local d="$1" server
  server="$(awk '$1 == "server:" { print $2; exit }' "$d/kubeconfig" 2>/dev/null)" || return 1
  [[ -n "$server" ]] || return 1
  curl -fsS --max-time 5 --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" "$server$2" 2>/dev/null
}

# The lab cluster Cluster API was installed on last: the newest core
# Deployment (capi-system/capi-controller-manager) among the running lab
# clusters. Prints its directory, or nothing.
pick_target() {
  local d created best="" best_created=""
  for d in "$lab_dir"/k8s/*/; do
    d="${d%/}"
    [[ -f "$d/kubeconfig" && -f "$d/pki/admin.key" ]] || continue
    created="$(lab_get "$d" /apis/apps/v1/namespaces/capi-system/deployments/capi-controller-manager |
      grep -o '"creationTimestamp": *"[^"]*"' | head -n 1 | cut -d'"' -f4)" || continue
    [[ -n "$created" ]] || continue
    if [[ -z "$best" || "$created" > "$best_created" ]]; then best="$d" best_created="$created"; fi
  done
  echo "$best"
}

# The manager container's args of the Deployment in a namespace of the
# target, one per line; fails when the namespace holds no Deployment. The
# lab runs each manager as its Deployment says (the product sets feature
# gates there, as azimuth-ops does), not as the release did.
deployment_args() { # <cluster dir> <namespace>
  lab_get "$1" "/apis/apps/v1/namespaces/$2/deployments" | python3 -c '
import json, sys
items = json.load(sys.stdin).get("items", [])
if not items:
    sys.exit(1)
containers = items[0]["spec"]["template"]["spec"]["containers"]
c = next((c for c in containers if c.get("name") == "manager"), containers[0])
print("\n".join(c.get("args", [])))'
}

# One pass of the supervisor: follow the target cluster; managers follow
# their Deployments on it; the simulator runs while there is a target.
supervise_once() { # <kubectl> <bin> <manifests> <pki> <simulator> <k8s bin>
  local kubectl="$1" bin="$2" manifests="$3" pki="$4" sim="$5" k8s_bin="$6" target name sa args
  target="$(pick_target)"
  if [[ "$target" != "$(cat "$state/target" 2>/dev/null)" ]]; then
    capi_log "target cluster: ${target:-none} (was: $(cat "$state/target" 2>/dev/null || echo none))"
    stop_daemon simulator
    stop_all
    rm -f "$state/kubeconfig"
    if [[ -n "$target" ]]; then
      install -m 600 "$target/kubeconfig" "$state/kubeconfig"
      echo "$target" >"$state/target"
    else
      rm -f "$state/target"
    fi
  fi
  [[ -n "$target" ]] || return 0
  mkdir -p "$state/deployed/args"
  for name in $(capi_manager_names); do
    sa="$(<"$manifests/args/$name.serviceaccount")"
    if args="$(deployment_args "$target" "${sa%%/*}")"; then
      if [[ -n "$(manager_pid "$name")" ]]; then
        # A changed Deployment rolls its Pod: restart with the new arguments.
        [[ "$args" != "$(cat "$state/deployed/args/$name.args" 2>/dev/null)" ]] || continue
        capi_log "$name: its Deployment's arguments changed; restarting it"
        stop_managers "$name"
      fi
      printf '%s\n' "$args" >"$state/deployed/args/$name.args"
      cp "$manifests/args/$name.serviceaccount" "$state/deployed/args/"
      # The ServiceAccount may come a moment after the Deployment: try again next pass.
      write_manager_kubeconfig "$kubectl" "$state/deployed" "$name" 2>/dev/null || continue
      start_manager "$bin" "$state/deployed" "$pki" "$name" append
    elif [[ -n "$(manager_pid "$name")" ]]; then
      capi_log "$name: its Deployment is gone"
      stop_managers "$name"
    fi
  done
  if [[ -z "$(daemon_pid simulator)" ]]; then
    spawn_daemon simulator "$sim" --kubeconfig="$state/kubeconfig" --k8s-bin="$k8s_bin" \
      --kwok="$bin/kwok" --state-dir="$state/sim"
    capi_log "simulator: started (pid $(<"$state/simulator.pid"), state in $state/sim)"
  fi
}

supervise_loop() {
  local bin manifests pki kubectl sim k8s_bin
  bin="$("$capi_here/build.sh" --print-dir)"
  manifests="$("$capi_here/manifests.sh" --print-dir)"
  pki="$("$capi_here/manifests.sh" --pki-dir)"
  sim="$("$capi_here/build.sh" --simulator)"
  k8s_bin="$("$capi_here/../k8s/build.sh" --print-dir)"
  kubectl="$k8s_bin/kubectl"
  mkdir -p "$state/sim"
  trap 'exit 0' TERM INT
  while :; do
    (
      flock 9
      supervise_once "$kubectl" "$bin" "$manifests" "$pki" "$sim" "$k8s_bin"
    ) 9>"$state/.lock"
    sleep 2
  done
}

cmd_supervise() {
  "$capi_here/build.sh" --print-dir >/dev/null || capi_die "managers not built: run test/lab/capi/build.sh"
  "$capi_here/build.sh" --simulator >/dev/null || capi_die "boot simulator not built: run test/lab/capi/build.sh"
  "$capi_here/manifests.sh" --print-dir >/dev/null || capi_die "manifests not rendered: run test/lab/capi/manifests.sh"
  mkdir -p "$state/logs" "$state/kubeconfigs"
  chmod 700 "$state"
  fw_install
  if [[ -n "$(daemon_pid supervisor)" ]]; then
    capi_log "supervisor: already running (pid $(daemon_pid supervisor))"
    return 0
  fi
  # KCP re-reads the workload cluster at each sync; a shorter period than the
  # release's 10 min lets its status follow the simulated machines sooner.
  export CAPI_LAB_CAPI_ARGS_CONTROLPLANE="${CAPI_LAB_CAPI_ARGS_CONTROLPLANE:---sync-period=1m}"
  spawn_daemon supervisor bash "${BASH_SOURCE[0]}" __supervise-loop
  capi_log "supervisor: started (pid $(<"$state/supervisor.pid"); log $state/logs/supervisor.log)"
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  supervise) cmd_supervise ;;
  __supervise-loop) supervise_loop ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) capi_die "usage: $0 start KUBECONFIG | supervise | stop | status" ;;
esac
