// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * skb_shape.bpf.c - what the skbs on a live hook look like, for
 * tests/e2e/test_linear.sh (hostile input 19 in the README).
 *
 * A tc classifier that changes nothing (every skb gets TC_ACT_UNSPEC) and
 * counts, per interface and TCP source port, the skbs that carry TCP payload:
 * how many, how many are non-linear (skb->len beyond the linear part that
 * direct packet access covers, data_end - data), how many are GSO or GRO
 * super-packets (gso_segs > 1), how many are longer than a 1500-byte MTU
 * frame, their payload bytes, and the largest skb and linear part seen.
 * Attached after httpmon's filter on the same hooks, it sees the skbs exactly
 * as httpmon did (httpmon only copies bytes out, it never pulls data in).
 *
 * Load it with bpftool (prog load ... pinmaps DIR) and attach the pinned
 * program with `tc filter add ... bpf da object-pinned PATH`; read
 * hm_shape with `bpftool -j map dump pinned DIR/hm_shape`.  The test
 * compiles it itself (clang -target bpf); it is for the tests only.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct shape_key {
	__u32 ifindex;
	__u16 sport; /* host order */
	__u16 pad;
};

struct shape_val {
	__u64 skbs; /* skbs with TCP payload */
	__u64 nonlinear; /* skb->len > data_end - data */
	__u64 gso; /* gso_segs > 1 */
	__u64 over_mtu; /* frame longer than 1514 bytes (1500 + Ethernet header) */
	__u64 bytes; /* TCP payload bytes */
	__u64 max_len; /* largest skb->len (racy maximum: a note, not a count) */
	__u64 max_linear; /* largest linear part */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct shape_key);
	__type(value, struct shape_val);
} hm_shape SEC(".maps");

SEC("tc")
int hm_test_shape(struct __sk_buff *skb)
{
	__u32 l4, l4_len, linear = skb->data_end - skb->data;
	struct shape_key key = { .ifindex = skb->ifindex };
	struct shape_val zero = {}, *v;
	struct tcphdr tcp;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP || ip.ihl < 5)
			return TC_ACT_UNSPEC;
		l4 = ETH_HLEN + ip.ihl * 4;
		l4_len = bpf_ntohs(ip.tot_len);
		if (!l4_len && skb->len > ETH_HLEN) /* BIG TCP: the length is the skb's */
			l4_len = skb->len - ETH_HLEN;
		if (l4_len < ip.ihl * 4u)
			return TC_ACT_UNSPEC;
		l4_len -= ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return TC_ACT_UNSPEC;
		l4 = ETH_HLEN + sizeof(ip6);
		l4_len = bpf_ntohs(ip6.payload_len);
		if (!l4_len && skb->len > l4) /* BIG TCP: the length is the skb's */
			l4_len = skb->len - l4;
	} else {
		return TC_ACT_UNSPEC;
	}
	if (bpf_skb_load_bytes(skb, l4, &tcp, sizeof(tcp)) || tcp.doff < 5 ||
	    l4_len <= tcp.doff * 4u)
		return TC_ACT_UNSPEC;
	key.sport = bpf_ntohs(tcp.source);
	v = bpf_map_lookup_elem(&hm_shape, &key);
	if (!v) {
		bpf_map_update_elem(&hm_shape, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&hm_shape, &key);
		if (!v)
			return TC_ACT_UNSPEC;
	}
	__sync_fetch_and_add(&v->skbs, 1);
	if (skb->len > linear)
		__sync_fetch_and_add(&v->nonlinear, 1);
	if (skb->gso_segs > 1)
		__sync_fetch_and_add(&v->gso, 1);
	if (skb->len > 1514)
		__sync_fetch_and_add(&v->over_mtu, 1);
	__sync_fetch_and_add(&v->bytes, l4_len - tcp.doff * 4);
	if (skb->len > v->max_len)
		v->max_len = skb->len;
	if (linear > v->max_linear)
		v->max_linear = linear;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
