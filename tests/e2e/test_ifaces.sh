#!/usr/bin/env bash
# test_ifaces.sh - end to end: two interfaces, one map set, and the lifecycle.
#
# One host namespace holds two bridges, each with its own client namespace:
# ${P}br (10.231.53.0/24, client 1) and ${P}b2 (10.231.54.0/24, client 2);
# the origin listens on both.
#
#  - Concurrent loads take turns: while `flock` holds the lock hm-load takes
#    (the pin directory does not exist yet, so its parent), hm-load on
#    ${P}br (tc) and hm-load --xdp=generic on ${P}b2 are started together;
#    both wait, then both attach, and every program uses one map set.
#  - Loading again never counts twice: ${P}br is loaded again, ${P}b2 is
#    switched to tc ingress and back to XDP, before any traffic.
#  - Totals are the sum: hm-stat by client and by port equals both clients'
#    ground truth together; by iface (hm-stat --by iface, and the pinned
#    hm_ifaces map) each bridge's row equals its own client's totals.
#  - hm-load --detach --all leaves no tc filter, no clsact qdisc hm-load
#    added, no XDP program, no pins, and bpffs as it was; run again it finds
#    nothing (exit 3), as does --status.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout flock
hm_require_build httpmon.o hm-load hm-stat hm-reset

export HM_LAB_NET=53
NET2=54
hm_e2e_init if ifaces
B1=$BR
B2=${P}b2
# The map set one level down: the directory above it is only a lock's.
LOCKDIR=$PIN
PIN=$LOCKDIR/maps

# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	[ -d "$PIN" ] && hm_in_host "$P" "$HM_BUILD/hm-load" --detach --all --pin-path "$PIN" >/dev/null 2>&1
	rm -rf "$LOCKDIR"
	return 0
}

load() { hm_in_host "$P" "$HM_BUILD/hm-load" "$@" --pin-path "$PIN"; }
status() { hm_in_host "$P" "$HM_BUILD/hm-load" --status --json --pin-path "$PIN" 2>/dev/null; }
ifindex() { hm_in_host "$P" ip -o link show dev "$1" | cut -d: -f1; }
# bpffs_state: what hm-load could leave in bpffs (other test runs' own
# directories, hmtest-* and hmbench-*, come and go on their own).
bpffs_state() {
	ls -A /sys/fs/bpf | grep -vE '^hm(test|bench)-'
	ls -A /sys/fs/bpf/xdp /sys/fs/bpf/tc 2>/dev/null
}

# -- lab: two bridges in one namespace --------------------------------------------
# The second bridge's range is claimed under the lab's name: hm_lab_down releases it too.
if hm_lab_up "$P" 1 >"$TMP/lab.log" 2>&1 && hm_blackhole_claim "$NET2" "$P" >>"$TMP/lab.log" 2>&1 && {
	ip netns add "${P}c2" && ip -n "${P}c2" link set lo up &&
		ip -n "${P}h" link add "$B2" type bridge &&
		ip -n "${P}h" addr add "10.231.$NET2.1/24" dev "$B2" &&
		ip -n "${P}h" link set "$B2" up &&
		ip -n "${P}h" link add "${P}w2" type veth peer name eth0 netns "${P}c2" &&
		ip -n "${P}h" link set "${P}w2" master "$B2" && ip -n "${P}h" link set "${P}w2" up &&
		ip -n "${P}c2" addr add "10.231.$NET2.11/24" dev eth0 && ip -n "${P}c2" link set eth0 up
} >>"$TMP/lab.log" 2>&1; then
	hm_ok "lab up: bridges $B1 and $B2 in one namespace, a client on each"
else
	hm_not_ok "lab up" "$(cat "$TMP/lab.log")"
	hm_done
fi
H1=$(hm_host_ip "$P" 4)
H2=10.231.$NET2.1
hm_origin_up "${P}h" "$TMP/origin.out" --seed 5 --min-delay-ms 10 --max-delay-ms 20 \
	--listen "$H1:8080" --listen "$H1:8888" --listen "$H2:8080" --listen "$H2:8888"

hm_in_host "$P" "$HM_BUILD/hm-load" --status --pin-path "$PIN" >"$TMP/st0.out" 2>&1
rc=$?
if [ "$rc" -eq 3 ]; then
	hm_ok "hm-load --status before any load: nothing loaded (exit 3)"
