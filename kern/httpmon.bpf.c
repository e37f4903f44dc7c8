// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpmon.bpf.c - TC classifier that measures HTTP/1.x traffic in the kernel.
 *
 * Attach the same object on clsact ingress and egress (sections tc/ingress and
 * tc/egress).  Every segment is parsed the same way whichever hook sees it:
 * the side that sends a request line is the client, so the program works on a
 * server's interface, a client's, or a bridge.  It never changes a verdict:
 * every path returns TC_ACT_UNSPEC, which lets later filters classify as if
 * httpmon were not there.
 *
 * Data path per segment:
 *   L2/L3/L4 headers (bpf_skb_load_bytes: headers of veth and GSO skbs are not
 *   always in the linear area) -> port filter (hm_config) -> connection state
 *   (hm_conns, created only by a segment that starts an HTTP message) ->
 *   sequence check (retransmitted bytes skipped) -> HTTP framing walk
 *   (hm_http.h) -> one update per aggregate row (per-CPU maps: no atomics) ->
 *   FIN/RST bookkeeping.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <stdbool.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "httpmon.h"
#include "hm_state.h"

#define EEXIST 17

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hm_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HM_MAX_CONNS);
	__type(key, struct hm_conn_key);
	__type(value, struct hm_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HM_MAX_CLIENTS);
	__type(key, struct hm_client_key);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HM_MAX_PORTS);
	__type(key, struct hm_port_key);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HM_MAX_PORT_CLIENTS);
	__type(key, struct hm_port_client_key);
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_port_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_OVF_ROWS);
	__type(key, __u32); /* enum hm_overflow_row (array keys must be plain u32 in BTF) */
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_overflow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_MON_MAX);
	__type(key, __u32); /* enum hm_monitor_counter */
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_monitor SEC(".maps");

