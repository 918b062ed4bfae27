#!/usr/bin/env bash
# Run the real Cluster API managers as host processes against a cluster.
#
#   test/lab/capi/run.sh start KUBECONFIG   start the five managers (or check them)
#   test/lab/capi/run.sh stop               stop them
#   test/lab/capi/run.sh status             exit 0 when all five are up
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

start_manager() { # <bin dir> <manifests dir> <pki dir> <name>
  local bin="$1" manifests="$2" pki="$3" name="$4" exe wport hport extra_var args=()
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

  : >"$state/logs/$name.log"
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
  exec 9>"$state/.lock"
  flock 9
  stop_all
  fw_remove
}

cmd_status() {
  local name rc=0
  for name in $(capi_manager_names); do
    if healthy "$name"; then
      echo "$name: up (pid $(manager_pid "$name"))"
    else
      echo "$name: down"
      rc=1
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) capi_die "usage: $0 start KUBECONFIG | stop | status" ;;
esac
