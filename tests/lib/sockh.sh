# shellcheck shell=bash
# sockh.sh - set-up, clean-up and readings shared by the socket-source tests
# (tests/e2e/test_sockets_cgroup.sh, tests/e2e/test_sockets_hostile.sh).
# Source it after tap.sh.
#
# sockh_init TAG: checks for root, bpffs, the tools and a cgroup2 mount
# (skips the script without one), cleans up what crashed runs of the same
# TAG left, and sets
#   CG2   the cgroup2 mount (from /proc/mounts)
#   NS    the test's network namespace, hm-TAG<pid>n (lo only, up); more
#         of its own are named NS followed by a number
#   CGD   the test's cgroup directory, $CG2/hm-TAG-<pid>
#   PIN   its pin directory, /sys/fs/bpf/hm-TAG-<pid>
#   TMP   a temporary directory
#   PY    python3's interpreter (its path: no shim in between)
#   SERVERS  pids of the servers sockh_server_up started
# and a trap that detaches the socket source (PIN), ends the servers and
# whatever else is left in NS or CGD, deletes NS, removes the cgroups (once
# their processes are gone), PIN and TMP.  A script may define
# sockh_cleanup_extra, run first.
#
# Names end in "n" so the lab's stale-namespace sweep (hm-*h, hm-*cN) never
# takes them for a lab's.

sockh_init() {
	local tag=$1
	hm_require_root
	hm_require_cmds ip python3 jq curl timeout
	hm_require_build hm-load hm-stat httpmon_sock.o
	hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }
	CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	if [ -z "$CG2" ]; then
		hm_skip "$(basename "$0")" "no cgroup2 mount in /proc/mounts"
		exit 77
	fi
	# The interpreter itself: a version manager's shim costs half a second a start.
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
	SOCKH_TAG=$tag
	NS=hm-$tag$$n
	CGD=$CG2/hm-$tag-$$
	PIN=/sys/fs/bpf/hm-$tag-$$
	TMP=$(mktemp -d "/tmp/hmtest-sockh-$tag.XXXXXX")
	SERVERS=()
	trap sockh_cleanup EXIT
	trap 'exit 130' INT TERM
	sockh_cleanup_stale
	if ip netns add "$NS" && ip -n "$NS" link set lo up && mkdir -p "$CGD"; then
		hm_ok "namespace $NS (lo only) and cgroup $CGD"
	else
		hm_not_ok "namespace $NS and cgroup $CGD"
		hm_done
	fi
}

# sockh__remove_cgroup DIR: ends the processes of DIR and below, then removes
# the directories, deepest first (bounded waits).
sockh__remove_cgroup() {
	local dir=$1 i pids
	[ -d "$dir" ] || return 0
	for ((i = 0; i < 30; i++)); do
		pids=$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086  # a list of pids
		if [ "$i" -eq 0 ]; then kill $pids 2>/dev/null; elif [ "$i" -eq 20 ]; then kill -KILL $pids 2>/dev/null; fi
		sleep 0.1
	done
	find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
	return 0
}

