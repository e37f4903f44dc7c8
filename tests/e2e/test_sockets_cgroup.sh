#!/usr/bin/env bash
# test_sockets_cgroup.sh - the socket source's scope: hm-load --sockets
# --cgroup counts the processes of one cgroup subtree and nothing else;
# without --cgroup, every process.
#
# Servers (tests/lib/sockh_server.py: plain recv / sendall), each moved
# into a cgroup v2 directory of its own ($CG2/hm-sc-<pid>/a, /b, /a/inner,
# /b/moved, /b/late, /b/wide) before it runs, listen on 127.0.0.1:18211 (a),
# :18212 (b) and :18213-18216 in a network namespace of the test's own;
# curl clients in the namespace send known requests to them.  With
# `hm-load --sockets --cgroup .../a`:
#  - a's port and route rows equal what curl reports (-w http_code,
#    size_request, size_header + size_download), and the server's own record;
#  - a third server in a/inner (below the scope's directory) is counted
#    exactly too, with its process row's cgroup path .../a/inner;
#  - b's port has no row, its routes none;
#  - a server in b/moved, not counted, moved into a/moved while it runs:
#    its requests after the move counted exactly, its process row with the
#    new cgroup;
#  - a server in b/late moved into a/late while a request's body is on its
#    way on a keep-alive connection: the request after it on that
#    connection is counted;
#  - a's process row (hm-stat --source socket --by process) has the server's
#    pid, comm and cgroup path as /proc/PID says, its cgroup id (the
#    directory's inode), role server, and the same counts;
#  - hm-load --status --json: cgroup_filter true.
# Then `hm-load --sockets` again without --cgroup (host-wide): cgroup_filter
# false, new requests to b are counted exactly (port, routes, process row
# with b's pid and cgroup), and a's rows are unchanged; a keep-alive
# connection to b/wide whose request body was on its way when the scope
# widened has the request after the body counted.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/sockh.sh
. "$HM_LIB/sockh.sh"

sockh_init sc
PA=18211
PB=18212
PI=18213
PM=18214
PL=18215
PW=18216
LOAD=$HM_BUILD/hm-load

sockh_server_start a "$CGD/a" --port "$PA"
PID_A=$SERVER_PID
sockh_server_start b "$CGD/b" --port "$PB"
PID_B=$SERVER_PID
sockh_server_start inner "$CGD/a/inner" --port "$PI"
PID_I=$SERVER_PID
sockh_server_start moved "$CGD/b/moved" --port "$PM"
PID_M=$SERVER_PID
sockh_server_wait a
sockh_server_wait b
sockh_server_wait inner
sockh_server_start late "$CGD/b/late" --port "$PL"
PID_L=$SERVER_PID
sockh_server_start wide "$CGD/b/wide" --port "$PW"
sockh_server_wait moved
sockh_server_wait late
sockh_server_wait wide

