#!/usr/bin/env bash
# test_bad_ground.sh - hm-load, hm-stat and hm-reset where things are missing.
#
# Each case wants the documented exit status and one line on stderr that
# says what to do: not root (uid 65534 through setpriv), an interface that
# does not exist, bpffs not mounted (a private mount namespace with
# /sys/fs/bpf unmounted), a pin directory that does not exist, and an
# interface deleted while httpmon is attached to it: --status lists it as
# gone, hm-stat still reads, --detach forgets it and unpins the maps only
# when no other interface uses them.
#
# Names: namespace hmg<pid>, veths hmg<pid>a/b and hmg<pid>c/d inside it,
# pins in /sys/fs/bpf/hmbad-<pid>.  No addresses are configured.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
hm_require_cmds ip tc nsenter setpriv unshare jq
hm_require_build hm-load hm-stat hm-reset
hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }

ID=$$
NS=hmg$ID
IF_A=hmg${ID}a
IF_B=hmg${ID}b
IF_C=hmg${ID}c
IF_D=hmg${ID}d
PIN=/sys/fs/bpf/hmbad-$ID
TMP=$(mktemp -d /tmp/hm-badground.XXXXXX)
BIN=$TMP/bin

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
hm_pins_cleanup_stale hmbad-
for ns in $(ip netns list | awk '/^hmg[0-9]+( |$)/ { print $1 }'); do
	kill -0 "${ns#hmg}" 2>/dev/null || ip netns del "$ns"
done

chmod 0755 "$TMP"
mkdir "$BIN"
install -m 0755 "$HM_BUILD/hm-load" "$HM_BUILD/hm-stat" "$HM_BUILD/hm-reset" "$BIN/"
LOAD=$BIN/hm-load
STAT=$BIN/hm-stat
RESET=$BIN/hm-reset

in_ns() { nsenter --net="/run/netns/$NS" -- "$@"; }

setup_net() {
	local i
	ip netns add "$NS" && ip -n "$NS" link set lo up &&
		ip -n "$NS" link add "$IF_A" type veth peer name "$IF_B" &&
		ip -n "$NS" link add "$IF_C" type veth peer name "$IF_D" || return 1
	for i in "$IF_A" "$IF_B" "$IF_C" "$IF_D"; do
		ip -n "$NS" link set "$i" up || return 1
	done
}
if ! setup_net 2>"$TMP/net.err"; then
	hm_not_ok "namespace $NS with two veth pairs" "$(cat "$TMP/net.err")"
	hm_done
fi

# -- not root ------------------------------------------------------------------------
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
root_re='^hm-load: must run as root \(needs CAP_BPF, CAP_NET_ADMIN and bpffs write access\)$'
hm_expect_fail "hm-load as uid 65534: exit 5, says it needs root" 5 "$root_re" \
	in_ns "${nobody[@]}" "$LOAD" --pin-path "$PIN" "$IF_A"
hm_expect_fail "hm-load --status as uid 65534: exit 5" 5 "$root_re" \
	in_ns "${nobody[@]}" "$LOAD" --pin-path "$PIN" --status
hm_expect_fail "hm-load --detach as uid 65534: exit 5" 5 "$root_re" \
	in_ns "${nobody[@]}" "$LOAD" --pin-path "$PIN" --detach "$IF_A"
[ ! -e "$PIN" ] && ! in_ns tc qdisc show dev "$IF_A" | grep -q clsact
hm_judge $? "... and changed nothing (no pins, no clsact qdisc)" "$(ls "$PIN" 2>&1)"

# -- no such interface -----------------------------------------------------------------
nodev_re="^hm-load: no such interface 'hmg${ID}x' in this network namespace \(ip link lists them\)$"
hm_expect_fail "hm-load on a missing interface: exit 6, one line" 6 "$nodev_re" \
	in_ns "$LOAD" --pin-path "$PIN" "hmg${ID}x"
hm_expect_fail "hm-load --detach of a never-seen interface: exit 6, one line" 6 "$nodev_re" \
	in_ns "$LOAD" --pin-path "$PIN" --detach "hmg${ID}x"
[ ! -e "$PIN" ]
hm_judge $? "... and no pin directory was created" "$(ls -la "$PIN" 2>&1)"

# -- no maps: pin directory missing, bpffs not mounted ------------------------------------------
hm_expect_fail "hm-stat on a missing pin directory: exit 3, says to load" 3 \
	"^hm-stat: no httpmon maps in $PIN/none \(is the monitor loaded\? run: hm-load IFACE\)$" \
	"$STAT" --pin-path "$PIN/none"
hm_expect_fail "hm-reset on a missing pin directory: exit 3, says to load" 3 \
	"^hm-reset: no httpmon maps in $PIN/none \(is the monitor loaded\? run: hm-load IFACE\)$" \
	"$RESET" --pin-path "$PIN/none"
hm_expect_fail "hm-load --status with no maps: exit 3" 3 '^$' \
	in_ns "$LOAD" --pin-path "$PIN/none" --status
[ "$out" = "no httpmon maps in $PIN/none" ]
hm_judge $? "... and says so on stdout" "$out"