else
	hm_not_ok "hm-load --status before any load: nothing loaded (exit 3)" "exit $rc" "$(cat "$TMP/st0.out")"
fi
BPFFS_BEFORE=$(bpffs_state)
mkdir "$LOCKDIR"

# -- concurrent loads take turns ------------------------------------------------------
# The pin directory does not exist yet, so hm-load locks its parent, $LOCKDIR.
flock "$LOCKDIR" sleep 2 &
HOLDER=$!
for ((i = 0; i < 50; i++)); do flock -n "$LOCKDIR" true || break; sleep 0.05; done
start=$(date +%s%N)
load "$B1" >"$TMP/load1.out" 2>&1 &
L1=$!
load --xdp=generic "$B2" >"$TMP/load2.out" 2>&1 &
L2=$!
wait "$L1"
rc1=$?
wait "$L2"
rc2=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
wait "$HOLDER"
if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]; then
	hm_ok "two concurrent hm-load runs ($B1 tc, $B2 xdp generic) both succeed"
else
	hm_not_ok "two concurrent hm-load runs both succeed" "exit $rc1: $(cat "$TMP/load1.out")" \
		"exit $rc2: $(cat "$TMP/load2.out")"
fi
if [ "$elapsed_ms" -ge 1500 ] && grep -q "waiting for another hm-load" "$TMP/load1.out" "$TMP/load2.out"; then
	hm_ok "they waited for the lock on the pin directory's parent (${elapsed_ms} ms)"
else
	hm_not_ok "they waited for the lock on the pin directory's parent" "${elapsed_ms} ms" \
		"$(cat "$TMP/load1.out" "$TMP/load2.out")"
fi
cfg_id=$(bpftool map show pinned "$PIN/hm_config" -j 2>/dev/null | jq -r '.id // empty')
ids=$(status | jq -r '.interfaces[] | (.tc_ingress[], .tc_egress[], (.xdp.prog_id // empty))')
others=
for id in $ids; do
	bpftool prog show id "$id" -j | jq -e --argjson m "${cfg_id:-0}" '.map_ids | index($m)' >/dev/null ||
		others="$others $id"
done
if [ -n "$cfg_id" ] && [ "$(wc -w <<<"$ids")" -eq 4 ] && [ -z "$others" ]; then
	hm_ok "one map set: all 4 programs use the pinned hm_config (map id $cfg_id)"
else
	hm_not_ok "one map set: all 4 programs use the pinned hm_config" "hm_config id: $cfg_id" \
		"programs: $ids" "not using it:$others" "$(status)"
fi

# -- loading again never counts twice ---------------------------------------------------
hm_check "hm-load $B1 again (tc filters replaced in place)" load "$B1"
hm_check "hm-load $B2 (tc): switches its ingress from XDP to tc" load "$B2"
if status | jq -e --arg i "$B2" '.interfaces[] | select(.iface == $i) | .xdp == null and (.tc_ingress | length) == 1' >/dev/null; then
	hm_ok "$B2: tc ingress, no XDP program"
else
	hm_not_ok "$B2: tc ingress, no XDP program" "$(status)"
fi
hm_check "hm-load --xdp=generic $B2: back to XDP" load --xdp=generic "$B2"
hm_check "hm-load --xdp=generic $B2 again (the XDP program is kept)" load --xdp=generic "$B2"
if status | jq -e --arg a "$B1" --arg b "$B2" '
	([.interfaces[] | select(.iface == $a) | .xdp == null and (.tc_ingress | length) == 1 and (.tc_egress | length) == 1] == [true]) and
	([.interfaces[] | select(.iface == $b) | .xdp.mode == "generic" and (.tc_ingress | length) == 0 and (.tc_egress | length) == 1] == [true])' >/dev/null; then
	hm_ok "--status: $B1 tc ingress+egress, $B2 xdp generic + tc egress, one program per hook"
else
	hm_not_ok "--status: $B1 tc ingress+egress, $B2 xdp generic + tc egress" "$(status)"
fi
hm_in_host "$P" "$HM_BUILD/hm-load" --status --pin-path "$PIN" >"$TMP/st.txt" 2>&1
if grep -q "^hm_links .* 2 " "$TMP/st.txt" && grep -q "^hm_clients " "$TMP/st.txt"; then
	hm_ok "--status lists the maps with their fill (hm_links: 2 entries)"
else
	hm_not_ok "--status lists the maps with their fill" "$(cat "$TMP/st.txt")"
