#!/usr/bin/env bash
# restart-agent.sh [NAME]: restart one daemon up.sh started (default
# neutron-linuxbridge-agent) with the command line it runs with now, the
# way an operator restarts an agent, and wait until Neutron reports it alive
# again with a heartbeat after the restart. Prints the new pid. Take
# `flock /tmp/vifpath-aio.lock` around it: the cloud is shared.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
name=${1:-neutron-linuxbridge-agent}
pid=$(svc_pid "$name") || die "$name is not running (start the cloud with aio/up.sh)"
user=$(ps -o user= -p "$pid" | tr -d ' ')
mapfile -d '' cmd < "/proc/$pid/cmdline"
# the interpreter line of a python console script: keep what follows it
[ "${cmd[0]##*/}" = python3 ] || [[ "${cmd[0]##*/}" == python3.* ]] && cmd=("${cmd[@]:1}")
conf=() logf=
for ((i = 0; i < ${#cmd[@]}; i++)); do
  case ${cmd[$i]} in
    --config-file) conf+=("${cmd[$((i + 1))]}") ;;
  esac
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
