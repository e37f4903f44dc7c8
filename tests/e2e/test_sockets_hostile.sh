#!/usr/bin/env bash
# test_sockets_hostile.sh - the socket source against awkward system calls
# and streams, each case exact against what its clients and its server
# (tests/lib/sockh_server.py, which records its own calls) saw.
#
# Servers on 127.0.0.1:18221-18248 in a network namespace of the test's own,
# all in one cgroup ($CG2/hm-sh-<pid>/srv) that `hm-load --sockets --cgroup`
# watches, so the self-metrics count these servers only:
#  - big: a 1 MiB response written with one write(2) (requests read with
#    read(2)): counted once, its bytes exact;
#  - iov: responses written with writev(2) of exactly 1,024 buffers (IOV_MAX),
#    the head in pieces of 1-3 bytes, the body in the rest: exact,
#    sock_window_cut 0; iovnb: the same on a non-blocking socket, where
#    writes come out short and go on with the buffers left;
#  - iovr: requests of over 2 KiB of head read with readv(2) into 1,024
#    buffers of 1-3 bytes, answered with writev of 1,024: exact;
#  - readv0: requests read with readv(2) whose first buffer is empty:
#    exact;
#  - crlf: an empty line before a connection's first request line and one
#    after a POST's body (RFC 9112 2.2): exact;
#  - byte: requests read one byte per recv(2): requests, routes and bytes
#    exact;
#  - exit: three pipelined requests read, one answered, then os._exit:
#    requests 3, responses 1, unanswered 2; conns_closed grows, conns_live
#    back to where it was;
#  - line: line protocols (JSON, SMTP, memcached, Redis inline) on a server
#    socket: no requests, sock_ignored grows by the server's calls that
#    moved bytes (each one left alone);
#  - mid: a keep-alive connection used before the load, then a POST whose
#    body is sent in pieces with the load in between (the body holds request
#    lines): sock_midstream grows, no request, response or route counted for
#    it (no phantoms, no orphan responses); the next request on that
#    connection, starting a read, is joined and counted exactly, and so is a
#    fresh request on a new connection;
#  - msg: recvmsg(2) into four buffers, sendmsg(2) of four: exact;
#  - peek: recv with MSG_PEEK before every read, the response in four
#    writes; sendfile: bodies sent with sendfile(2); nonblock: short writes
#    of a non-blocking socket; close: responses without a length, ended by
#    the server's close; continue: an interim 100 Continue (not a response,
#    its bytes on the route); v6: an IPv6 socket with a v4-mapped and an
#    IPv6 peer (client rows 127.0.0.1 and ::1): each exact;
#  - batch: pipelined requests answered several to a write (once after the
#    client's half-close; 40 at once, deeper than the latency queue);
#    early: a 413 written before the request's body is read, then the close
#    (or the body read after it and more requests on the connection); head:
#    HEAD, 204 and chunked responses written in pieces, then a plain request
#    on the same connection: each exact against the server's record;
#  - splicew: response bodies written from a pipe with splice(2): exact;
#  - splicer: request bodies taken from the socket with splice(2) into a
#    pipe (tcp_splice_read, which no socket event reports), the heads with
#    recv, and more requests after them on the same connection: exact;
#  - sendmmsg: bodies written with sendmmsg(2), which the monitor does not
#    record: exact, sock_read_failed grows by one per such call;
#  - inside: a client in the watched cgroup too: its exchange with a
#    watched server counted once, exactly; with a server outside, no row;
#    sock_other_role grows;
#  - lat: a response written a second after its request was read: the
#    latency at least 1 s and at most curl's time to the first byte;
#  - twins: the same server port in two namespaces and clients bound to the
#    same port, so two live connections have the same endpoints; one ends
#    while the other's request waits: both exchanges counted exactly;
#  - each server's process row (hm-stat --source socket --by process): its
#    pid, comm and cgroup, and the counts of its own record (the exit
#    server's row outlives it; the mid server's holds the joined and the
#    fresh request only; the line server, the server outside the cgroup and
#    the watched curl have none).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/sockh.sh
. "$HM_LIB/sockh.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh" # hm_wait_line

sockh_init sh
LOAD=$HM_BUILD/hm-load
SRV=$CGD/srv
P_BIG=18221 P_IOV=18222 P_IOVR=18223 P_BYTE=18224 P_EXIT=18225 P_LINE=18226 P_MID=18227 P_MSG=18228
P_PEEK=18229 P_SF=18230 P_NB=18231 P_CLOSE=18232 P_CONT=18233 P_V6=18234 P_TWIN=18235
P_BATCH=18236 P_EARLY=18237 P_HEAD=18238 P_IOVNB=18240
P_OUT=18241 P_IN=18242 P_LAT=18243 P_SPLW=18244 P_RV0=18245 P_CRLF=18246 P_MM=18247 P_SPLR=18248

