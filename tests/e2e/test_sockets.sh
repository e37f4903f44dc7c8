#!/usr/bin/env bash
# test_sockets.sh - end to end: the socket source (hm-load --sockets) on
# loopback, exact against what the clients and the servers recorded.
#
# A network namespace of the test's own holds lo only (the socket programs
# see every namespace) and these servers, all in a cgroup of the test's own:
#  - nginx: 127.0.0.1:18101 with sendfile on, 18102 with sendfile off,
#    18103 (sendfile on) for wrk; static files of 0 B, 100 B, 20 KiB and
#    1 MiB, HEAD and 304 (If-Modified-Since) too; an access log of its own
#    ($request_time $status $bytes_sent $request_length $request_uri);
#  - tests/lib/sock_server.py --mode plain (read/recvfrom, write/sendto,
#    sendfile, splice) on 18111, and on 18113 for wrk; --mode vec (readv /
#    recvmsg into buffers of 2 and 65534 bytes, writev / sendmsg with headers
#    and body as separate buffers) on 18112, and on 18117 (a request it closes
#    the connection on, unanswered); plain with 11-byte reads on 18114; plain
#    whose first read of each request returns 3 bytes ("GET"), the rest 20 ms
#    later, on 18115; plain whose first write of each response holds 3 bytes
#    ("HTT"), the rest 20 ms later, on 18116; and plain on 18118 outside the
#    test's cgroup; plain on 18119 answering clients that closed the
#    connection right after their request.  Each records per request its status, bytes and the time
#    from the read that returned the request's first byte to the write of its
#    response.  Responses: Content-Length, chunked (chunks in writes of their
#    own), a head written line by line, 204, HEAD, 100 Continue before a 300 KB
#    body.
# Clients, in the namespace: curl with many URLs on one keep-alive
# connection (-w per transfer: method, http_code, size_request,
# size_upload, size_header, size_download), curl with "Connection: close",
# tests/lib/pipe_client.py (8 requests in one write, 8 responses read,
# bytes counted), and wrk
# (-t1 -c4 -d2s, tests/lib/sock_wrk.lua counting what it sent and got).
# Checks, on the rows of the test's own ports, routes (a prefix unique to
# the run) and processes only (the programs see the whole host):
#  - per port and per route: requests, responses, status classes,
#    unanswered (0; 1 on 18117), bytes_in and bytes_out exactly equal to
#    the clients' truth, and to nginx's access log and sock_server.py's
#    record and own byte counts;
#  - wrk's ports: exactly the servers' records; wrk's completed requests <=
#    requests <= the requests it sent (a request in flight when its time is
#    up is answered by the server but never read by wrk);
#  - per process (hm-stat --source socket --by process): the nginx worker and
#    each Python server, rows exact against their own records, with their
#    comm, role "server" and the test's cgroup;
#  - latency: sock_server.py's own times per port vs the port's min, max and
#    avg (under wrk: min, avg, p99): never below them (the socket's
#    interval, read return to write call, holds the server's) and at most
#    1 ms above; nginx: the average socket latency <= the average
#    $request_time + 1 ms (ms resolution);
#  - a second socket set loaded with --cgroup (the test's cgroup) has the
#    same rows for the servers inside it and none for the one outside;
#  - sock_read_failed 0 and sock_window_cut 0.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/nginx.sh
. "$HM_LIB/nginx.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"
# shellcheck source=tests/lib/sock.sh
. "$HM_LIB/sock.sh"

hm_require_cmds nsenter python3 jq curl nginx wrk timeout
hm_require_build httpmon_sock.o hm-load hm-stat
hm_e2e_init sk sockets
NS=$P # a namespace with lo only, named like a lab prefix
CG= # sock_cg_start sets it
# Routes: a first segment unique to the run (letters: digits would be an {id}).
R=/k$(tr 0-9 a-j <<<"$$")
NG1=18101 NG2=18102 NGW=18103 PY=18111 PV=18112 PYW=18113 PS=18114 PT=18115 PW=18116 PD=18117 PO=18118 PA=18119

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	hm_nginx_down "$TMP/nginx"
	"$HM_BUILD/hm-load" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1
	"$HM_BUILD/hm-load" --detach --sockets --pin-path "$PIN/cg" >/dev/null 2>&1
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[ -n "$CG" ] && sock_cg_remove "$CG"
	return 0
}
# What earlier runs that crashed left: namespaces of dead pids (their pins go
# in hm_e2e_init, their cgroups in sock_cg_start).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hm-sk[0-9]+$'); do
	kill -0 "${ns#hm-sk}" 2>/dev/null && continue
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$ns"
done

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

