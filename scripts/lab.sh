#!/usr/bin/env bash
# lab.sh - the seed's demo, end to end, on this machine (`make lab`).
#
# Builds the seed's docker compose network from network namespaces: a "host"
# namespace whose bridge carries the origin server (the seed's demo app on
# ports 8080 and 8888: random number, 0-10 ms delay, 500 when divisible by 5)
# and two client namespaces.  Attaches httpmon to the bridge, lets both
# clients send traffic, prints what hm-stat saw next to what the clients
# measured themselves, checks that they agree (exit status 1 when not), and
# tears everything down again.
#
# Usage: scripts/lab.sh [--requests N] [--keep] [--installed] | --down | -h
#   --requests N  requests per client (default 200), over 4 connections
#   --keep        leave the lab running and print how to inspect and remove it
#   --installed   run the installed hm-load and hm-stat (found in PATH: a
#                 package's /usr/sbin, make install's /usr/local/sbin)
#   --down        remove a lab left by --keep
# Needs root.  Everything lives in namespaces named hm-lab* (bridge br-httpmon in
# hm-labh), addresses 10.231.N.0/24 and fd00:231:N::/64 inside them; pins in
# /sys/fs/bpf/httpmon-lab.  HM_LAB_PREFIX names the namespaces otherwise (pins
# in /sys/fs/bpf/PREFIX: tests run labs of their own), HM_LAB_NET picks N.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/lib/netns.sh
. "$ROOT/tests/lib/netns.sh"

P=${HM_LAB_PREFIX:-hm-lab}
# shellcheck disable=SC2034  # read by hm_bridge and hm_lab_up
HM_LAB_BRIDGE=br-httpmon # the name a docker network's bridge would have
BR=$(hm_bridge "$P")
PIN=/sys/fs/bpf/httpmon-lab
[ -n "${HM_LAB_PREFIX:-}" ] && PIN=/sys/fs/bpf/$P
BUILD=${HM_BUILD:-$ROOT/build}
HM_LOAD=$BUILD/hm-load
HM_STAT=$BUILD/hm-stat
REQUESTS=200
KEEP=0
INSTALLED=0

usage() { sed -n 's/^# \{0,1\}//; 12,21p' "${BASH_SOURCE[0]}"; }
say() { printf '==> %s\n' "$*"; }
die() { printf 'lab.sh: %s\n' "$*" >&2; exit 1; }

teardown() {
	if [ -e "/run/netns/${P}h" ] && [ -x "$HM_LOAD" ]; then
		hm_in_host "$P" "$HM_LOAD" --detach "$BR" --pin-path "$PIN" >/dev/null 2>&1 || true
	fi
	hm_lab_down "$P"
	rm -rf "$PIN"
}

while [ $# -gt 0 ]; do
	case $1 in
	--requests)
		[[ ${2:-} =~ ^[1-9][0-9]{0,5}$ ]] || die "--requests needs a number from 1 to 999999"
		REQUESTS=$2
		shift
		;;
	--keep) KEEP=1 ;;
	--installed) INSTALLED=1 ;;
	--down) DOWN=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF): sudo scripts/lab.sh"
if [ "$INSTALLED" -eq 1 ]; then
	if ! HM_LOAD=$(command -v hm-load) || ! HM_STAT=$(command -v hm-stat); then
		die "--installed: no hm-load and hm-stat in PATH ($PATH)"
	fi
fi

if [ "${DOWN:-0}" -eq 1 ]; then
	say "removing the lab $P"
	teardown
	exit 0
fi

if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf
fi
for tool in hm-load hm-stat httpmon.o; do
	if [ "$INSTALLED" -eq 0 ] && [ ! -e "$BUILD/$tool" ]; then
		say "build/$tool is missing: running make"
		make -C "$ROOT"
		break
	fi
done

hm_lab_cleanup_stale
if [ -e "/run/netns/${P}h" ]; then
	die "a lab is already running (left by --keep?): remove it with scripts/lab.sh --down"
