#!/usr/bin/env bash
# test_sockets_clients.sh - end to end: the socket source's two roles,
# hm-load --sockets --clients, on loopback.
#
# A network namespace of the test's own holds only lo: tests/lib/origin.py
# on 127.0.0.1 (its --stats record: what it read and wrote), and
# tests/lib/client.py (its own record: every byte it sent and received and
# each request's first-byte latency) as the client, both on this host, so
# the socket programs see both ends of every connection.  Checks:
#  - the server set (PIN/sockets) counts the origin's side exactly as the
#    origin recorded it, and the client set (PIN/sockets-client) the
#    client's side exactly as the client recorded it: requests, responses,
#    status classes, bytes; each once, not twice;
#  - the client set's latency is the client's own: from the write of the
#    request to the read of the response, inside the client's measure
#    (taken just outside those calls) by at most 1 ms on average;
#  - the server set's latency (the origin's own time) is not longer than
#    the client's;
#  - the client set's process row is client.py's (pid, comm, role client);
#  - each set left the other role's connections alone (sock_other_role);
#  - hm-load --sockets without --clients removes the client set.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter python3 jq
hm_require_build httpmon_sock.o hm-load hm-stat
hm_e2e_init sc sockets-clients
# No lab: one namespace with lo only, named like the lab prefix.
NS=$P
PORT=18391

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	"$HM_BUILD/hm-load" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	return 0
}
# Namespaces of earlier runs whose process is gone.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hm-sc[0-9]+$'); do
	kill -0 "${ns#hm-sc}" 2>/dev/null || ip netns del "$ns"
done

if ip netns add "$NS" && ip -n "$NS" link set lo up; then
	hm_ok "namespace $NS with lo only"
else
	hm_not_ok "namespace $NS"
	hm_done
fi
if out=$("$HM_BUILD/hm-load" --sockets --clients --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --sockets --clients (pins in $PIN)"
else
	hm_not_ok "hm-load --sockets --clients" "$out"
	hm_done
fi
hm_origin_up "$NS" "$TMP/origin.out" --seed 7 --max-delay-ms 3 --listen "127.0.0.1:$PORT" \
	--stats "$TMP/origin.json"

# Two keep-alive connections, then one request per connection: 60 requests,
# every status class the origin gives, a 40 KB body.
ip netns exec "$NS" python3 "$HM_LIB/client.py" --target "127.0.0.1:$PORT" --requests 40 \
	--connections 2 --paths '/status/200,/status/404,/status/500,/bytes/40000,/status/302' \
	--out "$TMP/client1.json" >"$TMP/client1.err" 2>&1 &
CLIENT1=$!
wait "$CLIENT1"
rc1=$?
ip netns exec "$NS" python3 "$HM_LIB/client.py" --target "127.0.0.1:$PORT" --requests 20 \
	--connections 2 --close --paths '/status/200,/delay/5' --out "$TMP/client2.json" \
	>"$TMP/client2.err" 2>&1
rc2=$?
if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]; then
	hm_ok "client.py made 60 requests, all answered (pid $CLIENT1 for the first 40)"
else
	hm_not_ok "client.py requests" "$(cat "$TMP/client1.err" "$TMP/client2.err")"
fi
sleep 0.5
stat() { "$HM_BUILD/hm-stat" --pin-path "$PIN" --source "$@"; }
if ! stat socket --json >"$TMP/server.json" || ! stat socket-client --json >"$TMP/client.json" ||
	! stat socket-client --by process --json >"$TMP/client-proc.json"; then
	hm_not_ok "hm-stat reads both sets (--source socket, socket-client)"
	hm_done
fi
kill -TERM "$ORIGIN_PID" 2>/dev/null
wait "$ORIGIN_PID" 2>/dev/null
ORIGIN_PID=

