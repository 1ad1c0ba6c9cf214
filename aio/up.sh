#!/usr/bin/env bash
# up.sh: bring up vifpath's all-in-one OpenStack Zed (ML2/linuxbridge, nova on
# libvirt/qemu TCG) on this Debian 12 machine, as root, without systemd.
#
# Idempotent: every phase checks what exists; a second run only verifies.
# State, pidfiles and logs: /var/lib/vifpath-aio (logs/ has one file per
# service and per phase; timings.txt the durations). On failure the tails of
# every service log are printed (aio/logs.sh prints them at any time).
# Undo with aio/down.sh. Lab only: password "secret", everything on 127.0.0.1.
#
# Environment: AIO_STATE (state dir), AIO_CLOUDS_YAML (default
# /etc/openstack/clouds.yaml), AIO_CLOUD (default vifpath-aio), AIO_SKIP_INSTALL=1.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root

PKGS=(
  crudini curl sudo ca-certificates python3-openstackclient
  mariadb-server python3-pymysql rabbitmq-server
  keystone glance placement-api
  nova-api nova-conductor nova-scheduler nova-compute-qemu nova-consoleproxy
  neutron-server neutron-linuxbridge-agent neutron-dhcp-agent neutron-metadata-agent
  libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients qemu-system-x86 qemu-utils
  dnsmasq-base iputils-arping bridge-utils ebtables iptables ipset conntrack iproute2 haproxy
  cpio xz-utils zstd
)

# ---------------------------------------------------------------- install ---
phase_install() {
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Package postinst scripts must not start daemons: we start them below.
    printf '#!/bin/sh\n# written by vifpath aio/up.sh: no service starts in postinst\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d; : > "$AIO_STATE/policy-rc.d.ours"
    log "wrote /usr/sbin/policy-rc.d (postinst must not start services)"
  fi
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    # Every OpenStack debconf question to false: postinst only creates users, dirs and configs.
    debconf-set-selections <<'P'
keystone keystone/configure_db boolean false
keystone keystone/create-admin-tenant boolean false
keystone keystone/register-endpoint boolean false
glance-common glance/configure_db boolean false
glance-common glance/configure_rabbit boolean false
glance-common glance/configure_ksat boolean false
glance-api glance/configure_api-endpoint boolean false
nova-common nova/configure_db boolean false
nova-common nova/configure_rabbit boolean false
nova-common nova/configure_ksat boolean false
nova-common nova/configure_neutron boolean false
nova-common nova/configure_placement boolean false
nova-api novaapi/configure_db boolean false
nova-api nova/configure_api-endpoint boolean false
nova-consoleproxy nova-consoleproxy/daemon_type select novnc
placement-common placement/configure_db boolean false
placement-common placement/configure_ksat boolean false
placement-api placement/configure_api-endpoint boolean false
neutron-common neutron/configure_db boolean false
neutron-common neutron/configure_rabbit boolean false
neutron-common neutron/configure_ksat boolean false
neutron-common neutron/configure_nova boolean false
neutron-metadata-agent neutron-metadata/configure boolean false
P
    log "installing ${#missing[@]} packages: ${missing[*]}"
    "${APT[@]}" update
    "${APT[@]}" install --no-install-recommends "${missing[@]}"
  else
    log "all ${#PKGS[@]} packages installed"
  fi
}

# ------------------------------------------------------------------- base ---
phase_base() {
  # MariaDB on loopback.
  write_file /etc/mysql/mariadb.conf.d/99-vifpath-aio.cnf 644 <<'C'
# written by vifpath aio/up.sh
[mysqld]
bind-address = 127.0.0.1
max_connections = 512
innodb_buffer_pool_size = 128M
character-set-server = utf8
collation-server = utf8_general_ci
C
  install -d -o mysql -g mysql /run/mysqld
  if ! mysqladmin ping >/dev/null 2>&1; then
    svc_ensure mariadb root /usr/sbin/mariadbd --user=mysql
    wait_for 60 "mariadb to answer" mysqladmin ping
  fi
  # RabbitMQ on loopback (AMQP, epmd and Erlang distribution).
  write_file /etc/rabbitmq/rabbitmq-env.conf 644 <<'R'
# written by vifpath aio/up.sh
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=5672
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
R
  export ERL_EPMD_ADDRESS=127.0.0.1
  if ! rabbitmqctl -q -n rabbit@localhost status >/dev/null 2>&1; then
    svc_ensure rabbitmq root env ERL_EPMD_ADDRESS=127.0.0.1 /usr/sbin/rabbitmq-server
    # await_startup gives up at once while the node is not yet known to epmd
    # (a loaded machine: seconds after the start)
    wait_for 120 "rabbitmq's node to register with epmd" sh -c 'epmd -names | grep -q "^name rabbit "'
    rabbitmqctl -n rabbit@localhost await_startup --timeout 180 >/dev/null || die "rabbitmq did not start: see $AIO_LOGS/rabbitmq.log and /var/log/rabbitmq/"
  fi
  rabbitmqctl -q -n rabbit@localhost list_users | grep -q '^openstack' \
    || rabbitmqctl -q -n rabbit@localhost add_user openstack "$PW"
  rabbitmqctl -q -n rabbit@localhost set_permissions openstack '.*' '.*' '.*'

  # libvirt. Another user of this machine may run libvirtd already: use it
  # as it is (nova-compute runs as root, so libvirtd's polkit default does
  # not matter). Otherwise start our own, with virtlogd (qemu's console log).
  mkdir -p /var/log/libvirt /run/libvirt
  if ! pgrep -x virtlogd >/dev/null; then svc_ensure virtlogd root /usr/sbin/virtlogd; fi
  if ! pgrep -x libvirtd >/dev/null; then
    svc_ensure libvirtd root /usr/sbin/libvirtd
  else
    log "libvirtd already running (pid $(pgrep -x libvirtd | head -1)): using it"
  fi
  wait_for 60 "libvirtd to answer on qemu:///system" virsh -c qemu:///system version
}

