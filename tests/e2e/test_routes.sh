#!/usr/bin/env bash
# test_routes.sh - end to end: per-route metrics against what real clients
# sent and received.
#
# 1. The gist's scenario: --group-by query:s, curl '/x?s=yo' twice and
#    '/x?s=yo2' once: yo has 2 requests and yo2 1, with exactly the bytes
#    curl reports sending and receiving.
# 2. An 8 KiB URL sent over a 576-byte MTU with segmentation offloads off on
#    the client, so the request line spans many segments: it lands in its
#    route.
# 3. --group-by path:3: many distinct numeric ids collapse into one route;
#    then --max-routes caps the labels: a flood of distinct names lands in
#    _other while the first routes keep counting.
# 4. Pipelined requests on keep-alive connections to two routes land in
#    their own routes, and route totals add up to the client totals.
# Routes are read with hm-stat --json ("routes") and, independently, straight
# from the pinned maps with bpftool.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq curl timeout
hm_require_build httpmon.o hm-load hm-stat hm-reset
hm_e2e_init ro routes

if ! hm_lab_up "$P" 1 >"$TMP/lab.log" 2>&1; then
	hm_not_ok "lab up" "$(cat "$TMP/lab.log")"
	hm_done
fi
H4=$(hm_host_ip "$P" 4)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 7 --max-delay-ms 2 \
	--listen "$H4:8080"

load() {
	hm_monitor_up "$P" "$BR" "$PIN" "$@"
}
stat_json() { "$HM_BUILD/hm-stat" --pin-path "$PIN" --json; }
# --routes: the grouping changes between the parts, so the labels start over too.
reset() { "$HM_BUILD/hm-reset" --routes --pin-path "$PIN" >/dev/null; }

# route_field METHOD ROUTE FIELD: that route's field in hm-stat's JSON ("" when absent).
route_field() {
	stat_json | jq -r --arg m "$1" --arg r "$2" --arg f "$3" \
		'[.routes[] | select(.method == $m and .route == $r)][0][$f] // empty'
}

# curl_once URL: runs curl in the client and prints "request_bytes response_bytes status".
curl_once() {
	hm_in_client "$P" 1 curl -s -o /dev/null --max-time 10 \
		-w '%{size_request} %{size_header} %{size_download} %{http_code}\n' "$1" |
		awk '{ print $1, $2 + $3, $4 }'
}

# -- 1. the gist: --group-by query:s -------------------------------------------
load --group-by query:s
in_yo=0 out_yo=0 in_yo2=0 out_yo2=0
for url in "x?s=yo" "x?s=yo" "x?s=yo2"; do
	read -r req resp _ < <(curl_once "http://$H4:8080/$url")
	if [ "$url" = "x?s=yo" ]; then
		in_yo=$((in_yo + req)) out_yo=$((out_yo + resp))
	else
		in_yo2=$((in_yo2 + req)) out_yo2=$((out_yo2 + resp))
	fi
done
hm_check "yo: 2 requests" test "$(route_field GET yo requests)" = 2
hm_check "yo: 2 responses" test "$(route_field GET yo responses)" = 2
hm_check "yo: bytes_in = curl's request bytes ($in_yo)" test "$(route_field GET yo bytes_in)" = "$in_yo"
hm_check "yo: bytes_out = curl's response bytes ($out_yo)" test "$(route_field GET yo bytes_out)" = "$out_yo"
hm_check "yo2: 1 request" test "$(route_field GET yo2 requests)" = 1
hm_check "yo2: bytes_in ($in_yo2) and bytes_out ($out_yo2)" \
	test "$(route_field GET yo2 bytes_in) $(route_field GET yo2 bytes_out)" = "$in_yo2 $out_yo2"

# the same numbers straight from the pinned maps, without hm-stat
bpftool_yo=$(python3 - "$PIN" <<'EOF'
import json, subprocess, sys
pin = sys.argv[1]
ids = json.loads(subprocess.check_output(["bpftool", "-j", "map", "dump", "pinned", pin + "/hm_route_ids"]))
rid = None
for e in ids:
    f = e.get("formatted", {})
    k = f.get("key", {})
    label = k.get("label")
    if isinstance(label, list):
        label = "".join(chr(c) for c in label if c)
    if label == "yo":
        rid = f["value"]["id"]
rows = json.loads(subprocess.check_output(["bpftool", "-j", "map", "lookup", "pinned", pin + "/hm_routes",
                                           "key"] + [str(b) for b in rid.to_bytes(4, "little")]))
vals = rows.get("formatted", rows)["values"]
print(sum(v["value"]["requests"] for v in vals))
EOF
)
hm_check "bpftool: hm_route_ids names 'yo', hm_routes has its 2 requests" test "$bpftool_yo" = 2

