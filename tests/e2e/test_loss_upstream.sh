#!/usr/bin/env bash
# test_loss_upstream.sh - end to end: real packet loss BEFORE the monitor.
#
# test_loss.sh drops segments after httpmon saw them; here the monitor never
# sees a dropped segment's first transmission.  The lab (tests/lib/netns.sh)
# with the origin on ports 8080 and 8888 (IPv4 and IPv6) and hm-load on the
# bridge (pins in /sys/fs/bpf/hmtest-lu-<pid>).  tests/tools/drop.bpf.c
# (build/drop.bpf.o, pins in /sys/fs/bpf/hmlossud-<pid>) drops a share of
# the payload segments before the monitor:
#   - responses: a tc filter on the bridge's egress with pref 1, added before
#     hm-load, so it runs before httpmon's filter (pref 0x484d); hm-load must
#     leave it in place;
#   - requests: tc egress of each client namespace's eth0, before the
#     bridge's ingress where httpmon runs.
# Both hooks are on the sending host's own egress, so the drop program runs
# with DROP_MODE_WIRE (TC_ACT_STOLEN: TCP takes the segment as sent, sends
# what follows, and retransmits the missing bytes later; TC_ACT_SHOT would
# make it resend the same skb at once, with no gap) and DROP_MODE_ONE_HOLE
# (one loss outstanding per flow direction: httpmon remembers one gap per
# direction, README "Limits"); HM_LOSS_UP_MODE=1 drops without that bound.
# So the monitor sees a sequence gap, later segments, and then the
# retransmission that fills the hole.
#
# Clients do not pipeline: keep-alive and Connection: close (IPv4) and
# keep-alive (IPv6), GET, with /bytes bodies of 300 B to 60 KB (several
# segments, GSO on the bridge) alternating with small /status answers (302,
# 404, 503), 570 requests in all; HM_LOSS_UP_PERMILLE (default 50) per mille
# of the payload skbs each way.  A GET is one segment: a dropped request is
# resent whole before anything follows it, so the gaps are all in responses
# (a request of several segments whose start line falls in a gap is not
# counted: README "Loss, reordering and pairing").  Then, against the
# clients' own records:
#   - the drop program dropped requests and responses; the monitor saw gaps
#     (seq_gaps > 0) and late bytes (0 < hole_bytes <= the bytes dropped);
#   - bytes_in, bytes_out and requests by client, by port and by (port,
#     client) equal the clients' exactly;
#   - responses: a response whose first bytes were lost before the monitor
#     is not counted; its request is counted unanswered instead.  Per row
#     requests = responses + unanswered and each status class is at most the
#     clients'; the shortfall in all equals gap_unanswered (a response gap
#     wrote the request off), and no response is an orphan (a server FIN
#     that overtakes its lost answer does not write the request off: the
#     retransmission is paired);
#     early_responses, idle_unanswered, gap_untimed, unparseable and
#     pipeline_overflow are 0;
#   - pairing: a request is never answered by another request's response.
#     Every response counted is timed (latency samples = responses per row,
#     and per port the histogram holds them all), no latency is above the
#     client's own maximum (+10 us), and by route the status classes are the
#     route's own (/bytes only 2xx; /status only 3xx-5xx, each at most the
#     requests of that status), with requests exact and requests =
#     responses + unanswered; _unknown has orphan_responses responses;
#   - the origin's own counts equal the clients' (the harness itself).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/drop.sh
. "$HM_LIB/drop.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat drop.bpf.o
hm_e2e_init lu lossup
DPIN=/sys/fs/bpf/hmlossud-$$ # the drop program's maps
DROP_PERMILLE=${HM_LOSS_UP_PERMILLE:-50} # 5% of the payload skbs, each direction
DROP_MODE=${HM_LOSS_UP_MODE:-3}          # DROP_MODE_WIRE | DROP_MODE_ONE_HOLE
HM_PRIO=18509                            # hm-load's tc priority (user/hm-load/tc.h: 0x484d)
HM_CLIENT_SECONDS=20 HM_CLIENT_IO_TIMEOUT=8 # well under half a minute