# ------------------------------------------------------------------ image ---
# A tiny guest standing in for cirros: scripts/guest-image.sh's (the one the
# demo boots): the Debian kernel and a busybox initramfs whose /init loads
# virtio_net, runs udhcpc on eth0, honours the ACPI power button and stays
# up; plus a 1 MiB raw "disk" (never mounted: the kernel and ramdisk are
# booted directly). The script rebuilds only when its inputs change.
phase_image() {
  local O=$AIO_STATE/image
  bash "$AIO_DIR/../scripts/guest-image.sh" "$O"
  [ -s "$O/disk.raw" ] || truncate -s 1M "$O/disk.raw"
  log "image: $(du -h "$O/vmlinuz" "$O/initrd.img" | awk '{print $2" "$1}' | tr '\n' ' ')"
}

# --------------------------------------------------------------- keystone ---
phase_keystone() {
  local C=/etc/keystone/keystone.conf
  db_create keystone keystone
  iset $C database connection "$(dburl keystone keystone)"
  iset $C token provider fernet
  idel $C DEFAULT log_dir; idel $C DEFAULT log_file; iset $C DEFAULT use_syslog false
  if ! stamped keystone-db; then
    su -s /bin/sh -c "keystone-manage db_sync" keystone
    install -d -o keystone -g keystone -m 700 /etc/keystone/fernet-keys /etc/keystone/credential-keys
    keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
    keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
    keystone-manage bootstrap --bootstrap-password "$PW" \
      --bootstrap-admin-url "$KS_URL/v3/" --bootstrap-internal-url "$KS_URL/v3/" \
      --bootstrap-public-url "$KS_URL/v3/" --bootstrap-region-id "$REGION"
    stamp keystone-db
  fi
  SVC_CONF=$C svc_ensure keystone keystone /usr/bin/uwsgi_python311 --ini "$(uwsgi_ini 5000 /usr/bin/keystone-wsgi-public keystone 2)"
  wait_for 60 "keystone on $KS_URL/v3" curl -fsS "$KS_URL/v3"
  write_clouds_yaml
  admin_env
  if stamped keystone-catalog; then log "keystone catalog already created"; return 0; fi
  openstack project show service >/dev/null 2>&1 || openstack project create --domain default --description "Service Project" service
  local users u
  users=$(openstack user list -f value -c Name)
  for u in glance placement nova neutron; do
    grep -qx "$u" <<<"$users" || openstack user create --domain default --password "$PW" "$u"
    openstack role add --project service --user "$u" admin
  done
  local services
  services=$(openstack service list -f value -c Type)
  mksvc() { # TYPE NAME URL
    grep -qx "$1" <<<"$services" || openstack service create --name "$2" "$1"
    local have i
    have=$(openstack endpoint list --service "$1" -f value -c Interface)
    for i in public internal admin; do
      grep -qx "$i" <<<"$have" || openstack endpoint create --region "$REGION" "$1" "$i" "$3"
    done
  }
  mksvc image glance http://$CTRL:9292
  mksvc placement placement http://$CTRL:8778
  mksvc compute nova http://$CTRL:8774/v2.1
  mksvc network neutron http://$CTRL:9696
  stamp keystone-catalog
}

write_clouds_yaml() {
  if [ -e "$AIO_CLOUDS_YAML" ] && ! grep -q 'written by vifpath aio/up.sh' "$AIO_CLOUDS_YAML"; then
    die "$AIO_CLOUDS_YAML exists and is not ours: set AIO_CLOUDS_YAML=<other path> to write elsewhere"
  fi
  if [ ! -d "$(dirname "$AIO_CLOUDS_YAML")" ]; then
    mkdir -p "$(dirname "$AIO_CLOUDS_YAML")"
    [ "$(dirname "$AIO_CLOUDS_YAML")" = /etc/openstack ] && : > "$AIO_STATE/etc-openstack.ours"
  fi
  keep_pristine "$AIO_CLOUDS_YAML"
  write_file "$AIO_CLOUDS_YAML" 600 <<Y
# written by vifpath aio/up.sh: the all-in-one test cloud (lab password).
clouds:
  $AIO_CLOUD:
    auth:
      auth_url: $KS_URL/v3
      username: admin
      password: $PW
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
Y
  write_file "$AIO_STATE/admin-openrc" 600 <<O
export OS_AUTH_URL=$KS_URL/v3 OS_USERNAME=admin OS_PASSWORD=$PW OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=$REGION OS_IDENTITY_API_VERSION=3
O
}

