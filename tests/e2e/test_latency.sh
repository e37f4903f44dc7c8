#!/usr/bin/env bash
# test_latency.sh - end to end: latency percentiles and the export formats
# against the clients' ground truth.
#
# A lab (tests/lib/netns.sh) with the origin on ports 8080 and 8888 and
# hm-load on the bridge (pins in /sys/fs/bpf/hmlat-<pid>).  Two clients send
# a fixed mix of delays - 70% /fast?delay=1, 25% /medium?delay=5, 5%
# /slow?delay=50, in that proportion on every connection - so p50 lies in the
# 1 ms mode and p99 in the 50 ms mode, far from their edges, and each route
# (hm-load's default grouping: /fast, /medium, /slow) has one delay.
# latency_client.py records every request's first- and last-byte latency.
# Then:
#   - hm-stat's p50 and p99 (and p90, p99.9), per port, per route and in
#     total, both latency families, must be within the documented bucket error of the
#     truth: never above the clients' quantile (+1/32: the client's interval
#     contains the monitor's), never below the origin's sleep (-1/32), and
#     under the client's by no more than the client's own overhead measured
#     in this run (tests/lib/latency_compare.py says how);
#   - promtool check metrics accepts --format prometheus;
#   - a real node_exporter, on 127.0.0.1 of the lab's namespace with its
#     textfile collector on a temporary directory, serves what
#     hm-stat --format prometheus --output wrote: requests_total per port
#     equals the clients' counts;
#   - --format csv parses and equals --format json;
#   - hm-stat --reset --json returns exactly the clients' counts and leaves
#     zeros;
#   - --watch 1 --count 2, not on a terminal, prints two blocks with the
#     interval's rates and percentiles while traffic flows.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc python3 jq timeout curl
hm_require_build httpmon.o hm-load hm-stat hm-reset
hm_e2e_init lt latency
EXPORTER_PID=

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	[ -n "$EXPORTER_PID" ] && kill "$EXPORTER_PID" 2>/dev/null && wait "$EXPORTER_PID" 2>/dev/null
}

# -- lab, origin, monitor -----------------------------------------------------
hm_lab_start "$P" 2 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
# No random delay on top of ?delay= (the seed's 0-10 ms would blur the modes).
hm_origin_up "${P}h" "$TMP/origin.out" --listen "$H4:8080" --listen "$H4:8888" \
	--max-delay-ms 0
hm_monitor_up "$P" "$BR" "$PIN"
stat() { "$HM_BUILD/hm-stat" --pin-path "$PIN" "$@"; }

# -- traffic: the delay mix ---------------------------------------------------
# 20 paths used in turn; every connection sends a multiple of 20 requests
# (4 connections per client: more would queue in the origin and blur the modes),
# so each port gets exactly 70/25/5 percent.
MIX=1:14,5:5,50:1
PATHS=$(python3 -c 'print(",".join(["/fast?delay=1"] * 14 + ["/medium?delay=5"] * 5 + ["/slow?delay=50"]))')
ROUTES=/fast=1,/medium=5,/slow=50
T="$H4:8080,$H4:8888"
pids=()
for i in 1 2; do
	hm_in_client "$P" "$i" timeout 60 python3 "$HM_LIB/latency_client.py" --target "$T" \
		--requests 1600 --connections 4 --paths "$PATHS" --max-seconds 45 \
		--out "$TMP/c$i.json" >"$TMP/c$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2; do
	if wait "${pids[$((i - 1))]}"; then
		hm_ok "client $i: $(jq -r '"\(.total.responses) responses in \(.elapsed_s) s"' "$TMP/c$i.json")"
	else
		hm_not_ok "client $i" "$(cat "$TMP/c$i.log")"
	fi
done
sleep 0.5 # let the last segments pass the bridge
C=("$TMP"/c1.json "$TMP"/c2.json)

# -- percentiles against the ground truth ------------------------------------------
stat --json >"$TMP/stat.json" 2>"$TMP/stat.err" || hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"
if out=$(python3 "$HM_LIB/compare.py" check --by port --actual "$TMP/stat.json" --expected "${C[@]}" 2>&1); then
	hm_ok "counts per port equal the clients' (the percentiles below describe the same requests)"
else
	hm_not_ok "counts per port equal the clients'" "$out"
