#!/usr/bin/env bash
# test_plain_tc.sh - the iproute2-only path: no hm-load at all.
#
# In the lab's host namespace, plain tc attaches build/httpmon.o to the
# bridge (clsact, ingress and egress).  tc pins the maps by name in its
# default directory /sys/fs/bpf/tc/globals, and `hm-stat --json` with no
# flags must find them there and equal the clients' ground truth; bpftool
# must show the maps with BTF (field names such as "requests").
#
# This test owns the hm_* pins in /sys/fs/bpf/tc/globals: it removes any it
# finds at start (left by a crashed run) and at the end, and touches nothing
# else there.  Do not run it while a monitor attached with the default pin
# directory is in use on this machine.  Two test suites running at once
# take turns: the test holds an exclusive flock on
# /run/httpmon-tc-globals.lock from before it touches the directory until it
# exits.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout
hm_require_build httpmon.o hm-stat
hm_e2e_init tc tc # PIN goes unused: plain tc pins in its globals directory

GLOBALS=/sys/fs/bpf/tc/globals
GLOBALS_LOCK=/run/httpmon-tc-globals.lock
LOCKED=0

remove_pins() {
	local f
	for f in "$GLOBALS"/hm_*; do
		[ -e "$f" ] && rm -f "$f"
	done
}

# shellcheck disable=SC2317 # called by hm_e2e_cleanup, which then takes the lab down
e2e_cleanup() {
	hm_in_host "$P" tc filter del dev "$BR" ingress 2>/dev/null
	hm_in_host "$P" tc filter del dev "$BR" egress 2>/dev/null
	hm_in_host "$P" tc qdisc del dev "$BR" clsact 2>/dev/null
	[ "$LOCKED" -eq 1 ] && remove_pins # another run's, while it holds the lock
	return 0
}

if ! hm_lock_exclusive "$GLOBALS_LOCK" 600; then
	hm_not_ok "exclusive lock on $GLOBALS_LOCK (another suite held it for 600 s)"
	hm_done
fi
LOCKED=1
stale=$(cd "$GLOBALS" 2>/dev/null && ls -d hm_* 2>/dev/null | tr '\n' ' ')
[ -n "$stale" ] && hm_note "removing hm_* pins left in $GLOBALS: $stale"
remove_pins

hm_lab_start "$P" 1 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)

hm_origin_up "${P}h" "$TMP/origin.out" --seed 7 --min-delay-ms 10 --max-delay-ms 20 \
	--listen "$H4:8080" --listen "$H4:8888"

# The README's iproute2 recipe, verbatim apart from the device.
hm_check "tc qdisc add dev $BR clsact" hm_in_host "$P" tc qdisc add dev "$BR" clsact || hm_done
for dir in ingress egress; do
	hm_check "tc filter add dev $BR $dir bpf da obj build/httpmon.o sec tc/$dir" \
		hm_in_host "$P" tc filter add dev "$BR" "$dir" bpf da obj "$HM_BUILD/httpmon.o" sec "tc/$dir" ||
		hm_done
done
missing=
for m in hm_config hm_conns hm_row_ids hm_clients hm_ports hm_port_clients hm_ifaces hm_monitor \
	hm_hist hm_routes hm_route_ids hm_seq hm_method_ids; do
	[ -e "$GLOBALS/$m" ] || missing="$missing $m"
done
if [ -z "$missing" ]; then
	hm_ok "tc pinned every map in $GLOBALS"
else
	hm_not_ok "tc pinned every map in $GLOBALS" "missing:$missing" "$(ls "$GLOBALS")"
fi

# at least 10 ms per answer, so the latency window holds (see test_lab.sh)
paths='/,/delay/10,/status/404?delay=10,/bytes/5000?delay=10,/'
if hm_in_client "$P" 1 timeout 90 python3 "$HM_LIB/client.py" --target "$H4:8080,$H4:8888" \
	--requests 120 --connections 4 --pipeline 2 --paths "$paths" --max-seconds 60 \
	--out "$TMP/c1.json" >"$TMP/c1.log" 2>&1; then
	hm_ok "traffic: $(jq -r '"\(.total.requests) requests, \(.total.responses) responses"' "$TMP/c1.json")"
else
	hm_not_ok "traffic" "$(cat "$TMP/c1.log")"
	hm_done
fi
sleep 0.5

if "$HM_BUILD/hm-stat" --json >"$TMP/stat.json" 2>"$TMP/stat.err"; then
	hm_ok "hm-stat --json with no flags finds the maps tc pinned"
	hm_check "hm-stat --json (no flags) equals the client's ground truth" \
		python3 "$HM_LIB/compare.py" check --by auto --actual "$TMP/stat.json" --expected "$TMP/c1.json"
else
	hm_not_ok "hm-stat --json with no flags finds the maps tc pinned" "$(cat "$TMP/stat.err")"
fi
if "$HM_BUILD/hm-stat" --json --by port >"$TMP/stat-port.json" 2>"$TMP/stat.err"; then
	hm_check "hm-stat --json --by port (no pin flag) equals the ground truth" \
		python3 "$HM_LIB/compare.py" check --by port --actual "$TMP/stat-port.json" --expected "$TMP/c1.json"
else
	hm_not_ok "hm-stat --json --by port" "$(cat "$TMP/stat.err")"
fi

# The client rows as bpftool shows them (hm_row_ids names them, hm_clients holds them).
if dump=$(python3 "$HM_LIB/compare.py" rows --pin-dir "$GLOBALS" --kind client 2>&1) &&
	jq -e '[.[] | select(.key != null)][0] | (.values[0].value | has("requests") and
		has("bytes_out") and has("lat")) and (.key.addr.a | length == 16) and has("key")' \
		<<<"$dump" >/dev/null 2>&1; then
	hm_ok "bpftool shows hm_row_ids and hm_clients with BTF field names"
else
	hm_not_ok "bpftool shows hm_row_ids and hm_clients with BTF field names" "$(head -c 1500 <<<"$dump")"
fi
hm_check "pinned maps (bpftool) equal the ground truth" \
	python3 "$HM_LIB/compare.py" maps --pin-dir "$GLOBALS" --expected "$TMP/c1.json"

# -- cleanup, checked -----------------------------------------------------------
for dir in ingress egress; do
	hm_in_host "$P" tc filter del dev "$BR" "$dir"
done
hm_in_host "$P" tc qdisc del dev "$BR" clsact
if [ -z "$(hm_in_host "$P" tc filter show dev "$BR" ingress)$(hm_in_host "$P" tc filter show dev "$BR" egress)" ] &&
	! hm_in_host "$P" tc qdisc show dev "$BR" | grep -q clsact; then
	hm_ok "filters and clsact removed from $BR"
else
	hm_not_ok "filters and clsact removed from $BR"
fi
hm_done
