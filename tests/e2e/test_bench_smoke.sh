#!/usr/bin/env bash
# test_bench_smoke.sh - the benchmark runs, end to end, in a couple of seconds.
#
# `scripts/bench.sh --smoke` (one pair of 2 s rounds, keepalive only, one
# BPF cost round, no profile) must exit 0, print its table, and write a JSON
# file whose figures are all there: requests/s of the base and tc rounds,
# their ratio, ns per program run of httpmon and of the empty program, and
# the accuracy check of every monitored round (nothing wrk counted is
# missing from hm-stat; hm-stat's extra requests are at most the
# connections, the requests still in flight when wrk stopped).  No timing
# is asserted: a loaded CI machine gives any figure.  Afterwards no
# namespace, pin or bpf_stats setting of the run is left behind.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

hm_require_root
hm_require_cmds nginx wrk clang nsenter tc bpftool jq python3 timeout
hm_require_build httpmon.o hm-load hm-stat
hm_bpffs_ensure || { hm_not_ok "bpffs mounted"; hm_done; }

TMP=$(mktemp -d /tmp/hmtest-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
JSON=$TMP/bench.json

# what a run could leave behind: its namespaces and its pins
leftovers() {
	{
		ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hm-be[0-9]+(h|c1)$'
		ls -d /sys/fs/bpf/hmbench-* 2>/dev/null
	} | sort
}
leftovers >"$TMP/before"
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
timeout -k 10 300 "$HM_ROOT/scripts/bench.sh" --smoke --json "$JSON" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ]; then
	hm_ok "scripts/bench.sh --smoke exits 0"
else
	hm_not_ok "scripts/bench.sh --smoke exits 0 (exit status $rc)" "$(tail -n 30 "$TMP/err")" \
		"$(tail -n 40 "$TMP/out")"
	hm_done
fi
sed 's/^/# /' "$TMP/out"

if grep -qE '^VARIANT +CONF +REQ/S' "$TMP/out" && grep -qE '^keepalive +base +[0-9,]+ ' "$TMP/out" &&
	grep -qE '^keepalive +tc +[0-9,]+ +[0-9.]+ \[' "$TMP/out"; then
	hm_ok "the table lists keepalive base and tc with requests/s and the ratio"
else
	hm_not_ok "the table lists keepalive base and tc with requests/s and the ratio" "$(cat "$TMP/out")"
fi

# jq_check NAME FILTER: ok when FILTER is true on the JSON.
jq_check() {
	if jq -e "$2" "$JSON" >/dev/null 2>"$TMP/jq.err"; then
		hm_ok "$1"
	else
		hm_not_ok "$1" "jq: $2" "$(cat "$TMP/jq.err")"
	fi
}
jq_check "JSON: base and tc rounds with requests/s > 0" \
	'.variants.keepalive.configs | (.base.requests_per_s.median > 0) and (.tc.requests_per_s.median > 0)'
jq_check "JSON: the tc/base ratio of requests/s and of p50/p99 latency" \
	'.variants.keepalive.configs.tc | (.ratio_requests_per_s.median > 0) and
		(.ratio_latency_p50.median > 0) and (.ratio_latency_p99.median > 0)'
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

left=$(leftovers | comm -13 "$TMP/before" - | tr '\n' ' ')
if [ -z "$left" ] && [ "$(sysctl -n kernel.bpf_stats_enabled)" = "$stats_before" ]; then
	hm_ok "nothing left behind: namespaces, pins, kernel.bpf_stats_enabled=$stats_before"
else
	hm_not_ok "nothing left behind" "left: $left" "bpf_stats_enabled: $(sysctl -n kernel.bpf_stats_enabled)"
fi
hm_done
