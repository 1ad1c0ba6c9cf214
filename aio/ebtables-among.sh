#!/bin/bash
# vifpath-aio ebtables wrapper (installed by aio/up.sh as /usr/local/sbin/ebtables,
# removed by aio/down.sh). Everything goes to /usr/sbin/ebtables (Debian's
# alternative: ebtables-nft) unchanged, except one call ebtables-nft 1.8.9
# cannot do: deleting a rule with an among match by its spec
# (`ebtables -t nat -D neutronMAC-tap… -i tap… --among-src fa:16:3e:… -j RETURN`
# fails with "RULE_DELETE failed (Invalid argument)", exit 4, even with the
# spec exactly as added). Neutron Zed's linuxbridge agent
# (arp_protect._delete_vif_mac_rules) makes that call for every port it finds
# already protected, i.e. after each restart, and retries it forever
# (tenacity on exit 4), so it wires no new port. Here such a delete becomes
# a delete by rule number, the number read from `-L CHAIN --Ln` where the
# listed rule equals the given spec. Measured on this kernel: the legacy
# backend is no way out (no ebtables nat table in the kernel).
# vifpath-aio-ebtables-wrapper (marker: down.sh removes only this file)
REAL=${VIFPATH_EBTABLES_REAL:-/usr/sbin/ebtables}
args=("$@")
del=-1 among=0
for i in "${!args[@]}"; do
  case ${args[$i]} in
    -D|--delete) [ $del -lt 0 ] && del=$i ;;
    --among-src|--among-dst) among=1 ;;
  esac
done
if [ $del -ge 0 ] && [ $among = 1 ] && [ $((del + 2)) -lt ${#args[@]} ]; then
  pre=("${args[@]:0:$del}")
  chain=${args[$((del + 1))]}
  spec=("${args[@]:$((del + 2))}")
  # ebtables -L prints MACs without leading zeros (fa:16:3e:a:b:c) and
  # among lists with a trailing comma: compare in that form.
  norm() { tr 'A-F' 'a-f' | sed -E 's/(^|[:, ])0([0-9a-f])/\1\2/g; s/(^|[:, ])0([0-9a-f])/\1\2/g; s/,( |$)/\1/g; s/ +/ /g; s/^ //; s/ $//'; }
  want=$(printf '%s ' "${spec[@]}" | norm)
  num=$("$REAL" "${pre[@]}" -L "$chain" --Ln 2>/dev/null | while read -r n rest; do
    case $n in ''|*[!0-9]*) continue ;; esac
    [ "$(printf '%s' "$rest" | norm)" = "$want" ] && { echo "$n"; break; }
  done)
  if [ -n "$num" ]; then
    exec "$REAL" "${pre[@]}" -D "$chain" "$num"
  fi
fi
exec "$REAL" "$@"
