# shellcheck shell=bash
# e2e.sh - the set-up and clean-up every namespace test shares.  Source it
# after tap.sh and netns.sh.
#
# hm_e2e_init TAG NAME: checks for root and bpffs, cleans up what crashed
# runs left (labs, blackhole routes, pins under /sys/fs/bpf/hmtest-TAG-),
# and sets
#   P        the lab prefix (hm_lab_prefix TAG)
#   BR       its bridge
#   PIN      /sys/fs/bpf/hmtest-TAG-PID, the test's own pin directory
#   TMP      a temporary directory /tmp/hmtest-NAME.XXXXXX
#   ATTACHED 0; hm_monitor_up sets it to 1
#   ORIGIN_PID, BG_PIDS  the origin and other background processes to end
# and a trap that runs hm_e2e_cleanup on exit: it calls the script's own
# e2e_cleanup when the script defines one, ends BG_PIDS and ORIGIN_PID (by
# pid), detaches the monitor when ATTACHED is 1, takes the lab down (its
# namespaces and blackhole route) and removes PIN and TMP.

hm_e2e_init() {
	local tag=$1 name=$2
	hm_require_root
	hm_bpffs_ensure || { hm_not_ok "bpffs mounted"; hm_done; }
	P=$(hm_lab_prefix "$tag")
	BR=$(hm_bridge "$P")
	PIN=/sys/fs/bpf/hmtest-$tag-$$
	TMP=$(mktemp -d "/tmp/hmtest-$name.XXXXXX")
	ATTACHED=0
	ORIGIN_PID=
	BG_PIDS=()
	trap hm_e2e_cleanup EXIT
	trap 'exit 130' INT TERM
	hm_lab_cleanup_stale
	hm_pins_cleanup_stale "hmtest-$tag-"
}

# shellcheck disable=SC2317 # called by the trap
hm_e2e_cleanup() {
	local pid
	declare -F e2e_cleanup >/dev/null && e2e_cleanup
	for pid in "${BG_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	if [ -n "$ORIGIN_PID" ]; then
		kill "$ORIGIN_PID" 2>/dev/null && wait "$ORIGIN_PID" 2>/dev/null
	fi
	if [ "$ATTACHED" -eq 1 ]; then
		hm_in_host "$P" "$HM_BUILD/hm-load" --detach "$BR" --pin-path "$PIN" >/dev/null 2>&1
	fi
	hm_lab_down "$P"
	rm -rf "$PIN" "$TMP"
}
