# shellcheck shell=bash
# drop.sh - driving tests/tools/drop.bpf.c, the test-only tc program that
# drops a share of TCP payload segments (tests/e2e/test_loss*.sh).  Source
# after tap.sh and netns.sh; DPIN is the directory its program and maps are
# pinned in.

# hm_in_net NS CMD...: CMD in namespace NS's network only (bpffs stays
# visible, which tc's object-pinned needs; `ip netns exec` would hide it).
hm_in_net() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# hm_le32 N...: each N as four little-endian bytes, for bpftool map update.
hm_le32() {
	local n
	for n in "$@"; do
		printf '%d %d %d %d ' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255))
	done
}

# hm_drop_load: loads build/drop.bpf.o, pinned in $DPIN; a "not ok" line
# ends the test when it does not load.
hm_drop_load() {
	local out
	mkdir -p "$DPIN"
	if ! out=$(bpftool prog load "$HM_BUILD/drop.bpf.o" "$DPIN/prog" pinmaps "$DPIN" 2>&1); then
		hm_not_ok "bpftool loads build/drop.bpf.o" "$out"
		hm_done
	fi
}

# hm_drop_config PERMILLE_TO PERMILLE_FROM PORT_LO PORT_HI (struct drop_cfg).
hm_drop_config() {
	# shellcheck disable=SC2046  # a list of bytes
	bpftool map update pinned "$DPIN/hm_drop_cfg" key 0 0 0 0 value $(hm_le32 "$@")
}

# hm_drop_mode FLAGS: DROP_MODE_* of drop.bpf.c (0: plain TC_ACT_SHOT).
hm_drop_mode() {
	# shellcheck disable=SC2046  # a list of bytes
	bpftool map update pinned "$DPIN/hm_drop_mode" key 0 0 0 0 value $(hm_le32 "$1")
}

# hm_drop_stats: drop.bpf.c's counters (enum drop_counter), in index order:
# seen_to seen_from pkts_to pkts_from segs_to segs_from bytes_to bytes_from
# held filled.
hm_drop_stats() {
	bpftool -j map dump pinned "$DPIN/hm_drop_stats" |
		jq -r 'sort_by(.formatted.key) | map(.formatted.value) | join(" ")'
}
