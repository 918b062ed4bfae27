#!/usr/bin/env bash
# verify.sh: smoke test of the lab's OpenStack, with curl and jq only.
#
# Logs in as the demo user with the lab's application credential, the way
# capi-mgmt does, and walks through what the tool needs: token and catalog,
# a network with a subnet, a server that goes ACTIVE, and a volume that is
# created (available), attached (in-use), detached, attached to a second
# server, detached again and deleted. Everything it creates is deleted again,
# also when a step fails. Prints the time of each step; exits non-zero on
# the first failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
LAB=${CAPI_LAB_DIR:-$REPO/.lab}
case "$LAB" in /*) ;; *) LAB=$PWD/$LAB ;; esac   # services chdir elsewhere
S=$LAB/openstack
[ -f "$S/appcred.json" ] || { echo "verify: no $S/appcred.json; run up.sh first" >&2; exit 1; }
AUTH_URL=$(jq -r .auth_url "$S/appcred.json")
AC_ID=$(jq -r .id "$S/appcred.json")
AC_SECRET=$(jq -r .secret "$S/appcred.json")
NAME=verify-$$
T0=$EPOCHREALTIME; TS=$T0
el() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%6.2f", b-a}'; }
ok() { printf '  ok  %-46s %ss  (total %ss)\n' "$1" "$(el "$TS")" "$(el "$T0")"; TS=$EPOCHREALTIME; }
fail() { echo "verify: FAIL: $*" >&2; exit 1; }

# api METHOD URL [JSON]: print the body; HTTP >= 400 fails unless it is $OK
api() {
  local m=$1 u=$2 d=${3:-} out code
  out=$(mktemp)
  code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" -H "X-Auth-Token: $TOKEN" \
    -H 'Content-Type: application/json' \
    -H 'OpenStack-API-Version: compute 2.90' -H 'OpenStack-API-Version: volume 3.60' \
    ${d:+--data-binary "$d"} "$u") || code=000
  if [ "$code" = 000 ] || { [ "$code" -ge 400 ] && [ "$code" != "${OK:-x}" ]; }; then
    echo "HTTP $code $m $u: $(head -c 800 "$out")" >&2; rm -f "$out"; return 1
  fi
  cat "$out"; rm -f "$out"
}
gone() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$1")" = 404 ]; }
# wait_for SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds
wait_for() {
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 5; i++)); do "$@" && return 0; sleep 0.2; done
  fail "$what: not reached within ${secs}s"
}
server_status() { api GET "$NOVA/servers/$1" | jq -r .server.status; }
volume_status() { api GET "$CINDER/volumes/$1" | jq -r .volume.status; }
server_is() { # SERVER STATUS
  local st; st=$(server_status "$1")
  [ "$st" = ERROR ] && fail "server $1 went to ERROR: $(api GET "$NOVA/servers/$1" | jq -c .server.fault)"
  [ "$st" = "$2" ]
}
volume_is() { # VOLUME STATUS
  local st; st=$(volume_status "$1")
  case "$st" in error*) fail "volume $1 went to $st" ;; esac
  [ "$st" = "$2" ]
}

# ---------------------------------------------------------------- cleanup
SRV1='' SRV2='' VOL='' NET=''
cleanup() {
  set +e
  local s
  for s in $SRV1 $SRV2; do api DELETE "$NOVA/servers/$s" > /dev/null; done
  for s in $SRV1 $SRV2; do wait_for 60 "server $s deleted" gone "$NOVA/servers/$s"; done
  if [ -n "$VOL" ]; then
    for ((i = 0; i < 150; i++)); do [ "$(volume_status "$VOL" 2> /dev/null)" = in-use ] || break; sleep 0.2; done
    OK=404 api DELETE "$CINDER/volumes/$VOL" > /dev/null
  fi
  [ -n "$NET" ] && api DELETE "$NEUTRON/v2.0/networks/$NET" > /dev/null
}
on_exit() {
  local rc=$?
  [ "$rc" = 0 ] && return
  echo "verify: cleaning up after the failure"
  cleanup
  echo "verify: FAILED"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP   # so that a killed run still cleans up

# ---------------------------------------------------------------- token
RESP=$(mktemp)
TOKEN=$(curl -s -D - -o "$RESP" -H 'Content-Type: application/json' "$AUTH_URL/auth/tokens" -d \
  "{\"auth\":{\"identity\":{\"methods\":[\"application_credential\"],\"application_credential\":{\"id\":\"$AC_ID\",\"secret\":\"$AC_SECRET\"}}}}" \
  | awk 'tolower($1)=="x-subject-token:"{print $2}' | tr -d '\r')
[ -n "$TOKEN" ] || fail "no token: $(head -c 400 "$RESP")"
ep() { jq -r --arg t "$1" '.token.catalog[] | select(.type==$t) | .endpoints[] | select(.interface=="public") | .url' "$RESP" | head -1; }
NOVA=$(ep compute); NEUTRON=$(ep network); GLANCE=$(ep image); CINDER=$(ep block-storage)
[ "$(ep volumev3)" = "$CINDER" ] || fail "catalog: volumev3 and block-storage differ"
PROJECT=$(jq -r .token.project.name "$RESP")
rm -f "$RESP"
for e in "$NOVA" "$NEUTRON" "$GLANCE" "$CINDER"; do [ -n "$e" ] || fail "catalog incomplete"; done
ok "token (application credential, project $PROJECT)"

IMAGE=$(api GET "$GLANCE/v2/images?name=fake-image" | jq -r '.images[0].id // empty')
FLAVOR=$(api GET "$NOVA/flavors" | jq -r '.flavors[] | select(.name=="m1.small") | .id')
PUBLIC=$(api GET "$NEUTRON/v2.0/networks?name=public" | jq -r '.networks[0].id // empty')
for e in "$IMAGE" "$FLAVOR" "$PUBLIC"; do [ -n "$e" ] || fail "fake-image, m1.small or public not found"; done
ok "image, flavor and public network found"

# ---------------------------------------------------------------- network
NET=$(api POST "$NEUTRON/v2.0/networks" "{\"network\":{\"name\":\"$NAME-net\"}}" | jq -r .network.id)
api POST "$NEUTRON/v2.0/subnets" "{\"subnet\":{\"name\":\"$NAME-subnet\",\"network_id\":\"$NET\",\"ip_version\":4,\"cidr\":\"10.42.0.0/24\"}}" > /dev/null
ok "network + subnet create"

# ---------------------------------------------------------------- servers
boot() { # NAME -> server id
  api POST "$NOVA/servers" "{\"server\":{\"name\":\"$1\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"$FLAVOR\",\"networks\":[{\"uuid\":\"$NET\"}]}}" | jq -r .server.id
}
SRV1=$(boot "$NAME-a"); SRV2=$(boot "$NAME-b")
wait_for 120 "server a ACTIVE" server_is "$SRV1" ACTIVE
wait_for 120 "server b ACTIVE" server_is "$SRV2" ACTIVE
ok "2 servers ACTIVE"

# ---------------------------------------------------------------- volume
VOL=$(api POST "$CINDER/volumes" "{\"volume\":{\"name\":\"$NAME-vol\",\"size\":1}}" | jq -r .volume.id)
wait_for 60 "volume available" volume_is "$VOL" available
ok "volume create -> available"

attach() { # SERVER
  api POST "$NOVA/servers/$1/os-volume_attachments" "{\"volumeAttachment\":{\"volumeId\":\"$VOL\"}}" > /dev/null
  wait_for 60 "volume in-use" volume_is "$VOL" in-use
  local on; on=$(api GET "$CINDER/volumes/$VOL" | jq -r '.volume.attachments[0].server_id')
  [ "$on" = "$1" ] || fail "volume attached to $on, expected $1"
  api GET "$NOVA/servers/$1/os-volume_attachments" | jq -e --arg v "$VOL" '[.volumeAttachments[] | select(.volumeId==$v)] | length == 1' > /dev/null \
    || fail "nova does not list the attachment on $1"
}
detach() { # SERVER
  api DELETE "$NOVA/servers/$1/os-volume_attachments/$VOL" > /dev/null
  wait_for 60 "volume available again" volume_is "$VOL" available
}
attach "$SRV1"; ok "attach to server a -> in-use"
detach "$SRV1"; ok "detach -> available"
attach "$SRV2"; ok "attach to server b -> in-use"
detach "$SRV2"; ok "detach -> available"

# ---------------------------------------------------------------- teardown
api DELETE "$CINDER/volumes/$VOL" > /dev/null
wait_for 60 "volume deleted" gone "$CINDER/volumes/$VOL"; VOL=
ok "volume delete"
api DELETE "$NOVA/servers/$SRV1" > /dev/null; api DELETE "$NOVA/servers/$SRV2" > /dev/null
wait_for 60 "server a deleted" gone "$NOVA/servers/$SRV1"; SRV1=
wait_for 60 "server b deleted" gone "$NOVA/servers/$SRV2"; SRV2=
ok "servers delete"
# the servers' ports must be gone with them (others may use the project too,
# so look at this run's network only)
LEFT=$(api GET "$NEUTRON/v2.0/ports?network_id=$NET" | jq '.ports | length')
[ "$LEFT" = 0 ] || fail "$LEFT ports left on $NAME-net after the servers were deleted"
api DELETE "$NEUTRON/v2.0/networks/$NET" > /dev/null; NET=
ok "network delete"
printf 'verify: OK in %ss\n' "$(el "$T0")"