# The namespaces go with the lab, and with them the drop filters.
# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	rm -rf "$DPIN"
}

hm_pins_cleanup_stale hmlossud-

# -- lab, origin ----------------------------------------------------------------
hm_lab_start "$P" 2 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
H6=$(hm_host_ip "$P" 6)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 7 --min-delay-ms 0 --max-delay-ms 2 \
	--listen "$H4:8080" --listen "$H4:8888" --listen "[$H6]:8080" --listen "[$H6]:8888" \
	--stats "$TMP/origin.json"

# -- the drop program before the monitor, then the monitor -----------------------------
hm_drop_load
# attach_drop: the pinned program on $BR's egress at pref 1 and on each
# client's eth0 egress (a clsact qdisc of their own).
attach_drop() {
	local i
	hm_in_host "$P" tc qdisc add dev "$BR" clsact &&
		hm_in_host "$P" tc filter add dev "$BR" egress pref 1 handle 1 \
			bpf da object-pinned "$DPIN/prog" || return 1
	for i in 1 2; do
		hm_in_net "${P}c$i" tc qdisc add dev eth0 clsact &&
			hm_in_net "${P}c$i" tc filter add dev eth0 egress pref 1 handle 1 \
				bpf da object-pinned "$DPIN/prog" || return 1
	done
}
if ! out=$(attach_drop 2>&1); then
	hm_not_ok "drop program attached" "$out"
	hm_done
fi
hm_monitor_up "$P" "$BR" "$PIN"
# On the bridge's egress the drop program runs first, and hm-load kept it.
order=$(hm_in_host "$P" tc -j filter show dev "$BR" egress |
	jq -r '[.[] | select(.options.prog.name? != null) | "\(.options.prog.name)@\(.pref)"] | join(" ")')
clients=$(for i in 1 2; do hm_in_net "${P}c$i" tc -j filter show dev eth0 egress |
	jq -r '.[] | .options.prog.name? // empty'; done | tr '\n' ' ')
if [ "$order" = "hm_test_drop@1 hm_tc_egress@$HM_PRIO" ] &&
	[ "$clients" = "hm_test_drop hm_test_drop " ]; then
	hm_ok "drop program before httpmon on $BR egress ($order) and on the clients' eth0 egress"
else
	hm_not_ok "drop program before httpmon on $BR egress and on the clients' eth0 egress" \
		"$BR egress, in order: $order" "clients' eth0 egress: $clients"
fi
if ! hm_drop_mode "$DROP_MODE" ||
	! hm_drop_config "$DROP_PERMILLE" "$DROP_PERMILLE" 8080 8888; then
	hm_not_ok "drop program configured"
	hm_done
fi
hm_note "dropping $DROP_PERMILLE per mille of the payload skbs to and from ports 8080-8888 (mode $DROP_MODE)"

# -- traffic ----------------------------------------------------------------------
# Bodies of several segments alternate with small answers: on a connection,
# request k and k+1 are of different routes, so a response paired with the
# wrong request would show as a status class its route cannot have.
PATHS='/bytes/20000,/status/404,/bytes/60000,/status/503,/bytes/300,/status/302,/bytes/35000,/status/404'
N_KA=300 N_CLOSE=150 N_V6=120
T4="$H4:8080,$H4:8888"
T6="[$H6]:8080,[$H6]:8888"
t0=$SECONDS
hm_run_clients "$P" r1 \
	"c1-keepalive:1:--target $T4 --requests $N_KA --connections 4 --paths $PATHS" \
	"c2-close:2:--target $T4 --requests $N_CLOSE --connections 4 --close --paths $PATHS" \
	"c2-ipv6:2:--target $T6 --requests $N_V6 --connections 2 --paths $PATHS"
