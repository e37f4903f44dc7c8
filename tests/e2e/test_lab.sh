#!/usr/bin/env bash
# test_lab.sh - end to end: the monitor on a bridge against the clients'
# ground truth.
#
# The seed's setup in namespaces (tests/lib/netns.sh): origin.py serves ports
# 8080 and 8888 on the host namespace's bridge (IPv4 and IPv6), hm-load
# attaches to the bridge with its own pin dir /sys/fs/bpf/hmtest-<pid>, and
# two clients send keep-alive, Connection: close, pipelined and IPv6 traffic
# to both ports.  hm-stat --json must then equal what client.py saw, exactly
# for requests, responses, status classes, unanswered (0) and bytes, per
# client, per port and per (port, client); the pinned maps read with bpftool
# must too.  Average latency must be within 15% of the client's average (the
# client's clock also covers the veth hops and its own wake-up, so it reads
# a little more than the bridge).  Then hm-reset must zero everything,
# counting must resume from zero, and hm-load --detach must leave nothing
# behind.
#
# Detach: hm-load created clsact on the fresh bridge, and no other program
# uses the maps, so --detach must remove the filters, the qdisc and the
# pinned maps (hm-load --help).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat hm-reset
hm_e2e_init la lab
H4=
H6=

# -- lab, origin, monitor -----------------------------------------------------
hm_lab_start "$P" 2 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
H6=$(hm_host_ip "$P" 6)

hm_origin_up "${P}h" "$TMP/origin.out" --seed 42 --min-delay-ms 10 --max-delay-ms 20 \
	--listen "$H4:8080" --listen "$H4:8888" --listen "[$H6]:8080" --listen "[$H6]:8888" \
	--stats "$TMP/origin.json"

hm_monitor_up "$P" "$BR" "$PIN"
for dir in ingress egress; do
	if hm_in_host "$P" tc filter show dev "$BR" "$dir" | grep -q bpf; then
		hm_ok "a bpf filter is on $BR $dir"
	else
		hm_not_ok "a bpf filter is on $BR $dir" "$(hm_in_host "$P" tc filter show dev "$BR" "$dir" 2>&1)"
	fi
done

# -- traffic ------------------------------------------------------------------
# Paths mix the seed's random handler (500 when divisible by 5) with fixed
# answers: a delay, 404, 302, and a 20000-byte body that the bridge sends as
# a GSO super-packet.  Every answer takes the server at least 10 ms
# (--min-delay-ms, ?delay=): the client's own share of what it measures
# (its wake-up, Python, the veth hop) was 0.1-0.3 ms on an idle 2-core
# machine and up to 2 ms with a busy core, so 10 ms keeps the monitor's
# averages inside the 15% window even then.
PATHS='/,/delay/10,/status/404?delay=10,/,/bytes/20000?delay=10,/status/302?delay=10,/'


T4="$H4:8080,$H4:8888"
T6="[$H6]:8080,[$H6]:8888"
# Two waves of two client processes each (one per client namespace): more
# processes than cores would add the clients' scheduling delays to what they
# measure.
hm_run_clients "$P" r1 \
	"c1-keepalive:1:--target $T4 --requests 200 --connections 4 --paths $PATHS" \
	"c2-pipelined:2:--target $T4 --requests 160 --connections 2 --pipeline 4 --paths $PATHS"
hm_run_clients "$P" r1 \
	"c1-close:1:--target $T4 --requests 40 --connections 2 --close --paths $PATHS" \
	"c2-ipv6:2:--target $T6 --requests 80 --connections 2 --pipeline 2 --paths $PATHS"
R1=("$TMP"/r1-*.json)
sleep 0.5 # let the last FINs pass the bridge

