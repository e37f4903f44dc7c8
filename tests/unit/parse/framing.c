// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* framing.c - test_parse cases: message framing: start lines, headers, bodies by length or chunks, bad input. */
#include "harness.h"

void test_request_response(void)
{
	struct flow f;
	struct hm_stats s;
	uint64_t t0, t1;

	flow_v4(&f, "10.0.0.2", 40000, "10.0.0.1", 8080);
	t0 = now_ns();
	send_str(&f, true, REQ_A);
	usleep(2000);
	send_str(&f, false, RESP_OK);
	t1 = now_ns();

	check(client_stats(&f, &s), "client row exists", "no row for 10.0.0.2");
	CHECK_EQ("requests", s.requests, 1);
	CHECK_EQ("responses", s.responses, 1);
	CHECK_EQ("2xx", s.status[HM_STATUS_2XX], 1);
	CHECK_EQ("bytes_in = request bytes", s.bytes_in, strlen(REQ_A));
	CHECK_EQ("bytes_out = response bytes", s.bytes_out, strlen(RESP_OK));
	CHECK_EQ("one latency sample", s.lat.count, 1);
	check(s.lat.sum_ns >= 2000000 && s.lat.sum_ns <= t1 - t0, "latency within [sleep, elapsed]",
	      "%llu ns not in [2000000, %llu]", (unsigned long long)s.lat.sum_ns,
	      (unsigned long long)(t1 - t0));
	CHECK_EQ("ok-latency sample", s.lat_ok.count, 1);
	CHECK_EQ("no fail-latency sample", s.lat_fail.count, 0);
	check(port_stats(8080, &s) && s.requests == 1 && s.responses == 1, "port 8080 row",
	      "requests=%llu", (unsigned long long)s.requests);
	check(!port_stats(40000, &s), "client port is not a service", "row for port 40000");
}

void test_status_classes(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.3", 40001, "10.0.0.1", 8888);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_500);
	send_str(&f, true, REQ_A);
	send_str(&f, false, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	send_str(&f, true, REQ_A);
	send_str(&f, false, "HTTP/1.0 301 Moved\r\nContent-Length: 0\r\n\r\n");
	client_stats(&f, &s);
	CHECK_EQ("responses", s.responses, 3);
	CHECK_EQ("5xx", s.status[HM_STATUS_5XX], 1);
	CHECK_EQ("4xx", s.status[HM_STATUS_4XX], 1);
	CHECK_EQ("3xx", s.status[HM_STATUS_3XX], 1);
	CHECK_EQ("fail latency samples (5xx only)", s.lat_fail.count, 1);
	CHECK_EQ("ok latency samples (<500)", s.lat_ok.count, 2);
}

/* Hostile input 2 (the README's table): status line alone, then headers, then the body: counted once. */
void test_response_in_pieces(void)
{
	struct flow f;
	struct hm_stats s;
	uint64_t t_req, t_status;

	flow_v4(&f, "10.0.2.2", 42010, "10.0.0.1", 8080);
	t_req = now_ns();
	send_str(&f, true, REQ_A);
	usleep(2000);
	send_str(&f, false, "HTTP/1.1 200 OK\r\n");
	t_status = now_ns();
	usleep(3000);
	send_str(&f, false, "Content-Type: text/plain\r\nContent-Length: 10\r\n\r\n");
	send_str(&f, false, "0123456789");
	client_stats(&f, &s);
	CHECK_EQ("counted once", s.responses, 1);
	check(s.lat.max_ns >= 2000000 && s.lat.max_ns <= t_status - t_req,
	      "latency ends at the status line, not at the headers or the body",
	      "%llu ns not in [2000000, %llu]", (unsigned long long)s.lat.max_ns,
	      (unsigned long long)(t_status - t_req));
	CHECK_EQ("one last-byte sample", s.lat_last.count, 1);
	check(s.lat_last.max_ns >= s.lat.max_ns + 3000000,
	      "last-byte latency includes the wait for the body", "last=%llu first=%llu",
	      (unsigned long long)s.lat_last.max_ns, (unsigned long long)s.lat.max_ns);
	CHECK_EQ(
		"bytes_out", s.bytes_out,
		strlen("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n0123456789"));
}

void test_split_request_line(void)
{
	static const char *parts[] = { "GE", "T /a HT", "TP/1.1\r\nHo", "st: t\r\n", "\r\n" };
	size_t total = 0;
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.6", 40007, "10.0.0.1", 8080);
	for (int i = 0; i < 5; i++) {
		send_str(&f, true, parts[i]);
		total += strlen(parts[i]);
	}
	/* and a status line split inside the status code */
	send_str(&f, false, "HTTP/1.1 2");
	send_str(&f, false, "04 No Content\r\n\r\n");
	client_stats(&f, &s);
	CHECK_EQ("one request from five segments", s.requests, 1);
	CHECK_EQ("bytes_in", s.bytes_in, total);
	CHECK_EQ("response with split status", s.status[HM_STATUS_2XX], 1);
	CHECK_EQ("latency sample", s.lat.count, 1);
}

void test_non_http(void)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb\xcc";
	static const char *junk[] = {
		"SSH-2.0-OpenSSH_9.2p1 Debian\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GE(T / HTTP/1.1\r\n\r\n",
		"HTTP/1.1 2 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n",
		"HTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20x OK\r\n\r\n",
		"EHLO mail.example\r\n",
	};
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.11", 40012, "10.0.0.1", 443);
	send_seg(&f, true, 0, tls, sizeof(tls) - 1);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		flow_v4(&f, "10.0.0.11", 40013 + i, "10.0.0.1", 80);
		send_str(&f, true, junk[i]);
		send_str(&f, false, junk[i]);
	}
	check(!client_stats(&f, &s), "no phantom requests or responses", "row with %llu requests",
	      (unsigned long long)s.requests);
	CHECK_EQ("no connection state for non-HTTP flows", live_conns(), 0);
}