fi
if out=$(python3 "$HM_LIB/latency_compare.py" --expected "${C[@]}" --actual "$TMP/stat.json" \
	--delay-mix "$MIX" --routes "$ROUTES" 2>&1); then
	hm_ok "p50 and p99 per port, per route and in total, first and last byte, within the documented error"
else
	hm_not_ok "p50 and p99 per port, per route and in total, first and last byte, within the documented error" "$out"
fi
grep -E '(port 8080|total|route /slow) first (p50|p99):' <<<"$out" | sed 's/^/#   /'

# -- Prometheus: promtool and a real node_exporter ------------------------------------
stat --format prometheus >"$TMP/metrics.prom" 2>"$TMP/prom.err"
if ! command -v promtool >/dev/null; then
	hm_skip "promtool check metrics accepts the exposition" "promtool not installed (Debian package prometheus)"
elif promtool check metrics <"$TMP/metrics.prom" >"$TMP/promtool.out" 2>&1; then
	hm_ok "promtool check metrics accepts the exposition ($(grep -vc '^#' "$TMP/metrics.prom") samples)"
else
	hm_not_ok "promtool check metrics accepts the exposition" "$(head -20 "$TMP/promtool.out")"
fi

EXPORTER=$(command -v prometheus-node-exporter || command -v node_exporter || true)
if [ -z "$EXPORTER" ]; then
	hm_skip "node_exporter serves the httpmon series" "prometheus-node-exporter not installed"
