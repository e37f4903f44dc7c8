#!/usr/bin/env bash
# test_hosts.sh - end to end: rows per virtual host and per (host, route)
# against what real clients sent and received.
#
# One nginx port serves a.test, b.test and a default server.  curl clients in
# their namespace send known Host headers (with and without :port, mixed
# case, a trailing dot), HTTP/1.0 requests without one, keep-alive and
# Connection: close, to files that exist (200), files that do not (404) and
# a location that returns 503.  The truth is what the clients sent and curl
# reports having received (status, request and response bytes), checked
# against nginx's access log ($http_host); hm-stat --by host, --by
# host,route, --json, --format csv and --format prometheus must equal it.
# Then hm-load --no-hosts (live): no host rows at all.  Then 260 distinct
# host names, 7 more than the host table holds: the first 253 keep their
# rows, the rest count under _other and in hosts_full.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"
# shellcheck source=tests/lib/nginx.sh
. "$HM_LIB/nginx.sh"

hm_require_cmds nsenter python3 jq curl nginx timeout
hm_require_build httpmon.o hm-load hm-stat hm-reset

# Addresses in 10.231.204.0/22 only: the lab's /24 is one of those four.
export HM_LAB_NET=$((204 + $$ % 4))
hm_e2e_init hv hosts
PIN=/sys/fs/bpf/hv-$$
RANGE=10.231.204.0/22

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	hm_nginx_down "$TMP/nginx"
	ip route del blackhole "$RANGE" 2>/dev/null
	return 0
}
ip route replace blackhole "$RANGE" ||
	{ hm_not_ok "blackhole route for $RANGE in the root namespace"; hm_done; }

if ! hm_lab_up "$P" 1 >"$TMP/lab.log" 2>&1; then
	hm_not_ok "lab up" "$(cat "$TMP/lab.log")"
	hm_done
fi
H=$(hm_host_ip "$P" 4)
W=$TMP/nginx/www

# $http_host is the Host header as sent ("-" when there is none): the log's truth.
servers="log_format hv '\$http_host \$request_method \$uri \$status';
	server {
		listen $H:8080 default_server; server_name _; root $W/default;
		access_log $TMP/nginx/logs/access.log hv;
		location = /down { return 503 'default is down\n'; }
	}
	server {
		listen $H:8080; server_name a.test; root $W/a;
		access_log $TMP/nginx/logs/access.log hv;
		location = /down { return 503 'a is down, for a while\n'; }
	}
	server {
		listen $H:8080; server_name b.test; root $W/b;
		access_log $TMP/nginx/logs/access.log hv;
	}"
mkdir -p "$W"/a/img "$W"/b "$W"/default
printf 'site a\n' >"$W/a/index.html"
head -c 3000 /dev/zero | tr '\0' a >"$W/a/img/logo.txt"
printf 'site b, a longer page\n' >"$W/b/index.html"
head -c 700 /dev/zero | tr '\0' b >"$W/b/b.html"
printf 'the default site\n' >"$W/default/index.html"
if hm_nginx_up "${P}h" "$TMP/nginx" "$servers" && hm_wait_port "$P" "$H" 8080 10; then
	hm_ok "nginx serves a.test, b.test and a default server on $H:8080"
else
	hm_not_ok "nginx starts" "$(cat "$TMP/nginx/nginx.err" "$TMP/nginx/logs/error.log" 2>/dev/null)"
	hm_done
fi

hm_monitor_up "$P" "$BR" "$PIN"
hstat() { "$HM_BUILD/hm-stat" --pin-path "$PIN" "$@"; }

# send HOST MODE PATH...: one curl run, one connection for keep-alive (MODE ka),
# Connection: close (close) or HTTP/1.0 (http10); HOST "-" sends no Host
# header.  Appends "HOST PATH CODE REQUEST_BYTES RESPONSE_BYTES" per request
# to $TMP/truth, HOST as sent.
send() {
	local host=$1 mode=$2 p args=(-s --max-time 10) w
	shift 2
	w='%{http_code} %{size_request} %{size_upload} %{size_header} %{size_download}\n'
	if [ "$host" = - ]; then args+=(-H 'Host:'); else args+=(-H "Host: $host"); fi
	case $mode in
	close) args+=(-H 'Connection: close') ;;
	http10) args+=(--http1.0) ;;
	esac
	for p in "$@"; do args+=(-o /dev/null "http://$H:8080$p"); done
	hm_in_client "$P" 1 curl "${args[@]}" -w "$w" >"$TMP/curl.out" 2>&1
	paste -d' ' <(printf '%s\n' "$@") "$TMP/curl.out" |
		awk -v h="$host" '{ print h, $1, $2, $3 + $4, $5 + $6 }' >>"$TMP/truth"
}

