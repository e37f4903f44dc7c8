// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lifecycle.c - test_parse cases: connection state: FIN and RST, idle aging, tunnels. */
#include "harness.h"

void test_fin_pending(void)
{
	uint32_t resp_seq, fin_seq;
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.8", 40009, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A REQ_A REQ_A);
	resp_seq = f.sseq;
	send_str(&f, false, RESP_OK);
	send_seg(&f, false, PKT_FIN, "", 0); /* server closes with two requests pending */
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, 3);
	CHECK_EQ("responses", s.responses, 1);
	CHECK_EQ("unanswered", s.unanswered, 2);
	CHECK_EQ("state kept after one FIN", live_conns(), 1);
	/* the response was lost after the monitor: the server sends it again */
	fin_seq = f.sseq;
	f.sseq = resp_seq;
	send_str(&f, false, RESP_OK);
	send_seg(&f, false, PKT_FIN, "", 0);
	f.sseq = fin_seq;
	client_stats(&f, &s);
	CHECK_EQ("a response resent after FIN is a retransmission", s.responses, 1);
	CHECK_EQ("and its bytes are not counted twice", s.bytes_out, strlen(RESP_OK));
	CHECK_EQ("unanswered counted once", s.unanswered, 2);
	CHECK_EQ("no orphan", monitor(HM_MON_ORPHAN_RESPONSES), 0);
	send_seg(&f, true, PKT_FIN, "", 0); /* the client's FIN acknowledges the server's */
	CHECK_EQ("state freed when both sides closed", live_conns(), 0);

	/* a client half-close waits for the answer */
	flow_v4(&f, "10.0.0.9", 40010, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_seg(&f, true, PKT_FIN, "", 0);
	send_str(&f, false, RESP_OK);
	send_seg(&f, false, PKT_FIN, "", 0);
	client_stats(&f, &s);
	CHECK_EQ("half-closed client still answered", s.responses, 1);
	CHECK_EQ("nothing unanswered", s.unanswered, 0);

	/* the server's FIN overtakes its lost answer; the retransmission follows */
	flow_v4(&f, "10.0.0.20", 40014, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	resp_seq = f.sseq;
	f.sseq += strlen(RESP_OK);
	send_seg(&f, false, PKT_FIN, "", 0);
	fin_seq = f.sseq;
	f.sseq = resp_seq;
	send_str(&f, false, RESP_OK);
	f.sseq = fin_seq;
	client_stats(&f, &s);
	CHECK_EQ("FIN ahead of its answer: answered", s.responses, 1);
	CHECK_EQ("FIN ahead of its answer: timed", s.lat.count, 1);
	CHECK_EQ("FIN ahead of its answer: nothing unanswered", s.unanswered, 0);
	send_seg(&f, true, PKT_FIN, "", 0);
	CHECK_EQ("FIN ahead of its answer: freed after both FINs", live_conns(), 0);

	/* FINs that cross: each acknowledges the other's data, neither the other's FIN */
	flow_v4(&f, "10.0.0.18", 40012, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	send_seg(&f, false, PKT_FIN, "", 0);
	f.sseq -= 1; /* the client's FIN left before the server's arrived */
	send_seg(&f, true, PKT_FIN, "", 0);
	f.sseq += 1;
	CHECK_EQ("FINs that cross free the state", live_conns(), 0);
	/* but not while data is unacknowledged: the server may still resend it */
	flow_v4(&f, "10.0.0.19", 40013, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	send_seg(&f, false, PKT_FIN, "", 0);
	f.sseq -= 1 + strlen(RESP_OK); /* the response has not reached the client */
	send_seg(&f, true, PKT_FIN, "", 0);
	f.sseq += 1 + strlen(RESP_OK);
	CHECK_EQ("crossing FINs with data unacknowledged keep the state", live_conns(), 1);
	clear_hash(fd_conns); /* left to the idle sweep (test idle_aging) */

	flow_v4(&f, "10.0.0.10", 40011, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_seg(&f, true, PKT_RST, "", 0);
	CHECK_EQ("RST frees the state at once", live_conns(), 0);
	client_stats(&f, &s);
	CHECK_EQ("RST: unanswered", s.unanswered, 1);
	CHECK_EQ("all state freed", live_conns(), 0);
}

/* Hostile input 6 (the README's table) (second half): requests on an idle connection age out into unanswered. */
void test_idle_aging(void)
{
	struct hm_config cfg = {};
	struct flow f1, f2;
	struct hm_stats s;
	__u32 zero = 0;
	uint64_t t0, waited;

	cfg.idle_timeout = 1;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	flow_v4(&f1, "10.0.3.6", 43005, "10.0.0.1", 8080);
	flow_v4(&f2, "10.0.3.7", 43006, "10.0.0.1", 8080);
	t0 = now_ns();
	send_str(&f1, true, REQ_A); /* never answered */
	send_str(&f2, true, REQ_A);
	send_str(&f2, false, RESP_OK); /* answered, then idle */
	usleep(700000);
	CHECK_EQ("not aged before idle_timeout", live_conns(), 2);
	while (live_conns() && now_ns() - t0 < 4000000000ULL)
		usleep(50000);
	waited = now_ns() - t0;
	CHECK_EQ("both idle connections aged", live_conns(), 0);
	check(waited >= 1000000000ULL && waited <= 2000000000ULL,
	      "aged between idle_timeout and 1.5 x idle_timeout (+ poll)", "after %llu ms",
	      (unsigned long long)(waited / 1000000));
	client_stats(&f1, &s);
	CHECK_EQ("the pending request is unanswered", s.unanswered, 1);
	client_stats(&f2, &s);
	CHECK_EQ("the answered one is not", s.unanswered, 0);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.unanswered == 1, "route /a unanswered",
	      "unanswered=%llu", (unsigned long long)s.unanswered);
	CHECK_EQ("idle_unanswered", monitor(HM_MON_IDLE_UNANSWERED), 1);
	CHECK_EQ("conns_aged", monitor(HM_MON_CONNS_AGED), 2);

	send_str(&f1, false, RESP_OK); /* a late answer: nothing left to pair it with */
	client_stats(&f1, &s);
	CHECK_EQ("a late answer is not paired", s.responses, 0);
	CHECK_EQ("it is an orphan", monitor(HM_MON_ORPHAN_RESPONSES), 1);
}

/*
 * After a 2xx answer to CONNECT, and after 101 Switching Protocols, the
 * connection carries another protocol: its bytes count, nothing in them is
 * parsed, and no request in it is unanswered.  A refused CONNECT or upgrade
 * leaves the connection HTTP.
 */
void test_tunnels(void)
{
	static const char connect[] =
		"CONNECT origin.test:8080 HTTP/1.1\r\nHost: origin.test:8080\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char denied[] =
		"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
	static const char upgrade[] = "GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
				      "Connection: Upgrade\r\n\r\n";
	static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
					"Connection: Upgrade\r\n\r\n";
	static const char *inside_c[] = { "GET / HTTP/1.1\r\nHost: origin\r\n\r\n",
					  "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
					  "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n" };
	static const char *inside_s[] = { "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
					  "\x81\x05hello",
					  "HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n" };
	struct hm_stats s, r, u;
	size_t in, out;
	struct flow f;

	for (int kind = 0; kind < 2; kind++) {
		const char *req = kind ? upgrade : connect, *ans = kind ? switching : ok;
		__u64 unparseable0 = monitor(HM_MON_UNPARSEABLE);

		set_config("path", NULL, NULL, 0, 0);
		flow_v4(&f, kind ? "10.0.5.9" : "10.0.5.10", 44390 + kind, "10.0.0.1", 3129);
		in = out = 0;
		if (!kind) { /* refused first (proxy authentication), then the tunnel */
			send_str(&f, true, connect);
			send_str(&f, false, denied);
			in += strlen(connect);
			out += strlen(denied);
		}
		send_str(&f, true, req);
		send_str(&f, false, ans);
		in += strlen(req);
		out += strlen(ans);
		for (int i = 0; i < 3; i++) {
			send_str(&f, true, inside_c[i]);
			send_str(&f, false, inside_s[i]);
			in += strlen(inside_c[i]);
			out += strlen(inside_s[i]);
		}
		send_seg(&f, true, PKT_FIN, "", 0);
		send_seg(&f, false, PKT_FIN, "", 0);
		client_stats(&f, &s);
		CHECK_EQ(kind ? "upgrade: one request" : "CONNECT: the refused one and the tunnel",
			 s.requests, kind ? 1 : 2);
		CHECK_EQ(kind ? "upgrade: one response, 101" : "CONNECT: 407, then 200",
			 s.responses, kind ? 1 : 2);
		CHECK_EQ(kind ? "upgrade: 101 is 1xx" : "CONNECT: the tunnel's 200 is 2xx",
			 kind ? s.status[HM_STATUS_1XX] : s.status[HM_STATUS_2XX], 1);
		CHECK_EQ(kind ? "upgrade: nothing unanswered" : "CONNECT: nothing unanswered",
			 s.unanswered, 0);
		CHECK_EQ(kind ? "upgrade: tunnel bytes in" : "CONNECT: tunnel bytes in", s.bytes_in,
			 in);
		CHECK_EQ(kind ? "upgrade: tunnel bytes out" : "CONNECT: tunnel bytes out",
			 s.bytes_out, out);
		CHECK_EQ(kind ? "upgrade: nothing unparseable" : "CONNECT: nothing unparseable",
			 monitor(HM_MON_UNPARSEABLE) - unparseable0, 0);
		CHECK_EQ("no orphan responses", monitor(HM_MON_ORPHAN_RESPONSES), 0);
		if (kind) {
			route_stats(HM_METHOD_GET, "/chat", &r);
			CHECK_EQ("upgrade: its route holds every byte", r.bytes_in + r.bytes_out,
				 in + out);
		} else {
			route_stats(HM_METHOD_CONNECT, "_connect", &r);
			CHECK_EQ("CONNECT: route _connect holds every byte",
				 r.bytes_in + r.bytes_out, in + out);
		}
		reset_maps();
	}

	/* An upgrade the server does not take: the connection stays HTTP. */
	set_config("path", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.11", 44393, "10.0.0.1", 8080);
	send_str(&f, true, upgrade);
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_500);
	client_stats(&f, &u);
	CHECK_EQ("refused upgrade: later requests count", u.requests, 2);
	CHECK_EQ("refused upgrade: and are answered", u.responses, 2);
	CHECK_EQ("refused upgrade: the 500 is seen", u.status[HM_STATUS_5XX], 1);
}

/*
 * hm-load rewrites hm_aging, which cancels the sweep; it then runs
 * hm_aging_kick so connections already idle are still aged when no packet
 * ever comes again.
 */
void test_aging_kick(void)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct hm_config cfg = {};
	struct flow f;
	struct hm_stats s;
	__u32 zero = 0;
	uint64_t t0;
	int err;

	cfg.idle_timeout = 1;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	flow_v4(&f, "10.0.5.13", 44387, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A); /* never answered; arms the sweep */
	reset_aging(); /* what a re-run of hm-load does */
	err = bpf_prog_test_run_opts(prog_kick, &opts);
	CHECK_EQ("hm_aging_kick runs", err, 0);
	t0 = now_ns();
	while (live_conns() && now_ns() - t0 < 4000000000ULL)
		usleep(50000);
	CHECK_EQ("the idle connection is aged with no packet after the kick", live_conns(), 0);
	client_stats(&f, &s);
	CHECK_EQ("its pending request is unanswered", s.unanswered, 1);
	CHECK_EQ("idle_unanswered", monitor(HM_MON_IDLE_UNANSWERED), 1);
}

/* TCP Fast Open: the request rides on the SYN, whose own sequence number comes first. */
void test_fast_open(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.5.14", 44800, "10.0.0.1", 8080);
	send_seg(&f, true, PKT_SYN, REQ_A, strlen(REQ_A));
	send_seg(&f, false, PKT_SYN, "", 0);
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, 2);
	CHECK_EQ("both timed", s.lat.count, 2);
	CHECK_EQ("bytes_in", s.bytes_in, strlen(REQ_A) + strlen(REQ_B));
	CHECK_EQ("no gap after the SYN's data", monitor(HM_MON_SEQ_GAPS), 0);
}
