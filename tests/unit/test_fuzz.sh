#!/usr/bin/env bash
# test_fuzz.sh - short, bounded libFuzzer runs of the datapath compiled as
# userspace C (make fuzz runs longer): the packet entry (fuzz_datapath) and
# the socket source's user-buffer entry (fuzz_sock).  Any crash, sanitizer
# report or broken invariant fails the test; the seed corpora in
# tests/fuzz/corpus and tests/fuzz/corpus-sock always run.
set -u
ROOT=${HM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SECONDS_TO_FUZZ=${HM_FUZZ_SECONDS:-15}
TMP=$(mktemp -d /tmp/hmtest-fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cd "$ROOT" || exit 1
failed=0
# fuzz NAME CORPUS: one harness for SECONDS_TO_FUZZ seconds.
fuzz() {
	local name=$1 corpus=$2 out
	if ! out=$(make --no-print-directory "build/$name" 2>&1); then
		echo "not ok - the $name harness builds (clang -fsanitize=fuzzer)"
		echo "$out" | sed 's/^/#   /'
		failed=1
		return
	fi
	echo "ok - the $name harness builds"
	mkdir -p "$TMP/$name"
	if "build/$name" -max_total_time="$SECONDS_TO_FUZZ" -max_len=4096 \
		-artifact_prefix="$TMP/$name-" "$TMP/$name" "$corpus" >"$TMP/$name.log" 2>&1; then
		echo "ok - $name: ${SECONDS_TO_FUZZ}s of fuzzing: no crash, no sanitizer report, invariants hold"
		echo "# $(grep -E '^Done [0-9]+ runs' "$TMP/$name.log")"
	else
		echo "not ok - $name: ${SECONDS_TO_FUZZ}s of fuzzing"
		grep -E 'ERROR|runtime error|Assertion|SUMMARY|Test unit written' "$TMP/$name.log" |
			head -20 | sed 's/^/#   /'
		failed=1
	fi
}
fuzz fuzz_datapath tests/fuzz/corpus
fuzz fuzz_sock tests/fuzz/corpus-sock
exit $failed