hm_note "traffic took $((SECONDS - t0)) s"
hm_drop_config 0 0 8080 8888 # nothing more is dropped
sleep 0.5                 # let the last FINs pass the bridge
R1=("$TMP"/r1-*.json)

read -r seen_to seen_from pkts_to pkts_from segs_to segs_from bytes_to bytes_from held filled \
	<<<"$(hm_drop_stats)"
hm_note "requests:  dropped $pkts_to of $seen_to payload skbs ($segs_to segments, $bytes_to bytes)"
hm_note "responses: dropped $pkts_from of $seen_from payload skbs ($segs_from segments, $bytes_from bytes)"
hm_note "skbs spared while their flow had a hole open: $held; holes filled again: $filled"
if [ "${pkts_to:-0}" -gt 0 ] 2>/dev/null; then
	hm_ok "request segments dropped before the monitor ($pkts_to)"
else
	hm_not_ok "request segments dropped before the monitor" "dropped: '$pkts_to' of '$seen_to'"
fi
if [ "${pkts_from:-0}" -gt 0 ] 2>/dev/null; then
	hm_ok "response segments dropped before the monitor ($pkts_from)"
else
	hm_not_ok "response segments dropped before the monitor" "dropped: '$pkts_from' of '$seen_from'"
fi

stat() { "$HM_BUILD/hm-stat" --pin-path "$PIN" "$@"; }
for by in client port port,client; do
	if ! stat --json --by "$by" >"$TMP/stat.$by.json" 2>"$TMP/stat.err"; then
		hm_not_ok "hm-stat --json --by $by" "$(cat "$TMP/stat.err")"
		hm_done
	fi
done
for kind in client port; do # latency sample counts are in the maps only
	if ! python3 "$HM_LIB/compare.py" rows --pin-dir "$PIN" --kind $kind >"$TMP/map.$kind.json" \
		2>"$TMP/stat.err"; then
		hm_not_ok "the $kind rows (bpftool)" "$(cat "$TMP/stat.err")"
		hm_done
	fi
done
hm_note "monitor: $(jq -r '.monitor | to_entries | map(select(.value != 0)) | map("\(.key)=\(.value)") | join(" ")' "$TMP/stat.client.json")"

# -- the checks, against the clients' records ----------------------------------------
# One line per check: "PASS|NAME|DETAIL" or "FAIL|NAME|DETAIL".
python3 - "$TMP" "$((bytes_to + bytes_from))" "$PATHS" "$N_KA $N_CLOSE $N_V6" "${R1[@]}" \
	>"$TMP/checks" 2>"$TMP/checks.err" <<'EOF'
import ipaddress, json, re, sys

tmp, dropped_bytes, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
counts, clients = [int(n) for n in sys.argv[4].split()], sys.argv[5:]
SLACK_US = 10.0  # the monitor's interval lies inside the client's
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def result(ok, name, detail):
    print(f"{'PASS' if ok else 'FAIL'}|{name}|{detail}")


stat = {by: json.load(open(f"{tmp}/stat.{by}.json")) for by in ("client", "port", "port,client")}
mon = stat["client"]["monitor"]

# The clients' truth by client, port and (port, client).
truth = {"client": {}, "port": {}, "port,client": {}}
for path in clients:
    doc = json.load(open(path))
    ip = str(ipaddress.ip_address(doc["source"]))
    for port, agg in doc["per_port"].items():
        for by, key in (("client", ip), ("port", port), ("port,client", (port, ip))):
            row = truth[by].setdefault(key, {"requests": 0, "responses": 0, "bytes_in": 0,
                                             "bytes_out": 0, "lat_max": 0.0,
                                             "status": dict.fromkeys(CLASSES, 0)})
            for k in ("requests", "responses", "bytes_in", "bytes_out"):
                row[k] += agg[k]
            for c in CLASSES:
                row["status"][c] += agg["status"][c]
            if agg["latency_us"]["count"]:
                row["lat_max"] = max(row["lat_max"], agg["latency_us"]["max"])


