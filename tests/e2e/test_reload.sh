#!/usr/bin/env bash
# test_reload.sh - end to end: reload, detach and re-attach under load; readers
# facing missing maps and a layout-version mismatch; pins removed under a
# running hm-stat --watch.
#
#  - Churn under load: three clients (keep-alive; Connection: close, a new
#    connection per request; IPv6 pipelined) send a fixed number of requests
#    while the monitor on the bridge is, CHURN times over, loaded again on the
#    same interface (programs replaced in place), detached (the maps are
#    unpinned with the last program) and attached again (a new map set),
#    with hm-stat and hm-reset in between: each must exit 0 while the monitor
#    is attached and 3 with one line while it is not.  A reader loop
#    (hm-stat --json, hm-reset) and an hm-stat --watch 1 run concurrently
#    with the churn: their only allowed outcomes are exit 0 or 3, one line
#    per failure, no crash.  Every client request must get its response
#    (client.py exits 0: no error, no reset, no timeout).
#  - After the churn and a quiet second, with the monitor attached once
#    (hm-load --status: one tc program per direction), hm-reset and a final
#    batch of requests that hm-stat must count exactly (requests, responses,
#    status classes, unanswered, bytes by client, port and port,client).
#  - Readers and broken pins: a pin removed from the set (exit 3, "incomplete
#    httpmon map set ... missing NAME"); hm_config's layout_version set to
#    another version with bpftool (hm-stat, hm-stat --json, hm-stat --watch
#    and hm-reset exit 4 with one line naming both versions); then the pin
#    directory gone and empty (exit 3, "no httpmon maps in DIR").
#  - hm-stat --watch and the pins (the documented behaviour, hm-stat --help):
#    maps replaced between two reads (the watch is stopped with SIGSTOP while
#    the monitor is detached and loaded again, so the reload falls inside one
#    interval): it warns once, opens the new maps and goes on printing; maps
#    removed (hm-load --detach --all): it says so in one line and exits 3
#    at its next read, within the interval, with no busy loop; once the
#    monitor is loaded again a new --watch runs normally.
#
# All traffic runs in the lab's client namespaces against the host
# namespace's addresses; the monitor tools run with nsenter (hm_in_host).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat hm-reset
hm_e2e_init rl rl

CHURN=10 # reload / detach / re-attach cycles under load
# BG_PIDS (hm_e2e_init): our own background processes (readers, watches), ended by pid

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	BG_PIDS=()
	# Also removes pins whose layout_version bpftool changed.
	hm_in_host "$P" "$HM_BUILD/hm-load" --detach --all --pin-path "$PIN" >/dev/null 2>&1
}

load() { hm_in_host "$P" "$HM_BUILD/hm-load" "$@" --pin-path "$PIN"; }
stat_() { "$HM_BUILD/hm-stat" --pin-path "$PIN" "$@"; }
reset_() { "$HM_BUILD/hm-reset" --pin-path "$PIN"; }

# expect_exit NAME CODE REGEX CMD...: CMD exits CODE (no crash) and writes
# exactly one line to stderr, matching REGEX.
expect_exit() {
	local name=$1 code=$2 re=$3 rc lines
	shift 3
	"$@" >"$TMP/ee.out" 2>"$TMP/ee.err" </dev/null
	rc=$?
	lines=$(wc -l <"$TMP/ee.err")
	if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -Eq "$re" "$TMP/ee.err"; then
		hm_ok "$name"
		hm_note "  $(cat "$TMP/ee.err")"
	else
		hm_not_ok "$name" "command: $*" "exit $rc (want $code), $lines stderr line(s), want one matching: $re" \
			"stderr: $(head -c 1000 "$TMP/ee.err")" "stdout: $(head -c 300 "$TMP/ee.out")"
	fi
}