: >"$TMP/truth"
for round in 1 2 3; do
	send a.test ka /index.html /index.html /missing.html /down
	send A.Test:8080 ka /index.html /img/logo.txt
	send b.test close /index.html /missing.html /b.html
	send B.TEST.:8080 ka /b.html
	send - http10 /index.html
	send - http10 /missing.html
	send other.test ka /index.html /down
	send www.Other.Test ka /down
	hm_note "round $round sent"
done
sleep 1 # nginx writes its log line after the response

# The comparisons: each printed line is a result.
cat >"$TMP/check.py" <<'EOF'
import csv, json, re, sys
from collections import defaultdict

mode, truth_file = sys.argv[1], sys.argv[2]
args = sys.argv[3:]

def result(name, cond, detail=""):
    print("ok\t%s" % name if cond else "fail\t%s\t%s" % (name, detail))

def host_key(sent):
    """The documented rule: lower-cased, no port, no trailing dot; none: _none."""
    if sent == "-":
        return "_none"
    h = sent.lower()
    h = re.sub(r":[0-9]*$", "", h)
    return h.rstrip(".")

hosts = defaultdict(lambda: defaultdict(int))
pairs = defaultdict(lambda: defaultdict(int))
lines = [l.split() for l in open(truth_file) if l.strip()]
for sent, path, code, req, resp in lines:
    for t in (hosts[host_key(sent)], pairs[(host_key(sent), "GET", path)]):
        t["requests"] += 1
        t["responses"] += 1
        t[code[0] + "xx"] += 1
        t["bytes_in"] += int(req)
        t["bytes_out"] += int(resp)

def row_fields(r):
    return {"requests": r["requests"], "responses": r["responses"],
            "bytes_in": r["bytes_in"], "bytes_out": r["bytes_out"],
            **{c: r["status"][c] for c in ("2xx", "4xx", "5xx")}}

def want_fields(t):
    return {f: t[f] for f in ("requests", "responses", "bytes_in", "bytes_out",
                              "2xx", "4xx", "5xx")}

if mode == "truth":
    # nginx's access log against what the clients sent: the truth holds.
    log = defaultdict(int)
    for l in open(args[0]):
        h, method, uri, status = l.split()
        log[(host_key(h), uri, status)] += 1
    sent = defaultdict(int)
    for s, path, code, _, _ in lines:
        sent[(host_key(s), path, code)] += 1
    result("truth: nginx logged every request the clients sent, with the status curl got "
           "(%d requests)" % len(lines), log == sent and len(lines) == 45,
           "log %r sent %r" % (sorted(log.items()), sorted(sent.items())))
    result("truth: 200, 404 and 503 answers, and HTTP/1.0 requests without Host",
           all(any(l[2] == c for l in lines) for c in ("200", "404", "503")) and
           hosts["_none"]["requests"] == 6, repr(dict(hosts["_none"])))

elif mode == "json":
    got = json.load(open(args[0]))
    rows = {r["host"]: r for r in got["hosts"]}
    result("json: one host row per host the clients named (%s)" % ", ".join(sorted(hosts)),
           sorted(rows) == sorted(hosts), "got %r" % sorted(rows))
    bad = ["%s: want %r got %r" % (h, want_fields(t), row_fields(rows[h]))
           for h, t in hosts.items() if h in rows and row_fields(rows[h]) != want_fields(t)]
    result("json: per host requests, responses, status classes and bytes equal the clients'",
           not bad, "; ".join(bad))
    a = rows.get("a.test", {})
    result("json: a.test has percentiles and a histogram holding its responses",
           a.get("latency_us", {}).get("p50") is not None and
           a.get("latency_hist", {}).get("first", {}).get("count") == hosts["a.test"]["responses"],
           repr(a.get("latency_hist", {}).get("first", {}).get("count")))
    prs = {(r["host"], r["method"], r["route"]): r for r in got["host_routes"]}
    result("json: one host_routes row per (host, method, route) the clients used (%d)" % len(pairs),
           sorted(prs) == sorted(pairs), "got %r want %r" % (sorted(prs), sorted(pairs)))
    bad = ["%s: want %r got %r" % (k, want_fields(t), row_fields(prs[k]))
           for k, t in pairs.items() if k in prs and row_fields(prs[k]) != want_fields(t)]
    result("json: per host and route requests, responses, status classes and bytes equal "
           "the clients'", not bad, "; ".join(bad))
    sums = lambda rs: [sum(r[f] for r in rs) for f in ("requests", "bytes_in", "bytes_out")]
    result("json: host rows, host_routes rows and client rows add up to the same totals",
           sums(got["hosts"]) == sums(got["host_routes"]) == sums(got["clients"]),
           "%r %r %r" % (sums(got["hosts"]), sums(got["host_routes"]), sums(got["clients"])))
    mon = got["monitor"]
    result("json: host counters in the monitor, all zero here",
           all(mon.get(c) == 0 for c in ("hosts_full", "host_truncated", "host_routes_full",
                                         "hist_hosts_full")), repr(mon))

