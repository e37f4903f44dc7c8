#!/usr/bin/env bash
# test_loopback.sh - end to end: monitoring lo, a reverse proxy in front of an
# app on 127.0.0.1.
#
# A network namespace of the test's own holds only lo: Debian's nginx as a
# reverse proxy on 127.0.0.1:8081 (keep-alive to its upstream) in front of
# tests/lib/origin.py on 127.0.0.1:9090, curl clients on 127.0.0.1, and
# `hm-load lo` with its own pins.  On lo every segment passes the egress and
# then the ingress hook of the same interface.  Checks:
#  - loopback: port 8081 counted exactly: requests, responses, status classes
#    and bytes in and out equal what the curl clients report (-w
#    size_request (the body included), size_header + size_download,
#    http_code);
#  - loopback: port 9090 counted exactly: the same against the origin's own
#    record of what it read and wrote (origin.py --stats);
#  - loopback: no false retransmissions: retrans_segments at most what the
#    namespace's TCP stack resent (RetransSegs), 0 when it resent nothing;
#    no orphan responses, nothing unparseable, nothing unanswered.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/nginx.sh
. "$HM_LIB/nginx.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter python3 jq curl nginx timeout
hm_require_build httpmon.o hm-load hm-stat
hm_e2e_init lo lo
# No lab: one namespace with lo only, named like the lab prefix.
NS=$P
P1=8081
P2=9090
LO_ATTACHED=0

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	hm_nginx_down "$TMP/nginx"
	if [ "$LO_ATTACHED" -eq 1 ]; then
		nsenter --net="/run/netns/$NS" "$HM_BUILD/hm-load" --detach lo --pin-path "$PIN" \
			>/dev/null 2>&1
	fi
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	return 0
}
# Namespaces of earlier runs whose process is gone.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hm-lo[0-9]+$'); do
	kill -0 "${ns#hm-lo}" 2>/dev/null || ip netns del "$ns"
done

in_ns() { ip netns exec "$NS" "$@"; }
stat_json() { nsenter --net="/run/netns/$NS" "$HM_BUILD/hm-stat" --pin-path "$PIN" --json; }

if ip netns add "$NS" && ip -n "$NS" link set lo up; then
	hm_ok "namespace $NS with lo only"
else
	hm_not_ok "namespace $NS"
	hm_done
fi

hm_origin_up "$NS" "$TMP/origin.out" --seed 21 --max-delay-ms 2 --listen "127.0.0.1:$P2" \
	--stats "$TMP/origin.json"
if hm_nginx_up "$NS" "$TMP/nginx" "
	upstream app { server 127.0.0.1:$P2; keepalive 4; }
	server {
		listen 127.0.0.1:$P1;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}
	}" && in_ns timeout 5 sh -c "until ss -Hltn 'src 127.0.0.1:$P1' | grep -q .; do sleep 0.1; done"; then
	hm_ok "nginx proxies 127.0.0.1:$P1 to the origin on 127.0.0.1:$P2"
else
	hm_not_ok "nginx starts" "$(cat "$TMP/nginx/nginx.err" "$TMP/nginx/logs/error.log" 2>/dev/null)"
	hm_done
fi

if out=$(nsenter --net="/run/netns/$NS" "$HM_BUILD/hm-load" lo --pin-path "$PIN" 2>&1); then
	LO_ATTACHED=1
	hm_ok "hm-load lo (pins in $PIN)"
else
	hm_not_ok "hm-load lo" "$out"
	hm_done
fi

# Three curl clients at once, each one process reusing its connection for a
# list of transfers (--next); one line of truth per transfer.
head -c 3000 /dev/urandom | base64 -w 0 >"$TMP/body.txt"
W='%{http_code} %{size_request} %{size_upload} %{size_header} %{size_download}\n'
curl_client() {
	local i=$1 args=() k path
	for k in 1 2 3; do
		for path in "/?c=$i" /status/404 "/status/500?delay=3" /bytes/100000 /status/302 /status/204; do
			args+=(-s -o /dev/null -w "$W" "http://127.0.0.1:$P1$path" --next)
		done
		args+=(-s -o /dev/null -w "$W" --data-binary "@$TMP/body.txt" "http://127.0.0.1:$P1/post/$k" --next)
	done
	unset 'args[${#args[@]}-1]'
	in_ns timeout 60 curl "${args[@]}" >"$TMP/curl$i.txt" 2>"$TMP/curl$i.err"
}
RETRANS0=$(hm_tcp_retrans "$NS")
pids=()
for i in 1 2 3; do
	curl_client "$i" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