# -- 2. an 8 KiB URL over many small segments -----------------------------------
reset
load --group-by path
hm_in_client "$P" 1 ip link set eth0 mtu 576
hm_offload_off "$P" 1 || hm_note "ethtool missing: offloads left on"
long=$(python3 -c 'print("/api/items/" + "".join(str(i % 10) for i in range(8100)))')
read -r req resp code < <(curl_once "http://$H4:8080$long")
hm_check "8 KiB URL answered ($code)" test -n "$code"
hm_check "8 KiB URL over 576-byte MTU lands in GET /api/items" \
	test "$(route_field GET /api/items requests)" = 1
hm_check "its bytes_in are curl's $req" test "$(route_field GET /api/items bytes_in)" = "$req"
hm_in_client "$P" 1 ip link set eth0 mtu 1500

# -- 3. id collapse, then the cardinality cap -------------------------------------
reset
load --group-by path:3 --max-routes 12
for i in $(seq 1 40); do echo "/api/users/$((RANDOM * 1000 + i))"; done | paste -sd, >"$TMP/ids"
hm_in_client "$P" 1 python3 "$HM_LIB/client.py" --target "$H4:8080" --requests 40 --connections 4 \
	--paths "$(cat "$TMP/ids")" --out "$TMP/ids.json" --max-seconds 30 >/dev/null 2>&1 ||
	hm_not_ok "client for ids"
hm_check "40 distinct ids are one route GET /api/users/{id}" \
	test "$(route_field GET '/api/users/{id}' requests)" = 40
hm_check "... with all 40 responses" test "$(route_field GET '/api/users/{id}' responses)" = 40
# 12 named routes: /api/users/{id} and 11 more labels (_other and _unknown come on top)
names=$(for i in $(seq 1 60); do printf '/flood/n%s,' "$(printf '%s' "$i" | tr 0-9 a-j)"; done)
hm_in_client "$P" 1 python3 "$HM_LIB/client.py" --target "$H4:8080" --requests 60 --connections 2 \
	--paths "${names%,}" --out "$TMP/flood.json" --max-seconds 30 >/dev/null 2>&1 ||
	hm_not_ok "client for the flood"
hm_in_client "$P" 1 python3 "$HM_LIB/client.py" --target "$H4:8080" --requests 10 --connections 1 \
	--paths "/api/users/1" --out "$TMP/more.json" --max-seconds 30 >/dev/null 2>&1
hm_check "the first route keeps counting after the cap (50)" \
	test "$(route_field GET '/api/users/{id}' requests)" = 50
flood_named=$(stat_json | jq '[.routes[] | select(.route | startswith("/flood/")) | .requests] | add // 0')
flood_other=$(stat_json | jq '[.routes[] | select(.route == "_other") | .requests] | add // 0')
hm_check "11 flood labels kept, the other 49 in _other ($flood_named + $flood_other)" \
	test "$flood_named $flood_other" = "11 49"
hm_check "the monitor says how many went to _other (routes_full)" \
	test "$(stat_json | jq '.monitor.routes_full')" = 49

# -- 4. pipelined requests, route totals vs client totals -----------------------------
reset
load --group-by path --max-routes 1022
hm_in_client "$P" 1 python3 "$HM_LIB/client.py" --target "$H4:8080" --requests 60 --connections 3 --pipeline 5 \
	--paths "/a/1,/b,/a/22" --out "$TMP/pipe.json" --max-seconds 30 >/dev/null 2>&1 ||
	hm_not_ok "pipelined client"
truth=$(jq -r '.total | "\(.requests) \(.bytes_in) \(.bytes_out)"' "$TMP/pipe.json")
hm_check "pipelined: GET /a/{id} has 40 requests" test "$(route_field GET '/a/{id}' requests)" = 40
hm_check "pipelined: GET /b has 20 requests and 20 responses" \
	test "$(route_field GET /b requests) $(route_field GET /b responses)" = "20 20"
routes_sum=$(stat_json | jq -r '[.routes[] | select(.route != "_unknown")] |
	"\(map(.requests) | add) \(map(.bytes_in) | add) \(map(.bytes_out) | add)"')
clients_sum=$(stat_json | jq -r '.clients | "\(map(.requests) | add) \(map(.bytes_in) | add) \(map(.bytes_out) | add)"')
hm_check "route totals (requests bytes_in bytes_out) = the client's truth ($truth)" \
	test "$routes_sum" = "$truth"
hm_check "route totals = client-row totals" test "$routes_sum" = "$clients_sum"

hm_done
