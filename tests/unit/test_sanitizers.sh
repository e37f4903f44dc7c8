#!/usr/bin/env bash
# test_sanitizers.sh - the tool and reader tests once more, against hm-load,
# hm-stat and hm-reset built with AddressSanitizer and UBSan (`make san`,
# into build/san/; `make test` builds them).
#
# Each script below runs with HM_BUILD=build/san, so it exercises the
# instrumented tools with the same bad input and checks the same outcomes.
# Its result lines are passed on prefixed with "san: ".  A sanitizer finding
# stops the tool (halt_on_error, no recovery) with exit status 86 (ASan) or
# 87 (UBSan) and a report, which the script's own checks see: they want
# another exit status, one line on stderr, or output that parses.  ASan
# writes its report to a log file as well, so "san: SCRIPT: no sanitizer
# reports" fails here even where a script ignored a tool's exit status
# (UBSan's report stays on stderr: gcc's combined runtime does not send it
# to log_path).  Leaks are not reported: the tools exit right after their
# one job.  HM_SAN_QUICK=1 lets a script repeat less where repetition tests
# the kernel rather than the tools (test_readers.sh's --output race).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
SAN=$HM_BUILD/san
if [ ! -x "$SAN/hm-load" ] || [ ! -x "$SAN/hm-stat" ] || [ ! -x "$SAN/hm-reset" ]; then
	hm_not_ok "sanitizer build present" "missing in $SAN: hm-load, hm-stat or hm-reset (run make san)"
	hm_done
fi

SCRIPTS=(test_tool_input.sh test_bad_ground.sh test_readers.sh)
TMP=$(mktemp -d /tmp/hm-san.XXXXXX)
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# The tools run as other users too (setpriv): the reports must be writable.
chmod 1777 "$TMP"

# The scripts use names of their own (with their pid), so they run side by
# side: the time is the longest one's, mostly hm-load's BPF verification.
for s in "${SCRIPTS[@]}"; do
	mkdir -m 1777 "$TMP/${s%.sh}"
	log=$TMP/${s%.sh}/report
	HM_BUILD=$SAN HM_SAN_QUICK=1 \
		ASAN_OPTIONS="halt_on_error=1:exitcode=86:detect_leaks=0:abort_on_error=0:log_path=$log" \
		UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$log" \
		timeout -k 10 300 bash "$HM_ROOT/tests/unit/$s" >"$TMP/$s.out" 2>&1 </dev/null &
	pids+=($!)
done
for k in "${!SCRIPTS[@]}"; do
	s=${SCRIPTS[$k]}
	wait "${pids[$k]}"
	rc=$?
	sed -nE 's/^(ok|not ok|skip) - /\1 - san: /p' "$TMP/$s.out"
	n_fail=$(grep -c '^not ok - ' "$TMP/$s.out")
	hm_n_ok=$((hm_n_ok + $(grep -c '^ok - ' "$TMP/$s.out")))
	hm_n_fail=$((hm_n_fail + n_fail))
	hm_n_skip=$((hm_n_skip + $(grep -c '^skip - ' "$TMP/$s.out")))
	if [ "$n_fail" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
		hm_note "output of $s (exit $rc):"
		grep -v '^ok - ' "$TMP/$s.out" | tail -n 40 | sed 's/^/#   /'
		[ "$n_fail" -gt 0 ] || hm_not_ok "san: $s exits 0" "exit $rc"
	fi
	reports=$(find "$TMP/${s%.sh}" -type f -name 'report*' | sort)
	if [ -z "$reports" ]; then
		hm_ok "san: $s: no sanitizer reports"
	else
		# shellcheck disable=SC2086 # a list of files
		hm_not_ok "san: $s: no sanitizer reports" "$(head -n 30 $reports)"
	fi
done

hm_done
