#!/usr/bin/env bash
# All tests: static checks, unit tests, then the lab tests against the real
# lab (started here, stopped at the end). This is `npm test` and `.ci/run`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
t0=$(date +%s)

# Dependencies: (re)install when the lock file changed since the last install.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.lock-sha256
fi

echo "== static checks"
npx tsc -p tsconfig.json --noEmit
npx eslint --max-warnings=0 .
npx prettier --check . --log-level warn
# Unused files, exports and dependencies (knip.jsonc); import rules and cycles (.dependency-cruiser.mjs).
npx knip --no-progress
npx depcruise src
# The project's and the user workflows (actionlint is built once from the Go module proxy).
bash test/tools/actionlint.sh

lab_skip=0
[ "${CAPI_LAB_SKIP:-}" = "1" ] && lab_skip=1
echo "== lab"
if [ "$lab_skip" = 1 ]; then
  echo "CAPI_LAB_SKIP=1: the lab is not started and the lab tests are skipped"
else
  bash test/lab/up.sh
  [ "${CAPI_LAB_KEEP:-}" = "1" ] || trap 'bash test/lab/down.sh >/dev/null 2>&1' EXIT
fi

echo "== tests"
reports=$(mktemp -d)
status=0
projects=()
[ "$lab_skip" = 1 ] && projects=(--project unit)
CAPI_DIST_REBUILD=1 npx vitest run "${projects[@]}" --reporter=default --reporter=json --outputFile.json="$reports/run.json" "$@" ||
  status=$?
list=()
if [ "$lab_skip" = 1 ]; then
  # Only to count what is skipped: collecting the lab tests needs no lab.
  npx vitest list --project lab --json="$reports/lab.json" >/dev/null || status=1
  list=("$reports/lab.json")
fi
node test/summary.mjs "$reports/run.json" "${list[@]}" || status=1
rm -rf "$reports"
echo "all tests took $(( $(date +%s) - t0 )) s"
exit "$status"