if ip netns add "$NS" && ip -n "$NS" link set lo up; then
	hm_ok "namespace $NS with lo only"
else
	hm_not_ok "namespace $NS"
	hm_done
fi
sock_cg_start sk

# The socket source first: connections established after the load are new.
if out=$("$HM_BUILD/hm-load" --sockets --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --sockets (pins in $PIN/sockets)"
else
	hm_not_ok "hm-load --sockets" "$out"
	hm_done
fi

# A second socket set scoped to the test's cgroup (hm-load --cgroup).
if out=$("$HM_BUILD/hm-load" --sockets --cgroup "$CG" --pin-path "$PIN/cg" 2>&1); then
	hm_ok "hm-load --sockets --cgroup ${CG#"$CG2"} (pins in $PIN/cg/sockets)"
else
	hm_not_ok "hm-load --sockets --cgroup ${CG#"$CG2"}" "$out"
fi

# -- servers, in the test's cgroup ---------------------------------------------
WWW=$TMP/nginx/www
mkdir -p "$WWW$R"n "$WWW$R"w
: >"$WWW$R"n/z0
head -c 100 /dev/urandom >"$WWW$R"n/z100
head -c 20480 /dev/urandom >"$WWW$R"n/z20k
head -c 1048576 /dev/urandom >"$WWW$R"n/z1m
cp "$WWW$R"n/z20k "$WWW$R"w/z20k
chmod -R a+rX "$WWW"
nginx_server() { # PORT SENDFILE
	echo "
	server {
		listen 127.0.0.1:$1;
		root $WWW;
		sendfile $2;
		keepalive_requests 100000;
		access_log $TMP/nginx/logs/access.log hmsock;
	}"
}
if (
	echo "$BASHPID" >"$CG/cgroup.procs" &&
		hm_nginx_up "$NS" "$TMP/nginx" "
	log_format hmsock '\$server_port \$request_time \$status \$bytes_sent \$request_length \$request_method \$request_uri';
	$(nginx_server $NG1 on) $(nginx_server $NG2 off) $(nginx_server $NGW on)"
) && in_ns timeout 5 sh -c "until ss -Hltn 'src 127.0.0.1:$NGW' | grep -q .; do sleep 0.1; done"; then
	hm_ok "nginx serves 127.0.0.1:$NG1 (sendfile on), :$NG2 (sendfile off), :$NGW (wrk)"
else
	hm_not_ok "nginx starts" "$(cat "$TMP/nginx/nginx.err" "$TMP/nginx/logs/error.log" 2>/dev/null)"
	hm_done
fi
NGINX_WORKER=$(ps --ppid "$(cat "$TMP/nginx/nginx.pid")" -o pid= | head -n 1 | tr -d ' ')
NGINX_COMM=$(cat "/proc/$NGINX_WORKER/comm")
SOCK_PID_plain='' SOCK_PID_vec='' SOCK_PID_small='' SOCK_PID_split='' SOCK_COMM_split='' SOCK_PID_wsplit='' SOCK_COMM_wsplit='' SOCK_COMM_plain='' SOCK_COMM_vec='' SOCK_COMM_small=''

sock_server_up plain plain "$CG" nsenter --net="/run/netns/$NS" -- 127.0.0.1:$PY 127.0.0.1:$PYW 127.0.0.1:$PA
sock_server_up vec vec "$CG" nsenter --net="/run/netns/$NS" -- 127.0.0.1:$PV 127.0.0.1:$PD --iov-first=2
sock_server_up small plain "$CG" nsenter --net="/run/netns/$NS" -- 127.0.0.1:$PS --read-size=11
# One server outside the test's cgroup: in the cgroup2 root.
sock_server_up outside plain "$CG2" nsenter --net="/run/netns/$NS" -- 127.0.0.1:$PO
sock_server_up split plain "$CG" nsenter --net="/run/netns/$NS" -- 127.0.0.1:$PT --first-read=3 --pause-ms=20
sock_server_up wsplit plain "$CG" nsenter --net="/run/netns/$NS" -- 127.0.0.1:$PW --first-write=3 --pause-ms=20

# -- clients --------------------------------------------------------------------
ng_urls() { # PORT: the nginx paths
	local p
	for p in z0 z100 z20k z1m z100 nope z20k z0; do echo "http://127.0.0.1:$1${R}n/$p"; done
	echo "HEAD:http://127.0.0.1:$1${R}n/z20k"
}
py_urls() { # PORT
	local p
	for p in ok big missing fail slow empty ok file spliced nocontent dribble slow; do
		echo "http://127.0.0.1:$1${R}p/$p"
	done
	echo "HEAD:http://127.0.0.1:$1${R}p/big"
	echo "POST:http://127.0.0.1:$1${R}p/echo"
	echo "BIGPOST:http://127.0.0.1:$1${R}p/echo"
}
rc=0
for port in $NG1 $NG2; do
	# shellcheck disable=SC2046 # a list of URLs
	sock_curl "$TMP/curl.txt" in_ns -- $(ng_urls "$port") || rc=1
done
for port in $PY $PV $PS; do
	# shellcheck disable=SC2046
	sock_curl "$TMP/curl.txt" in_ns -- $(py_urls "$port") || rc=1
done
# Requests whose first read returns 3 bytes ("GET"), the rest 20 ms later;
# responses whose first write holds 3 bytes ("HTT"), the rest 20 ms later.
sock_curl "$TMP/curl.txt" in_ns -- "http://127.0.0.1:$PT${R}t/ok" "http://127.0.0.1:$PT${R}t/missing" \
	"http://127.0.0.1:$PT${R}t/big" || rc=1
sock_curl "$TMP/curl.txt" in_ns -- "http://127.0.0.1:$PW${R}u/ok" "http://127.0.0.1:$PW${R}u/fail" \
	"http://127.0.0.1:$PW${R}u/big" || rc=1
# nginx answers 304 to an If-Modified-Since of the file's own time.
for port in $NG1 $NG2; do
	SOCK_CURL_HDR=(-H "If-Modified-Since: $(date -u -r "$WWW$R"n/z20k '+%a, %d %b %Y %H:%M:%S GMT')")
	sock_curl "$TMP/curl.txt" in_ns -- "http://127.0.0.1:$port${R}n/z20k" "http://127.0.0.1:$port${R}n/z20k" || rc=1
done
keepalive=$(wc -l <"$TMP/curl.txt")
SOCK_CURL_HDR=(-H 'Connection: close')
for port in $NG1 $NG2; do
	sock_curl "$TMP/curl.txt" in_ns -- "http://127.0.0.1:$port${R}n/z100" "http://127.0.0.1:$port${R}n/z20k" || rc=1
done
for port in $PY $PV $PS; do
	sock_curl "$TMP/curl.txt" in_ns -- "http://127.0.0.1:$port${R}p/ok" "http://127.0.0.1:$port${R}p/missing" \
		"POST:http://127.0.0.1:$port${R}p/echo" || rc=1
done
# A request the server closes the connection on, unanswered (curl: exit 52,
# status 000), alone on its connection: on a reused one curl would send it
# again on a new one.
SOCK_CURL_HDR=()
sock_curl "$TMP/drop.txt" in_ns -- "http://127.0.0.1:$PD${R}d/ok" "http://127.0.0.1:$PD${R}d/ok"
sock_curl "$TMP/drop.txt" in_ns -- "http://127.0.0.1:$PD${R}d/drop"
drc=$?
got=$(awk '{print $2}' "$TMP/drop.txt" 2>/dev/null | paste -sd' ')
[ "$drc" -eq 52 ] && [ "$got" = "200 200 000" ]
hm_judge $? "curl: a request the server closes the connection on (exit 52, status 000)" \
	"exit $drc, statuses: $got"
sock_curl "$TMP/outside.txt" in_ns -- "http://127.0.0.1:$PO${R}o/ok" "http://127.0.0.1:$PO${R}o/missing" || rc=1
n=$(wc -l <"$TMP/curl.txt")
if [ "$rc" -eq 0 ] && [ "$n" -eq 86 ] && ! grep -q ' 000 ' "$TMP/curl.txt"; then
	hm_ok "curl: $keepalive transfers on keep-alive connections, $((n - keepalive)) with Connection: close, all answered"
else
	hm_not_ok "curl transfers" "exit $rc, $n lines of 86" "$(cat "$TMP/curl.err")"
fi

rc=0
for port in $NG1 $NG2; do
	in_ns timeout 30 python3 "$HM_LIB/pipe_client.py" --target "127.0.0.1:$port" --n 8 --conns 2 \
		--paths "${R}n/z100,${R}n/z20k,${R}n/z0,${R}n/nope" --out "$TMP/pipe.jsonl" 2>>"$TMP/pipe.err" || rc=1
done
for port in $PY $PV $PS; do
	in_ns timeout 30 python3 "$HM_LIB/pipe_client.py" --target "127.0.0.1:$port" --n 8 --conns 2 \
		--paths "${R}p/ok,${R}p/chunked,${R}p/big,${R}p/fail,${R}p/nocontent,${R}p/slow,${R}p/file,${R}p/dribble,${R}p/empty,${R}p/spliced" \
		--out "$TMP/pipe.jsonl" \
		2>>"$TMP/pipe.err" || rc=1
done
n=$(wc -l <"$TMP/pipe.jsonl")
if [ "$rc" -eq 0 ] && [ "$n" -eq 80 ]; then
	hm_ok "pipe_client.py: 80 pipelined requests (8 per write) on 10 connections, all answered"
else
	hm_not_ok "pipelined requests" "exit $rc, $n records of 80" "$(cat "$TMP/pipe.err")"
fi

# Requests whose client closes the connection at once, before the server
# (3 ms late) answers: the answer is written into a connection the client's
# RST then ends (on loopback, within the server's write).
in_ns timeout 30 python3 "$HM_LIB/pipe_client.py" --target "127.0.0.1:$PA" --conns 4 --abandon \
	--paths "${R}a/slow" --out "$TMP/abandon.jsonl" 2>>"$TMP/pipe.err"
hm_judge $? "pipe_client.py --abandon: 4 requests sent on connections closed at once" "$(cat "$TMP/pipe.err")"

# wrk, bounded in time (2 s) and by its 4 connections; both at once.
WRK_PATHS="${R}w/z20k" in_ns timeout 20 wrk -t1 -c4 -d2s -s "$HM_LIB/sock_wrk.lua" \
	"http://127.0.0.1:$NGW" >"$TMP/wrk-ng.txt" 2>&1 &
w1=$!
WRK_PATHS="${R}w/ok,${R}w/missing,${R}w/fail,${R}w/ok" in_ns timeout 20 wrk -t1 -c4 -d2s \
	-s "$HM_LIB/sock_wrk.lua" "http://127.0.0.1:$PYW" >"$TMP/wrk-py.txt" 2>&1 &
w2=$!
wait $w1
r1=$?
wait $w2
r2=$?
wrk_field() { grep '^HMWRK ' "$1" | grep -o " $2=[0-9]*" | cut -d= -f2; }
for f in ng py; do
	if [ -n "$(wrk_field "$TMP/wrk-$f.txt" completed)" ]; then
		hm_ok "wrk ($f): $(grep HMWRK "$TMP/wrk-$f.txt")"
	else
		hm_not_ok "wrk ($f) ran (exit $r1 $r2)" "$(cat "$TMP/wrk-$f.txt")"
	fi
done

# -- the monitor's view, once every connection is closed -----------------------------
sleep 0.3
hm_nginx_down "$TMP/nginx"
for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
BG_PIDS=()
sleep 0.3
if ! "$HM_BUILD/hm-stat" --pin-path "$PIN/sockets" --json >"$TMP/stat.json" 2>"$TMP/stat.err"; then
	hm_not_ok "hm-stat --pin-path $PIN/sockets --json" "$(cat "$TMP/stat.err")"
	hm_done
fi
if ! "$HM_BUILD/hm-stat" --pin-path "$PIN/cg/sockets" --json >"$TMP/cg.json" 2>"$TMP/stat.err"; then
	hm_not_ok "hm-stat --pin-path $PIN/cg/sockets --json" "$(cat "$TMP/stat.err")"
	echo '{}' >"$TMP/cg.json"
fi
# Process rows come from hm-stat --source socket --by process.
if "$HM_BUILD/hm-stat" --pin-path "$PIN" --source socket --by process --json >"$TMP/proc.json" \
	2>"$TMP/proc.err" && jq -e '.processes' "$TMP/proc.json" >/dev/null 2>&1; then
	jq -s '.[0] + {processes: .[1].processes}' "$TMP/stat.json" "$TMP/proc.json" >"$TMP/all.json"
else
	hm_note "hm-stat --source socket --by process: $(head -n 1 "$TMP/proc.err")"
	cp "$TMP/stat.json" "$TMP/all.json"
fi

# The clients' truth: curl and pipe_client.py (wrk's ports apart).
sock_compare "$TMP/all.json" rows --label "clients' truth" --truth "curl:$TMP/curl.txt" --truth "$TMP/pipe.jsonl" \
	--truth "curl:$TMP/drop.txt" --port $PD \
	--port $NG1 --port $NG2 --port $PY --port $PV --port $PS --port $PT --port $PW --routes
# The servers' own records: nginx's access log, sock_server.py's records.
sock_compare "$TMP/all.json" rows --label "nginx's log" --truth "nginx:$TMP/nginx/logs/access.log" \
	--port $NG1 --port $NG2 --port $NGW --routes
# Abandoned connections: the server's record (its answers were written) and
# the client's request bytes.
sock_compare "$TMP/all.json" rows --label "answers to closed connections, as sock_server.py wrote them" \
	--truth "$TMP/plain.rec" --port $PA
want=$(jq -s 'map(.req_bytes) | add // 0' "$TMP/abandon.jsonl")
got=$(jq --argjson p $PA '[.ports[] | select(.port == $p)][0].bytes_in // 0' "$TMP/all.json")
[ "$got" = "$want" ]
hm_judge $? "port $PA: bytes_in $got = the bytes the abandoning client sent ($want)" "hm-stat: $got, client: $want"
sock_compare "$TMP/all.json" rows --label "sock_server.py's record" --truth "$TMP/plain.rec" --truth "$TMP/vec.rec" \
	--truth "$TMP/small.rec" --truth "$TMP/split.rec" --truth "$TMP/wsplit.rec" --port $PY --port $PV --port $PYW \
	--port $PS --port $PT --port $PW --port $PD --routes
for f in plain vec small split wsplit; do
	for port in $(jq -r 'keys[]' "$TMP/$f.totals" 2>/dev/null); do
		want=$(jq -r --arg p "$port" '.[$p] | "bytes_in \(.read) bytes_out \(.written)"' "$TMP/$f.totals")
		got=$(jq -r --argjson p "$port" '[.ports[] | select(.port == $p)][0] // {} |
			"bytes_in \(.bytes_in // 0) bytes_out \(.bytes_out // 0)"' "$TMP/all.json")
		[ "$got" = "$want" ]
		hm_judge $? "port $port: the bytes sock_server.py --mode $f read and wrote: $want" \
			"hm-stat: $got"
	done
done
[ -s "$TMP/plain.totals" ] && [ -s "$TMP/vec.totals" ] && [ -s "$TMP/small.totals" ] && [ -s "$TMP/split.totals" ] && [ -s "$TMP/wsplit.totals" ]
hm_judge $? "sock_server.py wrote its byte counts at exit"

# The set scoped to the cgroup: the servers in it counted as in the full
# set, the one outside it not at all (and counted in the full set).
sock_compare "$TMP/all.json" rows --label "full set, outside the cgroup" --truth "curl:$TMP/outside.txt" \
	--port $PO
scoped() {
	jq -c --argjson ps "[$NG1,$NG2,$NGW,$PY,$PV,$PYW,$PS,$PT,$PW,$PD,$PO]" '[.ports // [] | .[] |
		select(.port as $p | $ps | index($p)) | {port, requests, responses, unanswered, status, bytes_in,
		bytes_out}] | sort_by(.port)' "$1"
}
want=$(scoped "$TMP/all.json" | jq -c --argjson po $PO 'map(select(.port != $po))')
got=$(scoped "$TMP/cg.json")
[ "$got" = "$want" ] && [ "$want" != "[]" ]
hm_judge $? "hm-load --cgroup: the scoped set has the rows of the servers in the cgroup as the full set has them, none of port $PO (outside)" \
	"scoped: $got" "full set without $PO: $want"

# wrk against its own counts: between what it completed and what it sent.
for f in ng:$NGW py:$PYW; do
	port=${f#*:}
	f=${f%%:*}
	done_=$(wrk_field "$TMP/wrk-$f.txt" completed)
	sent=$(wrk_field "$TMP/wrk-$f.txt" sent)
	non2=$(wrk_field "$TMP/wrk-$f.txt" non2xx)
	read -r req resp bad < <(jq -r --argjson p "$port" '[.ports[] | select(.port == $p)][0] // {} |
		"\(.requests // 0) \(.responses // 0) \((.status["3xx"] // 0) + (.status["4xx"] // 0) + (.status["5xx"] // 0))"' "$TMP/all.json")
	[ -n "$done_" ] && [ "$done_" -gt 0 ] && [ "$done_" -le "$req" ] && [ "$req" -le "$sent" ] &&
		[ "$done_" -le "$resp" ] && [ "$resp" -le "$sent" ] &&
		[ "$non2" -le "$bad" ] && [ "$bad" -le $((non2 + sent - done_)) ]
	hm_judge $? "wrk on port $port: its $done_ completed <= requests $req, responses $resp <= its $sent sent; non-2xx $bad within [$non2, $non2 + in flight]" \
		"wrk: completed $done_ sent $sent non2xx $non2; hm-stat: requests $req responses $resp non-2xx $bad"
done

# Processes: each server's rows against its own record.
sock_compare "$TMP/all.json" rows --label "processes" --truth "nginx:$TMP/nginx/logs/access.log" --truth "$TMP/plain.rec" \
	--truth "$TMP/vec.rec" --truth "$TMP/small.rec" --truth "$TMP/split.rec" --truth "$TMP/wsplit.rec" \
	--cgroup-id "$CGID" \
	--proc "$NGINX_WORKER:$NG1,$NG2,$NGW:$NGINX_COMM:${CG#"$CG2"}" \
	--proc "$SOCK_PID_plain:$PY,$PYW,$PA:$SOCK_COMM_plain:${CG#"$CG2"}" \
	--proc "$SOCK_PID_vec:$PV,$PD:$SOCK_COMM_vec:${CG#"$CG2"}" \
	--proc "$SOCK_PID_small:$PS:$SOCK_COMM_small:${CG#"$CG2"}" \
	--proc "$SOCK_PID_split:$PT:$SOCK_COMM_split:${CG#"$CG2"}" \
	--proc "$SOCK_PID_wsplit:$PW:$SOCK_COMM_wsplit:${CG#"$CG2"}"

# Latency.
for f in plain:$PY vec:$PV small:$PS split:$PT wsplit:$PW; do
	sock_compare "$TMP/all.json" latency --label "sock_server.py ${f%%:*}" --record "$TMP/${f%%:*}.rec" \
		--port "${f#*:}" --slack-ms 1
done
# Under wrk (tens of thousands of requests, 2 cores shared by wrk, nginx and
# the servers) one preemption between the server's clock read and its system
# call can pass 1 ms: the slowest request is not compared there, the 99th
# percentile is.
sock_compare "$TMP/all.json" latency --label "sock_server.py plain under wrk" --record "$TMP/plain.rec" \
	--port $PYW --slack-ms 1 --stats min,avg,p99
for port in $NG1 $NG2 $NGW; do
	sock_compare "$TMP/all.json" nginx-latency --label nginx --log "$TMP/nginx/logs/access.log" --port "$port" --slack-ms 1
done

mon() { jq -r --arg k "$1" '.monitor[$k] // "missing"' "$TMP/all.json"; }
got="sock_read_failed $(mon sock_read_failed) sock_window_cut $(mon sock_window_cut)"
[ "$got" = "sock_read_failed 0 sock_window_cut 0" ]
hm_judge $? "every call's bytes were read: $got" "got: $got"

hm_done
