#!/usr/bin/env bash
# test_verifier.sh - every program of build/httpmon.o loads, and the verifier
# processes no more instructions than the budget (well under the kernel's 1M
# limit, so later changes keep headroom).  `make verifier-stats` prints the table.
set -u
ROOT=${HM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${HM_BUILD:-$ROOT/build}
BUDGET=${HM_VERIFIER_BUDGET:-400000}

out=$("$BUILD/verifier_stats" --budget "$BUDGET" "$BUILD/httpmon.o" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
fail=0
for prog in hm_tc_ingress hm_tc_egress hm_xdp_ingress; do
	line=$(echo "$out" | awk -v p="$prog" '$1 == p')
	insns=$(echo "$line" | awk '{print $3}')
	stack=$(echo "$line" | awk '{print $5}')
	if [ -n "$line" ] && [ "$(echo "$line" | awk '{print $NF}')" = ok ] &&
		[[ $stack =~ ^[1-9][0-9]*/[0-9]+$ ]]; then
		echo "ok - $prog verifies in $insns instructions (budget $BUDGET), stack ${stack%/*} bytes in its deepest frame"
	else
		echo "not ok - $prog verifies within $BUDGET instructions: ${line:-missing}"
		fail=1
	fi
done
[ "$rc" -eq 0 ] || fail=1
exit $fail