else
	mkdir "$TMP/textfile"
	if stat --format prometheus --output "$TMP/textfile/httpmon.prom" 2>"$TMP/out.err"; then
		hm_ok "hm-stat --format prometheus --output DIR/httpmon.prom"
	else
		hm_not_ok "hm-stat --format prometheus --output DIR/httpmon.prom" "$(cat "$TMP/out.err")"
	fi
	# The lab namespace's loopback is ours alone: any free port there will do.
	EPORT=$(hm_in_host "$P" python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	hm_in_host "$P" "$EXPORTER" --web.listen-address="127.0.0.1:$EPORT" \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$TMP/textfile" >"$TMP/exporter.log" 2>&1 &
	EXPORTER_PID=$!
	for _ in $(seq 50); do
		hm_in_host "$P" curl -sf "http://127.0.0.1:$EPORT/metrics" >"$TMP/scrape.txt" 2>/dev/null && break
		sleep 0.1
	done
	if out=$(python3 - "$TMP/scrape.txt" "${C[@]}" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
want = {}
for path in sys.argv[2:]:
    for port, agg in json.load(open(path))["per_port"].items():
        want[port] = want.get(port, 0) + agg["requests"]
bad = []

def value(name, **labels):
    """The sample of name with exactly these labels, in any order (node_exporter sorts them,
    and gives a series the empty labels its family's other series have: port="")."""
    for m in re.finditer(r'^%s(?:\{(.*)\})? (\S+)$' % name, text, re.M):
        got = {k: v for k, v in re.findall(r'(\w+)="([^"]*)"', m.group(1) or "") if v != ""}
        if got == labels:
            return m.group(2)
    return None

for port, n in sorted(want.items()):
    v = value("httpmon_requests_total", port=port, source="packet")
    if v is None or float(v) != n:
        bad.append("port %s: %s, clients sent %d" % (port, v, n))
v = value("httpmon_request_duration_seconds_count", source="packet")
if v is None or float(v) != sum(want.values()):
    bad.append("total histogram count: %s, want %d" % (v, sum(want.values())))
if not re.search(r'^node_textfile_scrape_error 0$', text, re.M):
    bad.append("node_textfile_scrape_error is not 0")
print("; ".join(bad) if bad else "requests_total %s, histogram count %d" % (want, sum(want.values())))
sys.exit(1 if bad else 0)
EOF
	); then
		hm_ok "node_exporter (textfile collector) serves the httpmon series: $out"
	else
		hm_not_ok "node_exporter (textfile collector) serves the httpmon series" "$out" \
			"$(head -c 1500 "$TMP/scrape.txt")" "$(tail -5 "$TMP/exporter.log")"
	fi
	kill "$EXPORTER_PID" 2>/dev/null
	wait "$EXPORTER_PID" 2>/dev/null
	EXPORTER_PID=
fi

# -- CSV equals JSON ----------------------------------------------------------------
for by in client port; do
	stat --format csv --by "$by" >"$TMP/stat.$by.csv"
done
if out=$(python3 - "$TMP/stat.json" "$TMP/stat.client.csv" "$TMP/stat.port.csv" <<'EOF'
import csv, json, sys
doc = json.load(open(sys.argv[1]))
bad = []
for path, view, key in ((sys.argv[2], "clients", "ip"), (sys.argv[3], "ports", "port")):
    rows = list(csv.DictReader(open(path)))
    js = {str(r[key]): r for r in doc[view]}
    if sorted(r[key] for r in rows) != sorted(js):
        bad.append("%s: keys differ" % view)
        continue
    for r in rows:
        j = js[r[key]]
        pairs = [("requests", j["requests"]), ("bytes_out", j["bytes_out"]),
                 ("status_2xx", j["status"]["2xx"]),
                 ("latency_avg_us", j["latency_us"]["avg"]),
                 ("latency_last_max_us", j["latency_last_us"]["max"])]
        if view == "ports":
            pairs += [("latency_p99_us", j["latency_us"]["p99"]),
                      ("latency_last_p50_us", j["latency_last_us"]["p50"])]
        for col, want in pairs:
            if float(r[col]) != float(want):
                bad.append("%s %s %s: csv %s json %s" % (view, r[key], col, r[col], want))
print("; ".join(bad) if bad else "%d client and port rows" % sum(len(doc[v]) for v in ("clients", "ports")))
sys.exit(1 if bad else 0)
EOF
); then
	hm_ok "--format csv parses and equals the JSON: $out"
else
	hm_not_ok "--format csv parses and equals the JSON" "$out"
fi

# -- --reset: read and clear in one step ----------------------------------------------
if stat --reset --json >"$TMP/reset.json" 2>"$TMP/reset.err" &&
	out=$(python3 "$HM_LIB/compare.py" check --by port,client --actual "$TMP/reset.json" \
		--expected "${C[@]}" 2>&1); then
	hm_ok "hm-stat --reset returns exactly the clients' counts"
else
	hm_not_ok "hm-stat --reset returns exactly the clients' counts" "$(cat "$TMP/reset.err")" "$out"
fi
stat --json >"$TMP/after.json"
if out=$(python3 "$HM_LIB/compare.py" check --zero --by port --actual "$TMP/after.json" \
	--expected "${C[@]}" 2>&1) &&
	[ "$(jq '.total.latency_hist.first.count + .total.requests' "$TMP/after.json")" = 0 ]; then
	hm_ok "after hm-stat --reset: zero rows, empty histograms"
else
	hm_not_ok "after hm-stat --reset: zero rows, empty histograms" "$out" "$(head -c 600 "$TMP/after.json")"
fi

# -- --watch while traffic flows -------------------------------------------------------
hm_in_client "$P" 1 timeout 30 python3 "$HM_LIB/latency_client.py" --target "$T" \
	--requests 800 --connections 4 --paths "$PATHS" --max-seconds 20 \
	--out "$TMP/w.json" >"$TMP/w.log" 2>&1 &
wpid=$!
timeout 20 "$HM_BUILD/hm-stat" --pin-path "$PIN" --watch 1 --count 2 --by port \
	>"$TMP/watch.txt" 2>"$TMP/watch.err"
rc=$?
wait "$wpid"
if [ "$rc" -eq 0 ] && [ "$(grep -c '^httpmon HTTP rates by server port over' "$TMP/watch.txt")" -eq 2 ] &&
	grep -Eq '^PORT +REQ/S +RESP/S .*P50_MS +P90_MS +P99_MS +P99\.9_MS' "$TMP/watch.txt" &&
	grep -Eq '^8080 +[1-9][0-9.]* +[0-9.]+ .* [0-9]+\.[0-9]{3} +[0-9]+\.[0-9]{3} ' "$TMP/watch.txt" &&
	! grep -q $'\e' "$TMP/watch.txt"; then
	hm_ok "--watch 1 --count 2 (not a terminal): two blocks with rates and interval percentiles"
	grep -E '^(PORT|8080|total)' "$TMP/watch.txt" | tail -3 | sed 's/^/#   /'
else
	hm_not_ok "--watch 1 --count 2 (not a terminal): two blocks with rates and interval percentiles" \
		"exit $rc: $(cat "$TMP/watch.err")" "$(cat "$TMP/watch.txt")"
fi

hm_done
