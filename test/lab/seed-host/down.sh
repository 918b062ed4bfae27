#!/usr/bin/env bash
# Stop the lab seed host: its sshd and every sandbox's K3s stand-in (and the
# lab clusters they started).
#
#   test/lab/seed-host/down.sh           stop
#   test/lab/seed-host/down.sh --purge   also delete .lab/seed-host and the keys
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=false
[[ "${1:-}" == --purge ]] && purge=true

for sb in "$seed_dir"/sandboxes/*/; do
  [[ -d "$sb" ]] && "$seed_here/sandbox.sh" stop "$(basename "$sb")"
done
pid="$(seed_sshd_pid)"
if [[ -n "$pid" ]]; then
  kill "$pid"
  seed_log "sshd stopped (pid $pid)"
fi
if $purge; then
  rm -rf "$seed_dir" "$seed_lab_dir/seed_key" "$seed_lab_dir/seed_key.pub" "$seed_lab_dir/env.d/seed-host.sh"
  seed_log "state removed"
fi
