// Generated from bootstrap.sh by embed.ts: edit bootstrap.sh, then run
// `node --import tsx src/layers/seed-k3s/embed.ts`.
export const BOOTSTRAP_SCRIPT = `#!/usr/bin/env bash
# Bring the seed host's K3s to the desired state; run as root (sudo).
#
# Idempotent and safe to re-run after it was cut off at any point: a
# re-run does only what is left and reports "changed=0" when nothing was.
# The last line of stdout is machine-readable:
#
#   CAPI_MGMT_RESULT mode=apply changed=0|1 steps=<step,...> version=<k3s version> healthy=0|1
#
# Inputs (environment):
#   CAPI_MGMT_ROOT     prefix for every path (empty on a real host; a sandbox in the lab)
#   MODE               apply (default) | check (report what apply would change; change nothing)
#   K3S_VERSION        the version to run, e.g. v1.34.8+k3s1
#   K3S_BINARY         apply: the uploaded K3s binary to install
#   K3S_SHA256         apply: its expected sha256
#   DATA_VOLUME_ID     the data volume's id: found as /dev/disk/by-id/*<first 20 chars>*
#   DATA_DEVICE        ... or the device path itself (e.g. /dev/vdb); "none" when the cloud has
#                      no block storage (K3s state then stays on the root disk)
#   K3S_API_TIMEOUT    seconds to wait for the API after a (re)start (default 300)
set -euo pipefail
shopt -s nullglob

root="\${CAPI_MGMT_ROOT:-}"
mode="\${MODE:-apply}"
version="\${K3S_VERSION:?K3S_VERSION is required}"
api_timeout="\${K3S_API_TIMEOUT:-300}"

state_dir="$root/var/lib/capi-mgmt"
k3s_bin="$root/usr/local/bin/k3s"
mount_point=/var/lib/rancher/k3s
data_dir="$root$mount_point"
unit_name=k3s-server
unit_file="$root/etc/systemd/system/$unit_name.service"
sysctl_file="$root/etc/sysctl.d/90-capi-mgmt-inotify.conf"
fstab="$root/etc/fstab"
kubeconfig="$root/etc/rancher/k3s/k3s.yaml"
# Present from the moment the binary or unit is replaced until K3s has been
# restarted, so a run cut off in between restarts K3s on the next run.
restart_pending="$state_dir/restart-pending"

steps=()

say() { printf '%s\\n' "$*"; }
die() {
  printf 'error: %s\\n' "$*" >&2
  exit 1
}
changed() {
  steps+=("$1")
  if [[ "$mode" == check ]]; then say "would $1"; else say "$1"; fi
}
applying() { [[ "$mode" == apply ]]; }

# Write <content> to <file> atomically (temp file + rename) with <mode>.
write_file() { # <file> <mode> <content>
  local file="$1" perm="$2" content="$3"
  mkdir -p "$(dirname "$file")"
  printf '%s' "$content" >"$file.tmp"
  chmod "$perm" "$file.tmp"
  mv -f "$file.tmp" "$file"
}

# True when <file> holds exactly <content>.
same_content() { # <file> <content>
  [[ -f "$1" ]] && [[ "$(cat "$1"; printf x)" == "\${2}x" ]]
}

case "$mode" in apply | check) ;; *) die "MODE must be apply or check, not '$mode'" ;; esac

for cmd in blkid mkfs.xfs mount mountpoint xfs_growfs sysctl systemctl flock sha256sum install; do
  command -v "$cmd" >/dev/null || die "$cmd is missing on this host (packages: util-linux, xfsprogs, procps, systemd, coreutils)"
done

if applying; then
  mkdir -p "$state_dir"
  exec 9>"$state_dir/bootstrap.lock"
  flock -w 600 9 || die "another bootstrap is still running (lock $state_dir/bootstrap.lock)"
fi

# ------------------------------------------------------------ sysctl (inotify)
# Many controllers watch many files; the kernel defaults are too low.
sysctl_conf="# Managed by capi-mgmt: inotify limits for K3s and its controllers.
fs.inotify.max_queued_events = 131072
fs.inotify.max_user_instances = 1024
fs.inotify.max_user_watches = 1308496
"
if ! same_content "$sysctl_file" "$sysctl_conf"; then
  changed sysctl
  if applying; then write_file "$sysctl_file" 0644 "$sysctl_conf"; fi
fi
if applying; then sysctl -q -p "$sysctl_file" >/dev/null; fi

# ------------------------------------------------------------ data volume
# A missing data volume is an error, never skipped: K3s state on the root
# disk would be lost with the VM.
find_device() {
  local link id20
  if [[ -n "\${DATA_DEVICE:-}" ]]; then
    [[ -b "$root$DATA_DEVICE" || -f "$root$DATA_DEVICE" ]] ||
      die "data device $DATA_DEVICE does not exist (is the data volume attached?)"
    printf '%s\\n' "$root$DATA_DEVICE"
    return
  fi
  [[ -n "\${DATA_VOLUME_ID:-}" ]] || die "neither DATA_VOLUME_ID nor DATA_DEVICE is set: cannot find the data volume"
  # Virtio and SCSI disks carry the first 20 characters of the volume id as their serial.
  id20="\${DATA_VOLUME_ID:0:20}"
  for link in "$root"/dev/disk/by-id/*"$id20"*; do
    [[ "$link" == *-part* ]] && continue
    readlink -f "$link"
    return
  done
  die "data volume $DATA_VOLUME_ID is not attached: no /dev/disk/by-id/*$id20* on this host"
}

data_volume() {
  local device fstype uuid fstab_line current nl=$'\\n'
  device="$(find_device)"
  say "data volume: \${device#"$root"}"

  fstype="$(blkid -o value -s TYPE "$device" || true)"
  if [[ -z "$fstype" ]]; then
    changed format
    if applying; then mkfs.xfs -q -L k3s-data "$device"; fi
  elif [[ "$fstype" != xfs ]]; then
    die "\${device#"$root"} holds a $fstype file system, expected xfs; refusing to format it"
  fi

  uuid="$(blkid -o value -s UUID "$device" || true)"
  if [[ -n "$uuid" ]]; then
    fstab_line="UUID=$uuid $mount_point xfs defaults,nofail 0 2"
    if ! grep -qxF "$fstab_line" "$fstab" 2>/dev/null; then
      changed fstab
      if applying; then
        current="$(awk -v mp="$mount_point" '$2 != mp' "$fstab" 2>/dev/null || true)"
        write_file "$fstab" 0644 "\${current:+$current$nl}$fstab_line$nl"
      fi
    fi
  elif applying; then
    die "\${device#"$root"} has no file system UUID after formatting"
  fi

  if ! mountpoint -q "$data_dir"; then
    changed mount
    if applying; then
      mkdir -p "$data_dir"
      mount -t xfs "$device" "$data_dir"
    fi
  fi
  # Take up a volume that was resized; a no-op otherwise.
  if applying; then xfs_growfs "$data_dir" >/dev/null || say "warning: xfs_growfs $mount_point failed"; fi
}

if [[ "\${DATA_DEVICE:-}" == none ]]; then
  say "no data volume (none attached by design): K3s state stays on the root disk"
else
  data_volume
fi

# ------------------------------------------------------------ K3s binary
installed_version() {
  if [[ -x "$k3s_bin" ]]; then "$k3s_bin" --version 2>/dev/null | awk 'NR == 1 { print $3 }'; fi
}

if applying; then
  : "\${K3S_BINARY:?K3S_BINARY is required}" "\${K3S_SHA256:?K3S_SHA256 is required}"
  [[ -f "$K3S_BINARY" ]] || die "the uploaded K3s binary $K3S_BINARY is missing"
  [[ "$(sha256sum "$K3S_BINARY" | awk '{ print $1 }')" == "$K3S_SHA256" ]] ||
    die "the uploaded K3s binary $K3S_BINARY does not match sha256 $K3S_SHA256"
  if [[ "$(sha256sum "$k3s_bin" 2>/dev/null | awk '{ print $1 }')" != "$K3S_SHA256" ]]; then
    changed binary
    touch "$restart_pending"
    mkdir -p "$(dirname "$k3s_bin")"
    install -m 0755 "$K3S_BINARY" "$k3s_bin.new"
    mv -f "$k3s_bin.new" "$k3s_bin"
  fi
  got="$(installed_version)"
  [[ "$got" == "$version" ]] || die "the installed K3s binary reports version '$got', expected $version"
elif [[ "$(installed_version)" != "$version" ]]; then
  changed binary
fi

# ------------------------------------------------------------ systemd unit
unit="[Unit]
Description=K3s server (managed by capi-mgmt)
Documentation=https://docs.k3s.io
Wants=network-online.target
After=network-online.target
RequiresMountsFor=$mount_point

[Service]
Type=notify
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s server --disable traefik --write-kubeconfig-mode 0600
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
"
if ! same_content "$unit_file" "$unit"; then
  changed unit
  if applying; then
    touch "$restart_pending"
    write_file "$unit_file" 0644 "$unit"
    systemctl daemon-reload
  fi
fi

if ! systemctl is-enabled -q "$unit_name" 2>/dev/null; then
  changed enable
  if applying; then systemctl enable -q "$unit_name"; fi
fi

if [[ -e "$restart_pending" ]]; then
  changed restart
  if applying; then
    systemctl restart "$unit_name"
    rm -f "$restart_pending"
  fi
elif ! systemctl is-active -q "$unit_name"; then
  changed start
  if applying; then systemctl start "$unit_name"; fi
fi

# ------------------------------------------------------------ API health
api_ready() {
  [[ -s "$kubeconfig" ]] &&
    [[ "$("$k3s_bin" kubectl --kubeconfig "$kubeconfig" --request-timeout=5s get --raw=/readyz 2>/dev/null)" == ok ]]
}

healthy=0
if applying; then
  start=$SECONDS
  next_note=$((start + 15))
  until api_ready; do
    if ((SECONDS - start >= api_timeout)); then
      die "the K3s API did not become ready within \${api_timeout}s (see: journalctl -u $unit_name)"
    fi
    if ((SECONDS >= next_note)); then
      say "waiting for the K3s API ($((SECONDS - start))s, $unit_name $(systemctl is-active "$unit_name" 2>/dev/null || true))"
      next_note=$((SECONDS + 15))
    fi
    sleep 1
  done
  healthy=1
elif api_ready; then
  healthy=1
fi

changed_flag=0
((\${#steps[@]} == 0)) || changed_flag=1
steps_csv="$(
  IFS=,
  printf '%s' "\${steps[*]}"
)"
say "CAPI_MGMT_RESULT mode=$mode changed=$changed_flag steps=\${steps_csv:--} version=$(installed_version || true) healthy=$healthy"
`;
