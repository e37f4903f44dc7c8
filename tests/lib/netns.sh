# shellcheck shell=bash
# netns.sh - the namespace lab shared by httpmon's tests and scripts/lab.sh.
#
# Source it; it defines functions only.  The lab is the seed's docker compose
# network rebuilt from network namespaces:
#
#   ${P}h   "host" namespace: bridge ${P}br (or $HM_LAB_BRIDGE) with 10.231.N.1/24 and
#           fd00:231:N::1/64; the origin server and the monitor live here.
#   ${P}cI  client namespace I (1..NCLIENTS): eth0 = 10.231.N.(10+I)/24 and
#           fd00:231:N::(10+I)/64, a veth whose peer ${P}vI is a bridge port.
#
# N is 16..249, derived from a hash of the prefix (HM_LAB_NET=N overrides
# it).  Every address lives inside our own namespaces, so labs with the same
# N never meet.  The root namespace gets one thing while a lab exists: a
# blackhole route for 10.231.N.0/24 and fd00:231:N::/64, so a slip (a client
# run outside its namespace) never sends a packet off the machine.  Tests
# that configure 10.231.N addresses of their own claim that route the same
# way (hm_blackhole_claim / hm_blackhole_release); it goes with the last
# claim on N.
#
# Prefixes start with "hm-" and stay <= 11 characters so "${P}br" and
# "${P}v12" fit IFNAMSIZ.  hm_lab_prefix TAG gives "hm-TAG<pid>".  Each lab
# records its owner in $HM_LAB_RUN/PREFIX (a pid, or "keep" for a lab left
# running on purpose; files $HM_LAB_RUN/PREFIX.* go with the lab);
# hm_lab_cleanup_stale removes hm-* labs whose owner is gone, which is how a
# crashed run's leftovers disappear.
#
# Monitor commands (hm-load, hm-stat, tc ... obj) must run via hm_in_host:
# nsenter enters only the network namespace, so /sys/fs/bpf (our pins) stays
# visible.  `ip netns exec` remounts /sys and hides bpffs; hm_in_client uses
# it, which is fine for traffic generators.

HM_LAB_RUN=${HM_LAB_RUN:-/run/httpmon-lab}

# hm_blackhole_claim N NAME [OWNER]: routes 10.231.N.0/24 and
# fd00:231:N::/64 to a blackhole in the root namespace for as long as NAME's
# claim stands.  NAME identifies the claim (a lab prefix, a test's name and
# pid); OWNER (default $$) is the process whose end makes it stale, or
# "keep".  The route's metric is OWNER's pid (1 for "keep"), so claimants on
# one N keep routes of their own, and any cleanup that removes blackhole
# routes whose metric is a dead pid removes only stale ones.  Claims are
# files $HM_LAB_RUN/blackhole/N/NAME, changed under a flock: a route goes
# with the last claim of its owner on N.  A route of the machine's own for
# the range (not a blackhole) is never replaced: the claim fails instead.
hm_blackhole_claim() {
	local n=$1 name=$2 owner=${3:-$$} r metric
	metric=$(hm__blackhole_metric "$owner")
	mkdir -p "$HM_LAB_RUN/blackhole" || return 1
	(
		flock 9 || exit 1
		for r in "$(ip route show exact "10.231.$n.0/24")" \
			"$(ip -6 route show exact "fd00:231:$n::/64" 2>/dev/null)"; do
			if [ -n "$r" ] && [[ $r != blackhole* ]]; then
				echo "hm_blackhole_claim: the root namespace routes $r; choose another N" \
					"(HM_LAB_NET)" >&2
				exit 1
			fi
		done
		mkdir -p "$HM_LAB_RUN/blackhole/$n" &&
			echo "$owner" >"$HM_LAB_RUN/blackhole/$n/$name" &&
			ip route replace blackhole "10.231.$n.0/24" metric "$metric" &&
			{ ip -6 route replace blackhole "fd00:231:$n::/64" metric "$metric" ||
				[ ! -d /proc/sys/net/ipv6 ]; }
	) 9>"$HM_LAB_RUN/blackhole.lock"
}

