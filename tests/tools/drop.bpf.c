// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drop.bpf.c - real packet loss for tests/e2e/test_loss.sh and
 * test_loss_upstream.sh (netem without kernel modules).
 *
 * A tc classifier that drops a configurable share of the TCP segments that
 * carry payload (SYN, FIN and bare ACKs always pass, so connections open and
 * close without timeouts) and counts what it saw and dropped, so a test can
 * assert that loss really happened.  Attached after httpmon's filter (a
 * later tc priority on the same hook, or on the far side of the link), it
 * makes the senders' own TCP retransmit what the monitor has already seen;
 * attached before it (see Mode below), the monitor sees a sequence gap and
 * later the retransmission that fills it.
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
 *
 * Mode: hm_drop_mode, one __u32 of DROP_MODE_* flags (0 by default: the
 * behaviour above).  tests/e2e/test_loss_upstream.sh drops on an egress
 * hook of the sending host itself, before the monitor, and needs both:
 *   - DROP_MODE_WIRE: a dropped segment is TC_ACT_STOLEN, not TC_ACT_SHOT.
 *     On egress TC_ACT_SHOT reaches the sender's TCP as NET_XMIT_DROP, so
 *     it never counts the segment as sent and sends the same bytes again
 *     at once: no sequence gap anywhere.  TC_ACT_STOLEN reports success,
 *     like a loss on the wire: TCP sends the segments after it, and the
 *     missing bytes come later as a retransmission.  (On ingress the two
 *     are the same to the sender.)
 *   - DROP_MODE_ONE_HOLE: at most one loss outstanding per flow direction.
 *     After a drop, nothing more of that flow direction is dropped until
 *     segments that pass have covered the dropped bytes again (the
 *     retransmission); hm_drop_holes keeps the hole.  Within that, a
 *     monitor sees one gap at a time per direction, each filled before the
 *     next opens (httpmon remembers one gap per direction).  Segments
 *     spared because a hole was open are counted (DROP_HELD).
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
	__u32 permille_to; /* requests: segments to a port in range */
	__u32 permille_from; /* responses: segments from a port in range */
	__u32 port_lo;
	__u32 port_hi; /* 0: every port */
};

enum drop_counter {
	DROP_SEEN_TO, /* payload skbs to a port in range */
	DROP_SEEN_FROM, /* payload skbs from a port in range */
	DROP_PKTS_TO, /* skbs dropped, request direction */
	DROP_PKTS_FROM, /* skbs dropped, response direction */
	DROP_SEGS_TO, /* segments dropped (gso_segs), request direction */
	DROP_SEGS_FROM, /* segments dropped (gso_segs), response direction */
	DROP_BYTES_TO, /* TCP payload bytes dropped, request direction */
	DROP_BYTES_FROM, /* TCP payload bytes dropped, response direction */
	DROP_HELD, /* payload skbs not considered: their flow had a hole open */
	DROP_HOLES_FILLED, /* holes whose bytes passed again (DROP_MODE_ONE_HOLE) */
	DROP_COUNTERS,
};

#define DROP_MODE_WIRE 1U /* drop with TC_ACT_STOLEN: the sender thinks it sent it */
#define DROP_MODE_ONE_HOLE 2U /* one loss outstanding per flow direction */

/* A flow direction: addresses (IPv4 in the first 4 bytes) and ports. */
struct drop_flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
};

/* The bytes [start, end) were dropped; those up to fill have passed again. */
struct drop_hole {
	__u32 start;
	__u32 end;
	__u32 fill;
	__u32 open;
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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} hm_drop_mode SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct drop_flow);
	__type(value, struct drop_hole);
} hm_drop_holes SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&hm_drop_stats, &which);

	if (v)
		__sync_fetch_and_add(v, n);
}

/*
 * DROP_MODE_ONE_HOLE: true when the flow direction has a hole open, after
 * counting this segment's bytes into it; the hole closes once they reach its
 * end.  Sequence numbers compare as TCP's do (serial arithmetic).
 */
static __always_inline bool hole_open(struct drop_flow *flow, __u32 seq, __u32 len)
{
	struct drop_hole *h = bpf_map_lookup_elem(&hm_drop_holes, flow);

	if (!h || !h->open)
		return false;
	if ((__s32)(seq - h->fill) <= 0 && (__s32)(seq + len - h->fill) > 0)
		h->fill = seq + len;
	if ((__s32)(h->fill - h->end) >= 0) {
		h->open = 0;
		count(DROP_HOLES_FILLED, 1);
	}
	return true; /* the segment that fills it passes too */
}

SEC("tc")
int hm_test_drop(struct __sk_buff *skb)
{
	__u32 zero = 0, l4, l4_len, payload, permille, segs, mode = 0, *m, seq;
	struct drop_flow flow = {};
	struct drop_cfg *cfg;
	struct tcphdr tcp;
	__u16 sport, dport;
	bool to;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP || ip.ihl < 5 || (ip.frag_off & bpf_htons(0x3fff)))
			return TC_ACT_UNSPEC;
		l4 = ETH_HLEN + ip.ihl * 4;
		l4_len = bpf_ntohs(ip.tot_len);
		if (l4_len < ip.ihl * 4)
			return TC_ACT_UNSPEC;
		l4_len -= ip.ihl * 4;
		__builtin_memcpy(flow.saddr, &ip.saddr, 4);
		__builtin_memcpy(flow.daddr, &ip.daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		/* Lab traffic has no extension headers. */
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return TC_ACT_UNSPEC;
		l4 = ETH_HLEN + sizeof(ip6);
		l4_len = bpf_ntohs(ip6.payload_len);
		__builtin_memcpy(flow.saddr, &ip6.saddr, 16);
		__builtin_memcpy(flow.daddr, &ip6.daddr, 16);
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
	m = bpf_map_lookup_elem(&hm_drop_mode, &zero);
	if (m)
		mode = *m;
	seq = bpf_ntohl(tcp.seq);
	flow.sport = sport;
	flow.dport = dport;
	if ((mode & DROP_MODE_ONE_HOLE) && hole_open(&flow, seq, payload)) {
		count(DROP_HELD, 1);
		return TC_ACT_UNSPEC;
	}
	permille = to ? cfg->permille_to : cfg->permille_from;
	if (!permille || bpf_get_prandom_u32() % 1000 >= permille)
		return TC_ACT_UNSPEC;

	if (mode & DROP_MODE_ONE_HOLE) {
		struct drop_hole h = { .start = seq, .end = seq + payload, .fill = seq, .open = 1 };

		bpf_map_update_elem(&hm_drop_holes, &flow, &h, BPF_ANY);
	}
	segs = skb->gso_segs ? skb->gso_segs : 1;
	count(to ? DROP_PKTS_TO : DROP_PKTS_FROM, 1);
	count(to ? DROP_SEGS_TO : DROP_SEGS_FROM, segs);
	count(to ? DROP_BYTES_TO : DROP_BYTES_FROM, payload);
	return (mode & DROP_MODE_WIRE) ? TC_ACT_STOLEN : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
