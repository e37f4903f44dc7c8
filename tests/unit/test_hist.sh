#!/usr/bin/env bash
# test_hist.sh - runs build/test_hist, the unit tests of the latency
# histogram layout and of hm-stat's percentile and export math
# (tests/unit/test_hist.c, user/hm_hist.c).  No root, no BPF.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_build test_hist
"$HM_BUILD/test_hist"
