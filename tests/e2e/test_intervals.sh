#!/usr/bin/env bash
# test_intervals.sh - end to end: exact intervals under saturation.
#
# The lab (tests/lib/netns.sh) with four client namespaces; the origin on
# 8080 and 8888 (0-1 ms per answer); hm-load on the bridge with fresh pins.
# tests/lib/client.py clients record every request, response and byte they
# completed; --duration makes them stop sending and finish what is in
# flight, so every request is answered.  The checks are tests/lib/intervals.py.
#
# 1. hm-stat --reset: clients 1-3 saturate the origin for HM_INTERVALS_SECONDS
#    (default 50): GETs on 8 keep-alive connections, POSTs pipelined 2 deep
#    on 6, and a new connection per request on 4; statuses 2xx-5xx, bodies
#    across segments.  Every second `hm-stat --reset --json` reads and clears
#    one interval (all views in one snapshot); after the clients end, one
#    final interval.
#    - intervals: consistent: in every snapshot the client, port,
#      port/client and interface rows each sum to the total, the route rows'
#      requests to the total's requests;
#    - intervals: histograms: in every snapshot the first-byte histograms
#      (total; ports plus ports_other; each route) hold one sample per
#      timed response;
#    - intervals: exact: the intervals summed equal the clients' totals
#      exactly - requests, responses, status classes, bytes in and out, in
#      total, per client, per port and over the route rows; none
#      unanswered; the first- and last-byte histograms hold one sample per
#      response;
#    - intervals: connections: conns_opened and conns_closed summed equal the
#      connections the clients opened; no orphan, gap or retransmission.
# 2. hm-reset: clients 1 and 2 saturate for 12 s; every second an interval is
#    read with hm-stat --reset, and twice (at 3 s and 7 s) `hm-reset` runs
#    instead, under the traffic; client 4 starts after the second hm-reset.
#    - intervals (hm-reset): consistent and histograms as above, for every
#      snapshot after a reset under traffic;
#    - intervals (hm-reset): subset: the intervals hold exactly the traffic of
#      client 4, which began after the last hm-reset, and never more than
#      clients 1 and 2 sent (what hm-reset removed is gone, nothing is
#      counted twice).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat hm-reset
hm_e2e_init in intervals
DUR=${HM_INTERVALS_SECONDS:-50}
DUR_B=12

hm_lab_start "$P" 4 "$TMP/lab.log"
hm_blackhole_add "$P" || hm_not_ok "blackhole route for the lab's addresses in the root namespace"
H=$(hm_host_ip "$P" 4)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 47 --max-delay-ms 1 \
	--listen "$H:8080" --listen "$H:8888"
hm_monitor_up "$P" "$BR" "$PIN"

