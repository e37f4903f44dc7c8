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

# hm_blackhole_add CIDR: routes CIDR to a blackhole in the root namespace's
# main table, with this test's pid as the route's metric: concurrent runs
# (another suite, a chroot's) keep routes of their own, and a route whose
# metric names a dead pid is a crashed run's leftover.
hm_blackhole_add() {
	HM_BLACKHOLE=
	ip route add blackhole "$1" metric "$$" || return 1
	HM_BLACKHOLE=$1
}

# hm_blackhole_del: removes the route hm_blackhole_add added, if any.
hm_blackhole_del() {
	[ -n "${HM_BLACKHOLE:-}" ] && ip route del blackhole "$HM_BLACKHOLE" metric "$$" 2>/dev/null
	HM_BLACKHOLE=
	return 0
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
