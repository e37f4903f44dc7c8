#!/usr/bin/env bash
# test_methods.sh - end to end: what starts a request, and the routes it lands
# in: any RFC 9110 token method and its bound, version-less request lines,
# --max-routes, and interim 1xx responses in the route bytes.
#
# The lab (tests/lib/netns.sh) with two client namespaces; in the host
# namespace tests/lib/origin.py on 8080 (it answers every token method) and
# Debian's nginx on 80 (for HTTP/0.9); hm-load on the bridge.  Clients are
# curl (one process per list of transfers, --next, so they share one
# keep-alive connection; truth from -w: method, http_code, size_request,
# size_header, size_download) and tests/lib/edge_client.py.  Each part is
# read with hm-stat --reset --json (or on a fresh map set).
#
# methods: PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK REPORT SEARCH QUERY,
#   the extension token CCM_POST and GETs, each a request with its response
#   (the client row equals curl's truth), route rows naming each method
#   ("method": "PROPFIND"...), no orphan responses.  A 20-character token
#   is a request, a 21-character one is not.
# methods bound (a fresh map set): 40 distinct extension tokens, in order,
#   then the last 8 again and the first again: the first 32 are named, the
#   8 beyond count under method "_other", methods_full counts their 16
#   requests; every request is answered, none an orphan.
# max-routes (a fresh map set, --max-routes 2): GET /r1 ... /r5, then /r1
#   again: exactly 2 routes are named (/r1 with 2 requests, /r2), the other
#   3 requests are under _other and in routes_full.
# interim: POSTs with "Expect: 100-continue" (curl), the origin answers
#   "100 Continue", then the final response: the route rows' bytes summed
#   equal the client rows' and the truth, which is the origin's own record
#   of what it read and wrote (curl's size_request leaves out a body sent
#   after 100 Continue; its counts and bytes out must agree with the
#   origin's).
# http09: "GET /" CRLF (7 bytes, HTTP/0.9 style) to nginx is a request,
#   counted as the longer version-less line "GET /index.html?pad=..." is.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/nginx.sh
. "$HM_LIB/nginx.sh"
# shellcheck source=tests/lib/rows.sh
. "$HM_LIB/rows.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter python3 jq curl nginx timeout
hm_require_build httpmon.o hm-load hm-stat
hm_e2e_init me methods
# Each part loads a fresh map set in a directory of its own below this one.
PINS=$PIN
PIN=

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	hm_nginx_down "$TMP/nginx"
	if [ -n "$PIN" ]; then
		hm_in_host "$P" "$HM_BUILD/hm-load" --detach "$BR" --pin-path "$PIN" >/dev/null 2>&1
	fi
	ATTACHED=0
	rm -rf "$PINS"
}

hm_lab_start "$P" 2 "$TMP/lab.log"
H=$(hm_host_ip "$P" 4)
C1=$(hm_client_ip "$P" 1)
C2=$(hm_client_ip "$P" 2)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 23 --max-delay-ms 2 --listen "$H:8080"
if hm_nginx_up "${P}h" "$TMP/nginx" "server { listen $H:80; root $TMP/nginx/www; }" &&
	printf '<html>httpmon</html>\n' >"$TMP/nginx/www/index.html" && hm_wait_port "$P" "$H" 80 10; then
	hm_ok "nginx serves $H:80"
else
	hm_not_ok "nginx starts" "$(cat "$TMP/nginx/nginx.err" "$TMP/nginx/logs/error.log" 2>/dev/null)"
	hm_done
fi

# monitor NAME [HM-LOAD-OPTIONS...]: detaches the current map set and loads a
# fresh one, $PINS/NAME.
monitor() {
	local name=$1
	shift
	if [ -n "$PIN" ]; then
		hm_in_host "$P" "$HM_BUILD/hm-load" --detach "$BR" --pin-path "$PIN" >/dev/null 2>&1
	fi
	mkdir -p "$PINS"
	PIN=$PINS/$name
	hm_monitor_up "$P" "$BR" "$PIN" "$@"
}
interval() {
	"$HM_BUILD/hm-stat" --pin-path "$PIN" --reset --json >"$1" 2>"$TMP/stat.err" ||
		{ hm_not_ok "hm-stat --reset --json" "$(cat "$TMP/stat.err")"; hm_done; }
}
settle() { # until no connection state is held (3 s at most)
	local i
	for ((i = 0; i < 30; i++)); do
		[ "$("$HM_BUILD/hm-stat" --pin-path "$PIN" --json 2>/dev/null | jq -r .monitor.conns_live)" = 0 ] &&
			return 0
		sleep 0.1
	done
}

