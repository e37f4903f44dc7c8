// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* loss.c - test_parse cases: retransmissions, gaps, reordering and pairing after a loss. */
#include "harness.h"

void test_retransmission(void)
{
	struct flow f;
	struct hm_stats s;
	uint32_t seq;

	flow_v4(&f, "10.0.0.7", 40008, "10.0.0.1", 8080);
	seq = f.cseq;
	send_str(&f, true, REQ_A);
	f.cseq = seq; /* the same segment again */
	send_str(&f, true, REQ_A);
	seq = f.sseq;
	send_str(&f, false, RESP_OK);
	f.sseq = seq + 10; /* partial overlap: 10 old bytes, then a new response */
	{
		char buf[256];

		snprintf(buf, sizeof(buf), "%s%s", RESP_OK + 10, RESP_OK);
		f.sseq = seq + 10;
		send_str(&f, true, REQ_A); /* the request the second response answers */
		send_str(&f, false, buf);
	}
	client_stats(&f, &s);
	CHECK_EQ("retransmitted request not counted", s.requests, 2);
	CHECK_EQ("responses (overlap skipped)", s.responses, 2);
	CHECK_EQ("bytes_in excludes the retransmission", s.bytes_in, 2 * strlen(REQ_A));
	CHECK_EQ("bytes_out excludes the overlap", s.bytes_out, 2 * strlen(RESP_OK));
	CHECK_EQ("retrans_segments", monitor(HM_MON_RETRANS_SEGMENTS), 1);
	CHECK_EQ("retrans_bytes", monitor(HM_MON_RETRANS_BYTES),
		 strlen(REQ_A) + strlen(RESP_OK) - 10);
}

void test_orphan_and_mid_stream(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.14", 40032, "10.0.0.1", 8080);
	/* attached mid-connection: a body tail, then a response with no request */
	send_str(&f, false, "tail of an earlier body");
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("orphan response counted apart", monitor(HM_MON_ORPHAN_RESPONSES), 1);
	CHECK_EQ("responses paired with requests only", s.responses, 1);
	CHECK_EQ("latency only for the paired one", s.lat.count, 1);
}

/*
 * Hostile input 6 (the README's table): a response segment lost before the monitor.  Two
 * pipelined requests; the answer to /a never shows, the answer to /b does.
 * It must not be paired with /a: both requests are written off as
 * unanswered, and timing resumes with the next request.
 */
void test_gap_response(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.3.1", 43000, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, true, REQ_B);
	f.sseq += strlen(RESP_OK); /* the answer to /a is lost on the way */
	send_str(&f, false, RESP_500);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, 2);
	CHECK_EQ("no response paired across the gap", s.responses, 0);
	CHECK_EQ("no latency sample", s.lat.count, 0);
	CHECK_EQ("both requests written off as unanswered", s.unanswered, 2);
	CHECK_EQ("gap_unanswered", monitor(HM_MON_GAP_UNANSWERED), 2);
	CHECK_EQ("seq_gaps", monitor(HM_MON_SEQ_GAPS), 1);
	CHECK_EQ("the response after the gap is an orphan", monitor(HM_MON_ORPHAN_RESPONSES), 1);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.responses == 0 && s.unanswered == 1,
	      "route /a: no response, unanswered", "responses=%llu unanswered=%llu",
	      (unsigned long long)s.responses, (unsigned long long)s.unanswered);

	send_str(&f, true, REQ_C);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("after the gap: the next request is answered", s.responses, 1);
	CHECK_EQ("after the gap: and timed", s.lat.count, 1);
	check(route_stats(HM_METHOD_GET, "/c", &s) && s.responses == 1 &&
		      s.status[HM_STATUS_2XX] == 1,
	      "route /c gets its own 200", "responses=%llu", (unsigned long long)s.responses);

	/*
	 * The answer to /a is sent before the server has /b (its ACK says so);
	 * its status line is lost, its body arrives: /a is written off, /b
	 * keeps its place and is paired with its own answer.
	 */
	flow_v4(&f, "10.0.3.2", 43001, "10.0.0.1", 8080);
	{
		uint32_t after_a, after_b;

		send_str(&f, true, REQ_A);
		after_a = f.cseq;
		send_str(&f, true, REQ_B);
		after_b = f.cseq;
		f.cseq = after_a; /* the server acknowledges /a only */
		f.sseq += strlen(RESP_OK) - 5;
		send_str(&f, false, "hello");
		f.cseq = after_b;
		send_str(&f, false, RESP_500);
	}
	client_stats(&f, &s);
	CHECK_EQ("ack: only the request the server had is written off", s.unanswered, 1);
	CHECK_EQ("ack: the later request is answered", s.responses, 1);
	CHECK_EQ("ack: and timed", s.lat.count, 1);
	check(route_stats(HM_METHOD_GET, "/b", &s) && s.status[HM_STATUS_5XX] == 1,
	      "ack: route /b gets its own 500", "5xx=%llu",
	      (unsigned long long)s.status[HM_STATUS_5XX]);
}

