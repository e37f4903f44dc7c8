// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drop.bpf.c - real packet loss for tests/e2e/test_loss.sh (netem without
 * kernel modules).
 *
 * A tc classifier that drops a configurable share of the TCP segments that
 * carry payload (SYN, FIN and bare ACKs always pass, so connections open and
 * close without timeouts) and counts what it saw and dropped, so a test can
 * assert that loss really happened.  Attached after httpmon's filter (a
 * later tc priority on the same hook, or on the far side of the link), it
 * makes the senders' own TCP retransmit what the monitor has already seen.
 *
 * Configuration: hm_drop_cfg, an array of one struct drop_cfg, written with
 * bpftool map update (all zero: drop nothing).  A segment to a port in
 * [port_lo, port_hi] (a request) is dropped with probability
 * permille_to / 1000, one from such a port (a response) with permille_from /
 * 1000; port_hi 0 means every port, each segment then counting as "to".
 * Counters: hm_drop_stats, an array indexed by enum drop_counter.  A GSO or
 * GRO super-packet is one skb but gso_segs segments; both are counted.
 *
 * Load it once with bpftool (prog load ... pinmaps DIR) and attach the
 * pinned program with `tc filter add ... bpf da object-pinned PATH` on any
 * number of hooks: they share one configuration and one set of counters.
 * Every segment it does not drop gets TC_ACT_UNSPEC, so later filters run.
 * Built by the Makefile (build/drop.bpf.o), for the tests only.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct drop_cfg {
	__u32 permille_to;   /* requests: segments to a port in range */
	__u32 permille_from; /* responses: segments from a port in range */
	__u32 port_lo;
	__u32 port_hi;       /* 0: every port */
};

enum drop_counter {
	DROP_SEEN_TO,        /* payload skbs to a port in range */
	DROP_SEEN_FROM,      /* payload skbs from a port in range */
	DROP_PKTS_TO,        /* skbs dropped, request direction */
	DROP_PKTS_FROM,      /* skbs dropped, response direction */
	DROP_SEGS_TO,        /* segments dropped (gso_segs), request direction */
	DROP_SEGS_FROM,      /* segments dropped (gso_segs), response direction */
	DROP_BYTES_TO,       /* TCP payload bytes dropped, request direction */
	DROP_BYTES_FROM,     /* TCP payload bytes dropped, response direction */
	DROP_COUNTERS,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_cfg);
} hm_drop_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DROP_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} hm_drop_stats SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&hm_drop_stats, &which);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("tc")
int hm_test_drop(struct __sk_buff *skb)
{
	__u32 zero = 0, l4, l4_len, payload, permille, segs;
	struct drop_cfg *cfg;
	struct tcphdr tcp;
	__u16 sport, dport;
	bool to;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP || ip.ihl < 5 ||
		    (ip.frag_off & bpf_htons(0x3fff)))
			return TC_ACT_UNSPEC;
		l4 = ETH_HLEN + ip.ihl * 4;
		l4_len = bpf_ntohs(ip.tot_len);
		if (l4_len < ip.ihl * 4)
			return TC_ACT_UNSPEC;
		l4_len -= ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		/* Lab traffic has no extension headers. */
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return TC_ACT_UNSPEC;
		l4 = ETH_HLEN + sizeof(ip6);
		l4_len = bpf_ntohs(ip6.payload_len);
	} else {
		return TC_ACT_UNSPEC;
	}
	if (bpf_skb_load_bytes(skb, l4, &tcp, sizeof(tcp)) || tcp.doff < 5 ||
	    l4_len <= tcp.doff * 4u)
		return TC_ACT_UNSPEC; /* no payload: SYN, FIN, bare ACK */
	payload = l4_len - tcp.doff * 4;

	cfg = bpf_map_lookup_elem(&hm_drop_cfg, &zero);
	if (!cfg)
		return TC_ACT_UNSPEC;
	sport = bpf_ntohs(tcp.source);
	dport = bpf_ntohs(tcp.dest);
	if (!cfg->port_hi) {
		to = true;
	} else if (dport >= cfg->port_lo && dport <= cfg->port_hi) {
		to = true;
	} else if (sport >= cfg->port_lo && sport <= cfg->port_hi) {
		to = false;
	} else {
		return TC_ACT_UNSPEC;
	}
	count(to ? DROP_SEEN_TO : DROP_SEEN_FROM, 1);
	permille = to ? cfg->permille_to : cfg->permille_from;
	if (!permille || bpf_get_prandom_u32() % 1000 >= permille)
		return TC_ACT_UNSPEC;

	segs = skb->gso_segs ? skb->gso_segs : 1;
	count(to ? DROP_PKTS_TO : DROP_PKTS_FROM, 1);
	count(to ? DROP_SEGS_TO : DROP_SEGS_FROM, segs);
	count(to ? DROP_BYTES_TO : DROP_BYTES_FROM, payload);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
