#!/usr/bin/env bash
# test_conn_lifecycle.sh - end to end: the monitor's per-connection state over
# whole TCP life cycles: SYN, FIN, RST, pure ACKs, Connection: close
# churn, and the idle sweep.
#
# The lab (tests/lib/netns.sh) with five client namespaces, the origin on
# ports 8080 and 8888 (IPv4 and IPv6) and hm-load on the bridge with its own
# pins (/sys/fs/bpf/hmconn-<pid>).  Traffic comes from tests/lib/client.py
# and tests/lib/conn_client.py, both of which record what they sent and got.
#
# 1. Churn, with --idle-timeout 300 so that only FIN and RST free state.
#    Concurrently: Connection: close requests (IPv4 and IPv6), keep-alive
#    connections of 15 requests each closed by the client, connections reset
#    by the client (SO_LINGER {1, 0}) after two answered requests, one reset
#    while its request (/delay/2000) waits for the answer, requests followed
#    at once by a half-close (FIN before the answer), plain connects that
#    send nothing (SYN, FIN), a connection carrying only TCP keepalive probes
#    (pure ACKs) and connects to a closed port (SYN, RST).  Then:
#    - conns_live (hm-stat --json .monitor) returns to its baseline, 0;
#    - conns_opened grew by exactly the connections that carried a request,
#      conns_closed by as many, conns_aged and idle_unanswered by nothing;
#    - requests, responses, unanswered, status classes and bytes per client,
#      per port and per (port, client) equal the clients' truth (compare.py),
#      the reset pending request counted unanswered: its client knows it
#      sent it and got nothing;
#    - orphan_responses, seq_gaps and conn_create_failed stay 0.
# 1b. FINs that cross (a simultaneous close), made certain with a tbf rate
#    limit on client 5 (see there): both ends in TIME_WAIT prove the
#    crossing, and conns_live must return to its baseline as well.
#    After the live change below, a new connection re-arms the sweep and
#    whatever state was left behind is aged before part 2 measures.
# 2. Idle aging, after hm-load --idle-timeout 1 on the loaded monitor (live):
#    - client 3 sends /delay/4000 on a keep-alive connection: 0.3 s later its
#      state is held and nothing is unanswered; by 3 s after the request
#      (and not before 1 s) hm-stat shows unanswered 1 for client 3,
#      idle_unanswered +1, conns_aged +1 and conns_live at the baseline;
#    - when the answer arrives (~4 s) it cannot be paired any more (the
#      documented behaviour): client 3's responses stay 0 and
#      orphan_responses grows by 1; the late answer's state is freed by the
#      FINs (conns_opened = conns_closed + conns_aged);
#    - a new request on a new connection is counted and timed normally;
#    - client 4 sends a request every 300 ms for 3 s on one connection while
#      client 3 leaves an answered connection idle: the idle one is aged
#      (so the sweep ran), client 4's is not: all its requests answered and
#      timed, one connection opened and closed for it, conns_aged +1 only.
# Finally the origin's own counts must equal the clients' (the harness).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat
hm_e2e_init cl conn

# -- helpers ------------------------------------------------------------------
# snap FILE: hm-stat --json into FILE.
snap() { "$HM_BUILD/hm-stat" --pin-path "$PIN" --json >"$1" 2>"$TMP/stat.err"; }
# mon FILE NAME: a self-metric (or conns_live) from a snapshot.
mon() { jq -r --arg k "$2" '.monitor[$k] // "missing"' "$1"; }
# crow FILE IP FIELD: a client row's field, 0 when the row is absent.
crow() { jq -r --arg ip "$2" --arg k "$3" '[.clients[] | select(.ip == $ip) | .[$k]] | first // 0' "$1"; }
# monline FILE: the non-zero self-metrics, for notes.
monline() { jq -r '.monitor | to_entries | map(select(.value != 0)) | map("\(.key)=\(.value)") | join(" ")' "$1"; }
now_us() { echo "${EPOCHREALTIME/./}"; }
# conns_dump: the connection state still held (hm_conns via bpftool), one line
# each: ports, requests/responses, FIN seen per side, and whether the origin's
# end of that connection is in TIME_WAIT (with the client's end also there:
# a simultaneous close, FINs that crossed).
conns_dump() {
	local line port
	command -v bpftool >/dev/null || { echo "(no bpftool)"; return; }
	bpftool -j map dump pinned "$PIN/hm_conns" 2>&1 | jq -r '.[] | .formatted // . |
		"\(.key.port | map(select(. != 8080 and . != 8888)) | first // 0) ports \(.key.port | join("/")) nreq \(.value.nreq) nresp \(.value.nresp) fin \(.value.dir | map(.fin) | join("/"))"' 2>&1 |
		head -20 | while read -r port line; do
			echo "$line, origin's end in TIME_WAIT: $(hm_in_host "$P" ss -Htan state time-wait "( dport = :$port )" | wc -l)"
		done
}

