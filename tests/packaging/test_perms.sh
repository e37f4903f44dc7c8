#!/usr/bin/env bash
# test_perms.sh - who may read and write the pins: hm-load --group.
#
# hm-load attaches to a veth between two namespaces of the test's own, with
# its pins on private bpffs instances (mounted under a temporary directory),
# and counts real HTTP requests.  Then, as uid 65534 through setpriv (no user
# or group is created): a member of the --group gid reads the same numbers
# as root; a non-member gets exit 5 and one line saying what to do; the
# member can neither clear nor write nor unpin anything, which root checks
# by reading the counters again.  The modes are stat'ed: 0750/0640 with
# --group, 0700/0600 without it and after --group root; a later load without
# --group leaves them.  A bpffs mounted with mode=0700 keeps the group out:
# hm-load warns with the command to run, and running it lets the member in.
#
# Names: namespaces hmp<pid>s and hmp<pid>c, veth hmp<pid>a/b, addresses
# 10.231.251.1 and .2 inside those namespaces only.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"

hm_require_root
hm_require_cmds ip nsenter setpriv curl jq python3 getent mountpoint umount
hm_require_build hm-load hm-stat hm-reset

ID=$$
NS_S=hmp${ID}s
NS_C=hmp${ID}c
IF_S=hmp${ID}a # server side of the veth: where httpmon attaches
IF_C=hmp${ID}b
SRV=10.231.251.1
CLI=10.231.251.2
TMP=$(mktemp -d /tmp/hm-perms.XXXXXX)
FS=$TMP/fs       # bpffs, mode 0755
FS700=$TMP/fs700 # bpffs, mode 0700
PIN=$FS/pins
BIN=$TMP/bin
ORIGIN_PID=

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$ORIGIN_PID" ] && kill "$ORIGIN_PID" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	hm_blackhole_release "test_perms-$ID"
	mountpoint -q "$FS" && umount "$FS"
	mountpoint -q "$FS700" && umount "$FS700"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Namespaces of earlier runs whose process is gone.
for ns in $(ip netns list | awk '/^hmp[0-9]+[sc]( |$)/ { print $1 }'); do
	pid=${ns#hmp}
	kill -0 "${pid%?}" 2>/dev/null || ip netns del "$ns"
done
hm_blackhole_cleanup_stale
# 10.231.251.0/24 goes nowhere from the root namespace while the test runs.
hm_blackhole_claim 251 "test_perms-$ID" || { hm_not_ok "blackhole route for 10.231.251.0/24"; hm_done; }

# A gid no group has; uid 65534 with it is a member, with gid 65534 not.
gid=$((40000 + ID % 20000))
while getent group "$gid" >/dev/null; do gid=$((gid + 1)); done
member=(setpriv --reuid=65534 --regid="$gid" --clear-groups)
stranger=(setpriv --reuid=65534 --regid=65534 --clear-groups)
hm_note "group $gid; kernel $(uname -r), kernel.unprivileged_bpf_disabled=$(sysctl -n kernel.unprivileged_bpf_disabled 2>/dev/null)"

chmod 0755 "$TMP"
mkdir "$FS" "$FS700" "$BIN"
if ! mount -t bpf -o mode=0755 bpf "$FS" 2>"$TMP/mount.err" ||
	! mount -t bpf -o mode=0700 bpf "$FS700" 2>>"$TMP/mount.err"; then
	hm_skip "$(basename "$0")" "cannot mount bpffs: $(cat "$TMP/mount.err")"
	exit 77
fi
install -m 0755 "$HM_BUILD/hm-load" "$HM_BUILD/hm-stat" "$HM_BUILD/hm-reset" "$BIN/"
LOAD=$BIN/hm-load
STAT=$BIN/hm-stat
RESET=$BIN/hm-reset

# modes DIR: "MODE UID GID" of DIR, then of every pin in it (sorted, one a line, uniq'd).
modes() {
	stat -c '%a %u %g' "$1"
	find "$1" -mindepth 1 -exec stat -c '%a %u %g' {} + | sort | uniq -c | awk '{ print $2, $3, $4 }'
}

in_srv() { nsenter --net="/run/netns/$NS_S" -- "$@"; }

# counts: the client's row as root reads it, compact JSON.
counts() {
	"$STAT" --pin-path "$PIN" --json |
		jq -c '[.clients[] | select(.ip == "'"$CLI"'") | {requests, responses, status}]'
}

# -- the network ------------------------------------------------------------------
setup_net() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
		ip -n "$NS_S" link add "$IF_S" type veth peer name "$IF_C" netns "$NS_C" &&
		ip -n "$NS_S" addr add "$SRV/24" dev "$IF_S" &&
		ip -n "$NS_C" addr add "$CLI/24" dev "$IF_C" &&
		ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up
}
if ! setup_net 2>"$TMP/net.err"; then
	hm_not_ok "namespaces $NS_S and $NS_C joined by a veth" "$(cat "$TMP/net.err")"
	hm_done
