#!/usr/bin/env bash
# test_harness.sh - the guards the test harness keeps around the machine.
#
# Blackhole routes (tests/lib/netns.sh): while a lab exists, the root
# namespace routes its 10.231.N.0/24 and fd00:231:N::/64 to a blackhole, so
# a packet sent there from outside the lab's namespaces fails on the spot
# (the kernel refuses the send) instead of leaving the machine; two labs on
# one N keep the route until the last one goes; a crashed lab's route goes
# with hm_lab_cleanup_stale; a route of the machine's own for the range is
# never replaced.
#
# The lock on /sys/fs/bpf/tc/globals: tests/e2e/test_plain_tc.sh waits for
# /run/httpmon-tc-globals.lock before it touches the directory (here: while
# this test holds the lock, a pin named hm_* there survives), and leaves
# the directory alone when it ends without the lock.
#
# Names: labs hm-hA<pid>, hm-hB<pid>, hm-hC<pid> on N = 252 and 253 (outside
# the 16..249 that lab prefixes hash to); a pin
# /sys/fs/bpf/tc/globals/hm_harness_<pid>.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"

hm_require_root
hm_require_cmds ip flock python3 bpftool
hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }

ID=$$
A=hm-hA$ID
B=hm-hB$ID
C=hm-hC$ID
N1=252
N2=253
GLOBALS=/sys/fs/bpf/tc/globals
GLOBALS_LOCK=/run/httpmon-tc-globals.lock
SENTINEL=$GLOBALS/hm_harness_$ID
TMP=$(mktemp -d /tmp/hm-harness.XXXXXX)
PLAIN_PID=

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$PLAIN_PID" ] && kill "$PLAIN_PID" 2>/dev/null && wait "$PLAIN_PID" 2>/dev/null
	hm_lab_down "$A"
	hm_lab_down "$B"
	hm_lab_down "$C"
	ip route del "10.231.$N2.0/24" dev lo 2>/dev/null
	rm -f "$SENTINEL"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
hm_lab_cleanup_stale

# route N: the root namespace's route for 10.231.N.0/24, "none" when it has none.
route() { ip route show exact "10.231.$1.0/24" | grep . || echo none; }
route6() { ip -6 route show exact "fd00:231:$1::/64" | grep . || echo none; }
# sends ADDR4 ADDR6: what a UDP datagram sent to each meets: "sent" or the
# error, e.g. EINVAL for a blackhole route.
sends() {
	python3 - "$1" "$2" <<'EOF'
import errno, socket, sys
out = []
for fam, addr in ((socket.AF_INET, sys.argv[1]), (socket.AF_INET6, sys.argv[2])):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", (addr, 9))
        out.append("sent")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
print(" ".join(out))
EOF
}

# -- blackhole routes -------------------------------------------------------------------
[ "$(route $N1)" = none ]
hm_judge $? "before any lab: no route for 10.231.$N1.0/24 in the root namespace" "$(route $N1)"
if HM_LAB_NET=$N1 hm_lab_up "$A" 1 >"$TMP/lab.log" 2>&1; then
	hm_ok "lab $A up on 10.231.$N1.0/24"
else
	hm_not_ok "lab $A up on 10.231.$N1.0/24" "$(cat "$TMP/lab.log")"
	hm_done
fi
[[ $(route $N1) == "blackhole 10.231.$N1.0/24 metric $$"* ]] &&
	[[ $(route6 $N1) == "blackhole fd00:231:$N1::/64 "*"metric $$ "* ]]
hm_judge $? "while it exists: blackhole routes for 10.231.$N1.0/24 and fd00:231:$N1::/64 (metric: the owner's pid)" \
	"$(route $N1)" "$(route6 $N1)"
# Sent only where a blackhole is in place: this test itself must not leak.
got="not sent: no blackhole routes"
[[ $(route $N1) == blackhole* ]] && [[ $(route6 $N1) == blackhole* ]] &&
	got=$(sends "10.231.$N1.5" "fd00:231:$N1::5")
[ "$got" = "EINVAL EINVAL" ]
hm_judge $? "a datagram from the root namespace to 10.231.$N1.5 or fd00:231:$N1::5 is refused (EINVAL)" \
	"$got"
