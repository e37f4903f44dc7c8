// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* packets.c - test_parse cases: packet shapes: IPv6 extension headers, VLAN tags, IPv4 options, fragments, GSO. */
#include "harness.h"

void test_ipv6_ext(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v6(&f, "fd00::2", 40004, "fd00::1", 80);
	f.v6_ext = 2;
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK); /* client sequence numbers wrapped past 2^32 by now */
	check(client_stats(&f, &s), "v6 client row", "missing");
	CHECK_EQ("requests", s.requests, 2);
	CHECK_EQ("responses", s.responses, 2);
	CHECK_EQ("bytes_in", s.bytes_in, 2 * strlen(REQ_A));
	CHECK_EQ("no gap seen across the sequence wrap", monitor(HM_MON_SEQ_GAPS), 0);

	flow_v6(&f, "fd00::3", 40005, "fd00::1", 80);
	f.v6_ext = 9; /* beyond the bound: not parsed, counted */
	send_str(&f, true, REQ_A);
	check(!client_stats(&f, &s), "too many extension headers: no row", "row exists");
	CHECK_EQ("ipv6_ext_limit", monitor(HM_MON_IPV6_EXT_LIMIT), 1);
}

void test_vlan(void)
{
	struct flow f;
	struct hm_stats s;

	for (int tags = 1; tags <= 2; tags++) {
		flow_v4(&f, tags == 1 ? "10.0.1.1" : "10.0.1.2", 40006, "10.0.0.1", 80);
		f.vlan_tags = tags;
		send_str(&f, true, REQ_A);
		send_str(&f, false, RESP_OK);
		client_stats(&f, &s);
		check(s.requests == 1 && s.responses == 1,
		      tags == 1 ? "802.1Q tagged frame" : "QinQ tagged frame",
		      "requests=%llu responses=%llu", (unsigned long long)s.requests,
		      (unsigned long long)s.responses);
	}
}

/* Hostile input 14 (the README's table): IPv4 and TCP header shapes. */
void test_packet_shapes(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.5.6", 44400, "10.0.0.1", 8080);
	f.ip_opt_words = 10; /* IHL 15 */
	f.tcp_opt_words = 10; /* doff 15 */
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("IPv4 and TCP options at their maximum: request", s.requests, 1);
	CHECK_EQ("IPv4 and TCP options at their maximum: response", s.responses, 1);
	CHECK_EQ("IPv4 and TCP options at their maximum: payload bytes only", s.bytes_in,
		 strlen(REQ_A));

	flow_v4(&f, "10.0.5.7", 44401, "10.0.0.1", 8080);
	f.ihl = 4;
	send_str(&f, true, REQ_A);
	check(!client_stats(&f, &s), "IHL < 5: not parsed", "row");
	flow_v4(&f, "10.0.5.8", 44402, "10.0.0.1", 8080);
	f.doff = 4;
	send_str(&f, true, REQ_A);
	check(!client_stats(&f, &s), "doff < 5: not parsed", "row");
	flow_v4(&f, "10.0.5.9", 44403, "10.0.0.1", 8080);
	f.doff = 15; /* options that are not there: the header eats the payload */
	send_str(&f, true, "GET / HTTP/1.1\r\n\r\n");
	check(!client_stats(&f, &s), "doff beyond the payload: no phantom request", "row");
	flow_v4(&f, "10.0.5.10", 44404, "10.0.0.1", 8080);
	f.tot_len_extra = 1000; /* the IP total length claims more than the frame holds */
	send_str(&f, true, REQ_A);
	client_stats(&f, &s);
	CHECK_EQ("total length beyond the packet: only the bytes present", s.bytes_in,
		 strlen(REQ_A));
	CHECK_EQ("no connection state for the malformed ones", live_conns(), 2);
}

/* Hostile input 15 (the README's table): a non-first IPv4 fragment is never parsed as TCP. */
void test_fragments(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.5.11", 44500, "10.0.0.1", 8080);
	f.frag_off = 185; /* offset 1480 bytes: its first bytes look like a TCP header */
	send_str(&f, true, REQ_A);
	check(!client_stats(&f, &s), "non-first fragment: no request", "row");
	CHECK_EQ("ip_fragments", monitor(HM_MON_IP_FRAGMENTS), 1);
	flow_v4(&f, "10.0.5.12", 44501, "10.0.0.1", 8080);
	f.frag_off = 0x2000; /* MF, offset 0: the first fragment holds the TCP header */
	send_str(&f, true, REQ_A);
	client_stats(&f, &s);
	CHECK_EQ("first fragment: parsed", s.requests, 1);
}

/* Hostile input 16 (the README's table): 0, 1, 4, 7 and 8 IPv6 extension headers are followed; 9 are not. */
void test_ipv6_ext_counts(void)
{
	static const int counts[] = { 0, 1, 4, 7, 8 };
	struct flow f;
	struct hm_stats s;
	char name[64];

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		flow_v6(&f, "fd00::20", 44600 + i, "fd00::1", 8080);
		f.v6_ext = counts[i];
		send_str(&f, true, REQ_A);
		send_str(&f, false, RESP_OK);
	}
	client_stats(&f, &s);
	snprintf(name, sizeof(name), "every one of %zu exchanges counted",
		 sizeof(counts) / sizeof(counts[0]));
	check(s.requests == 5 && s.responses == 5 && s.lat.count == 5, name,
	      "requests=%llu responses=%llu", (unsigned long long)s.requests,
	      (unsigned long long)s.responses);
	CHECK_EQ("no limit hit", monitor(HM_MON_IPV6_EXT_LIMIT), 0);
}

/*
 * Hostile input 18 (the README's table): a GSO super-packet (gso_size and gso_segs set, as TSO
 * hands them to egress): one segment for the monitor, bytes exact.
 */
void test_gso(void)
{
	static char resp[3600];
	struct __sk_buff skb = { .gso_segs = 3, .gso_size = 1200 };
	uint8_t frame[PKT_MAX];
	struct flow f;
	struct hm_stats s;
	size_t n, body = 3000;

	flow_v4(&f, "10.0.5.13", 44700, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
	memset(resp + n, 'b', body);
	n += body;
	n = pkt_build(frame, &f, false, 0, resp, n);
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = n,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb), .repeat = 1);
		int err = bpf_prog_test_run_opts(prog_eg, &opts);

		check(!err && (int)opts.retval == TC_ACT_UNSPEC, "super-packet passes",
		      "err=%d retval=%u", err, opts.retval);
	}
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("responses", s.responses, 2);
	CHECK_EQ("bytes_out exact", s.bytes_out,
		 3000 + strlen(RESP_OK) +
			 strlen("HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n"));
	CHECK_EQ("the next response framed right after it", s.lat.count, 2);
}
