# shellcheck shell=bash
# Shared settings of build.sh, manifests.sh and run.sh. Source it; do not run it.

capi_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
capi_repo_root="$(cd "$capi_here/../../.." && pwd)"
capi_gomod="$capi_here/gomod"
# shellcheck disable=SC2034 # used by the scripts that source this file
capi_cache="${CAPI_LAB_CACHE:-$HOME/.cache/capi-mgmt-lab}/capi"

capi_log() { printf '[capi-lab] %s\n' "$*" >&2; }
capi_die() { capi_log "error: $*"; exit 1; }

# Login shells (the seed host's sessions, some CI steps) may lack Go's own bin dir.
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }

# The five managers, in start order. One line each:
#   name  binary  go-module-dir  main-package  webhook-port  health-port
# Ports are fixed (the webhook URLs in the rendered manifests name them), all
# on 127.0.0.1, in 61440-61489: above Linux's default ephemeral range
# (32768-60999) and outside the 20000-32767 that test/lab/k8s/up.sh picks from.
# ORC serves no webhooks (port "-").
capi_managers_table() {
  cat <<'EOF'
core          capi-manager                   capi  sigs.k8s.io/cluster-api/core                                     61443 61440
bootstrap     kubeadm-bootstrap-manager      capi  sigs.k8s.io/cluster-api/bootstrap/kubeadm                        61453 61450
controlplane  kubeadm-control-plane-manager  capi  sigs.k8s.io/cluster-api/controlplane/kubeadm                     61463 61460
capo          capo-manager                   capo  sigs.k8s.io/cluster-api-provider-openstack                       61473 61470
orc           orc-manager                    orc   github.com/k-orc/openstack-resource-controller/v2/cmd/manager    -     61480
EOF
}

# One field of a manager's row: capi_manager_field <name> <column 2..6>.
capi_manager_field() {
  capi_managers_table | awk -v n="$1" -v c="$2" '$1 == n { print $c; found = 1 } END { exit !found }' ||
    capi_die "no manager named '$1'"
}

capi_manager_names() { capi_managers_table | awk '{ print $1 }'; }

# Version of a module as required by one of the wrapper go.mod files.
capi_modver() { # <go.mod file> <module path>
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}

# A pin from src/model/versions.ts (the product's own source of truth).
capi_pin() { # <key>
  sed -nE "s/^  $1: '([^']+)',.*/\\1/p" "$capi_repo_root/src/model/versions.ts"
}

capi_version_of() { # capi|capo|orc
  case "$1" in
    capi) capi_modver "$capi_gomod/capi/go.mod" sigs.k8s.io/cluster-api ;;
    capo) capi_modver "$capi_gomod/capo/go.mod" sigs.k8s.io/cluster-api-provider-openstack ;;
    orc) capi_modver "$capi_gomod/orc/go.mod" github.com/k-orc/openstack-resource-controller/v2 ;;
    *) capi_die "unknown component $1" ;;
  esac
}

# The wrapper modules must build what the product pins; say which file to change if not.
capi_check_pins() {
  local c pin have
  for c in capi capo orc; do
    pin="$(capi_pin "$c")"
    have="$(capi_version_of "$c")"
    [[ -n "$pin" ]] || capi_die "cannot read the '$c' pin from src/model/versions.ts"
    [[ "$pin" == "$have" ]] ||
      capi_die "src/model/versions.ts pins $c $pin but $capi_gomod/$c/go.mod requires $have (update the wrapper: go.mod, then GOFLAGS=-mod=mod go mod tidy -e)"
  done
}
