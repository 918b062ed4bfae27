#!/usr/bin/env bash
# Render the Cluster API, CAPO and ORC manifests the lab installs: the same
# `kustomize build config/default` a release runs, from the pinned modules,
# then rewritten for managers that run as host processes (rewrite-manifests.ts;
# every difference from the release YAML is listed in README.md).
#
#   test/lab/capi/manifests.sh              render if needed; prints the output dir on stdout
#   test/lab/capi/manifests.sh --print-dir  print the output dir only (exit 1 if not rendered)
#   test/lab/capi/manifests.sh --key        print the cache key only
#   test/lab/capi/manifests.sh --pki-dir    make (if needed) and print the lab PKI dir
#
# Output: ${CAPI_LAB_CACHE:-~/.cache/capi-mgmt-lab}/capi/manifests/<key>/, laid
# out like the release download paths (what src/tools/sources.ts names), so the
# lab mirror can serve the directory as it is:
#   kubernetes-sigs/cluster-api/releases/download/<v>/{cluster-api,core,bootstrap,control-plane}-components.yaml
#   kubernetes-sigs/cluster-api-provider-openstack/releases/download/<v>/infrastructure-components.yaml
#   k-orc/openstack-resource-controller/releases/download/<v>/install.yaml
#   args/<manager>.args     the manager's release arguments, one per line (run.sh reads them)
#   args/<manager>.serviceaccount  namespace/name of the ServiceAccount its Deployment runs as
#   raw/<manager>.yaml      kustomize's output before the rewrite
#   changes/<manager>.txt   every change the rewrite made
# The lab PKI (one CA, one serving certificate for IP 127.0.0.1 that every
# manager serves its webhooks with) is kept in .../capi/pki/ and made once;
# <key> covers it, the module versions, the ports, kustomize and the rewrite.
#
# kustomize is the one built into the lab's kubectl (test/lab/k8s/build.sh),
# so nothing more is built for it.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pki_dir="$capi_cache/pki"

# EC P-256, like the rest of the lab (RSA keys take about a second each on a
# busy 2-core machine). kube-apiserver and controller-runtime accept both.
make_pki() {
  [[ -f "$pki_dir/serving/tls.crt" && -f "$pki_dir/ca.crt" ]] && return 0
  command -v openssl >/dev/null || capi_die "openssl is required"
  mkdir -p "$pki_dir"
  exec 8>"$pki_dir/.lock"
  flock 8
  if [[ ! -f "$pki_dir/serving/tls.crt" ]]; then
    local tmp="$pki_dir/.tmp-$$"
    rm -rf "$tmp"
    mkdir -p "$tmp/serving"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$tmp/ca.key" -out "$tmp/ca.crt" -days 3650 -sha256 \
      -subj "/CN=capi-lab-webhook-ca" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/serving/tls.key" 2>/dev/null
    openssl req -new -key "$tmp/serving/tls.key" -subj "/CN=capi-lab-webhooks" -out "$tmp/serving.csr" 2>/dev/null
    openssl x509 -req -in "$tmp/serving.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
      -days 3650 -sha256 -out "$tmp/serving/tls.crt" \
      -extfile <(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
        'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost') 2>/dev/null
    rm -f "$tmp/serving.csr" "$tmp/ca.srl"
    chmod 700 "$tmp" "$tmp/serving"
    chmod 600 "$tmp/ca.key" "$tmp/serving/tls.key"
    rm -rf "$pki_dir/serving" "$pki_dir/ca.crt" "$pki_dir/ca.key"
    mv "$tmp/ca.crt" "$tmp/ca.key" "$tmp/serving" "$pki_dir/"
    rmdir "$tmp"
    capi_log "made the lab webhook CA and serving certificate in $pki_dir"
  fi
  exec 8>&-
}

if [[ "${1:-}" == --pki-dir ]]; then
  make_pki
  echo "$pki_dir"
  exit 0
fi

capi_check_pins
capi_version="$(capi_version_of capi)"
capo_version="$(capi_version_of capo)"
orc_version="$(capi_version_of orc)"

k8s_bin="$("$capi_here/../k8s/build.sh" --print-dir)" ||
  capi_die "the lab's kubectl is not built (its kustomize renders the manifests): run test/lab/k8s/build.sh"
