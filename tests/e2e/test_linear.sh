#!/usr/bin/env bash
# test_linear.sh - end to end, hostile input 19 of the README: the same bytes as linear skbs
# (test_run) and as non-linear skbs on a live veth give identical results.
#
# One fixed conversation (tests/lib/conversation.py gen: a keep-alive GET with
# Content-Length, a POST with a 5000-byte body, a ~20 KB chunked response in
# two writes, 404, 500, 301, a HEAD, a pipelined pair in one write, a 64 KiB
# body and a last GET) goes through the monitor twice:
#   - linear: build/hm_replay (tests/tools/replay.c) feeds it through tc ingress (client
#     writes) and egress (server writes) with bpf_prog_test_run, every write
#     cut into 1448-byte segments;
#   - live: conversation.py serves it from the lab's host namespace (port
#     8080) and plays the client in client namespace 1, over real TCP with the
#     offloads at their defaults (TSO/GSO/scatter-gather on: the skbs are
#     non-linear, the large ones GSO super-packets).  Both peers check every
#     byte against the file (the ground truth).  Two monitors watch it, each
#     with a map set of its own: hm-load on the bridge (pins in
#     /sys/fs/bpf/hmtest-li-<pid>/br) and hm-load on the client's veth port
#     ${P}v1 (/sys/fs/bpf/hmtest-li-<pid>/veth).
# For the client's row and port 8080's row: requests, responses, unanswered,
# status classes, bytes in and out and the latency sample counts (first
# byte, ok, fail, last byte; bpftool for those hm-stat does not print per
# client) must be identical on every path and equal what the conversation
# implies (conversation.py truth, which frames the file's two byte streams);
# anomaly counters (orphan_responses, seq_gaps, unparseable, ...) must be 0.
# tests/tools/skb_shape.bpf.c (compiled here, after httpmon on the same
# hooks) shows the live skbs were non-linear and GSO: that is checked too.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout clang ethtool
hm_require_build httpmon.o hm-load hm-stat hm_replay
hm_e2e_init li linear

V1=${P}v1
# Three pin directories below the test's own: the bridge's map set, the veth's, the probe's.
PIN_BR=$PIN/br
PIN_V=$PIN/veth
PIN_S=$PIN/shape
mkdir -p "$PIN"
CONV=$TMP/conversation.txt
PORT=8080
SHAPE_PRIO=65000 # after httpmon's filter (hm_tc.h: 0x484d)
SERVER_PID=
MONITORED=() # IFACE=PIN of each hm-load, detached at the end
CONVPY=(python3 "$HM_LIB/conversation.py")

# The namespaces go with the lab, and with them the shape filters.
# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	local dev
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	for dev in "${MONITORED[@]}"; do
		hm_in_host "$P" timeout 20 "$HM_BUILD/hm-load" --detach "${dev%%=*}" \
			--pin-path "${dev#*=}" >/dev/null 2>&1
	done
}

# -- the conversation and what it implies ------------------------------------------
if out=$("${CONVPY[@]}" gen "$CONV" 2>&1) && "${CONVPY[@]}" truth "$CONV" >"$TMP/truth.json" 2>"$TMP/truth.err"; then
	hm_ok "conversation: $(grep -c '^[CS] [0-9]*$' "$CONV") writes, $(stat -c %s "$CONV") bytes; truth: $(jq -c '{requests, responses, status, bytes_in, bytes_out}' "$TMP/truth.json")"
else
	hm_not_ok "conversation written and framed" "$out" "$(cat "$TMP/truth.err" 2>/dev/null)"
	hm_done
fi

# -- linear: test_run ----------------------------------------------------------------
if hm_lab_up "$P" 1 >"$TMP/lab.log" 2>&1; then
	hm_ok "lab up: bridge $BR with client namespace ${P}c1 on $V1"
else
	hm_not_ok "lab up" "$(cat "$TMP/lab.log")"
	hm_done
fi
H4=$(hm_host_ip "$P" 4)
C1=$(hm_client_ip "$P" 1 4)

if timeout 60 "$HM_BUILD/hm_replay" "$HM_BUILD/httpmon.o" "$CONV" "$C1" "$H4" "$PORT" \
	>"$TMP/replay.json" 2>"$TMP/replay.err" && jq -e .client "$TMP/replay.json" >/dev/null 2>&1; then
	hm_ok "hm_replay: $(jq -r '"\(.writes) writes as \(.monitor.segments) linear segments through test_run"' "$TMP/replay.json")"
else
	hm_not_ok "hm_replay" "$(cat "$TMP/replay.json" "$TMP/replay.err")"
	hm_done
