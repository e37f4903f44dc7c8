/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hm_packet.h - stage 1: the packet window and the L2-L4 headers.
 *
 * One bpf_skb_load_bytes() (bpf_xdp_load_bytes() on XDP) copies the frame's
 * first HM_WIN bytes into per-CPU scratch: the Ethernet, VLAN, IP and TCP
 * headers and, for most HTTP segments, the whole payload.  The headers are
 * parsed from that copy; the framing stage reads the payload from it and
 * loads a later window only for bytes past it.
 *
 * Byte order: header fields are converted to host order in struct hm_pkt,
 * addresses stay in network order (struct hm_addr).
 */
#ifndef HM_PACKET_H
#define HM_PACKET_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>

#include "hm_ctx.h"
#include "hm_maps.h"

/* The segment being looked at, after the L2-L4 walk. */
struct hm_pkt {
	struct hm_addr src, dst;
	__u16 sport, dport;
	__u32 seq;
	__u32 ack;
	__u32 payload_off; /* packet offset of the TCP payload */
	__u32 payload_end; /* from the IP length: Ethernet padding excluded */
	__u8 fin, rst, ack_ok, _pad;
};

#define HM_VLAN_MAX 2     /* 802.1Q / 802.1ad tags followed in the packet */
#define HM_IPV6_EXT_MAX 8 /* IPv6 extension headers followed */

#define IPV6_NH_HOP 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_AH 51
#define IPV6_NH_DSTOPTS 60

/*
 * Loads the window at packet offset off: up to HM_WIN bytes, not past limit.
 * 0 on success; -1 (counted in load_errors) when the packet has none there.
 */
static __always_inline int hm_win_load(void *ctx, enum hm_ctx_kind kind, struct hm_scratch *s,
				       __u32 off, __u32 limit)
{
	__u64 len = limit > off ? limit - off : 0;

	if (len > HM_WIN)
		len = HM_WIN;
	/* Keep the clamped value in a register: clang would otherwise pass the
	 * unclamped one and rely on the compare, which the verifier cannot see. */
	asm volatile("" : "+r"(len));
	if (len == 0 || len > HM_WIN || hm_ctx_load(ctx, kind, off, s->win, len) < 0) {
		s->load_failed = 1;
		hm_count(s->gen, HM_MON_LOAD_ERRORS, 1);
		return -1;
	}
	s->win_off = off;
	s->win_len = len;
	return 0;
}

/* Are the n (<= HM_WIN_SLACK) bytes at packet offset off all in the first window? */
static __always_inline bool hm_has(const struct hm_scratch *s, __u32 off, __u32 n)
{
	return off + n <= s->win_len;
}

/*
 * Header bytes at packet offset off of the first window (check hm_has()
 * first).  The index is masked so the verifier sees the access stay inside
 * the scratch value.
 */
static __always_inline void *hm_at(struct hm_scratch *s, __u32 off)
{
	return &s->win[off & (HM_WIN - 1)];
}

static __always_inline int hm_parse_ipv4(struct hm_scratch *s, __u32 pkt_len, __u32 *off,
					 struct hm_pkt *p, __u32 *ip_end)
{
	struct iphdr *ip;
	__u32 tot;

	if (!hm_has(s, *off, sizeof(*ip)))
		return -1;
	ip = hm_at(s, *off);
	if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_TCP)
		return -1;
	if (bpf_ntohs(ip->frag_off) & 0x1fff) {
		hm_count(s->gen, HM_MON_IP_FRAGMENTS, 1);
		return -1;
	}
	/* ::ffff:a.b.c.d, so IPv4 and IPv6 share one key type. */
	__builtin_memset(p->src.a, 0, 10);
	__builtin_memset(p->dst.a, 0, 10);
	p->src.a[10] = p->src.a[11] = 0xff;
	p->dst.a[10] = p->dst.a[11] = 0xff;
	__builtin_memcpy(&p->src.a[12], &ip->saddr, 4);
	__builtin_memcpy(&p->dst.a[12], &ip->daddr, 4);
	/* tot_len 0 happens on GSO packets above 64 KiB (BIG TCP). */
	tot = bpf_ntohs(ip->tot_len);
	*ip_end = tot ? *off + tot : pkt_len;
	*off += ip->ihl * 4;
	return 0;
}

