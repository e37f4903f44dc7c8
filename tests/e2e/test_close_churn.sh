#!/usr/bin/env bash
# test_close_churn.sh - end to end: connection state always ends - under
# Connection: close churn from a real load generator, and through the idle
# sweep after hm-load runs again.
#
# The lab (tests/lib/netns.sh) with two client namespaces; in the host
# namespace Debian's nginx on port 80 (a static file) and
# tests/lib/origin.py on 8080; hm-load on the bridge with --idle-timeout 300,
# so only FIN and RST can free state during part 1.
#
# 1. close churn: three runs (HM_CHURN_RUNS) of `wrk -t1 -c5 -d5 -H
#    'Connection: close'` against nginx with a worker per CPU (nginx closes
#    after each answer, wrk closes too: the FINs often cross, and the two
#    FINs of a connection may be handled at the same moment on two CPUs),
#    then one keep-alive run (-c5 -d3) whose connections wrk ends.
#    After each run and a 2 s settle, monitor.conns_live is back to its
#    value before the run (0 on the fresh map set), well before the idle
#    timeout, and conns_opened grew as much as conns_closed (conns_aged by
#    nothing).
# 2. sweep: client 2 sends /delay/60000 on a keep-alive connection (an answer
#    that does not come); once it is on the wire, `hm-load BR --idle-timeout
#    1` runs again on the same interface.  With no further traffic and no new
#    connection, within 3 s of that the request is counted unanswered:
#    monitor.idle_unanswered +1 and client 2's row unanswered 1.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"
# shellcheck source=tests/lib/nginx.sh
. "$HM_LIB/nginx.sh"
# shellcheck source=tests/lib/rows.sh
. "$HM_LIB/rows.sh"

hm_require_cmds nsenter python3 jq nginx wrk timeout
hm_require_build httpmon.o hm-load hm-stat
hm_e2e_init cc churn
HANG_PID=

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	[ -n "$HANG_PID" ] && kill -KILL "$HANG_PID" 2>/dev/null
	hm_nginx_down "$TMP/nginx"
}

hm_lab_start "$P" 2 "$TMP/lab.log"
hm_blackhole_add "$P" || hm_not_ok "blackhole route for the lab's addresses in the root namespace"
H=$(hm_host_ip "$P" 4)
C2=$(hm_client_ip "$P" 2)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 41 --max-delay-ms 1 --listen "$H:8080"
if HM_NGINX_WORKERS=auto hm_nginx_up "${P}h" "$TMP/nginx" "server { listen $H:80 backlog=1024; root $TMP/nginx/www; keepalive_requests 100000; }" &&
	printf 'ok\n' >"$TMP/nginx/www/small.txt" && hm_wait_port "$P" "$H" 80 10; then
	hm_ok "nginx serves $H:80"
else
	hm_not_ok "nginx starts" "$(cat "$TMP/nginx/nginx.err" "$TMP/nginx/logs/error.log" 2>/dev/null)"
	hm_done
fi
hm_monitor_up "$P" "$BR" "$PIN" --idle-timeout 300

snap() { "$HM_BUILD/hm-stat" --pin-path "$PIN" --json >"$1" 2>"$TMP/stat.err"; }
d() { echo $(($(hm_mon "$2" "$3") - $(hm_mon "$1" "$3"))); } # d BEFORE AFTER NAME

