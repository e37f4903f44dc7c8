#!/usr/bin/env bash
# test_xdp.sh - end to end: ingress counted by XDP (hm-load --xdp).
#
# 1. Generic XDP on a bridge: the core scenario of test_lab.sh (two client
#    namespaces; keep-alive, pipelined, Connection: close and IPv6 traffic to
#    both ports of the origin) with hm-load --xdp=generic on the bridge.  No
#    tc filter may be on the bridge's ingress, the XDP program must be there
#    (xdp-loader status names it) and tc egress must stay; hm-stat by
#    client, port and port,client and the pinned maps must equal the
#    clients' ground truth exactly, as must a second round after hm-reset;
#    --detach leaves no filter, no XDP program, no qdisc and no pins.
# 2. Native XDP on a veth, VLAN-tagged: both ends of a veth pair tag what
#    they send with VLAN 7 (a tc program, tests/tools/vlan_tag.bpf.c: this
#    kernel may lack the 802.1Q driver), the client with tx VLAN offload off,
#    so its frames reach the server's veth with the tag in the packet, where
#    the XDP program parses it.  hm-load warns that XDP on a veth costs
#    throughput; the counts must still be exact.
# 3. Another XDP program, loaded with xdp-loader (tests/tools/xdp_pass.bpf.c,
#    which counts the packets it sees), on the same veth: it must keep
#    running after hm-load --xdp and after hm-load --detach.  With libxdp's
#    dispatcher both run side by side (traffic is counted exactly); on a
#    kernel without freplace programs (BPF_PROG_TYPE_EXT) there is no
#    dispatcher, and hm-load must refuse, leaving the other program alone.
#
# Addresses: 10.231.51.0/24 (bridge lab), 10.231.52.0/24 (veth pair, VLAN 7).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/netns.sh"
# shellcheck source=tests/lib/e2e.sh
. "$HM_LIB/e2e.sh"

hm_require_cmds nsenter tc bpftool python3 jq timeout xdp-loader ethtool clang gcc
hm_require_build httpmon.o hm-load hm-stat hm-reset
hm_e2e_init xg xdp      # P: the bridge lab
Q=$(hm_lab_prefix xn)  # the VLAN pair: ${Q}h (server) and ${Q}c1 (client)
SV=${Q}s               # the server's veth, monitored
NET_B=51
NET_V=52

# Both labs carry monitors; hm_e2e_cleanup then takes P's lab down.
# shellcheck disable=SC2317 # called by hm_e2e_cleanup
e2e_cleanup() {
	if [ -d "$PIN" ]; then
		hm_in_host "$P" "$HM_BUILD/hm-load" --detach --all --pin-path "$PIN" >/dev/null 2>&1
		hm_in_host "$Q" "$HM_BUILD/hm-load" --detach --all --pin-path "$PIN" >/dev/null 2>&1
	fi
	hm_in_host "$Q" xdp-loader unload -a "$SV" >/dev/null 2>&1
	hm_lab_down "$Q"
	ATTACHED=0
}

# -- helpers ------------------------------------------------------------------

# check_stat NAME BY COMPARE-ARGS...: hm-stat --json --by BY vs the clients.
check_stat() {
	local name=$1 by=$2 out
	shift 2
	if ! "$HM_BUILD/hm-stat" --pin-path "$PIN" --json --by "$by" >"$TMP/stat.json" 2>"$TMP/stat.err"; then
		hm_not_ok "$name (hm-stat --by $by failed)" "$(cat "$TMP/stat.err")"
		return
	fi
	if out=$(python3 "$HM_LIB/compare.py" check --by "$by" --actual "$TMP/stat.json" "$@" 2>&1); then
		hm_ok "$name"
		hm_note "  $out"
	else
		hm_not_ok "$name" "$out" "hm-stat said: $(head -c 2000 "$TMP/stat.json")"
	fi
}

# status PREFIX: hm-load --status --json in the prefix's host namespace.
status() { hm_in_host "$1" "$HM_BUILD/hm-load" --status --json --pin-path "$PIN" 2>/dev/null; }

# xdp_ids PREFIX IFACE: "NAME ID" per XDP program xdp-loader lists on IFACE:
# the one attached (IFACE NAME MODE ID ...) and a dispatcher's entries
# (=> PRIO NAME ID ...).
xdp_ids() {
	hm_in_host "$1" xdp-loader status "$2" 2>/dev/null |
		awk 'NR > 2 { if ($1 == "=>") print $3, $4; else if ($3 ~ /^(native|skb|hw)$/) print $2, $4 }'
}