fi
hm_origin_up "$NS_S" "$TMP/origin.out" --seed 5 --listen "$SRV:8080"

# -- hm-load --group ------------------------------------------------------------------
hm_run in_srv "$LOAD" --pin-path "$PIN" --group "$gid" "$IF_S"
[ "$rc" -eq 0 ] && ! grep -q warning <<<"$err"
hm_judge $? "hm-load --group $gid attaches, no warning on a mode=0755 bpffs" "exit $rc" "$err"

[ "$(modes "$PIN")" = "750 0 $gid
640 0 $gid" ]
hm_judge $? "--group: pin directory root:$gid 0750, every pin root:$gid 0640" "$(modes "$PIN")"
n=$(find "$PIN" -mindepth 1 | wc -l)
[ "$n" -ge 14 ] && [ -e "$PIN/hm_config" ] && [ -e "$PIN/hm_clients" ] && [ -e "$PIN/hm_links" ]
hm_judge $? "the pins are there ($n)" "$(ls "$PIN")"
if command -v bpftool >/dev/null; then
	notmap=
	for f in "$PIN"/*; do
		bpftool map show pinned "$f" >/dev/null 2>&1 || notmap="$notmap ${f##*/}"
	done
	[ -z "$notmap" ]
	hm_judge $? "every pin is a map: no program or link is opened to the group" "not maps:$notmap"
else
	hm_skip "every pin is a map" "bpftool not installed"
fi

ip netns exec "$NS_C" curl -s --max-time 20 -o /dev/null -o /dev/null -o /dev/null \
	-o /dev/null -o /dev/null -o /dev/null "http://$SRV:8080/"{1,2,3,4,5,6} >/dev/null
sleep 0.3
before=$(counts)
[ "$(jq '.[0].requests' <<<"$before")" = 6 ]
hm_judge $? "root reads 6 requests from $CLI" "$before"

# -- a member reads, a stranger does not ----------------------------------------------
"$STAT" --pin-path "$PIN" --json | jq -S '{clients, ports, monitor}' >"$TMP/root.json"
hm_run "${member[@]}" "$STAT" --pin-path "$PIN" --json
printf '%s\n' "$out" | jq -S '{clients, ports, monitor}' >"$TMP/member.json" 2>/dev/null
[ "$rc" -eq 0 ] && [ -z "$err" ] && [ -s "$TMP/member.json" ] && cmp -s "$TMP/root.json" "$TMP/member.json"
hm_judge $? "uid 65534 in group $gid: hm-stat --json exits 0 with root's numbers" "exit $rc: $err" \
	"$(diff "$TMP/root.json" "$TMP/member.json" | head -20)"
hm_run "${member[@]}" "$STAT" --pin-path "$PIN" --by iface
[ "$rc" -eq 0 ] && grep -Eq "^$IF_S +[0-9]+ +6 " <<<"$out"
hm_judge $? "the member's hm-stat --by iface names $IF_S with 6 requests (hm_links is readable)" \
	"exit $rc: $err" "$out"

hm_expect_fail "uid 65534 outside the group: exit 5, one line naming the group" 5 \
	"^hm-stat: cannot read $PIN/hm_[a-z_]+: Permission denied \(run as root, or as a member of group $gid, which may read them\)$" \
	"${stranger[@]}" "$STAT" --pin-path "$PIN"

# -- the member cannot write --------------------------------------------------------------
hm_expect_fail "member's hm-reset: exit 5, one line" 5 \
	"^hm-reset: cannot open $PIN/hm_[a-z_]+ for writing: Permission denied \(clearing the counters needs root, or write access to the pins\)$" \
	"${member[@]}" "$RESET" --pin-path "$PIN"
hm_expect_fail "member's hm-stat --reset: exit 5, one line" 5 \
	"^hm-stat: cannot open $PIN/hm_[a-z_]+ for writing: Permission denied \(clearing the counters needs root, or write access to the pins\)$" \
	"${member[@]}" "$STAT" --pin-path "$PIN" --reset