# wait_live BASE SECONDS: polls until conns_live == BASE; the last snapshot
# is in $TMP/live.json, the wait in WAITED_MS.
WAITED_MS=0
wait_live() {
	local base=$1 secs=$2 i t0
	t0=$(now_us)
	for ((i = 0; i < secs * 20; i++)); do
		if snap "$TMP/live.json" && [ "$(mon "$TMP/live.json" conns_live)" = "$base" ]; then
			WAITED_MS=$((($(now_us) - t0) / 1000))
			return 0
		fi
		sleep 0.05
	done
	WAITED_MS=$((($(now_us) - t0) / 1000))
	return 1
}

# expect NAME ACTUAL WANT [DETAIL...]: ok when ACTUAL equals WANT.
expect() {
	local name=$1 got=$2 want=$3
	shift 3
	if [ "$got" = "$want" ]; then
		hm_ok "$name"
	else
		hm_not_ok "$name" "got '$got', want '$want'" "$@"
	fi
}

# conn NAME CLIENT MODE ARGS...: conn_client.py in client namespace CLIENT in
# the background; its truth goes to $TMP/NAME.json, its pid to PIDS[NAME].
declare -A PIDS
conn() {
	local name=$1 i=$2
	shift 2
	hm_in_client "$P" "$i" timeout 30 python3 "$HM_LIB/conn_client.py" "$@" \
		--max-seconds 25 --out "$TMP/$name.json" >"$TMP/$name.log" 2>&1 &
	PIDS[$name]=$!
	BG_PIDS+=($!)
}
# load NAME CLIENT ARGS...: client.py likewise.
load() {
	local name=$1 i=$2
	shift 2
	hm_in_client "$P" "$i" timeout 40 python3 "$HM_LIB/client.py" "$@" \
		--max-seconds 30 --out "$TMP/$name.json" >"$TMP/$name.log" 2>&1 &
	PIDS[$name]=$!
	BG_PIDS+=($!)
}
# reap NAME...: waits for each and prints ok / not ok with its summary.
reap() {
	local name rc
	for name in "$@"; do
		wait "${PIDS[$name]}"
		rc=$?
		if [ "$rc" -eq 0 ] && [ -s "$TMP/$name.json" ]; then
			hm_ok "traffic $name: $(jq -r '"\(.total.requests) requests, \(.total.responses) responses\(if .connections then ", \(.connections) connections" else "" end) in \(.elapsed_s) s"' "$TMP/$name.json")"
		else
			hm_not_ok "traffic $name (exit $rc)" "$(cat "$TMP/$name.log" 2>/dev/null)"
		fi
	done
}

# -- lab, origin, monitor -------------------------------------------------------
hm_lab_start "$P" 5 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
H6=$(hm_host_ip "$P" 6)
C2=$(hm_client_ip "$P" 2)
C3=$(hm_client_ip "$P" 3)
C4=$(hm_client_ip "$P" 4)
C5=$(hm_client_ip "$P" 5)

