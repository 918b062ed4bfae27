#!/usr/bin/env bash
# up.sh: start the lab's OpenStack cloud on 127.0.0.1.
#
# A real control plane built from Debian 12 packages (OpenStack Zed), run as
# plain background processes: no systemd, no containers, no hypervisor.
#
#   Keystone   :5000   identity v3, fernet tokens (uwsgi)
#   Glance     :9292   image v2, file store (uwsgi)
#   Placement  :8778   (uwsgi)
#   Nova API   :8774   compute v2.1 (uwsgi); conductor, scheduler and a
#                      nova-compute with the fake virt driver talk over RPC
#   Neutron    :9696   network v2.0, ML2 with a tiny agent-less mechanism
#                      driver of our own (uwsgi)
#   Cinder API :8776   block storage v3 (uwsgi); cinder-scheduler and a
#                      cinder-volume with Cinder's fake logging driver
#   MariaDB    :3306   datadir on tmpfs; RabbitMQ :5672 (epmd :4369,
#                      Erlang distribution :25672)
#
# Usage:
#   up.sh                 install what is missing, initialise, start, wait
#   up.sh --fresh         wipe the state first (down.sh --purge), then start
#   up.sh --install-only  install the Debian packages and stop
#
# Environment:
#   CAPI_LAB_DIR          lab root (default <repo>/.lab); state in $CAPI_LAB_DIR/openstack
#   CAPI_LAB_CACHE        snapshot cache root (default ~/.cache/capi-mgmt-lab);
#                         snapshots in $CAPI_LAB_CACHE/openstack; "" disables them
#   CAPI_LAB_OS_DB_DIR    MariaDB datadir (default on /dev/shm)
#   CAPI_LAB_OS_PASSWORD  every password in the lab (default capilab)
#   CAPI_LAB_OS_DEBUG=1   debug logging in every service
#
# Writes: $CAPI_LAB_DIR/openstack/{clouds.yaml,appcred.json,ports.txt,timings.txt,log/}
#         $CAPI_LAB_DIR/clouds.yaml (a copy) and $CAPI_LAB_DIR/env.d/openstack.sh
#
# Every step is idempotent: a finished initialisation step leaves a marker in
# lib/, a service that already runs is left alone, so re-running is cheap.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
LAB=${CAPI_LAB_DIR:-$REPO/.lab}
case "$LAB" in /*) ;; *) LAB=$PWD/$LAB ;; esac   # services chdir elsewhere
S=$LAB/openstack
CACHE=${CAPI_LAB_CACHE-$HOME/.cache/capi-mgmt-lab}
CACHE=${CACHE:+$CACHE/openstack}
# the datadir is per state dir, so that two checkouts never share one
DBDIR=${CAPI_LAB_OS_DB_DIR:-/dev/shm/capi-lab-openstack-$(printf '%s' "$S" | sha256sum | cut -c1-8)}
PW=${CAPI_LAB_OS_PASSWORD:-capilab}
DEBUG=false; [ "${CAPI_LAB_OS_DEBUG:-0}" = 1 ] && DEBUG=true

IP=127.0.0.1
REGION=RegionOne
HOSTNAME_=lab            # nova/cinder service host name
P_KEYSTONE=5000 P_GLANCE=9292 P_PLACEMENT=8778 P_NOVA=8774 P_NEUTRON=9696 P_CINDER=8776
P_MYSQL=3306 P_RABBIT=5672 P_EPMD=4369 P_ERLDIST=25672
KS=http://$IP:$P_KEYSTONE
DB="mysql+pymysql://lab:$PW@$IP:$P_MYSQL"
RABBIT="rabbit://guest:guest@$IP:$P_RABBIT/"
APPCRED_NAME=capi-lab
APPCRED_SECRET="$PW-appcred"
PY=/usr/bin/python3      # Debian's interpreter; python3 on PATH may be another one
export PYTHONDONTWRITEBYTECODE=1

# cinder-volume and cinder-api are not installed as packages: cinder-volume
# drags in lvm2, tgt and qemu-utils, cinder-api python3-openstackclient.
# python3-cinder + cinder-common (cinder-manage, cinder-wsgi, api-paste.ini)
# are all the fake backend needs; the entry points run from python3-cinder.
PKGS="mariadb-server python3-pymysql rabbitmq-server keystone glance-api
      placement-api nova-api nova-conductor nova-scheduler neutron-api
      python3-cinder cinder-common cinder-scheduler
      uwsgi-plugin-python3 curl jq openssh-client"

T0=$EPOCHREALTIME
el() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }
log() { printf '[os-lab %6ss] %s\n' "$(el)" "$*"; }
die() { log "ERROR: $*"; exit 1; }
mark() { echo "$1 $(el)" >> "$S/timings.txt"; }

MODE=${1:-}
case "$MODE" in
  ""|--install-only) ;;
  --fresh) "$HERE/down.sh" --purge || true ;;
  *) echo "usage: $0 [--fresh|--install-only]" >&2; exit 2 ;;
esac

############################################################################
# 1. Debian packages
############################################################################
install_packages() {
  local missing=() p
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages already installed"; return; fi
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root to install them"
  log "installing ${#missing[@]} packages and their dependencies: ${missing[*]}"
  # Maintainer scripts must not start daemons: a policy-rc.d that says 101
  # (action forbidden) keeps invoke-rc.d quiet.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  export DEBIAN_FRONTEND=noninteractive
  local aptlog=/tmp/capi-lab-openstack-apt.log
  # The package lists may be missing (fresh container) or older than the
  # mirror: update once, and once more if the install fails.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' > /dev/null; then
    apt-get update -q > "$aptlog" 2>&1 || { tail -20 "$aptlog"; die "apt-get update failed"; }
  fi
  local opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
              -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-unsafe-io)
  if ! apt-get install "${opts[@]}" "${missing[@]}" >> "$aptlog" 2>&1; then
    log "apt-get install failed; updating the package lists and trying again"
    apt-get update -q >> "$aptlog" 2>&1 || true
    apt-get install "${opts[@]}" "${missing[@]}" >> "$aptlog" 2>&1 \
      || { tail -40 "$aptlog"; die "apt-get install failed (see $aptlog)"; }
  fi
  log "packages installed"
}
install_packages
[ "$MODE" = --install-only ] && exit 0

mkdir -p "$S"/{etc,log,run,lib} "$S"/etc/{keystone,glance,placement,nova,neutron,cinder,rabbitmq}
: > "$S/timings.txt"
mark start

############################################################################
# helpers
############################################################################
alive() { local f="$S/run/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
# run NAME CMD...: start CMD detached in a session of its own, record its pid
run() {
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat "$S/run/$name.pid"))"; return; fi
  setsid "$@" >> "$S/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$S/run/$name.pid"
  log "started $name (pid $!)"
}
port_open() { (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }
died() { tail -30 "$S/log/$1".* 2>/dev/null || true; die "$1 died (see $S/log/$1.*)"; }
wait_port() { # NAME PORT SECONDS
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    port_open "$2" && return 0
    alive "$1" || died "$1"
    sleep 0.2
  done
  die "$1 did not open port $2 within $3 s"
}
wait_http() { # NAME URL SECONDS: any answer below 500 will do
  local i code=
  for ((i = 0; i < $3 * 5; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2" || true)
    [[ "$code" =~ ^[234] ]] && return 0
    alive "$1" || died "$1"
    sleep 0.2
  done
  die "$1 did not answer on $2 within $3 s (last HTTP code $code)"
}
sql() { mariadb --protocol=socket -S "$S/run/mysqld.sock" -uroot "$@"; }
once() { [ -f "$S/lib/done.$1" ]; }
done_() { touch "$S/lib/done.$1"; }

# An ini for uwsgi, derived from the one Debian ships for the service: drop
# what would make it a system daemon (uid/gid, system log dir, AppArmor,
# 8 processes x 32 threads) and bind it to loopback with our own log.
uwsgi_ini() { # NAME DEBIAN_INI PORT PROCESSES THREADS [EXTRA_LINE...]
  local name=$1 src=$2 port=$3 procs=$4 threads=$5 l; shift 5
  {
    sed -E -e '/^[[:space:]]*(#|$)/d' \
      -e '/^(uid|gid|logto|chdir|processes|threads|apparmor-profile|http-socket|https-socket|socket|paste|name|listen)[[:space:]]*=/d' \
      -e 's/^plugins = python3,apparmor/plugins = python3/' "$src"
    echo "name = $name"
    echo "http-socket = $IP:$port"
    echo "processes = $procs"
    echo "threads = $threads"
    echo "listen = 64"
    echo "chdir = $S/lib"
    echo "logto = $S/log/$name.log"
    for l in "$@"; do echo "$l"; done
  } > "$S/etc/$name-uwsgi.ini"
}

svc_auth() { # USER: password auth lines for a service user
  cat <<EOF
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $PW
region_name = $REGION
EOF
}
authtoken() { echo "www_authenticate_uri = $KS"; svc_auth "$1"; }

# --- REST with curl and jq (the openstack CLI costs ~2 s of Python per call)
token_pw() { # USER PASSWORD PROJECT -> token
  curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$KS/v3/auth/tokens" -d \
    "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"id\":\"default\"},\"password\":\"$2\"}}},\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"id\":\"default\"}}}}}" \
    | awk 'tolower($1)=="x-subject-token:"{print $2}' | tr -d '\r'
}
api() { # METHOD URL [JSON] -> body; HTTP >= 400 fails unless it equals $ALLOW
  local m=$1 u=$2 d=${3:-} out code
  out=$(mktemp)
  code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" -H "X-Auth-Token: $TOKEN" \
    -H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.90' \
    ${d:+-d "$d"} "$u") || code=000
  if [ "$code" = 000 ] || { [ "$code" -ge 400 ] && [ "$code" != "${ALLOW:-x}" ]; }; then
    echo "HTTP $code $m $u: $(head -c 600 "$out")" >&2; rm -f "$out"; return 1
  fi
  cat "$out"; rm -f "$out"
}
getid() { api GET "$KS/v3/$1?name=$2" | jq -r ".$1[0].id // empty"; }
ensure_project() {
  local id; id=$(getid projects "$1")
  [ -n "$id" ] || id=$(api POST "$KS/v3/projects" "{\"project\":{\"name\":\"$1\",\"domain_id\":\"default\"}}" | jq -r .project.id)
  echo "$id"
}
ensure_user() { # NAME DEFAULT_PROJECT_ID
  local id; id=$(getid users "$1")
  [ -n "$id" ] || id=$(api POST "$KS/v3/users" "{\"user\":{\"name\":\"$1\",\"domain_id\":\"default\",\"password\":\"$PW\",\"default_project_id\":\"$2\"}}" | jq -r .user.id)
  echo "$id"
}
ensure_role() {
  local id; id=$(getid roles "$1")
  [ -n "$id" ] || id=$(api POST "$KS/v3/roles" "{\"role\":{\"name\":\"$1\"}}" | jq -r .role.id)
  echo "$id"
}
grant() { api PUT "$KS/v3/projects/$1/users/$2/roles/$3" > /dev/null; }
ensure_endpoint() { # TYPE NAME URL: the service and its three endpoints
  local sid itf
  sid=$(api GET "$KS/v3/services?type=$1" | jq -r '.services[0].id // empty')
  [ -n "$sid" ] || sid=$(api POST "$KS/v3/services" "{\"service\":{\"type\":\"$1\",\"name\":\"$2\"}}" | jq -r .service.id)
  for itf in public internal admin; do
    [ -n "$(api GET "$KS/v3/endpoints?service_id=$sid&interface=$itf" | jq -r '.endpoints[0].id // empty')" ] ||
      api POST "$KS/v3/endpoints" "{\"endpoint\":{\"service_id\":\"$sid\",\"interface\":\"$itf\",\"url\":\"$3\",\"region_id\":\"$REGION\"}}" > /dev/null
  done
}
keystone_objects() { # projects, users, roles and the service catalog
  local TOKEN service_p demo_p admin_r member_r reader_r service_r demo_u admin_u u uid
  set -e
  TOKEN=$(token_pw admin "$PW" admin); [ -n "$TOKEN" ]
  service_p=$(ensure_project service)
  demo_p=$(ensure_project demo)
  admin_r=$(ensure_role admin); member_r=$(ensure_role member); reader_r=$(ensure_role reader)
  service_r=$(ensure_role service)
  # service users act as admin (placement, port binding, nova events, ...)
  for u in nova neutron glance placement cinder; do
    uid=$(ensure_user $u "$service_p")
    grant "$service_p" "$uid" "$admin_r"; grant "$service_p" "$uid" "$service_r"
  done
  demo_u=$(ensure_user demo "$demo_p")
  grant "$demo_p" "$demo_u" "$member_r"; grant "$demo_p" "$demo_u" "$reader_r"
  admin_u=$(getid users admin); grant "$demo_p" "$admin_u" "$admin_r"
  ensure_endpoint image glance "http://$IP:$P_GLANCE"
  ensure_endpoint placement placement "http://$IP:$P_PLACEMENT"
  ensure_endpoint compute nova "http://$IP:$P_NOVA/v2.1"
  ensure_endpoint network neutron "http://$IP:$P_NEUTRON"
  # Cinder under both names clients look for: "block-storage" (the official
  # type) and "volumev3" (what nova's [cinder] catalog_info asks for).
  # Keystone fills in $(project_id)s for project-scoped tokens.
  ensure_endpoint block-storage cinder "http://$IP:$P_CINDER/v3/\$(project_id)s"
  ensure_endpoint volumev3 cinderv3 "http://$IP:$P_CINDER/v3/\$(project_id)s"
}

############################################################################
# 2. configuration (rewritten on every run; cheap and keeps it in sync)
############################################################################
write_configs() {
  mkdir -p "$S"/lib/{keystone,glance/{images,staging,tasks,cache,lock},nova/{instances,lock}} \
           "$S"/lib/{neutron/lock,cinder/{lock,coordination},rabbitmq,pylib}

  # --- MariaDB: private instance, fast rather than durable
  cat > "$S/etc/my.cnf" <<EOF
[mysqld]
user = root
datadir = $DBDIR
socket = $S/run/mysqld.sock
pid-file = $S/run/mysqld.mariadb.pid
port = $P_MYSQL
bind-address = $IP
log-error = $S/log/mariadb.log
skip-name-resolve
skip-log-bin
performance_schema = OFF
max_connections = 1000
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
innodb_buffer_pool_size = 128M
innodb_log_file_size = 64M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
innodb_flush_method = nosync
sync_binlog = 0
EOF

  # --- RabbitMQ
  cat > "$S/etc/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = $IP:$P_RABBIT
management.tcp.ip = $IP
log.file.level = warning
EOF
  echo '[].' > "$S/etc/rabbitmq/enabled_plugins"

  # --- Keystone
  cat > "$S/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
debug = $DEBUG
[database]
connection = $DB/keystone?charset=utf8
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $S/lib/keystone/fernet-keys
[fernet_receipts]
key_repository = $S/lib/keystone/fernet-keys
[credential]
key_repository = $S/lib/keystone/credential-keys
[cache]
enabled = true
backend = dogpile.cache.memory
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
  uwsgi_ini keystone /etc/keystone/keystone-uwsgi.ini $P_KEYSTONE 1 8 \
    "env = OS_KEYSTONE_CONFIG_DIR=$S/etc/keystone"

  # --- Glance
  cp /etc/glance/glance-api-paste.ini "$S/etc/glance/"
  cat > "$S/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
debug = $DEBUG
bind_host = $IP
bind_port = $P_GLANCE
workers = 1
enabled_backends = fs:file
image_cache_dir = $S/lib/glance/cache
[database]
connection = $DB/glance?charset=utf8
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $S/lib/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $S/lib/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $S/lib/glance/tasks/
[keystone_authtoken]
$(authtoken glance)
[paste_deploy]
flavor = keystone
[oslo_concurrency]
lock_path = $S/lib/glance/lock
EOF
  uwsgi_ini glance-api /etc/glance/glance-api-uwsgi.ini $P_GLANCE 1 8 \
    "env = OS_GLANCE_CONFIG_DIR=$S/etc/glance"

  # --- Placement
  cat > "$S/etc/placement/placement.conf" <<EOF
[DEFAULT]
debug = $DEBUG
[api]
auth_strategy = keystone
[placement_database]
connection = $DB/placement?charset=utf8
[keystone_authtoken]
$(authtoken placement)
EOF
  uwsgi_ini placement-api /etc/placement/placement-api-uwsgi.ini $P_PLACEMENT 1 8 \
    "env = OS_PLACEMENT_CONFIG_DIR=$S/etc/placement"

  # --- Nova
  cp /etc/nova/api-paste.ini "$S/etc/nova/"
  cat > "$S/etc/nova/nova.conf" <<EOF
[DEFAULT]
debug = $DEBUG
host = $HOSTNAME_
my_ip = $IP
state_path = $S/lib/nova
instances_path = $S/lib/nova/instances
transport_url = $RABBIT
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = $IP
# the fake hypervisor is huge (1000 vCPU, 800 GB RAM); no overcommit on top
cpu_allocation_ratio = 1.0
ram_allocation_ratio = 1.0
disk_allocation_ratio = 1.0
# there is no network backend that could report a plugged VIF
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
# no random 0-60 s delay before periodic tasks (host discovery is one)
periodic_fuzzy_delay = 0
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $S/etc/nova/api-paste.ini
[api_database]
connection = $DB/nova_api?charset=utf8
[database]
connection = $DB/nova?charset=utf8
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[keystone_authtoken]
$(authtoken nova)
[placement]
$(svc_auth nova)
[neutron]
$(svc_auth nova)
service_metadata_proxy = false
default_floating_pool = public
[glance]
region_name = $REGION
[cinder]
# volume attachments: found in the catalog as volumev3 (catalog_info default)
os_region_name = $REGION
$(svc_auth nova | grep -v '^region_name')
[service_user]
send_service_user_token = true
$(svc_auth nova)
[oslo_concurrency]
lock_path = $S/lib/nova/lock
[oslo_messaging_rabbit]
# services start while RabbitMQ still boots: retry every second, not with
# a growing back-off (up to 30 s between tries by default)
rabbit_retry_interval = 1
rabbit_retry_backoff = 0
rabbit_interval_max = 1
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
  # nova-compute gets the same file minus the database URLs: it must reach
  # the database through the conductor only
  grep -v '^connection = ' "$S/etc/nova/nova.conf" > "$S/etc/nova/nova-compute.conf"
  uwsgi_ini nova-api /etc/nova/nova-api-uwsgi.ini $P_NOVA 1 1 \
    "env = OS_NOVA_CONFIG_DIR=$S/etc/nova"

  # --- Neutron
  cat > "$S/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
debug = $DEBUG
bind_host = $IP
bind_port = $P_NEUTRON
state_path = $S/lib/neutron
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = $RABBIT
allow_overlapping_ips = true
dhcp_agent_notification = false
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
[database]
connection = $DB/neutron?charset=utf8
[keystone_authtoken]
$(authtoken neutron)
[nova]
$(svc_auth neutron)
[placement]
$(svc_auth neutron)
[oslo_concurrency]
lock_path = $S/lib/neutron/lock
[oslo_messaging_rabbit]
# services start while RabbitMQ still boots: retry every second, not with
# a growing back-off (up to 30 s between tries by default)
rabbit_retry_interval = 1
rabbit_retry_backoff = 0
rabbit_interval_max = 1
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
  cat > "$S/etc/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = lab_fake
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:10000
EOF
  # Without agents no ML2 driver can bind a port, and nova fails the boot
  # with PortBindingFailed. This driver binds every port to its first
  # segment, and plays the only visible part of an L3 agent: a floating IP
  # turns ACTIVE once it has a port and DOWN when it loses it. Stevedore
  # finds it through the entry point in the dist-info next to it.
  mkdir -p "$S/lib/pylib/lab_neutron_mech-1.0.dist-info"
  cat > "$S/lib/pylib/lab_neutron_mech.py" <<'EOF'
"""Agent-less ML2 mechanism driver for the capi-mgmt lab (no data plane)."""
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events, registry, resources
from neutron_lib import constants
from neutron_lib.plugins import constants as plugin_constants
from neutron_lib.plugins import directory
from neutron_lib.plugins.ml2 import api


def _floatingip_status(resource, event, trigger, payload):
    fip = payload.latest_state
    status = (constants.FLOATINGIP_STATUS_ACTIVE if fip.get('port_id')
              else constants.FLOATINGIP_STATUS_DOWN)
    if fip.get('status') != status:
        directory.get_plugin(plugin_constants.L3).update_floatingip_status(
            payload.context.elevated(), fip['id'], status)


class LabFakeMechanismDriver(api.MechanismDriver):
    def initialize(self):
        for event in (events.AFTER_CREATE, events.AFTER_UPDATE):
            registry.subscribe(_floatingip_status, resources.FLOATING_IP, event)

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OTHER,
                                {portbindings.CAP_PORT_FILTER: True},
                                status=constants.PORT_STATUS_ACTIVE)
            return
EOF
  printf 'Metadata-Version: 2.1\nName: lab-neutron-mech\nVersion: 1.0\n' \
    > "$S/lib/pylib/lab_neutron_mech-1.0.dist-info/METADATA"
  printf '[neutron.ml2.mechanism_drivers]\nlab_fake = lab_neutron_mech:LabFakeMechanismDriver\n' \
    > "$S/lib/pylib/lab_neutron_mech-1.0.dist-info/entry_points.txt"
  # Neutron is eventlet-monkeypatched: more than one uwsgi thread makes
  # eventlet fail with "cannot switch to a different thread".
  uwsgi_ini neutron-api /etc/neutron/neutron-api-uwsgi.ini $P_NEUTRON 1 1 \
    "pyargv = --config-file $S/etc/neutron/neutron.conf --config-file $S/etc/neutron/ml2_conf.ini" \
    "env = PYTHONPATH=$S/lib/pylib" "pythonpath = $S/lib/pylib"

  # --- Cinder
  cp /usr/share/cinder-common/api-paste.ini "$S/etc/cinder/api-paste.ini"
  cat > "$S/etc/cinder/cinder.conf" <<EOF
[DEFAULT]
debug = $DEBUG
host = $HOSTNAME_
my_ip = $IP
state_path = $S/lib/cinder
transport_url = $RABBIT
auth_strategy = keystone
api_paste_config = $S/etc/cinder/api-paste.ini
osapi_volume_listen = $IP
osapi_volume_listen_port = $P_CINDER
osapi_volume_workers = 1
glance_api_servers = http://$IP:$P_GLANCE
enabled_backends = fake
default_volume_type = __DEFAULT__
# volume stats reach the scheduler sooner, and with no random delay
periodic_interval = 10
periodic_fuzzy_delay = 0
scheduler_driver_init_wait_time = 15
[database]
connection = $DB/cinder?charset=utf8
[keystone_authtoken]
$(authtoken cinder)
[nova]
$(svc_auth cinder)
interface = public
[service_user]
send_service_user_token = true
$(svc_auth cinder)
[coordination]
backend_url = file://$S/lib/cinder/coordination
[oslo_concurrency]
lock_path = $S/lib/cinder/lock
[oslo_messaging_rabbit]
# services start while RabbitMQ still boots: retry every second, not with
# a growing back-off (up to 30 s between tries by default)
rabbit_retry_interval = 1
rabbit_retry_backoff = 0
rabbit_interval_max = 1
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[fake]
# Cinder's own fake driver (its functional tests use it): an LVM driver
# whose volume group, target and commands are all make-believe
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = fake
target_helper = fake
EOF
  # The cinder-api package (not installed) would bring the ini; these are its
  # settings that matter, with the lab's socket, sizes and log.
  cat > "$S/etc/cinder-api.base.ini" <<EOF
[uwsgi]
plugins = python3
master = true
lazy-apps = true
enable-threads = true
die-on-term = true
exit-on-reload = true
no-orphans = true
thunder-lock = true
buffer-size = 65535
http-raw-body = true
socket-timeout = 30
wsgi-manage-chunked-input = true
add-header = Connection: close
wsgi-file = /usr/bin/cinder-wsgi
EOF
  uwsgi_ini cinder-api "$S/etc/cinder-api.base.ini" $P_CINDER 1 4 \
    "pyargv = --config-file $S/etc/cinder/cinder.conf"

  # wait_queues.py SECONDS QUEUE...: block until each RabbitMQ queue exists
  # (a message published before its queue exists is silently dropped)
  cat > "$S/lib/wait_queues.py" <<EOF
import sys, time, amqp


def wait(seconds, queues):
    deadline = time.time() + seconds
    conn = None
    for q in queues:
        while True:
            try:
                if conn is None:
                    conn = amqp.Connection("$IP:$P_RABBIT", userid="guest", password="guest")
                    conn.connect()
                # a missing queue closes only the channel, not the connection
                conn.channel().queue_declare(q, passive=True)
                break
            except amqp.exceptions.NotFound:
                pass
            except (OSError, amqp.exceptions.AMQPError):
                conn = None
            if time.time() > deadline:
                sys.exit("queue %s not declared in time" % q)
            time.sleep(0.5)
    if conn is not None:
        conn.close()


if __name__ == "__main__":
    wait(float(sys.argv[1]), sys.argv[2:])
EOF
  # nova-compute pings nova-conductor once it has started, with a fixed 10 s
  # timeout; a ping sent before the conductor's queue exists is lost and
  # costs those 10 s. This launcher does the slow imports first, while
  # RabbitMQ and the conductor are still starting, and calls the console
  # entry point only once the conductor's queue exists.
  cat > "$S/lib/nova_compute.py" <<EOF
import sys
sys.path.insert(0, "$S/lib")
from nova.cmd import compute  # noqa: E402 (monkey-patches eventlet first)
import nova.compute.manager  # noqa: E402,F401
import nova.virt.fake  # noqa: E402,F401
import wait_queues  # noqa: E402
wait_queues.wait(300, ["conductor"])
sys.argv[0] = "nova-compute"
sys.exit(compute.main())
EOF

  cat > "$S/ports.txt" <<EOF
keystone   $P_KEYSTONE  $KS/v3
glance     $P_GLANCE  http://$IP:$P_GLANCE
placement  $P_PLACEMENT  http://$IP:$P_PLACEMENT
nova       $P_NOVA  http://$IP:$P_NOVA/v2.1
neutron    $P_NEUTRON  http://$IP:$P_NEUTRON
cinder     $P_CINDER  http://$IP:$P_CINDER/v3
mariadb    $P_MYSQL  (socket $S/run/mysqld.sock, datadir $DBDIR)
rabbitmq   $P_RABBIT  (epmd $P_EPMD, Erlang distribution $P_ERLDIST)
EOF
}
write_configs
log "configs written to $S/etc"
# a port held by a stranger would make every readiness check below lie
for sp in mariadb:$P_MYSQL epmd:$P_EPMD rabbitmq:$P_RABBIT keystone:$P_KEYSTONE \
          glance-api:$P_GLANCE placement-api:$P_PLACEMENT nova-api:$P_NOVA \
          neutron-api:$P_NEUTRON cinder-api:$P_CINDER; do
  alive "${sp%%:*}" || ! port_open "${sp#*:}" || die "port ${sp#*:} (${sp%%:*}) is taken by another process"
done

############################################################################
# 3. MariaDB, RabbitMQ, snapshot
############################################################################
# The snapshot is a fully initialised cloud: a dump of every database, the
# Glance image file and the app credential. Loading it takes a second or two
# instead of a minute of migrations and bootstrap. Its key covers the package
# versions and everything the databases remember (cell mappings hold the
# DB and RabbitMQ URLs, Glance holds file paths). Bump "v1" when this script
# changes what it creates.
CACHE_KEY=$( { dpkg-query -W -f='${Package}=${Version}\n' keystone python3-keystone \
    python3-glance python3-placement python3-nova python3-neutron python3-cinder \
    mariadb-server 2>/dev/null
  echo "v1 $S $PW $IP $HOSTNAME_ $P_MYSQL $P_RABBIT $P_KEYSTONE $P_GLANCE $P_PLACEMENT $P_NOVA $P_NEUTRON $P_CINDER"
  } | sha256sum | cut -c1-16)
SNAP=${CACHE:+$CACHE/openstack-$CACHE_KEY.tar.gz}
DATABASES="keystone glance placement nova_api nova nova_cell0 neutron cinder"
INIT_STEPS="sync-keystone sync-glance sync-placement sync-nova-api nova-cell0 nova-cell1
  sync-nova sync-neutron sync-cinder keystone-bootstrap keystone-objects flavors image
  public-net appcred"

NEWDB=0
if [ ! -d "$DBDIR/mysql" ]; then
  NEWDB=1
  rm -f "$S"/lib/done.*     # an empty database: every init step runs again
  mkdir -p "$DBDIR"
  mariadb-install-db --defaults-file="$S/etc/my.cnf" --skip-test-db \
    --auth-root-authentication-method=socket > "$S/log/mariadb-install.log" 2>&1 \
    || { tail -20 "$S/log/mariadb-install.log"; die "mariadb-install-db failed"; }
fi
run mariadb /usr/sbin/mariadbd --defaults-file="$S/etc/my.cnf"

# Erlang would start a daemonised epmd nobody could track: start our own.
run epmd env ERL_EPMD_ADDRESS=$IP /usr/bin/epmd -port $P_EPMD
run rabbitmq env HOME="$S/lib/rabbitmq" RABBITMQ_NODENAME=capilab@localhost \
  RABBITMQ_NODE_IP_ADDRESS=$IP RABBITMQ_NODE_PORT=$P_RABBIT \
  RABBITMQ_DIST_PORT=$P_ERLDIST ERL_EPMD_ADDRESS=$IP ERL_EPMD_PORT=$P_EPMD \
  RABBITMQ_MNESIA_BASE="$S/lib/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$S/log/rabbitmq" \
  RABBITMQ_CONFIG_FILE="$S/etc/rabbitmq/rabbitmq" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$S/etc/rabbitmq/enabled_plugins" \
  RABBITMQ_PID_FILE="$S/run/rabbitmq.beam.pid" RABBITMQ_LOGS=- \
  /usr/lib/rabbitmq/bin/rabbitmq-server

wait_port mariadb $P_MYSQL 60
mark mariadb-up
log "mariadb up"
if ! once db-users; then
  sql <<EOF
CREATE USER IF NOT EXISTS 'lab'@'127.0.0.1' IDENTIFIED BY '$PW';
CREATE USER IF NOT EXISTS 'lab'@'localhost' IDENTIFIED BY '$PW';
GRANT ALL PRIVILEGES ON *.* TO 'lab'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'lab'@'localhost';
EOF
  done_ db-users
fi
RESTORED=0
if [ $NEWDB = 1 ] && [ -n "$SNAP" ] && [ -f "$SNAP" ]; then
  tar -C "$S" -xzf "$SNAP" || die "cannot unpack $SNAP"
  gzip -dc "$S/snapshot.sql.gz" | sql || die "loading $SNAP failed"
  rm -f "$S/snapshot.sql.gz"
  for m in $INIT_STEPS; do done_ "$m"; done
  RESTORED=1
  mark snapshot-restored
  log "restored snapshot $SNAP"
fi
for d in $DATABASES; do sql -e "CREATE DATABASE IF NOT EXISTS $d"; done

############################################################################
# 4. schemas and services: parallel chains, one per service, so that the
#    I/O-bound migrations overlap with the CPU-bound Python start-ups
############################################################################
NOVA_CONF=(--config-file "$S/etc/nova/nova.conf")
CINDER_CONF=(--config-file "$S/etc/cinder/cinder.conf")
step() { # NAME CMD...: run once (marker), output to log/NAME.log
  local name=$1 t=$EPOCHREALTIME; shift
  once "$name" && return 0
  if "$@" >> "$S/log/$name.log" 2>&1; then
    done_ "$name"
    mark "$name($(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1fs", b-a}'))"
  else
    tail -20 "$S/log/$name.log" >&2; die "$name failed (see $S/log/$name.log)"
  fi
}
run_uwsgi() { run "$1" /usr/bin/uwsgi_python3 --ini "$S/etc/$1-uwsgi.ini"; }
# Console entry points run from the python3-* packages with Debian's python:
# their packages (nova-compute, cinder-volume) would drag in libvirt, qemu,
# lvm2 and tgt, none of which a fake driver needs.
entry() { # MODULE PROGNAME -> python code that runs MODULE:main as PROGNAME
  echo "import sys; from $1 import main; sys.argv[0] = '$2'; sys.exit(main())"
}
fernet_keys() { # the files keystone-manage fernet_setup / credential_setup write
  local d k
  for d in fernet-keys credential-keys; do
    mkdir -p "$S/lib/keystone/$d"; chmod 700 "$S/lib/keystone/$d"
    [ -f "$S/lib/keystone/$d/0" ] && continue
    for k in 0 1; do head -c 32 /dev/urandom | base64 | tr '+/' '-_' > "$S/lib/keystone/$d/$k"; done
    chmod 600 "$S/lib/keystone/$d"/*
  done
}
fernet_keys

keystone_chain() {
  step sync-keystone /usr/bin/keystone-manage --config-file "$S/etc/keystone/keystone.conf" db_sync
  step keystone-bootstrap /usr/bin/keystone-manage --config-file "$S/etc/keystone/keystone.conf" \
    bootstrap --bootstrap-password "$PW" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id $REGION \
    --bootstrap-admin-url "$KS/v3/" --bootstrap-internal-url "$KS/v3/" --bootstrap-public-url "$KS/v3/"
  run_uwsgi keystone
  wait_http keystone "$KS/v3" 120
  mark keystone-up
  log "keystone up"
  if ! once keystone-objects; then
    keystone_objects > "$S/log/keystone-objects.log" 2>&1
    done_ keystone-objects
  fi
  mark keystone-objects
}
nova_chain() {
  step sync-nova-api /usr/bin/nova-manage "${NOVA_CONF[@]}" api_db sync
  step nova-cell0 /usr/bin/nova-manage "${NOVA_CONF[@]}" cell_v2 map_cell0 \
    --database_connection "$DB/nova_cell0?charset=utf8"
  step nova-cell1 /usr/bin/nova-manage "${NOVA_CONF[@]}" cell_v2 create_cell --name cell1 --verbose
  step sync-nova /usr/bin/nova-manage "${NOVA_CONF[@]}" db sync
  run_uwsgi nova-api
  run nova-conductor /usr/bin/nova-conductor "${NOVA_CONF[@]}" --log-file "$S/log/nova-conductor.log"
  run nova-scheduler /usr/bin/nova-scheduler "${NOVA_CONF[@]}" --log-file "$S/log/nova-scheduler.log"
}
cinder_chain() {
  step sync-cinder /usr/bin/cinder-manage "${CINDER_CONF[@]}" db sync
  run_uwsgi cinder-api
  run cinder-scheduler /usr/bin/cinder-scheduler "${CINDER_CONF[@]}" --log-file "$S/log/cinder-scheduler.log"
  run cinder-volume $PY -c "$(entry cinder.cmd.volume cinder-volume)" \
    "${CINDER_CONF[@]}" --log-file "$S/log/cinder-volume.log"
}
T_START_UTC=$(date -u '+%F %T')   # services.updated_at columns are naive UTC
keystone_chain & C_KEYSTONE=$!
{ step sync-glance /usr/bin/glance-manage --config-file "$S/etc/glance/glance-api.conf" db_sync
  run_uwsgi glance-api; } & C_GLANCE=$!
{ step sync-placement /usr/bin/placement-manage --config-file "$S/etc/placement/placement.conf" db sync
  run_uwsgi placement-api; } & C_PLACEMENT=$!
{ step sync-neutron /usr/bin/neutron-db-manage --config-file "$S/etc/neutron/neutron.conf" \
    --config-file "$S/etc/neutron/ml2_conf.ini" upgrade heads
  run_uwsgi neutron-api; } & C_NEUTRON=$!
nova_chain & C_NOVA=$!
cinder_chain & C_CINDER=$!
# nova-compute (see lib/nova_compute.py for its launcher) registers its
# resource provider as it starts, so it needs the keystone users and a
# migrated nova database. When those exist already (restart, snapshot) it
# starts right away; on a first initialisation once they are done.
run_compute() {
  alive nova-compute || run nova-compute $PY "$S/lib/nova_compute.py" \
    --config-file "$S/etc/nova/nova-compute.conf" --log-file "$S/log/nova-compute.log"
}
if once keystone-objects && once sync-nova; then run_compute; fi
wait $C_KEYSTONE || die "keystone chain failed"
wait $C_PLACEMENT || die "placement chain failed"
wait_http placement-api "http://$IP:$P_PLACEMENT/" 120; log "placement up"
wait $C_NOVA || die "nova chain failed"
run_compute
wait_port rabbitmq $P_RABBIT 120; log "rabbitmq up"
wait $C_GLANCE || die "glance chain failed"
wait $C_NEUTRON || die "neutron chain failed"
wait $C_CINDER || die "cinder chain failed"
mark db-synced
wait_http glance-api "http://$IP:$P_GLANCE/versions" 120; log "glance up"
wait_http neutron-api "http://$IP:$P_NEUTRON/" 120; log "neutron up"
wait_http nova-api "http://$IP:$P_NOVA/" 120; log "nova-api up"
wait_http cinder-api "http://$IP:$P_CINDER/" 120; log "cinder-api up"
mark apis-up

############################################################################
# 5. content: flavors, image, public network, application credential
############################################################################
NEUTRON=http://$IP:$P_NEUTRON/v2.0
NOVA=http://$IP:$P_NOVA/v2.1
GLANCE=http://$IP:$P_GLANCE
TOKEN=$(token_pw admin "$PW" admin); [ -n "$TOKEN" ] || die "no admin token"
if ! once flavors; then
  # disk > 0: a non-admin may not boot an image on a zero-disk flavor
  for f in "1 m1.tiny 1 512 1" "2 m1.small 1 2048 20" "3 m1.medium 2 4096 40" \
           "4 m1.large 4 8192 80" "5 m1.xlarge 8 16384 160"; do
    read -r id name vcpus ram disk <<< "$f"
    ALLOW=409 api POST "$NOVA/flavors" "{\"flavor\":{\"id\":\"$id\",\"name\":\"$name\",\"vcpus\":$vcpus,\"ram\":$ram,\"disk\":$disk}}" > /dev/null
  done
  done_ flavors
fi
if ! once image; then
  IMG=$(api GET "$GLANCE/v2/images?name=fake-image" | jq -r '.images[0].id // empty')
  if [ -z "$IMG" ]; then
    IMG=$(api POST "$GLANCE/v2/images" '{"name":"fake-image","disk_format":"raw","container_format":"bare","visibility":"public","min_disk":0,"min_ram":0}' | jq -r .id)
    head -c 1048576 /dev/zero > "$S/lib/fake-image.raw"
    curl -sf -X PUT -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream' \
      --data-binary @"$S/lib/fake-image.raw" "$GLANCE/v2/images/$IMG/file" || die "image upload failed"
    rm -f "$S/lib/fake-image.raw"
  fi
  done_ image
fi
if ! once public-net; then
  # addresses on "public" exist only in the database: no packet goes anywhere
  NET=$(api GET "$NEUTRON/networks?name=public" | jq -r '.networks[0].id // empty')
  [ -n "$NET" ] || NET=$(api POST "$NEUTRON/networks" '{"network":{"name":"public","router:external":true,"provider:network_type":"flat","provider:physical_network":"public"}}' | jq -r .network.id)
  [ -n "$(api GET "$NEUTRON/subnets?network_id=$NET" | jq -r '.subnets[0].id // empty')" ] ||
    api POST "$NEUTRON/subnets" "{\"subnet\":{\"name\":\"public-subnet\",\"network_id\":\"$NET\",\"ip_version\":4,\"cidr\":\"172.24.4.0/24\",\"gateway_ip\":\"172.24.4.1\",\"enable_dhcp\":false,\"allocation_pools\":[{\"start\":\"172.24.4.10\",\"end\":\"172.24.4.250\"}]}}" > /dev/null
  done_ public-net
fi
if ! once appcred; then
  # Keystone shows an app credential's secret only once: we choose it, so a
  # later run can find the credential by name and still know the secret.
  DEMO_TOKEN=$(token_pw demo "$PW" demo); [ -n "$DEMO_TOKEN" ] || die "no demo token"
  DEMO_U=$(curl -sf -H "X-Auth-Token: $DEMO_TOKEN" -H "X-Subject-Token: $DEMO_TOKEN" "$KS/v3/auth/tokens" | jq -r .token.user.id)
  AC=$(TOKEN=$DEMO_TOKEN api GET "$KS/v3/users/$DEMO_U/application_credentials?name=$APPCRED_NAME" | jq -r '.application_credentials[0].id // empty')
  [ -n "$AC" ] || AC=$(TOKEN=$DEMO_TOKEN api POST "$KS/v3/users/$DEMO_U/application_credentials" \
    "{\"application_credential\":{\"name\":\"$APPCRED_NAME\",\"secret\":\"$APPCRED_SECRET\",\"description\":\"capi-mgmt lab\"}}" \
    | jq -r .application_credential.id)
  case "$AC" in ""|null) die "could not create the application credential" ;; esac
  jq -n --arg id "$AC" --arg s "$APPCRED_SECRET" --arg u "$KS/v3" '{id:$id,secret:$s,auth_url:$u}' > "$S/appcred.json"
  done_ appcred
fi
AC=$(jq -r .id "$S/appcred.json")

mkdir -p "$LAB/env.d"
umask_old=$(umask); umask 077   # the files below hold passwords
cat > "$S/clouds.yaml" <<EOF
# written by test/lab/openstack/up.sh; every name here exists only in the lab
clouds:
  lab:
    auth_type: v3applicationcredential
    auth:
      auth_url: "$KS/v3"
      application_credential_id: "$AC"
      application_credential_secret: "$APPCRED_SECRET"
    region_name: $REGION
    interface: public
    identity_api_version: 3
  lab-password:
    auth_type: password
    auth:
      auth_url: "$KS/v3"
      username: demo
      password: "$PW"
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
  lab-admin:
    auth_type: password
    auth:
      auth_url: "$KS/v3"
      username: admin
      password: "$PW"
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
cp "$S/clouds.yaml" "$LAB/clouds.yaml"
cat > "$LAB/env.d/openstack.sh" <<EOF
# written by test/lab/openstack/up.sh: source it to reach the lab's OpenStack
export OS_CLIENT_CONFIG_FILE='$S/clouds.yaml'
export CAPI_LAB_OS_CLOUD=lab
export CAPI_LAB_OS_AUTH_URL='$KS/v3'
export CAPI_LAB_OS_REGION=$REGION
export CAPI_LAB_OS_APPCRED_ID='$AC'
export CAPI_LAB_OS_APPCRED_SECRET='$APPCRED_SECRET'
EOF
umask "$umask_old"
mark content

############################################################################
# 6. readiness: compute host registered and mapped, volume backend known to
#    the cinder scheduler, every RPC queue in place
############################################################################
n=0
for ((i = 0; i < 600; i++)); do
  n=$(curl -s -H "X-Auth-Token: $TOKEN" "http://$IP:$P_PLACEMENT/resource_providers" | jq '.resource_providers | length' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 1 ] && break
  alive nova-compute || died nova-compute
  sleep 0.2
done
[ "${n:-0}" -ge 1 ] || die "the compute node never showed up in placement"
# nova-scheduler maps new hosts every 5 s; fall back to nova-manage after 15 s
for ((i = 0; i < 75; i++)); do
  [ "$(sql -N -e 'SELECT COUNT(*) FROM nova_api.host_mappings')" -ge 1 ] && break
  sleep 0.2
done
[ "$(sql -N -e 'SELECT COUNT(*) FROM nova_api.host_mappings')" -ge 1 ] ||
  /usr/bin/nova-manage "${NOVA_CONF[@]}" cell_v2 discover_hosts > "$S/log/discover-hosts.log" 2>&1
$PY "$S/lib/wait_queues.py" 120 conductor scheduler "compute.$HOSTNAME_" \
  cinder-scheduler "cinder-volume.$HOSTNAME_@fake" || die "RPC queues missing"
# The ComputeFilter wants a heartbeat younger than service_down_time; after a
# restart the row in the database is stale until the first new report.
for ((i = 0; i < 600; i++)); do
  n=$(sql -N -e "SELECT COUNT(*) FROM nova.services WHERE deleted = 0 AND \`binary\` = 'nova-compute' AND updated_at >= '$T_START_UTC'")
  [ "$n" -ge 1 ] && break
  alive nova-compute || died nova-compute
  sleep 0.2
done
[ "$n" -ge 1 ] || die "nova-compute did not report in (see $S/log/nova-compute.log)"
mark compute-ready
log "compute host registered and mapped"
# The cinder scheduler places a volume only on a backend whose stats it has
# received; until then volume creation fails with "No valid backend".
ADMIN_P=$(curl -sf -H "X-Auth-Token: $TOKEN" -H "X-Subject-Token: $TOKEN" "$KS/v3/auth/tokens" | jq -r .token.project.id)
pools=0
for ((i = 0; i < 600; i++)); do
  pools=$(curl -s -H "X-Auth-Token: $TOKEN" "http://$IP:$P_CINDER/v3/$ADMIN_P/scheduler-stats/get_pools" | jq '.pools | length' 2>/dev/null || echo 0)
  [ "${pools:-0}" -ge 1 ] && break
  alive cinder-volume || died cinder-volume
  alive cinder-scheduler || died cinder-scheduler
  sleep 0.2
done
[ "${pools:-0}" -ge 1 ] || die "cinder-scheduler never saw the fake backend (see $S/log/cinder-*.log)"
mark volume-ready
log "volume backend ready"
for s in mariadb rabbitmq keystone placement-api glance-api neutron-api nova-api \
         nova-conductor nova-scheduler nova-compute cinder-api cinder-scheduler cinder-volume; do
  alive $s || die "$s is not running"
done

# the first complete initialisation leaves a snapshot for later fresh starts
if [ $RESTORED = 0 ] && [ $NEWDB = 1 ] && [ -n "$SNAP" ] && [ ! -f "$SNAP" ]; then
  # shellcheck disable=SC2086  # DATABASES is a word list
  if mkdir -p "$CACHE" 2>/dev/null && mariadb-dump -S "$S/run/mysqld.sock" -uroot --single-transaction \
       --skip-dump-date --databases $DATABASES 2> "$S/log/snapshot.log" | gzip -1 > "$S/snapshot.sql.gz"; then
    tar -C "$S" -czf "$SNAP.tmp" snapshot.sql.gz appcred.json lib/glance/images && mv "$SNAP.tmp" "$SNAP"
    log "saved snapshot $SNAP"
  fi
  rm -f "$S/snapshot.sql.gz"
fi
mark ready
log "ready: . $LAB/env.d/openstack.sh; cloud 'lab' in $S/clouds.yaml"