kubectl="$k8s_bin/kubectl"
kustomize_version="$("$kubectl" version --client -o json | sed -nE 's/.*"kustomizeVersion": *"([^"]+)".*/\1/p')"
[[ -n "$kustomize_version" ]] || capi_die "$kubectl does not report a kustomize version"

rewrite="$capi_here/rewrite-manifests.ts"
yaml_pkg="$capi_repo_root/node_modules/yaml/package.json"
[[ -f "$yaml_pkg" ]] || capi_die "node_modules is missing (run npm ci in $capi_repo_root): the rewrite needs the yaml package and tsx"

make_pki

key="$(
  {
    printf '%s\n' "cluster-api=$capi_version" "capo=$capo_version" "orc=$orc_version" \
      "kustomize=$kustomize_version" "recipe=1"
    capi_managers_table
    cat "$pki_dir/ca.crt" "$rewrite" "${BASH_SOURCE[0]}" "$yaml_pkg"
  } | sha256sum | cut -c1-16
)"
out_root="$capi_cache/manifests"
out="$out_root/$key"
capi_rel="kubernetes-sigs/cluster-api/releases/download/$capi_version"
capo_rel="kubernetes-sigs/cluster-api-provider-openstack/releases/download/$capo_version"
orc_rel="k-orc/openstack-resource-controller/releases/download/$orc_version"

case "${1:-}" in
  --key) echo "$key"; exit 0 ;;
  --print-dir)
    [[ -f "$out/.complete" ]] || capi_die "manifests not rendered yet: run $0"
    echo "$out"
    exit 0
    ;;
  "") ;;
  *) capi_die "usage: $0 [--print-dir|--key|--pki-dir]" ;;
esac

if [[ -f "$out/.complete" ]]; then
  capi_log "reusing $out"
  echo "$out"
  exit 0
fi

# Module sources, at exact versions (fetched if the module cache lacks them).
moddir() { # <wrapper> <module>
  (cd "$capi_gomod/$1" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' "$2")
}
capi_src="$(moddir capi sigs.k8s.io/cluster-api)"
capo_src="$(moddir capo sigs.k8s.io/cluster-api-provider-openstack)"
orc_src="$(moddir orc github.com/k-orc/openstack-resource-controller/v2)"

# name  kustomization dir  output file  release image
jobs_table() {
  cat <<EOF
core          $capi_src/core/config/default                  $capi_rel/core-components.yaml           registry.k8s.io/cluster-api/cluster-api-controller:$capi_version
bootstrap     $capi_src/bootstrap/kubeadm/config/default     $capi_rel/bootstrap-components.yaml      registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:$capi_version
controlplane  $capi_src/controlplane/kubeadm/config/default  $capi_rel/control-plane-components.yaml  registry.k8s.io/cluster-api/kubeadm-control-plane-controller:$capi_version
capo          $capo_src/config/default                       $capo_rel/infrastructure-components.yaml registry.k8s.io/capi-openstack/capi-openstack-controller:$capo_version
orc           $orc_src/config/default                        $orc_rel/install.yaml                    quay.io/orc/openstack-resource-controller:$orc_version
EOF
}

mkdir -p "$out_root"
tmp="$out_root/.tmp-$key-$$"
rm -rf "$tmp"
mkdir -p "$tmp/raw" "$tmp/args" "$tmp/changes" "$tmp/$capi_rel" "$tmp/$capo_rel" "$tmp/$orc_rel"
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS

while read -r name dir file image; do
  port="$(capi_manager_field "$name" 5)"
  "$kubectl" kustomize "$dir" >"$tmp/raw/$name.yaml" 2>"$tmp/raw/$name.log" ||
    { cat "$tmp/raw/$name.log" >&2; capi_die "kustomize build $dir failed"; }
  url="https://127.0.0.1:$port"
  [[ "$port" != - ]] || url="https://127.0.0.1:0" # ORC serves no webhooks; nothing uses the URL
  (cd "$capi_repo_root" && node --import tsx "$rewrite" --in "$tmp/raw/$name.yaml" --out "$tmp/$file" --args "$tmp/args/$name.args" \
    --service-account "$tmp/args/$name.serviceaccount" --changes "$tmp/changes/$name.txt" --webhook-url "$url" --ca-bundle-file "$pki_dir/ca.crt" --image "$image") ||
    capi_die "rewriting $name's manifests failed (input $tmp/raw/$name.yaml)"
  capi_log "$name: $(grep -c '^kind:' "$tmp/$file") objects, $(wc -l <"$tmp/changes/$name.txt") changes -> $file"
done < <(jobs_table)

# As the cluster-api Makefile's release-manifests target assembles it.
{
  cat "$tmp/$capi_rel/core-components.yaml"
  echo "---"
  cat "$tmp/$capi_rel/bootstrap-components.yaml"
  echo "---"
  cat "$tmp/$capi_rel/control-plane-components.yaml"
} >"$tmp/$capi_rel/cluster-api-components.yaml"
cp "$capi_src/metadata.yaml" "$tmp/$capi_rel/metadata.yaml"
cp "$capo_src/metadata.yaml" "$tmp/$capo_rel/metadata.yaml"
chmod -R u+w "$tmp"

{
  echo "key=$key"
  echo "cluster-api=$capi_version"
  echo "capo=$capo_version"
  echo "orc=$orc_version"
  echo "kustomize=$kustomize_version"
  echo "ca=$pki_dir/ca.crt"
} >"$tmp/VERSIONS"
touch "$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
capi_log "rendered in $((SECONDS - t0))s: $out"
echo "$out"