words='"requests \(.requests // 0) responses \(.responses // 0) 2xx \(.status["2xx"] // 0) 3xx \(.status["3xx"] // 0) 4xx \(.status["4xx"] // 0) 5xx \(.status["5xx"] // 0) bytes_in \(.bytes_in // 0) bytes_out \(.bytes_out // 0) unanswered \(.unanswered // 0)"'
row() { # row FILE: the test's port's row in words
	jq -r --argjson p "$PORT" "[.ports[] | select(.port == \$p)] | first // {} | $words" "$1"
}
client_truth=$(jq -s -r --arg p "$PORT" "[.[].per_port[\$p]] |
	{requests: (map(.requests) | add), responses: (map(.responses) | add),
	 status: {\"2xx\": (map(.status[\"2xx\"]) | add), \"3xx\": (map(.status[\"3xx\"]) | add),
	          \"4xx\": (map(.status[\"4xx\"]) | add), \"5xx\": (map(.status[\"5xx\"]) | add)},
	 bytes_in: (map(.bytes_in) | add), bytes_out: (map(.bytes_out) | add), unanswered: 0} |
	$words" "$TMP/client1.json" "$TMP/client2.json")
server_truth=$(jq -r --argjson p "$PORT" "[.[] | select(.port == \$p)] |
	{requests: (map(.requests) | add), responses: (map(.responses) | add),
	 status: {\"2xx\": (map(.status[\"2xx\"]) | add), \"3xx\": (map(.status[\"3xx\"]) | add),
	          \"4xx\": (map(.status[\"4xx\"]) | add), \"5xx\": (map(.status[\"5xx\"]) | add)},
	 bytes_in: (map(.bytes_in) | add), bytes_out: (map(.bytes_out) | add), unanswered: 0} |
	$words" "$TMP/origin.json")

got=$(row "$TMP/server.json")
if [ "$got" = "$server_truth" ]; then
	hm_ok "server set: port $PORT exactly as the origin recorded it: $got"
else
	hm_not_ok "server set: port $PORT exactly as the origin recorded it" "hm-stat: $got" \
		"origin:  $server_truth"
fi
got=$(row "$TMP/client.json")
if [ "$got" = "$client_truth" ]; then
	hm_ok "client set: port $PORT exactly as the clients recorded it: $got"
else
	hm_not_ok "client set: port $PORT exactly as the clients recorded it" "hm-stat: $got" \
		"clients: $client_truth"
fi

# Latency: the client set's sits inside the client's own measure.
lat() { # lat FILE: responses, average and max of the port's first-byte latency, in us
	jq -r --argjson p "$PORT" '[.ports[] | select(.port == $p)] | first // {} |
		"\(.responses // 0) \((.latency_us.avg // 0) | floor) \((.latency_us.max // 0) | floor)"' "$1"
}
truth_lat=$(jq -s -r --arg p "$PORT" '[.[].per_port[$p].latency_us] |
	"\(map(.count) | add) \(((map(.sum_us) | add) / (map(.count) | add)) | floor) \(map(.max) | max | floor)"' \
	"$TMP/client1.json" "$TMP/client2.json")
read -r tn tavg tmax <<<"$truth_lat"
read -r cn cavg cmax <<<"$(lat "$TMP/client.json")"
read -r sn savg _ <<<"$(lat "$TMP/server.json")"
if [ "$cn" = "$tn" ] && [ "$cavg" -le "$tavg" ] && [ $((tavg - cavg)) -le 1000 ] &&
	[ "$cmax" -le $((tmax + 1000)) ]; then
	hm_ok "client set: latency inside the client's own (avg ${cavg} us vs ${tavg} us, max ${cmax} vs ${tmax} us, $cn samples)"
else
	hm_not_ok "client set: latency inside the client's own by at most 1 ms" \
		"hm-stat: count $cn avg ${cavg} us max ${cmax} us" "client:  count $tn avg ${tavg} us max ${tmax} us"
fi
if [ "$sn" = "$tn" ] && [ "$savg" -le "$cavg" ]; then
	hm_ok "server set: the origin's own time (avg ${savg} us) within the client's (${cavg} us)"
else
	hm_not_ok "server set: latency within the client set's" "server: $sn avg $savg" "client: $cn avg $cavg"
fi

# The process row of the first client: its pid, comm and role.
got=$(jq -r --argjson pid "$CLIENT1" '[.processes[]? | select(.pid == $pid)] | first // {} |
	"\(.comm // "-") \(.role // "-") \(.requests // 0) \(.responses // 0)"' "$TMP/client-proc.json")
if [ "$got" = "python3 client 40 40" ]; then
	hm_ok "client set: client.py's process row (pid $CLIENT1): $got"
else
	hm_not_ok "client set: client.py's process row (pid $CLIENT1)" "got: $got" \
		"want: python3 client 40 40"
fi

mon() { jq -r --arg k "$1" '.monitor[$k] // 0' "$2"; }
if [ "$(mon sock_other_role "$TMP/server.json")" -gt 0 ] && [ "$(mon sock_other_role "$TMP/client.json")" -gt 0 ]; then
	hm_ok "each set left the other role's connections alone (sock_other_role $(mon sock_other_role "$TMP/server.json") and $(mon sock_other_role "$TMP/client.json"))"
else
	hm_not_ok "each set left the other role's connections alone" \
		"server set $(mon sock_other_role "$TMP/server.json"), client set $(mon sock_other_role "$TMP/client.json")"
fi

if out=$("$HM_BUILD/hm-load" --sockets --pin-path "$PIN" 2>&1) && [ -d "$PIN/sockets" ] &&
	[ ! -e "$PIN/sockets-client" ]; then
	hm_ok "hm-load --sockets without --clients removes the client set"
else
	hm_not_ok "hm-load --sockets without --clients removes the client set" "$out" "$(ls "$PIN")"
fi

hm_done