static __always_inline int hm_parse_ipv6(struct hm_scratch *s, __u32 pkt_len, __u32 *off,
					 struct hm_pkt *p, __u32 *ip_end)
{
	struct ipv6hdr *ip6;
	__u8 nh, *ext;

	if (!hm_has(s, *off, sizeof(*ip6)))
		return -1;
	ip6 = hm_at(s, *off);
	if (ip6->version != 6)
		return -1;
	__builtin_memcpy(p->src.a, &ip6->saddr, 16);
	__builtin_memcpy(p->dst.a, &ip6->daddr, 16);
	/* payload_len 0 is a jumbogram (BIG TCP): the packet length is the truth. */
	*ip_end = ip6->payload_len ? *off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len) : pkt_len;
	*off += sizeof(*ip6);
	nh = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < HM_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_TCP)
			return 0;
		if (nh != IPV6_NH_HOP && nh != IPV6_NH_ROUTING && nh != IPV6_NH_DSTOPTS &&
		    nh != IPV6_NH_FRAGMENT && nh != IPV6_NH_AH)
			return -1;
		if (!hm_has(s, *off, 8))
			break; /* headers past the first window: counted below */
		ext = hm_at(s, *off);
		if (nh == IPV6_NH_FRAGMENT) {
			/* Offset is the top 13 bits of bytes 2-3: only the first fragment has TCP. */
			if ((ext[2] << 8 | ext[3]) & 0xfff8) {
				hm_count(s->gen, HM_MON_IP_FRAGMENTS, 1);
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
	hm_count(s->gen, HM_MON_IPV6_EXT_LIMIT, 1);
	return -1;
}

/*
 * Ethernet -> [VLAN tags] -> IPv4/IPv6 -> TCP, from the window at offset 0
 * of a pkt_len-byte packet.  0 when p describes a TCP segment.  A global
 * function, verified once on its own: the many paths through the headers
 * do not multiply the states of its caller.
 */
__noinline int hm_packet_parse(struct hm_scratch *s, struct hm_pkt *p, __u32 pkt_len)
{
	__u32 off = ETH_HLEN, ip_end;
	struct tcphdr *tcp;
	__be16 *proto;
	int err;

	if (!s || !p)
		return -1;
	if (!hm_has(s, ETH_HLEN, 0))
		return -1;
	proto = hm_at(s, offsetof(struct ethhdr, h_proto));
	/* On TC a tag the driver stripped sits in skb->vlan_tci; these are the ones left in the packet. */
#pragma unroll
	for (int i = 0; i < HM_VLAN_MAX; i++) {
		if (*proto != bpf_htons(ETH_P_8021Q) && *proto != bpf_htons(ETH_P_8021AD))
			break;
		if (!hm_has(s, off + 4, 0))
			return -1;
		proto = hm_at(s, off + 2);
		off += 4;
	}
	if (*proto == bpf_htons(ETH_P_IP))
		err = hm_parse_ipv4(s, pkt_len, &off, p, &ip_end);
	else if (*proto == bpf_htons(ETH_P_IPV6))
		err = hm_parse_ipv6(s, pkt_len, &off, p, &ip_end);
	else
		return -1;
	if (err)
		return -1;

	if (!hm_has(s, off, sizeof(*tcp)))
		return -1;
	tcp = hm_at(s, off);
	if (tcp->doff < 5)
		return -1;
	if (ip_end > pkt_len)
		ip_end = pkt_len;
	p->sport = bpf_ntohs(tcp->source);
	p->dport = bpf_ntohs(tcp->dest);
	/* Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number. */
	p->seq = bpf_ntohl(tcp->seq) + tcp->syn;
	p->ack = bpf_ntohl(tcp->ack_seq);
	p->ack_ok = tcp->ack;
	p->fin = tcp->fin;
	p->rst = tcp->rst;
	p->payload_off = off + tcp->doff * 4;
	p->payload_end = ip_end > p->payload_off ? ip_end : p->payload_off;
	return 0;
}

#endif /* HM_PACKET_H */