if command -v bpftool >/dev/null; then
	seq() { bpftool -j map dump pinned "$PIN/hm_seq" | jq -c '.[0].value'; }
	seq0=$(seq)
	hm_run "${member[@]}" bpftool map update pinned "$PIN/hm_seq" key 0 0 0 0 value 255 255 255 127
	[ "$rc" -ne 0 ] && [ -n "$seq0" ] && [ "$(seq)" = "$seq0" ]
	hm_judge $? "member's bpftool map update of a pin fails, the value stays" "exit $rc: $err" \
		"$seq0 -> $(seq)"
else
	hm_skip "member's bpftool map update of a pin fails" "bpftool not installed"
fi
hm_run "${member[@]}" rm -f "$PIN/hm_clients"
[ "$rc" -ne 0 ] && [ -e "$PIN/hm_clients" ]
hm_judge $? "member cannot unpin a map (rm fails, the pin stays)" "exit $rc: $err"
after=$(counts)
[ "$after" = "$before" ]
hm_judge $? "the counters are unchanged after the member's attempts" "before $before" "after  $after"

# -- later loads ------------------------------------------------------------------------
hm_run in_srv "$LOAD" --pin-path "$PIN" --ports 8080 "$IF_S"
[ "$rc" -eq 0 ] && [ "$(modes "$PIN")" = "750 0 $gid
640 0 $gid" ]
hm_judge $? "a later load without --group (root reconfigures live) leaves the modes" "exit $rc: $err" \
	"$(modes "$PIN")"
hm_expect_fail "--group with an unknown name: exit 2, one line, before anything changes" 2 \
	"^hm-load: no such group 'hm-no-such-group' in --group \(a group name or a numeric gid\); see hm-load --help$" \
	in_srv "$LOAD" --pin-path "$PIN" --group hm-no-such-group "$IF_S"
[ "$(modes "$PIN")" = "750 0 $gid
640 0 $gid" ]
hm_judge $? "the refused --group changed no mode" "$(modes "$PIN")"

hm_run in_srv "$LOAD" --pin-path "$PIN" --group root "$IF_S"
[ "$rc" -eq 0 ] && [ "$(modes "$PIN")" = "700 0 0
600 0 0" ]
hm_judge $? "--group root: root's alone again, 0700 and 0600" "exit $rc: $err" "$(modes "$PIN")"
hm_expect_fail "after --group root the member gets exit 5 and is told about --group" 5 \
	"^hm-stat: cannot read $PIN/hm_[a-z_]+: Permission denied \(run as root, or give your group read access: hm-load --group GROUP\)$" \
	"${member[@]}" "$STAT" --pin-path "$PIN"

# -- a new map set without --group ---------------------------------------------------------
hm_run in_srv "$LOAD" --pin-path "$FS/solo" lo
[ "$rc" -eq 0 ] && [ "$(modes "$FS/solo")" = "700 0 0
600 0 0" ]
hm_judge $? "a new map set without --group: 0700 directory, 0600 pins, root's" "exit $rc: $err" \
	"$(modes "$FS/solo")"
in_srv "$LOAD" --pin-path "$FS/solo" --detach lo >/dev/null 2>&1

# -- a parent that keeps the group out --------------------------------------------------------
mode700=$(stat -c %a "$FS700")
want="hm-load: warning: members of group $gid cannot reach $FS700/pins: to let them through, run chmod o+x $FS700 (or mount bpffs with -o mode=0755)"
hm_run in_srv "$LOAD" --pin-path "$FS700/pins" --group "$gid" lo
[ "$rc" -eq 0 ] && grep -qxF "$want" <<<"$err"
hm_judge $? "bpffs mounted mode=0700: hm-load --group warns with the command to run" "exit $rc" \
	"got:    $err" "wanted: $want"
[ "$(stat -c %a "$FS700")" = "$mode700" ]
hm_judge $? "... and leaves the mount point's mode alone" "$mode700 -> $(stat -c %a "$FS700")"
hm_run "${member[@]}" "$STAT" --pin-path "$FS700/pins"
[ "$rc" -eq 5 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q 'Permission denied' <<<"$err"
hm_judge $? "the member cannot reach those pins: exit 5, one line" "exit $rc: $err"
chmod o+x "$FS700"
hm_run "${member[@]}" "$STAT" --pin-path "$FS700/pins"
[ "$rc" -eq 0 ]
hm_judge $? "after the chmod the warning named, the member reads them" "exit $rc: $err"
in_srv "$LOAD" --pin-path "$FS700/pins" --detach lo >/dev/null 2>&1

hm_run in_srv "$LOAD" --pin-path "$PIN" --detach "$IF_S"
[ "$rc" -eq 0 ] && [ ! -e "$PIN" ]
hm_judge $? "hm-load --detach removes the filters and the pins" "exit $rc: $err"

hm_done