# pass_count PREFIX: packets the xdp_pass program counted (its .bss global).
pass_count() {
	local id map
	id=$(xdp_ids "$1" "$SV" | awk '$1 == "hm_test_pass" { print $2 }')
	[ -n "$id" ] || { echo none; return; }
	map=$(bpftool prog show id "$id" -j | jq -r '.map_ids[0] // empty')
	[ -n "$map" ] || { echo none; return; }
	bpftool map dump id "$map" -j | jq -r '.[0].formatted.value.".bss"[0].hm_test_packets // "none"'
}

PATHS='/,/delay/10,/status/404?delay=10,/,/bytes/20000?delay=10,/status/302?delay=10,/'

for tool in xdp_pass vlan_tag; do
	if ! clang -g -O2 -target bpf -I "/usr/include/$(gcc -print-multiarch 2>/dev/null)" \
		-c "$HM_ROOT/tests/tools/$tool.bpf.c" -o "$TMP/$tool.o" 2>"$TMP/cc.log"; then
		hm_not_ok "build tests/tools/$tool.bpf.c" "$(cat "$TMP/cc.log")"
		hm_done
	fi
done

# == 1. generic XDP on a bridge ==================================================
export HM_LAB_NET=$NET_B
hm_lab_start "$P" 2 "$TMP/lab.log"
H4=$(hm_host_ip "$P" 4)
H6=$(hm_host_ip "$P" 6)
hm_origin_up "${P}h" "$TMP/origin.out" --seed 42 --min-delay-ms 10 --max-delay-ms 20 \
	--listen "$H4:8080" --listen "$H4:8888" --listen "[$H6]:8080" --listen "[$H6]:8888" \
	--stats "$TMP/origin.json"

