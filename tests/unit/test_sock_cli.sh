#!/usr/bin/env bash
# test_sock_cli.sh - hm-load's command line for the socket source.
#
# Refusals, each exit 2 with one line on stderr: --sockets IFACE, --cgroup
# without --sockets, --cgroup on a directory that is not cgroup v2 (/tmp),
# on a file of the cgroup2 file system (cgroup.procs), on a path that does
# not exist, --detach --sockets --cgroup, --sockets --xdp.  --detach
# --sockets and --status with nothing loaded: exit 3.  Then a
# load: --status (text) names the socket source, --status --json has a
# "sockets" object with 5 programs and cgroup_filter false (true after a
# run with --cgroup on the cgroup2 mount); a second --sockets run keeps the
# programs attached (the same link pin files, the same link and program ids
# in bpftool); --detach --sockets unpins the links and removes the sockets
# directory, and bpftool no longer lists those links.  hm-load --help
# mentions --sockets and --cgroup.
#
# Pins in /sys/fs/bpf/hm-sc-<pid>; no network traffic.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
hm_require_cmds jq bpftool timeout
hm_require_build hm-load httpmon_sock.o
hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }
hm_pins_cleanup_stale "hm-sc-"

PIN=/sys/fs/bpf/hm-sc-$$
LOAD=$HM_BUILD/hm-load
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	"$LOAD" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1
	rm -rf "$PIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)

# Refusals.
hm_expect_fail "--sockets IFACE refused" 2 'interface' "$LOAD" --sockets lo --pin-path "$PIN"
hm_expect_fail "--cgroup without --sockets refused" 2 'cgroup' \
	"$LOAD" --cgroup "${CG2:-/sys/fs/cgroup}" --pin-path "$PIN"
hm_expect_fail "--sockets --cgroup /tmp (not cgroup v2) refused" 2 'cgroup v2' \
	"$LOAD" --sockets --cgroup /tmp --pin-path "$PIN"
if [ -n "$CG2" ]; then
	# On the cgroup2 file system, but a file: not a cgroup directory either.
	hm_expect_fail "--sockets --cgroup CG2/cgroup.procs (a file) refused" 2 'cgroup' \
		"$LOAD" --sockets --cgroup "$CG2/cgroup.procs" --pin-path "$PIN"
fi
hm_expect_fail "--sockets --cgroup /nonexistent refused" 2 'cgroup' \
	"$LOAD" --sockets --cgroup "/nonexistent-hm-sc-$$" --pin-path "$PIN"
hm_expect_fail "--detach --sockets --cgroup refused" 2 'cgroup' \
	"$LOAD" --detach --sockets --cgroup "${CG2:-/sys/fs/cgroup}" --pin-path "$PIN"
hm_expect_fail "--sockets --xdp refused" 2 'xdp' "$LOAD" --sockets --xdp --pin-path "$PIN"
hm_expect_fail "--detach --sockets with nothing loaded: exit 3" 3 'not loaded' \
	"$LOAD" --detach --sockets --pin-path "$PIN"
hm_run "$LOAD" --status --pin-path "$PIN"
if [ "$rc" -eq 3 ]; then
	hm_ok "--status with nothing loaded: exit 3"
else
	hm_not_ok "--status with nothing loaded: exit 3" "exit $rc" "$out" "$err"
fi
if [ -e "$PIN/sockets" ]; then
	hm_not_ok "refused command lines leave nothing in $PIN" "$(ls -la "$PIN/sockets")"
else
	hm_ok "refused command lines leave nothing in $PIN"
fi

# --help
hm_run "$LOAD" --help
if [ "$rc" -eq 0 ] && grep -q -- '--sockets' <<<"$out" && grep -q -- '--cgroup' <<<"$out"; then
	hm_ok "hm-load --help mentions --sockets and --cgroup"
else
	hm_not_ok "hm-load --help mentions --sockets and --cgroup" "exit $rc"
fi

# link_ids: "FILE LINK-ID PROG-ID" per link pin of the socket set, sorted.
link_ids() {
	local f
	for f in "$PIN"/sockets/link_*; do
		[ -e "$f" ] || continue
		printf '%s %s\n' "${f##*/}" \
			"$(bpftool link show pinned "$f" -j 2>/dev/null | jq -r '"\(.id) \(.prog_id)"')"
	done | sort
}
# listed IDS...: the link ids among IDS that bpftool lists.
listed() {
	local all id
	all=$(bpftool link show -j 2>/dev/null | jq -r '.[].id')
	for id in "$@"; do grep -qx "$id" <<<"$all" && echo "$id"; done
}

# A load, host-wide.
hm_run "$LOAD" --sockets --pin-path "$PIN"
if [ "$rc" -eq 0 ]; then
	hm_ok "hm-load --sockets loads (exit 0)"
else
	hm_not_ok "hm-load --sockets loads" "exit $rc: $err"
	hm_done
fi
ids1=$(link_ids)
n1=$(grep -c . <<<"$ids1")
if [ "$n1" -eq 5 ] && [ "$(grep -cE '^link_[a-z0-9_]+ [0-9]+ [0-9]+$' <<<"$ids1")" -eq 5 ]; then
	hm_ok "5 link pins in $PIN/sockets, each a link bpftool knows"