if out=$("$LOAD" --sockets --cgroup "$CGD/a" --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --sockets --cgroup ${CGD#"$CG2"}/a (pins in $PIN)"
else
	hm_not_ok "hm-load --sockets --cgroup ${CGD#"$CG2"}/a" "$out"
	hm_done
fi
got=$("$LOAD" --status --json --pin-path "$PIN" | jq -c '.sockets | {programs, cgroup_filter}')
sockh_compare "--status --json with --cgroup" "$got" '{"programs":5,"cgroup_filter":true}'

# curl_run TRUTH PORT PATH...: one curl process, one connection, a transfer
# per PATH ("POST:/path" posts a 3000-byte body); a truth line per transfer.
head -c 2250 /dev/urandom | base64 -w 0 >"$TMP/body.txt"
curl_run() {
	local truth=$1 port=$2 p args=()
	shift 2
	for p in "$@"; do
		if [[ $p == POST:* ]]; then
			args+=(--data-binary "@$TMP/body.txt" "http://127.0.0.1:$port${p#POST:}")
		else
			args+=("http://127.0.0.1:$port$p")
		fi
		args+=(-s -o /dev/null -w "$SOCKH_W" --next)
	done
	unset 'args[${#args[@]}-1]'
	sockh_in_ns timeout 30 curl "${args[@]}" >>"$truth" 2>>"$TMP/curl.err"
}
A_PATHS=(/sca/ok /sca/ok /sca/missing /sca/ok /sca/fail /sca/moved POST:/sca/post /sca/ok
	POST:/sca/post /sca/missing)
B_PATHS=(/scb/ok /scb/missing /scb/ok POST:/scb/post /scb/fail)
curl_run "$TMP/a1.txt" "$PA" "${A_PATHS[@]}" &
c1=$!
curl_run "$TMP/b1.txt" "$PB" "${B_PATHS[@]}" &
c2=$!
wait "$c1"
r1=$?
wait "$c2"
r2=$?
curl_run "$TMP/a1.txt" "$PA" /sca/ok /sca/ok /sca/fail # a second connection
r3=$?
curl_run "$TMP/i1.txt" "$PI" /sci/ok /sci/missing /sci/ok
r4=$?
n=$(cat "$TMP/a1.txt" "$TMP/b1.txt" | wc -l)
n=$((n + $(wc -l <"$TMP/i1.txt")))
if [ "$r1$r2$r3$r4" = 0000 ] && [ "$n" -eq 21 ] && ! grep -q '^000 ' "$TMP/a1.txt" "$TMP/b1.txt" "$TMP/i1.txt"; then
	hm_ok "curl: 13 transfers to a on 2 connections, 5 to b, 3 to a/inner, all answered"
else
	hm_not_ok "curl transfers" "exits $r1 $r2 $r3 $r4, $n lines" "$(cat "$TMP/curl.err")"
fi
sleep 0.3
sockh_stat "$TMP/s1.json" || { hm_not_ok "hm-stat --json"; hm_done; }

truth=$(sockh_truth_curl "$TMP/a1.txt")
sockh_compare "cgroup a: port $PA counted exactly as curl saw it" "$(sockh_port_row "$TMP/s1.json" "$PA")" "$truth"
sockh_compare "cgroup a: port $PA as the server recorded it" "$(sockh_port_row "$TMP/s1.json" "$PA")" \
	"$(sockh_truth_server "$TMP/a.json")"
# Routes: curl's lines in the order of the paths, per route.
route_truth() { # FILE PATH...: curl's words for the transfers to PATH...
	local file=$1
	shift
	local want=" $* "
	awk -v paths="${A_PATHS[*]} /sca/ok /sca/ok /sca/fail" -v want="$want" '
		BEGIN { n = split(paths, p, " ") }
		{ k++; if (index(want, " " p[k] " ")) print }' "$file" | sockh_truth_curl /dev/stdin
}
for r in GET:/sca/ok GET:/sca/missing GET:/sca/fail GET:/sca/moved POST:/sca/post; do
	m=${r%%:*}
	path=${r#*:}
	if [ "$m" = POST ]; then sel=$r; else sel=$path; fi
	sockh_compare "cgroup a: route $m $path counted exactly" \
		"$(sockh_route_row "$TMP/s1.json" "$m" "$path")" "$(route_truth "$TMP/a1.txt" "$sel")"
done
sockh_compare "cgroup a/inner (below the scope's directory): port $PI counted exactly as curl saw it" \
	"$(sockh_port_row "$TMP/s1.json" "$PI")" "$(sockh_truth_curl "$TMP/i1.txt")"
sockh_compare "cgroup b (outside the scope): no row for port $PB" "$(sockh_port_row "$TMP/s1.json" "$PB")" none
got=$(jq -r '[.routes[] | select(.route | startswith("/scb"))] | length' "$TMP/s1.json")
sockh_compare "cgroup b: no route of its paths" "routes $got" "routes 0"

# A server moved into the scope while it runs: counted from then on.
curl_run "$TMP/m0.txt" "$PM" /scm/ok /scm/ok
sleep 0.3
sockh_stat "$TMP/s-m0.json"
sockh_compare "cgroup b/moved (outside the scope): no row for port $PM" "$(sockh_port_row "$TMP/s-m0.json" "$PM")" none
mkdir -p "$CGD/a/moved" && echo "$PID_M" >"$CGD/a/moved/cgroup.procs"
if grep -qx "0::${CGD#"$CG2"}/a/moved" "/proc/$PID_M/cgroup"; then
	hm_ok "server moved (pid $PID_M) moved into ${CGD#"$CG2"}/a/moved"
else
	hm_not_ok "server moved into ${CGD#"$CG2"}/a/moved" "$(cat "/proc/$PID_M/cgroup")"
fi
curl_run "$TMP/m1.txt" "$PM" /scm/ok /scm/missing /scm/ok
if [ "$(grep -vc '^000 ' "$TMP/m0.txt" "$TMP/m1.txt" | awk -F: '{ s += $2 } END { print s }')" -eq 5 ]; then
	hm_ok "curl: 2 transfers to moved before its move, 3 after, all answered"
else
	hm_not_ok "curl transfers to moved" "$(cat "$TMP/m0.txt" "$TMP/m1.txt" "$TMP/curl.err")"
fi
sleep 0.3
sockh_stat "$TMP/s-m1.json"
sockh_compare "cgroup a/moved: port $PM counts the requests after the move, exactly as curl saw them" \
	"$(sockh_port_row "$TMP/s-m1.json" "$PM")" "$(sockh_truth_curl "$TMP/m1.txt")"

# A server moved into the scope in the middle of a request's body, on a
# keep-alive connection: what follows the body on that connection counted.
sockh_in_ns timeout 60 "$PY" "$HM_LIB/sockh_client.py" mid --port "$PL" --body 200000 \
	--ready "$TMP/late.ready" --go "$TMP/late.go" --go2 "$TMP/late.go2" >"$TMP/late.client" 2>&1 &
late_client=$!
ok=1
wait_line() { # FILE TEXT
	local i
	for ((i = 0; i < 200; i++)); do
		grep -qx "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
wait_line "$TMP/late.ready" part1 || ok=0
mkdir -p "$CGD/a/late" && echo "$PID_L" >"$CGD/a/late/cgroup.procs" || ok=0
touch "$TMP/late.go"
wait_line "$TMP/late.ready" posted || ok=0
touch "$TMP/late.go2"
wait "$late_client" || ok=0
if [ "$ok" -eq 1 ] && [ "$(jq -c '[.statuses, .joined.status]' "$TMP/late.client" 2>/dev/null)" = "[[200,200],200]" ]; then
	hm_ok "late: a POST's body half sent, the server moved into ${CGD#"$CG2"}/a/late, the rest sent, one more request: all answered"
else
	hm_not_ok "late: the client and the move" "$(cat "$TMP/late.client")"
fi
sleep 0.3
sockh_stat "$TMP/s-late.json"
hm_note "late: sock_ignored $(sockh_mon "$TMP/s-m1.json" sock_ignored) -> $(sockh_mon "$TMP/s-late.json" sock_ignored)," \
	"sock_midstream $(sockh_mon "$TMP/s-m1.json" sock_midstream) -> $(sockh_mon "$TMP/s-late.json" sock_midstream)"
sockh_compare "late: the request after the body on that connection counted" \
	"$(sockh_port_row "$TMP/s-late.json" "$PL")" \
	"$(jq -r '.joined | "requests 1 responses 1 unanswered 0 2xx 1 3xx 0 4xx 0 5xx 0 bytes_in \(.sent) bytes_out \(.received)"' "$TMP/late.client")"

# Process rows, against /proc and the cgroup directory.
if sockh_procs "$TMP/p1.json" 2>"$TMP/p1.err"; then
	sockh_compare "cgroup a: process row: pid, comm, cgroup and counts" \
		"$(sockh_proc_row "$TMP/p1.json" "$PID_A")" \
		"$(sockh_proc_truth a "$CGD/a" "$(sockh_truth_server "$TMP/a.json")")"
	sockh_compare "cgroup a/inner: process row: pid, comm, cgroup and counts" \
		"$(sockh_proc_row "$TMP/p1.json" "$PID_I")" \
		"$(sockh_proc_truth inner "$CGD/a/inner" "$(sockh_truth_server "$TMP/inner.json")")"
	sockh_compare "cgroup b: no process row" "$(sockh_proc_row "$TMP/p1.json" "$PID_B")" none
	want=$(printf 'pid %s comm %s role server cgroup %s cgroup_id %s %s' "$PID_M" \
		"$(jq -r .comm "$TMP/moved.json")" "${CGD#"$CG2"}/a/moved" "$(stat -c %i "$CGD/a/moved")" \
		"$(sockh_truth_curl "$TMP/m1.txt")")
	sockh_compare "cgroup a/moved: process row in its new cgroup, the requests after the move" \
		"$(sockh_proc_row "$TMP/p1.json" "$PID_M")" "$want"
else
	hm_not_ok "hm-stat --source socket --by process --json" "$(cat "$TMP/p1.err")"
fi
# The server's view of itself, for the record.
if [ "$(jq -r .cgroup "$TMP/a.json")" = "${CGD#"$CG2"}/a" ] && [ "$(jq -r .pid "$TMP/a.json")" = "$PID_A" ]; then
	hm_ok "server a runs as pid $PID_A in ${CGD#"$CG2"}/a (its /proc/self/cgroup)"
else
	hm_not_ok "server a runs in its cgroup" "$(jq -c '{pid, cgroup}' "$TMP/a.json")"
fi

# Host-wide now, while a request's body is on its way to b/wide (outside
# the scope until then) on a keep-alive connection.
sockh_in_ns timeout 60 "$PY" "$HM_LIB/sockh_client.py" mid --port "$PW" --body 200000 \
	--ready "$TMP/wide.ready" --go "$TMP/wide.go" --go2 "$TMP/wide.go2" >"$TMP/wide.client" 2>&1 &
wide_client=$!
wait_line "$TMP/wide.ready" part1 || hm_note "wide: the client's first part did not come"
if out=$("$LOAD" --sockets --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --sockets again without --cgroup: every process"
else
	hm_not_ok "hm-load --sockets without --cgroup" "$out"
	hm_done
fi
touch "$TMP/wide.go"
wait_line "$TMP/wide.ready" posted
touch "$TMP/wide.go2"
if wait "$wide_client" &&
	[ "$(jq -c '[.statuses, .joined.status]' "$TMP/wide.client" 2>/dev/null)" = "[[200,200],200]" ]; then
	hm_ok "wide: a POST's body half sent before the scope widened, the rest after, one more request: all answered"
else
	hm_not_ok "wide: the client" "$(cat "$TMP/wide.client")"
fi
sleep 0.3
sockh_stat "$TMP/s-wide.json"
sockh_compare "wide: the request after the body on that connection counted" \
	"$(sockh_port_row "$TMP/s-wide.json" "$PW")" \
	"$(jq -r '.joined | "requests 1 responses 1 unanswered 0 2xx 1 3xx 0 4xx 0 5xx 0 bytes_in \(.sent) bytes_out \(.received)"' "$TMP/wide.client")"
got=$("$LOAD" --status --json --pin-path "$PIN" | jq -c '.sockets | {programs, cgroup_filter}')
sockh_compare "--status --json without --cgroup" "$got" '{"programs":5,"cgroup_filter":false}'
B2_PATHS=(/scb/ok /scb/ok /scb/missing POST:/scb/post /scb/moved /scb/ok)
curl_run "$TMP/b2.txt" "$PB" "${B2_PATHS[@]}"
r1=$?
if [ "$r1" -eq 0 ] && [ "$(grep -vc '^000 ' "$TMP/b2.txt")" -eq 6 ]; then
	hm_ok "curl: 6 transfers to b, all answered"
else
	hm_not_ok "curl transfers to b" "exit $r1" "$(cat "$TMP/curl.err")"
fi
sleep 0.3
sockh_stat "$TMP/s2.json" || { hm_not_ok "hm-stat --json"; hm_done; }
sockh_compare "host-wide: port $PB counted exactly as curl saw it (new requests only)" \
	"$(sockh_port_row "$TMP/s2.json" "$PB")" "$(sockh_truth_curl "$TMP/b2.txt")"
b2_route() { # PATH...: curl's words for the transfers of this round to PATH...
	local want=" $* "
	awk -v paths="${B2_PATHS[*]}" -v want="$want" '
		BEGIN { split(paths, p, " ") }
		{ k++; if (index(want, " " p[k] " ")) print }' "$TMP/b2.txt" | sockh_truth_curl /dev/stdin
}
sockh_compare "host-wide: route GET /scb/ok counted exactly" \
	"$(sockh_route_row "$TMP/s2.json" GET /scb/ok)" "$(b2_route /scb/ok)"
sockh_compare "host-wide: route POST /scb/post counted exactly" \
	"$(sockh_route_row "$TMP/s2.json" POST /scb/post)" "$(b2_route POST:/scb/post)"
sockh_compare "host-wide: port $PA unchanged" "$(sockh_port_row "$TMP/s2.json" "$PA")" \
	"$(sockh_port_row "$TMP/s1.json" "$PA")"
if sockh_procs "$TMP/p2.json" 2>"$TMP/p2.err"; then
	sockh_compare "host-wide: b's process row: pid, comm, cgroup and the new counts" \
		"$(sockh_proc_row "$TMP/p2.json" "$PID_B")" \
		"$(sockh_proc_truth b "$CGD/b" "$(sockh_truth_curl "$TMP/b2.txt")")"
	sockh_compare "host-wide: a's process row still as its server recorded it" \
		"$(sockh_proc_row "$TMP/p2.json" "$PID_A")" \
		"$(sockh_proc_truth a "$CGD/a" "$(sockh_truth_server "$TMP/a.json")")"
else
	hm_not_ok "hm-stat --source socket --by process --json (host-wide)" "$(cat "$TMP/p2.err")"
fi

hm_done