# ----------------------------------------------------------------- glance ---
phase_glance() {
  local C=/etc/glance/glance-api.conf
  db_create glance glance
  iset $C DEFAULT bind_host $CTRL
  iset $C DEFAULT workers 1
  iset $C DEFAULT enabled_backends "fs:file"
  idel $C DEFAULT log_dir; idel $C DEFAULT log_file
  iset $C glance_store default_backend fs
  idel $C glance_store filesystem_store_datadir
  iset $C fs filesystem_store_datadir /var/lib/glance/images/
  iset $C database connection "$(dburl glance glance)"
  ks_auth $C keystone_authtoken glance
  iset $C keystone_authtoken www_authenticate_uri "$KS_URL"
  iset $C paste_deploy flavor keystone
  iset $C oslo_concurrency lock_path /var/lock/glance
  install -d -o glance -g glance /var/lib/glance/images /var/lock/glance
  stamped glance-db || { su -s /bin/sh -c "glance-manage db_sync" glance; stamp glance-db; }
  SVC_CONF=$C svc_ensure glance-api glance /usr/bin/glance-api --config-file $C --log-file "$AIO_LOGS/glance-api.log"
  wait_for 60 "glance on :9292" http_up http://$CTRL:9292/
}

# -------------------------------------------------------------- placement ---
phase_placement() {
  local C=/etc/placement/placement.conf
  db_create placement placement
  iset $C placement_database connection "$(dburl placement placement)"
  iset $C api auth_strategy keystone
  idel $C DEFAULT log_dir; idel $C DEFAULT log_file
  ks_auth $C keystone_authtoken placement
  iset $C keystone_authtoken www_authenticate_uri "$KS_URL"
  stamped placement-db || { su -s /bin/sh -c "placement-manage db sync" placement; stamp placement-db; }
  SVC_CONF=$C svc_ensure placement-api placement /usr/bin/uwsgi_python311 --ini "$(uwsgi_ini 8778 /usr/bin/placement-api placement-api 1)"
  wait_for 60 "placement on :8778" http_up http://$CTRL:8778/
}

# ------------------------------------------------------------------- nova ---
phase_nova() {
  local C=/etc/nova/nova.conf CC=/etc/nova/nova-compute.conf d
  for d in nova nova_api nova_cell0; do db_create $d nova; done
  iset $C DEFAULT transport_url "$RABBIT_URL"
  iset $C DEFAULT my_ip $CTRL
  iset $C DEFAULT state_path /var/lib/nova
  iset $C DEFAULT enabled_apis osapi_compute,metadata
  iset $C DEFAULT osapi_compute_listen $CTRL
  iset $C DEFAULT metadata_listen $CTRL
  iset $C DEFAULT osapi_compute_workers 1
  iset $C DEFAULT metadata_workers 1
  idel $C DEFAULT log_dir; idel $C DEFAULT log_file
  iset $C conductor workers 1
  iset $C scheduler workers 1
  iset $C scheduler discover_hosts_in_cells_interval 30
  # Servers that name no zone stay on the controller (zone "nova"): compute1
  # is alone in zone "compute1" (phase compute1), and the
  # AvailabilityZoneFilter, not only placement's prefilter, keeps the
  # default zone to the hosts in no zone aggregate.
  iset $C DEFAULT default_schedule_zone nova
  iset $C filter_scheduler enabled_filters AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter
  iset $C api auth_strategy keystone
  iset $C api_database connection "$(dburl nova_api nova)"
  iset $C database connection "$(dburl nova nova)"
  ks_auth $C keystone_authtoken nova
  iset $C keystone_authtoken www_authenticate_uri "$KS_URL"
  ks_auth $C service_user nova
  iset $C service_user send_service_user_token true
  # The walkthrough's console: noVNC through nova-novncproxy on loopback.
  iset $C vnc enabled true
  iset $C vnc server_listen 127.0.0.1
  iset $C vnc server_proxyclient_address 127.0.0.1
  iset $C vnc novncproxy_host 127.0.0.1
  iset $C vnc novncproxy_port 6080
  iset $C vnc novncproxy_base_url http://127.0.0.1:6080/vnc_auto.html
  iset $C spice enabled false
  iset $C oslo_concurrency lock_path /var/lib/nova/tmp
  ks_auth $C placement placement
  idel $C neutron default_floating_pool
  ks_auth $C neutron neutron
  iset $C neutron service_metadata_proxy true
  iset $C neutron metadata_proxy_shared_secret "$PW"
  iset $C glance region_name "$REGION"
  idel $C cinder os_region_name
  iset $CC DEFAULT compute_driver libvirt.LibvirtDriver
  iset $CC libvirt virt_type qemu   # TCG: KVM cannot run a stock guest kernel here
  iset $CC libvirt cpu_mode none
  install -d -o nova -g nova /var/lib/nova/tmp /var/lib/nova/instances
  if ! stamped nova-db; then
    su -s /bin/sh -c "nova-manage api_db sync" nova
    su -s /bin/sh -c "nova-manage cell_v2 map_cell0" nova
    su -s /bin/sh -c "nova-manage cell_v2 list_cells" nova | grep -q ' cell1 ' \
      || su -s /bin/sh -c "nova-manage cell_v2 create_cell --name=cell1 --verbose" nova
    su -s /bin/sh -c "nova-manage db sync" nova
    stamp nova-db
  fi
  local s
  for s in nova-api nova-conductor nova-scheduler nova-novncproxy; do
    SVC_CONF=$C svc_ensure $s nova /usr/bin/$s --config-file=$C --log-file "$AIO_LOGS/$s.log"
  done
  # root: works with any libvirtd (also one started by someone else with polkit auth).
  SVC_CONF="$C $CC" svc_ensure nova-compute root /usr/bin/nova-compute --config-file=$C --config-file=$CC --log-file "$AIO_LOGS/nova-compute.log"
  wait_for 120 "nova-api on :8774" http_up http://$CTRL:8774/
  wait_for 60 "nova-novncproxy on :6080" http_up http://127.0.0.1:6080/vnc_auto.html
  admin_env
  wait_for 120 "nova-compute to report up" sh -c 'openstack compute service list --service nova-compute -f value -c State | grep -qx up'
  if ! stamped nova-hosts; then
    su -s /bin/sh -c "nova-manage cell_v2 discover_hosts --verbose" nova
    wait_for 60 "the hypervisor to appear" sh -c 'openstack hypervisor list -f value | grep -q .'
    stamp nova-hosts
  fi
}

