#!/usr/bin/env bash
# capture-fixtures.sh SERVER [OUTDIR]: record, from the running aio cloud, the
# API bodies and host files vifpath's unit tests replay (default OUTDIR:
# aio/fixtures/zed-aio). Needs a server on provider1 that has renewed its
# lease (aio/smoke.sh --keep makes "vifpath-smoke"). Read-only: it issues one
# token and GETs; the token in the recorded headers is replaced by REDACTED.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
SERVER=${1:?usage: capture-fixtures.sh SERVER [OUTDIR]}
OUT=${2:-$AIO_DIR/fixtures/zed-aio}
mkdir -p "$OUT/api" "$OUT/host"
admin_env
V="virsh -c qemu:///system"

hdrs=$(mktemp); body=$(mktemp); trap 'rm -f "$hdrs" "$body"' EXIT
curl -fsS -D "$hdrs" -o "$body" -H 'Content-Type: application/json' "$KS_URL/v3/auth/tokens" -d @- <<J
{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"$PW"}}},
 "scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}
J
TOKEN=$(awk 'tolower($1)=="x-subject-token:"{print $2}' "$hdrs" | tr -d '\r')
[ -n "$TOKEN" ] || die "keystone returned no X-Subject-Token"
python3 -m json.tool "$body" > "$OUT/api/keystone-token.json"
sed -E 's/^(X-Subject-Token:).*/\1 REDACTED/I' "$hdrs" | tr -d '\r' > "$OUT/api/keystone-token-headers.txt"

get() { # NAME URL [MICROVERSION]: GET URL, pretty-print the body into api/NAME.json (error bodies too).
  local code
  code=$(curl -sS -o "$body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" -H 'Accept: application/json' \
    ${3:+-H "OpenStack-API-Version: compute $3"} ${3:+-H "X-OpenStack-Nova-API-Version: $3"} "$2")
  python3 -m json.tool "$body" > "$OUT/api/$1.json" 2>/dev/null || cp "$body" "$OUT/api/$1.json"
  printf '%-34s %s %s%s\n' "$1.json" "$code" "GET ${2#http://127.0.0.1}" "${3:+ (compute $3)}" >> "$OUT/api/INDEX.txt"
}
SID=$(openstack server show "$SERVER" -f value -c id)
NET=$(openstack network show provider1 -f value -c id)
: > "$OUT/api/INDEX.txt"
NOVA=http://$CTRL:8774 NEUTRON=http://$CTRL:9696 GLANCE=http://$CTRL:9292
get nova-versions "$NOVA/"
get nova-os-services "$NOVA/v2.1/os-services" 2.79
get nova-flavors-detail "$NOVA/v2.1/flavors/detail" 2.79
get nova-server "$NOVA/v2.1/servers/$SID" 2.79
get nova-server-interfaces "$NOVA/v2.1/servers/$SID/os-interface" 2.79
get nova-keypairs "$NOVA/v2.1/os-keypairs" 2.79
get nova-hypervisors "$NOVA/v2.1/os-hypervisors/detail" 2.79
get neutron-versions "$NEUTRON/"
get neutron-agents "$NEUTRON/v2.0/agents"
get neutron-networks "$NEUTRON/v2.0/networks?name=provider1"
get neutron-subnets "$NEUTRON/v2.0/subnets?network_id=$NET"
get neutron-ports-by-device "$NEUTRON/v2.0/ports?device_id=$SID"
get neutron-ports-dhcp "$NEUTRON/v2.0/ports?network_id=$NET&device_owner=network:dhcp"
get neutron-secgroups-default "$NEUTRON/v2.0/security-groups?name=default&project_id=$(openstack project show admin -f value -c id)"
get glance-images "$GLANCE/v2/images"
# the console the walkthrough asks for: this cloud has VNC disabled, so Nova's error body is recorded
curl -sS -o "$body" -w '%{http_code}\n' -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -H 'OpenStack-API-Version: compute 2.79' -H 'X-OpenStack-Nova-API-Version: 2.79' \
  "$NOVA/v2.1/servers/$SID/remote-consoles" -d '{"remote_console":{"protocol":"vnc","type":"novnc"}}' > "$OUT/api/nova-remote-console.code"
python3 -m json.tool "$body" > "$OUT/api/nova-remote-console.json" 2>/dev/null || cp "$body" "$OUT/api/nova-remote-console.json"
printf '%-34s %s %s\n' nova-remote-console.json "$(cat "$OUT/api/nova-remote-console.code")" "POST /v2.1/servers/$SID/remote-consoles (novnc)" >> "$OUT/api/INDEX.txt"
rm -f "$OUT/api/nova-remote-console.code"

# host side
DOM=$(openstack server show "$SERVER" -f value -c OS-EXT-SRV-ATTR:instance_name)
$V dumpxml "$DOM" > "$OUT/host/domain-$DOM.xml"
$V domiflist "$DOM" > "$OUT/host/domiflist.txt"
$V domstats "$DOM" > "$OUT/host/domstats.txt"
D=/var/lib/neutron/dhcp/$NET
for f in leases host addn_hosts opts; do cp "$D/$f" "$OUT/host/dhcp-$f.txt"; done
DPID=$(cat "$D/pid")
tr '\0' ' ' < "/proc/$DPID/cmdline" | sed 's/ $//' > "$OUT/host/dnsmasq-cmdline.txt"; echo >> "$OUT/host/dnsmasq-cmdline.txt"
BR=brq${NET:0:11}
bridge -j -d link show > "$OUT/host/bridge-link.json"
bridge -j fdb show br "$BR" > "$OUT/host/bridge-fdb.json"
ip -j -d link show master "$BR" > "$OUT/host/brq-ports.json"
ip -j -d link show "$BR" > "$OUT/host/brq-link.json"
ip -n "qdhcp-$NET" -j -d addr > "$OUT/host/qdhcp-addr.json"
ip -n "qdhcp-$NET" -j neigh > "$OUT/host/qdhcp-neigh.json"
grep -i -E 'DHCP(DISCOVER|OFFER|REQUEST|ACK)' "$AIO_LOGS/dnsmasq/$NET/dhcp_dns_log" | tail -n 12 > "$OUT/host/dnsmasq-dhcp-log.txt" || true
for f in "$OUT"/host/*.json; do python3 -m json.tool "$f" > "$f.tmp" && mv "$f.tmp" "$f"; done
cat > "$OUT/SOURCE.txt" <<S
Recorded $(date -u +%FT%TZ) by aio/capture-fixtures.sh from the cloud aio/up.sh builds
(Debian 12, OpenStack Zed packages: nova $(dpkg-query -W -f='${Version}' nova-common),
neutron $(dpkg-query -W -f='${Version}' neutron-common), keystone $(dpkg-query -W -f='${Version}' keystone),
glance $(dpkg-query -W -f='${Version}' glance-common), libvirt $(dpkg-query -W -f='${Version}' libvirt-daemon),
qemu $(dpkg-query -W -f='${Version}' qemu-system-x86), dnsmasq $(dpkg-query -W -f='${Version}' dnsmasq-base)).
server $SERVER $SID (domain $DOM), network provider1 $NET (bridge $BR, namespace qdhcp-$NET).
S
log "fixtures written under $OUT"
