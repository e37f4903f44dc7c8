#!/usr/bin/env bash
# test_tunnels.sh - end to end: connections that stop speaking HTTP/1.x - CONNECT
# tunnels through a real forward proxy and WebSocket upgrades - and the
# requests that ask for that and are refused.
#
# The lab (tests/lib/netns.sh) with three client namespaces; in the host
# namespace Debian's tinyproxy (configured here: port 3129, CONNECT allowed
# to port 8080 only), tests/lib/origin.py on 8080 and 8888, and a WebSocket
# echo server (tests/lib/ws_peer.py, Debian's python3-websockets) on 8765;
# hm-load on the bridge, so the monitor sees the clients' side of the proxy
# (the proxy reaches the origin over lo).  Each part is read with
# hm-stat --reset --json, so it starts from zero.
#
# 1. Tunnels, at once:
#    - client 1: curl -p -x http://PROXY:3129 URL1 URL2 URL3 - one tunnel,
#      three requests inside it; truth: curl's -w (num_connects,
#      http_connect, size_request, size_header, size_download);
#    - client 2: tests/lib/edge_client.py connect - CONNECT, five requests
#      through the tunnel, every byte it sent and received counted;
#    - client 3: a refused CONNECT: tinyproxy answers 403 to port 8888 and
#      closes; and a CONNECT to the origin itself, which refuses it with 405
#      and keeps the connection, on which two GETs follow.
#    Checks (tunnel: ...): each tunnel is one CONNECT answered 2xx - requests
#    1, responses 1, unanswered 0 - with every payload byte of its
#    connection in bytes_in/bytes_out; refusals are a request and a 4xx
#    response and leave HTTP going (the GETs after the 405 are counted);
#    route _connect with method CONNECT holds the CONNECTs and no route
#    holds a tunnelled request; orphan_responses and unparseable stay 0.
# 2. Upgrades, at once:
#    - client 1: a WebSocket exchange (GET with Upgrade: websocket -> 101,
#      then 20 messages each way - text that looks like HTTP requests and
#      responses, small and larger than the MSS - and three server messages
#      cut by TCP exactly where a fake start line begins), captured with
#      tcpdump on the bridge: the capture is the byte truth;
#    - client 2: an Upgrade request the origin does not accept (it answers
#      as to any GET), then two more requests on that connection.
#    Checks (upgrade: ...): the WebSocket connection is one exchange -
#    requests 1, responses 1 (1xx), unanswered 0 - its bytes those of the
#    capture, unparseable and orphan_responses 0; the refused upgrade's
#    connection is counted as the client saw it.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"
# shellcheck source=tests/lib/rows.sh
. "$HM_LIB/rows.sh"

hm_require_cmds nsenter python3 jq curl timeout tinyproxy tcpdump
hm_require_build httpmon.o hm-load hm-stat
if ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
	hm_skip "$(basename "$0")" "python3-websockets not installed (scripts/deps.sh)"
	exit 77
fi
hm_e2e_init tu tunnels

hm_lab_start "$P" 3 "$TMP/lab.log"
hm_blackhole_add "$P" || hm_not_ok "blackhole route for the lab's addresses in the root namespace"
H=$(hm_host_ip "$P" 4)
C1=$(hm_client_ip "$P" 1)
C2=$(hm_client_ip "$P" 2)
C3=$(hm_client_ip "$P" 3)
PX=3129
WS=8765

hm_origin_up "${P}h" "$TMP/origin.out" --seed 17 --max-delay-ms 2 \
	--listen "$H:8080" --listen "$H:8888"

# tinyproxy in the foreground (-d), its configuration ours.
mkdir -p "$TMP/tinyproxy"
cat >"$TMP/tinyproxy/tinyproxy.conf" <<EOF
Port $PX
Listen $H
Timeout 30
MaxClients 20
Allow 10.231.0.0/16
ConnectPort 8080
DisableViaHeader Yes
LogLevel Info
PidFile "$TMP/tinyproxy/tinyproxy.pid"
EOF
ip netns exec "${P}h" tinyproxy -d -c "$TMP/tinyproxy/tinyproxy.conf" >"$TMP/tinyproxy/log" 2>&1 &
BG_PIDS+=($!)
if hm_wait_port "$P" "$H" "$PX" 10 2>/dev/null; then
	hm_ok "tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}') listens on $H:$PX (CONNECT to port 8080 only)"
