/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * empty_xdp.bpf.c - an XDP program that does nothing (XDP_PASS).
 *
 * scripts/bench.sh loads it with xdp-loader, through libxdp's dispatcher as
 * hm-load --xdp is, for two figures: the floor of an XDP program run
 * (bpf_stats, like the empty TC program), and what XDP on a veth costs by
 * itself, whatever the program does (variant large, on the veth that
 * receives the downloads).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int hm_bench_empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}
