# shellcheck shell=bash
# Shared helpers of the lab seed host. Source it; do not run it.
#
# State under ${CAPI_LAB_DIR:-<repo>/.lab}/seed-host/:
#   sshd_config, sshd.pid, sshd.log   the lab's own sshd (not the system one)
#   host_key, host_key.pub            its host key
#   authorized_keys                   one line per sandbox key
#   sandboxes/<name>/                 one fake seed host each:
#     root/        the file system the bootstrap script sees (CAPI_MGMT_ROOT)
#     home/        the login user's HOME
#     calls.log    one line per stand-in call ("systemctl restart k3s-server")
#     state/       what the stand-ins emulate (file systems, mounts, units)
#     fault        optional: "<command line prefix>" that drops the session once
#     env.sh       optional: extra exports for sessions (e.g. CAPI_LAB_K3S_CLUSTER)
#     id_ed25519   the sandbox's login key (the "default" sandbox uses .lab/seed_key)

seed_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seed_repo_root="$(cd "$seed_here/../../.." && pwd)"
seed_lab_dir="${CAPI_LAB_DIR:-$seed_repo_root/.lab}"
seed_dir="$seed_lab_dir/seed-host"
# shellcheck disable=SC2034 # used by up.sh
seed_port_default=22022

seed_log() { printf '[seed-host] %s\n' "$*" >&2; }
seed_die() {
  seed_log "error: $*"
  exit 1
}

seed_check_name() { # <sandbox name>
  [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] ||
    seed_die "bad sandbox name '$1' (use lower-case letters, digits and '-')"
}

# pid of the running lab sshd, or nothing.
seed_sshd_pid() {
  local pid
  [[ -f "$seed_dir/sshd.pid" ]] || return 0
  pid="$(<"$seed_dir/sshd.pid")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$seed_dir/sshd_config"; then echo "$pid"; fi
}
