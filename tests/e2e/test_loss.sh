#!/usr/bin/env bash
# test_loss.sh - end to end: real packet loss behind the monitor.
#
# The lab (tests/lib/netns.sh) with the origin on ports 8080 and 8888 (IPv4
# and IPv6) and hm-load on the bridge (pins in /sys/fs/bpf/hmtest-lo-<pid>).
# tests/tools/drop.bpf.c (build/drop.bpf.o, loaded once with bpftool, pins
# in /sys/fs/bpf/hmlossd-<pid>) drops a share of the TCP segments that carry
# payload, after the monitor has seen them, so that the kernel's own TCP
# retransmits them past the monitor again:
#   - requests: a second tc filter on the bridge's ingress, at a later
#     priority than httpmon's (httpmon returns TC_ACT_UNSPEC, so it runs
#     next); the client retransmits;
#   - responses: tc ingress of each client namespace's eth0, beyond the
#     bridge's egress where the monitor saw them; the origin retransmits.
# Clients send keep-alive, Connection: close, pipelined, POST (bodies of
# several segments) and IPv6 traffic, with small answers and bodies of up to
# 100 KB, a bounded number of requests (500, about 10 s); HM_LOSS_PERMILLE
# sets the drop rate (default 80 per mille each way).  Then:
#   - the drop program dropped segments in both directions, and hm-stat's
#     retrans_segments is above zero;
#   - hm-stat by client, by port and by (port, client), and the pinned maps,
#     equal the clients' truth exactly: requests, responses, status classes,
#     unanswered (0), bytes in and out, latency sample counts; latency never
#     above the client's (the monitor's interval lies inside the client's);
#     the lower latency bound of compare.py is not checked: a response lost
#     behind the monitor keeps the client waiting for a retransmission the
#     monitor does not time;
#   - orphan_responses, unparseable and seq_gaps are 0;
#   - the latency histograms hold one sample per response: per port, in
#     total and summed over the routes (hm-stat --json: the sum of the bucket
#     counts), and the Prometheus _count and le="+Inf" series per port and
#     in total;
#   - the origin's own counts equal the clients' (the harness itself).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
. "$HM_LIB/drop.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat hm-reset drop.bpf.o
hm_e2e_init lo loss
DPIN=/sys/fs/bpf/hmlossd-$$ # the drop program's maps
DROP_PERMILLE=${HM_LOSS_PERMILLE:-80} # 8% of the payload segments, each direction
DROP_PRIO=65000                       # after httpmon's filter (hm_tc.h: 0x484d)
HM_CLIENT_SECONDS=35 HM_CLIENT_IO_TIMEOUT=10 # this test must stay under a minute

# The namespaces go with the lab, and with them the drop filters.
# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	rm -rf "$DPIN"
}

hm_pins_cleanup_stale hmlossd-

# -- lab, origin, monitor -----------------------------------------------------
hm_lab_start "$P" 2 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
H6=$(hm_host_ip "$P" 6)

# Short server delays: the latency figures are not what this test is about.
hm_origin_up "${P}h" "$TMP/origin.out" --seed 6 --min-delay-ms 0 --max-delay-ms 2 \
	--listen "$H4:8080" --listen "$H4:8888" --listen "[$H6]:8080" --listen "[$H6]:8888" \
	--stats "$TMP/origin.json"

hm_monitor_up "$P" "$BR" "$PIN"

# -- the drop program: after the monitor, in both directions ----------------------
hm_drop_load
# attach_drop: the pinned program on $BR's ingress after httpmon, and on each
# client's eth0 ingress (a clsact qdisc of its own there).
attach_drop() {
	local i
	hm_in_host "$P" tc filter add dev "$BR" ingress prio "$DROP_PRIO" handle 1 \
		bpf da object-pinned "$DPIN/prog" || return 1
	for i in 1 2; do
		hm_in_net "${P}c$i" tc qdisc add dev eth0 clsact &&
			hm_in_net "${P}c$i" tc filter add dev eth0 ingress prio 1 handle 1 \
				bpf da object-pinned "$DPIN/prog" || return 1
	done
}
if ! out=$(attach_drop 2>&1); then
	hm_not_ok "drop program attached" "$out"
	hm_done
fi
# On the bridge's ingress, httpmon's filter must come first (a lower pref).
order=$(hm_in_host "$P" tc -j filter show dev "$BR" ingress |
	jq -r '[.[] | select(.options.prog.name? != null) | "\(.options.prog.name)@\(.pref)"] | join(" ")')
clients=$(for i in 1 2; do hm_in_net "${P}c$i" tc -j filter show dev eth0 ingress |
	jq -r '.[] | .options.prog.name? // empty'; done | tr '\n' ' ')
