#!/usr/bin/env bash
# down.sh [--keep-logs]: stop every daemon aio/up.sh started and remove what it
# made (instances, networks' namespaces/bridges/taps, eth2 and the gateway
# namespace, neutron's iptables/ebtables/ipset entries, databases, the
# RabbitMQ user, config edits, clouds.yaml, state), leaving the machine at
# "packages installed". Things other people made are left alone: libvirt
# domains that are not nova's, other namespaces and links, a libvirtd we did
# not start. Safe to run twice, and after a failed up.sh.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
KEEP_LOGS=0; [ "${1:-}" = --keep-logs ] && KEEP_LOGS=1
[ -d "$AIO_STATE" ] || { log "nothing to do: $AIO_STATE does not exist"; exit 0; }
exec 9>"$AIO_STATE/.lock"
flock -n 9 || die "another aio/up.sh or aio/down.sh is running (lock $AIO_STATE/.lock)"
T0=$(date +%s)

# descendants PID: every process below PID (rootwrap daemons, sudo, ...).
descendants() {
  local kids k
  kids=$(awk -v p="$1" '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}
kill_pids() { # NAME PID...: TERM, wait, KILL
  local what=$1 p; shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 20); do
    local alive=0; for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.5
  done
  kill -KILL "$@" 2>/dev/null || true
  log "stopped $what: $*"
}

# 1. nova's libvirt domains (disk under /var/lib/nova/instances), nothing else.
if command -v virsh >/dev/null && virsh -c qemu:///system version >/dev/null 2>&1; then
  for d in $(virsh -c qemu:///system list --all --name); do
    xml=$(virsh -c qemu:///system dumpxml "$d" 2>/dev/null || true)
    case $xml in *"/var/lib/nova/instances/"*) ;; *) continue ;; esac
    virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    virsh -c qemu:///system undefine "$d" --nvram >/dev/null 2>&1 || virsh -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
    log "removed nova domain $d"
  done
fi

# 1b. compute1's domains, on its own libvirtd (all of them are nova's: nobody else uses it).
if [ -S "$C1_LIBVIRT_SOCK" ] && virsh -c "qemu:///system?socket=$C1_LIBVIRT_SOCK" version >/dev/null 2>&1; then
  for d in $(virsh -c "qemu:///system?socket=$C1_LIBVIRT_SOCK" list --all --name); do
    virsh -c "qemu:///system?socket=$C1_LIBVIRT_SOCK" destroy "$d" >/dev/null 2>&1 || true
    virsh -c "qemu:///system?socket=$C1_LIBVIRT_SOCK" undefine "$d" --nvram >/dev/null 2>&1 \
      || virsh -c "qemu:///system?socket=$C1_LIBVIRT_SOCK" undefine "$d" >/dev/null 2>&1 || true
    log "removed compute1's domain $d"
  done
fi

# 2. networks our neutron knows (before its database goes).
nets=$( { ls /var/lib/neutron/dhcp 2>/dev/null; mysql -N -e 'SELECT id FROM neutron.networks' 2>/dev/null; } | grep -E '^[0-9a-f-]{36}$' | sort -u || true)

# 3. OpenStack daemons, newest first, with whatever they spawned and left attached.
# (all at once: each takes 2-6 s to shut down gracefully; in parallel ~6 s in total)
kids=""; stoppers=()
for s in compute1-neutron-linuxbridge-agent compute1-nova-compute compute1-libvirtd \
         neutron-metadata-agent neutron-dhcp-agent neutron-linuxbridge-agent neutron-server \
         nova-compute nova-novncproxy nova-scheduler nova-conductor nova-api placement-api glance-api keystone; do
  p=$(svc_pid "$s") || { rm -f "$AIO_RUN/$s.pid" "$AIO_RUN/$s.hash"; continue; }
  kids="$kids $(descendants "$p")"
  svc_stop "$s" & stoppers+=($!)
done
for w in "${stoppers[@]}"; do wait "$w" || true; done
alive=(); for k in $kids; do kill -0 "$k" 2>/dev/null && alive+=("$k"); done
kill_pids "leftover children of the OpenStack daemons" "${alive[@]}"
# dnsmasq and the metadata haproxy daemonize: their pidfiles name them.
pids=()
for f in /var/lib/neutron/dhcp/*/pid /var/lib/neutron/external/pids/*.pid*; do
  [ -f "$f" ] || continue
  p=$(cat "$f"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=("$p")
done
kill_pids "dnsmasq/haproxy of our networks" "${pids[@]}"

# 4. kernel objects: qdhcp namespaces and brq bridges of our networks, the taps
#    on those bridges, eth2 and the gateway namespace.
for n in $nets; do
  br=brq${n:0:11}
  if [ -d /sys/class/net/$br/brif ]; then
    for port in $(ls /sys/class/net/$br/brif); do
      case $port in tap*) ip link del "$port" 2>/dev/null && log "deleted $port" || true ;; esac
    done
    ip link del "$br" && log "deleted bridge $br"
  fi
  [ -e /run/netns/qdhcp-$n ] && ip netns del "qdhcp-$n" && log "deleted namespace qdhcp-$n"
done
# compute1 (its brq, taps, eth1, eth2, iptables and ipsets go with its
# namespace), the management veth, the switch, eth2, the gateway.
if [ -e /run/netns/$GW_NS ] || [ -e /run/netns/$SW_NS ]; then
  ip link show $PROVIDER_IF >/dev/null 2>&1 && ip link del $PROVIDER_IF && log "deleted $PROVIDER_IF"
fi
ip link show $MGMT_IF >/dev/null 2>&1 && ip link del $MGMT_IF && log "deleted $MGMT_IF"
for ns in $C1_NS $SW_NS $GW_NS; do
  [ -e /run/netns/$ns ] && ip netns del $ns && log "deleted namespace $ns"
done
if iptables -w -t nat -S $MGMT_CHAIN >/dev/null 2>&1; then
  while iptables -w -t nat -D PREROUTING -i $MGMT_IF -d $MGMT_CTRL -j $MGMT_CHAIN 2>/dev/null; do :; done
  iptables -w -t nat -F $MGMT_CHAIN && iptables -w -t nat -X $MGMT_CHAIN && log "removed nat chain $MGMT_CHAIN"
fi
rm -rf "$C1_ETC"
[ -e "$AIO_STATE/etc-netns.ours" ] && rmdir /etc/netns 2>/dev/null || true
# neutron's firewall: chains named neutron-* (iptables), neutron* (ebtables), ipsets NIPv4/NIPv6.
for ipt in iptables ip6tables; do
  command -v $ipt >/dev/null || continue
  for t in filter nat mangle raw; do
    rules=$($ipt -t $t -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j neutron-' | sed 's/^-A/-D/' || true)
    while read -r rule; do
      [ -n "$rule" ] && { eval "$ipt -t $t $rule" 2>/dev/null || true; }
    done <<<"$rules"
    chains=$($ipt -t $t -S 2>/dev/null | awk '/^-N neutron-/{print $2}' || true)
    for c in $chains; do $ipt -t $t -F "$c" 2>/dev/null || true; done
    for c in $chains; do $ipt -t $t -X "$c" 2>/dev/null || true; done
    if [ -n "$chains" ]; then log "removed $(echo "$chains" | wc -w) neutron chains from $ipt $t"; fi
  done
done
if command -v ebtables >/dev/null; then
  for t in filter nat; do
    listing=$(ebtables -t $t -L 2>/dev/null || true)
    # jumps from the built-in chains: "-i tapX -j neutronMAC-tapX" under "Bridge chain: PREROUTING, ..."
    jumps=$(awk '/^Bridge chain: /{c=$3; sub(",","",c); next} c ~ /^[A-Z]+$/ && / -j neutron/{print c" "$0}' <<<"$listing")
    while read -r chain rule; do
      [ -n "$chain" ] && { eval "ebtables -t $t -D $chain $rule" 2>/dev/null || true; }
    done <<<"$jumps"
    chains=$(awk '/^Bridge chain: neutron/{c=$3; sub(",","",c); print c}' <<<"$listing")
    for c in $chains; do ebtables -t $t -F "$c" 2>/dev/null || true; done
    for c in $chains; do ebtables -t $t -X "$c" 2>/dev/null || true; done
    if [ -n "$chains" ]; then log "removed $(echo "$chains" | wc -w) neutron chains from ebtables $t"; fi
  done
fi
# the ebtables wrapper up.sh installed (after the chains: their among rules
# are deleted through it)
if grep -qs vifpath-aio-ebtables-wrapper /usr/local/sbin/ebtables; then
  rm -f /usr/local/sbin/ebtables && log "removed /usr/local/sbin/ebtables (aio's wrapper)"
fi
if command -v ipset >/dev/null; then
  for s in $(ipset list -n 2>/dev/null | grep -E '^NIPv[46]' || true); do ipset destroy "$s" 2>/dev/null || true; done
fi

# 5. databases, RabbitMQ, MariaDB.
if mysqladmin ping >/dev/null 2>&1; then
  for db in keystone glance placement nova nova_api nova_cell0 neutron; do mysql -e "DROP DATABASE IF EXISTS \`$db\`"; done
  for u in keystone glance placement nova neutron; do mysql -e "DROP USER IF EXISTS '$u'@'localhost'"; done
  log "dropped databases and users"
fi
if svc_pid rabbitmq >/dev/null; then
  rabbitmqctl -q -n rabbit@localhost delete_user openstack >/dev/null 2>&1 || true
  # the pidfile holds the su wrapper; beam.smp below it stops on "shutdown".
  rabbitmqctl -q -n rabbit@localhost shutdown >/dev/null 2>&1 || true
  p=$(svc_pid rabbitmq) && kids=$(descendants "$p") || kids=""
  svc_stop rabbitmq
  alive=(); for k in $kids; do kill -0 "$k" 2>/dev/null && alive+=("$k"); done
  kill_pids "rabbitmq leftovers" "${alive[@]}"
  # epmd daemonized itself when rabbit started it: it listens on 127.0.0.1:4369 only.
  epmd -kill >/dev/null 2>&1 || true
fi
rm -f "$AIO_RUN/rabbitmq.pid"
if svc_pid mariadb >/dev/null; then
  mysqladmin shutdown 2>/dev/null || true
  svc_stop mariadb
fi

# 6. libvirtd/virtlogd only if we started them and nobody else has domains there.
for s in libvirtd virtlogd; do
  svc_pid $s >/dev/null || continue
  others=$(virsh -c qemu:///system list --all --name 2>/dev/null | sed '/^$/d' || true)
  if [ -n "$others" ]; then log "leaving our $s running: other people's domains exist ($(echo $others))"; continue; fi
  svc_stop $s
done

# 7. files: config edits back to the packages' versions, generated data.
if [ -d "$AIO_PRISTINE" ]; then
  (cd "$AIO_PRISTINE" && find . -type f) | while read -r rel; do
    f=${rel#.}
    case $f in
      *.absent) rm -f "${f%.absent}" ;;
      *) cp -a "$AIO_PRISTINE$f" "$f" ;;
    esac
  done
  log "restored the packages' config files"
fi
[ -e "$AIO_STATE/etc-openstack.ours" ] && rmdir /etc/openstack 2>/dev/null || true
rm -rf /etc/keystone/fernet-keys /etc/keystone/credential-keys \
  /var/lib/nova/instances/* /var/lib/glance/images/* /var/lib/neutron/dhcp \
  /var/lib/neutron/ns-metadata-proxy /var/lib/neutron/external /var/lib/neutron/tmp/*
[ -e "$AIO_STATE/policy-rc.d.ours" ] && rm -f /usr/sbin/policy-rc.d
if [ $KEEP_LOGS = 1 ]; then
  find "$AIO_STATE" -mindepth 1 -maxdepth 1 ! -name logs ! -name .lock -exec rm -rf {} +
  log "kept $AIO_LOGS"
else
  rm -rf "$AIO_STATE"
fi
log "down.sh done in $(( $(date +%s) - T0 ))s"