T="$H:8080,$H:8888"
PATHS='/,/status/404,/bytes/3000,/status/302,/?n=1,/bytes/200'
# client NAME I SECONDS ARGS...: client.py in client namespace I for SECONDS
# (then it finishes what is in flight), in the background.
declare -A PIDS
client() {
	local name=$1 i=$2 secs=$3
	shift 3
	hm_in_client "$P" "$i" timeout $((secs + 60)) python3 "$HM_LIB/client.py" --target "$T" \
		--requests 10000000 --duration "$secs" --max-seconds $((secs + 40)) --timeout 20 \
		--paths "$PATHS" "$@" --out "$TMP/$name.json" >"$TMP/$name.log" 2>&1 &
	PIDS[$name]=$!
	BG_PIDS+=($!)
}
reap() {
	local name rc
	for name in "$@"; do
		wait "${PIDS[$name]}"
		rc=$?
		if [ "$rc" -eq 0 ] && [ -s "$TMP/$name.json" ]; then
			hm_ok "traffic $name: $(jq -r '"\(.total.requests) requests, \(.total.responses) responses, \(.connections) connections, \(.total.bytes_in) bytes in, \(.total.bytes_out) out in \(.elapsed_s) s"' "$TMP/$name.json")"
		else
			hm_not_ok "traffic $name (exit $rc)" "$(cat "$TMP/$name.log")"
		fi
	done
}
alive() {
	local name
	for name in "$@"; do kill -0 "${PIDS[$name]}" 2>/dev/null && return 0; done
	return 1
}
# interval FILE: one hm-stat --reset --json snapshot.
NSNAP=0
interval() {
	if "$HM_BUILD/hm-stat" --pin-path "$PIN" --reset --json >"$1" 2>"$TMP/stat.err"; then
		NSNAP=$((NSNAP + 1))
	else
		hm_not_ok "hm-stat --reset --json" "$(cat "$TMP/stat.err")"
		hm_done
	fi
}
# tick N: sleeps until N seconds after T0.
tick() {
	local now=${EPOCHREALTIME/./} due=$((T0 + $1 * 1000000))
	[ "$now" -lt "$due" ] && sleep "$(printf '%d.%06d' $(((due - now) / 1000000)) $(((due - now) % 1000000)))"
}
settle() { # until the monitor holds no connection state (5 s at most)
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$("$HM_BUILD/hm-stat" --pin-path "$PIN" --json 2>/dev/null | jq -r .monitor.conns_live)" = 0 ] &&
			return 0
		sleep 0.1
	done
	return 1
}
# judge NAME-PREFIX: intervals.py's JSON lines on stdin as ok / not ok lines
# (stdin from a process substitution: the counts must stay in this shell).
# A line that is no JSON (a traceback) is a failure.
judge() {
	local prefix=$1 line n=0
	while read -r line; do
		n=$((n + 1))
		if ! jq -e . >/dev/null 2>&1 <<<"$line"; then
			hm_not_ok "$prefix: intervals.py" "$line"
			continue
		fi
		if [ "$(jq -r .ok <<<"$line")" = true ]; then
			hm_ok "$prefix: $(jq -r .check <<<"$line"): $(jq -r '.detail[0]' <<<"$line")"
		else
			hm_not_ok "$prefix: $(jq -r .check <<<"$line")" "$(jq -r '.detail[]' <<<"$line")"
		fi
	done
	[ "$n" -gt 0 ] || hm_not_ok "$prefix: intervals.py printed nothing"
}

# ================================================================================
# 1. hm-stat --reset every second under saturation
# ================================================================================
interval "$TMP/a-start.json" # empty: the map set is fresh
T0=${EPOCHREALTIME/./}
client c1 1 "$DUR" --connections 8
client c2 2 "$DUR" --connections 6 --pipeline 2 --method POST --body-bytes 2000
client c3 3 "$DUR" --connections 4 --close
snaps=()
for ((k = 1; k <= DUR + 30; k++)); do
	tick "$k"
	alive c1 c2 c3 || break
	f=$(printf '%s/a-%03d.json' "$TMP" "$k")
	interval "$f"
	snaps+=("$f")
done
reap c1 c2 c3
settle || hm_note "connection state still held 5 s after the clients ended"
interval "$TMP/a-final.json"
snaps+=("$TMP/a-final.json")
hm_note "$NSNAP intervals read; the final one: $(jq -c '.total | {requests, responses, bytes_in, bytes_out}' "$TMP/a-final.json")"
judge intervals < <(python3 "$HM_LIB/intervals.py" --snapshots "${snaps[@]}" \
	--expected "$TMP/c1.json" "$TMP/c2.json" "$TMP/c3.json" 2>&1)

# ================================================================================
# 2. hm-reset under traffic
# ================================================================================
interval "$TMP/b-start.json"
T0=${EPOCHREALTIME/./}
client d1 1 "$DUR_B" --connections 8
client d2 2 "$DUR_B" --connections 4 --close
all=()
for ((k = 1; k <= DUR_B + 30; k++)); do
	tick "$k"
	[ "$k" -gt 8 ] && ! alive d1 d2 d4 && break
	f=$(printf '%s/b-%03d.json' "$TMP" "$k")
	if [ "$k" -eq 3 ] || [ "$k" -eq 7 ]; then
		"$HM_BUILD/hm-reset" --pin-path "$PIN" >"$TMP/reset.out" 2>&1 ||
			hm_not_ok "hm-reset under traffic" "$(cat "$TMP/reset.out")"
		[ "$k" -eq 7 ] && client d4 4 3 --connections 3
		continue
	fi
	interval "$f"
	all+=("$f")
done
reap d1 d2 d4
settle || hm_note "connection state still held 5 s after the clients ended"
interval "$TMP/b-final.json"
all+=("$TMP/b-final.json")
judge "intervals (hm-reset)" < <(python3 "$HM_LIB/intervals.py" --snapshots "${all[@]}" \
	--subset-expected "$TMP/d4.json" --within "$TMP/d1.json" "$TMP/d2.json" 2>&1)

hm_done