if out=$(hm_in_host "$P" "$HM_BUILD/hm-load" --xdp=generic "$BR" --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --xdp=generic attaches to $BR"
	hm_note "  $(tail -n 1 <<<"$out")"
else
	hm_not_ok "hm-load --xdp=generic attaches to $BR" "$out"
	hm_done
fi
if [ -z "$(hm_in_host "$P" tc filter show dev "$BR" ingress)" ]; then
	hm_ok "no tc filter on $BR ingress: XDP counts ingress, nothing twice"
else
	hm_not_ok "no tc filter on $BR ingress" "$(hm_in_host "$P" tc filter show dev "$BR" ingress)"
fi
if hm_in_host "$P" tc filter show dev "$BR" egress | grep -q hm_tc_egress; then
	hm_ok "tc egress stays on $BR"
else
	hm_not_ok "tc egress stays on $BR" "$(hm_in_host "$P" tc filter show dev "$BR" egress)"
fi
if xdp_ids "$P" "$BR" | grep -q '^hm_xdp_ingress '; then
	hm_ok "xdp-loader status $BR lists hm_xdp_ingress"
else
	hm_not_ok "xdp-loader status $BR lists hm_xdp_ingress" "$(hm_in_host "$P" xdp-loader status "$BR" 2>&1)"
fi
if status "$P" | jq -e --arg i "$BR" '.interfaces[] | select(.iface == $i) |
	.xdp.mode == "generic" and (.tc_ingress | length) == 0 and (.tc_egress | length) == 1' >/dev/null; then
	hm_ok "hm-load --status: $BR has xdp generic ingress and tc egress"
else
	hm_not_ok "hm-load --status: $BR has xdp generic ingress and tc egress" "$(status "$P")"
fi

T4="$H4:8080,$H4:8888"
T6="[$H6]:8080,[$H6]:8888"
hm_run_clients "$P" r1 \
	"c1-keepalive:1:--target $T4 --requests 200 --connections 4 --paths $PATHS" \
	"c2-pipelined:2:--target $T4 --requests 160 --connections 2 --pipeline 4 --paths $PATHS"
hm_run_clients "$P" r1 \
	"c1-close:1:--target $T4 --requests 40 --connections 2 --close --paths $PATHS" \
	"c2-ipv6:2:--target $T6 --requests 80 --connections 2 --pipeline 2 --paths $PATHS"
R1=("$TMP"/r1-*.json)
sleep 0.5 # let the last FINs pass the bridge

check_stat "xdp generic: hm-stat by client equals the clients' ground truth" client --expected "${R1[@]}"
check_stat "xdp generic: hm-stat by port equals the clients' ground truth" port --expected "${R1[@]}"
check_stat "xdp generic: hm-stat by port,client equals the clients' ground truth" port,client --expected "${R1[@]}"
hm_check "xdp generic: pinned maps (bpftool, BTF) equal the ground truth, overflow rows zero" \
	python3 "$HM_LIB/compare.py" maps --pin-dir "$PIN" --expected "${R1[@]}"

hm_check "hm-reset --pin-path" "$HM_BUILD/hm-reset" --pin-path "$PIN"
check_stat "xdp generic: after hm-reset, rows by port,client are zero or gone" port,client --zero --expected "${R1[@]}"
hm_run_clients "$P" r2 "c1-again:1:--target $T4 --requests 30 --connections 2 --paths $PATHS"
sleep 0.5
check_stat "xdp generic: after hm-reset, counting starts again from zero" port,client --expected "$TMP"/r2-*.json

if out=$(hm_in_host "$P" "$HM_BUILD/hm-load" --detach "$BR" --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --detach $BR"
else
	hm_not_ok "hm-load --detach $BR" "$out"
fi
left="$(hm_in_host "$P" tc filter show dev "$BR" ingress)$(hm_in_host "$P" tc filter show dev "$BR" egress)"
xdp_left=$(hm_in_host "$P" ip -o link show dev "$BR" | grep -o 'xdp[a-z]*' || true)
if [ -z "$left" ] && [ -z "$xdp_left" ]; then
	hm_ok "no filter and no XDP program left on $BR"
else
	hm_not_ok "no filter and no XDP program left on $BR" "$left" "$xdp_left"
fi
if hm_in_host "$P" tc qdisc show dev "$BR" | grep -q clsact; then
	hm_not_ok "the clsact qdisc hm-load created is gone" "$(hm_in_host "$P" tc qdisc show dev "$BR")"
else
	hm_ok "the clsact qdisc hm-load created is gone"
fi
if [ ! -e "$PIN" ]; then
	hm_ok "--detach removed the pinned maps and $PIN"
else
	hm_not_ok "--detach removed the pinned maps and $PIN" "left: $(ls -A "$PIN")"
fi
hm_lab_down "$P"

# == 2. native XDP on a veth, VLAN-tagged frames ===================================
# ${Q}h: veth $SV = 10.231.52.1; ${Q}c1: eth0 = 10.231.52.11.  Both ends tag
# what they send with VLAN 7 and untag what they receive
# (tests/tools/vlan_tag.bpf.c on tc, at priority 1: before httpmon's filters).
# The client's tx VLAN offload is off, so its frames carry the tag inside,
# where the XDP program on $SV sees it; the server's replies carry it in the
# skb's metadata, where httpmon's tc egress program sees it.
mkdir -p "$HM_LAB_RUN" && echo $$ >"$HM_LAB_RUN/$Q"
# Its range goes nowhere from the root namespace (hm_lab_down "$Q" releases it).
hm_blackhole_claim "$NET_V" "$Q" || { hm_not_ok "blackhole route for 10.231.$NET_V.0/24"; hm_done; }
V4=10.231.$NET_V.1
V6=fd00:231:$NET_V::1
# tag_ends NS DEV: VLAN 7 out of and into DEV.
tag_ends() {
	ip netns exec "$1" tc qdisc add dev "$2" clsact &&
		ip netns exec "$1" tc filter add dev "$2" egress prio 1 bpf da obj "$TMP/vlan_tag.o" sec tc/vlan_push &&
		ip netns exec "$1" tc filter add dev "$2" ingress prio 1 bpf da obj "$TMP/vlan_tag.o" sec tc/vlan_pop
}
if {
	ip netns add "${Q}h" && ip netns add "${Q}c1" &&
		ip -n "${Q}h" link set lo up && ip -n "${Q}c1" link set lo up &&
		ip -n "${Q}h" link add "$SV" type veth peer name eth0 netns "${Q}c1" &&
		ip -n "${Q}h" addr add "$V4/24" dev "$SV" &&
		ip -n "${Q}h" addr add "$V6/64" dev "$SV" nodad &&
		ip -n "${Q}c1" addr add "10.231.$NET_V.11/24" dev eth0 &&
		ip -n "${Q}c1" addr add "fd00:231:$NET_V::11/64" dev eth0 nodad &&
		ip netns exec "${Q}c1" ethtool -K eth0 txvlan off &&
		tag_ends "${Q}h" "$SV" && tag_ends "${Q}c1" eth0 &&
		ip -n "${Q}h" link set "$SV" up && ip -n "${Q}c1" link set eth0 up
} >"$TMP/vlan.log" 2>&1; then
	hm_ok "veth pair up with VLAN 7 on both ends (client's tx VLAN offload off: tags in the frames)"
else
	hm_not_ok "veth pair with VLAN 7 up" "$(cat "$TMP/vlan.log")"
	hm_done
fi
# popped: frames $SV received tagged (vlan_tag.bpf.c's counter).
popped() {
	local id map
	id=$(hm_in_host "$Q" tc filter show dev "$SV" ingress | grep -o 'id [0-9]* name vlan_pop7' | cut -d' ' -f2)
	map=$(bpftool prog show id "${id:-0}" -j 2>/dev/null | jq -r '.map_ids[0] // empty')
	[ -n "$map" ] || { echo none; return; }
	bpftool map dump id "$map" -j | jq -r '.[0].formatted.value.".bss"[0].vlan_popped // "none"'
}
hm_origin_up "${Q}h" "$TMP/origin2.out" --seed 7 --min-delay-ms 10 --max-delay-ms 20 \
	--listen "$V4:8080" --listen "$V4:8888" --listen "[$V6]:8080" --listen "[$V6]:8888"

if out=$(hm_in_host "$Q" "$HM_BUILD/hm-load" --xdp=native "$SV" --pin-path "$PIN" 2>&1); then
	hm_ok "hm-load --xdp=native attaches to the veth $SV"
else
	hm_not_ok "hm-load --xdp=native attaches to the veth $SV" "$out"
	hm_done
fi
if grep -q "is a veth" <<<"$out"; then
	hm_ok "hm-load warns that XDP on a veth costs throughput"
else
	hm_not_ok "hm-load warns that XDP on a veth costs throughput" "$out"
fi
if status "$Q" | jq -e --arg i "$SV" '.interfaces[] | select(.iface == $i) | .xdp.mode == "native"' >/dev/null &&
	hm_in_host "$Q" ip -o link show dev "$SV" | grep -qw 'xdp'; then
	hm_ok "the XDP program runs natively on $SV (ip link: xdp)"
else
	hm_not_ok "the XDP program runs natively on $SV" "$(status "$Q")" "$(hm_in_host "$Q" ip -o link show dev "$SV")"
fi
TV4="$V4:8080,$V4:8888"
TV6="[$V6]:8080,[$V6]:8888"
hm_run_clients "$Q" v1 \
	"vlan-keepalive:1:--target $TV4 --requests 120 --connections 3 --paths $PATHS" \
	"vlan-ipv6:1:--target $TV6 --requests 60 --connections 2 --pipeline 3 --paths $PATHS"
sleep 0.5
n=$(popped)
if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 100 ]; then
	hm_ok "the frames reached $SV tagged with VLAN 7 ($n of them)"
else
	hm_not_ok "the frames reached $SV tagged with VLAN 7" "tagged frames counted: $n"
fi
check_stat "xdp native, VLAN: hm-stat by port,client equals the ground truth" port,client --expected "$TMP"/v1-*.json
hm_check "xdp native, VLAN: pinned maps equal the ground truth" \
	python3 "$HM_LIB/compare.py" maps --pin-dir "$PIN" --expected "$TMP"/v1-*.json
if out=$(hm_in_host "$Q" "$HM_BUILD/hm-load" --detach "$SV" --pin-path "$PIN" 2>&1) &&
	! hm_in_host "$Q" ip -o link show dev "$SV" | grep -q 'xdp' && [ ! -e "$PIN" ]; then
	hm_ok "hm-load --detach $SV: no XDP program, no pins left"
else
	hm_not_ok "hm-load --detach $SV: no XDP program, no pins left" "$out" \
		"$(hm_in_host "$Q" ip -o link show dev "$SV")" "$(ls -A "$PIN" 2>&1)"
fi

# probe ROUND: a little traffic through $SV, for hm_test_pass to count.
probe() {
	hm_in_client "$Q" 1 timeout 30 python3 "$HM_LIB/client.py" --target "$TV4" --requests 20 \
		--connections 2 --out "$TMP/$1-probe.json" >"$TMP/$1-probe.log" 2>&1 ||
		hm_note "probe traffic failed: $(tail -n 3 "$TMP/$1-probe.log")"
}

# == 3. next to another XDP program ==================================================
if out=$(hm_in_host "$Q" xdp-loader load -m native "$SV" "$TMP/xdp_pass.o" 2>&1) &&
	xdp_ids "$Q" "$SV" | grep -q '^hm_test_pass '; then
	hm_ok "xdp-loader loads another program (hm_test_pass) on $SV"
else
	hm_not_ok "xdp-loader loads another program (hm_test_pass) on $SV" "$out"
	hm_done
fi
DISPATCHER=0
hm_in_host "$Q" xdp-loader status "$SV" 2>/dev/null | grep -q xdp_dispatcher && DISPATCHER=1
c0=$(pass_count "$Q")
out=$(hm_in_host "$Q" "$HM_BUILD/hm-load" --xdp=native "$SV" --pin-path "$PIN" 2>&1)
rc=$?
if [ "$DISPATCHER" -eq 1 ]; then
	if [ "$rc" -eq 0 ] && xdp_ids "$Q" "$SV" | grep -q '^hm_xdp_ingress ' &&
		xdp_ids "$Q" "$SV" | grep -q '^hm_test_pass '; then
		hm_ok "hm-load --xdp joins hm_test_pass in libxdp's dispatcher"
	else
		hm_not_ok "hm-load --xdp joins hm_test_pass in libxdp's dispatcher" "$out" \
			"$(hm_in_host "$Q" xdp-loader status "$SV" 2>&1)"
	fi
	hm_run_clients "$Q" v2 "vlan-shared:1:--target $TV4 --requests 60 --connections 2 --paths $PATHS"
	sleep 0.5
	check_stat "next to hm_test_pass: hm-stat by port,client equals the ground truth" port,client \
		--expected "$TMP"/v2-*.json
else
	hm_skip "hm-load --xdp joins hm_test_pass in libxdp's dispatcher" \
		"no dispatcher: this kernel refuses freplace programs, so one XDP program per interface"
	if [ "$rc" -ne 0 ] && grep -q "without libxdp's dispatcher" <<<"$out"; then
		hm_ok "without a dispatcher, hm-load --xdp refuses to replace hm_test_pass and says why"
	else
		hm_not_ok "without a dispatcher, hm-load --xdp refuses to replace hm_test_pass (exit $rc)" "$out"
	fi
	probe v2
fi
c1=$(pass_count "$Q")
if [[ $c0 =~ ^[0-9]+$ && $c1 =~ ^[0-9]+$ ]] && [ "$c1" -gt "$c0" ]; then
	hm_ok "hm_test_pass keeps running after hm-load --xdp (it counted $((c1 - c0)) more packets)"
else
	hm_not_ok "hm_test_pass keeps running after hm-load --xdp" "packets before: $c0, after: $c1"
fi
out=$(hm_in_host "$Q" "$HM_BUILD/hm-load" --detach "$SV" --pin-path "$PIN" 2>&1)
rc=$?
if [ "$DISPATCHER" -eq 1 ]; then
	[ "$rc" -eq 0 ] || hm_not_ok "hm-load --detach $SV" "$out"
else
	# nothing of httpmon was attached (exit 3), only its pins are gone
	[ "$rc" -eq 3 ] || hm_not_ok "hm-load --detach $SV says nothing of httpmon is there (exit 3)" "exit $rc" "$out"
fi
probe v3
c2=$(pass_count "$Q")
if ! xdp_ids "$Q" "$SV" | grep -q '^hm_xdp_ingress ' && [[ $c2 =~ ^[0-9]+$ ]] && [ "$c2" -gt "$c1" ]; then
	hm_ok "after hm-load --detach, hm_test_pass still runs on $SV and hm_xdp_ingress is gone"
else
	hm_not_ok "after hm-load --detach, hm_test_pass still runs on $SV and hm_xdp_ingress is gone" \
		"$(hm_in_host "$Q" xdp-loader status "$SV" 2>&1)" "packets: $c1 -> $c2"
fi
hm_in_host "$Q" xdp-loader unload -a "$SV" >/dev/null 2>&1
if [ ! -e "$PIN" ] && ! hm_in_host "$Q" ip -o link show dev "$SV" | grep -q xdp; then
	hm_ok "nothing left: no pins, no XDP program on $SV"
else
	hm_not_ok "nothing left: no pins, no XDP program on $SV" "$(ls -A "$PIN" 2>&1)" \
		"$(hm_in_host "$Q" ip -o link show dev "$SV")"
fi
hm_done
