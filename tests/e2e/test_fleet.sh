#!/usr/bin/env bash
# test_fleet.sh - end to end: three monitored machines, node_exporter on each,
# one Prometheus over them, and PromQL against the clients' own truth.
#
# Every "machine" is a network namespace (hm-ff<pid>n1..n3) with its own
# monitored interface "srv" (10.231.245-247.1, a veth to a client namespace
# hm-ff<pid>u1..u3), its own origin (tests/lib/origin.py on ports 8080 and
# 8888: uniform 100-300 ms, 500 when its random number is divisible by 5;
# /status/404?delay=120 answers 404) and httpmon with its own pin directory
# (/sys/fs/bpf/hmtest-ff-<pid>/nN).  The textfile is written the documented ways,
# from a staged "make install PREFIX=/usr": on n1 and n2 by the command of
# httpmon-textfile.service, run every second as its timer would (with the
# settings its EnvironmentFile gives); on n3 by the script of
# dist/httpmon-daemonset.yaml, which also attaches httpmon itself (to the
# interface of n3's default route, as the DaemonSet does when
# HTTPMON_INTERFACES is empty) and detaches it when stopped.  A real
# node_exporter (Debian's prometheus-node-exporter, textfile collector only)
# serves each textfile on the machine's management address
# 10.231.244.1N:9100, and a real Prometheus (Debian's prometheus) in a fourth
# namespace (hm-ff<pid>p, 10.231.244.1, listening on its own 127.0.0.1)
# scrapes the three every second with dist/httpmon.rules.yml loaded.
#
# One client per machine (latency_client.py) records every request and its
# latency; origins and clients run with a real-time priority (chrt), so that
# the latencies stay what the test asks for on a busy machine.  Once Prometheus holds a scrape of every textfile written after
# the traffic ended, its HTTP API must give:
#   - sum(httpmon_requests_total), per instance too, the 2xx/4xx/5xx
#     responses, bytes in and out: exactly the clients' counts, and no
#     unanswered request;
#   - histogram_quantile(0.5 and 0.99) over the buckets summed across the
#     fleet (every response, and port 8080): within 5% of the clients' own
#     median and p99 of the latency to the first response byte (the
#     clients' clock holds the monitor's; 100-300 ms keeps their own overhead
#     well below 5%);
#   - the shipped rules evaluated without an error, and the recording rule
#     port:httpmon_requests:rate5m has the fleet's ports.
# Prometheus and the exporters listen only inside the test's namespaces;
# 10.231.244.0/22 is blackholed in the root namespace while the test runs.
#
# HM_FLEET_EXPORT: extra hm-stat options for every textfile writer, to
# measure other buckets, e.g. the old export:
#   HM_FLEET_EXPORT="--buckets 1 --bucket-range 0.000001024:68.719476736"
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
. "$HM_LIB/fleet.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds ip nsenter tc python3 jq curl timeout make
hm_require_build httpmon.o hm-load hm-stat hm-reset
PROMETHEUS=$(command -v prometheus)
EXPORTER=$(command -v prometheus-node-exporter || command -v node_exporter)
if [ -z "$PROMETHEUS" ] || [ -z "$EXPORTER" ]; then
	hm_skip "$(basename "$0")" "prometheus and prometheus-node-exporter not installed (scripts/deps.sh)"
	exit 77
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	hm_skip "$(basename "$0")" "python3-yaml not installed (scripts/deps.sh)"
	exit 77
fi

hm_e2e_init ff fleet
F=$P # no lab: machines of its own, ${F}p, ${F}nI, ${F}uI
DEST=$TMP/dest
NODES="1 2 3"
EXPORT=${HM_FLEET_EXPORT:-}
PIDS=()       # every process the test started, killed in reverse order
DS_PID=       # the DaemonSet script: stopped first, with SIGTERM, so it detaches

mgmt_ip() { echo "10.231.244.$((10 + $1))"; }
srv_ip() { echo "10.231.$((244 + $1)).1"; }
cli_ip() { echo "10.231.$((244 + $1)).2"; }
in_node() { local i=$1; shift; nsenter --net="/run/netns/${F}n$i" -- "$@"; }

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	local i ns pids
	hm_kill_wait "$DS_PID"
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		hm_kill_wait "${PIDS[$i]}"
	done
	for i in 1 2; do
		[ -e "/run/netns/${F}n$i" ] &&
			in_node "$i" "$HM_BUILD/hm-load" --detach srv --pin-path "$PIN/n$i" >/dev/null 2>&1
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${F}[pnu][0-9]*\$"); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086  # a list of pids
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	hm_blackhole_del
}

