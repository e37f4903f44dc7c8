#!/usr/bin/env bash
# test_fuzz.sh - a short, bounded libFuzzer run of the datapath compiled as
# userspace C (make fuzz runs longer).  Any crash, sanitizer report or broken
# invariant fails the test; the seed corpus in tests/fuzz/corpus always runs.
set -u
ROOT=${HM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SECONDS_TO_FUZZ=${HM_FUZZ_SECONDS:-20}
TMP=$(mktemp -d /tmp/hmtest-fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cd "$ROOT" || exit 1
if ! out=$(make --no-print-directory build/fuzz_datapath 2>&1); then
	echo "not ok - the fuzz harness builds (clang -fsanitize=fuzzer)"
	echo "$out" | sed 's/^/#   /'
	exit 1
fi
echo "ok - the fuzz harness builds"
if build/fuzz_datapath -max_total_time="$SECONDS_TO_FUZZ" -max_len=4096 -artifact_prefix="$TMP/" \
	"$TMP" tests/fuzz/corpus >"$TMP/log" 2>&1; then
	echo "ok - ${SECONDS_TO_FUZZ}s of fuzzing: no crash, no sanitizer report, invariants hold"
	echo "# $(grep -E '^Done [0-9]+ runs' "$TMP/log")"
else
	echo "not ok - ${SECONDS_TO_FUZZ}s of fuzzing"
	grep -E 'ERROR|runtime error|Assertion|SUMMARY|Test unit written' "$TMP/log" | head -20 | sed 's/^/#   /'
	exit 1
fi
