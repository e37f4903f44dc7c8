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
# Then hostile ground, a pin directory of its own per case: a directory
# where a map pin belongs, a foreign map under an httpmon name, maps of
# another layout version (hm-load must not stamp them as its own), a
# non-root hm-reset, one pin directory used from a second network namespace
# (refused while the first exists, taken over once it is gone), and a
# bridge monitored together with its port (hm-load warns).
#
# Names: namespaces hmg<pid>, hmg<pid>n and hmg<pid>m; veths hmg<pid>a/b,
# c/d, e/f, p/q (in hmg<pid>), g/h (hmg<pid>n), k/l (hmg<pid>m); bridge
# hmg<pid>r; pins in /sys/fs/bpf/hmbad-<pid> and /sys/fs/bpf/hmbad2-<pid>.
# No addresses are configured.
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
NS2=hmg${ID}n
NS3=hmg${ID}m
PIN=/sys/fs/bpf/hmbad-$ID
PIN2=/sys/fs/bpf/hmbad2-$ID
TMP=$(mktemp -d /tmp/hm-badground.XXXXXX)
BIN=$TMP/bin

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	ip netns del "$NS3" 2>/dev/null
	rm -rf "$PIN" "$PIN2" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
hm_pins_cleanup_stale hmbad-
hm_pins_cleanup_stale hmbad2-
for ns in $(ip netns list | awk '/^hmg[0-9]+[nm]?( |$)/ { print $1 }'); do
	pid=${ns#hmg}
	kill -0 "${pid%[nm]}" 2>/dev/null || ip netns del "$ns"
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

# -- hostile ground: what sits where the maps belong -------------------------------------
layout=$(sed -n 's/^#define HM_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$HM_ROOT/kern/httpmon.h")
IF_E=hmg${ID}e
IF_F=hmg${ID}f
if ! { ip -n "$NS" link add "$IF_E" type veth peer name "$IF_F" &&
	ip -n "$NS" link set "$IF_E" up && ip -n "$NS" link set "$IF_F" up; } 2>"$TMP/net.err"; then
	hm_not_ok "veth pair $IF_E/$IF_F" "$(cat "$TMP/net.err")"
	hm_done
fi
pins_of() { find "$1" -mindepth 1 -printf '%f\n' 2>/dev/null | sort | paste -sd' '; }
has_clsact() { in_ns tc qdisc show dev "$1" | grep -q clsact; }

D=$PIN2/dir
mkdir -p "$D/hm_clients"
hm_expect_fail "a directory where a map pin belongs: hm-load exits 4, one line saying what is there" 4 \
	"^hm-load: $D/hm_clients is a directory, not a map pin: remove it \(rmdir $D/hm_clients\) or use another --pin-path$" \
	in_ns "$LOAD" --pin-path "$D" "$IF_E"
[ "$(pins_of "$D")" = hm_clients ] && ! has_clsact "$IF_E"
hm_judge $? "... and pinned nothing, attached nothing" "$(pins_of "$D")"
hm_expect_fail "... hm-stat there: exit 4, one line saying what is there" 4 \
	"^hm-stat: $D/hm_clients is a directory, not a map pin: remove it \(rmdir $D/hm_clients\) or use another pin directory$" \
	"$STAT" --pin-path "$D"
hm_expect_fail "... hm-reset there: exit 4, one line" 4 \
	"^hm-reset: $D/hm_clients is a directory, not a map pin: remove it" "$RESET" --pin-path "$D"

F=$PIN2/foreign
mkdir -p "$F"
bpftool map create "$F/hm_links" type hash key 4 value 8 entries 4 name hm_links
hm_expect_fail "a foreign hash under hm_links: hm-load exits 4, one line with its geometry and advice" 4 \
	"^hm-load: $F/hm_links is not httpmon's map \(type hash, key 4 B, value 8 B, 4 entries; httpmon's: type hash, key 4 B, value [0-9]+ B, 256 entries\): remove it \(rm $F/hm_links\) or use another --pin-path$" \
	in_ns "$LOAD" --pin-path "$F" "$IF_E"
rm -f "$F/hm_links"
bpftool map create "$F/hm_clients" type array key 4 value 8 entries 4 name hm_clients
hm_expect_fail "a plain array where the per-CPU array hm_clients belongs: hm-load exits 4, one line" 4 \
	"^hm-load: $F/hm_clients is not httpmon's map \(type array, key 4 B, value 8 B, 4 entries; httpmon's: type percpu_array, " \
	in_ns "$LOAD" --pin-path "$F" "$IF_E"
[ "$(pins_of "$F")" = hm_clients ] && ! has_clsact "$IF_E"
hm_judge $? "... and pinned nothing, attached nothing" "$(pins_of "$F")"
rm -f "$F/hm_clients"
hm_run in_ns "$LOAD" --pin-path "$F" "$IF_E"
[ "$rc" -eq 0 ]
hm_judge $? "hm-load in $F once it is clean: exit 0" "exit $rc: $err"
# A foreign hm_links in a set hm-load made (the real one kept aside, and put
# back: bpffs allows no dot in a name).
mv "$F/hm_links" "$PIN2/links_saved" &&
	bpftool map create "$F/hm_links" type hash key 4 value 8 entries 4 name hm_links
hm_expect_fail "hm-stat on a set with a foreign hm_links: exit 4, one line (not read silently)" 4 \
	"^hm-stat: map hm_links in $F has value size 8, this hm-stat expects [0-9]+: " \
	"$STAT" --pin-path "$F" --by iface
hm_expect_fail "hm-reset on that set: exit 4, one line" 4 "^hm-reset: map hm_links in $F has value size 8" \
	"$RESET" --pin-path "$F"
rm -f "$F/hm_links" && mv "$PIN2/links_saved" "$F/hm_links"
hm_run "$STAT" --pin-path "$F" --by iface
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "... with its own hm_links back, hm-stat reads it: exit 0" "exit $rc: $err"
hm_run in_ns "$LOAD" --pin-path "$F" --detach --all
[ "$rc" -eq 0 ] && [ ! -e "$F" ] && ! has_clsact "$IF_E"
hm_judge $? "... and --detach --all removes it all" "exit $rc: $err" "$(pins_of "$F")"

# Layout versions: the sizes of version 4 with version 3 stamped in hm_config.
V=$PIN2/layout
# stamp VERSION: writes VERSION into hm_config's first u32, the rest kept.
stamp() {
	local bytes
	bytes=$(bpftool -j map lookup pinned "$V/hm_config" key 0 0 0 0 | jq -r '.value[4:] | join(" ")')
	# shellcheck disable=SC2046,SC2086 # the bytes are separate words
	bpftool map update pinned "$V/hm_config" key 0 0 0 0 \
		value $(printf '0x%02x 0x%02x 0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) 0 0) $bytes
}
stamped() {
	local b
	b=$(bpftool -j map lookup pinned "$V/hm_config" key 0 0 0 0 | jq -r '.value[0:2] | join(" ")')
	# shellcheck disable=SC2086 # two words, hex bytes
	set -- $b
	echo $(($1 + 256 * $2))
}
hm_run in_ns "$LOAD" --pin-path "$V" "$IF_E"
[ "$rc" -eq 0 ] && [ "$(stamped)" = "$layout" ]
hm_judge $? "hm-load in $V: exit 0, hm_config says layout $layout" "exit $rc: $err"

# A user who may not write the pins (hm-load's are root's, 0600 in a 0700 directory).
reset_re="Permission denied \(clearing the counters needs root, or write access to the pins\)$"
hm_expect_fail "hm-reset as uid 65534: exit 5, says it needs root or write access, no --group advice" 5 \
	"^hm-reset: cannot (open $V/hm_config( for writing)?|access $V): $reset_re" \
	"${nobody[@]}" "$RESET" --pin-path "$V"
hm_expect_fail "hm-stat --reset as uid 65534: exit 5, the same" 5 \
	"^hm-stat: cannot (open $V/hm_config( for writing)?|access $V): $reset_re" \
	"${nobody[@]}" "$STAT" --pin-path "$V" --reset

stamp 3
hm_expect_fail "maps of layout version 3: hm-load refuses, exit 4, one line saying how to clear them" 4 \
	"^hm-load: the maps in $V have layout version 3, this hm-load loads version $layout: remove them first \(hm-load --detach --all --pin-path $V, or rm $V/hm_\*\)$" \
	in_ns "$LOAD" --pin-path "$V" "$IF_E"
[ "$(stamped)" = 3 ]
hm_judge $? "... and hm_config still says version 3 (not stamped as $layout)" "$(stamped)"
hm_run in_ns "$LOAD" --pin-path "$V" --detach --all
[ "$rc" -eq 0 ] && [ ! -e "$V" ] && ! has_clsact "$IF_E"
hm_judge $? "... the advice works: --detach --all removes the filters, the qdisc and the pins" \
	"exit $rc: $err" "$(pins_of "$V")"

# -- one pin directory, two network namespaces ---------------------------------------------
IF_G=hmg${ID}g
IF_H=hmg${ID}h
IF_K=hmg${ID}k
IF_L=hmg${ID}l
# shellcheck disable=SC2317 # called through hm_run
in_ns2() { nsenter --net="/run/netns/$NS2" -- "$@"; }
# shellcheck disable=SC2317 # called through hm_run
in_ns3() { nsenter --net="/run/netns/$NS3" -- "$@"; }
if ! { ip netns add "$NS2" && ip -n "$NS2" link add "$IF_G" type veth peer name "$IF_H" &&
	ip -n "$NS2" link set "$IF_G" up && ip -n "$NS2" link set "$IF_H" up &&
	ip netns add "$NS3" && ip -n "$NS3" link add "$IF_K" type veth peer name "$IF_L" &&
	ip -n "$NS3" link set "$IF_K" up; } 2>"$TMP/net.err"; then
	hm_not_ok "namespaces $NS2 and $NS3 with a veth pair each" "$(cat "$TMP/net.err")"
	hm_done
fi
N=$PIN2/netns
hm_run in_ns "$LOAD" --pin-path "$N" "$IF_E"
[ "$rc" -eq 0 ]
hm_judge $? "hm-load $IF_E in $NS with pins in $N: exit 0" "exit $rc: $err"
netns_re="^hm-load: the maps in $N serve another network namespace \(ip netns $NS\), and interface indexes are per namespace: run hm-load there \(nsenter --net=/run/netns/$NS hm-load \.\.\.\) or give this namespace a pin directory of its own \(--pin-path\)$"
hm_expect_fail "the same pin directory from $NS2: exit 7, one line naming $NS and what to do" 7 \
	"$netns_re" in_ns2 "$LOAD" --pin-path "$N" "$IF_G"
! in_ns2 tc qdisc show dev "$IF_G" | grep -q clsact
hm_judge $? "... and nothing was attached in $NS2"
hm_expect_fail "--detach --all from $NS2: exit 7, one line" 7 "$netns_re" \
	in_ns2 "$LOAD" --pin-path "$N" --detach --all
hm_expect_fail "--detach $IF_G from $NS2: exit 7, one line" 7 "$netns_re" \
	in_ns2 "$LOAD" --pin-path "$N" --detach "$IF_G"
hm_run in_ns2 "$LOAD" --pin-path "$N" --status --json
[ "$rc" -eq 0 ] && [ "$(jq -r .other_netns <<<"$out")" = "ip netns $NS" ] &&
	[ "$(jq -c '[.interfaces[] | [.iface, .present]]' <<<"$out")" = "[[\"$IF_E\",false]]" ]
hm_judge $? "--status from $NS2: exit 0, names $NS as the maps' namespace, lists $IF_E as recorded there" \
	"exit $rc: $err" "$out"
hm_run in_ns "$LOAD" --pin-path "$N" --status --json
[ "$rc" -eq 0 ] && [ "$(jq -r .other_netns <<<"$out")" = null ] &&
	[ "$(jq -c '[.interfaces[] | [.iface, .present, (.tc_ingress | length)]]' <<<"$out")" = "[[\"$IF_E\",true,1]]" ]
hm_judge $? "--status from $NS: exit 0, its own, $IF_E attached" "exit $rc: $err" "$out"
hm_run in_ns "$LOAD" --pin-path "$N" --detach --all
[ "$rc" -eq 0 ] && [ ! -e "$N" ] && ! has_clsact "$IF_E"
hm_judge $? "--detach --all from $NS: exit 0, no pins, no clsact qdisc left on $IF_E" "exit $rc: $err" \
	"$(pins_of "$N")" "$(in_ns tc qdisc show dev "$IF_E")"

# The first namespace goes away without a detach: the next one takes the maps over.
hm_run in_ns3 "$LOAD" --pin-path "$N" "$IF_K"
[ "$rc" -eq 0 ]
hm_judge $? "hm-load $IF_K in $NS3 with pins in $N: exit 0" "exit $rc: $err"
ip netns del "$NS3"
hm_run in_ns2 "$LOAD" --pin-path "$N" "$IF_G"
[ "$rc" -eq 0 ] &&
	[ "$err" = "hm-load: warning: the network namespace the maps in $N served is gone: this one takes them over and forgets the interfaces recorded there
hm-load: attached to $IF_G (tc ingress+egress), maps pinned in $N" ]
hm_judge $? "$NS3 deleted, then hm-load in $NS2: exit 0, one warning, takes the maps over" "exit $rc" "$err"
hm_run in_ns2 "$LOAD" --pin-path "$N" --status --json
[ "$rc" -eq 0 ] && [ "$(jq -c '[.interfaces[].iface]' <<<"$out")" = "[\"$IF_G\"]" ] &&
	[ "$(jq -r .other_netns <<<"$out")" = null ]
hm_judge $? "... --status lists only $IF_G ($IF_K's record, of the gone namespace, is dropped)" "$out"
hm_expect_fail "... and now $NS is refused: exit 7, naming $NS2" 7 \
	"^hm-load: the maps in $N serve another network namespace \(ip netns $NS2\)" \
	in_ns "$LOAD" --pin-path "$N" "$IF_E"
hm_run in_ns2 "$LOAD" --pin-path "$N" --detach --all
[ "$rc" -eq 0 ] && [ ! -e "$N" ]
hm_judge $? "--detach --all from $NS2: exit 0, pins gone" "exit $rc: $err"

# -- a bridge and its port -------------------------------------------------------------------
BR=hmg${ID}r
IF_P=hmg${ID}p
IF_Q=hmg${ID}q
if ! { ip -n "$NS" link add "$BR" type bridge && ip -n "$NS" link set "$BR" up &&
	ip -n "$NS" link add "$IF_P" type veth peer name "$IF_Q" &&
	ip -n "$NS" link set "$IF_P" master "$BR" && ip -n "$NS" link set "$IF_P" up &&
	ip -n "$NS" link set "$IF_Q" up; } 2>"$TMP/net.err"; then
	hm_not_ok "bridge $BR with port $IF_P" "$(cat "$TMP/net.err")"
	hm_done
fi
O=$PIN2/overlap
attached() { echo "hm-load: attached to $1 (tc ingress+egress), maps pinned in $O"; }
overlap_tail="each connection is counted once, on the first monitored interface it crosses (README: Overlapping interfaces)"
hm_run in_ns "$LOAD" --pin-path "$O" "$BR"
[ "$rc" -eq 0 ] && [ "$err" = "$(attached "$BR")" ]
hm_judge $? "hm-load $BR: exit 0, no warning" "exit $rc" "$err"
hm_run in_ns "$LOAD" --pin-path "$O" "$IF_P"
[ "$rc" -eq 0 ] && [ "$err" = "$(attached "$IF_P")
hm-load: warning: '$IF_P' is a port of bridge '$BR', which is monitored too: $overlap_tail" ]
hm_judge $? "hm-load $IF_P, a port of $BR: exit 0, one warning naming both" "exit $rc" "$err"
hm_run in_ns "$LOAD" --pin-path "$O" --detach "$BR"
hm_run in_ns "$LOAD" --pin-path "$O" "$BR"
[ "$rc" -eq 0 ] && [ "$err" = "$(attached "$BR")
hm-load: warning: '$BR' is a bridge, and its port '$IF_P' is monitored too: $overlap_tail" ]
hm_judge $? "hm-load $BR while its port $IF_P is monitored: exit 0, one warning naming both" "exit $rc" "$err"
hm_run in_ns "$LOAD" --pin-path "$O" --status --json
[ "$rc" -eq 0 ] && [ "$(jq -c '[.interfaces[] | select((.tc_ingress | length) == 1) | .iface] | sort' <<<"$out")" = \
	"$(printf '%s\n' "$BR" "$IF_P" | jq -Rsc 'split("\n")[:-1] | sort')" ]
hm_judge $? "... both stay attached" "exit $rc: $err" "$out"
hm_run in_ns "$LOAD" --pin-path "$O" --detach --all
[ "$rc" -eq 0 ] && [ ! -e "$O" ]
hm_judge $? "--detach --all: exit 0, pins gone" "exit $rc: $err"

hm_done