elif mode == "table":
    text = open(args[0]).read().splitlines()
    got = {}
    for l in text:
        f = l.split()
        if f and f[0] in hosts:
            got[f[0]] = (int(f[1]), int(f[2]), int(f[-2]), int(f[-1]))
    want = {h: (t["requests"], t["responses"], t["bytes_in"], t["bytes_out"])
            for h, t in hosts.items()}
    result("table --by host: HOST, REQS, RESPS, BYTES_IN, BYTES_OUT per host",
           got == want and text[1].split()[0] == "HOST", "got %r want %r" % (got, want))

elif mode == "pairs_table":
    got = {}
    for l in open(args[0]).read().splitlines():
        f = l.split()
        if len(f) > 3 and f[0] in hosts and f[1] == "GET":
            got[(f[0], f[1], f[2])] = (int(f[3]), int(f[4]))
    want = {k: (t["requests"], t["responses"]) for k, t in pairs.items()}
    result("table --by host,route: HOST, METHOD, ROUTE, REQS, RESPS per pair", got == want,
           "got %r want %r" % (got, want))

elif mode == "csv":
    rows = list(csv.DictReader(open(args[0])))
    got = {r["host"]: (int(r["requests"]), int(r["status_4xx"]), int(r["bytes_out"])) for r in rows}
    want = {h: (t["requests"], t["4xx"], t["bytes_out"]) for h, t in hosts.items()}
    result("csv --by host: a host column and the clients' numbers", got == want,
           "got %r want %r" % (got, want))

elif mode == "prom":
    samples = {}
    for l in open(args[0]):
        m = re.match(r'^(httpmon_host\w*)\{(.*)\} (\S+)$', l)
        if m:
            labels = re.findall(r'(\w+)="([^"]*)"', m.group(2))
            if ("source", "packet") not in labels:
                continue
            labels = tuple(sorted(l for l in labels if l[0] != "source"))
            samples[(m.group(1), labels)] = float(m.group(3))
    bad = []
    for h, t in hosts.items():
        if samples.get(("httpmon_host_requests_total", (("host", h),))) != t["requests"] or \
           samples.get(("httpmon_host_responses_total", (("class", "5xx"), ("host", h)))) != t["5xx"] or \
           samples.get(("httpmon_host_bytes_in_total", (("host", h),))) != t["bytes_in"]:
            bad.append(h)
    for (h, m, r), t in pairs.items():
        lab = (("host", h), ("method", m), ("route", r))
        if samples.get(("httpmon_host_route_requests_total", lab)) != t["requests"] or \
           samples.get(("httpmon_host_route_bytes_out_total", lab)) != t["bytes_out"]:
            bad.append("%s %s" % (h, r))
    a = samples.get(("httpmon_host_request_duration_seconds_count", (("host", "a.test"),)))
    result("prometheus: httpmon_host_* by host, httpmon_host_route_* by host, method and "
           "route, and a.test's histogram equal the clients'",
           not bad and a == hosts["a.test"]["responses"], "bad %r, a.test count %r" % (bad, a))
EOF
# pycheck MODE ARGS...: runs the checker; each of its lines is a result.
pycheck() {
	local status name detail
	python3 "$TMP/check.py" "$1" "$TMP/truth" "${@:2}" >"$TMP/py.out" 2>&1 ||
		hm_not_ok "checker $1 ran" "$(cat "$TMP/py.out")"
	while IFS=$'\t' read -r status name detail; do
		case $status in
		ok) hm_ok "$name" ;;
		fail) hm_not_ok "$name" "$detail" ;;
		esac
	done <"$TMP/py.out"
}

