#!/usr/bin/env bash
# logs.sh [LINES]: print the last LINES (default 30) lines of every aio
# service log, plus which of our daemons are alive. CI calls it on failure.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
n=${1:-30}
[ -d "$AIO_LOGS" ] || { echo "aio: no logs under $AIO_LOGS (up.sh never ran?)"; exit 0; }
echo "=== aio daemons ($AIO_RUN)"
for f in "$AIO_RUN"/*.pid; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .pid)
  if p=$(svc_pid "$name"); then echo "  $name: running, pid $p"; else echo "  $name: DEAD (pidfile $(cat "$f"))"; fi
done
echo "=== timings"; tail -n 15 "$AIO_STATE/timings.txt" 2>/dev/null || true
for f in "$AIO_LOGS"/*.log "$AIO_LOGS"/dnsmasq/*/*; do
  [ -f "$f" ] || continue
  echo "=== tail -n $n $f"
  tail -n "$n" "$f"
done
for f in /var/log/rabbitmq/*.log /var/log/libvirt/libvirtd.log; do
  [ -s "$f" ] && { echo "=== tail -n $n $f"; tail -n "$n" "$f"; }
done
exit 0
