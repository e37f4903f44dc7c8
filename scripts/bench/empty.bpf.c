/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * empty.bpf.c - the floor of the benchmark's BPF cost figures.
 *
 * A TC classifier that does nothing and lets every packet through
 * (TC_ACT_UNSPEC, httpmon's own verdict).  scripts/bench.sh attaches it with
 * plain tc where httpmon goes, ingress and egress, and measures its ns per
 * run with kernel.bpf_stats_enabled=1 exactly as it measures httpmon's.  That
 * figure is the cost of a program run as such (the TC hook's call, and the
 * two clock reads of the statistics themselves); httpmon's cost is reported
 * net of it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int hm_bench_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}