# In a mount namespace of its own, /sys/fs/bpf unmounted (every stacked mount).
cat >"$TMP/nobpffs.sh" <<EOF
while [ "\$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]; do umount /sys/fs/bpf || exit 9; done
"$STAT" >$TMP/nb.stat.out 2>$TMP/nb.stat.err; echo \$? >$TMP/nb.stat.rc
"$RESET" >$TMP/nb.reset.out 2>$TMP/nb.reset.err; echo \$? >$TMP/nb.reset.rc
"$STAT" --pin-path /sys/fs/bpf/elsewhere >/dev/null 2>$TMP/nb.else.err; echo \$? >$TMP/nb.else.rc
"$LOAD" --status >$TMP/nb.load.out 2>$TMP/nb.load.err; echo \$? >$TMP/nb.load.rc
stat -f -c %T /sys/fs/bpf >$TMP/nb.fstype
EOF
if unshare --mount --propagation private bash "$TMP/nobpffs.sh" 2>"$TMP/nb.err"; then
	re='^hm-(stat|reset): no httpmon maps in /sys/fs/bpf/[a-z/]+: bpffs is not mounted on /sys/fs/bpf, so nothing is loaded \(run: hm-load IFACE, which mounts it\)$'
	for t in stat reset else; do
		e=$(cat "$TMP/nb.$t.err")
		[ "$(cat "$TMP/nb.$t.rc")" = 3 ] && [[ $e =~ $re ]] && [ "$(wc -l <<<"$e")" -eq 1 ]
		hm_judge $? "bpffs not mounted: hm-${t/else/stat --pin-path} exits 3 and says bpffs is not mounted" \
			"exit $(cat "$TMP/nb.$t.rc")" "$e"
	done
	[ "$(cat "$TMP/nb.load.rc")" = 3 ] && [ "$(cat "$TMP/nb.fstype")" = bpf_fs ] &&
		grep -qx 'no httpmon maps in /sys/fs/bpf/tc/globals' "$TMP/nb.load.out"
	hm_judge $? "bpffs not mounted: hm-load --status mounts it, then exits 3 (nothing loaded)" \
		"exit $(cat "$TMP/nb.load.rc"), fs $(cat "$TMP/nb.fstype")" "$(cat "$TMP/nb.load.err")"
else
	hm_not_ok "a mount namespace without bpffs on /sys/fs/bpf" "$(cat "$TMP/nb.err")"
fi
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]
hm_judge $? "... and the host's /sys/fs/bpf is still mounted"

# -- an interface that goes away ----------------------------------------------------------------
hm_run in_ns "$LOAD" --pin-path "$PIN" "$IF_A"
[ "$rc" -eq 0 ]
hm_judge $? "hm-load attaches to $IF_A" "exit $rc: $err"
hm_run in_ns "$LOAD" --pin-path "$PIN" "$IF_C"
[ "$rc" -eq 0 ]
hm_judge $? "hm-load attaches to $IF_C (one map set)" "exit $rc: $err"
ip -n "$NS" link del "$IF_A"

hm_run in_ns "$LOAD" --pin-path "$PIN" --status
[ "$rc" -eq 0 ] && grep -Eq "^$IF_A +[0-9]+ .*gone, or in another network namespace$" <<<"$out" &&
	grep -Eq "^$IF_C +[0-9]+ +[0-9]+ +[0-9]+ " <<<"$out"
hm_judge $? "--status after $IF_A was deleted: exit 0, lists it as gone, $IF_C attached" \
	"exit $rc: $err" "$out"
hm_run in_ns "$LOAD" --pin-path "$PIN" --status --json
[ "$rc" -eq 0 ] && [ "$(jq -c "[.interfaces[] | select(.iface == \"$IF_A\") | .present]" <<<"$out")" = '[false]' ]
hm_judge $? "--status --json: $IF_A present false" "exit $rc: $err" "$out"
hm_run "$STAT" --pin-path "$PIN" --by iface
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "hm-stat --by iface still reads the maps: exit 0" "exit $rc: $err" "$out"

hm_run in_ns "$LOAD" --pin-path "$PIN" --detach "$IF_A"
[ "$rc" -eq 0 ] &&
	grep -qx "hm-load: $IF_A (ifindex [0-9]*) is not in this network namespace any more: deleted, and httpmon's programs with it, or moved; forgetting it" <<<"$err" &&
	grep -qx "hm-load: maps in $PIN stay pinned: other httpmon programs still use them" <<<"$err" &&
	[ -e "$PIN/hm_config" ]
hm_judge $? "--detach of the deleted $IF_A: exit 0, says so, forgets it, keeps the maps $IF_C uses" \
	"exit $rc" "$err"
hm_run in_ns "$LOAD" --pin-path "$PIN" --status --json
[ "$rc" -eq 0 ] && [ "$(jq -c '[.interfaces[].iface]' <<<"$out")" = "[\"$IF_C\"]" ]
hm_judge $? "--status no longer lists $IF_A" "$out"
hm_expect_fail "a second --detach of $IF_A: exit 6, one line" 6 \
	"^hm-load: no such interface '$IF_A' in this network namespace \(ip link lists them\)$" \
	in_ns "$LOAD" --pin-path "$PIN" --detach "$IF_A"

ip -n "$NS" link del "$IF_C"
hm_run in_ns "$LOAD" --pin-path "$PIN" --detach "$IF_C"
[ "$rc" -eq 0 ] && grep -qx "hm-load: unpinned the maps in $PIN" <<<"$err" && [ ! -e "$PIN" ]
hm_judge $? "--detach of the last interface, deleted too: exit 0, unpins the maps" "exit $rc" "$err" \
	"$(ls "$PIN" 2>&1)"
hm_expect_fail "hm-stat afterwards: exit 3, says to load" 3 \
	"^hm-stat: no httpmon maps in $PIN \(is the monitor loaded\? run: hm-load IFACE\)$" \
	"$STAT" --pin-path "$PIN"

hm_done