fi

# -- traffic through both bridges at once ----------------------------------------------
PATHS='/,/delay/10,/status/404?delay=10,/bytes/5000?delay=10,/status/302?delay=10,/'
hm_in_client "$P" 1 timeout 90 python3 "$HM_LIB/client.py" --target "$H1:8080,$H1:8888" \
	--requests 160 --connections 4 --pipeline 2 --paths "$PATHS" --max-seconds 60 \
	--out "$TMP/c1.json" >"$TMP/c1.log" 2>&1 &
T1=$!
ip netns exec "${P}c2" timeout 90 python3 "$HM_LIB/client.py" --target "$H2:8080,$H2:8888" \
	--requests 120 --connections 2 --paths "$PATHS" --max-seconds 60 \
	--out "$TMP/c2.json" >"$TMP/c2.log" 2>&1 &
T2=$!
for c in 1 2; do
	pid=$T1
	[ "$c" -eq 2 ] && pid=$T2
	if wait "$pid"; then
		hm_ok "traffic from client $c: $(jq -r '"\(.total.requests) requests, \(.total.responses) responses"' "$TMP/c$c.json")"
	else
		hm_not_ok "traffic from client $c" "$(cat "$TMP/c$c.log")"
	fi
done
sleep 0.5

for by in client port; do
	if "$HM_BUILD/hm-stat" --pin-path "$PIN" --json --by "$by" >"$TMP/stat-$by.json" 2>"$TMP/stat.err"; then
		hm_check "totals are the sum: hm-stat by $by equals both clients' ground truth" \
			python3 "$HM_LIB/compare.py" check --by "$by" --actual "$TMP/stat-$by.json" \
			--expected "$TMP/c1.json" "$TMP/c2.json"
	else
		hm_not_ok "hm-stat --by $by" "$(cat "$TMP/stat.err")"
	fi
done

# check_ifaces SOURCE FILE: each bridge's row equals its client's totals.
# SOURCE is "stat" (hm-stat --json --by iface) or "map" (the interface rows as
# bpftool shows them, compare.py rows: summed over the CPUs and generations).
cat >"$TMP/ifaces.py" <<'EOF'
import json, sys
source, path, spec = sys.argv[1], sys.argv[2], sys.argv[3:]
doc = json.load(open(path))
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
rows = {}
if source == "stat":
    for r in doc.get("ifaces", []):
        st = r["status"]
        rows[r["ifindex"]] = {"iface": r.get("iface"), "requests": r["requests"],
                              "responses": r["responses"], "unanswered": r["unanswered"],
                              "status": [st[c] for c in CLASSES],
                              "bytes_in": r["bytes_in"], "bytes_out": r["bytes_out"]}
else:
    for e in doc:
        if e["key"] is None:
            continue  # an overflow row
        key = e["key"]["ifindex"]
        row = rows.setdefault(key, {"iface": None, "requests": 0, "responses": 0,
                                    "unanswered": 0, "status": [0] * 5, "bytes_in": 0,
                                    "bytes_out": 0})
        for cpu in e["values"]:
            v = cpu["value"]
            for k in ("requests", "responses", "unanswered", "bytes_in", "bytes_out"):
                row[k] += v[k]
            row["status"] = [a + b for a, b in zip(row["status"], v["status"])]
bad = []
for item in spec:
    ifindex, name, client = item.split(":", 2)
    t = json.load(open(client))["total"]
    want = {"requests": t["requests"], "responses": t["responses"], "unanswered": 0,
            "status": [t["status"][c] for c in CLASSES],
            "bytes_in": t["bytes_in"], "bytes_out": t["bytes_out"]}
    got = rows.pop(int(ifindex), None)
    if got is None:
        bad.append("no row for %s (ifindex %s)" % (name, ifindex))
        continue
    if source == "stat" and got["iface"] != name:
        bad.append("ifindex %s is named %r, expected %r" % (ifindex, got["iface"], name))
    for k, v in want.items():
        if got[k] != v:
            bad.append("%s %s: expected %s, got %s" % (name, k, v, got[k]))
for ifindex, r in rows.items():
    if r["requests"] or r["responses"]:
        bad.append("unexpected row ifindex %s: %s" % (ifindex, r))
