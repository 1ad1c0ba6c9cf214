#!/usr/bin/env bash
# smoke.sh [--keep]: prove the aio cloud really works, with the openstack CLI
# (this is the bring-up's own check, not vifpath's acceptance suite): create
# the walkthrough's objects that are missing (m1.nano, a 128 MiB m1.micro,
# ICMP/SSH rules on default, provider1 + provider1subnet), boot a server from
# the cirros stand-in on m1.micro, wait until it is ACTIVE on the brq bridge
# and its DHCPDISCOVER got a DHCPACK from Neutron's dnsmasq, arping it from the
# qdhcp namespace; then delete the server and, without --keep, every object
# this run created (so the acceptance suite starts from a bare cloud).
# With --keep the server and the objects stay (for fixtures and debugging).
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
KEEP=0; [ "${1:-}" = --keep ] && KEEP=1
admin_env
created=()
T0=$(date +%s)
cleanup() {
  [ $KEEP = 1 ] && return 0
  openstack server delete --wait vifpath-smoke >/dev/null 2>&1 || true
  local i
  for ((i = ${#created[@]} - 1; i >= 0; i--)); do
    eval "openstack ${created[i]}" >/dev/null 2>&1 && log "removed: ${created[i]}" || log "could not remove: ${created[i]}"
  done
}
trap cleanup EXIT

openstack flavor show m1.nano >/dev/null 2>&1 || { openstack flavor create --id 0 --vcpus 1 --ram 64 --disk 1 m1.nano >/dev/null; created+=("flavor delete m1.nano"); }
openstack flavor show m1.micro >/dev/null 2>&1 || { openstack flavor create --vcpus 1 --ram 128 --disk 1 m1.micro >/dev/null; created+=("flavor delete m1.micro"); }
SG=$(openstack security group list --project admin -f value -c ID -c Name | awk '$2=="default"{print $1}')
[ -n "$SG" ] || die "project admin has no default security group"
rules=$(openstack security group rule list "$SG" -f value -c ID -c "IP Protocol" -c "Port Range" -c Direction)
if ! grep -q ' icmp .*ingress' <<<"$rules"; then
  id=$(openstack security group rule create --proto icmp "$SG" -f value -c id); created+=("security group rule delete $id")
fi
if ! grep -q ' tcp 22:22 ingress' <<<"$rules"; then
  id=$(openstack security group rule create --proto tcp --dst-port 22 "$SG" -f value -c id); created+=("security group rule delete $id")
fi
if ! openstack network show provider1 >/dev/null 2>&1; then
  openstack network create --share --external --provider-physical-network provider --provider-network-type flat provider1 >/dev/null
  created+=("network delete provider1")
fi
if ! openstack subnet show provider1subnet >/dev/null 2>&1; then
  openstack subnet create --network provider1 --allocation-pool start=192.168.31.70,end=192.168.31.79 \
    --dns-nameserver 8.8.4.4 --gateway 192.168.31.1 --subnet-range 192.168.31.64/27 provider1subnet >/dev/null
  created+=("subnet delete provider1subnet")
fi
NET=$(openstack network show provider1 -f value -c id); NS=qdhcp-$NET; BR=brq${NET:0:11}
wait_for 90 "namespace $NS with 192.168.31.70 and bridge $BR with $PROVIDER_IF" \
  sh -c "ip -n $NS -4 -o addr | grep -q ' 192.168.31.70/27' && [ -e /sys/class/net/$BR/brif/$PROVIDER_IF ]"
log "DHCP namespace $NS and bridge $BR ready after $(( $(date +%s) - T0 ))s"

t=$(date +%s)
openstack server create --flavor m1.micro --image cirros --nic net-id="$NET" --security-group default vifpath-smoke -f value -c id >/dev/null
wait_for 300 "vifpath-smoke to leave BUILD" sh -c '[ "$(openstack server show vifpath-smoke -f value -c status)" != BUILD ]'
st=$(openstack server show vifpath-smoke -f value -c status)
[ "$st" = ACTIVE ] || die "vifpath-smoke is $st: $(openstack server show vifpath-smoke -f value -c fault)"
log "vifpath-smoke ACTIVE after $(( $(date +%s) - t ))s"
PORT=$(openstack port list --server vifpath-smoke -f value -c ID | head -1)
MAC=$(openstack port show "$PORT" -f value -c mac_address)
IP=$(openstack port show "$PORT" -f json -c fixed_ips | python3 -c 'import json,sys; print(json.load(sys.stdin)["fixed_ips"][0]["ip_address"])')
TAP=tap${PORT:0:11}
[ -e /sys/class/net/$BR/brif/$TAP ] || die "$TAP is not a port of $BR"
DLOG=$AIO_LOGS/dnsmasq/$NET/dhcp_dns_log
wait_for 240 "DHCPACK for $IP $MAC in $DLOG" grep -qi "DHCPACK.*$IP $MAC" "$DLOG"
log "guest $IP ($MAC) got its lease $(( $(date +%s) - t ))s after create"
NSIF=$(ip -n "$NS" -o link | awk -F': ' '/ ns-/{print $2}' | cut -d@ -f1)
arp_ok() { local out; out=$(ip netns exec "$NS" arping -c 2 -w 3 -I "$NSIF" "$IP" || true); grep -qi "reply from $IP \[$MAC\]" <<<"$out"; }
wait_for 60 "an ARP reply from $IP with $MAC (arping from $NS)" arp_ok
log "ARP reply from $IP is $MAC: smoke test passed in $(( $(date +%s) - T0 ))s"