# sockh__remove_ns NS: ends its processes, deletes it.
sockh__remove_ns() {
	local ns=$1 i pids
	for ((i = 0; i < 30; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086  # a list of pids
		if [ "$i" -eq 0 ]; then kill $pids 2>/dev/null; elif [ "$i" -eq 20 ]; then kill -KILL $pids 2>/dev/null; fi
		sleep 0.1
	done
	ip netns del "$ns" 2>/dev/null
	return 0
}

# Leftovers of crashed runs of this TAG: pins, namespaces, cgroups whose pid is gone.
sockh_cleanup_stale() {
	local d pid ns
	for d in /sys/fs/bpf/hm-"$SOCKH_TAG"-*; do
		[ -d "$d" ] || continue
		pid=${d##*-}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -0 "$pid" 2>/dev/null && continue
		echo "# removing stale pins $d" >&2
		"$HM_BUILD/hm-load" --detach --sockets --pin-path "$d" >/dev/null 2>&1
		rm -rf "$d"
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^hm-${SOCKH_TAG}[0-9]+n[0-9]*\$"); do
		pid=${ns#hm-"$SOCKH_TAG"}
		pid=${pid%%n*}
		kill -0 "$pid" 2>/dev/null && continue
		echo "# removing stale namespace $ns" >&2
		sockh__remove_ns "$ns"
	done
	for d in "$CG2"/hm-"$SOCKH_TAG"-*; do
		[ -d "$d" ] || continue
		pid=${d##*-}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -0 "$pid" 2>/dev/null && continue
		echo "# removing stale cgroup $d" >&2
		sockh__remove_cgroup "$d"
	done
}

# shellcheck disable=SC2317 # called by the trap
sockh_cleanup() {
	local pid ns
	declare -F sockh_cleanup_extra >/dev/null && sockh_cleanup_extra
	"$HM_BUILD/hm-load" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1
	for pid in "${SERVERS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${SERVERS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${NS}[0-9]*\$"); do
		sockh__remove_ns "$ns"
	done
	sockh__remove_cgroup "$CGD"
	rm -rf "$PIN" "$TMP"
}

# sockh_server_start NAME CGROUP SERVER-ARGS...: starts tests/lib/sockh_server.py
# in NS (or SOCKH_SERVER_NS: another namespace of the test, NS followed by a
# number), moved into cgroup directory CGROUP (created; "" leaves it where it
# is) before it runs, with its record in $TMP/NAME.json and its output in
# $TMP/NAME.out.  Sets SERVER_PID (and SOCKH_PID_NAME, SOCKH_ARGS_NAME).
# sockh_server_wait NAME: waits until it listens; an "ok" line, or a "not
# ok" line that ends the test.  sockh_server_up: both.
sockh_server_start() {
	local name=$1 cg=$2
	shift 2
	if [ -n "$cg" ]; then
		mkdir -p "$cg" || { hm_not_ok "cgroup $cg"; hm_done; }
	fi
	# The shell moves itself, then becomes the server: the same pid throughout.
	# shellcheck disable=SC2016  # expanded by that shell
	sh -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs" || exit 1; shift
		exec ip netns exec "$@"' sh "$cg" "${SOCKH_SERVER_NS:-$NS}" \
		"$PY" "$HM_LIB/sockh_server.py" --stats "$TMP/$name.json" "$@" \
		>"$TMP/$name.out" 2>&1 &
	SERVER_PID=$!
	SERVERS+=("$SERVER_PID")
	printf -v "SOCKH_PID_$name" '%s' "$SERVER_PID"
	printf -v "SOCKH_ARGS_$name" '%s' "${cg:+cgroup ${cg#"$CG2"}: }$*"
}

sockh_server_wait() {
	local name=$1 i pidvar=SOCKH_PID_$1 argsvar=SOCKH_ARGS_$1
	local pid=${!pidvar}
	for ((i = 0; i < 150; i++)); do
		grep -q '^ready ' "$TMP/$name.out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q "^ready $pid\$" "$TMP/$name.out" 2>/dev/null; then
		hm_ok "server $name (pid $pid, ${!argsvar}) listens"
	else
		hm_not_ok "server $name starts" "$(cat "$TMP/$name.out")"
		hm_done
	fi
}

sockh_server_up() {
	sockh_server_start "$@"
	sockh_server_wait "$1"
}

# sockh_in_ns CMD...: CMD in the test's namespace.
sockh_in_ns() { ip netns exec "$NS" "$@"; }

# sockh_stat FILE: hm-stat --json of the socket set into FILE.
sockh_stat() { "$HM_BUILD/hm-stat" --pin-path "$PIN/sockets" --json >"$1"; }

# sockh_procs FILE: the process rows (hm-stat --source socket --by process --json).
sockh_procs() {
	"$HM_BUILD/hm-stat" --source socket --by process --pin-path "$PIN" --json >"$1"
}

# The words the checks compare: a row's counts, from an hm-stat row (a jq
# filter's output, {} when there is none).
# shellcheck disable=SC2016  # jq program
SOCKH_WORDS='"requests \(.requests // 0) responses \(.responses // 0) unanswered \(.unanswered // 0) 2xx \(.status["2xx"] // 0) 3xx \(.status["3xx"] // 0) 4xx \(.status["4xx"] // 0) 5xx \(.status["5xx"] // 0) bytes_in \(.bytes_in // 0) bytes_out \(.bytes_out // 0)"'

# sockh_port_row STAT PORT: the port's row in those words ("none" without one).
sockh_port_row() {
	jq -r --argjson p "$2" "[.ports[] | select(.port == \$p)] | if length == 0 then \"none\" else first | $SOCKH_WORDS end" "$1"
}

# sockh_route_row STAT METHOD ROUTE: the route's row ("none" without one).
sockh_route_row() {
	jq -r --arg m "$2" --arg r "$3" "[.routes[] | select(.method == \$m and .route == \$r)] | if length == 0 then \"none\" else first | $SOCKH_WORDS end" "$1"
}

# sockh_proc_row PROCS PID: the process row of PID (hm-stat --source socket
# --by process --json) as "pid P comm C role R cgroup PATH cgroup_id ID" and
# the counts ("none" without one).
sockh_proc_row() {
	jq -r --argjson p "$2" "[.processes[]? | select(.pid == \$p)] | if length == 0 then \"none\" else first |
		\"pid \\(.pid) comm \\(.comm) role \\(.role) cgroup \\(.cgroup) cgroup_id \\(.cgroup_id) \" + ($SOCKH_WORDS) end" "$1" 2>/dev/null
}

# sockh_proc_truth NAME DIR COUNTS: the same words from server NAME's own
# record (pid, comm and cgroup as /proc/self said), the inode of its cgroup
# directory DIR (a cgroup's id) and COUNTS (words as above).
sockh_proc_truth() {
	printf '%s cgroup_id %s %s\n' \
		"$(jq -r '"pid \(.pid) comm \(.comm) role server cgroup \(.cgroup)"' "$TMP/$1.json")" \
		"$(stat -c %i "$2")" "$3"
}

# sockh_mon STAT NAME: a self-metric.
sockh_mon() { jq -r --arg k "$2" '.monitor[$k] // "missing"' "$1"; }

# sockh_truth_curl FILE... : the words for curl -w "$SOCKH_W" lines.
# shellcheck disable=SC2034  # used by the sourcing tests
SOCKH_W='%{http_code} %{size_request} %{size_header} %{size_download}\n'
sockh_truth_curl() {
	cat "$@" | awk '
		{ n++; if ($1 != "000") { r++; c[substr($1, 1, 1)]++ }; bin += $2; bout += $3 + $4 }
		END { printf "requests %d responses %d unanswered 0 2xx %d 3xx %d 4xx %d 5xx %d bytes_in %d bytes_out %d\n",
			n, r, c[2], c[3], c[4], c[5], bin, bout }'
}

# sockh_truth_server RECORD [ROUTE]: the words for a server's record (its
# totals, or one route's "METHOD /path"); requests it read and never
# answered are the unanswered ones.
sockh_truth_server() {
	local filter=.
	# shellcheck disable=SC2016  # jq program
	[ $# -ge 2 ] && filter='.routes[$r] // {requests: 0, responses: 0}'
	jq -r --arg r "${2:-}" "$filter | . + {unanswered: (.requests - .responses)} | $SOCKH_WORDS" "$1" 2>/dev/null
}

# sockh_compare NAME GOT WANT: ok when equal.
sockh_compare() {
	if [ "$2" = "$3" ]; then
		hm_ok "$1: $2"
	else
		hm_not_ok "$1" "hm-stat: $2" "truth:   $3"
	fi
}