void test_body_is_not_a_message(void)
{
	static const char post[] = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 22\r\n\r\n"
				   "GET /fake HTTP/1.1\r\n\r\n";
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "13\r\nHTTP/1.1 500 XX\r\n\r\n\r\n"
				      "5;ext=1\r\nGET /\r\n0\r\nX-Trailer: 1\r\n\r\n";
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.12", 40030, "10.0.0.1", 8080);
	/* the request body spans two segments and looks like a request itself */
	send_seg(&f, true, 0, post, strlen(post) - 10);
	send_seg(&f, true, 0, post + strlen(post) - 10, 10);
	send_str(&f, false, chunked);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_500);
	client_stats(&f, &s);
	CHECK_EQ("requests (bodies skipped)", s.requests, 2);
	CHECK_EQ("responses (chunks skipped)", s.responses, 2);
	CHECK_EQ("5xx only the real one", s.status[HM_STATUS_5XX], 1);
	CHECK_EQ("bytes_in", s.bytes_in, strlen(post) + strlen(REQ_A));
	CHECK_EQ("bytes_out", s.bytes_out, strlen(chunked) + strlen(RESP_500));
	CHECK_EQ("nothing unparseable", monitor(HM_MON_UNPARSEABLE), 0);
}

void test_head_and_interim(void)
{
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.13", 40031, "10.0.0.1", 8080);
	send_str(&f, true, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
	/* Content-Length of a HEAD response announces a body that never comes */
	send_str(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
	send_str(&f, true, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
	send_str(&f, false, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str(&f, true, "hi");
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, 2);
	CHECK_EQ("final responses", s.responses, 2);
	CHECK_EQ("2xx", s.status[HM_STATUS_2XX], 2);
	CHECK_EQ("interim not a response", s.status[HM_STATUS_1XX], 0);
	CHECK_EQ("interim counted", monitor(HM_MON_INTERIM_RESPONSES), 1);
	CHECK_EQ("latency samples", s.lat.count, 2);
}

void test_padding_and_bad_length(void)
{
	struct flow f;
	struct hm_stats s;
	uint8_t frame[PKT_MAX];
	size_t n;

	flow_v4(&f, "10.0.0.16", 40035, "10.0.0.1", 8080);
	/* 60-byte minimum Ethernet frame: padding after the IP packet is not payload */
	n = pkt_build(frame, &f, true, 0, "GET / HTTP/1.1\r\n", 16);
	memset(frame + n, 'G', 20);
	run(false, frame, n + 20);
	send_str(&f, true, "\r\n");
	send_str(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n");
	client_stats(&f, &s);
	CHECK_EQ("padding not counted", s.bytes_in, 18);
	CHECK_EQ("absurd Content-Length flagged", monitor(HM_MON_BAD_LENGTH), 1);
	CHECK_EQ("the response itself still counted", s.responses, 1);
}

/* Hostile input 8 (the README's table): malformed status lines are never counted as a status. */
void test_malformed_status(void)
{
	static const char *bad[] = {
		"HTTP/1.1 2 OK\r\n\r\n",   "HTTP/1.1  200 OK\r\n\r\n", "HTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 200\n",	       "HTTP/1.1 200 OK\n\n",
		"HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 600 High\r\n\r\n",
	};
	/* "HTTP/1.1 200\n" and "...OK\n\n" are valid: RFC 9112 allows a bare LF. */
	const int valid = 2;
	struct flow f;
	struct hm_stats s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		flow_v4(&f, "10.0.5.1", 44000 + i, "10.0.0.1", 8080);
		send_str(&f, true, REQ_A);
		send_str(&f, false, bad[i]);
	}
	flow_v4(&f, "10.0.5.1", 0, "10.0.0.1", 8080);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, sizeof(bad) / sizeof(bad[0]));
	CHECK_EQ("only the two well-formed ones are responses", s.responses, valid);
	CHECK_EQ("with status 2xx", s.status[HM_STATUS_2XX], valid);
	CHECK_EQ("no other status class",
		 s.status[HM_STATUS_1XX] + s.status[HM_STATUS_3XX] + s.status[HM_STATUS_4XX] +
			 s.status[HM_STATUS_5XX],
		 0);
	CHECK_EQ("the others are unparseable", monitor(HM_MON_UNPARSEABLE),
		 sizeof(bad) / sizeof(bad[0]) - valid);
}

/*
 * Hostile input 9 (the README's table): absurd or ambiguous lengths.  Five pipelined requests;
 * each response below comes in its own segment, so the framing that a bad
 * length loses is found again at the next one.
 */
void test_lengths(void)
{
	static const char dup_same[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello";
	static const char dup_diff[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
	static const char te_cl[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
		"5\r\nhello\r\n0\r\n\r\n" RESP_OK;
	static const char negative[] = "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.5.2", 44100, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A REQ_A REQ_A REQ_A REQ_A);
	send_str(&f, false, dup_same);
	send_str(&f, false, dup_diff);
	send_str(&f, false, te_cl);
	send_str(&f, false, negative);
	client_stats(&f, &s);
	CHECK_EQ("every response counted once", s.responses, 5);
	CHECK_EQ("differing and negative lengths flagged", monitor(HM_MON_BAD_LENGTH), 2);
	CHECK_EQ("chunked with Content-Length flagged", monitor(HM_MON_TE_AND_CL), 1);
	CHECK_EQ("identical duplicates are fine: nothing unparseable", monitor(HM_MON_UNPARSEABLE),
		 0);
	CHECK_EQ("nothing unanswered", s.unanswered, 0);
	/* framed by chunked, not by the 3 bytes: the response after it was found */
	CHECK_EQ("every byte, framed or not", s.bytes_out,
		 strlen(dup_same) + strlen(dup_diff) + strlen(te_cl) + strlen(negative));
}

/* Hostile input 10 (the README's table): a 70,000-byte request line and a 100 KiB header block: bounded, counted. */
void test_long_lines(void)
{
	static char req[110000];
	struct flow f;
	struct hm_stats s;
	size_t n;

	flow_v4(&f, "10.0.5.3", 44200, "10.0.0.1", 8080);
	n = snprintf(req, sizeof(req), "GET /");
	memset(req + n, 'x', 70000);
	n += 70000;
	n += snprintf(req + n, sizeof(req) - n, " HTTP/1.1\r\nHost: t\r\n\r\n");
	send_write(&f, true, req);
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("long request line: requests", s.requests, 2);
	CHECK_EQ("long request line: responses", s.responses, 2);
	CHECK_EQ("long request line: the route label is cut, and counted",
		 monitor(HM_MON_ROUTE_TRUNCATED), 1);
	CHECK_EQ("long request line: every byte", s.bytes_in, strlen(req) + strlen(REQ_B));
	check(route_stats(HM_METHOD_GET, "/b", &s) && s.responses == 1,
	      "long request line: the next request has its own route", "responses=%llu",
	      (unsigned long long)s.responses);

	/* one header line longer than the parser follows: given up, counted, found again */
	reset_maps();
	flow_v4(&f, "10.0.5.3", 44202, "10.0.0.1", 8080);
	n = snprintf(req, sizeof(req), "GET /big HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'y', 70000);
	n += 70000;
	n += snprintf(req + n, sizeof(req) - n, "\r\n\r\n");
	send_write(&f, true, req);
	send_str(&f, false, RESP_OK);
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("70,000-byte header line: truncation counted", monitor(HM_MON_TRUNCATED), 1);
	CHECK_EQ("70,000-byte header line: both requests answered", s.responses, 2);
	CHECK_EQ("70,000-byte header line: and timed", s.lat.count, 2);

	reset_maps();
	flow_v4(&f, "10.0.5.4", 44201, "10.0.0.1", 8080);
	n = snprintf(req, sizeof(req), "GET /h HTTP/1.1\r\n");
	for (int i = 0; i < 100; i++) {
		n += snprintf(req + n, sizeof(req) - n, "X-Filler-%03d: ", i);
		memset(req + n, 'v', 1000);
		n += 1000;
		n += snprintf(req + n, sizeof(req) - n, "\r\n");
	}
	n += snprintf(req + n, sizeof(req) - n, "\r\n");
	send_write(&f, true, req);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("100 KiB of headers: one request", s.requests, 1);
	CHECK_EQ("100 KiB of headers: answered and timed", s.lat.count, 1);
	CHECK_EQ("100 KiB of headers: every byte", s.bytes_in, n);
	CHECK_EQ("100 KiB of headers: nothing truncated", monitor(HM_MON_TRUNCATED), 0);
	CHECK_EQ("100 KiB of headers: within the step budget", monitor(HM_MON_PARSE_BUDGET), 0);
}

/*
 * A segment that ends with the byte that decides its start line (the rest
 * of it came byte by byte) leaves the line classified but not taken; the
 * next segment takes it.  A segment of another connection in between (on
 * the same CPU, or the next one on another CPU) must not change what it is.
 */
void test_start_decided_at_segment_end(void)
{
	struct flow a, b;
	struct hm_stats s;

	flow_v4(&a, "10.0.0.16", 40016, "10.0.0.1", 8080);
	flow_v4(&b, "10.0.0.17", 40017, "10.0.0.1", 8080);
	send_str(&a, true, "GE");
	send_str(&a, true, "T "); /* "GET " decides: a request, taken with the next segment */
	/* another connection's response classifies a start line in between */
	send_str(&b, true, "POST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	send_str(&b, false, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
	send_str(&a, true, "/a HTTP/1.1\r\nHost: t\r\n\r\n");
	send_str(&a, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	client_stats(&a, &s);
	CHECK_EQ("the request decided at a segment's end is counted", s.requests, 1);
	CHECK_EQ("and answered", s.status[HM_STATUS_2XX], 1);
	CHECK_EQ("nothing unanswered", s.unanswered, 0);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.requests == 1, "its route is GET /a",
	      "requests=%llu", (unsigned long long)s.requests);
}
