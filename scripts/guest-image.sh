#!/usr/bin/env bash
# guest-image.sh [OUTDIR] builds the tiny guest that internal/demo boots as a
# libvirt TCG domain (examples/vmtrace -demo -guest libvirt): the stock
# Debian kernel (linux-image-amd64's dependency, downloaded and unpacked,
# not installed) as OUTDIR/vmlinuz, and a busybox-static initramfs as
# OUTDIR/initrd.img whose /init loads virtio_net, starts busybox acpid on
# the ACPI power button (button + evdev modules; its action
# /etc/acpi/PWRF/00000080 syncs and powers off with `poweroff -f`, since
# PID 1 is the /init shell, not an init that handles SIGUSR2), brings up lo
# and eth0, runs udhcpc on eth0 (in the background: it renews its lease at
# T1 and keeps answering ARP) and stays up, printing "vifpath-guest: ..."
# lines on the serial console ("acpid ready" once acpid holds the power
# button's event device; "power button, powering off" in the action).
#
# OUTDIR defaults to /var/cache/vifpath/guest. Idempotent and serialized
# (flock on OUTDIR/.lock): it rebuilds only
# when the kernel package, the busybox-static version or this script
# changes (OUTDIR/stamp records them), so a second run takes milliseconds.
# Needs root only to write OUTDIR; uses apt-get download (network to the
# Debian mirror on the first run), dpkg-deb, cpio, gzip, xz and zstd
# (scripts/deps.d/guest.txt).
set -euo pipefail
out=${1:-/var/cache/vifpath/guest}
log() { echo "guest-image: $*" >&2; }
die() { echo "guest-image: $*" >&2; exit 1; }

kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
bver() { apt-cache policy busybox-static 2>/dev/null | awk '/Candidate:/ && v == "" {v = $2} END {print v}'; }
K=$(kpkg) B=$(bver)
if [ -z "$K" ] || [ -z "$B" ] || [ "$B" = "(none)" ]; then
	log "apt knows no linux-image-amd64 or busybox-static candidate: apt-get update"
	apt-get update -qq
	K=$(kpkg) B=$(bver)
fi
[ -n "$K" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
[ -n "$B" ] && [ "$B" != "(none)" ] || die "no busybox-static candidate"
stamp="kernel=$K busybox-static=$B recipe=$(md5sum < "${BASH_SOURCE[0]}" | cut -c1-12)"
# One build at a time (test packages run in parallel): a second caller
# waits, then finds the image up to date.
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	log "up to date in $out ($stamp)"
	exit 0
fi
log "building in $out ($stamp)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt downloads as _apt when that user may write the directory.
mkdir "$work/dl" && chmod 755 "$work" && { chown _apt "$work/dl" 2>/dev/null || true; }
(cd "$work/dl" && apt-get download -q "$K" busybox-static >/dev/null) || die "apt-get download $K busybox-static failed"
dpkg-deb -x "$work"/dl/linux-image-*.deb "$work/k"
dpkg-deb -x "$work"/dl/busybox-static_*.deb "$work/b"
KV=$(ls "$work/k/lib/modules" | head -1)
[ -n "$KV" ] && [ -s "$work/k/boot/vmlinuz-$KV" ] || die "no kernel image or modules in $K"
R=$work/root
mkdir -p "$R"/{bin,sbin,etc/acpi/PWRF,proc,sys,dev,tmp,run,lib/modules,var/run}
cp "$work/b/bin/busybox" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
# /init must run with nothing but what the initramfs holds (a dynamic
# busybox panics the guest with "No working init found").
chroot "$R" /bin/sh -c 'exit 0' || die "busybox-static's busybox does not run alone (not static?)"
# button (the ACPI power button as an input device) before evdev (which
# then gives it /dev/input/event*, where acpid listens).
mods="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net button evdev"
for m in $mods; do
	f=$(find "$work/k/lib/modules/$KV" -name "$m.ko*" | head -1)
	if [ -z "$f" ]; then log "module $m not in $KV (built in?)"; continue; fi
	case $f in
	*.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$R/lib/modules/$m.ko" ;;
	*) cp "$f" "$R/lib/modules/$m.ko" ;;
	esac
