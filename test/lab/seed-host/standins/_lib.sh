# shellcheck shell=bash
# Shared by the stand-ins: record the call, inject a fault if one is armed.
# Sourced with the stand-in's own arguments available as "$@" of standin_call.

standin_sb="${CAPI_LAB_SANDBOX_DIR:?stand-ins run only inside a lab seed host session}"
standin_state="$standin_sb/state"
mkdir -p "$standin_state"

standin_record() { printf '%s\n' "$*" >>"$standin_sb/calls.log"; }

# Drop the SSH session once when this call matches the armed fault (the
# prefix of a call line written to <sandbox>/fault): kill this session's sshd
# process, so the client sees the connection go, and the command's process
# group, so nothing of the run survives, like a seed that lost the network
# and the script with it.
standin_fault() {
  local call="$*" want
  [[ -f "$standin_sb/fault" ]] || return 0
  want="$(<"$standin_sb/fault")"
  [[ "$call" == "$want"* ]] || return 0
  rm -f "$standin_sb/fault"
  standin_record "fault: session dropped at '$call'"
  # Never the listening sshd itself (only this connection's process).
  local sshd="${CAPI_LAB_SESSION_SSHD:-}"
  if [[ -n "$sshd" && "$sshd" != "$(cat "$standin_sb/../../sshd.pid" 2>/dev/null)" ]]; then
    kill -TERM "$sshd" 2>/dev/null || true
  fi
  kill -KILL -- "-${CAPI_LAB_SESSION_PGID:?}" 2>/dev/null || true
  exit 137
}

standin_call() {
  standin_record "$*"
  standin_fault "$@"
}
