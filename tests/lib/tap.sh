# shellcheck shell=bash
# tap.sh - result lines and common checks for httpmon's test scripts.
#
# A test script prints one line per check, "ok - NAME", "not ok - NAME" or
# "skip - NAME (reason)", other output starting with "# ", and exits with
# hm_done: 0 when nothing failed, 77 when everything was skipped, 1 otherwise.
# tests/run.sh counts the lines.

HM_ROOT=${HM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HM_BUILD=${HM_BUILD:-$HM_ROOT/build}
# shellcheck disable=SC2034  # used by the scripts that source this file
HM_LIB=$HM_ROOT/tests/lib
hm_n_ok=0
hm_n_fail=0
hm_n_skip=0

hm_ok() { echo "ok - $1"; hm_n_ok=$((hm_n_ok + 1)); }
hm_skip() { echo "skip - $1 ($2)"; hm_n_skip=$((hm_n_skip + 1)); }
# hm_not_ok NAME [DETAIL...]: DETAIL lines are printed as comments.
hm_not_ok() {
	local name=$1
	shift
	echo "not ok - $name"
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'
	hm_n_fail=$((hm_n_fail + 1))
}
hm_note() { echo "# $*"; }

# hm_check NAME CMD...: ok when CMD succeeds; its output is shown on failure,
# its last line as a comment on success.
hm_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		hm_ok "$name"
		[ -n "$out" ] && hm_note "  $(tail -n 1 <<<"$out")"
		return 0
	else
		hm_not_ok "$name" "command: $*" "$out"
		return 1
	fi
}

# hm_done: the exit status for the counts so far.
hm_done() {
	if [ "$hm_n_fail" -gt 0 ]; then exit 1; fi
	if [ "$hm_n_ok" -eq 0 ] && [ "$hm_n_skip" -gt 0 ]; then exit 77; fi
	exit 0
}

# hm_run CMD...: runs CMD; sets rc, out (its stdout) and err (its stderr).
hm_run() {
	local f
	f=$(mktemp /tmp/hmtest-stderr.XXXXXX)
	out=$("$@" 2>"$f")
	rc=$?
	err=$(cat "$f")
	rm -f "$f"
}

# hm_judge STATUS NAME [DETAIL...]: ok when STATUS is 0.  Called as
# "hm_judge $? ...", so the status is taken before command substitutions in
# DETAIL run.
hm_judge() {
	local status=$1 name=$2
	shift 2
	if [ "$status" -eq 0 ]; then hm_ok "$name"; else hm_not_ok "$name" "$@"; fi
}

# hm_expect_fail NAME RC REGEX CMD...: CMD exits RC with one stderr line matching REGEX.
hm_expect_fail() {
	local name=$1 want=$2 re=$3
	shift 3
	hm_run "$@"
	if [ "$rc" -eq "$want" ] && [[ $err =~ $re ]] && [ "$(wc -l <<<"$err")" -eq 1 ]; then
		hm_ok "$name"
	else
		hm_not_ok "$name" "command: $*" "exit $rc, wanted $want; stderr matching: $re" \
			"stderr: $err"
	fi
}

# hm_require_root: skips the whole script (exit 77) unless root.
hm_require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		hm_skip "$(basename "$0")" "needs root"
		exit 77
	fi
}

# hm_require_cmds CMD...: skips the script when a tool is missing.
hm_require_cmds() {
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null; then
			hm_skip "$(basename "$0")" "$c not installed (scripts/deps.sh)"
			exit 77
		fi
	done
}

# hm_require_build FILE...: the monitor must be built; missing files fail
# the script (a missing monitor is a failure, not a skip).
hm_require_build() {
	local f missing=()
	for f in "$@"; do [ -e "$HM_BUILD/$f" ] || missing+=("$f"); done
	if [ ${#missing[@]} -gt 0 ]; then
		hm_not_ok "build present" "missing in $HM_BUILD: ${missing[*]} (run make)"
		exit 1
	fi
}

# hm_bpffs_ensure: mounts bpffs on /sys/fs/bpf when it is not there.
hm_bpffs_ensure() {
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] && return 0
	mount -t bpf bpf /sys/fs/bpf
}

# hm_lock_exclusive FILE [SECONDS]: takes an exclusive flock on FILE, held
# until the script exits (its children inherit it: none may outlive the
# script), for a resource every test suite on the machine shares, such as
# /sys/fs/bpf/tc/globals.  Waits up to SECONDS (default 600), saying so, a
# second at a time so that a signal ends the wait; fails when it is over.
hm_lock_exclusive() {
	local file=$1 secs=${2:-600} waited=0
	exec {HM_LOCK_FD}>>"$file" || return 1
	flock -n "$HM_LOCK_FD" && return 0
	hm_note "waiting for $file (another test run holds it)"
	while [ "$waited" -lt "$secs" ]; do
		flock -w 1 "$HM_LOCK_FD" && return 0
		waited=$((waited + 1))
	done
	return 1
}

# hm_pins_cleanup_stale GLOB_PREFIX: removes /sys/fs/bpf/PREFIX<pid> dirs
# whose pid is gone (pins of crashed test runs).
hm_pins_cleanup_stale() {
	local d pid
	for d in /sys/fs/bpf/"$1"*; do
		[ -d "$d" ] || continue
		pid=${d##*/"$1"}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -0 "$pid" 2>/dev/null && continue
		echo "# removing stale pins $d" >&2
		rm -rf "$d"
	done
}