# blocks FILE: how many --watch blocks FILE holds; has_blocks FILE N: at least N.
blocks() { grep -c '^httpmon HTTP rates' "$1" 2>/dev/null; }
# shellcheck disable=SC2317 # called through wait_for
has_blocks() { [ "$(blocks "$1")" -ge "$2" ]; }
# shellcheck disable=SC2317
is_stopped() { [ "$(cat "/proc/$1/comm")" = hm-stat ] && [ "$(awk '{print $3}' "/proc/$1/stat")" = T ]; }
# shellcheck disable=SC2317
gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID: user + system clock ticks PID has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

# -- lab, origin, monitor -------------------------------------------------------------
hm_lab_start "$P" 3 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
H6=$(hm_host_ip "$P" 6)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 7 --min-delay-ms 0 --max-delay-ms 2 \
	--listen "$H4:8080" --listen "$H4:8888" --listen "[$H6]:8080" --listen "[$H6]:8888"
LAYOUT=$("$HM_BUILD/hm-stat" --version | sed -n 's/.*(map layout \([0-9]*\))$/\1/p')
if [ -z "$LAYOUT" ]; then
	hm_not_ok "hm-stat --version names the map layout" "$("$HM_BUILD/hm-stat" --version 2>&1)"
	hm_done
fi
if out=$(load "$BR" 2>&1); then
	hm_ok "hm-load attaches to $BR (pins in $PIN, map layout $LAYOUT)"
else
	hm_not_ok "hm-load attaches to $BR" "$out"
	hm_done
fi