pycheck truth "$TMP/nginx/logs/access.log"
hstat --json >"$TMP/stat.json"
pycheck json "$TMP/stat.json"
hstat --by host >"$TMP/hosts.table"
pycheck table "$TMP/hosts.table"
hstat --by host,route >"$TMP/pairs.table"
pycheck pairs_table "$TMP/pairs.table"
hstat --by host --format csv >"$TMP/hosts.csv"
pycheck csv "$TMP/hosts.csv"
hstat --format prometheus >"$TMP/stat.prom"
pycheck prom "$TMP/stat.prom"
want_a=$(awk '$1 ~ /^[aA]\.[tT]est/ { n++ } END { print n + 0 }' "$TMP/truth")
hm_check "--hist a.test --by host: one chart of a.test's $want_a responses" \
	grep -q "^host a\.test: $want_a responses" <(hstat --hist a.test --by host)
hstat --watch 2 --count 1 --by host >"$TMP/watch.out" 2>&1 &
watch_pid=$!
sleep 0.5
send A.test ka /index.html /index.html /index.html
wait "$watch_pid"
hm_check "--watch --by host: a HOST column, a.test's row in the interval" \
	grep -Eq '^a\.test +[0-9.]+ +[0-9.]+ ' "$TMP/watch.out"
hm_check "--watch --by host: rates and percentiles per host" \
	grep -Eq '^HOST +REQ/S +RESP/S .* P50_MS ' "$TMP/watch.out"

# -- hm-load --no-hosts, live: no host rows ----------------------------------------
"$HM_BUILD/hm-reset" --routes --pin-path "$PIN" >/dev/null
hm_monitor_up "$P" "$BR" "$PIN" --no-hosts
: >"$TMP/truth"
send a.test ka /index.html /missing.html
send b.test close /b.html
hstat --json >"$TMP/nohosts.json"
hm_check "--no-hosts: no host or host,route rows, the clients' 3 requests on the client rows" \
	test "$(jq -c '[(.hosts | length), (.host_routes | length), ([.clients[].requests] | add)]' \
		"$TMP/nohosts.json")" = "[0,0,3]"
hm_monitor_up "$P" "$BR" "$PIN" --hosts

# -- more names than the host table holds --------------------------------------------
"$HM_BUILD/hm-reset" --routes --pin-path "$PIN" >/dev/null
hm_in_client "$P" 1 timeout 60 python3 - "$H" >"$TMP/flood.out" 2>&1 <<'EOF'
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 8080, timeout=10)
codes = []
for i in range(1, 261):
    c.request("GET", "/index.html", headers={"Host": "h%03d.test" % i})
    r = c.getresponse()
    r.read()
    codes.append(r.status)
print(len(codes), sum(1 for s in codes if s == 200))
EOF
hm_check "flood: 260 requests with distinct Host names answered 200 on one connection" \
	test "$(cat "$TMP/flood.out")" = "260 260"
hstat --json >"$TMP/flood.json"
hm_check "flood: the first 253 names have rows of 1 request each, the 7 later ones count under _other" \
	test "$(jq -c '[([.hosts[] | select(.host | test("^h[0-9]+\\.test$")) | .requests] |
		(length, add, max)), ([.hosts[] | select(.host == "_other") | .requests] | add)]' \
		"$TMP/flood.json")" = "[253,253,1,7]"
hm_check "flood: the names that got rows are the first 253 sent" \
	test "$(jq -r '[.hosts[].host | select(test("^h[0-9]+\\.test$"))] | sort | last' "$TMP/flood.json")" = h253.test
hm_check "flood: hosts_full counts the 7 in every format" \
	test "$(jq '.monitor.hosts_full' "$TMP/flood.json") $(hstat --format prometheus |
		awk '$1 == "httpmon_monitor_hosts_full_total{source=\"packet\"}" { print $2 }') $(hstat --by host |
		awk '$1 == "hosts_full" { print $2 }')" = "7 7 7"
# 253 names, 29 of them with ids below 32; each response gives two samples (its end is known)
hm_check "flood: hist_hosts_full counts the samples of host ids from 32 on (224 responses, 448)" \
	test "$(jq .monitor.hist_hosts_full "$TMP/flood.json")" = 448

hm_done