/*
 * Hostile input 5 (the README's table): a request body arrives out of order (its middle segment
 * after its end).  Requests and responses stay exact, and timing goes on:
 * the client never pipelined, so no request can have hidden in the gap.
 */
void test_out_of_order(void)
{
	static const char head[] = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n";
	struct flow f;
	struct hm_stats s;
	uint32_t mid;

	flow_v4(&f, "10.0.3.3", 43002, "10.0.0.1", 8080);
	send_str(&f, true, head);
	mid = f.cseq;
	f.cseq += 10;
	send_str(&f, true, "abcdefghij"); /* the end of the body first */
	f.cseq = mid;
	send_str(&f, true, "0123456789"); /* then the middle: it fills the hole */
	f.cseq = mid + 20;
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_500);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, 2);
	CHECK_EQ("responses", s.responses, 2);
	CHECK_EQ("2xx", s.status[HM_STATUS_2XX], 1);
	CHECK_EQ("5xx", s.status[HM_STATUS_5XX], 1);
	CHECK_EQ("both timed", s.lat.count, 2);
	CHECK_EQ("nothing written off", s.unanswered, 0);
	CHECK_EQ("the gap is counted", monitor(HM_MON_SEQ_GAPS), 1);
	CHECK_EQ("no orphan", monitor(HM_MON_ORPHAN_RESPONSES), 0);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.status[HM_STATUS_5XX] == 1 &&
		      s.lat.count == 1,
	      "route /a gets its own 500", "5xx=%llu", (unsigned long long)s.status[HM_STATUS_5XX]);
	CHECK_EQ("route /a: its request's bytes", s.bytes_in, strlen(REQ_A));
	client_stats(&f, &s);
	CHECK_EQ("client bytes exact: the late middle is counted", s.bytes_in,
		 strlen(head) + 20 + strlen(REQ_A));
	CHECK_EQ("hole_bytes", monitor(HM_MON_HOLE_BYTES), 10);
	CHECK_EQ("the late middle is no retransmission", monitor(HM_MON_RETRANS_SEGMENTS), 0);
}

/*
 * Loss before the monitor: the middle of a response never passes, later
 * segments do, then the sender's retransmission fills the hole.  The gap
 * lies inside the body, so the framing moves past it: counts, bytes and
 * both latencies stay exact.  A gap that reaches past the body's end is
 * test_gap_response's case.
 */
void test_upstream_loss(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n";
	static char body[3000];
	struct flow f;
	struct hm_stats s;
	uint32_t mid;

	memset(body, 'z', sizeof(body));
	flow_v4(&f, "10.0.3.9", 43020, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, false, head);
	send_seg(&f, false, 0, body, 1000);
	mid = f.sseq;
	f.sseq += 1000; /* lost before the monitor */
	send_seg(&f, false, 0, body + 2000, 1000);
	f.sseq = mid;
	send_seg(&f, false, 0, body + 1000, 1000); /* the retransmission */
	f.sseq = mid + 2000;
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, 2);
	CHECK_EQ("responses", s.responses, 2);
	CHECK_EQ("both timed to the first byte", s.lat.count, 2);
	CHECK_EQ("the gap lay inside the body: both timed to the last byte too", s.lat_last.count,
		 2);
	CHECK_EQ("bytes_out exact", s.bytes_out, strlen(head) + sizeof(body) + strlen(RESP_OK));
	CHECK_EQ("hole_bytes", monitor(HM_MON_HOLE_BYTES), 1000);
	CHECK_EQ("nothing written off: the answered request was already paired",
		 monitor(HM_MON_GAP_UNANSWERED), 0);
	CHECK_EQ("no orphan", monitor(HM_MON_ORPHAN_RESPONSES), 0);

	/* the same inside a chunk */
	reset_maps();
	flow_v4(&f, "10.0.3.10", 43021, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n");
	send_seg(&f, false, 0, body, 1000);
	mid = f.sseq;
	f.sseq += 1000;
	send_seg(&f, false, 0, body, 1000);
	f.sseq = mid;
	send_seg(&f, false, 0, body, 1000);
	f.sseq = mid + 2000;
	send_str(&f, false, "\r\n0\r\n\r\n");
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("gap inside a chunk: responses", s.responses, 2);
	CHECK_EQ("gap inside a chunk: last byte timed", s.lat_last.count, 2);
	CHECK_EQ("gap inside a chunk: nothing unparseable", monitor(HM_MON_UNPARSEABLE), 0);

	/* a gap that runs past the body's end may hide a message start: framing is lost */
	reset_maps();
	flow_v4(&f, "10.0.3.11", 43022, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, true, REQ_B);
	send_seg(&f, false, 0, head, strlen(head));
	send_seg(&f, false, 0, body, 2000);
	f.sseq += 1000 + strlen(RESP_OK); /* the body's end and the answer to /b */
	send_str(&f, false, RESP_500); /* an answer to nothing the monitor can tell */
	client_stats(&f, &s);
	CHECK_EQ("gap past the body: the pending request written off", s.unanswered, 1);
	CHECK_EQ("gap past the body: gap_unanswered", monitor(HM_MON_GAP_UNANSWERED), 1);
	CHECK_EQ("gap past the body: the next answer is not paired", s.responses, 1);
}

