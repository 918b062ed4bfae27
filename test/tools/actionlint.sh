#!/usr/bin/env bash
# Lint GitHub workflow files with actionlint, built from the Go module proxy
# the way the lab builds its Kubernetes binaries: once, outside the repo.
#
#   test/tools/actionlint.sh [files...]   build if needed, then lint the files
#                                         (default: .github/workflows/*.yml and
#                                         examples/workflows/*.yml)
#   test/tools/actionlint.sh --print-path build if needed, print the binary's path
#
# The binary lives in ${CAPI_LAB_CACHE:-~/.cache/capi-mgmt-lab}/actionlint/<key>/,
# <key> being a hash of the pinned module (actionlint/go.mod, go.sum), the
# build flags and the Go version. shellcheck checks the `run:` scripts; it is
# installed from Debian's packages when missing (as test/lab/up.sh does), so a
# script is never silently left unchecked.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
gomod="$here/actionlint"
cache_root="${CAPI_LAB_CACHE:-$HOME/.cache/capi-mgmt-lab}"

log() { printf '[actionlint] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || die "go is not on PATH (actionlint is built from the Go module proxy)"

version="$(awk '$1 == "require" && $2 == "github.com/rhysd/actionlint" { print $3 }' "$gomod/go.mod")"
[[ -n "$version" ]] || die "cannot read actionlint's version from $gomod/go.mod"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
ldflags="-s -w -X github.com/rhysd/actionlint.version=$version"
key="$(
  {
    go env GOVERSION GOOS GOARCH
    printf '%s\n' "$GOFLAGS" "$ldflags" "recipe=1"
    cat "$gomod/go.mod" "$gomod/go.sum"
  } | sha256sum | cut -c1-16
)"
bin_dir="$cache_root/actionlint/$version-$key"
bin="$bin_dir/actionlint"

if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache_root/actionlint"
  exec 9>"$cache_root/actionlint/.lock"
  flock 9
  if [[ ! -x "$bin" ]]; then # not built by another process while we waited
    t0=$SECONDS
    log "building actionlint $version with $(go env GOVERSION) into $bin_dir"
    tmp="$cache_root/actionlint/.tmp-$key-$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$gomod" && go build -ldflags "$ldflags" -o "$tmp/actionlint" github.com/rhysd/actionlint/cmd/actionlint)
    rm -rf "$bin_dir"
    mv "$tmp" "$bin_dir"
    trap - EXIT
    log "built in $((SECONDS - t0)) s"
  fi
  exec 9>&-
fi

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$bin"
  exit 0
fi

if ! command -v shellcheck >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing shellcheck (checks the workflows' run: scripts)"
    compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
  else
    die "shellcheck is not installed (it checks the workflows' run: scripts): apt-get install shellcheck"
  fi
fi

cd "$root"
lint() { "$bin" -shellcheck "$(command -v shellcheck)" -config-file "$root/.github/actionlint.yaml" "$@"; }
if [[ $# -gt 0 ]]; then
  lint "$@"
  exit 0
fi

# The project's own workflows, in place.
own=(.github/workflows/*.yml)
lint "${own[@]}"
# The user workflows call this action as `your-org/capi-mgmt-action@<ref>`,
# which actionlint cannot read. In a scratch copy whose root holds our
# action.yml they call `./` instead, so actionlint also checks every `with:`
# against the inputs and every `steps.*.outputs` against the outputs that
# action.yml declares. Line numbers are kept; paths are reported as ours.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/.github/workflows" "$scratch/.git" # actionlint finds a project root by its .git
cp action.yml "$scratch/"
ln -s "$root/dist" "$scratch/dist" # actionlint checks that runs.main and runs.post exist
examples=(examples/workflows/*.yml)
for f in "${examples[@]}"; do
  grep -q 'uses: your-org/capi-mgmt-action@' "$f" || die "$f does not use the action as your-org/capi-mgmt-action@<ref>"
  sed -E 's#uses: your-org/capi-mgmt-action@[^[:space:]]+#uses: ./#' "$f" >"$scratch/.github/workflows/$(basename "$f")"
done
# pipefail: the pipeline fails when actionlint does.
(cd "$scratch" && lint .github/workflows/*.yml) | sed 's#^\.github/workflows/#examples/workflows/#'
log "${#own[@]} project workflows and ${#examples[@]} user workflows checked"