# hm_blackhole_release NAME: drops every claim NAME holds, and the routes no
# other claim of the same owner on that N keeps.
hm_blackhole_release() {
	local name=$1 d owner
	[ -d "$HM_LAB_RUN/blackhole" ] || return 0
	(
		flock 9 || exit 1
		for d in "$HM_LAB_RUN/blackhole"/*/; do
			[ -e "$d$name" ] || continue
			owner=$(cat "$d$name" 2>/dev/null)
			rm -f "$d$name"
			hm__blackhole_prune "$(basename "$d")" "$(hm__blackhole_metric "$owner")"
		done
	) 9>"$HM_LAB_RUN/blackhole.lock"
	return 0
}

# hm_blackhole_cleanup_stale: claims whose owner is gone are dropped, and
# their routes with them.
hm_blackhole_cleanup_stale() {
	local d n
	mkdir -p "$HM_LAB_RUN/blackhole" || return 0
	(
		flock 9 || exit 1
		for d in "$HM_LAB_RUN/blackhole"/*/; do
			n=$(basename "$d")
			if [[ $n =~ ^[0-9]+$ ]]; then hm__blackhole_prune "$n"; fi
		done
		exit 0 # under set -e, a last test that failed must not end the caller
	) 9>"$HM_LAB_RUN/blackhole.lock"
	return 0
}

hm__blackhole_metric() { if [ "$1" = keep ]; then echo 1; else echo "${1:-0}"; fi; }