# ---------------------------------------------------------------- neutron ---
# install_ebtables_fix: aio/ebtables-among.sh as /usr/local/sbin/ebtables, the
# first ebtables on sudo's secure_path, so the agent's privsep daemon runs it
# (ebtables-nft cannot delete an among rule by its spec: without it the
# linuxbridge agent loops after a restart and wires no new port).
# Idempotent; refuses to replace an ebtables in /usr/local/sbin that is not ours.
install_ebtables_fix() {
  local dst=/usr/local/sbin/ebtables
  if [ -e "$dst" ] && ! grep -q vifpath-aio-ebtables-wrapper "$dst"; then
    die "$dst exists and is not aio's ebtables wrapper: move it away (aio needs its own there, see aio/ebtables-among.sh)"
  fi
  cmp -s "$AIO_DIR/ebtables-among.sh" "$dst" || { install -m 0755 "$AIO_DIR/ebtables-among.sh" "$dst"; log "installed $dst (aio/ebtables-among.sh)"; }
}

# ensure_switch: the provider "switch", bridge $SW_BR in namespace $SW_NS.
ensure_switch() {
  [ -e /run/netns/$SW_NS ] || ip netns add $SW_NS
  ip -n $SW_NS link set lo up
  ip -n $SW_NS link show $SW_BR >/dev/null 2>&1 || ip -n $SW_NS link add $SW_BR type bridge stp_state 0
  ip -n $SW_NS link set $SW_BR up
}

# sw_plug NS IF PORT: IF in namespace NS ("": this one) is one end of a
# veth whose other end PORT is up on the switch. Refuses an IF that exists
# and is not wired so (someone else's interface).
sw_plug() {
  local ns=$1 ifn=$2 port=$3 in=(ip)
  [ -n "$ns" ] && in=(ip -n "$ns")
  if ! ip -n $SW_NS link show "$port" >/dev/null 2>&1; then
    "${in[@]}" link show "$ifn" >/dev/null 2>&1 && die "$ifn${ns:+ in namespace $ns} exists but is not wired to the switch ($port in $SW_NS): delete it or run aio/down.sh"
    "${in[@]}" link add "$ifn" type veth peer name "$port" netns $SW_NS
    log "wired $ifn${ns:+ (namespace $ns)} to the switch port $port"
  elif ! "${in[@]}" link show "$ifn" >/dev/null 2>&1; then
    die "switch port $port exists but $ifn${ns:+ in namespace $ns} does not: run aio/down.sh"
  fi
  ip -n $SW_NS link set "$port" master $SW_BR
  ip -n $SW_NS link set "$port" up
  "${in[@]}" link set "$ifn" up
}