/*
 * Hostile input 5 (the README's table) with pipelining: /b is lost in a gap between /a and /c.
 * The answer to /b must not be taken for /c's: after the gap the client's
 * requests are counted but not timed, for as long as the connection lives.
 */
void test_gap_request_pipelined(void)
{
	struct flow f;
	struct hm_stats s;
	uint32_t at_b;

	flow_v4(&f, "10.0.3.4", 43003, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	at_b = f.cseq;
	f.cseq += strlen(REQ_B);
	send_str(&f, true, REQ_C);
	f.cseq = at_b;
	send_str(&f, true, REQ_B); /* the retransmission that fills the hole */
	f.cseq = at_b + strlen(REQ_B) + strlen(REQ_C);
	send_str(&f, false, RESP_OK); /* /a */
	send_str(&f, false, RESP_500); /* /b */
	send_str(&f, false, RESP_OK); /* /c */
	client_stats(&f, &s);
	CHECK_EQ("requests seen", s.requests, 2);
	CHECK_EQ("only /a is timed", s.lat.count, 1);
	CHECK_EQ("responses after the gap not timed", monitor(HM_MON_GAP_UNTIMED), 1);
	check(!route_stats(HM_METHOD_GET, "/c", &s) || (s.responses == 0 && s.lat.count == 0),
	      "the 500 of /b is not given to route /c", "responses=%llu 5xx=%llu",
	      (unsigned long long)s.responses, (unsigned long long)s.status[HM_STATUS_5XX]);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.lat.count == 1 &&
		      s.status[HM_STATUS_2XX] == 1,
	      "route /a timed", "lat=%llu", (unsigned long long)s.lat.count);

	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("a pipelining connection stays untimed", s.lat.count, 1);
}

/*
 * Hostile input 7 (the README's table), with a request in flight: the monitor sees /b first, but
 * the server is still answering a request sent before (its ACK stops short
 * of /b).  That answer is not paired with /b.
 */
void test_early_response(void)
{
	struct flow f;
	struct hm_stats s;
	uint32_t after_b;

	flow_v4(&f, "10.0.3.5", 43004, "10.0.0.1", 8080);
	f.cseq += strlen(REQ_A); /* sent before the monitor was attached */
	send_str(&f, true, REQ_B);
	after_b = f.cseq;
	f.cseq = after_b - strlen(REQ_B);
	send_str(&f, false, RESP_500);
	f.cseq = after_b;
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("early_responses", monitor(HM_MON_EARLY_RESPONSES), 1);
	CHECK_EQ("orphan_responses", monitor(HM_MON_ORPHAN_RESPONSES), 1);
	CHECK_EQ("responses", s.responses, 1);
	CHECK_EQ("no 5xx for this client's known request", s.status[HM_STATUS_5XX], 0);
	CHECK_EQ("timed", s.lat.count, 1);
}

/*
 * A segment seen at a second hook is not a retransmission: on loopback every
 * segment crosses egress and then ingress, with a bridge and its port both
 * monitored every segment crosses both.  Counted once, where first seen.
 */
void test_repeat_sightings(void)
{
	uint8_t frame[PKT_MAX];
	struct hm_stats s;
	struct flow f;
	size_t n;
	const char *msgs[] = { REQ_A, RESP_OK, REQ_A, RESP_500 };

	flow_v4(&f, "127.0.0.1", 44388, "127.0.0.1", 8080);
	for (int i = 0; i < 4; i++) {
		n = pkt_build(frame, &f, i % 2 == 0, 0, msgs[i], strlen(msgs[i]));
		run(true, frame, n); /* loopback's egress */
		run(false, frame, n); /* and its ingress */
	}
	n = pkt_build(frame, &f, true, 0, REQ_A, strlen(REQ_A));
	run(true, frame, n);
	run(true, frame, n); /* a real retransmission, at the same hook */
	run(false, frame, n);
	client_stats(&f, &s);
	CHECK_EQ("requests counted once", s.requests, 3);
	CHECK_EQ("responses counted once", s.responses, 2);
	CHECK_EQ("bytes counted once", s.bytes_in, 3 * strlen(REQ_A));
	CHECK_EQ("repeat_segments: the second sightings", monitor(HM_MON_REPEAT_SEGMENTS), 5);
	CHECK_EQ("retrans_segments: only the real retransmission", monitor(HM_MON_RETRANS_SEGMENTS),
		 1);
}
