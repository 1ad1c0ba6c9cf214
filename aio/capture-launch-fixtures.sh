#!/usr/bin/env bash
# capture-launch-fixtures.sh [OUTDIR]: record, from the running aio cloud, the
# API bodies launch's fake cloud had to synthesize (keypair, server create
# 202, a server in ERROR with its fault, security group rule 201, the error
# bodies of Nova and Neutron, Glance's version document). Default OUTDIR:
# internal/testutil/fakecloud/testdata/recorded. It CREATES objects named
# vpt-fixture-* (a keypair from a throwaway public key, a 64 TiB-disk flavor,
# a server that goes to ERROR, an ICMP echo-reply rule) and deletes them
# before it exits. adminPass in the create response is replaced by REDACTED.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
OUT=${1:-$(dirname "$AIO_DIR")/internal/testutil/fakecloud/testdata/recorded}
mkdir -p "$OUT"
admin_env
NOVA=http://$CTRL:8774 NEUTRON=http://$CTRL:9696 GLANCE=http://$CTRL:9292
MV=2.79
hdrs=$(mktemp) body=$(mktemp) key=$(mktemp -u)
cleanup() {
  set +e
  [ -n "${SID:-}" ] && openstack server delete --wait "$SID" >/dev/null 2>&1
  [ -n "${RID:-}" ] && openstack security group rule delete "$RID" >/dev/null 2>&1
  openstack keypair delete vpt-fixture-key >/dev/null 2>&1
  openstack flavor delete vpt-fixture-huge >/dev/null 2>&1
  rm -f "$hdrs" "$body" "$key" "$key.pub"
}
trap cleanup EXIT

curl -fsS -D "$hdrs" -o "$body" -H 'Content-Type: application/json' "$KS_URL/v3/auth/tokens" -d @- <<J
{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"$PW"}}},
 "scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}
J
TOKEN=$(awk 'tolower($1)=="x-subject-token:"{print $2}' "$hdrs" | tr -d '\r')
[ -n "$TOKEN" ] || die "keystone returned no X-Subject-Token"
: > "$OUT/INDEX.txt"

# call NAME METHOD URL [JSON]: one request; the body (errors too) pretty-printed into NAME.json.
call() {
  local name=$1 method=$2 url=$3 data=${4:-} code
  code=$(curl -sS -o "$body" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $TOKEN" \
    -H 'Accept: application/json' -H 'Content-Type: application/json' \
    -H "OpenStack-API-Version: compute $MV" -H "X-OpenStack-Nova-API-Version: $MV" \
    ${data:+-d "$data"} "$url")
  python3 - "$body" "$OUT/$name.json" <<'P' || cp "$body" "$OUT/$name.json"
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("server") if isinstance(d, dict) else None
if isinstance(s, dict) and "adminPass" in s:
    s["adminPass"] = "REDACTED"
json.dump(d, open(sys.argv[2], "w"), indent=4, sort_keys=True)
open(sys.argv[2], "a").write("\n")
P
  printf '%-40s %s %s %s\n' "$name.json" "$code" "$method" "${url#http://127.0.0.1}" >> "$OUT/INDEX.txt"
  LAST=$code
}

call glance-versions GET "$GLANCE/"
# keypair: import a throwaway public key (its private half is deleted at exit)
ssh-keygen -q -t ed25519 -N '' -C vpt-fixture -f "$key" >/dev/null 2>&1 || die "ssh-keygen failed (openssh-client)"
call nova-keypair-import POST "$NOVA/v2.1/os-keypairs" "{\"keypair\":{\"name\":\"vpt-fixture-key\",\"public_key\":\"$(cat "$key.pub")\"}}"
call nova-keypair-get GET "$NOVA/v2.1/os-keypairs/vpt-fixture-key"
call nova-keypair-import-409 POST "$NOVA/v2.1/os-keypairs" "{\"keypair\":{\"name\":\"vpt-fixture-key\",\"public_key\":\"$(cat "$key.pub")\"}}"
call nova-keypair-get-404 GET "$NOVA/v2.1/os-keypairs/vpt-fixture-nokey"
call nova-server-get-404 GET "$NOVA/v2.1/servers/00000000-0000-0000-0000-000000000000"
# a flavor no host can hold, and a server that goes to ERROR with it
FID=$(openstack flavor create vpt-fixture-huge --vcpus 1 --ram 128 --disk 65536 -f value -c id)
call nova-server-create-quota-403 POST "$NOVA/v2.1/servers" \
  "{\"server\":{\"name\":\"vpt-fixture-quota\",\"flavorRef\":\"$FID\",\"imageRef\":\"$(openstack image show cirros -f value -c id)\",\"networks\":\"none\",\"min_count\":1000}}"
call nova-server-create-202 POST "$NOVA/v2.1/servers" \
  "{\"server\":{\"name\":\"vpt-fixture-error\",\"flavorRef\":\"$FID\",\"imageRef\":\"$(openstack image show cirros -f value -c id)\",\"networks\":\"none\"}}"
SID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["server"]["id"])' "$OUT/nova-server-create-202.json")
for _ in $(seq 60); do
  st=$(openstack server show "$SID" -f value -c status)
  [ "$st" = ERROR ] && break
  sleep 1
done
[ "$st" = ERROR ] || die "server $SID is $st, not ERROR, after 60 s"
call nova-server-error-fault GET "$NOVA/v2.1/servers/$SID"
# Neutron: a rule created (201), the same again (409 SecurityGroupRuleExists), a 404
SG=$(openstack security group list --project admin -f value -c ID -c Name | awk '$2=="default"{print $1}')
R='{"security_group_rule":{"security_group_id":"'$SG'","direction":"ingress","ethertype":"IPv4","protocol":"icmp","port_range_min":0,"remote_ip_prefix":"198.51.100.0/24"}}'
call neutron-secgroup-rule-create-201 POST "$NEUTRON/v2.0/security-group-rules" "$R"
RID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["security_group_rule"]["id"])' "$OUT/neutron-secgroup-rule-create-201.json")
call neutron-secgroup-rule-create-409 POST "$NEUTRON/v2.0/security-group-rules" "$R"
call neutron-network-get-404 GET "$NEUTRON/v2.0/networks/00000000-0000-0000-0000-000000000000"
# a second flat network on physnet provider when one exists (409), if one does
if openstack network show provider1 >/dev/null 2>&1; then
  call neutron-network-create-flat-409 POST "$NEUTRON/v2.0/networks" \
    '{"network":{"name":"vpt-fixture-net","provider:network_type":"flat","provider:physical_network":"provider"}}'
  [ "$LAST" = 201 ] && openstack network delete vpt-fixture-net
fi
log "recorded $(wc -l < "$OUT/INDEX.txt") bodies in $OUT (index: $OUT/INDEX.txt)"