/* Latency histograms: totals and per-port overflow (enum hm_hist_row), and per port. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_HIST_ROWS * HM_LAT_FAMILIES);
	__type(key, __u32);
	__type(value, struct hm_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HM_MAX_HIST_PORTS);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* 3 KiB per CPU per entry: only for ports in use */
	__type(key, struct hm_hist_port_key);
	__type(value, struct hm_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_hist_ports SEC(".maps");

/* Routes: label -> id, id -> stats, operator patterns, per-route histograms. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_ROUTES);
	__type(key, struct hm_route_key);
	__type(value, struct hm_route_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_route_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HM_MAX_ROUTES);
	__type(key, __u32); /* route id */
	__type(value, struct hm_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32); /* route ids handed out */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_route_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HM_MAX_PATTERNS);
	__type(key, __u32);
	__type(value, struct hm_route_pattern);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_route_pats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HM_MAX_HIST_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hm_hist_route_key);
	__type(value, struct hm_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_hist_routes SEC(".maps");

/*
 * Loader bookkeeping, keyed by ifindex: which interfaces hm-load attached to
 * and whether it created their clsact qdisc.  The program never touches it;
 * it is declared here so that it is pinned with the rest of the set.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HM_MAX_LINKS);
	__type(key, __u32);
	__type(value, struct hm_link);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hm_links SEC(".maps");

static __always_inline void hm_count(enum hm_monitor_counter idx, __u64 n);

#include "hm_http.h"

/* Per-CPU working memory of one program run; never pinned, never read outside. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hm_scratch);
} hm_scratch SEC(".maps");

static __always_inline void hm_count(enum hm_monitor_counter idx, __u64 n)
{
	__u32 key = idx;
	__u64 *v = bpf_map_lookup_elem(&hm_monitor, &key);

	if (v)
		*v += n;
}

/*
 * A global (not static) function is verified once on its own, with ns
 * unknown.  Inlined, the branches of the bucket computation would multiply
 * the verifier's states at every call site inside the bpf_loop callback.
 */
__noinline int hm_hist_add(struct hm_hist *h, __u64 ns)
{
	__u32 b = hm_hist_bucket(ns);

	if (!h)
		return 0;
	h->count++;
	h->sum_ns += ns;
	if (b < HM_HIST_BUCKETS)
		h->buckets[b]++;
	return 0;
}

/* Finds or creates the histogram of key in map; when the map is full, the overflow row. */
static __always_inline struct hm_hist *hm_hist_of(void *map, const void *key, struct hm_scratch *s,
						  __u32 ovf_row, __u32 family,
						  enum hm_monitor_counter full)
{
	struct hm_hist *h = bpf_map_lookup_elem(map, key);
	__u32 row;

	if (!h) {
		bpf_map_update_elem(map, key, &s->zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(map, key);
	}
	if (!h) {
		hm_count(full, 1);
		row = ovf_row * HM_LAT_FAMILIES + family;
		h = bpf_map_lookup_elem(&hm_hist, &row);
	}
	return h;
}

/* One latency sample of the response being parsed: total, its port's and its route's histograms. */
static __always_inline void hm_sample(struct hm_walk *w, __u32 family, __u64 ns, __u32 route)
{
	struct hm_hist_route_key rk = { .route = route, .family = family };
	struct hm_hist_port_key pk = { .family = family };
	__u32 row = HM_HIST_ROW_TOTAL * HM_LAT_FAMILIES + family;

	hm_hist_add(bpf_map_lookup_elem(&hm_hist, &row), ns);
	pk.port = w->s->port[w->s->side & 1]; /* the response's sender is the server */
	hm_hist_add(hm_hist_of(&hm_hist_ports, &pk, w->s, HM_HIST_ROW_PORTS_OVF, family,
			       HM_MON_HIST_PORTS_FULL), ns);
	hm_hist_add(hm_hist_of(&hm_hist_routes, &rk, w->s, HM_HIST_ROW_ROUTES_OVF, family,
			       HM_MON_HIST_ROUTES_FULL), ns);
}

static __always_inline struct hm_stats *hm_route_row(__u32 id)
{
	return bpf_map_lookup_elem(&hm_routes, &id);
}

/*
 * The id of the route whose key is in s->rkey.  A new label takes the next
 * id (an atomic add on hm_route_seq, only on first sight of a label);
 * past the bound, or when the id map is full, it is counted as _other.
 */
static __always_inline __u32 hm_route_find(struct hm_walk *w)
{
	struct hm_route_key *key = &w->s->rkey;
	struct hm_route_val *v = bpf_map_lookup_elem(&hm_route_ids, key);
	struct hm_route_val nv;
	__u32 zero = 0, max, *seq;
	long err;

	if (v)
		return v->id;
	seq = bpf_map_lookup_elem(&hm_route_seq, &zero);
	if (!seq)
		return HM_ROUTE_OTHER;
	max = w->cfg->max_routes;
	if (!max || max > HM_MAX_ROUTES)
		max = HM_MAX_ROUTES;
	if (*seq + HM_ROUTE_FIRST >= max)
		goto full;
	nv.id = __sync_fetch_and_add(seq, 1) + HM_ROUTE_FIRST;
	if (nv.id >= max)
		goto full;
	err = bpf_map_update_elem(&hm_route_ids, key, &nv, BPF_NOEXIST);
	if (!err)
		return nv.id;
	if (err == -EEXIST) { /* another CPU named it first; our id stays unused */
		v = bpf_map_lookup_elem(&hm_route_ids, key);
		if (v)
			return v->id;
	}
full:
	hm_count(HM_MON_ROUTES_FULL, 1);
	return HM_ROUTE_OTHER;
}

/*
 * Operator patterns, segment by segment: the path segment that just ended
 * (number rb->segs, hash rb->seg_hash) removes the patterns it does not
 * match from rb->pat_cand.  A global function: verified once, on its own.
 */
__noinline int hm_patterns_step(struct hm_route_build *rb, __u32 npatterns)
{
	__u32 idx;

	if (!rb || !rb->segs)
		return 0;
	idx = rb->segs - 1;
	for (__u32 i = 0; i < HM_MAX_PATTERNS && i < npatterns; i++) {
		struct hm_route_pattern *p;
		__u32 key = i, j = idx;

		if (!(rb->pat_cand & (1U << i)))
			continue;
		p = bpf_map_lookup_elem(&hm_route_pats, &key);
		if (!p || (idx >= p->nsegs && !p->prefix)) {
			rb->pat_cand &= ~(1U << i);
			continue;
		}
		if (idx >= p->nsegs || idx >= HM_PATTERN_SEGS || (p->wild & (1U << idx)))
			continue;
		/* Hide j's range from clang so the mask stays for the verifier. */
		asm volatile("" : "+r"(j));
		if (p->seg_hash[j & (HM_PATTERN_SEGS - 1)] != rb->seg_hash)
			rb->pat_cand &= ~(1U << i);
	}
	return 0;
}

/* The first pattern that matched the whole target: its label goes to key.  1 if any. */
__noinline int hm_patterns_match(struct hm_route_build *rb, struct hm_route_key *key)
{
	if (!rb || !key)
		return 0;
	for (__u32 i = 0; i < HM_MAX_PATTERNS; i++) {
		struct hm_route_pattern *p;
		__u32 k = i;

		if (!(rb->pat_cand & (1U << i)))
			continue;
		p = bpf_map_lookup_elem(&hm_route_pats, &k);
		if (!p || (p->method && p->method != rb->method))
			continue;
		if (p->prefix ? rb->segs >= p->nsegs : rb->segs == p->nsegs) {
			__builtin_memcpy(key->label, p->label, HM_ROUTE_LEN);
			return 1;
		}
	}
	return 0;
}

/* The segment being looked at, after the L2-L4 walk. */
struct hm_pkt {
	struct hm_addr src, dst;
	__u16 sport, dport;
	__u32 seq;
	__u32 payload_off; /* packet offset of the TCP payload */
	__u32 payload_end; /* from the IP length: Ethernet padding excluded */
	__u8 fin, rst;
};

#define HM_VLAN_MAX 2     /* 802.1Q / 802.1ad tags followed in the packet */
#define HM_IPV6_EXT_MAX 8 /* IPv6 extension headers followed */

#define IPV6_NH_HOP 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_AH 51
#define IPV6_NH_NONE 59
#define IPV6_NH_DSTOPTS 60

static __always_inline int hm_parse_ipv6(struct __sk_buff *skb, __u32 *off,
					 struct hm_pkt *p, __u32 *ip_end)
{
	struct ipv6hdr ip6;
	__u8 nh;

	if (bpf_skb_load_bytes(skb, *off, &ip6, sizeof(ip6)) < 0)
		return -1;
	if (ip6.version != 6)
		return -1;
	__builtin_memcpy(p->src.a, &ip6.saddr, 16);
	__builtin_memcpy(p->dst.a, &ip6.daddr, 16);
	/* payload_len 0 is a jumbogram (BIG TCP): the skb length is the truth. */
	*ip_end = ip6.payload_len ? *off + sizeof(ip6) + bpf_ntohs(ip6.payload_len)
				  : skb->len;
	*off += sizeof(ip6);
	nh = ip6.nexthdr;

#pragma unroll
	for (int i = 0; i < HM_IPV6_EXT_MAX; i++) {
		__u8 ext[8];

		if (nh == IPPROTO_TCP)
			return 0;
		if (nh != IPV6_NH_HOP && nh != IPV6_NH_ROUTING && nh != IPV6_NH_DSTOPTS &&
		    nh != IPV6_NH_FRAGMENT && nh != IPV6_NH_AH)
			return -1;
		if (bpf_skb_load_bytes(skb, *off, ext, sizeof(ext)) < 0)
			return -1;
		if (nh == IPV6_NH_FRAGMENT) {
			/* Offset is the top 13 bits of bytes 2-3: only the first fragment has TCP. */
			if ((ext[2] << 8 | ext[3]) & 0xfff8) {
				hm_count(HM_MON_IP_FRAGMENTS, 1);
				return -1;
			}
			*off += 8;
		} else if (nh == IPV6_NH_AH) {
			*off += (ext[1] + 2) * 4;
		} else {
			*off += (ext[1] + 1) * 8;
		}
		nh = ext[0];
	}
	if (nh == IPPROTO_TCP)
		return 0;
	hm_count(HM_MON_IPV6_EXT_LIMIT, 1);
	return -1;
}

static __always_inline int hm_parse_ipv4(struct __sk_buff *skb, __u32 *off,
					 struct hm_pkt *p, __u32 *ip_end)
{
	struct iphdr ip;
	__u32 tot;

	if (bpf_skb_load_bytes(skb, *off, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_TCP)
		return -1;
	if (bpf_ntohs(ip.frag_off) & 0x1fff) {
		hm_count(HM_MON_IP_FRAGMENTS, 1);
		return -1;
	}
	/* ::ffff:a.b.c.d, so IPv4 and IPv6 share one key type. */
	__builtin_memset(p->src.a, 0, 10);
	__builtin_memset(p->dst.a, 0, 10);
	p->src.a[10] = p->src.a[11] = 0xff;
	p->dst.a[10] = p->dst.a[11] = 0xff;
	__builtin_memcpy(&p->src.a[12], &ip.saddr, 4);
	__builtin_memcpy(&p->dst.a[12], &ip.daddr, 4);
	/* tot_len 0 happens on GSO packets above 64 KiB (BIG TCP). */
	tot = bpf_ntohs(ip.tot_len);
	*ip_end = tot ? *off + tot : skb->len;
	*off += ip.ihl * 4;
	return 0;
}

/*
 * Ethernet -> [VLAN tags] -> IPv4/IPv6 -> TCP.  0 when p describes a TCP
 * segment.  Global functions like this one are verified once, on their own:
 * the many paths through the headers do not multiply the states of the
 * caller.
 */
__noinline int hm_parse_pkt(struct __sk_buff *skb, struct hm_pkt *p)
{
	struct tcphdr tcp;
	__u32 off = ETH_HLEN, ip_end;
	__be16 proto;
	int err;

	if (!p)
		return -1;
	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto,
			       sizeof(proto)) < 0)
		return -1;
	/* A tag the driver stripped sits in skb->vlan_tci; these are the ones left in the packet. */
#pragma unroll
	for (int i = 0; i < HM_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &proto, sizeof(proto)) < 0)
			return -1;
		off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP))
		err = hm_parse_ipv4(skb, &off, p, &ip_end);
	else if (proto == bpf_htons(ETH_P_IPV6))
		err = hm_parse_ipv6(skb, &off, p, &ip_end);
	else
		return -1;
	if (err)
		return -1;

	if (bpf_skb_load_bytes(skb, off, &tcp, sizeof(tcp)) < 0)
		return -1;
	if (tcp.doff < 5)
		return -1;
	if (ip_end > skb->len)
		ip_end = skb->len;
	p->sport = bpf_ntohs(tcp.source);
	p->dport = bpf_ntohs(tcp.dest);
	p->seq = bpf_ntohl(tcp.seq);
	p->fin = tcp.fin;
	p->rst = tcp.rst;
	p->payload_off = off + tcp.doff * 4;
	p->payload_end = ip_end > p->payload_off ? ip_end : p->payload_off;
	return 0;
}

