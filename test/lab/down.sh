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
# The Cluster API managers first: they talk to the seed cluster and OpenStack.
CAPI_LAB_DIR=$lab bash "$here/capi/run.sh" stop >/dev/null 2>&1
rm -f "$lab/env.d/capi.sh"
for part in seed-host k8s openstack; do
  [ -f "$here/$part/down.sh" ] && bash "$here/$part/down.sh" "$@"
done
exit 0