phase_neutron() {
  local N=/etc/neutron/neutron.conf M=/etc/neutron/plugins/ml2/ml2_conf.ini
  local L=/etc/neutron/plugins/ml2/linuxbridge_agent.ini D=/etc/neutron/dhcp_agent.ini MD=/etc/neutron/metadata_agent.ini
  # The "physical" provider NIC: veth eth2 whose peer is a port of the
  # provider switch (bridge $SW_BR in namespace $SW_NS), which also carries
  # the gateway (namespace $GW_NS: 192.168.31.1, and .94 inside
  # provider1subnet) and compute1's eth2 (phase compute1).
  ensure_switch
  local master=""
  if ip -n $GW_NS link show $GW_IF >/dev/null 2>&1 && ! ip -n $SW_NS link show gw-eth2 >/dev/null 2>&1; then
    # the one-node layout (eth2 a veth straight to $GW_IF): rewire it
    master=$(ip -j link show $PROVIDER_IF 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)[0].get("master",""))' || true)
    ip link del $PROVIDER_IF 2>/dev/null || ip -n $GW_NS link del $GW_IF
    log "rewiring the one-node provider link: $PROVIDER_IF and $GW_IF now meet on the switch $SW_NS/$SW_BR"
  fi
  sw_plug "" $PROVIDER_IF ctl-eth2
  [ -n "$master" ] && ip link set $PROVIDER_IF master "$master" && log "$PROVIDER_IF back on $master"
  [ -e /run/netns/$GW_NS ] || ip netns add $GW_NS
  ip -n $GW_NS link set lo up
  sw_plug $GW_NS $GW_IF gw-eth2
  ip -n $GW_NS addr replace 192.168.31.1/27 dev $GW_IF
  ip -n $GW_NS addr replace 192.168.31.94/27 dev $GW_IF
  modprobe br_netfilter 2>/dev/null || true

  db_create neutron neutron
  iset $N DEFAULT core_plugin ml2
  iset $N DEFAULT service_plugins ""
  iset $N DEFAULT transport_url "$RABBIT_URL"
  iset $N DEFAULT auth_strategy keystone
  iset $N DEFAULT bind_host $CTRL
  iset $N DEFAULT api_workers 1
  iset $N DEFAULT rpc_workers 1
  iset $N DEFAULT rpc_state_report_workers 1
  iset $N DEFAULT notify_nova_on_port_status_changes true
  iset $N DEFAULT notify_nova_on_port_data_changes true
  iset $N DEFAULT interface_driver linuxbridge
  idel $N DEFAULT log_dir; idel $N DEFAULT log_file
  iset $N database connection "$(dburl neutron neutron)"
  ks_auth $N keystone_authtoken neutron
  iset $N keystone_authtoken www_authenticate_uri "$KS_URL"
  ks_auth $N nova nova
  iset $N experimental linuxbridge true   # Zed refuses linuxbridge without it
  iset $N oslo_concurrency lock_path /var/lib/neutron/tmp
  iset $N agent root_helper "sudo neutron-rootwrap /etc/neutron/rootwrap.conf"
  iset $N agent root_helper_daemon "sudo neutron-rootwrap-daemon /etc/neutron/rootwrap.conf"
  idel $N oslo_policy policy_file
  iset $M ml2 type_drivers flat,vlan
  iset $M ml2 tenant_network_types ""
  iset $M ml2 mechanism_drivers linuxbridge
  iset $M ml2 extension_drivers port_security
  iset $M ml2_type_flat flat_networks provider
  idel $M ml2_type_vxlan vni_ranges
  iset $M securitygroup enable_ipset true
  iset $L linux_bridge physical_interface_mappings provider:$PROVIDER_IF
  iset $L vxlan enable_vxlan false
  iset $L securitygroup enable_security_group true
  iset $L securitygroup firewall_driver iptables
  iset $D DEFAULT interface_driver linuxbridge
  iset $D DEFAULT dhcp_driver neutron.agent.linux.dhcp.Dnsmasq
  iset $D DEFAULT enable_isolated_metadata true
  iset $D DEFAULT dnsmasq_base_log_dir "$AIO_LOGS/dnsmasq"   # no syslog here: dnsmasq logs to files
  iset $MD DEFAULT nova_metadata_host $CTRL
  iset $MD DEFAULT metadata_proxy_shared_secret "$PW"
  iset $MD DEFAULT metadata_workers 1
  install -d -o neutron -g neutron /var/lib/neutron /var/lib/neutron/tmp /var/lock/neutron "$AIO_LOGS/dnsmasq"
  stamped neutron-db || { su -s /bin/sh -c "neutron-db-manage --config-file $N --config-file $M upgrade head" neutron; stamp neutron-db; }
  SVC_CONF="$N $M" svc_ensure neutron-server neutron /usr/bin/neutron-server --config-file $N --config-file $M --log-file "$AIO_LOGS/neutron-server.log"
  wait_for 120 "neutron-server on :9696" http_up http://$CTRL:9696/
  install_ebtables_fix
  SVC_CONF="$N $M $L" svc_ensure neutron-linuxbridge-agent neutron /usr/bin/neutron-linuxbridge-agent --config-file $N --config-file $M --config-file $L --log-file "$AIO_LOGS/neutron-linuxbridge-agent.log"
  SVC_CONF="$N $D" svc_ensure neutron-dhcp-agent neutron /usr/bin/neutron-dhcp-agent --config-file $N --config-file $D --log-file "$AIO_LOGS/neutron-dhcp-agent.log"
  SVC_CONF="$N $MD" svc_ensure neutron-metadata-agent neutron /usr/bin/neutron-metadata-agent --config-file $N --config-file $MD --log-file "$AIO_LOGS/neutron-metadata-agent.log"
}