if [[ $order =~ ^hm_tc_ingress@[0-9]+\ hm_test_drop@$DROP_PRIO$ ]] &&
	[ "$clients" = "hm_test_drop hm_test_drop " ]; then
	hm_ok "drop program after httpmon on $BR ingress ($order) and on the clients' eth0 ingress"
else
	hm_not_ok "drop program after httpmon on $BR ingress and on the clients' eth0 ingress" \
		"$BR ingress, in order: $order" "clients' eth0 ingress: $clients"
fi
hm_drop_config "$DROP_PERMILLE" "$DROP_PERMILLE" 8080 8888 ||
	{ hm_not_ok "drop program configured"; hm_done; }
hm_note "dropping $DROP_PERMILLE per mille of the payload segments to and from ports 8080-8888"

# -- traffic ----------------------------------------------------------------------
# Small answers (the seed's random handler, 404, 302, 503) and bodies of 4,
# 30 and 100 KB (GSO super-packets on the bridge, many segments on the wire).
PATHS='/,/bytes/30000,/status/404,/bytes/4000,/,/status/302,/bytes/100000,/status/503'
T4="$H4:8080,$H4:8888"
T6="[$H6]:8080,[$H6]:8888"
t0=$SECONDS
hm_run_clients "$P" r1 \
	"c1-keepalive:1:--target $T4 --requests 240 --connections 4 --paths $PATHS" \
	"c2-close:2:--target $T4 --requests 80 --connections 4 --close --paths $PATHS"
hm_run_clients "$P" r1 \
	"c1-post:1:--target $T4 --requests 60 --connections 2 --pipeline 3 --method POST --body-bytes 6000 --paths $PATHS" \
	"c2-ipv6:2:--target $T6 --requests 120 --connections 2 --pipeline 2 --paths $PATHS"
hm_note "traffic took $((SECONDS - t0)) s"
hm_drop_config 0 0 8080 8888 # nothing more is dropped
sleep 0.5                 # let the last FINs pass the bridge
R1=("$TMP"/r1-*.json)

# -- loss really happened, and the monitor saw retransmissions --------------------------
read -r seen_to seen_from pkts_to pkts_from segs_to segs_from bytes_to bytes_from _ \
	<<<"$(hm_drop_stats)"
hm_note "requests:  dropped $pkts_to of $seen_to payload packets ($segs_to segments, $bytes_to bytes)"
hm_note "responses: dropped $pkts_from of $seen_from payload packets ($segs_from segments, $bytes_from bytes)"
if [ "${pkts_to:-0}" -gt 0 ] 2>/dev/null; then
	hm_ok "request segments dropped behind the monitor ($pkts_to)"
else
	hm_not_ok "request segments dropped behind the monitor" "dropped: '$pkts_to' of '$seen_to'"
fi
if [ "${pkts_from:-0}" -gt 0 ] 2>/dev/null; then
	hm_ok "response segments dropped behind the monitor ($pkts_from)"
else
	hm_not_ok "response segments dropped behind the monitor" "dropped: '$pkts_from' of '$seen_from'"
fi

stat() { "$HM_BUILD/hm-stat" --pin-path "$PIN" "$@"; }
if ! stat --json >"$TMP/stat.json" 2>"$TMP/stat.err"; then
	hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"
	hm_done
fi
mon() { jq -r --arg k "$1" '.monitor[$k]' "$TMP/stat.json"; }
hm_note "monitor: $(jq -r '.monitor | to_entries | map(select(.value != 0)) | map("\(.key)=\(.value)") | join(" ")' "$TMP/stat.json")"
retrans=$(mon retrans_segments)
if [ "${retrans:-0}" -gt 0 ] 2>/dev/null; then
	hm_ok "the monitor saw the retransmissions: retrans_segments $retrans, retrans_bytes $(mon retrans_bytes)"
else
	hm_not_ok "the monitor saw the retransmissions (retrans_segments > 0)" "retrans_segments: $retrans"
fi
# The drops are behind the monitor: it saw every byte, in order.
for k in orphan_responses unparseable seq_gaps; do
	v=$(mon "$k")
	if [ "$v" = 0 ]; then
		hm_ok "$k is 0"
	else
		hm_not_ok "$k is 0" "$k: $v"
	fi
done

# -- counts against the clients' truth ----------------------------------------------
# The monitor's latency is never above the client's, and it has one sample per
# response; the lower bound (--min-samples) does not apply under loss.
CMP=(--min-samples 1000000000)
for by in client port port,client; do
	if ! stat --json --by "$by" >"$TMP/stat.$by.json" 2>"$TMP/stat.err"; then
		hm_not_ok "hm-stat --by $by" "$(cat "$TMP/stat.err")"
		continue
	fi
	if out=$(python3 "$HM_LIB/compare.py" check --by "$by" --actual "$TMP/stat.$by.json" \
		--expected "${R1[@]}" "${CMP[@]}" 2>&1); then
		hm_ok "under loss, hm-stat by $by equals the clients' truth"
		hm_note "  $out"
	else
		hm_not_ok "under loss, hm-stat by $by equals the clients' truth" "$out" \
			"hm-stat said: $(head -c 2000 "$TMP/stat.$by.json")"
	fi
