#!/usr/bin/env bash
# test_bench_smoke.sh - the benchmark runs, end to end, in a couple of seconds.
#
# `scripts/bench.sh --smoke` (one pair of 2 s rounds, keepalive only, one
# BPF cost round, no profile, 2000 test_run exchanges) must exit 0, print
# its table, and write a JSON file whose figures are all there: requests/s
# of the base, empty and tc rounds of the pair, the ratios tc / none, tc /
# empty and empty / none, ns per program run of httpmon and of the empty
# program, the test_run microbenchmark of httpmon, the floor and the empty
# program, and the accuracy check of every monitored round (nothing wrk
# counted is missing from hm-stat; hm-stat's extra requests are at most the
# connections, the requests still in flight when wrk stopped).  No timing
# is asserted: a loaded CI machine gives any figure.  While it runs, the
# lab's /24 is blackholed in the root namespace; afterwards no namespace,
# pin, route or bpf_stats setting of the run is left behind.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nginx wrk clang gcc make nsenter tc bpftool jq python3 timeout
hm_require_build httpmon.o hm-load hm-stat
# No lab of its own: scripts/bench.sh builds its labs; PIN goes unused.
hm_e2e_init bs bench
pid=
# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	return 0
}
JSON=$TMP/bench.json
NET=${HM_BENCH_NET:-10.231.240}

blackholes() { ip -4 route show type blackhole "$NET.0/24" 2>/dev/null; }
# what a run could leave behind: its namespaces, its pins and its route
leftovers() {
	{
		ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hm-be[0-9]+(h|c1)$'
		ls -d /sys/fs/bpf/hmbench-* 2>/dev/null
		blackholes
	} | sort
}
leftovers >"$TMP/before"
blackholes | sort >"$TMP/routes.before"
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
timeout -k 10 300 "$HM_ROOT/scripts/bench.sh" --smoke --json "$JSON" >"$TMP/out" 2>"$TMP/err" &
pid=$!
# the routes for the lab's /24 while the run lasts (bounded by timeout)
: >"$TMP/routes.during"
while kill -0 "$pid" 2>/dev/null; do
	blackholes >>"$TMP/routes.during"
	sleep 0.5
done
wait "$pid"
rc=$?
pid=
if [ "$rc" -eq 0 ]; then
	hm_ok "scripts/bench.sh --smoke exits 0"
else
	hm_not_ok "scripts/bench.sh --smoke exits 0 (exit status $rc)" "$(tail -n 30 "$TMP/err")" \
		"$(tail -n 40 "$TMP/out")"
	hm_done
fi
sed 's/^/# /' "$TMP/out"

if grep -qE '^VARIANT +CONF +REQ/S' "$TMP/out" && grep -qE '^keepalive +base +[0-9,]+ ' "$TMP/out" &&
	grep -qE '^keepalive +empty +[0-9,]+ +[0-9.]+ \[' "$TMP/out" &&
	grep -qE '^keepalive +tc +[0-9,]+ +[0-9.]+ \[' "$TMP/out"; then
	hm_ok "the table lists keepalive base, empty and tc with requests/s and the ratio to none"
else
	hm_not_ok "the table lists keepalive base, empty and tc with requests/s and the ratio to none" \
		"$(cat "$TMP/out")"
fi
if sed -n '/^against the empty TC program/,/^$/p' "$TMP/out" |
	grep -qE '^keepalive +tc +[0-9.]+ \[[0-9.]+-[0-9.]+\] +[0-9.]+ \[.*\] +[0-9.]+ \['; then
	hm_ok "the table lists keepalive tc against the empty program: requests/s, p50, p99 ratios"
else
	hm_not_ok "the table lists keepalive tc against the empty program: requests/s, p50, p99 ratios" \
		"$(cat "$TMP/out")"
fi
tr_lines=$(sed -n '/^test_run /,/^$/p' "$TMP/out" |
	grep -cE '^(httpmon|floor|empty) +[0-9,.]+ +[0-9,.]+ +-?[0-9,.]+ +-?[0-9,.]+$')
if [ "$tr_lines" -eq 3 ] && grep -qE '^httpmon / floor, net of the empty program: request [0-9.]+, response [0-9.]+$' "$TMP/out"; then
	hm_ok "the table has the test_run section: httpmon, floor and empty, and their net ratio"
else
	hm_not_ok "the table has the test_run section: httpmon, floor and empty, and their net ratio" \
		"$(sed -n '/^test_run /,/^$/p' "$TMP/out")"
fi

