#!/usr/bin/env bash
# capture-agents-fixtures.sh [OUTDIR]: record, from the running aio cloud,
# the API bodies of the agents and placement checks: Neutron's agents, the
# DHCP agents of a network and the networks of a DHCP agent, Nova's services
# and hypervisors (microversion 2.79), placement's version document,
# resource providers, inventories and usages. Default OUTDIR:
# internal/fakecloud/testdata/recorded. Read-only, except when no network
# exists: then it creates a flat network vpt-fixture-agents on physnet
# provider with a DHCP subnet (so a DHCP agent hosts it) and deletes it at
# exit. Run it under `flock /tmp/vifpath-aio.lock`.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
OUT=${1:-$(dirname "$AIO_DIR")/internal/fakecloud/testdata/recorded}
mkdir -p "$OUT"
admin_env
NOVA=http://$CTRL:8774 NEUTRON=http://$CTRL:9696 PLACEMENT=http://$CTRL:8778
MV=2.79
hdrs=$(mktemp) body=$(mktemp)
MADE=
cleanup() {
  set +e
  [ -n "$MADE" ] && openstack network delete vpt-fixture-agents >/dev/null 2>&1
  rm -f "$hdrs" "$body"
}
trap cleanup EXIT

curl -fsS -D "$hdrs" -o "$body" -H 'Content-Type: application/json' "$KS_URL/v3/auth/tokens" -d @- <<J
{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"$PW"}}},
 "scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}
J
TOKEN=$(awk 'tolower($1)=="x-subject-token:"{print $2}' "$hdrs" | tr -d '\r')
[ -n "$TOKEN" ] || die "keystone returned no X-Subject-Token"
INDEX=$OUT/INDEX-agents.txt
: > "$INDEX"

# call NAME METHOD URL: one GET; the body pretty-printed into NAME.json.
call() {
  local name=$1 method=$2 url=$3 code
  code=$(curl -sS -o "$body" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $TOKEN" \
    -H 'Accept: application/json' -H "OpenStack-API-Version: compute $MV" \
    -H "X-OpenStack-Nova-API-Version: $MV" "$url")
  python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2],"w"), indent=4, sort_keys=True); open(sys.argv[2],"a").write("\n")' \
    "$body" "$OUT/$name.json" || cp "$body" "$OUT/$name.json"
  printf '%-40s %s %s %s\n' "$name.json" "$code" "$method" "${url#http://127.0.0.1}" >> "$INDEX"
}
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }

NET=$(openstack network list -f value -c ID | head -1)
if [ -z "$NET" ]; then
  NET=$(openstack network create vpt-fixture-agents --provider-network-type flat --provider-physical-network provider -f value -c id)
  MADE=1
  openstack subnet create vpt-fixture-agents --network "$NET" --subnet-range 192.168.31.64/27 --allocation-pool start=192.168.31.70,end=192.168.31.90 >/dev/null
  for _ in $(seq 30); do
    [ "$(openstack network agent list --network "$NET" -f value -c ID | wc -l)" -gt 0 ] && break
    sleep 1
  done
fi
call neutron-agents GET "$NEUTRON/v2.0/agents"
call neutron-network-dhcp-agents GET "$NEUTRON/v2.0/networks/$NET/dhcp-agents"
DHCP=$(jget 'next(a["id"] for a in d["agents"] if a["agent_type"]=="DHCP agent")' "$OUT/neutron-agents.json")
call neutron-agent-dhcp-networks GET "$NEUTRON/v2.0/agents/$DHCP/dhcp-networks"
call nova-os-services GET "$NOVA/v2.1/os-services"
call nova-hypervisors-detail GET "$NOVA/v2.1/os-hypervisors/detail"
call placement-versions GET "$PLACEMENT/"
call placement-resource-providers GET "$PLACEMENT/resource_providers"
RP=$(jget 'd["resource_providers"][0]["uuid"]' "$OUT/placement-resource-providers.json")
call placement-inventories GET "$PLACEMENT/resource_providers/$RP/inventories"
call placement-usages GET "$PLACEMENT/resource_providers/$RP/usages"
call placement-resource-provider-404 GET "$PLACEMENT/resource_providers/00000000-0000-0000-0000-000000000000"
log "recorded $(wc -l < "$INDEX") bodies in $OUT (index: $INDEX)"