# ----------------------------------------------------------- glance image ---
# The cirros stand-in, registered the classic way: kernel (aki), ramdisk (ari)
# and a raw root disk pointing at both (Debian's nova rejects "ami" root disks
# since the CVE-2024-32498 backport: "Image content does not match disk_format").
phase_upload() {
  admin_env
  local O=$AIO_STATE/image have kid rid
  have=$(openstack image list -f value -c Name)
  # Up to date when Glance holds exactly the kernel and initramfs built here.
  if grep -qx cirros <<<"$have" \
    && [ "$(openstack image show cirros-kernel -f value -c checksum 2>/dev/null)" = "$(md5sum < "$O/vmlinuz" | cut -d' ' -f1)" ] \
    && [ "$(openstack image show cirros-ramdisk -f value -c checksum 2>/dev/null)" = "$(md5sum < "$O/initrd.img" | cut -d' ' -f1)" ]; then
    log "image cirros already uploaded"; return 0
  fi
  local n
  for n in cirros cirros-kernel cirros-ramdisk; do
    if grep -qx "$n" <<<"$have"; then log "replacing image $n"; openstack image delete "$n"; fi
  done
  kid=$(openstack image create cirros-kernel --disk-format aki --container-format aki --public --file "$O/vmlinuz" -f value -c id)
  rid=$(openstack image create cirros-ramdisk --disk-format ari --container-format ari --public --file "$O/initrd.img" -f value -c id)
  openstack image create cirros --disk-format raw --container-format bare --public --file "$O/disk.raw" \
    --property kernel_id="$kid" --property ramdisk_id="$rid" \
    --property os_command_line="console=ttyS0 panic=-1" \
    --property description="vifpath aio stand-in for cirros: Debian kernel + busybox initramfs running udhcpc" -f value -c id
}