# jq_check NAME FILTER: ok when FILTER is true on the JSON.
jq_check() {
	if jq -e "$2" "$JSON" >/dev/null 2>"$TMP/jq.err"; then
		hm_ok "$1"
	else
		hm_not_ok "$1" "jq: $2" "$(cat "$TMP/jq.err")"
	fi
}
jq_check "JSON: base, empty and tc rounds with requests/s > 0" \
	'.variants.keepalive.configs | (.base.requests_per_s.median > 0) and
		(.empty.requests_per_s.median > 0) and (.tc.requests_per_s.median > 0)'
jq_check "JSON: every throughput pair has a base, an empty and a tc round" \
	'[.rounds[] | select(.kind == "tput" and .variant == "keepalive")] | group_by(.n) |
		length >= 1 and all(map(.config) | contains(["base", "empty", "tc"]))'
jq_check "JSON: the tc/none ratio of requests/s and of p50/p99 latency" \
	'.variants.keepalive.configs.tc | (.ratio_requests_per_s.median > 0) and
		(.ratio_latency_p50.median > 0) and (.ratio_latency_p99.median > 0)'
jq_check "JSON: the tc/empty ratio of requests/s and of p50/p99 latency" \
	'.variants.keepalive.configs.tc.vs_empty | (.ratio_requests_per_s.median > 0) and
		(.ratio_latency_p50.median > 0) and (.ratio_latency_p99.median > 0)'
jq_check "JSON: the empty/none ratio of requests/s" \
	'.variants.keepalive.configs.empty | (.ratio_requests_per_s.median > 0) and (has("vs_empty") | not)'
jq_check "JSON: test_run of httpmon, floor and empty, 2000 exchanges, ns per run > 0" \
	'.testrun | (.runs == 2000) and (.request_bytes > 0) and (.response_bytes > 0) and
		all(.httpmon, .floor, .empty; (.request_ns > 0) and (.response_ns > 0)) and
		(.ratio_net.request > 0) and (.ratio_net.response > 0)'
jq_check "JSON: BPF cost: ns per run of tc and the empty program, runs per transaction >= 1" \
	'.variants.keepalive.cost | (.empty.ns_per_run.median > 0) and (.tc.ns_per_run.median > 0) and
		(.tc.runs_per_transaction.median >= 1) and (.tc | has("net_ns_per_run") and has("net_ns_per_transaction"))'
jq_check "JSON: the xdp configuration is measured or said to be not available" \
	'(.variants.keepalive.configs | has("xdp")) or (.meta.xdp_note | startswith("not available"))'
jq_check "JSON: targets are listed with a verdict" \
	'[.targets[] | has("met")] | length >= 3 and all'

if jq -e '.accuracy_ok and ([.variants.keepalive.accuracy.tc.per_round[] |
	.missed == 0 and .requests_minus_wrk >= 0 and .requests_minus_wrk <= .connections and
	.hm_responses <= .hm_requests] | length >= 2 and all)' "$JSON" >/dev/null 2>&1; then
	hm_ok "accuracy: every monitored round, hm-stat >= wrk's count, extra requests <= connections"
	hm_note "  $(jq -r '.variants.keepalive.accuracy.tc | "\(.rounds) rounds, \(.missed) missed, requests - wrk \(.requests_minus_wrk[0])..\(.requests_minus_wrk[1])"' "$JSON")"
else
	hm_not_ok "accuracy: every monitored round, hm-stat >= wrk's count, extra requests <= connections" \
		"$(jq -c '.variants.keepalive.accuracy.tc.per_round' "$JSON" 2>&1)"
fi

if comm -13 "$TMP/routes.before" <(sort -u "$TMP/routes.during") | grep -q blackhole; then
	hm_ok "a blackhole route for $NET.0/24 in the root namespace while the run lasts"
else
	hm_not_ok "a blackhole route for $NET.0/24 in the root namespace while the run lasts" \
		"seen: $(sort -u "$TMP/routes.during" | tr '\n' ' ')"
fi

left=$(leftovers | comm -13 "$TMP/before" - | tr '\n' ' ')
if [ -z "$left" ] && [ "$(sysctl -n kernel.bpf_stats_enabled)" = "$stats_before" ]; then
	hm_ok "nothing left behind: namespaces, pins, routes, kernel.bpf_stats_enabled=$stats_before"
else
	hm_not_ok "nothing left behind" "left: $left" "bpf_stats_enabled: $(sysctl -n kernel.bpf_stats_enabled)"
fi
hm_done
