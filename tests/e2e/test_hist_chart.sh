#!/usr/bin/env bash
# test_hist_chart.sh - end to end: hm-stat --hist against the clients' own
# latencies.
#
# A lab (tests/lib/netns.sh, namespaces hm-fh<pid>*, 10.231.242.0/24 with a
# blackhole route for it in the root namespace while the test runs) with the
# origin on ports 8080 and 8888 and hm-load on the bridge (pins in
# /sys/fs/bpf/hm-fh<pid>).  Two clients (latency_client.py) send a fixed mix
# of delays on every connection: 70% /fast?delay=22, 25% /medium?delay=90,
# 5% /slow?delay=300.  With one row per power of two, p50 falls in the
# 16.8-33.6 ms row, p90 in 67.1-134.2 ms and p99 in 268-537 ms, each far from
# its row's edges (the origin's and the client's own overheads add 0.5 ms to
# a few ms to a delay on a busy machine), so the clients' own percentiles
# (whose clock holds the monitor's) must lie in the rows the chart marks.  Checked
# (tests/lib/chart_compare.py):
#   - hm-stat --hist --buckets 1: every response; --hist --by port: one
#     chart per port; --hist --by route: one per route: the rows add up to
#     the responses the clients got, and the rows marked p50, p90 and p99
#     hold the clients' own percentiles (per route: p50);
#   - --buckets 4 and 16 (the default and the kernel's resolution), and
#     --latency last: the rows still add up exactly;
#   - --hist 8888 and --hist 'GET /slow' draw just that port and route, and
#     --top 1 one chart.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
. "$HM_LIB/fleet.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat

export HM_LAB_NET=242
hm_e2e_init fh hist

hm_lab_start "$P" 2 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
hm_origin_up "${P}h" "$TMP/origin.out" --listen "$H4:8080" --listen "$H4:8888" --max-delay-ms 0
hm_monitor_up "$P" "$BR" "$PIN"

# 20 paths in turn on every connection; each connection sends a multiple of 20.
PATHS=$(python3 -c 'print(",".join(["/fast?delay=22"] * 14 + ["/medium?delay=90"] * 5 + ["/slow?delay=300"]))')
pids=()
for i in 1 2; do
	hm_in_client "$P" "$i" timeout 90 python3 "$HM_LIB/latency_client.py" \
		--target "$H4:8080,$H4:8888" --requests 400 --connections 4 --paths "$PATHS" \
		--max-seconds 60 --out "$TMP/c$i.json" >"$TMP/c$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2; do
	if wait "${pids[$((i - 1))]}"; then
		hm_ok "client $i: $(jq -r '"\(.total.responses) responses in \(.elapsed_s) s"' "$TMP/c$i.json")"
	else
		hm_not_ok "client $i" "$(cat "$TMP/c$i.log")"
	fi
done
sleep 0.5 # the last segments pass the bridge
C=("$TMP"/c1.json "$TMP"/c2.json)

# chart NAME COMPARE-ARGS -- HM-STAT-ARGS...: draws, then compares.
chart() {
	local name=$1 cmp=() out
	shift
	while [ "$1" != -- ]; do cmp+=("$1"); shift; done
	shift
	if ! "$HM_BUILD/hm-stat" --pin-path "$PIN" --hist "$@" >"$TMP/chart.txt" 2>"$TMP/err"; then
		hm_not_ok "$name" "hm-stat --hist $* failed: $(cat "$TMP/err")"
		return
	fi
	if out=$(python3 "$HM_LIB/chart_compare.py" --chart "$TMP/chart.txt" --expected "${C[@]}" \
		"${cmp[@]}" 2>&1); then
		hm_ok "$name"
		grep -E ' p(50|99):' <<<"$out" | head -2 | sed 's/^/#   /'
	else
		hm_not_ok "$name" "$(grep -v '^ok' <<<"$out")" "$(cat "$TMP/chart.txt")"
	fi
}

chart "--hist --buckets 1 (every response): rows add up, p50/p90/p99 marks hold the clients' own" \
	--charts 1 -- --buckets 1
sed -n '2,$p' "$TMP/chart.txt" | sed 's/^/#   /'
chart "--hist --by port --buckets 1: per port, rows add up, marks hold the clients' percentiles" \
	--charts 2 -- --by port --buckets 1
chart "--hist --by route --buckets 1: per route, rows add up, p50 holds the clients' p50" \
	--charts 3 --marks p50 -- --by route --buckets 1
chart "--hist (4 rows per power of two): the rows add up to the responses" \
	--charts 1 --marks "" --
chart "--hist --by port --buckets 16 (the kernel's resolution): the rows add up" \
	--charts 2 --marks "" -- --by port --buckets 16
chart "--hist --by route --latency last: the rows add up" \
	--charts 3 --marks "" --family last -- --by route --latency last
chart "--hist 8888 --buckets 1: that port alone, its marks hold the clients' percentiles" \
	--charts 1 -- 8888 --buckets 1
if grep -q '^port 8888: ' "$TMP/chart.txt"; then
	hm_ok "--hist 8888 titles its chart port 8888"
else
	hm_not_ok "--hist 8888 titles its chart port 8888" "$(cat "$TMP/chart.txt")"
fi
chart "--hist 'GET /slow' --buckets 1: that route alone" --charts 1 -- 'GET /slow' --buckets 1
if grep -q '^route GET /slow: ' "$TMP/chart.txt"; then
	hm_ok "--hist 'GET /slow' titles its chart route GET /slow"
else
	hm_not_ok "--hist 'GET /slow' titles its chart route GET /slow" "$(cat "$TMP/chart.txt")"
fi
chart "--hist --by route --top 1: one chart, the busiest route (/fast)" --charts 1 --marks p50 \
	-- --by route --top 1 --buckets 1
if grep -q '^route GET /fast: ' "$TMP/chart.txt"; then
	hm_ok "--hist --by route --top 1 draws /fast, the route with most requests"
else
	hm_not_ok "--hist --by route --top 1 draws /fast" "$(cat "$TMP/chart.txt")"
fi
"$HM_BUILD/hm-stat" --pin-path "$PIN" --hist 9999 >"$TMP/none.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^port 9999: no traffic seen$' "$TMP/none.txt"; then
	hm_ok "--hist 9999 (no traffic there) says so, exit 0"
else
	hm_not_ok "--hist 9999 (no traffic there) says so, exit 0" "exit $rc" "$(cat "$TMP/none.txt")"
fi

hm_done
