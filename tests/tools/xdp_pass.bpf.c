// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_pass.bpf.c - "someone else's" XDP program for tests/e2e/test_xdp.sh.
 *
 * The test loads it with xdp-loader next to httpmon's XDP program: it passes
 * every packet and counts them in a global, which the test reads through
 * bpftool to see that it keeps running while hm-load attaches and detaches.
 * Built by the test itself: clang -g -O2 -target bpf (BTF for libxdp).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 hm_test_packets;

SEC("xdp")
int hm_test_pass(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&hm_test_packets, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