else
	hm_not_ok "tinyproxy starts" "$(cat "$TMP/tinyproxy/log")"
	hm_done
fi
ip netns exec "${P}h" /usr/bin/python3 "$HM_LIB/ws_peer.py" server --listen "$H:$WS" \
	>"$TMP/ws-server.out" 2>&1 &
BG_PIDS+=($!)
if hm_wait_line "$TMP/ws-server.out" ready 10; then
	hm_ok "WebSocket echo server (python3-websockets $(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)')) on $H:$WS"
else
	hm_not_ok "WebSocket server starts" "$(cat "$TMP/ws-server.out")"
	hm_done
fi

hm_monitor_up "$P" "$BR" "$PIN"

# interval FILE: hm-stat --reset --json: what was counted since the last one.
interval() {
	"$HM_BUILD/hm-stat" --pin-path "$PIN" --reset --json >"$1" 2>"$TMP/stat.err" ||
		{ hm_not_ok "hm-stat --reset --json" "$(cat "$TMP/stat.err")"; hm_done; }
}
# settle: waits (up to 3 s) until the monitor holds no connection state.
settle() {
	local i
	for ((i = 0; i < 30; i++)); do
		[ "$("$HM_BUILD/hm-stat" --pin-path "$PIN" --json 2>/dev/null | jq -r .monitor.conns_live)" = 0 ] &&
			return 0
		sleep 0.1
	done
	return 1
}
interval "$TMP/before.json"

# ================================================================================
# 1. CONNECT tunnels and refusals
# ================================================================================
CW='%{http_code} %{size_request} %{size_header} %{size_download} %{num_connects} %{http_connect}\n'
hm_in_client "$P" 1 timeout 30 curl -s -p -x "http://$H:$PX" -w "$CW" \
	-o /dev/null "http://$H:8080/?n=1" -o /dev/null "http://$H:8080/status/404" \
	-o /dev/null "http://$H:8080/bytes/20000" >"$TMP/curl.txt" 2>"$TMP/curl.err" &
k1=$!
hm_in_client "$P" 2 timeout 30 python3 "$HM_LIB/edge_client.py" connect --target "$H:$PX" \
	--authority "$H:8080" --paths '/,/status/404,/bytes/30000,/status/500,/?delay=5' \
	--out "$TMP/tunnel.json" >"$TMP/tunnel.log" 2>&1 &
k2=$!
hm_in_client "$P" 3 timeout 30 python3 "$HM_LIB/edge_client.py" connect --target "$H:$PX" \
	--authority "$H:8888" --after / --out "$TMP/refused-proxy.json" >"$TMP/refused-proxy.log" 2>&1 &
k3=$!
hm_in_client "$P" 3 timeout 30 python3 "$HM_LIB/edge_client.py" connect --target "$H:8080" \
	--authority "$H:8080" --after '/status/200,/status/404' --out "$TMP/refused-origin.json" \
	>"$TMP/refused-origin.log" 2>&1 &
k4=$!
wait $k1
rc1=$?
wait $k2
rc2=$?
wait $k3
rc3=$?
wait $k4
rc4=$?

# The clients' own account first.
got=$(awk '{ c += $5 } NR == 1 { h = $6 } END { printf "%d transfers, %d connection, CONNECT answered %s", NR, c, h }' "$TMP/curl.txt")
hm_expect "tunnel: curl -p -x made 3 transfers through one tunnel (truth)" "$rc1: $got" \
	"0: 3 transfers, 1 connection, CONNECT answered 200" "$(cat "$TMP/curl.err")"
got=$(jq -r '"\(.connect_status) \(.tunnel.requests) \(.tunnel.responses) \(.errors | length)"' "$TMP/tunnel.json" 2>/dev/null)
hm_expect "tunnel: edge_client.py's CONNECT answered 200, 5 requests answered through the tunnel (truth)" \
	"$rc2: $got" "0: 200 5 5 0" "$(cat "$TMP/tunnel.log")"
