#!/usr/bin/env bash
# Stop lab clusters started by up.sh.
#
#   test/lab/k8s/down.sh                  stop every cluster under .lab/k8s/
#   test/lab/k8s/down.sh mgmt             stop only "mgmt"
#   test/lab/k8s/down.sh --purge [NAME]   also delete their state (certs, etcd data, logs)
#
# Processes are found by their pid files and stopped by process group
# (SIGTERM, then SIGKILL after 10 s). The built binaries are left alone.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=false
names=()
for arg in "$@"; do
  case "$arg" in
    --purge) purge=true ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) lab_die "unknown option $arg" ;;
    *) lab_check_name "$arg"; names+=("$arg") ;;
  esac
done

if ((${#names[@]} == 0)) && [[ -d "$lab_k8s_dir" ]]; then
  for d in "$lab_k8s_dir"/*/; do
    [[ -d "$d" ]] && names+=("$(basename "$d")")
  done
fi

for name in "${names[@]}"; do
  dir="$lab_k8s_dir/$name"
  if [[ ! -d "$dir" ]]; then
    lab_log "$name: no state at $dir"
    continue
  fi
  if lab_any_running "$dir"; then
    lab_log "$name: stopping"
    lab_stop_cluster "$dir"
  else
    lab_log "$name: not running"
  fi
  if $purge; then
    lab_log "$name: deleting $dir"
    rm -rf "$dir"
  fi
done

# Keep the env file in step: only running clusters stay in it.
bin=""
if [[ -f "$lab_env_file" ]]; then
  # shellcheck disable=SC2016
  bin="$(bash -c 'source "$1" && printf %s "${CAPI_LAB_K8S_BIN:-}"' _ "$lab_env_file")"
fi
if $purge && [[ -d "$lab_k8s_dir" ]] && [[ -z "$(ls -A "$lab_k8s_dir")" ]]; then
  rm -f "$lab_env_file"
  rmdir "$lab_k8s_dir"
else
  lab_write_env "$bin"
fi
