#!/usr/bin/env bash
# test_verifier.sh - every program of build/httpmon.o and of the socket
# source's build/httpmon_sock.o loads, and the verifier
# processes no more instructions than the budget (well under the kernel's 1M
# limit, so later changes keep headroom).  `make verifier-stats` prints the table.
set -u
ROOT=${HM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${HM_BUILD:-$ROOT/build}
BUDGET=${HM_VERIFIER_BUDGET:-400000}

fail=0
# check OBJECT PROGRAM...: the object's programs verify within the budget.
check() {
	local obj=$1 out rc line insns stack prog
	shift
	out=$("$BUILD/verifier_stats" --budget "$BUDGET" "$BUILD/$obj" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	for prog in "$@"; do
		line=$(echo "$out" | awk -v p="$prog" '$1 == p')
		insns=$(echo "$line" | awk '{print $3}')
		stack=$(echo "$line" | awk '{print $5}')
		if [ -n "$line" ] && [ "$(echo "$line" | awk '{print $NF}')" = ok ] &&
			[[ $stack =~ ^[0-9]+/[0-9]+$ ]]; then
			echo "ok - $obj: $prog verifies in $insns instructions (budget $BUDGET), stack ${stack%/*} bytes in its deepest frame"
		else
			echo "not ok - $obj: $prog verifies within $BUDGET instructions: ${line:-missing}"
			fail=1
		fi
	done
	[ "$rc" -eq 0 ] || fail=1
}
check httpmon.o hm_tc_ingress hm_tc_egress hm_xdp_ingress
check httpmon_sock.o hm_recv hm_send hm_state hm_destroy
exit $fail