# ================================================================================
# 1. close churn
# ================================================================================
# run NAME WRK-ARGS...: one wrk run from client 1, then the checks.
run() {
	local name=$1 B=$TMP/$1-before.json A=$TMP/$1-after.json line
	shift
	snap "$B" || { hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"; hm_done; }
	hm_in_client "$P" 1 timeout 30 wrk -t1 -c5 "$@" "http://$H/small.txt" >"$TMP/$name.wrk" 2>&1
	line=$(grep -E 'requests in' "$TMP/$name.wrk" | sed 's/^ *//')
	if [ -n "$line" ]; then
		hm_ok "churn $name: wrk $*: $line$(grep -E 'Socket errors|Non-2xx' "$TMP/$name.wrk" | sed 's/^ */; /' | tr -d '\n') (truth)"
	else
		hm_not_ok "churn $name: wrk $*" "$(cat "$TMP/$name.wrk")"
	fi
	sleep 2
	snap "$A" || { hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"; hm_done; }
	hm_expect "churn $name: 2 s after wrk, conns_live is back to its value before the run" \
		"conns_live $(hm_mon "$A" conns_live)" "conns_live $(hm_mon "$B" conns_live)" \
		"monitor after: $(jq -c '.monitor | with_entries(select(.value != 0))' "$A")"
	hm_expect "churn $name: conns_opened grew as much as conns_closed, nothing aged" \
		"opened +$(d "$B" "$A" conns_opened) closed +$(d "$B" "$A" conns_closed) aged +$(d "$B" "$A" conns_aged)" \
		"opened +$(d "$B" "$A" conns_opened) closed +$(d "$B" "$A" conns_opened) aged +0"
}
snap "$TMP/start.json"
hm_expect "churn: conns_live is 0 on the fresh map set" "$(hm_mon "$TMP/start.json" conns_live)" 0
for ((i = 1; i <= ${HM_CHURN_RUNS:-3}; i++)); do
	run "close$i" -d5 -H 'Connection: close'
done
run keepalive -d3

# ================================================================================
# 2. sweep: the idle sweep runs after hm-load runs again
# ================================================================================
hm_in_client "$P" 2 timeout 45 python3 "$HM_LIB/conn_client.py" keepalive --target "$H:8080" \
	--paths /delay/60000 --timeout 40 --max-seconds 40 --events "$TMP/hang.events" \
	--out "$TMP/hang.json" >"$TMP/hang.log" 2>&1 &
HANG_PID=$!
for ((i = 0; i < 100; i++)); do
	grep -q '^sent ' "$TMP/hang.events" 2>/dev/null && break
	sleep 0.05
done
if grep -q '^sent ' "$TMP/hang.events" 2>/dev/null; then
	hm_ok "sweep: client 2 sent /delay/60000 on a keep-alive connection (an answer that does not come)"
else
	hm_not_ok "sweep: client 2 sent its request" "$(cat "$TMP/hang.log")"
	hm_done
fi
sleep 0.5 # the origin's ACK has passed: from now on the connection is silent
snap "$TMP/s0.json"
S0=$TMP/s0.json
hm_expect "sweep: the request is pending: client 2 requests 1, unanswered 0" \
	"$(hm_row "$S0" clients ip="$C2" | cut -d' ' -f1-6)" "requests 1 responses 0 unanswered 0"
if out=$(hm_in_host "$P" "$HM_BUILD/hm-load" "$BR" --pin-path "$PIN" --idle-timeout 1 2>&1); then
	hm_ok "sweep: hm-load $BR --idle-timeout 1 runs again on the loaded interface"
else
	hm_not_ok "sweep: hm-load $BR --idle-timeout 1 runs again" "$out"
fi
t0=${EPOCHREALTIME/./}
found=
while :; do
	snap "$TMP/s1.json"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	if [ "$(d "$S0" "$TMP/s1.json" idle_unanswered)" = 1 ] &&
		[ "$(hm_row "$TMP/s1.json" clients ip="$C2" | cut -d' ' -f6)" = 1 ]; then
		found=$ms
		break
	fi
	[ "$ms" -gt 3000 ] && break
	sleep 0.1
done
S1=$TMP/s1.json
hm_expect "sweep: no segment with payload crossed the monitor meanwhile, no new connection (truth)" \
	"segments +$(d "$S0" "$S1" segments) conns_opened +$(d "$S0" "$S1" conns_opened)" "segments +0 conns_opened +0"
if [ -n "$found" ]; then
	hm_ok "sweep: ${found} ms after hm-load ran again, with no traffic, the hung request is unanswered (idle_unanswered +1, client 2 unanswered 1)"
else
	hm_not_ok "sweep: within 3 s after hm-load ran again, with no traffic, the hung request is unanswered (idle_unanswered +1, client 2 unanswered 1)" \
		"after ${ms} ms: idle_unanswered +$(d "$S0" "$S1" idle_unanswered), conns_aged +$(d "$S0" "$S1" conns_aged), client 2: $(hm_row "$S1" clients ip="$C2" | cut -d' ' -f1-6), conns_live $(hm_mon "$S1" conns_live)"
fi
kill -KILL "$HANG_PID" 2>/dev/null
{ wait "$HANG_PID"; } 2>/dev/null
HANG_PID=

hm_done