def rows(by):
    doc = stat[by]
    ip = lambda r: str(ipaddress.ip_address(r["ip"])) if r["ip"] != "other" else "other"
    if by == "client":
        return {ip(r): r for r in doc["clients"]}
    if by == "port":
        return {str(r["port"]): r for r in doc["ports"]}
    return {(str(r["port"]), ip(r)): r for r in doc["port_clients"]}


# (1) the monitor saw the loss as gaps, and late bytes filled them.
gaps, hole = mon["seq_gaps"], mon["hole_bytes"]
result(gaps > 0, "the monitor saw sequence gaps (seq_gaps > 0)", f"seq_gaps {gaps}")
result(0 < hole <= dropped_bytes,
       "late bytes filled the gaps: 0 < hole_bytes <= bytes dropped before the monitor",
       f"hole_bytes {hole}, dropped {dropped_bytes}")

# (2) bytes and (3) requests exact; responses = requests - unanswered per row.
short = 0
for by in ("client", "port", "port,client"):
    got, bad = rows(by), []
    for key in sorted(set(truth[by]) | set(got), key=str):
        t, g = truth[by].get(key), got.get(key)
        if t is None or g is None:
            bad.append(f"{key}: row only in {'the monitor' if t is None else 'the truth'}")
            continue
        for k in ("bytes_in", "bytes_out", "requests"):
            if g[k] != t[k]:
                bad.append(f"{key} {k}: monitor {g[k]}, clients {t[k]}")
    result(not bad, f"by {by}: bytes_in, bytes_out and requests equal the clients' exactly",
           "; ".join(bad) or f"{len(got)} rows")
    bad, miss = [], 0
    for key, t in truth[by].items():
        g = got.get(key)
        if g is None:
            continue
        if g["requests"] != g["responses"] + g["unanswered"]:
            bad.append(f"{key}: requests {g['requests']} != responses {g['responses']} "
                       f"+ unanswered {g['unanswered']}")
        for c in CLASSES:
            if g["status"][c] > t["status"][c]:
                bad.append(f"{key} {c}: monitor {g['status'][c]} > clients {t['status'][c]}")
        miss += t["responses"] - g["responses"]
    if by == "client":
        short = miss
    result(not bad, f"by {by}: requests = responses + unanswered, no status class above "
           "the clients'", "; ".join(bad) or f"responses short of the clients' by {miss}")

unans = sum(r["unanswered"] for r in rows("client").values())
result(short == mon["gap_unanswered"] == unans and mon["orphan_responses"] == 0,
       "responses missed = gap_unanswered = unanswered, no orphan response",
       f"missed {short}, gap_unanswered {mon['gap_unanswered']}, "
       f"orphan_responses {mon['orphan_responses']}, unanswered {unans}")
bad = [f"{k} {mon[k]}" for k in ("early_responses", "idle_unanswered", "gap_untimed",
                                 "unparseable", "pipeline_overflow") if mon[k]]
result(not bad, "early_responses, idle_unanswered, gap_untimed, unparseable, "
       "pipeline_overflow are 0", ", ".join(bad) or "all 0")

# (4) pairing: every counted response timed, no latency above the client's.
# Sample counts per row are in the pinned maps (summed over the CPUs).
samples = {"client": {}, "port": {}}
for by in ("client", "port"):
    for e in json.load(open(f"{tmp}/map.{by}.json")):
        k = e["key"]
        if k is None:
            continue  # an overflow row
        if by == "port":
            key = str(k["port"])
        else:
            a = ipaddress.ip_address(bytes(k["addr"]["a"]))
            key = str(a.ipv4_mapped or a) if a.version == 6 else str(a)
        samples[by][key] = samples[by].get(key, 0) + \
            sum(v["value"]["lat_ok"]["count"] + v["value"]["lat_fail"]["count"] for v in e["values"])