# -- hm-stat and the maps against the ground truth ------------------------------
# check_stat NAME BY COMPARE-ARGS...: hm-stat --json --by BY vs the clients.
check_stat() {
	local name=$1 by=$2 out
	shift 2
	if ! "$HM_BUILD/hm-stat" --pin-path "$PIN" --json --by "$by" >"$TMP/stat.json" 2>"$TMP/stat.err"; then
		hm_not_ok "$name (hm-stat --by $by failed)" "$(cat "$TMP/stat.err")"
		return
	fi
	if out=$(python3 "$HM_LIB/compare.py" check --by "$by" --actual "$TMP/stat.json" "$@" 2>&1); then
		hm_ok "$name"
		hm_note "  $out"
	else
		hm_not_ok "$name" "$out" "hm-stat said: $(head -c 2000 "$TMP/stat.json")"
	fi
}

check_stat "hm-stat by client equals the clients' ground truth" client --expected "${R1[@]}"
check_stat "hm-stat by port equals the clients' ground truth" port --expected "${R1[@]}"
check_stat "hm-stat by port,client equals the clients' ground truth" port,client --expected "${R1[@]}"
hm_check "pinned maps (bpftool, BTF) equal the ground truth, overflow rows zero" \
	python3 "$HM_LIB/compare.py" maps --pin-dir "$PIN" --expected "${R1[@]}"
if out=$("$HM_BUILD/hm-stat" --pin-path "$PIN" 2>&1) && grep -qF "$(hm_client_ip "$P" 1)" <<<"$out"; then
	hm_ok "hm-stat table output names the clients"
else
	hm_not_ok "hm-stat table output names the clients" "$out"
fi

# -- reset --------------------------------------------------------------------
hm_check "hm-reset --pin-path" "$HM_BUILD/hm-reset" --pin-path "$PIN"
for by in client port port,client; do
	check_stat "after hm-reset, rows by $by are zero or gone" "$by" --zero --expected "${R1[@]}"
done
hm_check "after hm-reset, the pinned maps are zero" \
	python3 "$HM_LIB/compare.py" maps --zero --pin-dir "$PIN" --expected "${R1[@]}"

hm_run_clients "$P" r2 "c1-again:1:--target $T4 --requests 30 --connections 2 --paths $PATHS"
R2=("$TMP"/r2-*.json)
sleep 0.5
check_stat "after hm-reset, counting starts again from zero" port,client --expected "${R2[@]}"

# -- detach -------------------------------------------------------------------
if out=$(hm_in_host "$P" "$HM_BUILD/hm-load" --detach "$BR" --pin-path "$PIN" 2>&1); then
	ATTACHED=0
	hm_ok "hm-load --detach $BR"
else
	hm_not_ok "hm-load --detach $BR" "$out"
fi
for dir in ingress egress; do
	left=$(hm_in_host "$P" tc filter show dev "$BR" "$dir" 2>&1)
	if [ -z "$left" ]; then
		hm_ok "no filter left on $BR $dir"
	else
		hm_not_ok "no filter left on $BR $dir" "$left"
	fi
done
# hm-load created clsact on the fresh bridge, so --detach removes it too.
if hm_in_host "$P" tc qdisc show dev "$BR" | grep -q clsact; then
	hm_not_ok "the clsact qdisc hm-load created is gone after --detach" \
		"$(hm_in_host "$P" tc qdisc show dev "$BR")"
else
	hm_ok "the clsact qdisc hm-load created is gone after --detach"
fi
# No program uses the maps any more, so --detach unpins them.
left=$(ls -A "$PIN" 2>/dev/null)
if [ -z "$left" ]; then
	hm_ok "--detach removed the pinned maps from $PIN"
else
	hm_not_ok "--detach removed the pinned maps from $PIN" "left: $left"
fi

# -- the harness itself: the origin's own counts agree with the clients ---------
kill -TERM "$ORIGIN_PID" 2>/dev/null
wait "$ORIGIN_PID" 2>/dev/null
hm_check "origin's byte and status counts equal the clients' (harness self-check)" \
	python3 "$HM_LIB/compare.py" origin --origin "$TMP/origin.json" --expected "${R1[@]}" "${R2[@]}"

hm_done
