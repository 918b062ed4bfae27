#!/usr/bin/env bash
# Fake seed hosts behind the one lab sshd, one per test.
#
#   sandbox.sh create NAME   make (or keep) sandbox NAME; prints its directory
#   sandbox.sh stop NAME     stop its K3s stand-in and the lab cluster it started
#   sandbox.sh remove NAME   stop it and delete it (and its login key)
#
# A sandbox has its own login key (NAME/id_ed25519): sshd's authorized_keys
# line for it sets CAPI_LAB_SANDBOX=NAME, which session.sh turns into the
# sandbox's root (CAPI_MGMT_ROOT), HOME and stand-in state. Its data volume is
# the file root/dev/vdb, found as root/dev/disk/by-id/virtio-<serial>, where
# the serial is the first 20 characters of NAME/volume-id (a UUID, like a
# Cinder volume id).
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd="${1:-}"
name="${2:-}"
[[ -n "$cmd" && -n "$name" ]] || seed_die "usage: sandbox.sh create|stop|remove NAME"
seed_check_name "$name"
sb="$seed_dir/sandboxes/$name"

create() {
  mkdir -p "$sb"/root/{etc,dev/disk/by-id,usr/local/bin,var/lib} "$sb"/home "$sb"/state
  [[ -f "$sb/volume-id" ]] || cat /proc/sys/kernel/random/uuid >"$sb/volume-id"
  [[ -f "$sb/root/dev/vdb" ]] || : >"$sb/root/dev/vdb"
  local id
  id="$(<"$sb/volume-id")"
  ln -sfn ../../vdb "$sb/root/dev/disk/by-id/virtio-${id:0:20}"
  [[ -f "$sb/id_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C "capi-lab-sandbox-$name" -f "$sb/id_ed25519"
  if [[ ! -f "$sb/env.sh" ]]; then
    printf 'export CAPI_LAB_K3S_CLUSTER=%s\n' "k3s-${name:0:28}" >"$sb/env.sh"
    # The default sandbox serves the demo, whose volume ids come from the lab cloud.
    [[ "$name" != default ]] || echo 'export CAPI_LAB_ATTACH_ANY_VOLUME=1' >>"$sb/env.sh"
  fi
  touch "$sb/calls.log"
  (
    flock 9
    grep -qF "CAPI_LAB_SANDBOX=$name\"" "$seed_dir/authorized_keys" 2>/dev/null ||
      printf 'environment="CAPI_LAB_SANDBOX=%s" %s\n' "$name" "$(<"$sb/id_ed25519.pub")" >>"$seed_dir/authorized_keys"
  ) 9>"$seed_dir/.authorized_keys.lock"
  echo "$sb"
}

stop() {
  [[ -d "$sb" ]] || return 0
  local pidf pid cluster
  for pidf in "$sb"/state/units/*.pid; do
    [[ -f "$pidf" ]] || continue
    pid="$(<"$pidf")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then kill -- "-$pid" 2>/dev/null || kill "$pid" || true; fi
    rm -f "$pidf"
  done
  if [[ -f "$sb/state/k3s-cluster" ]]; then
    cluster="$(<"$sb/state/k3s-cluster")"
    "$seed_repo_root/test/lab/k8s/down.sh" "$@" "$cluster" >&2 || true
  fi
}

remove() {
  stop --purge
  if [[ -f "$seed_dir/authorized_keys" ]]; then
    (
      flock 9
      grep -vF "CAPI_LAB_SANDBOX=$name\"" "$seed_dir/authorized_keys" >"$seed_dir/authorized_keys.tmp" || true
      mv -f "$seed_dir/authorized_keys.tmp" "$seed_dir/authorized_keys"
    ) 9>"$seed_dir/.authorized_keys.lock"
  fi
  rm -rf "$sb"
}

case "$cmd" in
  create) create ;;
  stop) stop ;;
  remove) remove ;;
  *) seed_die "unknown command $cmd (create, stop, remove)" ;;
esac