fi

# -- live: offloads at their defaults, two monitors, the skb shape probe -------------
# ethtool -k FEATURE state on DEV in NS, e.g. "on" or "off [fixed]".
feature() {
	nsenter --net="/run/netns/$1" -- ethtool -k "$2" 2>/dev/null |
		sed -n "s/^$3: //p"
}
bad=()
summary=()
for spec in "${P}c1:eth0" "${P}h:$V1" "${P}h:$BR"; do
	ns=${spec%%:*} dev=${spec#*:}
	line="$dev:"
	for feat in scatter-gather tcp-segmentation-offload generic-segmentation-offload \
		generic-receive-offload; do
		state=$(feature "$ns" "$dev" "$feat")
		line="$line $feat=${state:-?}"
		# what this test relies on, and what hm_offload_off would turn off
		case $feat in
		generic-receive-offload) ;;
		*) [[ $state == on* ]] || bad+=("$dev $feat: '${state}'") ;;
		esac
	done
	summary+=("$line")
done
if [ ${#bad[@]} -eq 0 ]; then
	hm_ok "offloads at their defaults (scatter-gather, TSO, GSO on) on eth0, $V1 and $BR"
else
	hm_not_ok "offloads at their defaults (scatter-gather, TSO, GSO on)" "${bad[@]}"
fi
for line in "${summary[@]}"; do hm_note "  $line"; done

for spec in "$BR=$PIN_BR" "$V1=$PIN_V"; do
	if out=$(hm_in_host "$P" timeout 30 "$HM_BUILD/hm-load" "${spec%%=*}" --pin-path "${spec#*=}" 2>&1); then
		MONITORED+=("$spec")
		hm_ok "hm-load attaches to ${spec%%=*} (pins in ${spec#*=})"
	else
		hm_not_ok "hm-load attaches to ${spec%%=*}" "$out"
		hm_done
	fi
done

attach_shape() {
	local dev dir
	clang -g -O2 -target bpf -mcpu=v3 -Wall -Werror -I "/usr/include/$(gcc -print-multiarch)" \
		-c "$HM_ROOT/tests/tools/skb_shape.bpf.c" -o "$TMP/skb_shape.o" || return 1
	mkdir -p "$PIN_S" &&
		bpftool prog load "$TMP/skb_shape.o" "$PIN_S/prog" type classifier pinmaps "$PIN_S" || return 1
	for dev in "$BR" "$V1"; do
		for dir in ingress egress; do
			hm_in_host "$P" tc filter add dev "$dev" "$dir" prio "$SHAPE_PRIO" handle 1 \
				bpf da object-pinned "$PIN_S/prog" || return 1
		done
	done
}
if out=$(attach_shape 2>&1); then
	order=$(for dev in "$BR" "$V1"; do for dir in ingress egress; do
		hm_in_host "$P" tc -j filter show dev "$dev" "$dir" |
			jq -r --arg w "$dev/$dir" '"\($w): " + ([.[] | select(.options.prog.name? != null) | .options.prog.name] | join(","))'
	done; done)
	if [ "$(grep -c ': hm_tc_[a-z]*gress,hm_test_shape$' <<<"$order")" = 4 ]; then
		hm_ok "skb shape probe after httpmon on $BR and $V1, ingress and egress"
	else
		hm_not_ok "skb shape probe after httpmon on $BR and $V1, ingress and egress" "$order"
	fi
else
	hm_not_ok "skb shape probe built and attached" "$out"
fi

# -- live: the conversation over real TCP --------------------------------------------
ip netns exec "${P}h" timeout 30 "${CONVPY[@]}" serve "$CONV" --listen "$H4:$PORT" --timeout 10 \
	>"$TMP/server.out" 2>&1 &
SERVER_PID=$!
if ! hm_wait_line "$TMP/server.out" ready 10; then
	hm_not_ok "conversation server listens on $H4:$PORT" "$(cat "$TMP/server.out")"
	hm_done
fi
t0=$(date +%s%N)
hm_in_client "$P" 1 timeout 30 "${CONVPY[@]}" client "$CONV" --target "$H4:$PORT" --timeout 10 \
	>"$TMP/client.out" 2>&1
crc=$?
wait "$SERVER_PID"
src=$?
SERVER_PID=
if [ "$crc" -eq 0 ] && [ "$src" -eq 0 ]; then
	hm_ok "live conversation in $((($(date +%s%N) - t0) / 1000000)) ms: both peers got exactly the file's bytes"
	hm_note "  $(cat "$TMP/client.out")"
	hm_note "  $(tail -n 1 "$TMP/server.out")"
else
	hm_not_ok "live conversation (client exit $crc, server exit $src)" \
		"client: $(cat "$TMP/client.out")" "server: $(cat "$TMP/server.out")"
	hm_done
fi
sleep 0.2 # the last ACKs

# live_rows NAME PIN: the monitor's rows for the client and the port -> $TMP/NAME.json
live_rows() {
	local name=$1 pin=$2
	"$HM_BUILD/hm-stat" --pin-path "$pin" --format json >"$TMP/$name-stat.json" &&
		python3 "$HM_LIB/compare.py" rows --pin-dir "$pin" --kind client >"$TMP/$name-clients.json" &&
		python3 "$HM_LIB/compare.py" rows --pin-dir "$pin" --kind port >"$TMP/$name-ports.json" &&
		"${CONVPY[@]}" live --stat "$TMP/$name-stat.json" --clients-map "$TMP/$name-clients.json" \
			--ports-map "$TMP/$name-ports.json" --ip "$C1" --port "$PORT" >"$TMP/$name.json"
}
# same NAME A B: conversation.py compare, one check.
same() {
	local name=$1 a=$2 b=$3 out
	if out=$("${CONVPY[@]}" compare "$TMP/$a.json" "$TMP/$b.json" --name-a "$a" --name-b "$b" 2>&1); then
		hm_ok "$name"
		hm_note "  $out"
	else
		hm_not_ok "$name" "$out" "$a: $(jq -c 'del(.monitor)' "$TMP/$a.json" 2>/dev/null)" \
			"$b: $(jq -c 'del(.monitor)' "$TMP/$b.json" 2>/dev/null)"
	fi
}

live_ok=()
for spec in bridge=$PIN_BR veth=$PIN_V; do
	if out=$(live_rows "${spec%%=*}" "${spec#*=}" 2>&1); then
		live_ok+=("${spec%%=*}")
	else
		hm_not_ok "rows of the ${spec%%=*} monitor (hm-stat --json, bpftool)" "$out"
	fi
done

same "linear skbs (test_run): the conversation's truth" replay truth
for name in "${live_ok[@]}"; do
	same "live $name ($([ "$name" = bridge ] && echo "$BR" || echo "$V1")): the conversation's truth" "$name" truth
	same "live $name and linear test_run: identical results" "$name" replay
done

# -- the live skbs were non-linear ---------------------------------------------------
ifx() { ip -n "${P}h" -j link show dev "$1" | jq -r '.[0].ifindex'; }
if bpftool -j map dump pinned "$PIN_S/hm_shape" >"$TMP/shape-dump.json" 2>"$TMP/shape.err" &&
	"${CONVPY[@]}" shape "$TMP/shape-dump.json" --port "$PORT" \
		--ifindex "$(ifx "$BR")=$BR" "$(ifx "$V1")=$V1" >"$TMP/shape.json" 2>>"$TMP/shape.err"; then
	jq -r 'to_entries[] | "  \(.key): \(.value.skbs) skbs with payload, \(.value.nonlinear) non-linear, \(.value.gso) GSO, \(.value.over_mtu) longer than a 1514-byte frame, \(.value.bytes) payload bytes, largest skb \(.value.max_len) bytes (linear part at most \(.value.max_linear))"' \
		"$TMP/shape.json" | while IFS= read -r line; do hm_note "$line"; done
	for dev in "$BR" "$V1"; do
		for d in to_server from_server; do
			n=$(jq -r --arg k "$dev.$d" '.[$k].nonlinear // 0' "$TMP/shape.json")
			if [ "$n" -gt 0 ]; then
				hm_ok "live skbs on $dev, $d: $n non-linear ($(jq -r --arg k "$dev.$d" '.[$k].skbs' "$TMP/shape.json") with payload)"
			else
				hm_not_ok "live skbs on $dev, $d: some non-linear" "$(jq -c --arg k "$dev.$d" '.[$k]' "$TMP/shape.json")"
			fi
		done
		g=$(jq -r --arg k "$dev.from_server" '.[$k].over_mtu // 0' "$TMP/shape.json")
		if [ "$g" -gt 0 ]; then
			hm_ok "live responses on $dev: $g GSO super-packets longer than the MTU, up to $(jq -r --arg k "$dev.from_server" '.[$k].max_len' "$TMP/shape.json") bytes"
		else
			hm_not_ok "live responses on $dev: GSO super-packets longer than the MTU" \
				"$(jq -c --arg k "$dev.from_server" '.[$k]' "$TMP/shape.json")"
		fi
	done
else
	hm_not_ok "skb shape probe read" "$(cat "$TMP/shape.err")"
fi

hm_done