static __always_inline bool hm_port_watched(struct hm_config *cfg, __u16 port)
{
	return cfg->ports[(port >> 6) & (HM_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

/* Orders the endpoints so both directions share a key; returns the sender's side. */
static __always_inline __u32 hm_conn_key_of(const struct hm_pkt *p, struct hm_conn_key *k)
{
	__u64 s0, s1, d0, d1;
	bool src_first;

	__builtin_memcpy(&s0, &p->src.a[0], 8);
	__builtin_memcpy(&s1, &p->src.a[8], 8);
	__builtin_memcpy(&d0, &p->dst.a[0], 8);
	__builtin_memcpy(&d1, &p->dst.a[8], 8);
	/* Any total order works; this one compares raw words. */
	if (s0 != d0)
		src_first = s0 < d0;
	else if (s1 != d1)
		src_first = s1 < d1;
	else
		src_first = p->sport < p->dport;

	if (src_first) {
		k->addr[0] = p->src;
		k->addr[1] = p->dst;
		k->port[0] = p->sport;
		k->port[1] = p->dport;
		return 0;
	}
	k->addr[0] = p->dst;
	k->addr[1] = p->src;
	k->port[0] = p->dport;
	k->port[1] = p->sport;
	return 1;
}

/* Are the n (< HM_START_LEN) bytes at b the beginning of lit? */
static __always_inline bool hm_begins(const __u8 *b, __u32 n, const char *lit, int len)
{
	for (int i = 0; i < len; i++)
		if (i < n && b[i] != (__u8)lit[i])
			return false;
	return true;
}

/*
 * Cheap test on the first payload bytes: does this segment start an HTTP
 * message?  Only such a segment creates connection state, so non-HTTP flows
 * and connections joined mid-body cost one short read and no map entry.  A
 * segment too short to classify counts when it could be the beginning of a
 * start line ("GE" of a request line split by the sender).
 */
static __always_inline bool hm_starts_message(struct __sk_buff *skb, const struct hm_pkt *p)
{
	__u32 status, rflags, method, n = p->payload_end - p->payload_off;
	__u8 b[16] = {};
	__u64 len;

	if (n >= HM_START_LEN) {
		if (bpf_skb_load_bytes(skb, p->payload_off, b, HM_START_LEN) < 0)
			return false;
		return hm_classify(b, &status, &rflags, &method) != HM_MSG_NONE;
	}
	len = n;
	asm volatile("" : "+r"(len)); /* bound-check the register that is passed */
	if (len == 0 || len >= HM_START_LEN ||
	    bpf_skb_load_bytes(skb, p->payload_off, b, len) < 0)
		return false;
	return hm_begins(b, n, "GET ", 4) || hm_begins(b, n, "POST ", 5) ||
	       hm_begins(b, n, "PUT ", 4) || hm_begins(b, n, "PATCH ", 6) ||
	       hm_begins(b, n, "DELETE ", 7) || hm_begins(b, n, "OPTIONS ", 8) ||
	       hm_begins(b, n, "TRACE ", 6) || hm_begins(b, n, "CONNECT ", 8) ||
	       hm_begins(b, n, "HEAD ", 5) || hm_begins(b, n, "HTTP/1.", 7);
}

static __always_inline void hm_latency_merge(struct hm_latency *dst, const struct hm_latency *d)
{
	if (!d->count)
		return;
	if (!dst->count || d->min_ns < dst->min_ns)
		dst->min_ns = d->min_ns;
	if (d->max_ns > dst->max_ns)
		dst->max_ns = d->max_ns;
	dst->count += d->count;
	dst->sum_ns += d->sum_ns;
}

static __always_inline void hm_stats_merge(struct hm_stats *dst, const struct hm_stats *d)
{
	dst->requests += d->requests;
	dst->responses += d->responses;
	dst->unanswered += d->unanswered;
#pragma unroll
	for (int i = 0; i < HM_STATUS_CLASSES; i++)
		dst->status[i] += d->status[i];
	hm_latency_merge(&dst->lat, &d->lat);
	hm_latency_merge(&dst->lat_ok, &d->lat_ok);
	hm_latency_merge(&dst->lat_fail, &d->lat_fail);
	hm_latency_merge(&dst->lat_last, &d->lat_last);
	dst->bytes_in += d->bytes_in;
	dst->bytes_out += d->bytes_out;
}

/*
 * Adds delta to one aggregate row.  A new key is inserted with delta itself
 * as its first value (per-CPU maps zero the other CPUs' copies).  When the map
 * is full the delta goes to the map's overflow row, so totals stay exact.
 */
static __always_inline void hm_row_add(void *map, const void *key, const struct hm_stats *delta,
				       __u32 ovf_row, enum hm_monitor_counter full)
{
	struct hm_stats *row = bpf_map_lookup_elem(map, key);
	long err;

	if (!row) {
		err = bpf_map_update_elem(map, key, delta, BPF_NOEXIST);
		if (!err)
			return;
		if (err == -EEXIST) /* inserted by another CPU meanwhile */
			row = bpf_map_lookup_elem(map, key);
		if (!row) {
			hm_count(full, 1);
			row = bpf_map_lookup_elem(&hm_overflow, &ovf_row);
			if (!row)
				return;
		}
	}
	hm_stats_merge(row, delta);
}

int hm_unanswered_routes(struct hm_conn *c);

/* Keeps the first bits of a 64-bit word stored in network order. */
static __always_inline __u64 hm_prefix_word(__u64 be_word, __u32 bits)
{
	__u64 mask = bits >= 64 ? ~0ULL : bits ? ~0ULL << (64 - bits) : 0;

	return bpf_cpu_to_be64(bpf_be64_to_cpu(be_word) & mask);
}

/* --client-prefix / --client-prefix6: fold a client address into its network. */
static __always_inline void hm_fold_client(struct hm_addr *a, const struct hm_config *cfg)
{
	__u64 w0, w1;
	__u32 bits;

	__builtin_memcpy(&w0, &a->a[0], 8);
	__builtin_memcpy(&w1, &a->a[8], 8);
	/* v4-mapped ::ffff:a.b.c.d: the IPv4 prefix starts 96 bits in. */
	if (!w0 && a->a[8] == 0 && a->a[9] == 0 && a->a[10] == 0xff && a->a[11] == 0xff)
		bits = cfg->client_prefix4 ? 96 + (cfg->client_prefix4 & 31) : 128;
	else
		bits = cfg->client_prefix6 ? cfg->client_prefix6 & 127 : 128;
	if (bits >= 128)
		return;
	w0 = hm_prefix_word(w0, bits);
	w1 = hm_prefix_word(w1, bits > 64 ? bits - 64 : 0);
	__builtin_memcpy(&a->a[0], &w0, 8);
	__builtin_memcpy(&a->a[8], &w1, 8);
}

static __always_inline void hm_account(const struct hm_conn_key *k, const struct hm_conn *c,
				       const struct hm_config *cfg, const struct hm_stats *delta)
{
	struct hm_port_client_key pck = {};
	struct hm_client_key ck = {};
	struct hm_port_key pk = {};
	/* Branches, not k->addr[c->client]: a variable stack index does not verify. */
	if (c->client) {
		ck.ip = k->addr[1];
		pk.port = k->port[0];
	} else {
		ck.ip = k->addr[0];
		pk.port = k->port[1];
	}
	if (cfg->client_prefix4 || cfg->client_prefix6)
		hm_fold_client(&ck.ip, cfg);
	pck.ip = ck.ip;
	pck.port = pk.port;
	hm_row_add(&hm_clients, &ck, delta, HM_OVF_CLIENTS, HM_MON_CLIENTS_FULL);
	hm_row_add(&hm_ports, &pk, delta, HM_OVF_PORTS, HM_MON_PORTS_FULL);
	hm_row_add(&hm_port_clients, &pck, delta, HM_OVF_PORT_CLIENTS, HM_MON_PORT_CLIENTS_FULL);
}

static __always_inline bool hm_delta_empty(const struct hm_stats *d)
{
	return !d->requests && !d->responses && !d->unanswered && !d->bytes_in &&
	       !d->bytes_out;
}

/*
 * FIN or RST.  Requests still pending can no longer be answered once the
 * server side closes or either side resets; a client's FIN (half-close) with
 * requests in flight waits for the server.
 */
static __always_inline bool hm_conn_ends(struct hm_conn *c, const struct hm_pkt *p, __u32 side,
					 struct hm_stats *delta)
{
	__s32 pending = c->nreq - c->nresp;

	if (p->fin && !p->rst && side == c->client && pending > 0) {
		c->client_fin = 1;
		return false;
	}
	if (pending > 0 && c->client != HM_SIDE_UNKNOWN) {
		delta->unanswered += pending;
		hm_unanswered_routes(c);
	}
	return true;
}

/* The framing walk of one segment, verified once as a global function. */
__noinline int hm_walk_segment(struct __sk_buff *skb, struct hm_conn *c, struct hm_scratch *s,
				struct hm_config *cfg)
{
	if (!c || !s || !cfg)
		return 0;
	hm_http_walk(skb, c, s, cfg);
	return 0;
}

/* Requests pending when the connection ends are unanswered, on their routes too. */
__noinline int hm_unanswered_routes(struct hm_conn *c)
{
	if (!c)
		return 0;
	for (__u32 i = 0; i < HM_PIPELINE_DEPTH; i++) {
		__u32 n = c->nresp + i;
		struct hm_pending *p = &c->ring[n & (HM_PIPELINE_DEPTH - 1)];
		struct hm_stats *row;

		if ((__s32)(c->nreq - n) <= 0)
			break;
		if (p->reqno != n || !(p->flags & HM_REQ_ROUTED))
			continue;
		row = hm_route_row(p->route);
		if (row)
			row->unanswered++;
	}
	return 0;
}

static __always_inline void hm_handle(struct __sk_buff *skb)
{
	struct hm_pkt p = {};
	struct hm_conn_key key = {};
	struct hm_scratch *s;
	struct hm_config *cfg;
	struct hm_conn *c;
	__u32 zero = 0, side, skip = 0, plen;
	__s32 delta_seq;
	bool ends = false;

	if (hm_parse_pkt(skb, &p))
		return;
	plen = p.payload_end - p.payload_off;
	if (!plen && !p.fin && !p.rst)
		return; /* pure ACK or SYN */

	cfg = bpf_map_lookup_elem(&hm_config, &zero);
	if (!cfg)
		return;
	if (cfg->layout_version == 0)
		cfg->layout_version = HM_LAYOUT_VERSION; /* stamp for readers of a tc-loaded set */
	if ((cfg->flags & HM_CFG_PORT_FILTER) && !hm_port_watched(cfg, p.sport) &&
	    !hm_port_watched(cfg, p.dport))
		return;

	s = bpf_map_lookup_elem(&hm_scratch, &zero);
	if (!s)
		return;
	side = hm_conn_key_of(&p, &key);
	c = bpf_map_lookup_elem(&hm_conns, &key);
	if (!c) {
		if (!plen || !hm_starts_message(skb, &p))
			return;
		/* The initial value is built in scratch: it is too big for the stack. */
		__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
		s->fresh.client = HM_SIDE_UNKNOWN;
		if (bpf_map_update_elem(&hm_conns, &key, &s->fresh, BPF_NOEXIST) &&
		    bpf_map_update_elem(&hm_conns, &key, &s->fresh, BPF_ANY)) {
			hm_count(HM_MON_CONN_CREATE_FAILED, 1);
			return;
		}
		c = bpf_map_lookup_elem(&hm_conns, &key);
		if (!c)
			return;
		hm_count(HM_MON_CONNS_OPENED, 1);
	}
	__builtin_memset(&s->delta, 0, sizeof(s->delta));

	if (plen) {
		struct hm_dir *d = &c->dir[side & 1];

		hm_count(HM_MON_SEGMENTS, 1);
		if (!d->seq_valid) {
			d->next_seq = p.seq;
			d->seq_valid = 1;
		}
		/* Serial-number arithmetic: wraps at 2^32 like TCP itself. */
		delta_seq = p.seq - d->next_seq;
		if (delta_seq < 0) {
			if ((__s64)plen + delta_seq <= 0) {
				hm_count(HM_MON_RETRANS_SEGMENTS, 1);
				hm_count(HM_MON_RETRANS_BYTES, plen);
				goto close;
			}
			skip = -delta_seq; /* resent head of a segment with new bytes */
			hm_count(HM_MON_RETRANS_BYTES, skip);
		} else if (delta_seq > 0) {
			hm_count(HM_MON_SEQ_GAPS, 1);
			d->state = HM_P_LOST;
		}
		d->next_seq = p.seq + plen;

		s->now = bpf_ktime_get_ns();
		s->off = p.payload_off + skip;
		s->end = p.payload_end;
		s->side = side;
		s->port[0] = key.port[0];
		s->port[1] = key.port[1];
		s->bytes = 0;
		s->win_off = 0;
		s->win_len = 0;
		hm_walk_segment(skb, c, s, cfg);
		if (c->client == side)
			s->delta.bytes_in += s->bytes;
		else
			s->delta.bytes_out += s->bytes;
	}
close:
	if (p.fin || p.rst)
		ends = hm_conn_ends(c, &p, side, &s->delta);
	if (c->client != HM_SIDE_UNKNOWN && !hm_delta_empty(&s->delta))
		hm_account(&key, c, cfg, &s->delta);
	if (ends && !bpf_map_delete_elem(&hm_conns, &key))
		hm_count(HM_MON_CONNS_CLOSED, 1);
}

SEC("tc/ingress")
int hm_tc_ingress(struct __sk_buff *skb)
{
	hm_handle(skb);
	return TC_ACT_UNSPEC;
}

SEC("tc/egress")
int hm_tc_egress(struct __sk_buff *skb)
{
	hm_handle(skb);
	return TC_ACT_UNSPEC;
}