# hm__blackhole_prune N [METRIC...], under the lock: drops N's stale claims,
# then removes the routes of those metrics (and of METRIC...) that no
# remaining claim on N keeps.
hm__blackhole_prune() {
	local n=$1 f owner m keep=" "
	shift
	local gone=("$@")
	for f in "$HM_LAB_RUN/blackhole/$n"/*; do
		[ -e "$f" ] || continue
		owner=$(cat "$f" 2>/dev/null)
		if [ "$owner" = keep ] || { [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; }; then
			keep="$keep$(hm__blackhole_metric "$owner") "
			continue
		fi
		rm -f "$f"
		gone+=("$(hm__blackhole_metric "$owner")")
	done
	for m in "${gone[@]}"; do
		[[ $keep == *" $m "* ]] && continue
		ip route del blackhole "10.231.$n.0/24" metric "$m" 2>/dev/null || true
		ip -6 route del blackhole "fd00:231:$n::/64" metric "$m" 2>/dev/null || true
	done
	rmdir "$HM_LAB_RUN/blackhole/$n" 2>/dev/null
	return 0
}

# hm_lab_prefix TAG: a unique prefix for this process, e.g. hm-t12345.
hm_lab_prefix() {
	local tag=${1:-x}
	printf 'hm-%s%s\n' "${tag:0:2}" "$$"
}

# hm_lab_net PREFIX: the N of 10.231.N.0/24 for this prefix.
hm_lab_net() {
	if [ -n "${HM_LAB_NET:-}" ]; then
		echo "$HM_LAB_NET"
		return
	fi
	local sum
	sum=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
	echo $((16 + sum % 234))
}

# hm_host_ip PREFIX [4|6] / hm_client_ip PREFIX I [4|6]: addresses in the lab.
hm_host_ip() {
	local n
	n=$(hm_lab_net "$1")
	if [ "${2:-4}" = 6 ]; then echo "fd00:231:$n::1"; else echo "10.231.$n.1"; fi
}
hm_client_ip() {
	local n
	n=$(hm_lab_net "$1")
	if [ "${3:-4}" = 6 ]; then echo "fd00:231:$n::$((10 + $2))"; else echo "10.231.$n.$((10 + $2))"; fi
}
# The bridge is ${P}br unless HM_LAB_BRIDGE names it (lab.sh: br-httpmon).
hm_bridge() { echo "${HM_LAB_BRIDGE:-${1}br}"; }
hm_host_ns() { echo "${1}h"; }
hm_client_ns() { echo "${1}c$2"; }

# hm_in_host PREFIX CMD...: CMD in the host namespace's network only.
hm_in_host() {
	local p=$1
	shift
	nsenter --net="/run/netns/${p}h" -- "$@"
}

# hm_in_client PREFIX I CMD...: CMD in client namespace I.
hm_in_client() {
	local p=$1 i=$2
	shift 2
	ip netns exec "${p}c$i" "$@"
}

# hm_tcp_retrans NS...: the TCP stack's own count of retransmitted segments
# (RetransSegs in /proc/net/snmp), summed over the named namespaces.  The
# ground truth for the monitor's retrans_segments: a tail loss probe or a
# timeout can resend a segment on a quiet veth, so "no retransmission" is
# only what the stacks say, never an assumption.
hm_tcp_retrans() {
	local ns v total=0
	for ns in "$@"; do
		# shellcheck disable=SC2016 # awk program
		v=$(ip netns exec "$ns" awk '$1 == "Tcp:" {
			if (!c) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") c = i; next }
			print $c; exit }' /proc/net/snmp) || return 1
		total=$((total + v))
	done
	echo "$total"
}

# hm_expect_retrans NAME MONITOR_SEGS STACK_SEGS: the monitor reports no
# retransmission the stacks did not make: none when they made none, at most
# theirs otherwise (a resent SYN or bare FIN carries no bytes to count).
hm_expect_retrans() {
	local name=$1 mon=$2 stack=$3
	if [ "$mon" -ge 0 ] 2>/dev/null && [ "$mon" -le "$stack" ]; then
		hm_ok "$name: retrans_segments $mon, the stacks resent $stack"
	else
		hm_not_ok "$name" "monitor retrans_segments: $mon" "the stacks' RetransSegs: $stack"
	fi
}

# hm_lab_up PREFIX NCLIENTS [OWNER]: builds the lab; OWNER defaults to $$.
hm_lab_up() {
	local p=$1 nclients=$2 owner=${3:-$$} n i host br
	if [ ${#p} -gt 11 ] || [[ $p != hm-* ]]; then
		echo "hm_lab_up: prefix '$p' must start with hm- and be at most 11 characters" >&2
		return 1
	fi
	if [ "$nclients" -lt 1 ] || [ "$nclients" -gt 99 ]; then
		echo "hm_lab_up: NCLIENTS must be 1..99" >&2
		return 1
	fi
	n=$(hm_lab_net "$p")
	host=${p}h
	br=$(hm_bridge "$p")
	mkdir -p "$HM_LAB_RUN"
	echo "$owner" >"$HM_LAB_RUN/$p"
	hm_blackhole_claim "$n" "$p" "$owner" ||
		{ echo "hm_lab_up: cannot add the blackhole route for 10.231.$n.0/24" >&2; return 1; }
	{
		ip netns add "$host" &&
			ip -n "$host" link set lo up &&
			ip -n "$host" link add "$br" type bridge &&
			ip -n "$host" addr add "10.231.$n.1/24" dev "$br" &&
			ip -n "$host" addr add "fd00:231:$n::1/64" dev "$br" nodad &&
			ip -n "$host" link set "$br" up
	} || { echo "hm_lab_up: cannot create $host" >&2; return 1; }
	for ((i = 1; i <= nclients; i++)); do
		{
			ip netns add "${p}c$i" &&
				ip -n "${p}c$i" link set lo up &&
				ip -n "$host" link add "${p}v$i" type veth peer name eth0 netns "${p}c$i" &&
				ip -n "$host" link set "${p}v$i" master "$br" &&
				ip -n "$host" link set "${p}v$i" up &&
				ip -n "${p}c$i" addr add "10.231.$n.$((10 + i))/24" dev eth0 &&
				ip -n "${p}c$i" addr add "fd00:231:$n::$((10 + i))/64" dev eth0 nodad &&
				ip -n "${p}c$i" link set eth0 up
		} || { echo "hm_lab_up: cannot create client $i of $p" >&2; return 1; }
	done
}

# hm_lab_down PREFIX: stops every process left in the lab's namespaces, then
# deletes them (which removes their links, the bridge and its tc filters).
hm_lab_down() {
	local p=$1 ns pids i namespaces
	namespaces=$(hm__lab_namespaces "$p")
	for ((i = 0; i < 30; i++)); do
		pids=$(for ns in $namespaces; do ip netns pids "$ns" 2>/dev/null; done)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086  # a list of pids
		if [ "$i" -eq 0 ]; then kill $pids 2>/dev/null; elif [ "$i" -eq 20 ]; then kill -KILL $pids 2>/dev/null; fi
		sleep 0.1
	done
	for ns in $namespaces; do
		ip netns del "$ns" 2>/dev/null
	done
	hm_blackhole_release "$p"
	rm -f "$HM_LAB_RUN/$p" "$HM_LAB_RUN/$p".*
	return 0
}

# Namespaces of one lab: ${P}h and ${P}c1...
hm__lab_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1(h|c[0-9]+)\$"
}

# hm_lab_cleanup_stale: removes hm-* labs whose owner process is gone (or
# that have no owner record), and blackhole routes nothing claims any more.
# Labs marked "keep" are left alone.
hm_lab_cleanup_stale() {
	local p owner
	for p in $(ip netns list 2>/dev/null | awk '{print $1}' |
		sed -nE 's/^(hm-.*)(h|c[0-9]+)$/\1/p' | sort -u); do
		owner=$(cat "$HM_LAB_RUN/$p" 2>/dev/null)
		[ "$owner" = keep ] && continue
		[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && continue
		echo "# removing stale lab $p" >&2
		hm_lab_down "$p"
	done
	hm_blackhole_cleanup_stale
	return 0
}

# hm_wait_port PREFIX ADDR PORT [SECONDS]: waits until ADDR:PORT listens in
# the host namespace (default 10 s).
hm_wait_port() {
	local p=$1 addr=$2 port=$3 secs=${4:-10} i
	[[ $addr == *:* ]] && addr="[$addr]"
	for ((i = 0; i < secs * 10; i++)); do
		hm_in_host "$p" ss -Hltn "src $addr:$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "hm_wait_port: nothing listens on $addr:$port in ${p}h" >&2
	return 1
}

# hm_wait_line FILE TEXT [SECONDS]: waits until FILE has a line TEXT.
hm_wait_line() {
	local file=$1 text=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -qx "$text" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# hm_lab_start PREFIX N LOG: hm_lab_up with its output in LOG, reported as an
# "ok" line; if the lab does not come up, a "not ok" line with LOG ends the
# test.
hm_lab_start() {
	local p=$1 n=$2 log=$3
	if hm_lab_up "$p" "$n" >"$log" 2>&1; then
		hm_ok "lab up: bridge $(hm_bridge "$p") with $n client namespace$([ "$n" -eq 1 ] || echo s)"
	else
		hm_not_ok "lab up" "$(cat "$log")"
		hm_done
	fi
}

# hm_monitor_up PREFIX IFACE PIN [HM-LOAD-OPTIONS...]: hm-load IFACE with its
# maps in PIN, in the lab's host namespace, reported as an "ok" line; sets
# ATTACHED=1 (for the test's cleanup).  A failure ends the test.
hm_monitor_up() {
	local p=$1 ifc=$2 pin=$3 out
	shift 3
	if out=$(hm_in_host "$p" "$HM_BUILD/hm-load" "$ifc" --pin-path "$pin" "$@" 2>&1); then
		# shellcheck disable=SC2034  # read by the sourcing test's cleanup
		ATTACHED=1
		hm_ok "hm-load${*:+ $*} attaches to $ifc (pins in $pin)"
	else
		hm_not_ok "hm-load${*:+ $*} attaches to $ifc" "$out"
		hm_done
	fi
}

# hm_origin_up NETNS OUT ORIGIN-ARGS...: starts tests/lib/origin.py with
# ORIGIN-ARGS in network namespace NETNS (the lab's host namespace is
# PREFIXh), output in OUT; waits until it serves and says so in an "ok" line
# naming its --listen addresses; if it does not start, a "not ok" line with
# its output ends the test.  Sets ORIGIN_PID.
hm_origin_up() {
	local ns=$1 out=$2 a prev='' where=''
	shift 2
	for a in "$@"; do
		[ "$prev" = --listen ] && where="$where $a"
		prev=$a
	done
	ip netns exec "$ns" python3 "$HM_LIB/origin.py" "$@" >"$out" 2>&1 &
	# shellcheck disable=SC2034  # read by the sourcing test
	ORIGIN_PID=$!
	if hm_wait_line "$out" ready 10; then
		hm_ok "origin serves${where:- its default address} in $ns"
	else
		hm_not_ok "origin starts in $ns" "$(cat "$out")"
		hm_done
	fi
}

# hm_offload_off PREFIX I: turns TSO/GSO/GRO off on client I's eth0 (needs
# ethtool; returns 1 without it).  Not used by default.
hm_offload_off() {
	command -v ethtool >/dev/null || return 1
	hm_in_client "$1" "$2" ethtool -K eth0 tso off gso off gro off >/dev/null
}

# hm_run_clients PREFIX ROUND NAME:CLIENT:ARGS...: runs client.py in the lab's
# client namespaces in parallel, one per spec (ARGS are client.py's options,
# split into words), and prints an "ok"/"not ok" line per client.  Each one's
# ground truth goes to $TMP/ROUND-NAME.json (TMP: the test's temp directory).
# HM_CLIENT_SECONDS bounds each client (default 60, killed 30 s later);
# HM_CLIENT_IO_TIMEOUT, when set, is client.py's --timeout.
hm_run_clients() {
	local p=$1 round=$2 spec name i args pids=() names=() k rc
	local secs=${HM_CLIENT_SECONDS:-60} io=()
	local -
	set -f # $args is split into words but its '?' must not glob
	shift 2
	[ -n "${HM_CLIENT_IO_TIMEOUT:-}" ] && io=(--timeout "$HM_CLIENT_IO_TIMEOUT")
	for spec in "$@"; do
		IFS=: read -r name i args <<<"$spec"
		# shellcheck disable=SC2086  # args is a word list
		hm_in_client "$p" "$i" timeout $((secs + 30)) python3 "$HM_LIB/client.py" $args \
			--max-seconds "$secs" "${io[@]}" --out "$TMP/$round-$name.json" \
			>"$TMP/$round-$name.log" 2>&1 &
		pids+=($!)
		names+=("$name")
	done
	for k in "${!pids[@]}"; do
		wait "${pids[$k]}"
		rc=$?
		if [ "$rc" -eq 0 ]; then
			hm_ok "traffic $round ${names[$k]}: $(jq -r '"\(.total.requests) requests, \(.total.responses) responses, \(.total.bytes_in) bytes in, \(.total.bytes_out) out in \(.elapsed_s) s"' "$TMP/$round-${names[$k]}.json")"
		else
			hm_not_ok "traffic $round ${names[$k]} (exit $rc)" "$(cat "$TMP/$round-${names[$k]}.log")"
		fi
	done
}

# hm_blackhole_add PREFIX / hm_blackhole_del PREFIX: the lab's blackhole claim
# by name, for tests that take it explicitly; hm_lab_up and hm_lab_down
# already do (claiming again is harmless, and a released claim is gone).
hm_blackhole_add() {
	local owner
	owner=$(cat "$HM_LAB_RUN/$1" 2>/dev/null)
	hm_blackhole_claim "$(hm_lab_net "$1")" "$1" "${owner:-$$}"
}
hm_blackhole_del() { hm_blackhole_release "$1"; }
