#!/usr/bin/env bash
# Move gomod/k8s to another Kubernetes patch or minor release.
#
#   test/lab/k8s/update-k8s-replaces.sh v1.34.4 [etcd-version]
#
# Reads k8s.io/kubernetes' own go.mod from the Go module proxy, replaces every
# staging module (k8s.io/<x> => ./staging/src/k8s.io/<x>) with its published
# v0.<minor>.<patch> tag, pins etcd to the version that release uses (or the one
# given), and runs go mod tidy. Review the go.mod/go.sum diff afterwards.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/gomod/k8s"
k8s="${1:?usage: $0 v1.MINOR.PATCH [etcd-version]}"
[[ "$k8s" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "bad version $k8s" >&2; exit 1; }
staging="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

command -v jq >/dev/null || { echo "jq is required" >&2; exit 1; }
cd "$mod"
upstream_mod="$(go mod download -json "k8s.io/kubernetes@$k8s" | jq -r .GoMod)"
[[ -f "$upstream_mod" ]] || { echo "cannot download k8s.io/kubernetes@$k8s" >&2; exit 1; }
etcd="${2:-$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$upstream_mod")}"

# Drop every replace, then append one block with the new staging replaces.
while read -r old; do
  go mod edit -dropreplace="$old"
done < <(go mod edit -json | jq -r '.Replace[]?.Old.Path')
mapfile -t staging_mods < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' "$upstream_mod")
((${#staging_mods[@]} > 0)) || { echo "no staging replaces in $upstream_mod" >&2; exit 1; }
{
  echo
  echo "replace ("
  for m in "${staging_mods[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  echo ")"
} >>go.mod
go mod edit -fmt

go mod edit -require="k8s.io/kubernetes@$k8s" -require="go.etcd.io/etcd/server/v3@$etcd"
go mod tidy
echo "gomod/k8s: kubernetes $k8s, ${#staging_mods[@]} staging replaces at $staging, etcd $etcd" >&2