n=$(cat "$TMP"/curl?.txt | wc -l)
if [ "$rc" -eq 0 ] && [ "$n" -eq 63 ] && ! grep -q '^000 ' "$TMP"/curl?.txt; then
	hm_ok "3 curl clients made 63 transfers through nginx, all answered"
else
	hm_not_ok "curl transfers through nginx" "exit $rc, $n lines" "$(cat "$TMP"/curl?.err)"
fi
sleep 0.5
stat_json >"$TMP/stat.json" || { hm_not_ok "hm-stat --json"; hm_done; }
kill -TERM "$ORIGIN_PID" 2>/dev/null
wait "$ORIGIN_PID" 2>/dev/null
ORIGIN_PID=

# The proxy's port against curl's truth.
truth1=$(cat "$TMP"/curl?.txt | awk '
	{ n++; if ($1 != "000") { r++; c[substr($1, 1, 1)]++ }; bin += $2; bout += $4 + $5 }
	END { printf "requests %d responses %d 2xx %d 3xx %d 4xx %d 5xx %d bytes_in %d bytes_out %d unanswered 0",
		n, r, c[2], c[3], c[4], c[5], bin, bout }')
row() { # row PORT: the port's row in the same words
	jq -r --argjson p "$1" '[.ports[] | select(.port == $p)] | first // {} |
		"requests \(.requests // 0) responses \(.responses // 0) 2xx \(.status["2xx"] // 0) 3xx \(.status["3xx"] // 0) 4xx \(.status["4xx"] // 0) 5xx \(.status["5xx"] // 0) bytes_in \(.bytes_in // 0) bytes_out \(.bytes_out // 0) unanswered \(.unanswered // 0)"' "$TMP/stat.json"
}
got=$(row "$P1")
if [ "$got" = "$truth1" ]; then
	hm_ok "loopback: port $P1 (nginx) counted exactly as curl saw it: $got"
else
	hm_not_ok "loopback: port $P1 (nginx) counted exactly as curl saw it" "hm-stat: $got" "curl:    $truth1"
fi

# The app's port against the origin's own record.
truth2=$(jq -r --argjson p "$P2" '[.[] | select(.port == $p)] |
	"requests \(map(.requests) | add // 0) responses \(map(.responses) | add // 0) 2xx \(map(.status["2xx"]) | add // 0) 3xx \(map(.status["3xx"]) | add // 0) 4xx \(map(.status["4xx"]) | add // 0) 5xx \(map(.status["5xx"]) | add // 0) bytes_in \(map(.bytes_in) | add // 0) bytes_out \(map(.bytes_out) | add // 0) unanswered 0"' "$TMP/origin.json" 2>/dev/null)
got=$(row "$P2")
if [ -n "$truth2" ] && [ "$got" = "$truth2" ]; then
	hm_ok "loopback: port $P2 (the app) counted exactly as the origin recorded it: $got"
else
	hm_not_ok "loopback: port $P2 (the app) counted exactly as the origin recorded it" "hm-stat: $got" \
		"origin:  ${truth2:-(no record: $(cat "$TMP/origin.out"))}"
fi

mon() { jq -r --arg k "$1" '.monitor[$k] // "missing"' "$TMP/stat.json"; }
hm_expect_retrans "loopback: no false retransmissions" "$(mon retrans_segments)" \
	$(($(hm_tcp_retrans "$NS") - RETRANS0))
got="orphan_responses $(mon orphan_responses) unparseable $(mon unparseable) seq_gaps $(mon seq_gaps)"
if [ "$got" = "orphan_responses 0 unparseable 0 seq_gaps 0" ]; then
	hm_ok "loopback: no orphan responses, nothing unparseable, no sequence gaps"
else
	hm_not_ok "loopback: no orphan responses, nothing unparseable, no sequence gaps" "got: $got"
fi

hm_done
