#!/usr/bin/env bash
# restart-agent.sh [NAME]: restart one daemon up.sh started (default
# neutron-linuxbridge-agent) with the command line it runs with now, the
# way an operator restarts an agent, and wait until Neutron reports it alive
# again with a heartbeat after the restart. Prints the new pid. Take
# `flock /tmp/vifpath-aio.lock` around it: the cloud is shared.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
name=${1:-neutron-linuxbridge-agent}
svc_pid "$name" >/dev/null || log "$name is not running: starting it"
# The command line up.sh started it with, from the service log (svc_ensure
# writes "=== <time> aio starting NAME as USER: CMD" there): /proc/PID/cmdline
# is no good, the agents rewrite their process title.
logf=$AIO_LOGS/$name.log
line=$(grep -E "^=== [^ ]+ aio starting $name as [^:]+: /" "$logf" | tail -n 1)
[ -n "$line" ] || die "no 'aio starting $name' line in $logf: cannot tell how up.sh started it"
user=${line#* aio starting $name as }; user=${user%%:*}
read -r -a cmd <<<"${line#*: }"
conf=()
for ((i = 0; i < ${#cmd[@]}; i++)); do
  [ "${cmd[$i]}" = --config-file ] && conf+=("${cmd[$((i + 1))]}")
done
before=$(date -u +%s)
svc_stop "$name"
SVC_CONF="${conf[*]}" svc_ensure "$name" "$user" "${cmd[@]}"
admin_env
case $name in
  neutron-*-agent)
    id=$(openstack network agent list --host "$(hostname)" -f value -c ID -c Binary | awk -v b="$name" '$2 == b {print $1}')
    [ -n "$id" ] || die "Neutron lists no $name on $(hostname)"
    fresh() {
      local started alive
      read -r alive started < <(openstack network agent show "$id" -f value -c alive -c started_at | tr '\n' ' ')
      [ "$alive" = True ] && [ "$(date -u -d "$started" +%s)" -ge "$before" ]
    }
    wait_for 120 "$name ($id) alive and started after the restart" fresh ;;
esac
svc_pid "$name"
