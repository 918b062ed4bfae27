#!/usr/bin/env bash
# down.sh: stop the lab's OpenStack cloud that up.sh started.
#
#   down.sh          stop every service, keep the state: up.sh restarts on it
#                    (the MariaDB datadir is on tmpfs, so it survives until a
#                    reboot; after one, up.sh reloads the snapshot)
#   down.sh --purge  also delete the state dir and the datadir; the snapshot
#                    cache (~/.cache/capi-mgmt-lab/openstack) is kept
#
# Only processes whose PIDs up.sh recorded are stopped, each together with the
# session (process group) up.sh gave it. Safe to run when nothing runs.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
LAB=${CAPI_LAB_DIR:-$REPO/.lab}
case "$LAB" in /*) ;; *) LAB=$PWD/$LAB ;; esac   # services chdir elsewhere
S=$LAB/openstack
DBDIR=${CAPI_LAB_OS_DB_DIR:-/dev/shm/capi-lab-openstack-$(printf '%s' "$S" | sha256sum | cut -c1-8)}

case "${1:-}" in
  ""|--purge) ;;
  *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

# stop SECONDS NAME...: SIGTERM to each, wait up to SECONDS for all of them,
# then SIGKILL whatever is left of their sessions (uwsgi workers,
# oslo.service children, Erlang helpers)
stop() {
  local timeout=$1 name pid i waiting; shift
  local -A pids=()
  for name in "$@"; do
    [ -f "$S/run/$name.pid" ] || continue
    pid=$(cat "$S/run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      pids[$name]=$pid
    fi
  done
  for ((i = 0; i < timeout * 10; i++)); do
    waiting=0
    for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && waiting=1; done
    [ $waiting = 0 ] && break
    sleep 0.1
  done
  for name in "${!pids[@]}"; do
    pid=${pids[$name]}
    kill -0 "$pid" 2>/dev/null && echo "down: $name ($pid) still there after ${timeout}s, killing it"
    kill -KILL -- "-$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
    echo "down: stopped $name ($pid)"
  done
  for name in "$@"; do rm -f "$S/run/$name.pid"; done
}

if [ -d "$S/run" ]; then
  # OpenStack first (oslo.service would wait up to 60 s for a graceful stop;
  # nothing here needs one), then the message bus and the database
  stop 3 nova-compute nova-scheduler nova-conductor nova-api neutron-api \
    glance-api placement-api keystone cinder-volume cinder-scheduler cinder-api
  stop 20 rabbitmq mariadb
  stop 5 epmd
  # RabbitMQ's Erlang VM may outlive the shell script that started it
  if [ -f "$S/run/rabbitmq.beam.pid" ]; then
    pid=$(cat "$S/run/rabbitmq.beam.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      echo "down: killed the leftover RabbitMQ VM ($pid)"
    fi
    rm -f "$S/run/rabbitmq.beam.pid"
  fi
fi
if [ "${1:-}" = --purge ]; then
  rm -rf "$S" "$DBDIR" "$LAB/env.d/openstack.sh" "$LAB/clouds.yaml"
  echo "down: purged $S and $DBDIR"
fi
exit 0