hm_netns_cleanup_stale hm-ff
hm_blackhole_add 10.231.244.0/22 || { hm_not_ok "blackhole route for 10.231.244.0/22"; hm_done; }

# -- the machines ---------------------------------------------------------------------
net_up() {
	local i
	ip netns add "${F}p" && ip -n "${F}p" link set lo up &&
		ip -n "${F}p" link add mgmt type bridge &&
		ip -n "${F}p" addr add 10.231.244.1/24 dev mgmt && ip -n "${F}p" link set mgmt up || return 1
	for i in $NODES; do
		ip netns add "${F}n$i" && ip netns add "${F}u$i" &&
			ip -n "${F}n$i" link set lo up && ip -n "${F}u$i" link set lo up &&
			ip -n "${F}n$i" link add mgmt type veth peer name "n$i" netns "${F}p" &&
			ip -n "${F}p" link set "n$i" master mgmt && ip -n "${F}p" link set "n$i" up &&
			ip -n "${F}n$i" addr add "$(mgmt_ip "$i")/24" dev mgmt &&
			ip -n "${F}n$i" link set mgmt up &&
			ip -n "${F}n$i" link add srv type veth peer name eth0 netns "${F}u$i" &&
			ip -n "${F}n$i" addr add "$(srv_ip "$i")/24" dev srv &&
			ip -n "${F}u$i" addr add "$(cli_ip "$i")/24" dev eth0 &&
			ip -n "${F}n$i" link set srv up && ip -n "${F}u$i" link set eth0 up || return 1
	done
	# n3 finds its interface the DaemonSet's way: the one of its default route.
	ip -n "${F}n3" route add default via "$(cli_ip 3)" dev srv
}
if net_up 2>"$TMP/net.err"; then
	hm_ok "three machines ${F}n1..n3 (management 10.231.244.0/24, srv 10.231.245-247.1) and ${F}p"
else
	hm_not_ok "the machines' namespaces" "$(cat "$TMP/net.err")"
	hm_done
fi

# The installed layout the package and the monitor image use.
if make --no-print-directory -C "$HM_ROOT" BUILD="$HM_BUILD" install PREFIX=/usr \
	DESTDIR="$DEST" >"$TMP/make.log" 2>&1; then
	hm_ok "make install PREFIX=/usr DESTDIR=... (the tools, the units, the rules)"
else
	hm_not_ok "make install PREFIX=/usr DESTDIR=..." "$(tail -20 "$TMP/make.log")"
	hm_done
fi

# The origins and the clients run with a real-time priority where that is
# allowed: on a busy machine the origins then keep to their 100-300 ms and the
# clients' own wake-ups do not add to what they measure (without it, a busy
# machine may fail the 5% checks).
RT=(chrt -f 20)
if ! chrt -f 20 true 2>/dev/null; then
	RT=()
	hm_note "chrt -f refused: origins and clients run without a real-time priority"