sockh_server_start big "$SRV" --port "$P_BIG" --read read --write write1
sockh_server_start iov "$SRV" --port "$P_IOV" --write writev1024
sockh_server_start iovr "$SRV" --port "$P_IOVR" --read readv1024 --write writev1024
sockh_server_start byte "$SRV" --port "$P_BYTE" --read recv1
sockh_server_start exit "$SRV" --port "$P_EXIT" --mode exit3
PID_EXIT=$SERVER_PID
sockh_server_start line "$SRV" --port "$P_LINE" --mode line
sockh_server_start mid "$SRV" --port "$P_MID"
sockh_server_start msg "$SRV" --port "$P_MSG" --read recvmsg --write sendmsg
sockh_server_start peek "$SRV" --port "$P_PEEK" --read peek --write split
sockh_server_start sendfile "$SRV" --port "$P_SF" --write sendfile
sockh_server_start nonblock "$SRV" --port "$P_NB" --write nonblock --sndbuf 8192
sockh_server_start close "$SRV" --port "$P_CLOSE" --mode close
sockh_server_start continue "$SRV" --port "$P_CONT" --continue
sockh_server_start v6 "$SRV" --port "$P_V6" --listen ::
sockh_server_start batch "$SRV" --port "$P_BATCH" --mode batch
sockh_server_start early "$SRV" --port "$P_EARLY"
sockh_server_start head "$SRV" --port "$P_HEAD" --write split
sockh_server_start iovnb "$SRV" --port "$P_IOVNB" --write writev1024 --nonblock --sndbuf 8192
sockh_server_start outside "" --port "$P_OUT"
sockh_server_start inside "$SRV" --port "$P_IN"
sockh_server_start lat "$SRV" --port "$P_LAT"
sockh_server_start splicew "$SRV" --port "$P_SPLW" --write splice
sockh_server_start splicer "$SRV" --port "$P_SPLR" --read splice
sockh_server_start readv0 "$SRV" --port "$P_RV0" --read readv0
sockh_server_start crlf "$SRV" --port "$P_CRLF"
sockh_server_start sendmmsg "$SRV" --port "$P_MM" --write sendmmsg
for name in big iov iovr byte exit line mid msg peek sendfile nonblock close continue v6 batch early head iovnb outside inside lat splicew splicer readv0 crlf sendmmsg; do
	sockh_server_wait "$name"
done

# mid, before the load: a request answered on a keep-alive connection, then
# a POST's head and the first quarter of its body.
sockh_in_ns timeout 60 "$PY" "$HM_LIB/sockh_client.py" mid --port "$P_MID" --body 200000 \
	--ready "$TMP/mid.ready" --go "$TMP/mid.go" --go2 "$TMP/mid.go2" >"$TMP/mid.client" 2>&1 &
MID_CLIENT=$!
if hm_wait_line "$TMP/mid.ready" part1 15; then
	hm_ok "mid: a keep-alive connection used, a POST's head and a quarter of its body sent, before the load"
else
	hm_not_ok "mid: the client's first part" "$(cat "$TMP/mid.client")"
fi

