#!/usr/bin/env bash
# sshd's ForceCommand for the lab seed host: run the requested command inside
# the sandbox of the key that logged in, with the OS stand-ins first on PATH.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$here/lib.sh"

name="${CAPI_LAB_SANDBOX:-default}"
sb="$seed_dir/sandboxes/$name"
if [[ ! -d "$sb" ]]; then
  echo "lab seed host: sandbox '$name' does not exist" >&2
  exit 255
fi

export CAPI_LAB_SANDBOX="$name" CAPI_LAB_SANDBOX_DIR="$sb" CAPI_LAB_REPO="$seed_repo_root"
# The lab's binary cache lives under the real HOME, which the sandbox replaces.
export CAPI_LAB_CACHE="${CAPI_LAB_CACHE:-$HOME/.cache/capi-mgmt-lab}"
export CAPI_MGMT_ROOT="$sb/root" HOME="$sb/home"
export PATH="$here/standins:$PATH"
# What a fault stand-in kills to emulate a dropped connection: this session's
# sshd process and the command's process group.
CAPI_LAB_SESSION_SSHD="$PPID"
CAPI_LAB_SESSION_PGID="$(ps -o pgid= -p $$ | tr -d ' ')"
export CAPI_LAB_SESSION_SSHD CAPI_LAB_SESSION_PGID
# shellcheck disable=SC1091
[[ -f "$sb/env.sh" ]] && source "$sb/env.sh"

# The demo's seed VM is fake, so whatever data volume the tool looks for is
# "attached": linked to root/dev/vdb (sandboxes with CAPI_LAB_ATTACH_ANY_VOLUME=1).
if [[ "${CAPI_LAB_ATTACH_ANY_VOLUME:-}" == 1 && "${SSH_ORIGINAL_COMMAND:-}" =~ DATA_VOLUME_ID=\'([0-9a-zA-Z-]+)\' ]]; then
  id="${BASH_REMATCH[1]}"
  ln -sfn ../../vdb "$CAPI_MGMT_ROOT/dev/disk/by-id/virtio-${id:0:20}"
fi

cd "$HOME" || exit 255
exec bash -c "${SSH_ORIGINAL_COMMAND:-echo 'lab seed host: interactive shells are not supported' >&2; exit 1}"