print("\n".join(bad) if bad else "%d interface row(s) match" % len(spec))
sys.exit(1 if bad else 0)
EOF
SPLIT=("$(ifindex "$B1"):$B1:$TMP/c1.json" "$(ifindex "$B2"):$B2:$TMP/c2.json")
if python3 "$HM_LIB/compare.py" rows --pin-dir "$PIN" --kind iface >"$TMP/ifaces-map.json" 2>"$TMP/err"; then
	hm_check "hm_ifaces (bpftool): each bridge's row equals its client's totals" \
		python3 "$TMP/ifaces.py" map "$TMP/ifaces-map.json" "${SPLIT[@]}"
else
	hm_not_ok "the interface rows (bpftool)" "$(cat "$TMP/err")"
fi
"$HM_BUILD/hm-stat" --pin-path "$PIN" --json --by iface >"$TMP/stat-iface.json" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ]; then
	hm_check "hm-stat --by iface splits the totals exactly, rows named by interface" \
		python3 "$TMP/ifaces.py" stat "$TMP/stat-iface.json" "${SPLIT[@]}"
	if "$HM_BUILD/hm-stat" --pin-path "$PIN" --by iface >"$TMP/iface.txt" 2>&1 &&
		grep -q "^$B1 " "$TMP/iface.txt" && grep -q "^$B2 " "$TMP/iface.txt"; then
		hm_ok "hm-stat --by iface table names both bridges"
		hm_note "$(sed -n 2,5p "$TMP/iface.txt" | cut -c1-100 | tr '\n' '|')"
	else
		hm_not_ok "hm-stat --by iface table names both bridges" "$(cat "$TMP/iface.txt")"
	fi
elif [ "$rc" -eq 2 ]; then
	hm_skip "hm-stat --by iface" "this hm-stat has no --by iface"
else
	hm_not_ok "hm-stat --by iface" "exit $rc" "$(cat "$TMP/err")"
fi

# -- detach --all leaves nothing --------------------------------------------------------
if out=$(load --detach --all 2>&1); then
	hm_ok "hm-load --detach --all"
	hm_note "  $(tr '\n' ' ' <<<"$out")"
else
	hm_not_ok "hm-load --detach --all" "$out"
fi
left=
for dev in $(hm_in_host "$P" ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
	for dir in ingress egress; do
		f=$(hm_in_host "$P" tc filter show dev "$dev" "$dir" 2>/dev/null)
		[ -n "$f" ] && left="$left $dev/$dir"
	done
	hm_in_host "$P" tc qdisc show dev "$dev" | grep -q clsact && left="$left $dev/clsact"
done
if [ -z "$left" ]; then
	hm_ok "no tc filter and no clsact qdisc left on any interface"
else
	hm_not_ok "no tc filter and no clsact qdisc left on any interface" "left:$left"
fi
xdp=$(hm_in_host "$P" ip -o link show | grep -E 'prog/xdp| xdp(generic|drv|offload)? ' || true)
if [ -z "$xdp" ]; then
	hm_ok "no XDP program left on any interface"
else
	hm_not_ok "no XDP program left on any interface" "$xdp"
fi
if [ ! -e "$PIN" ] && [ -z "$(ls -A "$LOCKDIR")" ]; then
	hm_ok "no pins left: $PIN is gone"
else
	hm_not_ok "no pins left" "$(ls -AR "$LOCKDIR")"
fi
rmdir "$LOCKDIR"
if [ "$(bpffs_state)" = "$BPFFS_BEFORE" ]; then
	hm_ok "bpffs is as it was before the first load"
else
	hm_not_ok "bpffs is as it was before the first load" \
		"$(diff <(echo "$BPFFS_BEFORE") <(bpffs_state))"
fi
load --detach --all >"$TMP/again.out" 2>&1
rc=$?
if [ "$rc" -eq 3 ]; then
	hm_ok "hm-load --detach --all again: nothing left to remove (exit 3)"
else
	hm_not_ok "hm-load --detach --all again: exit 3" "exit $rc" "$(cat "$TMP/again.out")"
fi
hm_in_host "$P" "$HM_BUILD/hm-load" --status --pin-path "$PIN" >"$TMP/st1.out" 2>&1
rc=$?
if [ "$rc" -eq 3 ]; then
	hm_ok "hm-load --status after --detach --all: nothing loaded (exit 3)"
else
	hm_not_ok "hm-load --status after --detach --all: exit 3" "exit $rc" "$(cat "$TMP/st1.out")"
fi
hm_done