if out=$("$LOAD" --sockets --cgroup "$SRV" --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --sockets --cgroup ${SRV#"$CG2"} (pins in $PIN)"
else
	hm_not_ok "hm-load --sockets --cgroup ${SRV#"$CG2"}" "$out"
	hm_done
fi
sockh_stat "$TMP/s0.json"

# mid: the rest of the body, now that the monitor sees it.
touch "$TMP/mid.go"
if hm_wait_line "$TMP/mid.ready" posted 20; then
	hm_ok "mid: the POST's body sent in three pieces after the load, answered"
else
	hm_not_ok "mid: the POST's body sent after the load, answered" "$(cat "$TMP/mid.client")"
fi
sleep 0.3
sockh_stat "$TMP/s-mid.json"
mid0=$(sockh_mon "$TMP/s0.json" sock_midstream)
mid1=$(sockh_mon "$TMP/s-mid.json" sock_midstream)
if [[ $mid1 =~ ^[0-9]+$ ]] && [ "$mid1" -gt "$mid0" ]; then
	hm_ok "mid: sock_midstream grows ($mid0 -> $mid1)"
else
	hm_not_ok "mid: sock_midstream grows" "before $mid0, after $mid1"
fi
sockh_compare "mid: no phantom: port $P_MID has no row" "$(sockh_port_row "$TMP/s-mid.json" "$P_MID")" none
got=$(jq -r '[.routes[] | select(.route | startswith("/mid"))] | map("\(.method) \(.route)") | join(", ")' "$TMP/s-mid.json")
sockh_compare "mid: no route of the connection joined mid-stream" "routes [$got]" "routes []"

# Then a request on that connection, starting a read: joined there.
touch "$TMP/mid.go2"
wait "$MID_CLIENT"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(jq -c '[.statuses, .joined.status]' "$TMP/mid.client" 2>/dev/null)" = "[[200,200],200]" ]; then
	hm_ok "mid: one more request on the same connection, answered: $(cat "$TMP/mid.client")"
else
	hm_not_ok "mid: one more request on the same connection" "exit $rc" "$(cat "$TMP/mid.client")"
fi
sleep 0.3
sockh_stat "$TMP/s-joined.json"
sockh_compare "mid: the connection joined at that request's start: it alone counted" \
	"$(sockh_port_row "$TMP/s-joined.json" "$P_MID")" \
	"$(jq -r '.joined | "requests 1 responses 1 unanswered 0 2xx 1 3xx 0 4xx 0 5xx 0 bytes_in \(.sent) bytes_out \(.received)"' "$TMP/mid.client")"

# curl_run NAME PORT ARGS...: one curl process, transfers separated by --next
# in ARGS; a truth line per transfer in $TMP/NAME.txt.
curl_run() {
	local name=$1 port=$2 a args=()
	shift 2
	for a in "$@"; do
		if [ "$a" = --next ]; then
			args+=(-s -o /dev/null -w "$SOCKH_W" --next)
		elif [[ $a == /* ]]; then
			args+=("http://127.0.0.1:$port$a")
		else
			args+=("$a")
		fi
	done
	args+=(-s -o /dev/null -w "$SOCKH_W")
	sockh_in_ns timeout 30 curl "${args[@]}" >>"$TMP/$name.txt" 2>>"$TMP/$name.err"
}
# transfers NAME N: the curl run gave N answered transfers.
transfers() {
	local n
	n=$(grep -vc '^000 ' "$TMP/$1.txt" 2>/dev/null)
	if [ "$n" -eq "$2" ] && [ "$(wc -l <"$TMP/$1.txt")" -eq "$2" ]; then
		hm_ok "$1: curl made $2 transfers, all answered"
	else
		hm_not_ok "$1: curl made $2 transfers, all answered" "$(cat "$TMP/$1.txt" "$TMP/$1.err")"
	fi
}
# exact NAME PORT: the port's row against curl's truth and the server's record.
exact() {
	local got
	got=$(sockh_port_row "$TMP/s.json" "$2")
	sockh_compare "$1: port $2 counted exactly as curl saw it" "$got" "$(sockh_truth_curl "$TMP/$1.txt")"
	sockh_compare "$1: port $2 as the server recorded it" "$got" "$(sockh_truth_server "$TMP/$1.json")"
}
snap() { sleep 0.3; sockh_stat "$TMP/s.json" || { hm_not_ok "hm-stat --json"; hm_done; }; }
# server NAME JQ-CONDITION TEXT: a precondition on the server's record.
server() {
	if jq -e "$2" "$TMP/$1.json" >/dev/null 2>&1; then
		hm_ok "$1: the server $3"
	else
		hm_not_ok "$1: the server $3" "$(jq -c 'del(.routes)' "$TMP/$1.json")"
	fi
}

# mid, afterwards: a fresh request on a new connection is counted.
curl_run mid-after "$P_MID" /mid/after
transfers mid-after 1
snap
jq -r '.joined | "200 \(.sent) \(.received) 0"' "$TMP/mid.client" >"$TMP/mid-joined.txt"
sockh_compare "mid: a fresh connection's request counted exactly too" \
	"$(sockh_port_row "$TMP/s.json" "$P_MID")" "$(sockh_truth_curl "$TMP/mid-after.txt" "$TMP/mid-joined.txt")"
sockh_compare "mid: only the routes of those two" \
	"$(jq -r '[.routes[] | select(.route | startswith("/mid"))] | map("\(.method) \(.route)") | sort | join(", ")' "$TMP/s.json")" \
	"GET /mid/after, GET /mid/joined"

# big: 1 MiB in one write.
curl_run big "$P_BIG" /big/bytes/1048576 --next /big/ok --next /big/bytes/1048576
transfers big 3
snap
server big '.responses == 3 and .write_calls == 3 and .short_writes == 0' \
	"wrote each response with one write(2) call (two of 1 MiB + head)"
exact big "$P_BIG"

# iov: writev of 1,024 buffers.
wc0=$(sockh_mon "$TMP/s.json" sock_window_cut)
curl_run iov "$P_IOV" "/iov/bytes/3000?pad=1000" --next "/iov/bytes/600?pad=1200" --next /iov/bytes/1024 \
	--next "/iov/bytes/5000?pad=1900"
transfers iov 4
snap
server iov '.responses == 4 and .write_calls == 4 and .max_iov == 1024 and .short_writes == 0' \
	"wrote each response with one writev(2) of 1,024 buffers"
exact iov "$P_IOV"
sockh_compare "iov: sock_window_cut stays 0" "sock_window_cut $(sockh_mon "$TMP/s.json" sock_window_cut)" \
	"sock_window_cut $wc0"

# iovnb: the same writev of 1,024 buffers on a non-blocking socket with a
# small send buffer: short writes, each followed by a writev of what is left.
curl_run iovnb "$P_IOVNB" "/iovnb/bytes/600000?pad=1000" --next /iovnb/bytes/800000 --next /iovnb/ok/bytes/5000
transfers iovnb 3
snap
server iovnb '.responses == 3 and .short_writes > 0 and .max_iov == 1024' \
	"wrote with writev(2) of 1,024 buffers, short writes followed by the rest"
exact iovnb "$P_IOVNB"
sockh_compare "iovnb: sock_window_cut stays 0" "sock_window_cut $(sockh_mon "$TMP/s.json" sock_window_cut)" \
	"sock_window_cut $wc0"

# iovr: a request head over 2 KiB read with readv into 1,024 small buffers.
pad=$(head -c 2100 /dev/zero | tr '\0' q)
curl_run iovr "$P_IOVR" -H "X-Pad: $pad" "/iovr/bytes/2000?pad=800" --next -H "X-Pad: $pad" \
	"/iovr/bytes/1500" --next -H "X-Pad: $pad" --data-binary "@$HM_LIB/sockh_server.py" /iovr/bytes/4000
transfers iovr 3
snap
server iovr '.responses == 3 and .max_iov == 1024 and .short_writes == 0' \
	"read with readv(2) into 1,024 buffers and wrote with writev(2) of 1,024"
exact iovr "$P_IOVR"
sockh_compare "iovr: sock_window_cut stays 0" "sock_window_cut $(sockh_mon "$TMP/s.json" sock_window_cut)" \
	"sock_window_cut $wc0"

# readv0: readv into an empty first buffer, then 64 KiB.
curl_run readv0 "$P_RV0" /rv0/ok --next /rv0/ok --next /rv0/missing
transfers readv0 3
snap
exact readv0 "$P_RV0"

# crlf: empty lines before a request line (RFC 9112 2.2: a server ignores
# them), at the start of a connection and after a POST's body.
if sockh_in_ns timeout 20 "$PY" "$HM_LIB/sockh_client.py" crlf --port "$P_CRLF" >"$TMP/crlf.client" 2>&1 &&
	[ "$(jq -r .responses "$TMP/crlf.client")" = 3 ]; then
	hm_ok "crlf: 3 requests, empty lines before the first and after the POST's body, all answered"
else
	hm_not_ok "crlf: the client" "$(cat "$TMP/crlf.client")"
fi
snap
sockh_compare "crlf: port $P_CRLF as the server recorded it" "$(sockh_port_row "$TMP/s.json" "$P_CRLF")" \
	"$(sockh_truth_server "$TMP/crlf.json")"
sockh_compare "crlf: port $P_CRLF as the client saw it" \
	"$(sockh_port_row "$TMP/s.json" "$P_CRLF" | awk '{ print $1, $2, $3, $4, $15, $16, $17, $18 }')" \
	"$(jq -r '"requests 3 responses \(.responses) bytes_in \(.sent) bytes_out \(.received)"' "$TMP/crlf.client")"

# byte: one byte per recv.
head -c 1500 /dev/urandom | base64 -w 0 >"$TMP/byte-body"
curl_run byte "$P_BYTE" /byte/ok --next /byte/missing --next --data-binary "@$TMP/byte-body" /byte/post \
	--next /byte/ok
transfers byte 4
snap
server byte '.read_calls == .bytes_in + 1' "read one byte per recv(2) (and the end of the stream)"
exact byte "$P_BYTE"
for r in "GET /byte/ok" "GET /byte/missing" "POST /byte/post"; do
	sockh_compare "byte: route $r counted exactly" "$(sockh_route_row "$TMP/s.json" "${r% *}" "${r#* }")" \
		"$(sockh_truth_server "$TMP/byte.json" "$r")"
done

# exit: three pipelined requests, one answer, os._exit.
closed0=$(sockh_mon "$TMP/s.json" conns_closed)
live0=$(sockh_mon "$TMP/s.json" conns_live)
if sockh_in_ns timeout 20 "$PY" "$HM_LIB/sockh_client.py" pipeline3 --port "$P_EXIT" \
	/exit/one /exit/two /exit/three >"$TMP/exit.client" 2>&1 &&
	[ "$(jq -r .responses "$TMP/exit.client")" = 1 ]; then
	hm_ok "exit: 3 pipelined requests, 1 response, then the server's end: $(cat "$TMP/exit.client")"
else
	hm_not_ok "exit: the pipelining client" "$(cat "$TMP/exit.client")"
fi
for ((i = 0; i < 50; i++)); do
	kill -0 "$PID_EXIT" 2>/dev/null || break
	sleep 0.1
done
wait "$PID_EXIT" 2>/dev/null
snap
server exit '.requests == 3 and .responses == 1' "read 3 requests and answered 1"
sockh_compare "exit: port $P_EXIT: 3 requests, 1 response, 2 unanswered, as the server recorded it" \
	"$(sockh_port_row "$TMP/s.json" "$P_EXIT")" "$(sockh_truth_server "$TMP/exit.json")"
closed1=$(sockh_mon "$TMP/s.json" conns_closed)
live1=$(sockh_mon "$TMP/s.json" conns_live)
if [[ $closed1 =~ ^[0-9]+$ ]] && [ "$closed1" -gt "$closed0" ] && [ "$live1" = "$live0" ]; then
	hm_ok "exit: the connection's state freed: conns_closed $closed0 -> $closed1, conns_live $live0 -> $live1"
else
	hm_not_ok "exit: the connection's state freed" "conns_closed $closed0 -> $closed1" \
		"conns_live $live0 -> $live1"
fi

# line: no HTTP at all.
ign0=$(sockh_mon "$TMP/s.json" sock_ignored)
if sockh_in_ns timeout 20 "$PY" "$HM_LIB/sockh_client.py" line --port "$P_LINE" --lines 5 \
	--styles json,smtp,memcache,redis >"$TMP/line.client" 2>&1 &&
	[ "$(jq -r .replies "$TMP/line.client")" = 20 ]; then
	hm_ok "line: 4 connections (JSON, SMTP, memcached, Redis inline lines) of 5 lines each, all answered: $(cat "$TMP/line.client")"
else
	hm_not_ok "line: the client" "$(cat "$TMP/line.client")"
fi
snap
sockh_compare "line: port $P_LINE has no row (no requests)" "$(sockh_port_row "$TMP/s.json" "$P_LINE")" none
ign1=$(sockh_mon "$TMP/s.json" sock_ignored)
# Every call that moved bytes on those sockets is one the monitor left alone.
calls=$(jq '.read_calls - .empty_reads + .write_calls' "$TMP/line.json")
if [[ $ign1 =~ ^[0-9]+$ ]] && [ "$ign1" -gt "$ign0" ]; then
	hm_ok "line: sock_ignored grows ($ign0 -> $ign1)"
else
	hm_not_ok "line: sock_ignored grows" "before $ign0, after $ign1"
fi
sockh_compare "line: sock_ignored grows by the server's calls that moved bytes" \
	"sock_ignored +$((ign1 - ign0))" "sock_ignored +$calls"

# msg: recvmsg and sendmsg over several buffers.
head -c 3000 /dev/urandom | base64 -w 0 >"$TMP/msg-body"
curl_run msg "$P_MSG" /msg/ok --next --data-binary "@$TMP/msg-body" /msg/post --next /msg/fail \
	--next /msg/bytes/70000
transfers msg 4
snap
server msg '.responses == 4 and .max_iov == 4 and .short_writes == 0' \
	"read with recvmsg(2) into 4 buffers, wrote with sendmsg(2) of 4"
exact msg "$P_MSG"

# peek: a MSG_PEEK look before every read; the response in four writes.
curl_run peek "$P_PEEK" /pk/bytes/5000 --next /pk/ok --next --data-binary "@$TMP/msg-body" /pk/post \
	--next /pk/missing
transfers peek 4
snap
server peek '.peek_calls >= 4 and .responses == 4 and .write_calls >= 13' \
	"peeked before each read and wrote head and body apart"
exact peek "$P_PEEK"

# sendfile: bodies that never are in user memory.
curl_run sendfile "$P_SF" /sf/bytes/300000 --next /sf/ok --next /sf/bytes/70000 --next /sf/missing
transfers sendfile 4
snap
server sendfile '.sendfile_calls >= 4 and .responses == 4' "sent every body with sendfile(2)"
exact sendfile "$P_SF"

# nonblock: sends that take part of their buffer.
curl_run nonblock "$P_NB" /nb/bytes/1000000 --next /nb/ok --next /nb/bytes/700001
transfers nonblock 3
snap
server nonblock '.short_writes > 0 and .responses == 3' "had short writes (non-blocking, SO_SNDBUF 8 KiB)"
exact nonblock "$P_NB"

# close: responses without a length, ended by the server's close.
curl_run close "$P_CLOSE" /cl/bytes/7000
curl_run close "$P_CLOSE" /cl/missing
curl_run close "$P_CLOSE" /cl/bytes/100000
transfers close 3
snap
server close '.connections == 3 and .responses == 3' "answered 3 connections, each body ended by its close"
exact close "$P_CLOSE"

# continue: an interim 100 before the body is read; not a response, its bytes on the route.
head -c 5000 /dev/urandom | base64 -w 0 >"$TMP/cont-body"
curl_run continue "$P_CONT" -H "Expect: 100-continue" --data-binary "@$TMP/cont-body" /ct/post --next \
	-H "Expect: 100-continue" --data-binary "@$TMP/cont-body" /ct/post --next /ct/ok
transfers continue 3
snap
server continue '.interim == 2 and .responses == 3' "sent two interim 100 Continue"
# curl's size_request leaves out a body sent after a 100: the server's record is the truth.
sockh_compare "continue: port $P_CONT as the server recorded it" "$(sockh_port_row "$TMP/s.json" "$P_CONT")" \
	"$(sockh_truth_server "$TMP/continue.json")"
sockh_compare "continue: route POST /ct/post: 2 responses, the interim bytes on it" \
	"$(sockh_route_row "$TMP/s.json" POST /ct/post)" "$(sockh_truth_server "$TMP/continue.json" "POST /ct/post")"
got=$(awk '{ r += ($1 != "000"); b += $3 + $4 } END { print "responses " r " bytes_out " b }' "$TMP/continue.txt")
sockh_compare "continue: responses and bytes out as curl saw them" \
	"$(sockh_port_row "$TMP/s.json" "$P_CONT" | awk '{ print "responses " $4 " bytes_out " $18 }')" "$got"

# v6: an IPv6 socket with a v4-mapped peer and an IPv6 one.
curl_run v6 "$P_V6" /v6/ok --next /v6/missing
curl_run v6 "$P_V6" -g "http://[::1]:$P_V6/v6/ok" --next -g "http://[::1]:$P_V6/v6/bytes/3000"
transfers v6 4
snap
exact v6 "$P_V6"
got=$(jq -r --argjson p "$P_V6" '[.port_clients[] | select(.port == $p) | "\(.ip)=\(.requests)"] | sort | join(" ")' "$TMP/s.json")
sockh_compare "v6: its clients as 127.0.0.1 (v4-mapped) and ::1" "$got" "127.0.0.1=2 ::1=2"

# counts NAME PORT: requests, responses and status classes against curl's
# lines (when bytes on the wire are not what curl reports), bytes against the server.
counts() {
	local got
	got=$(sockh_port_row "$TMP/s.json" "$2")
	sockh_compare "$1: port $2: requests, responses and status classes as curl saw them" \
		"$(cut -d' ' -f1-14 <<<"$got")" "$(sockh_truth_curl "$TMP/$1.txt" | cut -d' ' -f1-14)"
	sockh_compare "$1: port $2 as the server recorded it" "$got" "$(sockh_truth_server "$TMP/$1.json")"
}

# batch: pipelined requests, every one read so far answered in one write.
b_ok=0
for k in 1 2 3; do
	half=()
	[ "$k" -eq 3 ] && half=(--half-close) # the last: the client's FIN right after its requests
	sockh_in_ns timeout 20 "$PY" "$HM_LIB/sockh_client.py" pipeline --port "$P_BATCH" "${half[@]}" \
		/bt/ok /bt/missing /bt/bytes/3000 /bt/ok /bt/fail /bt/moved >>"$TMP/batch.client" 2>&1 || b_ok=1
done
# Deeper than the pipelining depth the monitor times: 40 in one write.
mapfile -t deep < <(for ((k = 0; k < 40; k++)); do echo "/bt/deep/bytes/$((k * 37))"; done)
sockh_in_ns timeout 20 "$PY" "$HM_LIB/sockh_client.py" pipeline --port "$P_BATCH" "${deep[@]}" \
	>>"$TMP/batch.client" 2>&1 || b_ok=1
if [ "$b_ok" -eq 0 ] && [ "$(jq -s 'map(.responses) | add' "$TMP/batch.client" 2>/dev/null)" = 58 ]; then
	hm_ok "batch: 3 connections of 6 pipelined requests (the last half-closed after them) and one of 40, all answered"
else
	hm_not_ok "batch: the pipelining clients" "$(cat "$TMP/batch.client")"
fi
snap
server batch '.responses == 58 and .batches < .responses' "answered several requests in one write"
sockh_compare "batch: port $P_BATCH as the server recorded it" "$(sockh_port_row "$TMP/s.json" "$P_BATCH")" \
	"$(sockh_truth_server "$TMP/batch.json")"
got=$(jq -s '"requests 58 responses \(map(.responses) | add) bytes_in \(map(.sent) | add) bytes_out \(map(.received) | add)"' -r "$TMP/batch.client")
sockh_compare "batch: port $P_BATCH as the clients saw it" \
	"$(sockh_port_row "$TMP/s.json" "$P_BATCH" | awk '{ print $1, $2, $3, $4, $15, $16, $17, $18 }')" "$got"

# early: a 413 before the body is read, then the close; the body never read.
head -c 300000 /dev/zero | tr '\0' a >"$TMP/early-body"
curl_run early "$P_EARLY" --data-binary "@$TMP/early-body" /ea/toolarge
curl_run early "$P_EARLY" /ea/ok
# The same, the body read after the 413 on a connection kept, then more requests.
curl_run early "$P_EARLY" --data-binary "@$TMP/early-body" /ea/toolarge-drain --next /ea/ok --next \
	--data-binary "@$TMP/early-body" /ea/toolarge-drain --next /ea/missing
transfers early 6
snap
server early '.responses == 6 and .requests == 6 and .status["4xx"] == 4' \
	"answered 413 three times before reading the body (closing once, reading it after twice), 404 once"
sockh_compare "early: port $P_EARLY as the server recorded it (what it read)" \
	"$(sockh_port_row "$TMP/s.json" "$P_EARLY")" "$(sockh_truth_server "$TMP/early.json")"

# head: HEAD (a length, no body), 204 (neither), a chunked body written in
# three pieces, then a plain request on the same connection.
curl_run head "$P_HEAD" -I /hd/ok --next /hd/empty --next /hd/chunked/bytes/5000 --next /hd/ok \
	--next -I /hd/bytes/9000 --next /hd/chunked/ok --next /hd/ok
transfers head 7
snap
counts head "$P_HEAD"

# splicew: response bodies written into the socket from a pipe with splice(2).
curl_run splicew "$P_SPLW" /sw/bytes/300000 --next /sw/ok --next /sw/missing --next /sw/bytes/70000
transfers splicew 4
snap
server splicew '.splice_calls >= 2 and .responses == 4' "wrote the bodies with splice(2) from a pipe"
exact splicew "$P_SPLW"

# splicer: request bodies moved from the socket into a pipe with splice(2),
# never through a read into user memory; the requests after each body are
# read as usual, so a body not counted would swallow them.  (Bodies under
# 64 KiB: curl counts a larger one apart from its size_request.)
head -c 30000 /dev/urandom | base64 -w 0 >"$TMP/splice-body"
head -c 45000 /dev/urandom | base64 -w 0 >"$TMP/splice-body2"
curl_run splicer "$P_SPLR" /sr/ok --next --data-binary "@$TMP/splice-body" /sr/post \
	--next /sr/ok --next --data-binary "@$TMP/splice-body2" /sr/post2 --next /sr/missing
transfers splicer 5
snap
server splicer '.splice_calls >= 2 and .responses == 5' "took the request bodies with splice(2)"
exact splicer "$P_SPLR"

# sendmmsg: bodies written with sendmmsg(2), a call the monitor does not
# record: their bytes counted, not read (sock_read_failed, one per call),
# inside a body where no framing hangs on them.
rf0=$(sockh_mon "$TMP/s.json" sock_read_failed)
curl_run sendmmsg "$P_MM" /mm/bytes/300000 --next /mm/ok --next /mm/missing --next /mm/bytes/70000
transfers sendmmsg 4
snap
server sendmmsg '.sendmmsg_calls >= 4 and .responses == 4' "wrote the bodies with sendmmsg(2)"
exact sendmmsg "$P_MM"
rf1=$(sockh_mon "$TMP/s.json" sock_read_failed)
sockh_compare "sendmmsg: sock_read_failed grows by the server's sendmmsg calls" \
	"sock_read_failed +$((rf1 - rf0))" "sock_read_failed +$(jq .sendmmsg_calls "$TMP/sendmmsg.json")"

# inside: curl itself in the watched cgroup, asking a server in it and one
# outside it: the exchange between two watched processes counted once (the
# server's side), the client's calls as the other role's, nothing for the
# server outside.
# The other role's calls: sock_other_role (sock_client in readers that predate it).
other_role() { local v; v=$(sockh_mon "$1" sock_other_role); [ "$v" = missing ] && v=$(sockh_mon "$1" sock_client); echo "$v"; }
oth0=$(other_role "$TMP/s.json")
# shellcheck disable=SC2016  # expanded by that shell
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$SRV" \
	ip netns exec "$NS" timeout 20 curl -s -o /dev/null -w "$SOCKH_W" "http://127.0.0.1:$P_IN/in/ok" \
	--next -s -o /dev/null -w "$SOCKH_W" "http://127.0.0.1:$P_IN/in/missing" >"$TMP/inside.txt" 2>"$TMP/inside.err"
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$SRV" \
	ip netns exec "$NS" timeout 20 curl -s -o /dev/null -w "$SOCKH_W" "http://127.0.0.1:$P_OUT/out/ok" \
	>"$TMP/outside.txt" 2>"$TMP/outside.err"
transfers inside 2
transfers outside 1
snap
sockh_compare "inside: port $P_IN (client and server both watched) counted once, exactly as curl saw it" \
	"$(sockh_port_row "$TMP/s.json" "$P_IN")" "$(sockh_truth_curl "$TMP/inside.txt")"
sockh_compare "inside: port $P_OUT (its server not watched, its client watched) has no row" \
	"$(sockh_port_row "$TMP/s.json" "$P_OUT")" none
oth1=$(other_role "$TMP/s.json")
if [[ $oth1 =~ ^[0-9]+$ ]] && [[ $oth0 =~ ^[0-9]+$ ]] && [ "$oth1" -gt "$oth0" ]; then
	hm_ok "inside: sock_other_role grows with the watched client's calls ($oth0 -> $oth1)"
else
	hm_not_ok "inside: sock_other_role grows with the watched client's calls" "before $oth0, after $oth1"
fi

# lat: the server's own time, read to write, at least the second it waits
# and at most what curl waited for the first byte.
sockh_in_ns timeout 20 curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' \
	"http://127.0.0.1:$P_LAT/lat/slow" >"$TMP/lat.txt" 2>"$TMP/lat.err"
snap
read -r code ttfb <"$TMP/lat.txt"
got=$(jq -r --argjson p "$P_LAT" '[.ports[] | select(.port == $p)] | first // {} | "\(.responses // 0) \(.latency_us.min // 0) \(.latency_us.max // 0)"' "$TMP/s.json")
read -r n lmin lmax <<<"$got"
if [ "$code" = 200 ] && [ "$n" = 1 ] && awk -v a="$lmin" -v b="$lmax" -v t="$ttfb" \
	'BEGIN { exit !(a >= 1000000 && b <= t * 1000000) }'; then
	hm_ok "lat: latency $lmin us: at least the server's 1 s wait, at most curl's $ttfb s to the first byte"
else
	hm_not_ok "lat: latency between the server's 1 s wait and curl's time to the first byte" \
		"hm-stat: responses $n latency min $lmin max $lmax us" "curl: $code, first byte after $ttfb s"
fi

# twins: the same port in two namespaces, clients from the same port: two
# connections with the same endpoints, at the same time.  The one of $NS
# ends while the other's request waits for its (slow) answer.
NS2=${NS}2
if ip netns add "$NS2" && ip -n "$NS2" link set lo up; then
	hm_ok "twins: a second namespace $NS2"
else
	hm_not_ok "twins: a second namespace $NS2"
fi
sockh_server_start twin1 "$SRV" --port "$P_TWIN"
SOCKH_SERVER_NS=$NS2 sockh_server_start twin2 "$SRV" --port "$P_TWIN"
sockh_server_wait twin1
sockh_server_wait twin2
ip netns exec "$NS2" timeout 20 curl --local-port 41235 -s -o /dev/null -w "$SOCKH_W" \
	"http://127.0.0.1:$P_TWIN/tw/slow" >"$TMP/twin2.txt" 2>"$TMP/twin2.err" &
twin_client=$!
sleep 0.4
sockh_in_ns timeout 20 curl --local-port 41235 -s -o /dev/null -w "$SOCKH_W" \
	"http://127.0.0.1:$P_TWIN/tw/fast" >"$TMP/twin1.txt" 2>"$TMP/twin1.err"
wait "$twin_client"
cat "$TMP/twin1.txt" "$TMP/twin2.txt" >"$TMP/twins.txt"
transfers twins 2
snap
got=$(sockh_port_row "$TMP/s.json" "$P_TWIN")
sockh_compare "twins: port $P_TWIN counted exactly as curl saw it (two namespaces, same endpoints)" "$got" \
	"$(sockh_truth_curl "$TMP/twins.txt")"

# Process rows: each server's own (the exit server's outlives it).
if sockh_procs "$TMP/procs.json" 2>"$TMP/procs.err"; then
	for name in big iov iovr byte exit msg peek sendfile nonblock close continue v6 batch early head \
		splicew splicer sendmmsg iovnb inside lat readv0 crlf twin1 twin2; do
		sockh_compare "$name: its process row as the server recorded it" \
			"$(sockh_proc_row "$TMP/procs.json" "$(jq -r .pid "$TMP/$name.json")")" \
			"$(sockh_proc_truth "$name" "$SRV" "$(sockh_truth_server "$TMP/$name.json")")"
	done
	sockh_compare "mid: its process row holds the joined and the fresh request only" \
		"$(sockh_proc_row "$TMP/procs.json" "$(jq -r .pid "$TMP/mid.json")")" \
		"$(sockh_proc_truth mid "$SRV" "$(sockh_truth_curl "$TMP/mid-after.txt" "$TMP/mid-joined.txt")")"
	sockh_compare "outside: no process row" \
		"$(sockh_proc_row "$TMP/procs.json" "$(jq -r .pid "$TMP/outside.json")")" none
	sockh_compare "inside: no process row for the watched curl (a client)" \
		"curl rows $(jq '[.processes[]? | select(.comm == "curl")] | length' "$TMP/procs.json")" "curl rows 0"
	sockh_compare "line: no process row" \
		"$(sockh_proc_row "$TMP/procs.json" "$(jq -r .pid "$TMP/line.json")")" none
else
	hm_not_ok "hm-stat --source socket --by process --json" "$(cat "$TMP/procs.err")"
fi

# Nothing orphaned, anywhere in the cgroup.
sockh_compare "no orphan responses, no window cut" \
	"orphan_responses $(sockh_mon "$TMP/s.json" orphan_responses) sock_window_cut $(sockh_mon "$TMP/s.json" sock_window_cut)" \
	"orphan_responses 0 sock_window_cut 0"

hm_done