# 10-20 ms per answer (the seed's handler; ?delay= and /delay/ elsewhere).
hm_origin_up "${P}h" "$TMP/origin.out" --seed 13 --min-delay-ms 10 --max-delay-ms 20 \
	--listen "$H4:8080" --listen "$H4:8888" --listen "[$H6]:8080" --listen "[$H6]:8888" \
	--stats "$TMP/origin.json"

hm_monitor_up "$P" "$BR" "$PIN" --idle-timeout 300

# ================================================================================
# 1. Churn: only FIN and RST may free state.
# ================================================================================
if ! snap "$TMP/p1-before.json"; then
	hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"
	hm_done
fi
expect "conns_live baseline before any traffic is 0" "$(mon "$TMP/p1-before.json" conns_live)" 0

PATHS='/,/delay/10,/status/404?delay=10,/,/bytes/20000?delay=10,/status/302?delay=10'
T4="$H4:8080,$H4:8888"
T6="[$H6]:8080,[$H6]:8888"
t0=$SECONDS
load c1-close 1 --target "$T4" --requests 40 --connections 4 --close --paths "$PATHS"
load c2-keepalive 2 --target "$T4" --requests 60 --connections 4 --paths "$PATHS"
load c2-close6 2 --target "$T6" --requests 20 --connections 2 --close --paths "$PATHS"
conn c1-rst-done 1 keepalive --target "$H4:8080" --connections 3 --count 2 --abort --paths '/delay/10,/?delay=10'
conn c1-half-close 1 keepalive --target "$H4:8888" --connections 3 --half-close --paths '/delay/30'
conn c1-connect-only 1 connect-only --target "$H4:8080" --connections 5
conn c1-refused 1 refused --target "$H4:8099" --connections 3
conn c2-rst-pending 2 pending-rst --target "$H4:8080" --paths /delay/2000 --wait-ms 300
conn c2-acks-only 2 keepalive-probe --target "$H4:8888" --hold-ms 2600
P1=(c1-close c2-keepalive c2-close6 c1-rst-done c1-half-close c1-connect-only c1-refused c2-rst-pending c2-acks-only)
reap "${P1[@]}"
hm_note "churn took $((SECONDS - t0)) s"

# What the connections without HTTP really did.
j() { jq -r "$2" "$TMP/$1.json" 2>/dev/null; }
n=$(j c2-acks-only .keepalive_probes)
if [ "${n:-0}" -ge 1 ] 2>/dev/null; then
	hm_ok "the ACK-only connection sent $n keepalive probes (pure ACKs) and nothing else"
else
	hm_not_ok "the ACK-only connection sent keepalive probes" "TCPKeepAlive grew by '$n'"
fi
expect "5 connections sent nothing (SYN, FIN only)" "$(j c1-connect-only '"\(.connections) \(.total.requests)"')" "5 0"
expect "3 connects to a closed port were refused (SYN, RST)" "$(j c1-refused .refused)" 3
expect "the pending request was reset unanswered: requests 1, responses 0, unanswered 1" \
	"$(j c2-rst-pending '"\(.total.requests) \(.total.responses) \(.total.unanswered)"')" "1 0 1"

# Connections that carried a request: one per Connection: close request, one
# per keep-alive slot, and conn_client.py's own count.
want_conns=$(($(j c1-close .total.requests) + 4 + $(j c2-close6 .total.requests)))
for f in c1-rst-done c1-half-close c1-connect-only c1-acks-only c1-refused c2-rst-pending c2-acks-only; do
	[ -s "$TMP/$f.json" ] && want_conns=$((want_conns + $(j "$f" .http_connections)))
done

if wait_live "$(mon "$TMP/p1-before.json" conns_live)" 3; then
	hm_ok "after the churn conns_live is back to its baseline 0 (after ${WAITED_MS} ms)"
else
	hm_not_ok "after the churn conns_live returns to its baseline 0 within 3 s" \
		"conns_live: $(mon "$TMP/live.json" conns_live)" "monitor: $(monline "$TMP/live.json")" \
		"state held: $(conns_dump)"
