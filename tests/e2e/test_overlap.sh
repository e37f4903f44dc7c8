#!/usr/bin/env bash
# test_overlap.sh - end to end: a bridge and one of its ports both monitored,
# one map set.
#
# The lab (tests/lib/netns.sh) with three client namespaces; the origin in
# the host namespace; `hm-load BR` and `hm-load ${P}v1` (the bridge port
# behind which client 1 sits) with the same pins.  Client 1's connections
# cross ${P}v1 first (its requests enter there) and the bridge after it;
# clients 2 and 3 cross only the bridge.  tests/lib/client.py records what
# each client sent and received.  Checks:
#  - overlap: by client, by port and by port,client hm-stat equals the
#    clients' truth (compare.py: requests, responses, unanswered, status,
#    bytes): nothing counted twice;
#  - overlap: a segment seen again on the second interface is no
#    retransmission: retrans_segments is at most what the TCP stacks of the
#    four namespaces resent (RetransSegs), 0 when they resent nothing;
#  - overlap: --by iface counts each connection on the first monitored
#    interface it crosses: ${P}v1's row holds exactly client 1's requests
#    AND responses (and bytes), the bridge's row those of clients 2 and 3;
#  - overlap: repeat_segments (segments already seen on another monitored
#    interface) > 0.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/rows.sh
. "$HM_LIB/rows.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter python3 jq timeout
hm_require_build httpmon.o hm-load hm-stat
hm_e2e_init ov overlap
PORT1=${P}v1

# Two interfaces are attached: take both off (hm_e2e_cleanup detaches only the bridge).
# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	if [ "$ATTACHED" -eq 1 ]; then
		hm_in_host "$P" "$HM_BUILD/hm-load" --detach --all --pin-path "$PIN" >/dev/null 2>&1
		ATTACHED=0
	fi
}

hm_lab_start "$P" 3 "$TMP/lab.log"
H=$(hm_host_ip "$P" 4)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 31 --max-delay-ms 3 \
	--listen "$H:8080" --listen "$H:8888"

hm_monitor_up "$P" "$BR" "$PIN"
if out=$(hm_in_host "$P" "$HM_BUILD/hm-load" "$PORT1" --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load $PORT1 too, one map set (the bridge port of client 1)"
	[ -n "$out" ] && hm_note "hm-load said: $(tr '\n' ' ' <<<"$out")"
else
	hm_not_ok "hm-load $PORT1 with the same pins" "$out"
	hm_done
fi

NSES=("${P}h" "${P}c1" "${P}c2" "${P}c3")
RETRANS0=$(hm_tcp_retrans "${NSES[@]}")
T="$H:8080,$H:8888"
PATHS='/,/status/404,/bytes/6000,/status/302,/?delay=2'
HM_CLIENT_SECONDS=40 hm_run_clients "$P" r \
	"c1:1:--target $T --requests 60 --connections 3 --paths $PATHS" \
	"c2:2:--target $T --requests 30 --connections 2 --close --paths $PATHS" \
	"c3:3:--target $T --requests 40 --connections 2 --pipeline 2 --paths $PATHS"
sleep 0.5
S=$TMP/stat.json
"$HM_BUILD/hm-stat" --pin-path "$PIN" --json >"$S" 2>"$TMP/stat.err" ||
	{ hm_not_ok "hm-stat --json" "$(cat "$TMP/stat.err")"; hm_done; }

for by in client port port,client; do
	if out=$(python3 "$HM_LIB/compare.py" check --by "$by" --actual "$S" \
		--expected "$TMP"/r-c?.json --min-samples 1000000000 2>&1); then
		hm_ok "overlap: by $by hm-stat equals the clients' truth: nothing counted twice"
		hm_note "  $(tail -n 1 <<<"$out")"
	else
		hm_not_ok "overlap: by $by hm-stat equals the clients' truth: nothing counted twice" "$out"
	fi
done
hm_expect_retrans "overlap: a segment seen on the second interface is no retransmission" \
	"$(hm_mon "$S" retrans_segments)" $(($(hm_tcp_retrans "${NSES[@]}") - RETRANS0))
hm_expect "overlap: --by iface: $PORT1 holds exactly client 1's requests and responses, bytes included" \
	"$(hm_row "$S" ifaces iface="$PORT1")" "$(hm_truth "$TMP/r-c1.json")" \
	"ifaces: $(jq -c '[.ifaces[] | {iface, requests, responses, bytes_in, bytes_out}]' "$S")"
hm_expect "overlap: --by iface: $BR holds exactly clients 2 and 3's requests and responses, bytes included" \
	"$(hm_row "$S" ifaces iface="$BR")" "$(hm_truth "$TMP/r-c2.json" "$TMP/r-c3.json")"
rep=$(hm_mon "$S" repeat_segments)
if [ "$rep" -gt 0 ] 2>/dev/null; then
	hm_ok "overlap: repeat_segments $rep (segments already seen on the other interface)"
else
	hm_not_ok "overlap: repeat_segments > 0 (segments already seen on the other interface)" "got: $rep" \
		"monitor: $(jq -c '.monitor | with_entries(select(.value != 0))' "$S")"
fi

hm_done