got=$(jq -r '"\(.connect_status) closed by the proxy: \(.closed_by_server)"' "$TMP/refused-proxy.json" 2>/dev/null)
hm_expect "tunnel: tinyproxy refuses CONNECT to port 8888 with 403 and closes (truth)" "$rc3: $got" \
	"0: 403 closed by the proxy: true" "$(cat "$TMP/refused-proxy.log")"
got=$(jq -r '"\(.status_codes | map(tostring) | join(" ")) closed by the origin: \(.closed_by_server)"' "$TMP/refused-origin.json" 2>/dev/null)
hm_expect "tunnel: the origin refuses CONNECT with 405, keeps the connection, answers 2 GETs on it (truth)" \
	"$rc4: $got" "0: 405 200 404 closed by the origin: false" "$(cat "$TMP/refused-origin.log")"

settle
interval "$TMP/p1.json"
S=$TMP/p1.json
# curl's truth: a CONNECT per connection it opened, answered when
# http_connect is not 000; size_request and size_header include the CONNECT
# exchange, so the bytes are everything curl sent and received.
curl_words=$(awk '{ c += $5; bin += $2; bout += $3 + $4 } $6 != "000" { r++; if ($6 ~ /^2/) ok++ }
	END { printf "requests %d responses %d unanswered %d 1xx 0 2xx %d 3xx 0 4xx 0 5xx 0 bytes_in %d bytes_out %d",
		c, r, c - r, ok, bin, bout }' "$TMP/curl.txt")
hm_expect "tunnel: curl's tunnel is one CONNECT answered 2xx (requests 1, responses 1, unanswered 0), its bytes all curl sent and received" \
	"$(hm_row "$S" port_clients port=$PX ip="$C1")" "$curl_words" \
	"curl -w: $(tr '\n' ';' <"$TMP/curl.txt")"
hm_expect "tunnel: a raw CONNECT tunnel is one CONNECT answered 2xx, its bytes every byte the client sent and received" \
	"$(hm_row "$S" port_clients port=$PX ip="$C2")" "$(hm_truth "$TMP/tunnel.json")"
hm_expect "tunnel: refused CONNECT (tinyproxy 403, closed): one request, one 4xx response, bytes exact" \
	"$(hm_row "$S" port_clients port=$PX ip="$C3")" "$(hm_truth "$TMP/refused-proxy.json")"
hm_expect "tunnel: refused CONNECT (origin 405, kept open) is no tunnel: the GETs after it are counted, bytes exact" \
	"$(hm_row "$S" port_clients port=8080 ip="$C3")" "$(hm_truth "$TMP/refused-origin.json")"
hm_expect "tunnel: port $PX as a whole: 3 CONNECTs, 3 responses (2xx 2, 4xx 1), nothing unanswered" \
	"$(hm_row "$S" ports port=$PX | cut -d' ' -f1-16)" \
	"requests 3 responses 3 unanswered 0 1xx 0 2xx 2 3xx 0 4xx 1 5xx 0"
hm_expect "tunnel: route _connect, method CONNECT: the 4 CONNECTs, answered" \
	"$(hm_row "$S" routes method=CONNECT route=_connect | cut -d' ' -f1-6)" \
	"requests 4 responses 4 unanswered 0"
got=$(jq -r '[.routes[] | select(.method != "CONNECT") | "\(.method) \(.route) \(.requests)"] | sort | join(", ")' "$S")
hm_expect "tunnel: no route holds a tunnelled request: only the 2 GETs after the origin's 405" \
	"$got" "GET /status/{id} 2"
hm_expect "tunnel: orphan_responses +0, unparseable +0" \
	"orphan_responses $(hm_mon "$S" orphan_responses) unparseable $(hm_mon "$S" unparseable)" \
	"orphan_responses 0 unparseable 0"

# ================================================================================
# 2. Upgrades: a WebSocket exchange, and an upgrade the server does not take
# ================================================================================
nsenter --net="/run/netns/${P}h" tcpdump -i "$BR" -Z root -U --immediate-mode -B 8192 -w "$TMP/ws.pcap" \
	"tcp port $WS" 2>"$TMP/tcpdump.err" &
TD=$!
BG_PIDS+=("$TD")
for ((i = 0; i < 50; i++)); do
	grep -q listening "$TMP/tcpdump.err" && break
	sleep 0.1
done
hm_in_client "$P" 1 timeout 60 /usr/bin/python3 "$HM_LIB/ws_peer.py" client \
	--uri "ws://$H:$WS/chat" --rounds 4 --out "$TMP/ws.json" >"$TMP/ws.log" 2>&1 &
k1=$!
UPG='Connection: Upgrade|Upgrade: websocket|Sec-WebSocket-Version: 13|Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
hm_in_client "$P" 2 timeout 30 python3 "$HM_LIB/edge_client.py" sequence --target "$H:8080" \
	--req "GET /chat|$UPG" --req 'GET /status/404' --req 'POST /?delay=2' \
	--out "$TMP/upgrade-refused.json" >"$TMP/upgrade-refused.log" 2>&1 &
k2=$!
wait $k1
rc1=$?
wait $k2
rc2=$?
settle
sleep 0.3 # the capture writes what it holds
kill -INT "$TD" 2>/dev/null
wait "$TD" 2>/dev/null
interval "$TMP/p2.json"
S=$TMP/p2.json

got=$(jq -r '"\(.messages_sent) sent, \(.messages_received) received, \(.aligned_received) aligned, errors \(.errors | length)"' "$TMP/ws.json" 2>/dev/null)
hm_expect "upgrade: the WebSocket client exchanged its messages, every echo intact (truth)" "$rc1: $got" \
	"0: 21 sent, 24 received, 3 aligned, errors 0" "$(cat "$TMP/ws.log")"
if cap=$(python3 "$HM_LIB/pcap_sum.py" "$TMP/ws.pcap" --port "$WS" --after-text '101 Switching' \
	--starts 'HTTP/1.,GET ' 2>&1); then
	hm_ok "upgrade: the capture on $BR is complete: $(grep -E 'captured|dropped' "$TMP/tcpdump.err" | tr '\n' ' ')"
else
	hm_not_ok "upgrade: the capture on $BR is complete" "$cap" "$(cat "$TMP/tcpdump.err")"
fi
starts=$(jq -r .server_starts_after <<<"$cap" 2>/dev/null)
if [ "${starts:-0}" -ge 1 ] 2>/dev/null; then
	hm_ok "upgrade: the capture shows $starts server segments after the 101 that begin like an HTTP start line ($(jq -c .server_starts_by_prefix <<<"$cap"))"
else
	hm_not_ok "upgrade: server segments after the 101 begin like an HTTP start line (the case under test)" "$cap"
fi
cap_words=$(jq -r '"requests 1 responses 1 unanswered 0 1xx 1 2xx 0 3xx 0 4xx 0 5xx 0 bytes_in \(.bytes_in) bytes_out \(.bytes_out)"' <<<"$cap" 2>/dev/null)
hm_expect "upgrade: the WebSocket connection is one exchange answered 101 (1xx), its bytes all the capture's payload" \
	"$(hm_row "$S" ports port=$WS)" "$cap_words"
hm_expect "upgrade: a refused upgrade leaves the connection HTTP: the requests after it are counted, bytes exact" \
	"$(hm_row "$S" port_clients port=8080 ip="$C2")" "$(hm_truth "$TMP/upgrade-refused.json")" \
	"client: $(jq -c .status_codes "$TMP/upgrade-refused.json" 2>/dev/null) $(cat "$TMP/upgrade-refused.log")"
hm_expect "upgrade: unparseable +0, orphan_responses +0 (nothing after the 101 is HTTP)" \
	"unparseable $(hm_mon "$S" unparseable) orphan_responses $(hm_mon "$S" orphan_responses)" \
	"unparseable 0 orphan_responses 0"

hm_done