fi
cp "$TMP/live.json" "$TMP/p1-after.json"
A=$TMP/p1-after.json
B=$TMP/p1-before.json
hm_note "monitor after the churn: $(monline "$A")"
d() { echo $(($(mon "$2" "$3") - $(mon "$1" "$3"))); } # d BEFORE AFTER NAME
opened=$(d "$B" "$A" conns_opened)
closed=$(d "$B" "$A" conns_closed)
aged=$(d "$B" "$A" conns_aged)
expect "conns_opened grew by the $want_conns connections that carried a request" "$opened" "$want_conns"
expect "conns_closed == conns_opened ($opened): every one freed by FIN or RST" "$closed" "$opened"
expect "no connection aged (idle timeout 300 s)" "$aged/$(d "$B" "$A" idle_unanswered)" "0/0"
for k in orphan_responses seq_gaps conn_create_failed; do
	expect "$k is 0 after the churn" "$(mon "$A" "$k")" 0
done

# Counts against the clients' truth.  The lower latency bound of compare.py is
# not checked: a dozen clients share two cores here (test_lab covers it); the
# monitor's latency may still never exceed the client's.
TRUTH1=()
for f in "${P1[@]}"; do
	[ -s "$TMP/$f.json" ] && TRUTH1+=("$TMP/$f.json")
done
for by in client port port,client; do
	if ! "$HM_BUILD/hm-stat" --pin-path "$PIN" --json --by "$by" >"$TMP/p1.$by.json" 2>"$TMP/stat.err"; then
		hm_not_ok "hm-stat --by $by" "$(cat "$TMP/stat.err")"
		continue
	fi
	if out=$(python3 "$HM_LIB/compare.py" check --by "$by" --actual "$TMP/p1.$by.json" \
		--expected "${TRUTH1[@]}" --min-samples 1000000000 2>&1); then
		hm_ok "after the churn hm-stat by $by equals the clients' truth (requests, responses, unanswered, status, bytes)"
		hm_note "  $out"
	else
		hm_not_ok "after the churn hm-stat by $by equals the clients' truth" "$out" \
			"hm-stat said: $(head -c 3000 "$TMP/p1.$by.json")"
	fi
done
expect "client 2's row: the reset pending request is its one unanswered request" \
	"$(crow "$A" "$C2" unanswered)/$(jq -r '.total.unanswered' "$A")" "1/1"

# ================================================================================
# 1b. FINs that cross (a simultaneous close), made certain.
# ================================================================================
# In the churn above the FINs of a Connection: close exchange cross now and
# then by chance (the origin closes right after its answer while the client
# closes right after reading it).  Here they cross every time: client 5's
# interface is rate limited (tbf, 2000 bytes/s, 1600-byte bucket) and
# conn_client.py queues two 1200-byte datagrams between its request and its
# FIN, so its FIN leaves about 0.5 s later, after the origin's FIN (sent
# 0.2 s after the request) was already received.  Both ends then go through
# CLOSING to TIME_WAIT, which proves the crossing.
BASE1=$(mon "$TMP/p1-after.json" conns_live)
if out=$(hm_in_client "$P" 5 tc qdisc add dev eth0 root tbf rate 16kbit burst 1600 limit 20000 2>&1); then
	conn c5-crossing-fin 5 crossing-fin --target "$H4:8080" --paths /delay/200 --filler 2
	reap c5-crossing-fin
	lp=$(j c5-crossing-fin .local_port)
	tw=
	for ((i = 0; i < 30; i++)); do
		tw="client $(hm_in_client "$P" 5 ss -Htan state time-wait "( sport = :${lp:-0} )" | wc -l) origin $(hm_in_host "$P" ss -Htan state time-wait "( dst $C5 and dport = :${lp:-0} )" | wc -l)"
		[ "$tw" = "client 1 origin 1" ] && break
		sleep 0.1
	done
	expect "client 5's FIN crossed the origin's: both ends of port ${lp:-?} in TIME_WAIT" "$tw" "client 1 origin 1"
	# Client 5 half-closed before the answer came, so its FIN acknowledges
	# none of the answer: the origin may still resend it (the rate limit makes
	# it do so), and only a pure ACK - which the monitor does not look at -
	# says the answer arrived.  The state is kept for the idle sweep (part 2
	# checks that it goes), and the resent answer is not counted twice.
	sleep 1
	snap "$TMP/live.json"
	expect "after FINs that crossed before the answer was acknowledged, the state is kept for the idle sweep" \
		"$(mon "$TMP/live.json" conns_live)" "$((BASE1 + 1))"
	expect "the answer resent after both FINs is not counted again: orphan_responses still 0" \
		"$(mon "$TMP/live.json" orphan_responses)" 0
	S=$TMP/live.json
	expect "the crossing connection counted as the client saw it: client 5 requests 1, responses 1, unanswered 0" \
		"$(crow "$S" "$C5" requests) $(crow "$S" "$C5" responses) $(crow "$S" "$C5" unanswered)" "1 1 0"
	hm_in_client "$P" 5 tc qdisc del dev eth0 root 2>/dev/null
