#!/usr/bin/env bash
# test_testrun.sh - the test_run microbenchmark's command line and errors
# (scripts/bench/testrun.c).
#
# testrun is built with the Makefile's own rules into a temp dir, as
# scripts/bench.sh builds it.  Bad input gets one line on stderr and exit
# status 2 (usage) or 1 (an object it cannot use, a program that does not
# return TC_ACT_UNSPEC: a program built here that drops every packet); --help
# names every option it accepts.  A short run must measure all three
# programs.  Its timings are not asserted (tests/e2e/test_bench_smoke.sh runs
# it inside the benchmark).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
hm_require_cmds make gcc clang jq
hm_require_build httpmon.o

TMP=$(mktemp -d /tmp/hmtest-testrun.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

if make -C "$HM_ROOT" --no-print-directory BUILD="$TMP" "$TMP/testrun" "$TMP/bench_floor.o" \
	"$TMP/bench_empty.o" >"$TMP/make.log" 2>&1; then
	hm_ok "make builds testrun, the floor and the empty program"
else
	hm_not_ok "make builds testrun, the floor and the empty program" "$(tail -20 "$TMP/make.log")"
	hm_done
fi
TR=$TMP/testrun
OBJS=("$HM_BUILD/httpmon.o" "$TMP/bench_floor.o" "$TMP/bench_empty.o")

# expect NAME STATUS PATTERN CMD...: CMD exits STATUS with one line on
# stderr matching PATTERN (extended regular expression) and nothing on stdout.
expect() {
	local name=$1 status=$2 pattern=$3
	shift 3
	hm_run "$@"
	if [ "$rc" -eq "$status" ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		grep -qE "$pattern" <<<"$err"; then
		hm_ok "$name"
		hm_note "  $err"
	else
		hm_not_ok "$name" "exit $rc (want $status)" "stderr: $err" "stdout: $out"
	fi
}

expect "--runs below the batch count: usage error" 2 "^testrun: --runs takes a number from 50 " \
	"$TR" --runs 10 "${OBJS[@]}"
expect "--runs not a number: usage error" 2 "^testrun: --runs takes a number .*'12x'" \
	"$TR" --runs 12x "${OBJS[@]}"
expect "--runs without a value: usage error" 2 "^testrun: option '--runs' needs a value" \
	"$TR" --runs
expect "--cpu not a number: usage error" 2 "^testrun: --cpu takes a CPU number" \
	"$TR" --cpu -1 "${OBJS[@]}"
expect "an unknown option: usage error" 2 "^testrun: unknown option '--fast'" \
	"$TR" --fast "${OBJS[@]}"
expect "two objects instead of three: usage error" 2 "^testrun: needs three objects" \
	"$TR" "${OBJS[@]:0:2}"
expect "a missing object: exit 1, named" 1 "^testrun: cannot open $TMP/absent.o: " \
	"$TR" --runs 100 "$TMP/absent.o" "${OBJS[@]:1}"
expect "the empty program given as httpmon: exit 1, the program named" 1 \
	"^testrun: .*bench_empty.o has no program hm_tc_ingress" \
	"$TR" --runs 100 "$TMP/bench_empty.o" "${OBJS[@]:1}"
expect "a CPU it may not run on: exit 1" 1 "^testrun: cannot run on CPU 1000: " \
	"$TR" --cpu 1000 --runs 100 "${OBJS[@]}"

# A program that drops what it sees is no monitor: its verdict is refused.
cat >"$TMP/shot.bpf.c" <<'EOF'
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "Dual BSD/GPL";
SEC("tc")
int hm_bench_empty(struct __sk_buff *skb)
{
	return TC_ACT_SHOT;
}
EOF
if clang -O2 -target bpf -I "/usr/include/$(gcc -print-multiarch)" -c "$TMP/shot.bpf.c" \
	-o "$TMP/shot.o" 2>"$TMP/clang.err"; then
	expect "a program returning TC_ACT_SHOT: exit 1, the verdict named" 1 \
		"^testrun: empty .*shot.o. returned 2, not TC_ACT_UNSPEC" \
		"$TR" --runs 100 "${OBJS[@]:0:2}" "$TMP/shot.o"
else
	hm_not_ok "build the dropping program" "$(cat "$TMP/clang.err")"
fi

hm_run "$TR" --help
absent=
for o in --runs --cpu --json --verbose --help; do
	grep -q -- "$o" <<<"$out" || absent="$absent $o"
done
if [ "$rc" -eq 0 ] && [ -z "$absent" ] && grep -q '^Exit status:' <<<"$out" &&
	[ -z "$(awk 'length($0) > 80' <<<"$out")" ]; then
	hm_ok "--help: exit 0, every option, the exit status, 80 columns"
else
	hm_not_ok "--help: exit 0, every option, the exit status, 80 columns" "exit $rc" \
		"missing:$absent"
fi

hm_run "$TR" --runs 500 --json "${OBJS[@]}"
if [ "$rc" -eq 0 ] && jq -e '(.runs == 500) and (.batches == 50) and
	all(.httpmon, .floor, .empty; (.request_ns > 0) and (.response_ns > 0)) and
	(.ratio_net | has("request") and has("response"))' <<<"$out" >/dev/null 2>&1; then
	hm_ok "--runs 500 --json: 500 exchanges, all three programs measured"
else
	hm_not_ok "--runs 500 --json: 500 exchanges, all three programs measured" "exit $rc" \
		"stdout: $out" "stderr: $err"
fi
hm_done