fi

TMP=$(mktemp -d /tmp/httpmon-lab.XXXXXX)
DONE=0
on_exit() {
	local rc=$?
	if [ "$DONE" -eq 0 ] || [ "$KEEP" -eq 0 ]; then
		[ "$DONE" -eq 1 ] || say "stopping: tearing the lab down"
		teardown
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

H4=$(hm_host_ip "$P" 4)
say "network: namespace ${P}h with bridge $BR ($H4/24, $(hm_host_ip "$P" 6)/64)," \
	"clients ${P}c1 ($(hm_client_ip "$P" 1)) and ${P}c2 ($(hm_client_ip "$P" 2))"
owner=$$
[ "$KEEP" -eq 1 ] && owner=keep
hm_lab_up "$P" 2 "$owner"

say "origin: tests/lib/origin.py on $H4:8080 and $H4:8888"
ORIGIN_LOG=$HM_LAB_RUN/$P.origin.log
setsid ip netns exec "${P}h" python3 "$ROOT/tests/lib/origin.py" \
	--listen "$H4:8080" --listen "$H4:8888" >"$ORIGIN_LOG" 2>&1 </dev/null &
hm_wait_line "$ORIGIN_LOG" ready 10 || die "origin did not start: $(cat "$ORIGIN_LOG")"

say "monitor: $HM_LOAD $BR --pin-path $PIN (in ${P}h)"
hm_in_host "$P" "$HM_LOAD" "$BR" --pin-path "$PIN" || die "hm-load failed"

say "traffic: $REQUESTS requests from each client over 4 connections to ports 8080 and 8888"
pids=()
for i in 1 2; do
	hm_in_client "$P" "$i" timeout 120 python3 "$ROOT/tests/lib/client.py" \
		--target "$H4:8080,$H4:8888" --requests "$REQUESTS" --connections 4 \
		--max-seconds 100 --out "$TMP/c$i.json" 2>"$TMP/c$i.err" &
	pids+=($!)
done
for i in 1 2; do
	wait "${pids[$((i - 1))]}" || die "client $i failed: $(cat "$TMP/c$i.err")"
done
sleep 0.3

rc=0
say "$HM_STAT --pin-path $PIN"
"$HM_STAT" --pin-path "$PIN" || rc=1
say "$HM_STAT --pin-path $PIN --by port"
"$HM_STAT" --pin-path "$PIN" --by port || rc=1
say "what the clients measured themselves (ground truth), by client"
python3 "$ROOT/tests/lib/compare.py" table --by client --expected "$TMP"/c*.json
say "ground truth by port"
python3 "$ROOT/tests/lib/compare.py" table --by port --expected "$TMP"/c*.json
if "$HM_STAT" --pin-path "$PIN" --json >"$TMP/stat.json" &&
	out=$(python3 "$ROOT/tests/lib/compare.py" check --by port,client --actual "$TMP/stat.json" \
		--min-samples 1000000000 --expected "$TMP"/c*.json 2>&1); then
	# (the clients' latency holds their own wake-ups: only "never above it" is checked)
	say "hm-stat equals the clients' own counts: requests, responses, status classes, bytes"
else
	say "hm-stat differs from the clients' own counts:"
	printf '%s\n' "$out"
	rc=1
fi

DONE=1
if [ "$KEEP" -eq 1 ]; then
	cat <<EOF

The lab is still running.  Look at it with:
  $HM_STAT --pin-path $PIN [--by port|port,client] [--json]
  ip netns exec ${P}c1 python3 $ROOT/tests/lib/client.py --target $H4:8080 --requests 100 --connections 2
  nsenter --net=/run/netns/${P}h tc filter show dev $BR ingress
Remove it with:
  $ROOT/scripts/lab.sh --down
EOF
else
	say "teardown: detaching, removing $PIN and the namespaces"
fi
exit "$rc"