done
cat >"$R/init" <<I
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "vifpath-guest: kernel \$(uname -r) booted in \$(cut -d' ' -f1 /proc/uptime)s"
for m in $mods; do
  [ -e /lib/modules/\$m.ko ] && insmod /lib/modules/\$m.ko 2>/dev/null
done
hostname vifpath-guest
# ACPI power button -> busybox acpid (reads /dev/input/event*, which it
# opens once at start: wait for devtmpfs's nodes) -> /etc/acpi/PWRF/00000080.
pwr=
i=0; while [ \$i -lt 40 ]; do
  pwr=; missing=
  for e in /sys/class/input/event*; do
    [ -e "\$e" ] || continue
    [ -e /dev/input/\${e##*/} ] || missing=1
    [ "\$(cat \$e/device/name 2>/dev/null)" = "Power Button" ] && pwr=\${e##*/}
  done
  [ -n "\$pwr" ] && [ -z "\$missing" ] && break
  sleep 0.05; i=\$((i+1))
done
acpid -d -c /etc/acpi >/dev/console 2>&1 &
apid=\$!
ready=
i=0; while [ -n "\$pwr" ] && [ \$i -lt 40 ]; do
  for f in /proc/\$apid/fd/*; do
    [ "\$(readlink \$f 2>/dev/null)" = /dev/input/\$pwr ] && ready=1
  done
  [ -n "\$ready" ] && break
  sleep 0.05; i=\$((i+1))
done
if [ -n "\$ready" ]; then
  echo "vifpath-guest: acpid ready (pid \$apid, power button /dev/input/\$pwr) at \$(cut -d' ' -f1 /proc/uptime)s"
else
  echo "vifpath-guest: acpid NOT ready (power button event device '\$pwr', acpid pid \$apid): the guest ignores ACPI shutdown"
fi
ip link set lo up
i=0; while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 80 ]; do sleep 0.25; i=\$((i+1)); done
ip link set eth0 up
echo "vifpath-guest: eth0 \$(cat /sys/class/net/eth0/address 2>/dev/null) at \$(cut -d' ' -f1 /proc/uptime)s"
# -b: background once bound (or after the tries); udhcpc renews at T1.
udhcpc -i eth0 -s /etc/udhcpc.sh -x hostname:vifpath-guest -t 60 -T 1 -A 2 -b
while true; do
  echo "vifpath-guest: up \$(cut -d' ' -f1 /proc/uptime)s \$(ip -4 -o addr show eth0 2>/dev/null | awk '{print \$4}')"
  sleep 30
done
I
cat >"$R/etc/udhcpc.sh" <<'S'
#!/bin/sh
case "$1" in
deconfig) ip addr flush dev $interface; ip link set $interface up ;;
bound|renew)
	ifconfig $interface $ip netmask ${subnet:-255.255.255.0} up
	if [ -n "$router" ]; then ip route replace default via ${router%% *} dev $interface 2>/dev/null; fi
	: > /etc/resolv.conf; for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	echo "vifpath-guest: DHCP $1 ip=$ip subnet=$subnet router=$router lease=$lease at $(cut -d' ' -f1 /proc/uptime)s" ;;
esac
exit 0
S
# busybox acpid runs ./PWRF/00000080 (relative to -c /etc/acpi) when the
# power button's KEY_POWER goes down. PID 1 is /init, a shell that ignores
# poweroff's signal: power off directly.
cat >"$R/etc/acpi/PWRF/00000080" <<'S'
#!/bin/sh
echo "vifpath-guest: power button, powering off at $(cut -d' ' -f1 /proc/uptime)s" >/dev/console
sync
poweroff -f
S
chmod 755 "$R/init" "$R/etc/udhcpc.sh" "$R/etc/acpi/PWRF/00000080"
mkdir -p "$out"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/initrd.img"
cp "$work/k/boot/vmlinuz-$KV" "$work/vmlinuz"
chmod 644 "$work/initrd.img" "$work/vmlinuz"
# Replace atomically: a demo reading the old image keeps its files.
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.img" "$out/initrd.img"
echo "$stamp" >"$out/stamp.tmp" && mv -f "$out/stamp.tmp" "$out/stamp"
log "built: $(du -h "$out/vmlinuz" "$out/initrd.img" | awk '{print $2" "$1}' | tr '\n' ' ')"