# -- churn under load -----------------------------------------------------------------
T4="$H4:8080,$H4:8888"
T6="[$H6]:8080,[$H6]:8888"
# Every answer takes the origin 10 ms (?delay=10), so the clients' pace is set
# by sleeps rather than by the CPU that the churn's program loads also want:
# about 18 s for these counts, a little longer than the churn.
PATHS='/?delay=10,/status/404?delay=10,/bytes/3000?delay=10,/status/302?delay=10'
declare -A CLIENT_N=([keepalive]=6000 [close]=2500 [ipv6]=3000)
start_client() { # NAME NS ARGS...
	local name=$1 ns=$2
	shift 2
	hm_in_client "$P" "$ns" timeout 55 python3 "$HM_LIB/client.py" "$@" \
		--requests "${CLIENT_N[$name]}" --paths "$PATHS" --max-seconds 45 \
		--out "$TMP/churn-$name.json" >"$TMP/churn-$name.log" 2>&1 &
	CPIDS+=($!)
	CNAMES+=("$name")
}
CPIDS=() CNAMES=()
start_client keepalive 1 --target "$T4" --connections 4
start_client close 2 --target "$T4" --connections 2 --close
start_client ipv6 3 --target "$T6" --connections 2 --pipeline 4
clients_running() {
	local pid
	for pid in "${CPIDS[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# Concurrent readers: every outcome is recorded as "TOOL EXIT STDERR-LINES".
reader_loop() {
	local i rc
	for ((i = 0; i < 3000; i++)); do
		[ -e "$TMP/churn.done" ] && break
		stat_ --json >/dev/null 2>"$TMP/rd.err"
		rc=$?
		echo "hm-stat $rc $(wc -l <"$TMP/rd.err") $(head -n 1 "$TMP/rd.err")" >>"$TMP/readers.log"
		reset_ >/dev/null 2>"$TMP/rd.err"
		rc=$?
		echo "hm-reset $rc $(wc -l <"$TMP/rd.err") $(head -n 1 "$TMP/rd.err")" >>"$TMP/readers.log"
		sleep 0.02
	done
}
: >"$TMP/readers.log"
reader_loop &
READER=$!
BG_PIDS+=("$READER")
# Started as a plain command, so that $! is hm-stat itself (signals reach it).
"$HM_BUILD/hm-stat" --pin-path "$PIN" --watch 1 >"$TMP/watch-churn.out" 2>"$TMP/watch-churn.err" </dev/null &
WATCH_CHURN=$!
BG_PIDS+=("$WATCH_CHURN")

# step WHAT WANT CMD...: one churn step; a wrong exit status is recorded.
step() {
	local what=$1 want=$2 rc
	shift 2
	"$@" >"$TMP/step.out" 2>&1 </dev/null
	rc=$?
	{ echo "# cycle $it: $what: exit $rc"; head -c 300 "$TMP/step.out"; } >>"$TMP/churn.log"
	if [ "$rc" -ne "$want" ]; then
		CHURN_BAD+=("cycle $it: $what: exit $rc, expected $want: $(head -c 300 "$TMP/step.out")")
	elif [ "$rc" -ne 0 ] && [ "$(wc -l <"$TMP/step.out")" -ne 1 ]; then
		CHURN_BAD+=("cycle $it: $what: exit $rc with other than one line: $(head -c 300 "$TMP/step.out")")
	fi
}
CHURN_BAD=()
overlap=0
churn_start=$SECONDS
sleep 0.5 # every client connected and sending
for ((it = 1; it <= CHURN; it++)); do
	clients_running && overlap=$((overlap + 1))
	step "hm-load $BR (reload, programs replaced)" 0 load "$BR"
	step "hm-stat while attached" 0 stat_ --json
	step "hm-load --detach $BR" 0 load --detach "$BR"
	step "hm-stat while detached (no pins)" 3 stat_
	step "hm-reset while detached (no pins)" 3 reset_
	step "hm-load $BR (re-attach, new maps)" 0 load "$BR"
	step "hm-reset while attached" 0 reset_
	step "hm-stat --by port while attached" 0 stat_ --by port
done
churn_secs=$((SECONDS - churn_start))
touch "$TMP/churn.done"
if [ ${#CHURN_BAD[@]} -eq 0 ]; then
	hm_ok "$CHURN churn cycles (reload, detach, re-attach) in ${churn_secs}s: hm-load exit 0 each time, hm-stat/hm-reset 0 attached and 3 (one line) detached"
else
	hm_not_ok "$CHURN churn cycles: every step's exit status as expected" "${CHURN_BAD[@]}" \
		"the churn's log, up to the first wrong step:" \
		"$(sed "/^# ${CHURN_BAD[0]%%: exit *}: exit /q" "$TMP/churn.log" | tail -n 30)"
fi
if [ "$overlap" -ge 3 ]; then
	hm_ok "the churn ran under load: $overlap of $CHURN cycles began with all 3 clients sending"
else
	hm_not_ok "the churn ran under load (at least 3 cycles with all clients sending)" \
		"only $overlap of $CHURN cycles began while all clients ran"
fi

total_req=0
for k in "${!CPIDS[@]}"; do
	name=${CNAMES[$k]}
	wait "${CPIDS[$k]}"
	rc=$?
	want=${CLIENT_N[$name]}
	if [ "$rc" -eq 0 ] && jq -e --argjson n "$want" \
		'.errors == [] and .total.requests == $n and .total.responses == $n' \
		"$TMP/churn-$name.json" >/dev/null 2>&1; then
		total_req=$((total_req + want))
		hm_ok "client $name during the churn: $want requests, $want responses, no error ($(jq -r .elapsed_s "$TMP/churn-$name.json") s)"
	else
		hm_not_ok "client $name during the churn: every request answered, no error" "exit $rc" \
			"$(cat "$TMP/churn-$name.log")" \
			"$(jq -c '{requests: .total.requests, responses: .total.responses, errors}' "$TMP/churn-$name.json" 2>&1)"
	fi
done
hm_note "  $total_req requests answered during $CHURN reload/detach/re-attach cycles"

# What a reader may say when the pins are gone or half there (a detach or a
# load under way): hm_pin.c's two messages for exit 3.
MISSING_RE="(no httpmon maps in $PIN \\(is the monitor loaded|incomplete httpmon map set in $PIN: missing )"
wait "$READER"
bad=$(RE="^hm-(stat|reset): $MISSING_RE" awk '($2 != 0 && $2 != 3) || ($2 == 0 && $3 != 0) ||
	($2 == 3 && ($3 != 1 || substr($0, index($0, $4)) !~ ENVIRON["RE"]))' "$TMP/readers.log")
n_reads=$(wc -l <"$TMP/readers.log")
n_missing=$(awk '$2 == 3' "$TMP/readers.log" | wc -l)
if [ -z "$bad" ] && [ "$n_reads" -gt 0 ] && [ "$n_missing" -gt 0 ]; then
	hm_ok "concurrent readers: $n_reads hm-stat/hm-reset runs, $n_missing met missing maps (exit 3, one line), the rest exit 0, no crash"
	hm_note "  $(awk '$2 == 3 {$1 = $2 = $3 = ""; print}' "$TMP/readers.log" | sed 's/^ *//' | sort | uniq -c | sort -rn | head -3 | tr -s ' ' | tr '\n' ';')"
else
	hm_not_ok "concurrent readers: exit 0, or 3 with one line, never a crash" \
		"$n_reads runs, $n_missing with exit 3" "${bad:0:2000}"
fi

# The watch started during the churn: it either ran on (a reload between two
# reads: new maps reopened) or met missing maps and ended with exit 3.
if kill -0 "$WATCH_CHURN" 2>/dev/null; then
	kill -TERM "$WATCH_CHURN"
fi
wait "$WATCH_CHURN"
rc=$?
errs=$(grep -cv '^hm-stat: warning: the maps in .* were replaced (monitor reloaded): rates start again$' "$TMP/watch-churn.err")
errline=$(grep -v '^hm-stat: warning: ' "$TMP/watch-churn.err")
if { [ "$rc" -eq 0 ] && [ "$errs" -eq 0 ]; } || { [ "$rc" -eq 3 ] && [ "$errs" -eq 1 ] &&
	grep -Eq "^hm-stat: (the maps in $PIN were removed \(monitor detached\)\$|$MISSING_RE)" <<<"$errline"; }; then
	hm_ok "hm-stat --watch 1 during the churn: exit $rc after $(blocks "$TMP/watch-churn.out") block(s), $(grep -c warning "$TMP/watch-churn.err") reopen(s), no crash"
	[ "$rc" -eq 3 ] && hm_note "  $errline"
else
	hm_not_ok "hm-stat --watch 1 during the churn: exit 0 or 3 with one error line" "exit $rc" \
		"$(head -c 2000 "$TMP/watch-churn.err")"
fi

# -- quiet, then one exactly counted batch -----------------------------------------------
sleep 1 # the last FINs of the churn's connections pass the bridge
if load --status --json >"$TMP/status.json" 2>"$TMP/status.err" &&
	jq -e --arg b "$BR" '[.interfaces[] | select(.iface == $b) |
		(.tc_ingress | length) == 1 and (.tc_egress | length) == 1 and .xdp == null] == [true]
		and ([.interfaces[] | select(.iface != $b)] == [])' "$TMP/status.json" >/dev/null; then
	hm_ok "after the churn: attached once, one tc program per direction on $BR"
else
	hm_not_ok "after the churn: attached once, one tc program per direction" \
		"$(cat "$TMP/status.json" "$TMP/status.err")"
fi
hm_check "hm-reset before the measured batch" reset_
# Every answer takes at least 10 ms, so the clients' own overhead stays inside
# compare.py's 15% latency window ("/" is the seed's random 200/500 handler).
FINAL_PATHS='/?delay=10,/delay/10,/status/404?delay=10,/bytes/20000?delay=10,/status/302?delay=10,/?delay=10'
hm_run_clients "$P" final \
	"keepalive:1:--target $T4 --requests 160 --connections 4 --paths $FINAL_PATHS" \
	"close:2:--target $T4 --requests 40 --connections 2 --close --paths $FINAL_PATHS" \
	"ipv6:3:--target $T6 --requests 80 --connections 2 --pipeline 2 --paths $FINAL_PATHS"
FINAL=("$TMP"/final-*.json)
sleep 0.5
for by in client port port,client; do
	if stat_ --json --by "$by" >"$TMP/final-stat.json" 2>"$TMP/final-stat.err"; then
		hm_check "measured batch after the churn: hm-stat by $by equals the clients' ground truth" \
			python3 "$HM_LIB/compare.py" check --by "$by" --actual "$TMP/final-stat.json" \
			--expected "${FINAL[@]}"
	else
		hm_not_ok "measured batch: hm-stat --json --by $by" "$(cat "$TMP/final-stat.err")"
	fi
done

# -- readers: a pin missing from the set -------------------------------------------------
ROUTES_ID=$(bpftool map show pinned "$PIN/hm_routes" -j 2>/dev/null | jq -r '.id // empty')
if [ -n "$ROUTES_ID" ] && rm "$PIN/hm_routes"; then
	expect_exit "hm-stat with hm_routes unpinned: exit 3, one line naming it" 3 \
		"^hm-stat: incomplete httpmon map set in $PIN: missing hm_routes " stat_
	expect_exit "hm-reset with hm_routes unpinned: exit 3, one line naming it" 3 \
		"^hm-reset: incomplete httpmon map set in $PIN: missing hm_routes " reset_
	# The monitor still holds the map: pin the same one again.
	hm_check "hm_routes pinned again (bpftool map pin id $ROUTES_ID)" \
		bpftool map pin id "$ROUTES_ID" "$PIN/hm_routes"
else
	hm_not_ok "unpin hm_routes" "id '$ROUTES_ID'"
fi

# -- readers: another layout version in hm_config --------------------------------------
# hm_config[0].layout_version (the first __u32, little endian) is what hm_pin.c
# compares with HM_LAYOUT_VERSION; the classifier only stamps it when it is 0.
OTHER=$((LAYOUT + 1))
if bpftool map lookup pinned "$PIN/hm_config" key 0 0 0 0 -j >"$TMP/config.json" 2>"$TMP/config.err" &&
	mapfile -t ORIG < <(jq -r '.value[]' "$TMP/config.json") && [ ${#ORIG[@]} -gt 4 ] &&
	[ "$((ORIG[0] + (ORIG[1] << 8) + (ORIG[2] << 16) + (ORIG[3] << 24)))" -eq "$LAYOUT" ]; then
	NEW=("$(printf '0x%02x' $((OTHER & 255)))" "$(printf '0x%02x' $((OTHER >> 8 & 255)))" \
		"$(printf '0x%02x' $((OTHER >> 16 & 255)))" "$(printf '0x%02x' $((OTHER >> 24 & 255)))" "${ORIG[@]:4}")
	if bpftool map update pinned "$PIN/hm_config" key 0 0 0 0 value hex "${NEW[@]#0x}" 2>"$TMP/config.err"; then
		hm_ok "hm_config's layout_version set to $OTHER with bpftool (the tools read $LAYOUT)"
		re="maps in $PIN have layout version $OTHER, this hm-(stat|reset) reads version $LAYOUT: use tools of the same release\$"
		expect_exit "hm-stat on layout $OTHER: exit 4, one line naming both versions" 4 "^hm-stat: $re" stat_
		expect_exit "hm-stat --json on layout $OTHER: exit 4, one line" 4 "^hm-stat: $re" stat_ --json
		expect_exit "hm-stat --watch 1 on layout $OTHER: exit 4 at once, one line" 4 "^hm-stat: $re" \
			timeout 3 "$HM_BUILD/hm-stat" --pin-path "$PIN" --watch 1
		expect_exit "hm-reset on layout $OTHER: exit 4, one line" 4 "^hm-reset: $re" reset_
		if bpftool map update pinned "$PIN/hm_config" key 0 0 0 0 value hex "${ORIG[@]#0x}" 2>"$TMP/config.err" &&
			stat_ >/dev/null 2>&1; then
			hm_ok "layout_version $LAYOUT written back: hm-stat reads the maps again"
		else
			hm_not_ok "layout_version written back" "$(cat "$TMP/config.err")"
		fi
	else
		hm_not_ok "bpftool map update hm_config" "$(cat "$TMP/config.err")"
	fi
else
	hm_not_ok "bpftool map lookup hm_config: layout_version $LAYOUT" \
		"$(cat "$TMP/config.err")" "$(head -c 300 "$TMP/config.json")"
fi

# -- hm-stat --watch: maps replaced within one interval ----------------------------------
"$HM_BUILD/hm-stat" --pin-path "$PIN" --watch 1 >"$TMP/watch.out" 2>"$TMP/watch.err" </dev/null &
WATCH=$!
BG_PIDS+=("$WATCH")
if wait_for 10 has_blocks "$TMP/watch.out" 1; then
	kill -STOP "$WATCH"
	ok=1
	# $WATCH must be hm-stat itself, and stopped, or this proves nothing.
	wait_for 2 is_stopped "$WATCH" || ok=0
	load --detach --all >"$TMP/reload.log" 2>&1 || ok=0
	load "$BR" >>"$TMP/reload.log" 2>&1 || ok=0
	n0=$(blocks "$TMP/watch.out")
	kill -CONT "$WATCH"
	warn="^hm-stat: warning: the maps in $PIN were replaced \(monitor reloaded\): rates start again$"
	if [ "$ok" -eq 1 ] && wait_for 10 has_blocks "$TMP/watch.out" $((n0 + 2)) &&
		kill -0 "$WATCH" 2>/dev/null && [ "$(wc -l <"$TMP/watch.err")" -eq 1 ] &&
		grep -Eq "$warn" "$TMP/watch.err"; then
		hm_ok "--watch: maps replaced between two reads (detach --all + load): one warning, new maps opened, blocks go on"
		hm_note "  $(cat "$TMP/watch.err")"
	else
		hm_not_ok "--watch: maps replaced between two reads: one warning, new maps opened, blocks go on" \
			"stopped and reloaded: ok=$ok ($(cat "/proc/$WATCH/comm" 2>&1)): $(cat "$TMP/reload.log")" "blocks: $n0 -> $(blocks "$TMP/watch.out")" \
			"alive: $(kill -0 "$WATCH" 2>/dev/null && echo yes || echo no)" "stderr: $(cat "$TMP/watch.err")"
	fi

	# -- maps removed: exit 3 at the next read -------------------------------------------
	ticks0=$(cpu_ticks "$WATCH")
	t0=$(date +%s%N)
	if out=$(load --detach --all 2>&1); then
		hm_ok "hm-load --detach --all under a running --watch"
	else
		hm_not_ok "hm-load --detach --all under a running --watch" "$out"
	fi
	wait_for 5 gone "$WATCH"
	ms=$((($(date +%s%N) - t0) / 1000000))
	ticks1=$(cpu_ticks "$WATCH") # empty once it has exited
	if kill -0 "$WATCH" 2>/dev/null; then
		hm_not_ok "--watch after the pins are removed: ends within 5 s" \
			"still running after ${ms} ms, CPU ticks ${ticks0} -> ${ticks1}" "stderr: $(cat "$TMP/watch.err")"
		kill -TERM "$WATCH"
	fi
	wait "$WATCH"
	rc=$?
	last=$(tail -n 1 "$TMP/watch.err")
	if [ "$rc" -eq 3 ] && [ "$ms" -le 2500 ] && [ "$(wc -l <"$TMP/watch.err")" -eq 2 ] &&
		[ "$last" = "hm-stat: the maps in $PIN were removed (monitor detached)" ]; then
		hm_ok "--watch: pins removed: one error line and exit 3 within the interval (${ms} ms), no busy loop"
		hm_note "  $last"
	else
		hm_not_ok "--watch: pins removed: one error line and exit 3 within the interval" \
			"exit $rc after ${ms} ms" "stderr: $(cat "$TMP/watch.err")"
	fi
	if grep -q $'\e' "$TMP/watch.out"; then
		hm_not_ok "--watch not on a terminal: no escape sequences" "$(head -c 500 "$TMP/watch.out" | od -c | head)"
	else
		hm_ok "--watch not on a terminal: plain blocks, no escape sequences ($(blocks "$TMP/watch.out") blocks)"
	fi
else
	hm_not_ok "--watch prints its first block within 10 s" "$(cat "$TMP/watch.err")"
	load --detach --all >/dev/null 2>&1
fi

# -- readers: no pins at all --------------------------------------------------------------
if [ ! -e "$PIN" ]; then
	hm_ok "hm-load --detach --all removed the pin directory"
else
	hm_not_ok "hm-load --detach --all removed the pin directory" "$(ls -A "$PIN")"
fi
nomaps="no httpmon maps in $PIN \(is the monitor loaded\? run: hm-load IFACE\)$"
expect_exit "pin directory gone: hm-stat exit 3, one line" 3 "^hm-stat: $nomaps" stat_
expect_exit "pin directory gone: hm-stat --json exit 3, one line" 3 "^hm-stat: $nomaps" stat_ --json
expect_exit "pin directory gone: hm-stat --watch 1 exit 3 at once, one line" 3 "^hm-stat: $nomaps" \
	timeout 3 "$HM_BUILD/hm-stat" --pin-path "$PIN" --watch 1
expect_exit "pin directory gone: hm-reset exit 3, one line" 3 "^hm-reset: $nomaps" reset_
mkdir "$PIN"
expect_exit "pin directory empty: hm-stat exit 3, one line" 3 "^hm-stat: $nomaps" stat_
expect_exit "pin directory empty: hm-reset exit 3, one line" 3 "^hm-reset: $nomaps" reset_
rmdir "$PIN"

# -- loaded again: a new watch runs ------------------------------------------------------
if out=$(load "$BR" 2>&1); then
	hm_in_client "$P" 1 timeout 30 python3 "$HM_LIB/client.py" --target "$T4" --requests 400 \
		--connections 2 --paths /delay/5 --max-seconds 20 --out "$TMP/again.json" >"$TMP/again.log" 2>&1 &
	AGAIN=$!
	sleep 0.3
	timeout 20 "$HM_BUILD/hm-stat" --pin-path "$PIN" --watch 1 --count 2 >"$TMP/watch2.out" 2>"$TMP/watch2.err"
	rc=$?
	wait "$AGAIN"
	crc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$TMP/watch2.err" ] && [ "$(blocks "$TMP/watch2.out")" -eq 2 ] &&
		grep -Eq "^$(hm_client_ip "$P" 1) +[1-9]" "$TMP/watch2.out" && [ "$crc" -eq 0 ]; then
		hm_ok "loaded again: hm-stat --watch 1 --count 2 shows the new traffic's rates, exit 0"
	else
		hm_not_ok "loaded again: hm-stat --watch 1 --count 2 shows the new traffic's rates" \
			"exit $rc, client exit $crc" "$(cat "$TMP/watch2.err" "$TMP/watch2.out" "$TMP/again.log")"
	fi
else
	hm_not_ok "hm-load $BR after --detach --all" "$out"
fi
if out=$(load --detach --all 2>&1) && [ ! -e "$PIN" ] &&
	[ -z "$(hm_in_host "$P" tc filter show dev "$BR" ingress)$(hm_in_host "$P" tc filter show dev "$BR" egress)" ]; then
	hm_ok "hm-load --detach --all: no filter on $BR, no pins"
else
	hm_not_ok "hm-load --detach --all: no filter, no pins" "$out" "$(ls -A "$PIN" 2>&1)"
fi

hm_done