else
	hm_not_ok "5 link pins in $PIN/sockets, each a link bpftool knows" "$ids1"
fi
mapfile -t link_list < <(awk '{print $2}' <<<"$ids1")
got=$(listed "${link_list[@]}" | grep -c .)
if [ "$got" -eq "$n1" ] && [ "$n1" -gt 0 ]; then
	hm_ok "bpftool link lists all $n1 links"
else
	hm_not_ok "bpftool link lists all links" "listed $got of $n1"
fi

hm_run "$LOAD" --status --pin-path "$PIN"
if [ "$rc" -eq 0 ] && grep -qE "^socket source[^:]*: 5 programs attached, every process; maps in $PIN/sockets\$" <<<"$out"; then
	hm_ok "--status names the socket source: 5 programs, every process"
else
	hm_not_ok "--status names the socket source: 5 programs, every process" "exit $rc" "$out" "$err"
fi
hm_run "$LOAD" --status --json --pin-path "$PIN"
got=$(jq -c '.sockets | {programs, cgroup_filter, pin_path}' <<<"$out" 2>/dev/null)
want="{\"programs\":5,\"cgroup_filter\":false,\"pin_path\":\"$PIN/sockets\"}"
if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
	hm_ok "--status --json: sockets $got"
else
	hm_not_ok "--status --json: sockets object" "exit $rc" "got:  $got" "want: $want" "$out"
fi

# Again, with --cgroup: the programs stay, the scope changes.
if [ -n "$CG2" ]; then
	hm_run "$LOAD" --sockets --cgroup "$CG2" --pin-path "$PIN"
	ids2=$(link_ids)
	if [ "$rc" -eq 0 ] && [ "$ids2" = "$ids1" ]; then
		hm_ok "a second --sockets run (--cgroup $CG2) keeps the same links and programs"
	else
		hm_not_ok "a second --sockets run keeps the same links and programs" "exit $rc: $err" \
			"before:" "$ids1" "after:" "$ids2"
	fi
	hm_run "$LOAD" --status --json --pin-path "$PIN"
	got=$(jq -c '.sockets | {programs, cgroup_filter}' <<<"$out" 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ "$got" = '{"programs":5,"cgroup_filter":true}' ]; then
		hm_ok "--status --json after --cgroup: $got"
	else
		hm_not_ok "--status --json after --cgroup: cgroup_filter true" "exit $rc" "got: $got"
	fi
	hm_run "$LOAD" --status --pin-path "$PIN"
	if grep -qE "^socket source[^:]*: 5 programs attached, processes of one cgroup" <<<"$out"; then
		hm_ok "--status after --cgroup: processes of one cgroup"
	else
		hm_not_ok "--status after --cgroup: processes of one cgroup" "$out"
	fi
else
	hm_skip "--sockets --cgroup on the cgroup2 mount" "no cgroup2 mount in /proc/mounts"
fi
hm_run "$LOAD" --sockets --pin-path "$PIN"
ids3=$(link_ids)
hm_run "$LOAD" --status --json --pin-path "$PIN"
got=$(jq -c '.sockets | {programs, cgroup_filter}' <<<"$out" 2>/dev/null)
if [ "$ids3" = "$ids1" ] && [ "$got" = '{"programs":5,"cgroup_filter":false}' ]; then
	hm_ok "a third run without --cgroup: the same links, host-wide again ($got)"
else
	hm_not_ok "a third run without --cgroup: the same links, host-wide again" "got: $got" \
		"before:" "$ids1" "after:" "$ids3"
fi

# Detach.
hm_run "$LOAD" --detach --sockets --pin-path "$PIN"
if [ "$rc" -eq 0 ] && [ ! -e "$PIN/sockets" ]; then
	hm_ok "--detach --sockets: exit 0, $PIN/sockets removed"
else
	hm_not_ok "--detach --sockets removes $PIN/sockets" "exit $rc: $err" \
		"$(ls -la "$PIN/sockets" 2>&1)"
fi
# A link goes when its last reference does: the kernel may take a moment.
left=
for ((i = 0; i < 50; i++)); do
	left=$(listed "${link_list[@]}")
	[ -z "$left" ] && break
	sleep 0.1
done
if [ "${#link_list[@]}" -gt 0 ] && [ -z "$left" ]; then
	hm_ok "bpftool link no longer lists the ${#link_list[@]} links"
else
	hm_not_ok "bpftool link no longer lists the links" "still listed: ${left//$'\n'/ }"
fi
hm_run "$LOAD" --status --json --pin-path "$PIN"
got=$(jq -c '.sockets' <<<"$out" 2>/dev/null)
if [ "$got" = null ]; then
	hm_ok "--status --json after the detach: sockets null"
else
	hm_not_ok "--status --json after the detach: sockets null" "got: $got"
fi
hm_expect_fail "--detach --sockets again: exit 3" 3 'not loaded' \
	"$LOAD" --detach --sockets --pin-path "$PIN"

hm_done
