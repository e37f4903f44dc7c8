#!/usr/bin/env bash
# run.sh - httpmon's test runner (`make test`).
#
# Runs, each as its own process and in this order: build/test_parse (the
# BPF unit tests), tests/unit/*.sh, tests/packaging/*.sh, tests/e2e/*.sh.
# A test prints one line per check - "ok - NAME", "not ok - NAME" or "skip -
# NAME (reason)" - and exits 0 (pass), 77 (skipped) or anything else
# (failed).  Every ok / not ok line counts as one test; a script that fails
# without a "not ok" line counts as one failure, one that exits 77 without a
# "skip" line as one skip.  The last line is "N passed, N failed" (", N
# skipped" when any); the exit status is nonzero when anything failed or
# nothing ran.
#
# Usage: tests/run.sh [-k PATTERN] [-v] [-h]
#   -k PATTERN  run only the scripts whose path matches PATTERN (extended
#               regular expression, e.g. -k lab or -k 'unit/')
#   -v          show each script's output live (default: only on failure)
# Environment: HM_TEST_TIMEOUT seconds per script (default 600),
#   HM_TESTS_DIR the directory holding unit/, packaging/ and e2e/ (default:
#   tests/).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTS_DIR=${HM_TESTS_DIR:-$ROOT/tests}
TIMEOUT=${HM_TEST_TIMEOUT:-600}
pattern=
verbose=0

usage() { sed -n 's/^# \{0,1\}//; 14,20p' "${BASH_SOURCE[0]}"; }

while getopts 'k:vh' opt; do
	case $opt in
	k) pattern=$OPTARG ;;
	v) verbose=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: must run as root: the tests load BPF programs and create network namespaces (try: sudo make test)" >&2
	exit 2
fi
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf || { echo "tests/run.sh: cannot mount bpffs on /sys/fs/bpf" >&2; exit 2; }
fi

cd "$ROOT" || exit 2
export HM_ROOT=$ROOT

scripts=()
if [ -e build/test_parse ] || [ -e "$TESTS_DIR/unit/parse/main.c" ]; then
	scripts+=(build/test_parse)
fi
for s in "$TESTS_DIR"/unit/*.sh "$TESTS_DIR"/packaging/*.sh "$TESTS_DIR"/e2e/*.sh; do
	[ -e "$s" ] && scripts+=("${s#"$ROOT"/}")
done
if [ -n "$pattern" ]; then
	selected=()
	for s in "${scripts[@]}"; do
		[[ $s =~ $pattern ]] && selected+=("$s")
	done
	scripts=("${selected[@]}")
fi

passed=0 failed=0 skipped=0 interrupted=0 child=
log=$(mktemp /tmp/httpmon-test.XXXXXX)
trap 'rm -f "$log"' EXIT
trap 'interrupted=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' INT TERM

# run_one SCRIPT: runs it under timeout into $log; sets rc.
run_one() {
	local s=$1 cmd tailer=
	if [[ $s == *.sh ]]; then cmd=(bash "$s"); else cmd=("./$s"); fi
	timeout -k 10 "$TIMEOUT" "${cmd[@]}" >"$log" 2>&1 </dev/null &
	child=$!
	if [ "$verbose" -eq 1 ]; then
		tail -n +1 -f --pid="$child" "$log" &
		tailer=$!
	fi
	while :; do
		wait "$child"
		rc=$?
		# wait returns early (>128) when a trapped signal arrives
		kill -0 "$child" 2>/dev/null || break
	done
	child=
	[ -n "$tailer" ] && wait "$tailer"
}

for s in "${scripts[@]}"; do
	[ "$interrupted" -eq 1 ] && break
	echo "== $s"
	start=$SECONDS
	if [ "$s" = build/test_parse ] && [ ! -x build/test_parse ]; then
		echo "not ok - test_parse (build/test_parse is missing: run make)" >"$log"
		rc=1
	else
		run_one "$s"
	fi
	n_ok=$(grep -cE '^[[:space:]]*ok - ' "$log")
	n_fail=$(grep -cE '^[[:space:]]*not ok - ' "$log")
	n_skip=$(grep -cE '^[[:space:]]*skip - ' "$log")
	note=
	case $rc in
	0) ;;
	77) [ $((n_ok + n_skip)) -eq 0 ] && n_skip=1 ;;
	124 | 137) note="timed out after ${TIMEOUT}s" ;;
	*) note="exit status $rc" ;;
	esac
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$n_fail" -eq 0 ]; then
		n_fail=1
		note="$note, no 'not ok' line: counted as one failure"
	fi
	if [ "$rc" -eq 0 ] && [ "$n_fail" -gt 0 ]; then
		note="exit status 0 despite 'not ok' lines"
	fi
	passed=$((passed + n_ok))
	failed=$((failed + n_fail))
	skipped=$((skipped + n_skip))
	if [ "$n_fail" -gt 0 ]; then verdict=FAIL; elif [ "$rc" -eq 77 ]; then verdict=SKIP; else verdict=PASS; fi
	echo "$verdict $s: $n_ok ok, $n_fail not ok, $n_skip skip ($((SECONDS - start))s)${note:+; $note}"
	if [ "$verbose" -eq 0 ] && { [ "$verdict" = FAIL ] || [ "$n_skip" -gt 0 ]; }; then
		if [ "$verdict" = FAIL ]; then
			tail -n 100 "$log" | sed 's/^/  | /'
		else
			grep -E '^[[:space:]]*skip - ' "$log" | sed 's/^/  | /'
		fi
	fi
done

total=$((passed + failed + skipped))
[ "$interrupted" -eq 1 ] && echo "tests/run.sh: interrupted"
[ "$total" -eq 0 ] && echo "tests/run.sh: no test ran${pattern:+ (nothing matches '$pattern')}"
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
if [ "$failed" -gt 0 ] || [ "$total" -eq 0 ] || [ "$interrupted" -eq 1 ]; then
	exit 1
fi
exit 0