else
	hm_not_ok "tc tbf on client 5's eth0" "$out"
fi
P1+=(c5-crossing-fin)

# ================================================================================
# 2. Idle aging: --idle-timeout 1, changed live.
# ================================================================================
if out=$(hm_in_host "$P" "$HM_BUILD/hm-load" "$BR" --pin-path "$PIN" --idle-timeout 1 2>&1); then
	hm_ok "hm-load --idle-timeout 1 on the loaded monitor"
else
	hm_not_ok "hm-load --idle-timeout 1 on the loaded monitor" "$out"
	hm_done
fi
# Hm-load cancelled the sweep's timer; a new connection arms it again.  State
# left behind above (by FINs that crossed) is aged now, before the checks.
snap "$TMP/p2-pre.json"
conn c5-warmup 5 keepalive --target "$H4:8888" --paths /delay/1
reap c5-warmup
if wait_live 0 3; then
	hm_ok "with the timer armed again the idle sweep empties the connection state ($(mon "$TMP/p2-pre.json" conns_live) left before, $(d "$TMP/p2-pre.json" "$TMP/live.json" conns_aged) aged, after ${WAITED_MS} ms)"
else
	hm_not_ok "with the timer armed again the idle sweep empties the connection state within 3 s" \
		"conns_live: $(mon "$TMP/live.json" conns_live)" "state held: $(conns_dump)"
