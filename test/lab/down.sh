#!/usr/bin/env bash
# Stops the whole lab. `--purge` also deletes its state (caches are kept).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
lab=${CAPI_LAB_DIR:-$root/.lab}
if [ -f "$lab/mirror.pid" ]; then
  kill "$(cat "$lab/mirror.pid")" 2>/dev/null
  rm -f "$lab/mirror.pid" "$lab/env.d/mirror.sh"
fi
for part in seed-host k8s openstack; do
  [ -f "$here/$part/down.sh" ] && bash "$here/$part/down.sh" "$@"
done
exit 0