got=$(hm_in_client "$A" 1 bash -c "$(declare -f sends); sends 10.231.$N1.1 fd00:231:$N1::1")
[ "$got" = "sent sent" ]
hm_judge $? "... while inside the lab the client still sends to the bridge's addresses" "$got"

if HM_LAB_NET=$N1 hm_lab_up "$B" 1 >"$TMP/lab.log" 2>&1; then
	hm_ok "a second lab $B on the same 10.231.$N1.0/24"
else
	hm_not_ok "a second lab $B on the same 10.231.$N1.0/24" "$(cat "$TMP/lab.log")"
fi
hm_lab_down "$A"
[[ $(route $N1) == blackhole* ]] && [[ $(route6 $N1) == blackhole* ]]
hm_judge $? "$A down, $B still up: the routes stay" "$(route $N1)" "$(route6 $N1)"
hm_lab_down "$B"
[ "$(route $N1)" = none ] && [ "$(route6 $N1)" = none ]
hm_judge $? "$B down too: both routes gone" "$(route $N1)" "$(route6 $N1)"

# A lab whose owner died without taking it down.
sleep 0 &
dead=$!
wait "$dead"
if HM_LAB_NET=$N2 hm_lab_up "$C" 1 "$dead" >"$TMP/lab.log" 2>&1 && [[ $(route $N2) == blackhole* ]]; then
	hm_ok "lab $C up for an owner that is gone (pid $dead), its route there"
else
	hm_not_ok "lab $C up for an owner that is gone" "$(cat "$TMP/lab.log")" "$(route $N2)"
fi
hm_lab_cleanup_stale 2>/dev/null
[ "$(route $N2)" = none ] && [ "$(route6 $N2)" = none ] && ! ip netns list | grep -q "^${C}h"
hm_judge $? "hm_lab_cleanup_stale removes that lab and its routes" "$(route $N2)" "$(ip netns list | grep "$C")"

# A route of the machine's own for the range is left as it is.
ip route add "10.231.$N2.0/24" dev lo
if hm_blackhole_claim "$N2" "harness-$ID" 2>"$TMP/claim.err"; then
	hm_not_ok "a claim on a range the root namespace routes itself fails" "$(route $N2)"
else
	[[ $(route $N2) == "10.231.$N2.0/24 dev lo"* ]] && grep -q 'the root namespace routes' "$TMP/claim.err"
	hm_judge $? "a claim on a range the root namespace routes itself fails and keeps that route" \
		"$(route $N2)" "$(cat "$TMP/claim.err")"
fi
ip route del "10.231.$N2.0/24" dev lo

# -- the lock on tc/globals ----------------------------------------------------------------
exec {lockfd}>>"$GLOBALS_LOCK"
if ! flock -w 600 "$lockfd"; then
	hm_not_ok "this test takes $GLOBALS_LOCK (held for 600 s by another suite)"
	hm_done
fi
mkdir -p "$GLOBALS"
bpftool map create "$SENTINEL" type array key 4 value 4 entries 1 name hm_harness
bash "$HM_ROOT/tests/e2e/test_plain_tc.sh" >"$TMP/plain.out" 2>&1 {lockfd}>&- &
PLAIN_PID=$!
for _ in $(seq 50); do grep -q "waiting for $GLOBALS_LOCK" "$TMP/plain.out" && break; sleep 0.1; done
sleep 1
[ -e "$SENTINEL" ] && kill -0 "$PLAIN_PID" 2>/dev/null &&
	grep -q "^# waiting for $GLOBALS_LOCK (another test run holds it)$" "$TMP/plain.out"
hm_judge $? "test_plain_tc.sh waits for $GLOBALS_LOCK: the hm_* pin there survives" \
	"$(ls "$GLOBALS" 2>&1)" "$(cat "$TMP/plain.out")"
kill "$PLAIN_PID" 2>/dev/null
wait "$PLAIN_PID" 2>/dev/null
PLAIN_PID=
[ -e "$SENTINEL" ]
hm_judge $? "... and, stopped while it waited, it removed nothing there" "$(ls "$GLOBALS" 2>&1)"
rm -f "$SENTINEL"
exec {lockfd}>&-

hm_done