# curl_seq CLIENT OUT METHOD:PATH...: one curl process in client namespace
# CLIENT doing the transfers in turn (--next); a line per transfer in OUT:
# http_code size_request size_header size_download method.  Extra curl
# options for every transfer in CURL_EXTRA; the origin's port is PORT
# (default 8080).
CW='%{http_code} %{size_request} %{size_header} %{size_download} %{method}\n'
curl_seq() {
	local i=$1 out=$2 spec args=()
	shift 2
	for spec in "$@"; do
		args+=(-s -o /dev/null -w "$CW" "${CURL_EXTRA[@]}" -X "${spec%%:*}" "http://$H:${PORT:-8080}${spec#*:}" --next)
	done
	unset 'args[${#args[@]}-1]'
	hm_in_client "$P" "$i" timeout 60 curl "${args[@]}" >"$out" 2>"$out.err"
}
CURL_EXTRA=()

# ================================================================================
# methods: WebDAV, QUERY, an extension token
# ================================================================================
monitor a
interval "$TMP/a0.json"
METHODS=(PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK REPORT SEARCH QUERY CCM_POST)
specs=(GET:/)
for m in "${METHODS[@]}"; do specs+=("$m:/dav/$m"); done
specs+=(GET:/status/404 PROPFIND:/dav/again)
curl_seq 1 "$TMP/methods.txt" "${specs[@]}"
rc=$?
n=$(wc -l <"$TMP/methods.txt")
if [ "$rc" -eq 0 ] && [ "$n" -eq ${#specs[@]} ] && ! grep -q '^000 ' "$TMP/methods.txt"; then
	hm_ok "methods: curl sent ${#specs[@]} requests with ${#METHODS[@]} methods besides GET, all answered (truth)"
else
	hm_not_ok "methods: curl's requests answered" "exit $rc, $n lines" "$(cat "$TMP/methods.txt" "$TMP/methods.txt.err")"
fi
settle
interval "$TMP/a1.json"
S=$TMP/a1.json
hm_expect "methods: every method is a request with its response: client row = curl's truth" \
	"$(hm_row "$S" clients ip="$C1")" "$(hm_curl_truth "$TMP/methods.txt")"
want=$(awk '{ n[$5]++; if ($1 != "000") r[$5]++ } END { for (m in n) printf "%s %d/%d\n", m, n[m], r[m] }' "$TMP/methods.txt" | sort | tr '\n' ' ')
got=$(jq -r '[.routes[] | select(.method != null)] | group_by(.method)[] |
	"\(.[0].method) \(map(.requests) | add)/\(map(.responses) | add)"' "$S" | sort | tr '\n' ' ')
hm_expect "methods: route rows name each method, with its requests/responses" "$got" "$want"
hm_expect "methods: no orphan responses, nothing unparseable" \
	"orphan_responses $(hm_mon "$S" orphan_responses) unparseable $(hm_mon "$S" unparseable)" \
	"orphan_responses 0 unparseable 0"

# Token length: 20 characters is a method, 21 is not.
T20=CCM_POST_EXTENDED_20
T21=CCM_POST_EXTENDED_021
curl_seq 1 "$TMP/t20.txt" "$T20:/status/200"
curl_seq 2 "$TMP/t21.txt" "$T21:/status/200"
settle
interval "$TMP/a2.json"
S=$TMP/a2.json
got="$(cut -c1-3 "$TMP/t20.txt") $(cut -c1-3 "$TMP/t21.txt")"
hm_expect "methods: the origin answered the 20- and the 21-character token (truth)" "$got" "200 200"
hm_expect "methods: a 20-character token is a request, answered, its route named $T20" \
	"$(hm_row "$S" clients ip="$C1" | cut -d' ' -f1-6) $(jq -r --arg m "$T20" '[.routes[] | select(.method == $m) | .requests] | add // 0' "$S")" \
	"requests 1 responses 1 unanswered 0 1"
hm_expect "methods: a 21-character token is not a request" \
	"requests $(jq -r --arg ip "$C2" '[.clients[] | select(.ip == $ip) | .requests] | add // 0' "$S") route rows $(jq -r --arg m "$T21" '[.routes[] | select(.method == $m)] | length' "$S")" \
	"requests 0 route rows 0"

# ================================================================================
# interim: Expect: 100-continue
# ================================================================================
# A second origin, on 8081, whose record of what it read and wrote is the
# byte truth: curl's size_request leaves out a body sent after 100 Continue.
head -c 1500 /dev/urandom | base64 -w 0 >"$TMP/body.txt" # 2000 bytes
ip netns exec "${P}h" python3 "$HM_LIB/origin.py" --seed 5 --max-delay-ms 2 --listen "$H:8081" \
	--stats "$TMP/origin-expect.json" >"$TMP/origin-expect.out" 2>&1 &
O2=$!
hm_wait_line "$TMP/origin-expect.out" ready 10 || hm_not_ok "second origin starts on $H:8081" "$(cat "$TMP/origin-expect.out")"
interval "$TMP/i0.json"
: >"$TMP/heads.all"
for k in 1 2 3 4; do
	CURL_EXTRA=(-H 'Expect: 100-continue' --data-binary "@$TMP/body.txt" -D "$TMP/heads.txt")
	PORT=8081 curl_seq 1 "$TMP/expect$k.txt" "POST:/upload/$k" || hm_note "curl exit $? on POST $k"
	cat "$TMP/heads.txt" >>"$TMP/heads.all"
done
CURL_EXTRA=()
PORT=8081 curl_seq 1 "$TMP/expect-get.txt" GET:/ GET:/status/404
settle
interval "$TMP/i1.json"
kill -TERM "$O2"
wait "$O2"
S=$TMP/i1.json
n100=$(grep -c '^HTTP/1.1 100' "$TMP/heads.all")
hm_expect "interim: curl got 100 Continue before each of its 4 POST bodies (truth)" "$n100" 4
truth=$(jq -r --argjson p 8081 --arg ip "$C1" '[.[] | select(.port == $p and .client == $ip)] | first // {} |
	"requests \(.requests) responses \(.responses) unanswered \(.requests - .responses) 1xx \(.status["1xx"]) 2xx \(.status["2xx"]) 3xx \(.status["3xx"]) 4xx \(.status["4xx"]) 5xx \(.status["5xx"]) bytes_in \(.bytes_in) bytes_out \(.bytes_out)"' \
	"$TMP/origin-expect.json" 2>/dev/null)
ctruth=$(hm_curl_truth "$TMP"/expect?.txt "$TMP/expect-get.txt")
hm_expect "interim: the origin's record agrees with curl's: counts, status classes, bytes out with the interim heads (harness)" \
	"$(echo "$truth" | cut -d' ' -f1-16,19-20)" "$(echo "$ctruth" | cut -d' ' -f1-16,19-20)"
hm_expect "interim: the client row equals the origin's record" "$(hm_row "$S" clients ip="$C1")" "$truth"
tb=${truth#*bytes_in }
got=$(jq -r '"routes: \([.routes[].bytes_in] | add // 0) in, \([.routes[].bytes_out] | add // 0) out; clients: \([.clients[].bytes_in] | add // 0) in, \([.clients[].bytes_out] | add // 0) out"' "$S")
hm_expect "interim: the route rows' bytes include the 100 Continue heads: summed they equal the client rows' and the truth" \
	"$got" "routes: ${tb%% *} in, ${tb##* } out; clients: ${tb%% *} in, ${tb##* } out" \
	"route rows: $(jq -c '[.routes[] | {method, route, requests, bytes_in, bytes_out}]' "$S")"
hm_note "interim_responses in the interval: $(hm_mon "$S" interim_responses)"

# ================================================================================
# http09: a version-less request line shorter than 13 bytes
# ================================================================================
interval "$TMP/v0.json"
hm_in_client "$P" 1 timeout 20 python3 "$HM_LIB/edge_client.py" v09 --target "$H:80" \
	--line 'GET /' --out "$TMP/v09-short.json" >"$TMP/v09-short.log" 2>&1
rc1=$?
hm_in_client "$P" 2 timeout 20 python3 "$HM_LIB/edge_client.py" v09 --target "$H:80" \
	--line 'GET /index.html?pad=abcdefghijklmnop' --out "$TMP/v09-long.json" >"$TMP/v09-long.log" 2>&1
rc2=$?
settle
interval "$TMP/v1.json"
S=$TMP/v1.json
b1=$(jq -r '"\(.total.bytes_in) \(.total.bytes_out)"' "$TMP/v09-short.json" 2>/dev/null)
b2=$(jq -r '"\(.total.bytes_out)"' "$TMP/v09-long.json" 2>/dev/null)
hm_expect "http09: nginx answered 'GET /' (7 bytes) and the longer version-less line with the same body (truth)" \
	"$rc1 $rc2 ${b1% *} ${b1#* }=$b2" "0 0 7 $b2=$b2" "$(cat "$TMP/v09-short.log" "$TMP/v09-long.log")"
short=$(hm_row "$S" clients ip="$C1")
long=$(hm_row "$S" clients ip="$C2")
hm_expect "http09: 'GET /' CRLF is a request: requests 1, bytes_in 7" \
	"$(echo "$short" | awk '{ print $1, $2, $17, $18 }')" "requests 1 bytes_in 7"
hm_expect "http09: 'GET /' CRLF is counted as the longer version-less line is (responses, unanswered, status, bytes_out)" \
	"$(echo "$short" | cut -d' ' -f3-16,19-20)" "$(echo "$long" | cut -d' ' -f3-16,19-20)" \
	"long line's row: $long"

# ================================================================================
# methods bound: 40 extension tokens on a fresh map set
# ================================================================================
monitor b
SPECIALS=('!' '#' '$' '&' "'" '*' '+' '-' '.' '^' '_' '`' '|' '~')
TOKENS=()
for ((i = 1; i <= 40; i++)); do
	TOKENS+=("X${SPECIALS[i % ${#SPECIALS[@]}]}EXT$(printf %02d "$i")")
done
specs=()
for t in "${TOKENS[@]}"; do specs+=("$t:/ext"); done
for t in "${TOKENS[@]:32:8}"; do specs+=("$t:/ext"); done
specs+=("${TOKENS[0]}:/ext")
curl_seq 2 "$TMP/bound.txt" "${specs[@]}"
rc=$?
settle
S=$TMP/b1.json
"$HM_BUILD/hm-stat" --pin-path "$PIN" --json >"$S"
n=$(wc -l <"$TMP/bound.txt")
hm_expect "methods bound: curl sent 49 requests with 40 distinct extension tokens, all answered (truth)" \
	"$rc $n $(grep -c '^000 ' "$TMP/bound.txt")" "0 49 0" "$(cat "$TMP/bound.txt.err")"
want=$(printf '%s\n' "${TOKENS[@]:0:32}" | sort | tr '\n' ' ')
got=$(jq -r '[.routes[] | select(.method != null and .method != "_other") | .method] | unique[]' "$S" | sort | tr '\n' ' ')
hm_expect "methods bound: the first 32 extension tokens are named" "$got" "$want"
hm_expect "methods bound: a named token keeps counting after the table filled (${TOKENS[0]}: 2 requests)" \
	"$(jq -r --arg m "${TOKENS[0]}" '[.routes[] | select(.method == $m) | .requests] | add // 0' "$S")" 2
hm_expect "methods bound: the 8 tokens beyond count under method _other (16 requests), methods_full 16" \
	"_other $(jq -r '[.routes[] | select(.method == "_other") | .requests] | add // 0' "$S") methods_full $(hm_mon "$S" methods_full)" \
	"_other 16 methods_full 16"
hm_expect "methods bound: every request counted and answered, none an orphan" \
	"$(hm_row "$S" total | cut -d' ' -f1-6) orphan_responses $(hm_mon "$S" orphan_responses)" \
	"requests 49 responses 49 unanswered 0 orphan_responses 0"

# ================================================================================
# max-routes: --max-routes 2 names 2 routes
# ================================================================================
monitor c --max-routes 2
curl_seq 1 "$TMP/routes.txt" GET:/r1 GET:/r2 GET:/r3 GET:/r4 GET:/r5 GET:/r1
rc=$?
settle
S=$TMP/c1.json
"$HM_BUILD/hm-stat" --pin-path "$PIN" --json >"$S"
hm_expect "max-routes: curl's 6 requests to 5 routes answered (truth)" \
	"$rc $(wc -l <"$TMP/routes.txt") $(grep -c '^000 ' "$TMP/routes.txt")" "0 6 0"
got=$(jq -r '[.routes[] | select(.route != "_other" and .route != "_unknown") | "\(.method) \(.route) \(.requests)"] | sort | join(", ")' "$S")
hm_expect "max-routes: --max-routes 2 names exactly 2 routes (GET /r1 with 2 requests, GET /r2)" \
	"$got" "GET /r1 2, GET /r2 1"
hm_expect "max-routes: the other 3 routes' requests are under _other, and in routes_full" \
	"_other $(jq -r '[.routes[] | select(.route == "_other") | .requests] | add // 0' "$S") routes_full $(hm_mon "$S" routes_full)" \
	"_other 3 routes_full 3"

hm_done