fi
snap "$TMP/p2-0.json" || { hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"; hm_done; }
S0=$TMP/p2-0.json
BASE=$(mon "$S0" conns_live)

# 2a. A request whose answer comes after the idle timeout.
: >"$TMP/late.events"
conn c3-late 3 keepalive --target "$H4:8080" --paths /delay/4000 --events "$TMP/late.events"
sent=
for ((i = 0; i < 250; i++)); do
	sent=$(awk '$1 == "sent" { print $2; exit }' "$TMP/late.events")
	[ -n "$sent" ] && break
	sleep 0.02
done
if [ -z "$sent" ]; then
	hm_not_ok "client 3 sent /delay/4000" "$(cat "$TMP/c3-late.log")"
	hm_done
fi
# Before the timeout: the state is held, nothing unanswered yet.
sleep 0.3
snap "$TMP/p2-early.json"
early_ms=$((($(now_us) - sent) / 1000))
E=$TMP/p2-early.json
got="requests $(crow "$E" "$C3" requests) unanswered $(crow "$E" "$C3" unanswered) live $(mon "$E" conns_live) aged +$(d "$S0" "$E" conns_aged)"
if [ "$early_ms" -lt 950 ]; then
	expect "${early_ms} ms after the request its connection state is held (nothing aged yet)" \
		"$got" "requests 1 unanswered 0 live $((BASE + 1)) aged +0"
else
	hm_not_ok "the state is held before the idle timeout" \
		"the snapshot came only ${early_ms} ms after the request: the machine is too slow for this check"
fi
# Aged: between 1 s (the timeout) and 3 s after the request.
aged_ms=
for ((i = 0; i < 80; i++)); do
	snap "$TMP/p2-aged.json" || break
	t=$((($(now_us) - sent) / 1000))
	G=$TMP/p2-aged.json
	if [ "$(crow "$G" "$C3" unanswered)" = 1 ] && [ "$(d "$S0" "$G" idle_unanswered)" = 1 ] &&
		[ "$(d "$S0" "$G" conns_aged)" -ge 1 ] && [ "$(mon "$G" conns_live)" = "$BASE" ]; then
		aged_ms=$t
		break
	fi
	[ "$t" -gt 3000 ] && break
	sleep 0.05
done
got="unanswered $(crow "$G" "$C3" unanswered), idle_unanswered +$(d "$S0" "$G" idle_unanswered), conns_aged +$(d "$S0" "$G" conns_aged), conns_live $(mon "$G" conns_live)"
if [ -n "$aged_ms" ] && [ "$aged_ms" -ge 1000 ] && [ "$aged_ms" -le 3000 ]; then
	hm_ok "aged ${aged_ms} ms after the request: client 3 unanswered 1, idle_unanswered +1, conns_aged +1, conns_live back to $BASE"
else
	hm_not_ok "the idle connection is aged between 1 and 3 s after its request" \
		"seen after ${aged_ms:-never (${t} ms)}: $got (baseline conns_live $BASE)" "monitor: $(monline "$G")"
fi
expect "exactly one connection aged, its one pending request counted once" \
	"$(d "$S0" "$G" conns_aged)/$(d "$S0" "$G" idle_unanswered)/$(jq -r '.total.unanswered' "$G")" \
	"1/1/$(($(jq -r '.total.unanswered' "$S0") + 1))"

# The late answer: the client gets it, the monitor cannot pair it.
reap c3-late
late_ms=$(j c3-late '.total.latency_us.min')
if [ "$(j c3-late '.total.responses')" = 1 ] && [ "${late_ms%.*}" -ge 4000000 ] 2>/dev/null; then
	hm_ok "client 3 got its answer $((${late_ms%.*} / 1000)) ms after the request"
else
	hm_not_ok "client 3 got its answer after about 4 s" "$(cat "$TMP/c3-late.json" 2>/dev/null)"
fi
if wait_live "$BASE" 3; then
	hm_ok "the late answer's state is freed by the FINs (conns_live $BASE after ${WAITED_MS} ms)"
else
	hm_not_ok "the late answer's state is freed by the FINs" "conns_live: $(mon "$TMP/live.json" conns_live)" \
		"monitor: $(monline "$TMP/live.json")"
fi
cp "$TMP/live.json" "$TMP/p2-late.json"
L=$TMP/p2-late.json
hm_note "monitor after the late answer: $(monline "$L")"
expect "the late answer is not paired: client 3 requests 1, responses 0, unanswered 1; orphan_responses +1" \
	"$(crow "$L" "$C3" requests) $(crow "$L" "$C3" responses) $(crow "$L" "$C3" unanswered) +$(d "$S0" "$L" orphan_responses)" \
	"1 0 1 +1"
expect "conns_opened == conns_closed + conns_aged since the live change" \
	"$(d "$S0" "$L" conns_opened)" "$(($(d "$S0" "$L" conns_closed) + $(d "$S0" "$L" conns_aged)))" \
	"opened +$(d "$S0" "$L" conns_opened), closed +$(d "$S0" "$L" conns_closed), aged +$(d "$S0" "$L" conns_aged)"

# 2b. A new request on a new connection is counted and paired.
conn c3-new 3 keepalive --target "$H4:8080" --paths /delay/20
reap c3-new
wait_live "$BASE" 3
cp "$TMP/live.json" "$TMP/p2-new.json"
N=$TMP/p2-new.json
expect "a new connection's request is paired: client 3 requests 2, responses 1, 2xx 1, unanswered 1; orphan_responses unchanged" \
	"$(crow "$N" "$C3" requests) $(crow "$N" "$C3" responses) $(jq -r --arg ip "$C3" '.clients[] | select(.ip == $ip) | .status["2xx"]' "$N") $(crow "$N" "$C3" unanswered) +$(d "$L" "$N" orphan_responses)" \
	"2 1 1 1 +0"
mlat=$(jq -r --arg ip "$C3" '.clients[] | select(.ip == $ip) | .latency_us.max // "null"' "$N")
clat=$(j c3-new '.total.latency_us.max')
if python3 -c "import sys; m, c = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not 20000 <= m <= c + 1)" "$mlat" "$clat" 2>/dev/null; then
	hm_ok "and timed: ${mlat} us on the bridge, ${clat} us at the client (server delay 20 ms)"
else
	hm_not_ok "the new request is timed (20 ms <= monitor latency <= client's)" \
		"monitor latency_us.max for $C3: $mlat, client: $clat"
fi

# 2c. An active connection is not aged; an idle one next to it is.
snap "$TMP/p2-c0.json"
Q=$TMP/p2-c0.json
conn c4-active 4 keepalive --target "$H4:8080" --count 11 --interval-ms 300 --paths /delay/5
conn c3-idle 3 keepalive --target "$H4:8888" --paths /delay/10 --hold-ms 2500
reap c4-active c3-idle
wait_live "$BASE" 3
cp "$TMP/live.json" "$TMP/p2-c1.json"
R=$TMP/p2-c1.json
hm_note "monitor after the active connection: $(monline "$R")"
na=$(j c4-active .total.requests)
expect "the active connection (a request every 300 ms for $(j c4-active .elapsed_s) s): client 4 requests, responses, unanswered = ${na:-?}, ${na:-?}, 0" \
	"$(crow "$R" "$C4" requests) $(crow "$R" "$C4" responses) $(crow "$R" "$C4" unanswered)" "${na:-?} ${na:-?} 0"
expect "the idle connection next to it was aged and the active one was not: conns_aged +1, idle_unanswered +0, conns_opened +2, conns_closed +1" \
	"+$(d "$Q" "$R" conns_aged) +$(d "$Q" "$R" idle_unanswered) +$(d "$Q" "$R" conns_opened) +$(d "$Q" "$R" conns_closed)" \
	"+1 +0 +2 +1"
mlat=$(jq -r --arg ip "$C4" '.clients[] | select(.ip == $ip) | .latency_us.min // "null"' "$R")
if python3 -c "import sys; sys.exit(not float(sys.argv[1]) >= 5000)" "$mlat" 2>/dev/null; then
	hm_ok "the active connection's requests are timed (min ${mlat} us, server delay 5 ms)"
else
	hm_not_ok "the active connection's requests are timed" "latency_us.min for $C4: $mlat"
fi
expect "client 3 after the idle connection: requests 3, responses 2, unanswered 1" \
	"$(crow "$R" "$C3" requests) $(crow "$R" "$C3" responses) $(crow "$R" "$C3" unanswered)" "3 2 1"

# -- the whole run ----------------------------------------------------------------
expect "at the end: conns_live 0 and conns_opened == conns_closed + conns_aged" \
	"$(mon "$R" conns_live) $(mon "$R" conns_opened)" "0 $(($(mon "$R" conns_closed) + $(mon "$R" conns_aged)))"

# The harness: the origin's own counts equal the clients'.  The reset pending
# request is left out: the origin never finished it (its answer hit the RST).
kill -TERM "$ORIGIN_PID" 2>/dev/null
wait "$ORIGIN_PID" 2>/dev/null
ORIGIN_PID=
TRUTH_ALL=()
for f in "${TRUTH1[@]}" "$TMP"/c3-*.json "$TMP"/c4-*.json "$TMP"/c5-*.json; do
	[[ $f == *rst-pending* ]] || TRUTH_ALL+=("$f")
done
hm_check "origin's byte and status counts equal the clients' (harness self-check)" \
	python3 "$HM_LIB/compare.py" origin --origin "$TMP/origin.json" --expected "${TRUTH_ALL[@]}"

hm_done