fi
for i in $NODES; do
	mkdir -p "$TMP/n$i/textfile"
	hm_origin_up "${F}n$i" "$TMP/n$i/origin.out" --listen "$(srv_ip "$i"):8080" \
		--listen "$(srv_ip "$i"):8888" --seed "$i" --min-delay-ms 100 --max-delay-ms 300
	PIDS+=("$ORIGIN_PID")
	# every thread, so the threads it starts per connection inherit the policy
	[ ${#RT[@]} -eq 0 ] || chrt -a -f -p 20 "$ORIGIN_PID" >/dev/null
done

# n1, n2: hm-load, then httpmon-textfile.service's command every second.
UNIT=$DEST/usr/lib/systemd/system/httpmon-textfile.service
EXEC=$(sed -n 's|^ExecStart=/|'"$DEST"'/|p' "$UNIT")
timer() {
	local i=$1
	while :; do
		HTTPMON_PIN_PATH=$PIN/n$i HTTPMON_TEXTFILE=$TMP/n$i/textfile/httpmon.prom \
			HTTPMON_TEXTFILE_OPTIONS=$EXPORT in_node "$i" bash -c "exec $EXEC" \
			>>"$TMP/n$i/timer.log" 2>&1
		sleep 1
	done
}
for i in 1 2; do
	if out=$(in_node "$i" "$HM_BUILD/hm-load" srv --pin-path "$PIN/n$i" 2>&1); then
		hm_ok "n$i: hm-load srv --pin-path $PIN/n$i"
	else
		hm_not_ok "n$i: hm-load srv" "$out"
		hm_done
	fi
	timer "$i" &
	PIDS+=($!)
done
hm_note "n1, n2 write the textfile with: ${EXEC#"$DEST"}"

# n3: the DaemonSet's container script, with the env of its manifest; the
# test's own paths and a 1-second interval.
python3 - "$HM_ROOT/dist/httpmon-daemonset.yaml" "$TMP/ds.sh" "$TMP/ds.env" <<'EOF'
import shlex, sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "DaemonSet"][0]
c = [c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "httpmon"][0]
open(sys.argv[2], "w").write(c["args"][-1])
open(sys.argv[3], "w").write("".join("export %s=%s\n" % (e["name"], shlex.quote(e.get("value", "")))
                                     for e in c["env"]))
EOF
(
	# shellcheck disable=SC1091  # written just above
	. "$TMP/ds.env"
	export HTTPMON_TEXTFILE=$TMP/n3/textfile/httpmon.prom HTTPMON_TEXTFILE_INTERVAL=1 \
		HTTPMON_TEXTFILE_OPTIONS=$EXPORT HTTPMON_PIN_PATH=$PIN/n3 \
		HTTPMON_CONFIG=$DEST/etc/default/httpmon PATH=$DEST/usr/sbin:$PATH
	exec nsenter --net="/run/netns/${F}n3" -- sh "$TMP/ds.sh"
) >"$TMP/n3/ds.log" 2>&1 &
DS_PID=$!
if hm_wait_line "$TMP/n3/ds.log" "httpmon: attached to srv; writing $TMP/n3/textfile/httpmon.prom" 15; then
	hm_ok "n3: the DaemonSet's script attached httpmon to srv (its default route's interface)"
else
	hm_not_ok "n3: the DaemonSet's script attaches httpmon" "$(cat "$TMP/n3/ds.log")"
	hm_done
fi

for i in $NODES; do
	ip netns exec "${F}n$i" "$EXPORTER" --web.listen-address="$(mgmt_ip "$i"):9100" \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$TMP/n$i/textfile" >"$TMP/n$i/exporter.log" 2>&1 &
	PIDS+=($!)
done

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $DEST/usr/share/httpmon/httpmon.rules.yml
scrape_configs:
  - job_name: httpmon
    static_configs:
      - targets: ["$(mgmt_ip 1):9100", "$(mgmt_ip 2):9100", "$(mgmt_ip 3):9100"]
EOF
ip netns exec "${F}p" "$PROMETHEUS" --config.file="$TMP/prometheus.yml" \
	--storage.tsdb.path="$TMP/tsdb" --web.listen-address=127.0.0.1:9090 \
	--log.level=warn >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)

# promq QUERY: the API's JSON answer for an instant query.
promq() {
	ip netns exec "${F}p" curl -sf --max-time 5 http://127.0.0.1:9090/api/v1/query \
		--data-urlencode "query=$1"
}
# promv QUERY: the value of its only sample ("" when none).
promv() { promq "$1" | jq -r '.data.result[0].value[1] // empty'; }

for _ in $(seq 100); do
	[ "$(promv 'sum(up{job="httpmon"})' 2>/dev/null)" = 3 ] && break
	sleep 0.2
done
if [ "$(promv 'sum(up{job="httpmon"})')" = 3 ]; then
	hm_ok "Prometheus scrapes the three node_exporters (up = 1 on each)"
else
	hm_not_ok "Prometheus scrapes the three node_exporters" "$(tail -5 "$TMP/prometheus.log")" \
		"$(promq 'up' 2>&1)" "$(tail -3 "$TMP"/n*/exporter.log)"
	hm_done
fi

# -- traffic ------------------------------------------------------------------------
PATHS="/,/,/,/,/,/,/,/,/,/status/404?delay=120"
pids=()
for i in $NODES; do
	ip netns exec "${F}u$i" timeout 120 "${RT[@]}" python3 "$HM_LIB/latency_client.py" \
		--target "$(srv_ip "$i"):8080,$(srv_ip "$i"):8888" --requests 600 --connections 12 \
		--paths "$PATHS" --max-seconds 90 --out "$TMP/c$i.json" >"$TMP/c$i.log" 2>&1 &
	pids+=($!)
