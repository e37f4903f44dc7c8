// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pipeline.c - test_parse cases: pipelined requests and the pipelining depth. */
#include "harness.h"

void test_pipelined(void)
{
	char reqs[2048] = "", resps[4096] = "";
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.4", 40002, "10.0.0.1", 8080);
	for (int i = 0; i < 5; i++)
		strcat(reqs, REQ_A);
	strcat(resps, RESP_OK);
	strcat(resps, RESP_500);
	strcat(resps, RESP_OK);
	/* one segment holds 5 requests; the 5 responses come in two segments */
	send_str(&f, true, reqs);
	send_str(&f, false, resps);
	send_str(&f, false, RESP_OK RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("requests found inside one segment", s.requests, 5);
	CHECK_EQ("responses found inside segments", s.responses, 5);
	CHECK_EQ("5xx", s.status[HM_STATUS_5XX], 1);
	CHECK_EQ("latency samples", s.lat.count, 5);
	CHECK_EQ("bytes_in", s.bytes_in, strlen(reqs));
	CHECK_EQ("bytes_out", s.bytes_out, strlen(resps) + 2 * strlen(RESP_OK));
	CHECK_EQ("no pipeline overflow", monitor(HM_MON_PIPELINE_OVERFLOW), 0);
}

void test_pipeline_overflow(void)
{
	char reqs[4096] = "";
	struct flow f;
	struct hm_stats s;

	flow_v4(&f, "10.0.0.5", 40003, "10.0.0.1", 8080);
	for (int i = 0; i < HM_PIPELINE_DEPTH + 2; i++)
		strcat(reqs, REQ_A);
	send_str(&f, true, reqs);
	for (int i = 0; i < HM_PIPELINE_DEPTH + 2; i++)
		send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("requests", s.requests, HM_PIPELINE_DEPTH + 2);
	CHECK_EQ("responses", s.responses, HM_PIPELINE_DEPTH + 2);
	CHECK_EQ("latency only for remembered requests", s.lat.count, HM_PIPELINE_DEPTH);
	CHECK_EQ("overflow counted", monitor(HM_MON_PIPELINE_OVERFLOW), 2);
}

/*
 * Hostile input 3 (the README's table): bursts of 2, 10 and 100 pipelined requests in one write
 * (messages cut across segment boundaries), answered in one write.
 */
void test_pipeline_bursts(void)
{
	static const int sizes[] = { 2, 10, 100 };
	static char reqs[100 * sizeof(REQ_A)], resps[100 * sizeof(RESP_OK)];
	struct flow f;
	struct hm_stats s;

	for (int t = 0; t < 3; t++) {
		int n = sizes[t], kept = n < HM_PIPELINE_DEPTH ? n : HM_PIPELINE_DEPTH;
		char name[64];
		__u64 ovf0 = monitor(HM_MON_PIPELINE_OVERFLOW);

		reqs[0] = resps[0] = 0;
		for (int i = 0; i < n; i++) {
			strcat(reqs, REQ_A);
			strcat(resps, RESP_OK);
		}
		flow_v4(&f, "10.0.2.1", 42000 + t, "10.0.0.1", 8080);
		send_write(&f, true, reqs);
		send_write(&f, false, resps);
		client_stats(&f, &s);
		snprintf(name, sizeof(name), "burst of %d: requests and responses", n);
		check(s.requests == (__u64)n && s.responses == (__u64)n, name,
		      "requests=%llu responses=%llu", (unsigned long long)s.requests,
		      (unsigned long long)s.responses);
		snprintf(name, sizeof(name), "burst of %d: latency only for the %d remembered", n,
			 kept);
		CHECK_EQ(name, s.lat.count, kept);
		snprintf(name, sizeof(name), "burst of %d: the rest counted as pipeline_overflow",
			 n);
		CHECK_EQ(name, monitor(HM_MON_PIPELINE_OVERFLOW) - ovf0, n - kept);
		snprintf(name, sizeof(name), "burst of %d: bytes both ways", n);
		check(s.bytes_in == strlen(reqs) && s.bytes_out == strlen(resps), name,
		      "in=%llu out=%llu", (unsigned long long)s.bytes_in,
		      (unsigned long long)s.bytes_out);
		reset_maps();
	}
}