for by in ("client", "port"):
    bad = []
    for key, g in rows(by).items():
        lat, t, n = g["latency_us"], truth[by].get(key), samples[by].get(key)
        if n != g["responses"]:
            bad.append(f"{key}: {n} latency samples, {g['responses']} responses")
        if t and n and lat["max"] > t["lat_max"] + SLACK_US:
            bad.append(f"{key}: latency max {lat['max']} us, clients' max {t['lat_max']} us")
        if by == "port":
            h = g["latency_hist"]["first"]
            if sum(c for _, c in h["buckets"]) != n or h["count"] != n:
                bad.append(f"{key}: histogram holds {h['count']} samples, {n} timed")
    result(not bad, f"by {by}: one latency sample per response, none above the "
           f"client's max + {SLACK_US:g} us", "; ".join(bad) or
           ", ".join(f"{k}: {g['latency_us']['max']} <= {truth[by][k]['lat_max']} us"
                     for k, g in sorted(rows(by).items()) if k in truth[by]))

# Routes: request k and k+1 of a connection have different routes, so a
# response paired with the wrong request would carry a status its route
# cannot have.
label = lambda p: re.sub(r"/[0-9]+", "/{id}", p)
want, allowed = {}, {}
for n in counts:
    for i in range(n):
        p = paths[i % len(paths)]
        want[label(p)] = want.get(label(p), 0) + 1
        cls = "2xx" if p.startswith("/bytes/") else p.rsplit("/", 1)[1][0] + "xx"
        allowed.setdefault(label(p), {}).setdefault(cls, 0)
        allowed[label(p)][cls] += 1
bad, seen = [], []
for r in stat["client"]["routes"]:
    name = f"{r['method']} {r['route']}"
    if r["route"] == "_unknown":
        if r["requests"] or r["responses"] != mon["orphan_responses"]:
            bad.append(f"{name}: {r['requests']} requests, {r['responses']} responses, "
                       f"orphan_responses {mon['orphan_responses']}")
        continue
    w = want.pop(r["route"], None) if r["method"] == "GET" else None
    if w is None:
        if r["requests"] or r["responses"]:
            bad.append(f"{name}: unexpected route ({r['requests']} requests)")
        continue
    if r["requests"] != w:
        bad.append(f"{name}: {r['requests']} requests, clients sent {w}")
    if r["requests"] != r["responses"] + r["unanswered"]:
        bad.append(f"{name}: requests {r['requests']} != responses {r['responses']} "
                   f"+ unanswered {r['unanswered']}")
    for c in CLASSES:
        if r["status"][c] > allowed[r["route"]].get(c, 0):
            bad.append(f"{name}: {r['status'][c]} x {c}, at most "
                       f"{allowed[r['route']].get(c, 0)} possible")
    seen.append(f"{r['route']} {r['responses']}/{r['requests']}")
bad += [f"route {k}: missing ({v} requests sent)" for k, v in want.items()]
result(not bad, "by route: requests exact, requests = responses + unanswered, status "
       "classes the route's own, _unknown = orphan_responses",
       "; ".join(bad) or "responses/requests " + ", ".join(seen))
EOF
pycheck=$?
while IFS='|' read -r verdict name detail; do
	case $verdict in
	PASS) hm_ok "$name"; hm_note "  $detail" ;;
	FAIL) hm_not_ok "$name" "$detail" ;;
	*) hm_not_ok "check script output" "$verdict${name:+|$name}${detail:+|$detail}" ;;
	esac
done <"$TMP/checks"
[ "$pycheck" -eq 0 ] || hm_not_ok "check script ran (exit $pycheck)" "$(tail -5 "$TMP/checks.err")"

# -- the harness itself: the origin's own counts agree with the clients -----------------
kill -TERM "$ORIGIN_PID" 2>/dev/null
wait "$ORIGIN_PID" 2>/dev/null
ORIGIN_PID=
hm_check "origin's byte and status counts equal the clients' (harness self-check)" \
	python3 "$HM_LIB/compare.py" origin --origin "$TMP/origin.json" --expected "${R1[@]}"

hm_done
