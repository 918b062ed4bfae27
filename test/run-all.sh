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
# The project's and the user workflows (actionlint is built once from the Go module proxy).
bash test/tools/actionlint.sh

echo "== lab"
if [ "${CAPI_LAB_SKIP:-}" != "1" ]; then
  bash test/lab/up.sh
  [ "${CAPI_LAB_KEEP:-}" = "1" ] || trap 'bash test/lab/down.sh >/dev/null 2>&1' EXIT
fi

echo "== tests"
mkdir -p .lab
status=0
CAPI_DIST_REBUILD=1 npx vitest run --reporter=default --reporter=json --outputFile.json=.lab/vitest.json "$@" || status=$?
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const r = require("./.lab/vitest.json");
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
echo "all tests took $(( $(date +%s) - t0 )) s"
exit "$status"
