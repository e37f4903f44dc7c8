# shellcheck shell=bash
# fleet.sh - helpers of the tests that build several monitored "machines" or
# check httpmon's exports, packaging and distribution files (test_fleet.sh,
# test_hist_chart.sh, test_deb.sh).  Source it after tap.sh; it defines
# functions only.
#
# Their addresses are 10.231.240.0/21 (10.231.240.x - 10.231.247.x), inside
# namespaces named hm-f*; each test adds a blackhole route for its part of the
# range in the root namespace while it runs, so nothing can leave the machine
# even if a namespace were misconfigured.  Namespaces that are not a netns.sh
# lab must not end in "h" or "c<N>": hm_lab_cleanup_stale (netns.sh) takes
# such hm-* names for a lab and removes them when no owner record says
# otherwise.

# hm_blackhole_add CIDR: adds "blackhole CIDR" to the root namespace's main
# table; sets HM_BLACKHOLE (for hm_blackhole_del) when this call added it.  A
# route already there (a concurrent run of the same test) is left to its owner.
hm_blackhole_add() {
	HM_BLACKHOLE=
	if ip route add blackhole "$1" 2>/dev/null; then
		HM_BLACKHOLE=$1
	elif ! ip route show exact "$1" | grep -q '^blackhole'; then
		return 1
	fi
	return 0
}

# hm_blackhole_del: removes the route hm_blackhole_add added, if any.
hm_blackhole_del() {
	[ -n "${HM_BLACKHOLE:-}" ] && ip route del blackhole "$HM_BLACKHOLE" 2>/dev/null
	HM_BLACKHOLE=
	return 0
}

# hm_free_port NETNS: a TCP port nobody listens on, on 127.0.0.1 of NETNS.
hm_free_port() {
	ip netns exec "$1" python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# hm_kill_wait PID...: SIGTERM, then SIGKILL after 5 s; waits for each.
hm_kill_wait() {
	local pid i
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null || continue
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# hm_netns_cleanup_stale TAG: removes the namespaces TAG<pid><letter>[N] of
# runs whose pid is gone (a crashed run's leftovers), killing what runs in
# them first.
hm_netns_cleanup_stale() {
	local ns pid pids
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1[0-9]+[a-z][0-9]*\$"); do
		pid=${ns#"$1"}
		pid=${pid%%[a-z]*}
		kill -0 "$pid" 2>/dev/null && continue
		echo "# removing stale namespace $ns" >&2
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086  # a list of pids
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}