done
for i in $NODES; do
	if wait "${pids[$((i - 1))]}"; then
		hm_ok "client on n$i: $(jq -r '"\(.total.requests) requests, \(.total.status["4xx"]) 4xx, \(.total.status["5xx"]) 5xx in \(.elapsed_s) s"' "$TMP/c$i.json")"
	else
		hm_not_ok "client on n$i" "$(cat "$TMP/c$i.log")"
	fi
done
sleep 0.5 # the last segments pass the interfaces
T_END=$(date +%s.%N)

# Prometheus must hold, for every machine, a scrape of a textfile written
# after the traffic ended.
fresh='count(node_textfile_mtime_seconds{file=~".*httpmon\\.prom"} > '"$T_END"')'
for _ in $(seq 150); do
	[ "$(promv "$fresh" 2>/dev/null)" = 3 ] && break
	sleep 0.2
done
if [ "$(promv "$fresh")" = 3 ]; then
	hm_ok "Prometheus scraped all three textfiles written after the traffic"
else
	hm_not_ok "Prometheus scraped all three textfiles written after the traffic" \
		"$(promq 'node_textfile_mtime_seconds')" "$(tail -3 "$TMP"/n*/timer.log "$TMP/n3/ds.log")"
	hm_done
fi

# -- PromQL against the clients -------------------------------------------------------
# The clients' truth, and what Prometheus says, side by side in Python.
for q in 'sum(httpmon_requests_total)' 'sum(httpmon_responses_total{class="2xx"})' \
	'sum(httpmon_responses_total{class="4xx"})' 'sum(httpmon_responses_total{class="5xx"})' \
	'sum(httpmon_responses_total)' 'sum(httpmon_bytes_in_total)' 'sum(httpmon_bytes_out_total)' \
	'sum(httpmon_unanswered_total)' 'sum by (instance) (httpmon_requests_total)' \
	'histogram_quantile(0.5, sum by (le) (httpmon_request_duration_seconds_bucket{port=""}))' \
	'histogram_quantile(0.99, sum by (le) (httpmon_request_duration_seconds_bucket{port=""}))' \
	'histogram_quantile(0.5, sum by (le) (httpmon_request_duration_seconds_bucket{port="8080"}))' \
	'histogram_quantile(0.99, sum by (le) (httpmon_request_duration_seconds_bucket{port="8080"}))' \
	'count(count by (le) (httpmon_request_duration_seconds_bucket{port=""}))'; do
	printf '%s\t%s\n' "$q" "$(promq "$q" | jq -c '.data.result')"
done >"$TMP/answers.tsv"

python3 - "$TMP/answers.tsv" "$TMP"/c1.json "$TMP"/c2.json "$TMP"/c3.json >"$TMP/compare" 2>&1 <<'EOF'
import json, sys

answers = {}
for line in open(sys.argv[1]):
    q, _, res = line.rstrip("\n").partition("\t")
    answers[q] = json.loads(res or "[]")
clients = [json.load(open(p)) for p in sys.argv[2:]]

def one(q):
    r = answers.get(q) or []
    return float(r[0]["value"][1]) if len(r) == 1 else None

def result(name, ok, detail=""):
    print(("ok\t%s" % name) if ok else "fail\t%s\t%s" % (name, detail))

tot = lambda key: sum(c["total"][key] for c in clients)
cls = lambda k: sum(c["total"]["status"][k] for c in clients)
checks = [("requests", "sum(httpmon_requests_total)", tot("requests")),
          ("2xx", 'sum(httpmon_responses_total{class="2xx"})', cls("2xx")),
          ("4xx", 'sum(httpmon_responses_total{class="4xx"})', cls("4xx")),
          ("5xx", 'sum(httpmon_responses_total{class="5xx"})', cls("5xx")),
          ("responses", "sum(httpmon_responses_total)", tot("responses")),
          ("bytes in", "sum(httpmon_bytes_in_total)", tot("bytes_in")),
          ("bytes out", "sum(httpmon_bytes_out_total)", tot("bytes_out")),
          ("unanswered", "sum(httpmon_unanswered_total)", 0)]
