#!/usr/bin/env bash
# Stops the whole lab. `--purge` also deletes its state (caches are kept).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for part in seed-host k8s openstack; do
  [ -f "$here/$part/down.sh" ] && bash "$here/$part/down.sh" "$@"
done
exit 0
