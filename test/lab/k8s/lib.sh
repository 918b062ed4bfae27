# shellcheck shell=bash
# Shared helpers for up.sh, down.sh and smoke.sh. Source it; do not run it.
#
# Layout of one cluster's state, under ${CAPI_LAB_DIR:-<repo>/.lab}/k8s/<name>/:
#   kubeconfig            admin (system:masters) kubeconfig, certificates inline
#   pki/                  CA, serving, client and service-account keys
#   etcd-data/            etcd's data dir
#   ports.env             the ports this cluster uses (reused on restart if still free)
#   <component>.pid       pid (= process group id) of each component
#   logs/<component>.log  its stdout and stderr
#   kubeconfigs/          the controller-manager's, scheduler's and kwok's kubeconfigs

lab_k8s_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lab_repo_root="$(cd "$lab_k8s_here/../../.." && pwd)"
lab_dir="${CAPI_LAB_DIR:-$lab_repo_root/.lab}"
lab_k8s_dir="$lab_dir/k8s"
lab_env_file="$lab_dir/env.d/k8s.sh"

# Start order; stop order is the reverse.
lab_components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

lab_log() { printf '[k8s-lab] %s\n' "$*" >&2; }
lab_die() { lab_log "error: $*"; exit 1; }

lab_check_name() { # <name>
  [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] ||
    lab_die "bad cluster name '$1' (use lower-case letters, digits and '-')"
}

# CAPI_LAB_KUBECONFIG_<NAME>: upper-case, '-' becomes '_'.
lab_env_name() { # <name>
  local n="${1^^}"
  printf 'CAPI_LAB_KUBECONFIG_%s\n' "${n//-/_}"
}

# Is <pid> alive and running a command line that mentions <needle>? Guards
# against killing an unrelated process that reused a stale pid.
lab_pid_is() { # <pid> <needle>
  local pid="$1" needle="$2" cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$needle"* ]]
}

# pid of a running component of a cluster, or nothing.
lab_component_pid() { # <cluster dir> <component>
  local dir="$1" comp="$2" pid
  [[ -f "$dir/$comp.pid" ]] || return 0
  pid="$(<"$dir/$comp.pid")"
  # Every component is started with an argument naming a file in its cluster dir.
  if lab_pid_is "$pid" "$dir/"; then echo "$pid"; fi
}

lab_all_running() { # <cluster dir>
  local c
  for c in "${lab_components[@]}"; do
    [[ -n "$(lab_component_pid "$1" "$c")" ]] || return 1
  done
}

lab_any_running() { # <cluster dir>
  local c
  for c in "${lab_components[@]}"; do
    [[ -n "$(lab_component_pid "$1" "$c")" ]] && return 0
  done
  return 1
}

# Stop one cluster's processes: SIGTERM to each process group in reverse start
# order, SIGKILL after a grace period.
lab_stop_cluster() { # <cluster dir>
  local dir="$1" i comp pid n
  for ((i = ${#lab_components[@]} - 1; i >= 0; i--)); do
    comp="${lab_components[i]}"
    pid="$(lab_component_pid "$dir" "$comp")"
    if [[ -n "$pid" ]]; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for ((n = 0; n < 100; n++)); do
        lab_pid_is "$pid" "$dir/" || break
        sleep 0.1
      done
      if lab_pid_is "$pid" "$dir/"; then
        lab_log "$comp (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$dir/$comp.pid"
  done
}

# Sum of the resident memory (MiB) of a cluster's processes.
lab_cluster_rss_mib() { # <cluster dir>
  local dir="$1" comp pid kb total=0
  for comp in "${lab_components[@]}"; do
    pid="$(lab_component_pid "$dir" "$comp")"
    [[ -n "$pid" ]] || continue
    kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
    total=$((total + ${kb:-0}))
  done
  echo $((total / 1024))
}

# Rewrite .lab/env.d/k8s.sh from the clusters that are running now.
lab_write_env() { # <bin dir or empty>
  local bin="$1" d name tmp
  mkdir -p "$(dirname "$lab_env_file")"
  tmp="$lab_env_file.tmp.$$"
  {
    echo "# Written by test/lab/k8s/up.sh and down.sh; do not edit."
    if [[ -n "$bin" ]]; then
      printf 'export CAPI_LAB_K8S_BIN=%q\n' "$bin"
      printf 'export CAPI_LAB_HELM=%q\n' "$bin/helm"
      printf 'export CAPI_LAB_KUBECTL=%q\n' "$bin/kubectl"
    fi
    if [[ -d "$lab_k8s_dir" ]]; then
      for d in "$lab_k8s_dir"/*/; do
        d="${d%/}"
        name="$(basename "$d")"
        if [[ -f "$d/kubeconfig" ]] && lab_all_running "$d"; then
          printf 'export %s=%q\n' "$(lab_env_name "$name")" "$d/kubeconfig"
        fi
      done
    fi
  } >"$tmp"
  mv "$tmp" "$lab_env_file"
}