# --------------------------------------------------------------- compute1 ---
# The walkthrough's second node: a compute node in namespace $C1_NS with
# its own libvirtd, nova-compute and linuxbridge agent (Nova/Neutron host
# "compute1"), its eth1 on the management veth (10.64.33.65, the
# controller 10.64.33.64 on $MGMT_IF) and its eth2 on the provider switch.
# The controller's services stay on 127.0.0.1: the nat chain $MGMT_CHAIN
# turns compute1's connections to 10.64.33.64 (keystone, rabbitmq,
# placement, glance, neutron) into connections to the loopback
# (route_localnet on $MGMT_IF only), so nothing listens on another address.
# Files: `ip netns exec` bind-mounts $C1_ETC/{nova,neutron,libvirt} over
# /etc/..., so compute1's daemons read their own configuration; libvirtd
# also gets its own /run/libvirt, /var/lib/libvirt and /var/cache/libvirt
# (bind mounts of $C1_STATE/... in its mount namespace), its socket is
# $C1_LIBVIRT_SOCK. Its servers live under $C1_STATE/nova/instances.
c1_ksa() { # the keystone password auth block of a compute1 config section
  cat <<K
auth_url = http://$MGMT_CTRL:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $PW
region_name = $REGION
K
}
# c1_file FILE MODE GROUP: write stdin to FILE if it changed.
c1_file() {
  local tmp; tmp=$(mktemp); cat > "$tmp"
  if [ -e "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 0; fi
  install -D -m "$2" -g "$3" "$tmp" "$1"; rm -f "$tmp"
}

phase_compute1() {
  local rabbit="rabbit://openstack:$PW@$MGMT_CTRL:5672/" p
  # -- the node and its wires
  [ -e /run/netns/$C1_NS ] || ip netns add $C1_NS
  ip -n $C1_NS link set lo up
  if ! ip link show $MGMT_IF >/dev/null 2>&1; then
    ip link add $MGMT_IF type veth peer name eth1 netns $C1_NS
    log "management veth $MGMT_IF <-> $C1_NS/eth1"
  elif ! ip -n $C1_NS link show eth1 >/dev/null 2>&1; then
    die "$MGMT_IF exists but $C1_NS has no eth1: run aio/down.sh"
  fi
  ip addr replace $MGMT_CTRL/24 dev $MGMT_IF
  ip link set $MGMT_IF up
  ip -n $C1_NS addr replace $MGMT_C1/24 dev eth1
  ip -n $C1_NS link set eth1 up
  ensure_switch
  sw_plug $C1_NS $PROVIDER_IF c1-eth2
  sysctl -q -w net.ipv4.conf.$MGMT_IF.route_localnet=1
  iptables -w -t nat -S $MGMT_CHAIN >/dev/null 2>&1 || iptables -w -t nat -N $MGMT_CHAIN
  iptables -w -t nat -C PREROUTING -i $MGMT_IF -d $MGMT_CTRL -j $MGMT_CHAIN 2>/dev/null \
    || iptables -w -t nat -A PREROUTING -i $MGMT_IF -d $MGMT_CTRL -j $MGMT_CHAIN
  for p in $MGMT_PORTS; do
    iptables -w -t nat -C $MGMT_CHAIN -p tcp --dport "$p" -j DNAT --to-destination 127.0.0.1:"$p" 2>/dev/null \
      || iptables -w -t nat -A $MGMT_CHAIN -p tcp --dport "$p" -j DNAT --to-destination 127.0.0.1:"$p"
  done
  wait_for 30 "compute1 to reach keystone at $MGMT_CTRL:5000" ip netns exec $C1_NS curl -fsS -o /dev/null --max-time 3 http://$MGMT_CTRL:5000/v3

  # -- its files
  install -d -m 755 "$C1_STATE" "$C1_STATE/run/libvirt" "$C1_STATE/lib/libvirt" "$C1_STATE/cache/libvirt" "$C1_STATE/nova" "$C1_STATE/nova/instances" "$C1_STATE/nova/tmp"
  install -d -o neutron -g neutron "$C1_STATE/neutron" "$C1_STATE/neutron/tmp"
  [ -d /etc/netns ] || { mkdir -p /etc/netns; : > "$AIO_STATE/etc-netns.ours"; }
  local d
  for d in nova neutron libvirt; do
    [ -d "$C1_ETC/$d" ] && continue
    mkdir -p "$C1_ETC"; cp -a /etc/$d "$C1_ETC/$d"
    # only the packages' files (rootwrap filters, ...): our own configs are written below
    rm -f "$C1_ETC/nova/nova.conf" "$C1_ETC/nova/nova-compute.conf" "$C1_ETC/neutron/neutron.conf"
  done
  # no domain, network or autostart of the controller's libvirt (Debian autostarts "default")
  find "$C1_ETC/libvirt/qemu" -maxdepth 1 -name '*.xml' -delete
  rm -f "$C1_ETC"/libvirt/qemu/autostart/* "$C1_ETC"/libvirt/qemu/networks/autostart/*
  c1_file "$C1_ETC/libvirt/libvirtd.conf" 644 root <<L
# written by vifpath aio/up.sh: compute1's libvirtd (socket $C1_LIBVIRT_SOCK)
unix_sock_group = "libvirt"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
L
  c1_file "$C1_ETC/libvirt/qemu.conf" 644 root <<L
# written by vifpath aio/up.sh: compute1's qemu driver. Console and qemu
# logs written by libvirtd itself: the controller's virtlogd socket is not
# in compute1's /run/libvirt.
stdio_handler = "file"
L
  c1_file "$C1_STATE/libvirtd.sh" 755 root <<L
#!/bin/sh
# written by vifpath aio/up.sh: compute1's libvirtd, run by
# "ip netns exec $C1_NS" (its own network namespace and /etc/libvirt) in
# that command's private mount namespace, with its own run, lib and cache
# dirs, and in its own UTS namespace named $C1: Nova names the hypervisor
# (and its placement resource provider) after libvirt's host name, which
# must not be the controller's.
set -e
mount --bind $C1_STATE/run/libvirt /run/libvirt
mount --bind $C1_STATE/lib/libvirt /var/lib/libvirt
mount --bind $C1_STATE/cache/libvirt /var/cache/libvirt
exec unshare --uts /bin/sh -c 'hostname $C1 && exec /usr/sbin/libvirtd --pid-file $C1_STATE/run/libvirtd.pid'
L
  # $C1 resolves to its management address (libvirt canonicalizes its host name)
  { grep -v "[[:space:]]$C1\$" /etc/hosts; echo "$MGMT_C1 $C1"; } | c1_file "$C1_ETC/hosts" 644 root
  {
    cat <<N
# written by vifpath aio/up.sh: nova-compute of compute1
[DEFAULT]
host = $C1
my_ip = $MGMT_C1
transport_url = $rabbit
state_path = $C1_STATE/nova
instances_path = $C1_STATE/nova/instances
compute_driver = libvirt.LibvirtDriver
[libvirt]
virt_type = qemu
cpu_mode = none
connection_uri = qemu:///system?socket=$C1_LIBVIRT_SOCK
[vnc]
enabled = true
server_listen = $MGMT_C1
server_proxyclient_address = $MGMT_C1
novncproxy_base_url = http://127.0.0.1:6080/vnc_auto.html
[spice]
enabled = false
[oslo_concurrency]
lock_path = $C1_STATE/nova/tmp
[glance]
region_name = $REGION
endpoint_override = http://$MGMT_CTRL:9292
[placement]
endpoint_override = http://$MGMT_CTRL:8778
N
    c1_ksa placement
    printf '[neutron]\nendpoint_override = http://%s:9696\n' $MGMT_CTRL; c1_ksa neutron
    printf '[service_user]\nsend_service_user_token = true\n'; c1_ksa nova
  } | c1_file "$C1_ETC/nova/nova.conf" 640 nova
  c1_file "$C1_ETC/neutron/neutron.conf" 640 neutron <<N
# written by vifpath aio/up.sh: compute1's linuxbridge agent
[DEFAULT]
host = $C1
transport_url = $rabbit
state_path = $C1_STATE/neutron
[agent]
root_helper = sudo neutron-rootwrap /etc/neutron/rootwrap.conf
root_helper_daemon = sudo neutron-rootwrap-daemon /etc/neutron/rootwrap.conf
[oslo_concurrency]
lock_path = $C1_STATE/neutron/tmp
N
  c1_file "$C1_ETC/neutron/plugins/ml2/linuxbridge_agent.ini" 640 neutron <<N
# written by vifpath aio/up.sh: compute1's linuxbridge agent
[linux_bridge]
physical_interface_mappings = provider:$PROVIDER_IF
[vxlan]
enable_vxlan = false
[securitygroup]
enable_security_group = true
firewall_driver = iptables
enable_ipset = true
N

  # -- its daemons
  SVC_CONF="$C1_ETC/libvirt/libvirtd.conf $C1_ETC/libvirt/qemu.conf" \
    svc_ensure compute1-libvirtd root ip netns exec $C1_NS "$C1_STATE/libvirtd.sh"
  wait_for 60 "compute1's libvirtd on $C1_LIBVIRT_SOCK" virsh -c "qemu:///system?socket=$C1_LIBVIRT_SOCK" version
  SVC_CONF="$C1_ETC/nova/nova.conf" svc_ensure compute1-nova-compute root \
    ip netns exec $C1_NS /usr/bin/nova-compute --config-file=$C1_ETC/nova/nova.conf --log-file "$AIO_LOGS/compute1-nova-compute.log"
  local L=$C1_ETC/neutron/plugins/ml2/linuxbridge_agent.ini
  SVC_LOG_OWNER=neutron SVC_CONF="$C1_ETC/neutron/neutron.conf $L" svc_ensure compute1-neutron-linuxbridge-agent root \
    ip netns exec $C1_NS setpriv --reuid=neutron --regid=neutron --init-groups \
    /usr/bin/neutron-linuxbridge-agent --config-file $C1_ETC/neutron/neutron.conf --config-file $L --log-file "$AIO_LOGS/compute1-neutron-linuxbridge-agent.log"

  # -- Nova knows it: service up, host mapped, in its own zone
  admin_env
  wait_for 180 "compute1's nova-compute to report up" sh -c "openstack compute service list --service nova-compute --host $C1 -f value -c State | grep -qx up"
  if ! openstack hypervisor list -f value -c 'Hypervisor Hostname' | grep -qx $C1; then
    su -s /bin/sh -c "nova-manage cell_v2 discover_hosts --verbose" nova
    wait_for 120 "compute1's hypervisor" sh -c "openstack hypervisor list -f value -c 'Hypervisor Hostname' | grep -qx $C1"
  fi
  openstack aggregate show $C1 >/dev/null 2>&1 || openstack aggregate create --zone $C1 $C1 >/dev/null
  openstack aggregate show $C1 -f json -c hosts | grep -q "\"$C1\"" || openstack aggregate add host $C1 $C1 >/dev/null
  wait_for 180 "compute1's linuxbridge agent alive" sh -c "openstack network agent list --host $C1 --agent-type linux-bridge -f value -c Alive | grep -qx True"
  log "compute1 up: nova-compute, linuxbridge agent, zone $C1 (boot there with --availability-zone $C1)"
}

# ------------------------------------------------------------------ check ---
phase_check() {
  admin_env
  wait_for 120 "all nova services up" sh -c '[ -z "$(openstack compute service list -f value -c State | grep -vx up)" ]'
  wait_for 120 "4 neutron agents alive" sh -c '[ "$(openstack network agent list -f value -c Alive | grep -cx True)" -ge 4 ] && [ -z "$(openstack network agent list -f value -c Alive | grep -vx True)" ]'
  [ "$(openstack compute service list --service nova-compute -f value -c Host | sort | tr '\n' ' ')" = "$(printf '%s\n' "$C1" "$(hostname)" | sort | tr '\n' ' ')" ] \
    || die "nova-compute hosts are not $(hostname) and $C1: $(openstack compute service list --service nova-compute -f value -c Host | tr '\n' ' ')"
  openstack compute service list
  openstack network agent list
}

# ------------------------------------------------------------------- main ---
mkdir -p "$AIO_STATE" "$AIO_LOGS" "$AIO_RUN"
chmod 755 "$AIO_STATE" "$AIO_LOGS"
exec 9>"$AIO_STATE/.lock"
flock -n 9 || die "another aio/up.sh or aio/down.sh is running (lock $AIO_STATE/.lock)"
( while sleep 2; do awk '/MemTotal/{t=$2}/MemAvailable/{a=$2}END{print int((t-a)/1024)}' /proc/meminfo; done ) >> "$AIO_STATE/mem.log" 9>&- &
MEMPID=$!
trap 'kill $MEMPID 2>/dev/null || true' EXIT
T0=$(date +%s)
echo "=== up.sh $(date -u +%FT%TZ)" >> "$AIO_STATE/timings.txt"
PHASES=(install base image keystone glance placement nova neutron upload compute1 check)
[ "${AIO_SKIP_INSTALL:-0}" = 1 ] && PHASES=("${PHASES[@]:1}")
for p in "${PHASES[@]}"; do
  t=$(date +%s)
  log "phase $p"
  set +e
  ( set -e; "phase_$p" ) 2>&1 | tee -a "$AIO_LOGS/phase-$p.log"
  rc=${PIPESTATUS[0]}
  set -e
  printf '%s\t%-10s\trc=%s\t%ss\n' "$(date -u +%FT%TZ)" "$p" "$rc" "$(( $(date +%s) - t ))" >> "$AIO_STATE/timings.txt"
  if [ "$rc" != 0 ]; then
    log "phase $p FAILED (rc $rc); service log tails follow"
    "$AIO_DIR/logs.sh" 40 >&2 || true
    die "bring-up failed in phase $p: see $AIO_LOGS/phase-$p.log"
  fi
done
peak=$(sort -n "$AIO_STATE/mem.log" | tail -1)
echo "total ${#PHASES[@]} phases $(( $(date +%s) - T0 ))s; peak used memory so far ${peak} MiB" | tee -a "$AIO_STATE/timings.txt"
log "cloud $AIO_CLOUD ready: OS_CLOUD=$AIO_CLOUD OS_CLIENT_CONFIG_FILE=$AIO_CLOUDS_YAML (admin openrc: $AIO_STATE/admin-openrc)"