done
hm_check "under loss, the pinned maps (bpftool) equal the clients' truth" \
	python3 "$HM_LIB/compare.py" maps --pin-dir "$PIN" --expected "${R1[@]}" "${CMP[@]}"

# -- latency histograms: one sample per response --------------------------------------
stat --format prometheus >"$TMP/metrics.prom" 2>"$TMP/prom.err" ||
	hm_not_ok "hm-stat --format prometheus" "$(cat "$TMP/prom.err")"
if out=$(python3 - "$TMP/stat.json" "$TMP/metrics.prom" "${R1[@]}" <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
prom = open(sys.argv[2]).read()
want = {}
for path in sys.argv[3:]:
    for port, agg in json.load(open(path))["per_port"].items():
        want[port] = want.get(port, 0) + agg["responses"]
total = sum(want.values())
bad, seen = [], []

def hist_sum(h, where, fam):
    if h is None:
        bad.append(f"{where} {fam}: no histogram")
        return None
    s = sum(n for _, n in h["buckets"])
    if s != h["count"]:
        bad.append(f"{where} {fam}: buckets sum to {s}, count says {h['count']}")
    return s

for fam in ("first", "last"):
    ports = {str(r["port"]): r for r in doc["ports"]}
    for port, n in sorted(want.items()):
        r = ports.get(port)
        s = hist_sum(r and r["latency_hist"][fam], f"port {port}", fam)
        if s is not None and s != n:
            bad.append(f"port {port} {fam}: histogram holds {s} samples, clients got {n} responses")
    s = hist_sum(doc["total"]["latency_hist"][fam], "total", fam)
    if s is not None and s != total:
        bad.append(f"total {fam}: histogram holds {s} samples, clients got {total} responses")
    o = hist_sum(doc["ports_other_latency"]["latency_hist"][fam], "ports_other", fam)
    if o:
        bad.append(f"ports_other {fam}: {o} samples, no port should overflow")
    # A route without a histogram (null: _unknown, whose replies have no
    # request to time) holds no samples; those beyond the first 128 routes
    # are in routes_other_latency.
    s = sum(hist_sum(r["latency_hist"][fam], f"route {r['method']} {r['route']}", fam) or 0
            for r in doc["routes"] if r["latency_hist"][fam] is not None)
    s += hist_sum(doc["routes_other_latency"]["latency_hist"][fam], "routes_other", fam) or 0
    if s != total:
        bad.append(f"routes {fam}: histograms hold {s} samples, clients got {total} responses")
    seen.append(f"{fam}: {total}")

# Prometheus: per port, _count and the +Inf bucket; buckets cumulative.
series = {}
for line in prom.splitlines():
    m = re.match(r'^(httpmon_(?:request|response_complete)_duration_seconds_(?:bucket|count))'
                 r'(?:\{(.*)\})? (\S+)$', line)
    if m:
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        series.setdefault((m.group(1), labels.get("port", "")), []).append(
            (labels.get("le"), float(m.group(3))))
for name in ("httpmon_request_duration_seconds", "httpmon_response_complete_duration_seconds"):
    for port, n in sorted(want.items()) + [("", total)]:
        where = f"{name}{{port=\"{port}\"}}"
        count = series.get((name + "_count", port))
        buckets = series.get((name + "_bucket", port), [])
        if not count or count[0][1] != n:
            bad.append(f"{where}_count: {count and count[0][1]}, clients got {n} responses")
        inf = [v for le, v in buckets if le == "+Inf"]
        if inf != [n]:
            bad.append(f"{where} le=+Inf: {inf}, clients got {n} responses")
        vals = [v for _, v in buckets]
        if vals != sorted(vals):
            bad.append(f"{where}: buckets not cumulative")
print("; ".join(bad) if bad else
      f"responses per port {want}; JSON per port, total and routes, Prometheus per port and total")
sys.exit(1 if bad else 0)
EOF
); then
	hm_ok "latency histograms (first and last byte) hold one sample per response: $out"
else
	hm_not_ok "latency histograms hold one sample per response" "$out"
fi

# -- the harness itself: the origin's own counts agree with the clients -----------------
kill -TERM "$ORIGIN_PID" 2>/dev/null
wait "$ORIGIN_PID" 2>/dev/null
ORIGIN_PID=
hm_check "origin's byte and status counts equal the clients' (harness self-check)" \
	python3 "$HM_LIB/compare.py" origin --origin "$TMP/origin.json" --expected "${R1[@]}"

hm_done
