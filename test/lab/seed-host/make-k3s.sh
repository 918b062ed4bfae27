#!/usr/bin/env bash
# Write a K3s stand-in "binary" that reports <version>:
#   test/lab/seed-host/make-k3s.sh v1.34.8+k3s1 /tmp/k3s
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: make-k3s.sh VERSION OUTPUT" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sed "s/@K3S_VERSION@/$1/" "$here/k3s-standin.sh" >"$2.tmp"
chmod 755 "$2.tmp"
mv -f "$2.tmp" "$2"
