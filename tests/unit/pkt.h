/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pkt.h - crafted Ethernet/VLAN/IPv4/IPv6/TCP frames for the BPF unit tests.
 *
 * A struct flow is one TCP connection between a client and a server; every
 * frame built from it advances that side's sequence number, as a real stack
 * would, unless the test rewinds it to forge a retransmission.
 */
#ifndef HM_TEST_PKT_H
#define HM_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#define PKT_MAX 9000

struct flow {
	bool v6;
	uint8_t cli[16], srv[16]; /* IPv4 in the first 4 bytes */
	uint16_t cport, sport;
	uint32_t cseq, sseq;
	int vlan_tags; /* 802.1ad/802.1Q tags in the frame: 0, 1 or 2 */
	int v6_ext; /* IPv6 destination-options headers before TCP */
	/* Packet shapes (IPv4): 0 means a plain header. */
	int ip_opt_words; /* 4-byte words of IPv4 options (NOPs): IHL 5 + n */
	int tcp_opt_words; /* 4-byte words of TCP options (NOPs): doff 5 + n */
	int ihl, doff; /* forced header-length fields, whatever follows */
	uint16_t frag_off; /* IPv4 flags and fragment offset, host order */
	int tot_len_extra; /* added to the IPv4 total length (a lie when > 0) */
};

enum { PKT_FIN = 1, PKT_RST = 2, PKT_SYN = 4 };

static inline void flow_v4(struct flow *f, const char *cli, uint16_t cport, const char *srv,
			   uint16_t sport)
{
	memset(f, 0, sizeof(*f));
	inet_pton(AF_INET, cli, f->cli);
	inet_pton(AF_INET, srv, f->srv);
	f->cport = cport;
	f->sport = sport;
	f->cseq = 1000;
	f->sseq = 900000;
}

static inline void flow_v6(struct flow *f, const char *cli, uint16_t cport, const char *srv,
			   uint16_t sport)
{
	memset(f, 0, sizeof(*f));
	f->v6 = true;
	inet_pton(AF_INET6, cli, f->cli);
	inet_pton(AF_INET6, srv, f->srv);
	f->cport = cport;
	f->sport = sport;
	f->cseq = 0xfffffff0; /* wraps during the test: serial arithmetic is exercised */
	f->sseq = 5000;
}

/* Builds one frame; returns its length.  Advances the sender's sequence number. */
static inline size_t pkt_build(uint8_t *buf, struct flow *f, bool from_client, int flags,
			       const void *payload, size_t len)
{
	const uint8_t *src = from_client ? f->cli : f->srv;
	const uint8_t *dst = from_client ? f->srv : f->cli;
	uint32_t *seq = from_client ? &f->cseq : &f->sseq;
	struct ethhdr *eth = (struct ethhdr *)buf;
	size_t off = sizeof(*eth);
	uint16_t proto = f->v6 ? ETH_P_IPV6 : ETH_P_IP;
	struct tcphdr *tcp;

	memset(buf, 0, PKT_MAX);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", 6);
	if (f->vlan_tags) {
		/* outer tag, then (QinQ) an inner one, then the real ethertype */
		eth->h_proto = htons(f->vlan_tags == 2 ? ETH_P_8021AD : ETH_P_8021Q);
		for (int i = 0; i < f->vlan_tags; i++) {
			uint16_t tci = htons(100 + i);
			uint16_t next = htons(i + 1 < f->vlan_tags ? ETH_P_8021Q : proto);

			memcpy(buf + off, &tci, 2);
			memcpy(buf + off + 2, &next, 2);
			off += 4;
		}
	} else {
		eth->h_proto = htons(proto);
	}

	if (f->v6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + off);
		size_t ext = f->v6_ext * 8;

		ip6->version = 6;
		ip6->payload_len = htons(ext + sizeof(*tcp) + len);
		ip6->nexthdr = f->v6_ext ? 60 : IPPROTO_TCP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, src, 16);
		memcpy(&ip6->daddr, dst, 16);
		off += sizeof(*ip6);
		for (int i = 0; i < f->v6_ext; i++) {
			buf[off] = i + 1 < f->v6_ext ? 60 : IPPROTO_TCP;
			buf[off + 1] = 0; /* 8 bytes */
			buf[off + 2] = 1; /* PadN option filling the rest */
			buf[off + 3] = 4;
			off += 8;
		}
	} else {
		struct iphdr *ip = (struct iphdr *)(buf + off);
		size_t opts = f->ip_opt_words * 4, topts = f->tcp_opt_words * 4;

		ip->version = 4;
		ip->ihl = f->ihl ? f->ihl : 5 + f->ip_opt_words;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->frag_off = htons(f->frag_off);
		ip->tot_len =
			htons(sizeof(*ip) + opts + sizeof(*tcp) + topts + len + f->tot_len_extra);
		memcpy(&ip->saddr, src, 4);
		memcpy(&ip->daddr, dst, 4);
		off += sizeof(*ip);
		memset(buf + off, 1, opts); /* IPv4 NOP options */
		off += opts;
	}

	tcp = (struct tcphdr *)(buf + off);
	tcp->source = htons(from_client ? f->cport : f->sport);
	tcp->dest = htons(from_client ? f->sport : f->cport);
	tcp->seq = htonl(*seq);
	tcp->doff = f->doff ? f->doff : 5 + f->tcp_opt_words;
	/* Every segment but the client's SYN acknowledges what the peer has sent so far. */
	tcp->ack = !(from_client && (flags & PKT_SYN));
	tcp->ack_seq = tcp->ack ? htonl(from_client ? f->sseq : f->cseq) : 0;
	tcp->fin = !!(flags & PKT_FIN);
	tcp->rst = !!(flags & PKT_RST);
	tcp->syn = !!(flags & PKT_SYN);
	tcp->window = htons(65535);
	off += sizeof(*tcp);
	if (!f->v6) {
		memset(buf + off, 1, f->tcp_opt_words * 4); /* TCP NOP options */
		off += f->tcp_opt_words * 4;
	}
	memcpy(buf + off, payload, len);
	off += len;
	*seq += len + ((flags & (PKT_FIN | PKT_SYN)) ? 1 : 0);
	return off;
}

#endif /* HM_TEST_PKT_H */
