#!/usr/bin/env bash
# Installs the Debian packages vifpath's tests and demo need: the union of
# scripts/deps.d/*.txt (one package per line, '#' comments). Idempotent and
# quiet: apt runs only when something is missing. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t want < <(cat "$here"/deps.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#want[@]} packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${missing[*]}: run as root (sudo make deps)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages' postinst must not start daemons on the host (sshd on :22, the
# system libvirtd, virtlogd): the tests start their own. Without systemd,
# invoke-rc.d asks /usr/sbin/policy-rc.d; write one for this install
# unless one exists, and remove it afterwards.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# written by vifpath scripts/deps.sh for one apt-get install\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
