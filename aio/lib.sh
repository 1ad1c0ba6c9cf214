# shellcheck shell=bash
# Common settings and helpers for vifpath's all-in-one OpenStack Zed (aio/).
# Sourced by up.sh, down.sh, logs.sh and smoke.sh; not meant to be run directly.
#
# Everything this code creates is recorded under $AIO_STATE so that down.sh
# can remove exactly that and nothing else (other people may be using the
# same machine: their namespaces, links, libvirtd and domains are left alone).
set -o errexit -o nounset -o pipefail
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8

AIO_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
AIO_STATE=${AIO_STATE:-/var/lib/vifpath-aio}  # pidfiles, stamps, pristine configs, image
AIO_LOGS=$AIO_STATE/logs                       # one log per service + one per phase
AIO_RUN=$AIO_STATE/run                         # pidfiles of the daemons we started
AIO_STAMPS=$AIO_STATE/stamps                   # phases that never need repeating
AIO_PRISTINE=$AIO_STATE/pristine               # package config files before our edits
AIO_CLOUD=${AIO_CLOUD:-vifpath-aio}            # cloud name in clouds.yaml
AIO_CLOUDS_YAML=${AIO_CLOUDS_YAML:-/etc/openstack/clouds.yaml}

# Lab only: one password for everything, every API on loopback.
PW=${AIO_PASSWORD:-secret}
CTRL=127.0.0.1
REGION=RegionOne
KS_URL=http://$CTRL:5000
RABBIT_URL="rabbit://openstack:$PW@$CTRL:5672/"
PROVIDER_IF=eth2        # veth; its peer ctl-eth2 is a port of the provider switch
GW_NS=vifpath-aio-gw    # provider gateway 192.168.31.1, on the switch too
GW_IF=eth2-gw
SW_NS=vifpath-aio-sw    # the provider "switch": bridge $SW_BR in its own namespace
SW_BR=switch

# compute1: the second node, a compute node in its own network namespace
# (its own libvirtd, nova-compute and linuxbridge agent), reaching the
# controller over the management veth (the walkthrough's 10.64.33.0/24,
# controller .64 on $MGMT_IF, compute1 .65 on its eth1) and the provider
# switch on its own eth2.
C1=compute1                         # its Nova and Neutron host name
C1_NS=vifpath-aio-compute1
C1_STATE=$AIO_STATE/compute1        # its libvirt run/lib/cache dirs, Nova and Neutron state
C1_ETC=/etc/netns/$C1_NS            # ip netns exec bind-mounts these over /etc/nova, /etc/neutron, /etc/libvirt
C1_LIBVIRT_SOCK=$C1_STATE/run/libvirt/libvirt-sock
MGMT_IF=aio-mgmt                    # controller's end of the management veth
MGMT_CTRL=10.64.33.64
MGMT_C1=10.64.33.65
MGMT_CHAIN=vifpath-aio-mgmt         # nat chain: compute1's API/AMQP connections to the loopback services
MGMT_PORTS="5000 5672 8778 9292 9696"  # keystone, rabbitmq, placement, glance, neutron

APT=(apt-get -o DPkg::Lock::Timeout=900 -y -q)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[%s] aio: ERROR: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; exit 1; }

