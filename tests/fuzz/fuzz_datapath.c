// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_datapath - libFuzzer harness for httpmon's datapath, compiled from the
 * kernel sources (kern/hm_*.h) as userspace C over bpf_shim.h.
 *
 * An input is a conversation on one TCP connection: a first byte choosing the
 * address family, then records of
 *   [flags:1][len:2, little endian][payload:len]
 * flags bit 0: sent by the server (else the client); 1: FIN; 2: RST;
 * 3: the payload is a whole frame from the Ethernet header on (header
 * parsing gets fuzzed too); 4: resend the previous segment's bytes first
 * (a retransmission); 5: skip 100 sequence numbers (a loss); 6-7: VLAN tags.
 * Every frame goes through the same entry point as the TC and XDP programs.
 * After each input the harness checks invariants the maps must keep, fires
 * the idle sweep's timer as if the connection had gone quiet, and checks
 * that no connection state is left.
 */
#include <assert.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include "bpf_shim.h"
#include "hm_segment.h"
#include "fuzz_checks.h"

#define FRAME_MAX 2048

static void register_maps(void)
{
	register_common_maps();
	shim_map_register(hm_links);
}

struct conv {
	bool v6;
	__u32 seq[2];
	__u8 last[2][FRAME_MAX]; /* each side's previous payload, for retransmissions */
	__u16 last_len[2];
};

static size_t build(__u8 *f, struct conv *cv, int flags, const __u8 *payload, size_t len)
{
	static const __u8 cli4[4] = { 10, 9, 0, 2 }, srv4[4] = { 10, 9, 0, 1 };
	static const __u8 cli6[16] = { 0xfd, 0, [15] = 2 }, srv6[16] = { 0xfd, 0, [15] = 1 };
	int server = flags & 1, tags = flags >> 6;
	size_t off = 12;
	__u16 proto = htons(cv->v6 ? ETH_P_IPV6 : ETH_P_IP);
	struct tcphdr *tcp;

	memset(f, 0, 64);
	for (int i = 0; i < tags && i < 2; i++) {
		__u16 tpid = htons(i == 0 && tags == 2 ? ETH_P_8021AD : ETH_P_8021Q);

		memcpy(f + off, &tpid, 2);
		off += 4;
	}
	memcpy(f + off, &proto, 2);
	off += 2;
	if (cv->v6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + off);

		ip6->version = 6;
		ip6->nexthdr = IPPROTO_TCP;
		ip6->payload_len = htons(sizeof(*tcp) + len);
		memcpy(&ip6->saddr, server ? srv6 : cli6, 16);
		memcpy(&ip6->daddr, server ? cli6 : srv6, 16);
		off += sizeof(*ip6);
	} else {
		struct iphdr *ip = (struct iphdr *)(f + off);

		ip->version = 4;
		ip->ihl = 5;
		ip->protocol = IPPROTO_TCP;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp) + len);
		memcpy(&ip->saddr, server ? srv4 : cli4, 4);
		memcpy(&ip->daddr, server ? cli4 : srv4, 4);
		off += sizeof(*ip);
	}
	tcp = (struct tcphdr *)(f + off);
	memset(tcp, 0, sizeof(*tcp));
	tcp->source = htons(server ? 8080 : 40000);
	tcp->dest = htons(server ? 40000 : 8080);
	tcp->doff = 5;
	tcp->ack = 1;
	tcp->fin = !!(flags & 2);
	tcp->rst = !!(flags & 4);
	if (flags & 32)
		cv->seq[server] += 100;
	tcp->seq = htonl(cv->seq[server]);
	tcp->ack_seq = htonl(cv->seq[!server]); /* all the peer sent, as a real stack */
	off += sizeof(*tcp);
	memcpy(f + off, payload, len);
	cv->seq[server] += len;
	return off + len;
}

/* One frame; the server's leave through egress, the client's arrive at ingress. */
static void run(const __u8 *frame, size_t len, int egress)
{
	struct shim_ctx ctx = { .skb.len = len, .data = frame };

	shim_clock_ns += 1000 + len;
	hm_segment(&ctx, HM_CTX_TC, 1, egress);
}

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	static bool ready;
	/* +2, like NET_IP_ALIGN: the IP header after 14 bytes of Ethernet is aligned. */
	static __u8 buf[FRAME_MAX + 128] __attribute__((aligned(8)));
	__u8 *frame = buf + 2;
	static struct conv cv;
	size_t pos = 1;

	if (!ready) {
		register_maps();
		ready = true;
	}
	shim_maps_reset();
	if (!size)
		return 0;
	memset(&cv, 0, sizeof(cv));
	cv.seq[0] = 1000;
	cv.seq[1] = 500000;
	cv.v6 = data[0] & 1;
	while (pos + 3 <= size) {
		int flags = data[pos];
		size_t len = data[pos + 1] | (data[pos + 2] << 8), n;
		int side = flags & 1;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		if (len > FRAME_MAX)
			len = FRAME_MAX;
		if (flags & 8) {
			run(data + pos, len, side); /* a raw frame */
		} else {
			if ((flags & 16) && cv.last_len[side]) {
				/* retransmit the previous segment of this side, then continue */
				__u32 saved = cv.seq[side];

				cv.seq[side] -= cv.last_len[side];
				n = build(frame, &cv, side, cv.last[side], cv.last_len[side]);
				run(frame, n, side);
				cv.seq[side] = saved;
			}
			n = build(frame, &cv, flags, data + pos, len);
			run(frame, n, side);
			memcpy(cv.last[side], data + pos, len);
			cv.last_len[side] = len;
		}
		pos += len;
	}
	check_invariants();
	/* Then the connection goes quiet: the idle sweep must age whatever is left. */
	shim_clock_ns += (__u64)HM_IDLE_TIMEOUT_MAX * 1000000000ULL + 1;
	shim_timer_fire();
	assert(shim_map_of(&hm_conns)->count == 0);
	check_invariants();
	/* With no state left, every request ended as a response or as unanswered. */
	assert(sum_requests(&hm_clients, HM_MAX_CLIENTS) ==
	       sum_responses(&hm_clients, HM_MAX_CLIENTS) +
		       sum_unanswered(&hm_clients, HM_MAX_CLIENTS));
	return 0;
}