bad = ["%s: Prometheus %s, clients %d" % (n, one(q), want) for n, q, want in checks
       if one(q) != want]
result("PromQL over the fleet equals the clients: " +
       ", ".join("%s %d" % (n, want) for n, q, want in checks[:4] + checks[5:7]),
       not bad, "; ".join(bad))

per = {r["metric"].get("instance"): float(r["value"][1])
       for r in answers.get("sum by (instance) (httpmon_requests_total)", [])}
want = {"10.231.244.%d:9100" % (11 + k): c["total"]["requests"] for k, c in enumerate(clients)}
result("sum by (instance) (httpmon_requests_total) equals each machine's client",
       per == want, "Prometheus %r, clients %r" % (per, want))

def nearest_rank(values, q):
    """The ceil(n * q)-th smallest, in integers (q in parts per 10000)."""
    values = sorted(values)
    n, per10k = len(values), round(q * 10000)
    return values[max(1, min(n, (n * per10k + 9999) // 10000)) - 1]

samples = [s for c in clients for s in c["samples"]]
for sel, label in (('port=""', "every response"), ('port="8080"', "port 8080")):
    mine = [s[2] / 1e9 for s in samples if sel == 'port=""' or str(s[0]) == "8080"]
    for q in (0.5, 0.99):
        expr = "histogram_quantile(%s, sum by (le) (httpmon_request_duration_seconds_bucket{%s}))" % (q, sel)
        got = one(expr)
        c = nearest_rank(mine, q)
        err = None if got is None else (got - c) / c
        name = "histogram_quantile(%s) over the fleet's %s: %s ms, the clients' own %.3f ms (%s)" % (
            q, label, "none" if got is None else "%.3f" % (got * 1e3), c * 1e3,
            "n/a" if err is None else "%+.2f%%" % (err * 100))
        result(name, err is not None and abs(err) <= 0.05, "more than 5% apart")
print("note\tbuckets per histogram: %s le values (with +Inf)" %
      (one("count(count by (le) (httpmon_request_duration_seconds_bucket{port=\"\"}))")))
EOF
while IFS=$'\t' read -r status name detail; do
	case $status in
	ok) hm_ok "$name" ;;
	fail) hm_not_ok "$name" "$detail" ;;
	note) hm_note "$name" ;;
	*) hm_not_ok "the comparison ran" "$(cat "$TMP/compare")"; break ;;
	esac
done <"$TMP/compare"

# -- the shipped rules on real data ------------------------------------------------------
ip netns exec "${F}p" curl -sf --max-time 5 http://127.0.0.1:9090/api/v1/rules >"$TMP/rules.json"
if jq -e '[.data.groups[].rules[]] | length > 0 and all(.health == "ok")' "$TMP/rules.json" >/dev/null; then
	hm_ok "Prometheus evaluates the $(jq '[.data.groups[].rules[]] | length' "$TMP/rules.json") shipped rules without an error"
else
	hm_not_ok "Prometheus evaluates the shipped rules without an error" \
		"$(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, lastError}]' "$TMP/rules.json")"
fi
ports=$(promq 'port:httpmon_requests:rate5m' | jq -r '[.data.result[].metric.port] | sort | join(",")')
if [ "$ports" = 8080,8888 ]; then
	hm_ok "the recording rule port:httpmon_requests:rate5m has the fleet's ports 8080 and 8888"
else
	hm_not_ok "the recording rule port:httpmon_requests:rate5m has the fleet's ports" "got: $ports"
fi

# -- the DaemonSet's script detaches when stopped ------------------------------------------
kill -TERM "$DS_PID"
wait "$DS_PID" 2>/dev/null
rc=$?
DS_PID=
if [ "$rc" -eq 0 ] && [ -z "$(in_node 3 tc filter show dev srv ingress)" ] &&
	[ -z "$(ls -A "$PIN/n3" 2>/dev/null)" ]; then
	hm_ok "n3: SIGTERM to the DaemonSet's script detaches httpmon (no filter, no pin left), exit 0"
else
	hm_not_ok "n3: SIGTERM to the DaemonSet's script detaches httpmon" "exit $rc" \
		"$(in_node 3 tc filter show dev srv ingress)" "$(ls -A "$PIN/n3")" "$(tail -5 "$TMP/n3/ds.log")"
fi

hm_done