require_root() { [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons): sudo $0"; }

# iset FILE SECTION KEY VALUE: set an ini value, saving the package's file first.
iset() { keep_pristine "$1"; crudini --set "$@"; }
# idel FILE SECTION [KEY]
idel() { keep_pristine "$1"; crudini --del "$@" 2>/dev/null || true; }
# keep_pristine FILE: copy FILE (or its absence) once, before our first edit.
keep_pristine() {
  local f=$1 p=$AIO_PRISTINE$1
  case $f in "$C1_ETC"/* | "$AIO_STATE"/*) return 0 ;; esac  # wholly ours: down.sh removes them
  [ -e "$p" ] || [ -e "$p.absent" ] && return 0
  mkdir -p "$(dirname "$p")"
  if [ -e "$f" ]; then cp -a "$f" "$p"; else : > "$p.absent"; fi
}
# write_file FILE MODE: write stdin to FILE (pristine kept) only if it changed.
write_file() {
  local f=$1 mode=$2 tmp
  tmp=$(mktemp); cat > "$tmp"
  if [ -e "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 0; fi
  keep_pristine "$f"; mkdir -p "$(dirname "$f")"
  install -m "$mode" "$tmp" "$f"; rm -f "$tmp"
}

stamp()    { mkdir -p "$AIO_STAMPS"; : > "$AIO_STAMPS/$1"; }
stamped()  { [ -e "$AIO_STAMPS/$1" ]; }

# --- daemons, without systemd ---------------------------------------------
# svc_pid NAME: pid of our daemon NAME if it is alive.
svc_pid() {
  local f=$AIO_RUN/$1.pid p
  [ -f "$f" ] || return 1
  p=$(cat "$f"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}
# svc_ensure NAME USER CMD...: start CMD as USER in the background (stdout and
# stderr to $AIO_LOGS/NAME.log) unless it already runs with the same command
# line and the same config files (hash of /etc files given in $SVC_CONF).
# SVC_LOG_OWNER: owner of the log file when it is not USER (a daemon started
# as root that drops privileges itself).
svc_ensure() {
  local name=$1 user=$2; shift 2
  local want have="" pidf=$AIO_RUN/$name.pid logf=$AIO_LOGS/$name.log
  # settings, not bytes: crudini's first edit of a package file reformats it once
  want=$( { echo "$user $*"; for f in ${SVC_CONF:-}; do crudini --get --format=lines "$f" | sort; done; } | md5sum | cut -d' ' -f1)
  [ -f "$AIO_RUN/$name.hash" ] && have=$(cat "$AIO_RUN/$name.hash")
  if svc_pid "$name" >/dev/null && [ "$want" = "$have" ]; then
    log "$name already running (pid $(svc_pid "$name"))"; return 0
  fi
  svc_stop "$name"
  mkdir -p "$AIO_RUN" "$AIO_LOGS"; touch "$logf"; chown "${SVC_LOG_OWNER:-$user}" "$logf"
  echo "=== $(date -u +%FT%TZ) aio starting $name as $user: $*" >> "$logf"
  start-stop-daemon --start --background --make-pidfile --pidfile "$pidf" \
    --chuid "$user" --chdir /tmp --startas /bin/sh -- -c "exec $* >>$logf 2>&1"
  echo "$want" > "$AIO_RUN/$name.hash"
  sleep 1
  svc_pid "$name" >/dev/null || { tail -n 30 "$logf" >&2; die "$name exited right after start; its log: $logf"; }
  log "started $name (pid $(svc_pid "$name"), log $logf)"
}
# svc_stop NAME: TERM our daemon NAME and its process group (start-stop-daemon
# --background made it a session leader, so the group is what we started:
# API workers, rootwrap daemons), KILL after 15 s.
svc_stop() {
  local name=$1 p i g target
  if p=$(svc_pid "$name"); then
    # the session start-stop-daemon created (pgid = sid != ours), else the pid alone
    read -r g sid < <(ps -o pgid=,sid= -p "$p") || true
    target=$p
    if [ -n "${g:-}" ] && [ "$g" = "${sid:-}" ] && [ "$g" != "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then target=-$g; fi
    kill -TERM -- "$target" 2>/dev/null || true
    for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then log "$name (pid $p) ignored TERM for 15 s: KILL"; kill -KILL -- "$target" 2>/dev/null || true; fi
    log "stopped $name (pid $p)"
  fi
  rm -f "$AIO_RUN/$name.pid" "$AIO_RUN/$name.hash"
}

# wait_for SECONDS WHAT CMD...: poll CMD every second.
wait_for() {
  local t=$1 what=$2 i; shift 2
  for ((i = 0; i < t; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  die "timed out after ${t}s waiting for $what"
}
http_up() { curl -fsS -o /dev/null --max-time 5 "$1" || [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1")" = 300 ]; }

# mysql database + user, idempotent.
db_create() {
  mysql -u root <<SQL
CREATE DATABASE IF NOT EXISTS \`$1\`;
CREATE USER IF NOT EXISTS '$2'@'localhost' IDENTIFIED BY '$PW';
GRANT ALL PRIVILEGES ON \`$1\`.* TO '$2'@'localhost';
SQL
}
dburl() { echo "mysql+pymysql://$2:$PW@127.0.0.1/$1"; }

admin_env() {
  export OS_CLOUD=$AIO_CLOUD OS_CLIENT_CONFIG_FILE=$AIO_CLOUDS_YAML
  unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME 2>/dev/null || true
}

# ks_auth FILE SECTION USER: keystone password auth for a service user.
ks_auth() {
  local f=$1 s=$2 u=$3
  iset "$f" "$s" auth_url "$KS_URL"
  iset "$f" "$s" auth_type password
  iset "$f" "$s" project_domain_name Default
  iset "$f" "$s" user_domain_name Default
  iset "$f" "$s" project_name service
  iset "$f" "$s" username "$u"
  iset "$f" "$s" password "$PW"
  iset "$f" "$s" region_name "$REGION"
}

# uwsgi_ini PORT WSGI NAME PROCS: a small uwsgi config (Debian's use 8 workers).
# "Connection: close": uwsgi's plain http-socket resets reused keep-alive
# connections, which clients then report as "Connection reset by peer".
uwsgi_ini() {
  write_file "$AIO_STATE/uwsgi-$3.ini" 644 <<U
[uwsgi]
http-socket = 127.0.0.1:$1
wsgi-file = $2
procname-prefix-spaced = $3
master = true
processes = $4
threads = 2
enable-threads = true
lazy-apps = true
die-on-term = true
no-orphans = true
buffer-size = 65535
add-header = Connection: close
U
  echo "$AIO_STATE/uwsgi-$3.ini"
}
