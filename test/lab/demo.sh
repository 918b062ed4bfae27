#!/usr/bin/env bash
# The main job on the local lab: start the lab, apply environments/lab, then
# show that a second plan finds nothing to do.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
bash test/lab/up.sh
# shellcheck disable=SC1091
. .lab/env
cli=(node dist/cli/index.js)
key=()
[ -f .lab/seed_key ] && key=(--ssh-private-key-file .lab/seed_key)
echo "== capi-mgmt apply --env lab"
"${cli[@]}" apply --env lab --yes "${key[@]}"
echo "== capi-mgmt plan --env lab (expect no changes)"
"${cli[@]}" plan --env lab --detailed-exitcode "${key[@]}"
