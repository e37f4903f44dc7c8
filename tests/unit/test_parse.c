// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_parse - BPF unit tests of the httpmon classifier.
 *
 * Loads build/httpmon.o (maps unpinned, private to this process), feeds it
 * crafted frames with bpf_prog_test_run_opts() and checks what it wrote to its
 * maps against what the test sent.  test_run builds linear skbs only; the
 * namespace tests cover non-linear and GSO ones.
 *
 * Usage: test_parse [OBJECT] [NAME-SUBSTRING]
 * Prints "ok - NAME" / "not ok - NAME: why" per check; exits 1 on failure.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "httpmon.h"
#include "hm_common.h"
#include "hm_pin.h"
#include "hm_route.h"
#include "pkt.h"

static struct bpf_object *obj;
static int prog_in, prog_eg, prog_xdp;
static bool via_xdp; /* client-to-server frames go through the XDP program */
static int fd_monitor, fd_conns, fd_config, fd_routes, fd_route_ids, fd_route_pats, fd_aging;
static int fd_hist, fd_method_ids, fd_row_ids, prog_kick;
static struct hm_maps maps; /* the same fds, for the pin library's interval functions */
static int ncpus, failures, checks;
static const char *current;

static void route_dump(void);

static void check(bool cond, const char *what, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (cond) {
		printf("ok - %s: %s\n", current, what);
		return;
	}
	if (!strncmp(current, "route", 5))
		route_dump();
	failures++;
	printf("not ok - %s: %s: ", current, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define CHECK_EQ(what, got, want)                                                          \
	check((unsigned long long)(got) == (unsigned long long)(want), what,               \
	      "got %llu, want %llu", (unsigned long long)(got), (unsigned long long)(want))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void clear_hash(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char key[64], next[64];
	size_t key_size;

	bpf_obj_get_info_by_fd(fd, &info, &len);
	key_size = info.key_size;

	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

/* Rewriting the sweep's entry cancels its timer: the next new connection arms a fresh one. */
static void reset_aging(void)
{
	static char zero_value[4096];
	__u32 zero = 0;

	bpf_map_update_elem(fd_aging, &zero, zero_value, BPF_ANY);
}

/* Everything back to a fresh map set: both generations, routes, methods, connections. */
static void reset_maps(void)
{
	struct hm_config cfg = {};
	__u32 zero = 0;

	hm_gen_clear(&maps, 0);
	hm_gen_clear(&maps, 1);
	clear_hash(fd_conns);
	clear_hash(fd_route_ids);
	clear_hash(fd_method_ids);
	clear_hash(maps.host_ids);
	clear_hash(maps.hr_ids);
	for (__u32 slot = 0; slot < HM_SEQ_SLOTS; slot++)
		bpf_map_update_elem(maps.seq, &slot, &zero, BPF_ANY);
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	reset_aging();
}

/* Runs one frame through the ingress (or egress) program; the verdict must never change. */
static void run(bool egress, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .repeat = 1);
	bool xdp = via_xdp && !egress;
	int err = bpf_prog_test_run_opts(xdp ? prog_xdp : egress ? prog_eg : prog_in, &opts);
	int want = xdp ? XDP_PASS : TC_ACT_UNSPEC;

	if (err || (int)opts.retval != want) {
		failures++;
		printf("not ok - %s: test_run err=%d retval=%d (must be %s)\n", current, err,
		       (int)opts.retval, xdp ? "XDP_PASS" : "TC_ACT_UNSPEC");
	}
}

/* Sends one segment of payload from the client (ingress) or the server (egress). */
static void send_seg(struct flow *f, bool from_client, int flags, const char *payload, size_t len)
{
	uint8_t frame[PKT_MAX];
	size_t n = pkt_build(frame, f, from_client, flags, payload, len);

	run(!from_client, frame, n);
}

static void send_str(struct flow *f, bool from_client, const char *s)
{
	send_seg(f, from_client, 0, s, strlen(s));
}

struct hm_client_key {
	struct hm_addr ip;
};

static void client_key(const struct flow *f, struct hm_client_key *k)
{
	memset(k, 0, sizeof(*k));
	if (f->v6) {
		memcpy(k->ip.a, f->cli, 16);
	} else {
		k->ip.a[10] = k->ip.a[11] = 0xff;
		memcpy(&k->ip.a[12], f->cli, 4);
	}
}

/* Adds entry idx of a per-CPU stats array to out. */
static void add_stats(int fd, __u32 idx, struct hm_stats *out)
{
	struct hm_stats *percpu = calloc(ncpus, sizeof(*percpu)), sum, pair[2];

	if (!bpf_map_lookup_elem(fd, &idx, percpu)) {
		hm_stats_sum(&sum, percpu, ncpus);
		pair[0] = *out;
		pair[1] = sum;
		hm_stats_sum(out, pair, 2);
	}
	free(percpu);
}

/* The row of key (kind and key fields set), both generations summed; false: no row. */
static bool row_stats(struct hm_row_key key, struct hm_stats *out)
{
	struct hm_row_val val;
	bool found = false;

	memset(out, 0, sizeof(*out));
	for (key.gen = 0; key.gen < HM_GENS; key.gen++) {
		if (bpf_map_lookup_elem(fd_row_ids, &key, &val))
			continue;
		add_stats(hm_row_array(&maps, key.kind), key.gen * hm_row_capacity(key.kind) + val.id,
			  out);
		found = true;
	}
	return found;
}

static bool client_stats(const struct flow *f, struct hm_stats *out)
{
	struct hm_client_key k;
	struct hm_row_key key = { .kind = HM_ROW_CLIENT };

	client_key(f, &k);
	key.addr = k.ip;
	return row_stats(key, out);
}

static bool port_stats(uint16_t port, struct hm_stats *out)
{
	struct hm_row_key key = { .kind = HM_ROW_PORT, .port = port };

	return row_stats(key, out);
}

static __u64 monitor(enum hm_monitor_counter c)
{
	__u64 *v = calloc(ncpus, sizeof(__u64)), sum = 0;
	__u32 key = c;

	for (int gen = 0; gen < HM_GENS; gen++) {
		key = gen * HM_MON_MAX + c;
		if (!bpf_map_lookup_elem(fd_monitor, &key, v))
			for (int i = 0; i < ncpus; i++)
				sum += v[i];
	}
	free(v);
	return sum;
}

static __u64 live_conns(void)
{
	char key[64], next[64];
	__u64 n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd_conns, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

#define REQ_A "GET /a HTTP/1.1\r\nHost: t\r\nUser-Agent: unit\r\n\r\n"
#define RESP_OK "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
#define RESP_500 "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 3\r\n\r\nerr"

static void test_request_response(void)
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

static void test_status_classes(void)
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

static void test_pipelined(void)
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

static void test_pipeline_overflow(void)
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

/* One write of len bytes, cut into MSS-sized segments as TCP would (test_run takes < 4 KiB). */
static void send_write(struct flow *f, bool from_client, const char *buf)
{
	size_t len = strlen(buf);

	for (size_t off = 0; off < len; off += 1448)
		send_seg(f, from_client, 0, buf + off, len - off < 1448 ? len - off : 1448);
}

/*
 * Issue 6, case 3: bursts of 2, 10 and 100 pipelined requests in one write
 * (messages cut across segment boundaries), answered in one write.
 */
static void test_pipeline_bursts(void)
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
		snprintf(name, sizeof(name), "burst of %d: latency only for the %d remembered", n, kept);
		CHECK_EQ(name, s.lat.count, kept);
		snprintf(name, sizeof(name), "burst of %d: the rest counted as pipeline_overflow", n);
		CHECK_EQ(name, monitor(HM_MON_PIPELINE_OVERFLOW) - ovf0, n - kept);
		snprintf(name, sizeof(name), "burst of %d: bytes both ways", n);
		check(s.bytes_in == strlen(reqs) && s.bytes_out == strlen(resps), name,
		      "in=%llu out=%llu", (unsigned long long)s.bytes_in,
		      (unsigned long long)s.bytes_out);
		reset_maps();
	}
}

/* Issue 6, case 2: status line alone, then headers, then the body: counted once. */
static void test_response_in_pieces(void)
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
	CHECK_EQ("bytes_out", s.bytes_out,
		 strlen("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n0123456789"));
}

/* Requests over every row of a kind, its overflow row included; *rows: the named rows. */
static __u64 sum_rows(unsigned int kind, __u64 *rows)
{
	struct hm_row_key key, next;
	struct hm_row_val val;
	struct hm_stats sum = {};
	void *prev = NULL;

	*rows = 0;
	while (bpf_map_get_next_key(fd_row_ids, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key.kind != kind || bpf_map_lookup_elem(fd_row_ids, &key, &val))
			continue;
		add_stats(hm_row_array(&maps, kind), key.gen * hm_row_capacity(kind) + val.id, &sum);
		(*rows)++;
	}
	for (int gen = 0; gen < HM_GENS; gen++)
		add_stats(hm_row_array(&maps, kind), gen * hm_row_capacity(kind), &sum);
	return sum.requests;
}

/*
 * Issue 6, case 20: far more clients than the maps hold.  Totals survive
 * through the overflow row, the full maps say so, and the first keys stay
 * exact.
 */
static void test_map_pressure(void)
{
	const int n = 100000;
	struct hm_stats s;
	struct flow f;
	__u64 rows, total;
	char ip[32];

	for (int i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "11.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		flow_v4(&f, ip, 40000, "10.0.0.1", 8080);
		send_str(&f, true, REQ_A);
	}
	total = sum_rows(HM_ROW_CLIENT, &rows);
	CHECK_EQ("client rows + overflow row hold every request", total, n);
	CHECK_EQ("every client row is taken, not more", rows, HM_MAX_CLIENTS - 1);
	CHECK_EQ("clients_full counts the rest", monitor(HM_MON_CLIENTS_FULL),
		 n - (HM_MAX_CLIENTS - 1));
	total = sum_rows(HM_ROW_PORT_CLIENT, &rows);
	CHECK_EQ("port/client rows + overflow row hold every request", total, n);
	check(port_stats(8080, &s) && s.requests == (__u64)n, "the port row counts all", "requests=%llu",
	      (unsigned long long)s.requests);
	flow_v4(&f, "11.0.0.0", 40000, "10.0.0.1", 8080);
	check(client_stats(&f, &s) && s.requests == 1, "the first client is exact", "missing");
	check(live_conns() <= HM_MAX_CONNS, "connection state bounded by its LRU map",
	      "%llu entries", (unsigned long long)live_conns());
}

static void test_ipv6_ext(void)
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

static void test_vlan(void)
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

static void test_split_request_line(void)
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

static void test_retransmission(void)
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

static void test_fin_pending(void)
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

static void test_non_http(void)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb\xcc";
	static const char *junk[] = {
		"SSH-2.0-OpenSSH_9.2p1 Debian\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GE(T / HTTP/1.1\r\n\r\n", "HTTP/1.1 2 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n",
		"HTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n", "EHLO mail.example\r\n",
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

static void test_body_is_not_a_message(void)
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

static void test_head_and_interim(void)
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

static void test_orphan_and_mid_stream(void)
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

static void test_port_filter(void)
{
	struct hm_config cfg = {};
	struct flow f;
	struct hm_stats s;
	__u32 zero = 0;

	cfg.flags = HM_CFG_PORT_FILTER;
	cfg.ports[8080 / 64] |= 1ULL << (8080 % 64);
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	flow_v4(&f, "10.0.0.15", 40033, "10.0.0.1", 9090);
	send_str(&f, true, REQ_A);
	check(!client_stats(&f, &s), "unwatched port ignored", "row exists");
	flow_v4(&f, "10.0.0.15", 40034, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	check(client_stats(&f, &s) && s.requests == 1, "watched port counted", "no row");
	bpf_map_lookup_elem(fd_config, &zero, &cfg);
	CHECK_EQ("program stamps the layout version", cfg.layout_version, HM_LAYOUT_VERSION);
}

static void test_padding_and_bad_length(void)
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

/* The stats of route (method, label), found through hm_route_ids as hm-stat does. */
/* A route id's row, both generations summed. */
static bool route_id_stats(__u32 id, struct hm_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int gen = 0; gen < HM_GENS; gen++)
		add_stats(fd_routes, gen * HM_MAX_ROUTES + id, out);
	return true;
}

static bool route_stats(unsigned int method, const char *label, struct hm_stats *out)
{
	struct hm_route_key key = { .method = method };
	struct hm_route_val val;

	memset(out, 0, sizeof(*out));
	memcpy(key.label, label, strnlen(label, sizeof(key.label)));
	if (bpf_map_lookup_elem(fd_route_ids, &key, &val))
		return false;
	return route_id_stats(val.id, out);
}

/* For failure messages: every route label the program created. */
static void route_dump(void)
{
	struct hm_route_key key, next;
	struct hm_route_val val;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd_route_ids, prev, &next) == 0) {
		key = next;
		prev = &key;
		bpf_map_lookup_elem(fd_route_ids, &key, &val);
		printf("#   route %u: %s %.*s\n", val.id, hm_method_name(key.method),
		       HM_ROUTE_LEN, key.label);
	}
}

static __u64 route_count(void)
{
	struct hm_route_key key, next;
	void *prev = NULL;
	__u64 n = 0;

	while (bpf_map_get_next_key(fd_route_ids, prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

static void set_config(const char *group_by, const char **patterns, const char **prefixes,
		       unsigned int max_routes, unsigned int prefix4)
{
	struct hm_config cfg = {};
	char err[256];
	__u32 zero = 0, n = 0;

	if (group_by && hm_route_group_parse(group_by, &cfg, err, sizeof(err)))
		printf("not ok - %s: bad grouping in the test: %s\n", current, err);
	for (int pass = 0; pass < 2; pass++) {
		const char **list = pass ? prefixes : patterns;

		for (; list && *list; list++, n++) {
			struct hm_route_pattern pat;

			hm_route_pattern_parse(*list, pass == 1, &pat, err, sizeof(err));
			bpf_map_update_elem(fd_route_pats, &n, &pat, BPF_ANY);
		}
	}
	cfg.npatterns = n;
	cfg.max_routes = max_routes;
	cfg.client_prefix4 = prefix4;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
}

/* One request/response exchange on a new connection; returns request bytes. */
static size_t exchange(const char *cli, uint16_t cport, const char *req, const char *resp)
{
	struct flow f;

	flow_v4(&f, cli, cport, "10.0.0.1", 8080);
	send_str(&f, true, req);
	send_str(&f, false, resp);
	return strlen(req);
}

static void test_route_path(void)
{
	struct hm_stats s, c;

	set_config("path", NULL, NULL, 0, 0);
	exchange("10.1.0.1", 41000, "GET /api/users/123 HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41001, "GET /api/users/456?x=1 HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41002, "POST /api/users HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		 RESP_500);
	exchange("10.1.0.1", 41003, "GET /api/7/x HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41004, "GET / HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41005, "GET http://example.test/api/users/9 HTTP/1.1\r\n\r\n", RESP_OK);
	check(route_stats(HM_METHOD_GET, "/api/users", &s) && s.requests == 3 && s.responses == 3,
	      "GET /api/users/{123,456} and absolute-form collapse to /api/users (depth 2)",
	      "requests=%llu", (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_POST, "/api/users", &s) && s.requests == 1 &&
		      s.status[HM_STATUS_5XX] == 1,
	      "the method is part of the route", "requests=%llu", (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_GET, "/api/{id}", &s) && s.requests == 1, "digits become {id}",
	      "missing");
	check(route_stats(HM_METHOD_GET, "/", &s) && s.requests == 1, "root is /", "missing");
	client_stats(&(struct flow){ .cli = { 10, 1, 0, 1 } }, &c);
	CHECK_EQ("client totals", c.requests, 6);
	CHECK_EQ("routes seen", route_count(), 4);

	set_config("path:3", NULL, NULL, 0, 0);
	exchange("10.1.0.2", 41010,
		 "GET /api/users/0b1e2f7c-5c1a-4a8e-9d3b-7f6a5e4d3c2b/orders HTTP/1.1\r\n\r\n",
		 RESP_OK);
	exchange("10.1.0.2", 41011, "GET /api/users/5f8d0a3b9c1e2d4f6a7b8c9d HTTP/1.1\r\n\r\n",
		 RESP_OK);
	exchange("10.1.0.2", 41012, "GET /api/users/alice HTTP/1.1\r\n\r\n", RESP_OK);
	check(route_stats(HM_METHOD_GET, "/api/users/{id}", &s) && s.requests == 2,
	      "UUID and long hex become {id} (depth 3)", "requests=%llu",
	      (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_GET, "/api/users/alice", &s) && s.requests == 1,
	      "a name stays a name", "missing");
}

static void test_route_query(void)
{
	static const char *reqs[] = { "GET /x?s=yo HTTP/1.1\r\nHost: t\r\n\r\n",
				      "GET /x?a=1&s=yo HTTP/1.1\r\nHost: t\r\n\r\n",
				      "GET /x?s=yo2 HTTP/1.1\r\nHost: t\r\n\r\n",
				      "GET /x?ss=no&s= HTTP/1.1\r\nHost: t\r\n\r\n" };
	size_t in[4];
	struct hm_stats s;

	set_config("query:s", NULL, NULL, 0, 0);
	for (int i = 0; i < 4; i++)
		in[i] = exchange("10.1.1.1", 41100 + i, reqs[i], RESP_OK);
	check(route_stats(HM_METHOD_GET, "yo", &s) && s.requests == 2 && s.responses == 2,
	      "?s=yo twice", "requests=%llu", (unsigned long long)s.requests);
	CHECK_EQ("yo bytes_in", s.bytes_in, in[0] + in[1]);
	CHECK_EQ("yo bytes_out", s.bytes_out, 2 * strlen(RESP_OK));
	check(route_stats(HM_METHOD_GET, "yo2", &s) && s.requests == 1, "?s=yo2 once", "missing");
	CHECK_EQ("yo2 bytes_in", s.bytes_in, in[2]);
	check(route_stats(HM_METHOD_GET, "_unspecified", &s) && s.requests == 1,
	      "no (or an empty) s: _unspecified", "missing");
}

static void test_route_patterns(void)
{
	static const char *pats[] = { "/api/users/{id}", "POST /api/orders", NULL };
	static const char *prefixes[] = { "/static", NULL };
	struct hm_stats s;

	set_config("path:1", pats, prefixes, 0, 0);
	exchange("10.1.2.1", 41200, "GET /api/users/alice HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.2.1", 41201, "GET /api/users/bob?x=1 HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.2.1", 41202, "GET /api/users/bob/extra HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.2.1", 41203, "POST /api/orders HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		 RESP_OK);
	exchange("10.1.2.1", 41204, "GET /api/orders HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.2.1", 41205, "GET /static/css/a.css HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.2.1", 41206, "GET /staticky HTTP/1.1\r\n\r\n", RESP_OK);
	check(route_stats(HM_METHOD_GET, "/api/users/{id}", &s) && s.requests == 2,
	      "{id} pattern matches one segment, any value", "requests=%llu",
	      (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_GET, "/api", &s) && s.requests == 2,
	      "deeper paths and other methods fall back to --group-by", "requests=%llu",
	      (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_POST, "/api/orders", &s) && s.requests == 1,
	      "method-specific pattern", "missing");
	check(route_stats(HM_METHOD_GET, "/static", &s) && s.requests == 1,
	      "prefix pattern on segment boundaries", "requests=%llu", (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_GET, "/staticky", &s) && s.requests == 1,
	      "a longer segment is not the prefix", "missing");
}

static void test_route_split_and_pipelined(void)
{
	static const char *parts[] = { "GET /api/us", "ers/42?s=1&q=", "zz HTTP/1.1\r\n\r\n" };
	char longreq[9000];
	struct flow f;
	struct hm_stats s, c;
	size_t n;

	set_config("path", NULL, NULL, 0, 0);
	flow_v4(&f, "10.1.3.1", 41300, "10.0.0.1", 8080);
	for (int i = 0; i < 3; i++)
		send_str(&f, true, parts[i]);
	send_str(&f, false, RESP_OK);
	check(route_stats(HM_METHOD_GET, "/api/users", &s) && s.requests == 1 && s.responses == 1,
	      "target split over three segments", "missing");

	/* an 8 KiB URL in 1400-byte segments */
	n = snprintf(longreq, sizeof(longreq), "GET /long/");
	while (n < 8100) {
		longreq[n] = 'a' + n % 26;
		n++;
	}
	n += snprintf(longreq + n, sizeof(longreq) - n, "/tail HTTP/1.1\r\nHost: t\r\n\r\n");
	flow_v4(&f, "10.1.3.2", 41301, "10.0.0.1", 8080);
	for (size_t off = 0; off < n; off += 1400)
		send_seg(&f, true, 0, longreq + off, n - off < 1400 ? n - off : 1400);
	send_str(&f, false, RESP_OK);
	{
		/* depth 2: "/long/" and the 8 KiB segment, cut at the label's 64 bytes */
		char label[HM_ROUTE_LEN + 1] = {};

		memcpy(label, longreq + strlen("GET "), HM_ROUTE_LEN);
		check(route_stats(HM_METHOD_GET, label, &s) && s.requests == 1 && s.responses == 1,
		      "8 KiB URL over 6 segments lands in its route, label cut at 64 bytes",
		      "no route '%s'", label);
	}
	CHECK_EQ("route_truncated counted", monitor(HM_MON_ROUTE_TRUNCATED), 1);

	/* pipelined: three routes in one segment, answered in one segment */
	flow_v4(&f, "10.1.3.3", 41302, "10.0.0.1", 8080);
	send_str(&f, true, "GET /a/1 HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /a/2 HTTP/1.1\r\n\r\n");
	send_str(&f, false, RESP_OK RESP_500 RESP_OK);
	check(route_stats(HM_METHOD_GET, "/a/{id}", &s) && s.requests == 2 && s.responses == 2 &&
		      s.status[HM_STATUS_2XX] == 2,
	      "pipelined: /a/{id} answered twice with 200", "requests=%llu",
	      (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_GET, "/b", &s) && s.requests == 1 &&
		      s.status[HM_STATUS_5XX] == 1 && s.lat.count == 1,
	      "pipelined: /b got the 500", "5xx=%llu", (unsigned long long)s.status[HM_STATUS_5XX]);
	CHECK_EQ("/b bytes_out", s.bytes_out, strlen(RESP_500));
	client_stats(&f, &c);
	{
		struct hm_stats a, b;

		route_stats(HM_METHOD_GET, "/a/{id}", &a);
		route_stats(HM_METHOD_GET, "/b", &b);
		CHECK_EQ("route bytes_in add up to the client's", a.bytes_in + b.bytes_in,
			 c.bytes_in);
		CHECK_EQ("route bytes_out add up to the client's", a.bytes_out + b.bytes_out,
			 c.bytes_out);
	}
}

static void test_route_unknown_other(void)
{
	struct hm_stats s;
	struct flow f;
	__u32 id;

	set_config("path:1", NULL, NULL, 2, 0); /* two named routes */
	for (int i = 0; i < 5; i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET /r%c HTTP/1.1\r\n\r\n", 'a' + i);
		exchange("10.1.4.1", 41400 + i, req, RESP_OK);
	}
	CHECK_EQ("two routes fit", route_count(), 2);
	check(route_stats(HM_METHOD_GET, "/ra", &s) && s.requests == 1, "first route exact", "missing");
	id = HM_ROUTE_OTHER;
	route_id_stats(id, &s);
	CHECK_EQ("the rest under _other", s.requests, 3);
	CHECK_EQ("_other responses", s.responses, 3);
	CHECK_EQ("routes_full counted", monitor(HM_MON_ROUTES_FULL), 3);

	flow_v4(&f, "10.1.4.2", 41410, "10.0.0.1", 8080);
	send_str(&f, false, RESP_500); /* a reply to a request never seen */
	id = HM_ROUTE_UNKNOWN;
	route_id_stats(id, &s);
	CHECK_EQ("orphan reply under _unknown", s.responses, 1);
	CHECK_EQ("_unknown bytes_out", s.bytes_out, strlen(RESP_500));
}

static void test_client_prefix(void)
{
	struct hm_stats s;
	struct flow f;

	set_config("path", NULL, NULL, 0, 24);
	exchange("10.2.0.7", 41500, REQ_A, RESP_OK);
	exchange("10.2.0.200", 41501, REQ_A, RESP_OK);
	flow_v4(&f, "10.2.0.0", 1, "10.0.0.1", 8080);
	check(client_stats(&f, &s) && s.requests == 2, "two clients folded into 10.2.0.0/24",
	      "requests=%llu", (unsigned long long)s.requests);
}

#define REQ_B "GET /b HTTP/1.1\r\nHost: t\r\n\r\n"
#define REQ_C "GET /c HTTP/1.1\r\nHost: t\r\n\r\n"

/*
 * Issue 6, case 6: a response segment lost before the monitor.  Two
 * pipelined requests; the answer to /a never shows, the answer to /b does.
 * It must not be paired with /a: both requests are written off as
 * unanswered, and timing resumes with the next request.
 */
static void test_gap_response(void)
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
	check(route_stats(HM_METHOD_GET, "/c", &s) && s.responses == 1 && s.status[HM_STATUS_2XX] == 1,
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
	      "ack: route /b gets its own 500", "5xx=%llu", (unsigned long long)s.status[HM_STATUS_5XX]);
}

/*
 * Issue 6, case 5: a request body arrives out of order (its middle segment
 * after its end).  Requests and responses stay exact, and timing goes on:
 * the client never pipelined, so no request can have hidden in the gap.
 */
static void test_out_of_order(void)
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
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.status[HM_STATUS_5XX] == 1 && s.lat.count == 1,
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
static void test_upstream_loss(void)
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
	CHECK_EQ("the gap lay inside the body: both timed to the last byte too", s.lat_last.count, 2);
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
	send_str(&f, false, RESP_500);     /* an answer to nothing the monitor can tell */
	client_stats(&f, &s);
	CHECK_EQ("gap past the body: the pending request written off", s.unanswered, 1);
	CHECK_EQ("gap past the body: gap_unanswered", monitor(HM_MON_GAP_UNANSWERED), 1);
	CHECK_EQ("gap past the body: the next answer is not paired", s.responses, 1);
}

/*
 * Issue 6, case 5 with pipelining: /b is lost in a gap between /a and /c.
 * The answer to /b must not be taken for /c's: after the gap the client's
 * requests are counted but not timed, for as long as the connection lives.
 */
static void test_gap_request_pipelined(void)
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
	send_str(&f, false, RESP_OK);  /* /a */
	send_str(&f, false, RESP_500); /* /b */
	send_str(&f, false, RESP_OK);  /* /c */
	client_stats(&f, &s);
	CHECK_EQ("requests seen", s.requests, 2);
	CHECK_EQ("only /a is timed", s.lat.count, 1);
	CHECK_EQ("responses after the gap not timed", monitor(HM_MON_GAP_UNTIMED), 1);
	check(!route_stats(HM_METHOD_GET, "/c", &s) || (s.responses == 0 && s.lat.count == 0),
	      "the 500 of /b is not given to route /c", "responses=%llu 5xx=%llu",
	      (unsigned long long)s.responses, (unsigned long long)s.status[HM_STATUS_5XX]);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.lat.count == 1 && s.status[HM_STATUS_2XX] == 1,
	      "route /a timed", "lat=%llu", (unsigned long long)s.lat.count);

	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("a pipelining connection stays untimed", s.lat.count, 1);
}

/*
 * Issue 6, case 7, with a request in flight: the monitor sees /b first, but
 * the server is still answering a request sent before (its ACK stops short
 * of /b).  That answer is not paired with /b.
 */
static void test_early_response(void)
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

/* Issue 6, case 6 (second half): requests on an idle connection age out into unanswered. */
static void test_idle_aging(void)
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
 * Issue 6, case 21: both CPUs update the same rows (client, port, route,
 * histograms) at full speed.  Totals must be exact.
 */
struct hammer {
	int cpu, n, on_cpu;
	uint16_t cport;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct flow f;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(h->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		return NULL;
	flow_v4(&f, "10.0.3.8", h->cport, "10.0.0.1", 8080);
	for (int i = 0; i < h->n; i++) {
		send_str(&f, true, REQ_A);
		send_str(&f, false, RESP_OK);
		if (sched_getcpu() == h->cpu)
			h->on_cpu++;
	}
	return NULL;
}

static void test_two_cpus(void)
{
	struct hammer h[2] = { { .cpu = 0, .n = 20000, .cport = 43010 },
			       { .cpu = 1, .n = 20000, .cport = 43011 } };
	struct hm_row_key pk = { .kind = HM_ROW_PORT, .port = 8080 };
	struct hm_row_val pv = {};
	struct hm_hist *percpu;
	__u32 hk;
	pthread_t t[2];
	struct flow f;
	struct hm_stats s;
	__u64 total = 2 * 20000, count = 0, buckets = 0;

	if (ncpus < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("skip - %s: needs two CPUs\n", current);
		return;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, hammer_run, &h[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ("worker 0 ran on CPU 0", h[0].on_cpu, h[0].n);
	CHECK_EQ("worker 1 ran on CPU 1", h[1].on_cpu, h[1].n);
	flow_v4(&f, "10.0.3.8", 0, "10.0.0.1", 8080);
	client_stats(&f, &s);
	CHECK_EQ("client requests", s.requests, total);
	CHECK_EQ("client responses", s.responses, total);
	CHECK_EQ("client latency samples", s.lat.count, total);
	CHECK_EQ("client bytes_in", s.bytes_in, total * strlen(REQ_A));
	CHECK_EQ("client bytes_out", s.bytes_out, total * strlen(RESP_OK));
	port_stats(8080, &s);
	CHECK_EQ("port requests", s.requests, total);
	check(route_stats(HM_METHOD_GET, "/a", &s) && s.responses == total && s.lat.count == total,
	      "route /a responses and samples", "responses=%llu samples=%llu",
	      (unsigned long long)s.responses, (unsigned long long)s.lat.count);
	/* Issue 6, case 25: histogram totals equal request totals. */
	percpu = calloc(ncpus, sizeof(*percpu));
	bpf_map_lookup_elem(fd_row_ids, &pk, &pv);
	hk = HM_HIST_INDEX(0, HM_HIST_PORT_FIRST + pv.id - 1, HM_LAT_FIRST);
	if (pv.id && !bpf_map_lookup_elem(fd_hist, &hk, percpu))
		for (int c = 0; c < ncpus; c++) {
			count += percpu[c].count;
			for (int b = 0; b < HM_HIST_BUCKETS; b++)
				buckets += percpu[c].buckets[b];
		}
	free(percpu);
	CHECK_EQ("port histogram count = requests", count, total);
	CHECK_EQ("port histogram buckets sum to requests", buckets, total);
}

/* Issue 6, case 8: malformed status lines are never counted as a status. */
static void test_malformed_status(void)
{
	static const char *bad[] = {
		"HTTP/1.1 2 OK\r\n\r\n",  "HTTP/1.1  200 OK\r\n\r\n", "HTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 200\n",          "HTTP/1.1 200 OK\n\n",
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
	CHECK_EQ("no other status class", s.status[HM_STATUS_1XX] + s.status[HM_STATUS_3XX] +
		 s.status[HM_STATUS_4XX] + s.status[HM_STATUS_5XX], 0);
	CHECK_EQ("the others are unparseable", monitor(HM_MON_UNPARSEABLE),
		 sizeof(bad) / sizeof(bad[0]) - valid);
}

/*
 * Issue 6, case 9: absurd or ambiguous lengths.  Five pipelined requests;
 * each response below comes in its own segment, so the framing that a bad
 * length loses is found again at the next one.
 */
static void test_lengths(void)
{
	static const char dup_same[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello";
	static const char dup_diff[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
	static const char te_cl[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
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
	CHECK_EQ("identical duplicates are fine: nothing unparseable", monitor(HM_MON_UNPARSEABLE), 0);
	CHECK_EQ("nothing unanswered", s.unanswered, 0);
	/* framed by chunked, not by the 3 bytes: the response after it was found */
	CHECK_EQ("every byte, framed or not", s.bytes_out,
		 strlen(dup_same) + strlen(dup_diff) + strlen(te_cl) + strlen(negative));
}

/* Issue 6, case 10: a 70,000-byte request line and a 100 KiB header block: bounded, counted. */
static void test_long_lines(void)
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

/* Issue 6, cases 11 and 12: non-HTTP and unknown methods open no state and are counted. */
/* The id the program gave an extension method, or 0 when it has none. */
static unsigned int method_id(const char *name)
{
	struct hm_method_key key = {};
	struct hm_route_val val;

	memcpy(key.name, name, strnlen(name, sizeof(key.name)));
	return bpf_map_lookup_elem(fd_method_ids, &key, &val) ? 0 : val.id;
}

/*
 * Any RFC 9110 token is a method: WebDAV's, QUERY, extension tokens.  Text
 * that is not a token and a space (or, for a token not on the list, not
 * followed by '/' or '*') is not a request.
 */
static void test_methods(void)
{
	static const char *junk[] = {
		"GETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n", /* a 21-character token */
		"GE(T / HTTP/1.1\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc",
		"SSH-2.0-OpenSSH_9.2p1\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"EHLO mail.example.test\r\n", "FOO bar HTTP/1.1\r\n\r\n",
	};
	static const char *const methods[] = {
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
		"SEARCH", "QUERY", "OPTIONS", "TRACE", "PATCH", "CCM_POST", "get", "M-SEARCH",
		"TWENTY_CHARS_METHOD_",
	};
	const size_t nm = sizeof(methods) / sizeof(methods[0]);
	size_t n = sizeof(junk) / sizeof(junk[0]);
	struct flow f;
	struct hm_stats s;
	char req[128], name[96];

	for (size_t i = 0; i < n; i++) {
		flow_v4(&f, "10.0.5.5", 44300 + i, "10.0.0.1", 8080);
		send_str(&f, true, junk[i]);
	}
	check(!client_stats(&f, &s), "not a token and a space: no phantom requests",
	      "%llu requests", (unsigned long long)s.requests);
	CHECK_EQ("not a token and a space: no connection state", live_conns(), 0);
	CHECK_EQ("not a token and a space: each counted in ignored_segments",
		 monitor(HM_MON_IGNORED_SEGMENTS), n);
	/* the same bytes inside an HTTP connection: unparseable, not requests */
	flow_v4(&f, "10.0.5.5", 44399, "10.0.0.1", 8080);
	send_str(&f, true, REQ_A);
	send_str(&f, false, RESP_OK);
	for (size_t i = 0; i < n; i++) {
		send_str(&f, true, junk[i]);
		send_str(&f, true, REQ_A); /* the next segment that starts a request resumes */
		send_str(&f, false, RESP_OK);
	}
	client_stats(&f, &s);
	CHECK_EQ("inside a connection: only the real requests", s.requests, n + 1);
	CHECK_EQ("inside a connection: each one unparseable", monitor(HM_MON_UNPARSEABLE), n);
	CHECK_EQ("inside a connection: every real one timed", s.lat.count, n + 1);

	/* Every token method on one keep-alive connection, each answered. */
	set_config("path:1", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.6", 44398, "10.0.0.1", 8080);
	for (size_t i = 0; i < nm; i++) {
		snprintf(req, sizeof(req), "%s /m%zu HTTP/1.1\r\nHost: t\r\n\r\n", methods[i], i);
		send_str(&f, true, req);
		send_str(&f, false, i % 2 ? RESP_OK : "HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n");
	}
	client_stats(&f, &s);
	CHECK_EQ("token methods: each a request", s.requests, nm);
	CHECK_EQ("token methods: each answered", s.responses, nm);
	CHECK_EQ("token methods: each timed", s.lat.count, nm);
	CHECK_EQ("token methods: no orphan responses", monitor(HM_MON_ORPHAN_RESPONSES), 0);
	for (size_t i = 0; i < nm; i++) {
		unsigned int id = 0;

#define HM_METHOD_ID(sym, mname, len, word) \
	if (!strcmp(methods[i], mname))     \
		id = HM_METHOD_##sym;
		HM_METHOD_LIST(HM_METHOD_ID)
#undef HM_METHOD_ID
		if (!id)
			id = method_id(methods[i]);
		snprintf(name, sizeof(name), "route of %s is named by its method", methods[i]);
		snprintf(req, sizeof(req), "/m%zu", i);
		check(id && route_stats(id, req, &s) && s.requests == 1 && s.responses == 1,
		      name, "method id %u", id);
	}
	check(method_id("CCM_POST") >= HM_METHOD_EXT_FIRST && method_id("PROPFIND") == 0,
	      "listed methods need no table entry, extension tokens get one",
	      "CCM_POST=%u PROPFIND=%u", method_id("CCM_POST"), method_id("PROPFIND"));
	/* A version-less request line shorter than a status line is still a request. */
	flow_v4(&f, "10.0.5.7", 44397, "10.0.0.1", 8080);
	send_str(&f, true, "GET /\r\n");
	client_stats(&f, &s);
	CHECK_EQ("GET /CRLF (7 bytes) is a request", s.requests, 1);
	CHECK_EQ("GET /CRLF: its bytes", s.bytes_in, 7);
	flow_v4(&f, "10.0.5.7", 44396, "10.0.0.1", 8080);
	send_str(&f, true, "PROPF");
	send_str(&f, true, "IND /x HTTP/1.1\r\n\r\n");
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("a method split between segments", s.responses, 1);
}

/*
 * Extension methods are named up to HM_MAX_EXT_METHODS distinct tokens;
 * later ones count under _other, and methods_full says how many requests.
 */
static void test_method_table_bound(void)
{
	const int distinct = HM_MAX_EXT_METHODS + 8;
	struct hm_stats s, other = {}, t;
	struct flow f;
	char req[96], tok[32];
	int named = 0;

	set_config("none", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.8", 44395, "10.0.0.1", 8080);
	for (int i = 0; i < distinct; i++) {
		for (int rep = 0; rep < 2; rep++) {
			snprintf(req, sizeof(req), "X-EXT%02d /r HTTP/1.1\r\n\r\n", i);
			send_str(&f, true, req);
			send_str(&f, false, RESP_OK);
		}
	}
	for (int i = 0; i < distinct; i++) {
		snprintf(tok, sizeof(tok), "X-EXT%02d", i);
		if (method_id(tok))
			named++;
	}
	CHECK_EQ("the first 32 distinct extension methods are named", named, HM_MAX_EXT_METHODS);
	for (int i = 0; i < HM_MAX_EXT_METHODS; i++) {
		snprintf(tok, sizeof(tok), "X-EXT%02d", i);
		if (route_stats(method_id(tok), "_all", &t) && i == 0)
			CHECK_EQ("a named one has its route row", t.requests, 2);
	}
	route_stats(HM_METHOD_OTHER, "_all", &other);
	CHECK_EQ("the rest count under the _other method", other.requests, 2 * 8);
	CHECK_EQ("and are answered there", other.responses, 2 * 8);
	CHECK_EQ("methods_full counts those requests", monitor(HM_MON_METHODS_FULL), 2 * 8);
	client_stats(&f, &s);
	CHECK_EQ("every request counted", s.requests, 2 * distinct);
	CHECK_EQ("every response paired", s.responses, 2 * distinct);
	CHECK_EQ("the reader's name of _other", strcmp(hm_method_name(HM_METHOD_OTHER), "_other"), 0);
}

/*
 * After a 2xx answer to CONNECT, and after 101 Switching Protocols, the
 * connection carries another protocol: its bytes count, nothing in them is
 * parsed, and no request in it is unanswered.  A refused CONNECT or upgrade
 * leaves the connection HTTP.
 */
static void test_tunnels(void)
{
	static const char connect[] = "CONNECT origin.test:8080 HTTP/1.1\r\nHost: origin.test:8080\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char denied[] = "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
	static const char upgrade[] = "GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
				      "Connection: Upgrade\r\n\r\n";
	static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
					"Connection: Upgrade\r\n\r\n";
	static const char *inside_c[] = { "GET / HTTP/1.1\r\nHost: origin\r\n\r\n",
					  "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
					  "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n" };
	static const char *inside_s[] = { "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
					  "\x81\x05hello", "HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n" };
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
		CHECK_EQ(kind ? "upgrade: one response, 101" : "CONNECT: 407, then 200", s.responses,
			 kind ? 1 : 2);
		CHECK_EQ(kind ? "upgrade: 101 is 1xx" : "CONNECT: the tunnel's 200 is 2xx",
			 kind ? s.status[HM_STATUS_1XX] : s.status[HM_STATUS_2XX], 1);
		CHECK_EQ(kind ? "upgrade: nothing unanswered" : "CONNECT: nothing unanswered",
			 s.unanswered, 0);
		CHECK_EQ(kind ? "upgrade: tunnel bytes in" : "CONNECT: tunnel bytes in", s.bytes_in, in);
		CHECK_EQ(kind ? "upgrade: tunnel bytes out" : "CONNECT: tunnel bytes out", s.bytes_out,
			 out);
		CHECK_EQ(kind ? "upgrade: nothing unparseable" : "CONNECT: nothing unparseable",
			 monitor(HM_MON_UNPARSEABLE) - unparseable0, 0);
		CHECK_EQ("no orphan responses", monitor(HM_MON_ORPHAN_RESPONSES), 0);
		if (kind) {
			route_stats(HM_METHOD_GET, "/chat", &r);
			CHECK_EQ("upgrade: its route holds every byte", r.bytes_in + r.bytes_out, in + out);
		} else {
			route_stats(HM_METHOD_CONNECT, "_connect", &r);
			CHECK_EQ("CONNECT: route _connect holds every byte", r.bytes_in + r.bytes_out,
				 in + out);
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
 * A connection remembers its last request target: the same target again is
 * its route without a parse, a new grouping (hm-load) or forgotten labels
 * (hm-reset --routes) are not served from what it remembers.
 */
static void test_route_cache(void)
{
	struct hm_config cfg = {};
	struct hm_stats s;
	struct flow f;
	__u32 zero = 0;

	set_config("path:1", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.15", 44386, "10.0.0.1", 8080);
	for (int i = 0; i < 3; i++) {
		send_str(&f, true, "GET /same/1 HTTP/1.1\r\nHost: t\r\n\r\n");
		send_str(&f, false, RESP_OK);
	}
	send_str(&f, true, "GET /other/2 HTTP/1.1\r\n\r\n");
	send_str(&f, false, RESP_OK);
	send_str(&f, true, "GET /same/1 HTTP/1.1\r\n\r\n");
	send_str(&f, false, RESP_500);
	check(route_stats(HM_METHOD_GET, "/same", &s) && s.requests == 4 && s.responses == 4 &&
	      s.status[HM_STATUS_5XX] == 1,
	      "the same target again: its route", "requests=%llu responses=%llu",
	      (unsigned long long)s.requests, (unsigned long long)s.responses);
	check(route_stats(HM_METHOD_GET, "/other", &s) && s.requests == 1, "another target: its own",
	      "requests=%llu", (unsigned long long)s.requests);
	send_str(&f, true, "POST /same/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	send_str(&f, false, RESP_OK);
	check(route_stats(HM_METHOD_POST, "/same", &s) && s.requests == 1,
	      "POST /same/1 after GET /same/1: the POST route", "requests=%llu",
	      (unsigned long long)s.requests);

	/* hm-load changes the grouping: the remembered target maps to the old one. */
	bpf_map_lookup_elem(fd_config, &zero, &cfg);
	hm_route_group_parse("path:2", &cfg, (char[64]){ 0 }, 64);
	cfg.route_gen++;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	send_str(&f, true, "POST /same/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	send_str(&f, false, RESP_OK);
	check(route_stats(HM_METHOD_POST, "/same/{id}", &s) && s.requests == 1,
	      "a new grouping: the target is parsed again", "requests=%llu",
	      (unsigned long long)s.requests);
	/* hm-reset --routes: labels forgotten, ids handed out again */
	bpf_map_lookup_elem(fd_config, &zero, &cfg);
	cfg.route_epoch++;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	clear_hash(fd_route_ids);
	{
		__u32 slot = HM_SEQ_ROUTES;

		bpf_map_update_elem(maps.seq, &slot, &zero, BPF_ANY);
	}
	send_str(&f, true, "POST /same/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	send_str(&f, false, RESP_OK);
	check(route_count() == 1, "forgotten labels: the target is named again", "%llu routes",
	      (unsigned long long)route_count());
}

/* --- hosts ---------------------------------------------------------------------- */

/* The id of host name (as the classifier stores it); -1 when it has none. */
static int host_id(const char *name)
{
	struct hm_host_key key = {};
	struct hm_route_val val;

	memcpy(key.name, name, strnlen(name, sizeof(key.name)));
	return bpf_map_lookup_elem(maps.host_ids, &key, &val) ? -1 : (int)val.id;
}

/* Host id's row, both generations summed. */
static void host_id_stats(__u32 id, struct hm_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int gen = 0; gen < HM_GENS; gen++)
		add_stats(maps.hosts, gen * HM_MAX_HOSTS + id, out);
}

static bool host_stats(const char *name, struct hm_stats *out)
{
	int id = host_id(name);

	memset(out, 0, sizeof(*out));
	if (id < 0)
		return false;
	host_id_stats(id, out);
	return true;
}

/* The (host, route) pair's row; false when the pair has no id. */
static bool pair_stats(__u32 host, __u32 route, struct hm_stats *out)
{
	struct hm_host_route_key key = { .host = host, .route = route };
	struct hm_route_val val;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(maps.hr_ids, &key, &val))
		return false;
	for (int gen = 0; gen < HM_GENS; gen++)
		add_stats(maps.host_routes, gen * HM_MAX_HOST_ROUTES + val.id, out);
	return true;
}

/* Latency samples in host id's histogram (family fam), both generations. */
static __u64 host_hist_count(__u32 id, enum hm_lat_family fam)
{
	struct hm_hist *percpu = calloc(ncpus, sizeof(*percpu));
	__u64 n = 0;

	for (int gen = 0; gen < HM_GENS; gen++) {
		__u32 k = HM_HIST_INDEX(gen, HM_HIST_HOST_FIRST + id, fam);

		if (!bpf_map_lookup_elem(fd_hist, &k, percpu))
			for (int c = 0; c < ncpus; c++)
				n += percpu[c].count;
	}
	free(percpu);
	return n;
}

static void host_dump(void)
{
	struct hm_host_key key, next;
	struct hm_route_val val;
	void *prev = NULL;

	while (bpf_map_get_next_key(maps.host_ids, prev, &next) == 0) {
		key = next;
		prev = &key;
		bpf_map_lookup_elem(maps.host_ids, &key, &val);
		printf("#   host %u: %.*s\n", val.id, HM_HOST_LEN, key.name);
	}
}

/*
 * Host rows: names normalised (case, port, trailing dot, IPv6 literal), Host
 * lines the segment cuts anywhere, HTTP/1.0 without Host, a second Host
 * header, a Host header in a response; every view's totals agree.
 */
static void test_hosts(void)
{
	struct {
		const char *seg[3]; /* one request in up to three segments */
		const char *host;   /* the name it must count under; NULL: _none */
		const char *resp;
	} ex[] = {
		{ { "GET /a HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n" }, "example.com", RESP_OK },
		{ { "GET /a HTTP/1.1\r\nhost:example.com\r\n\r\n" }, "example.com", RESP_500 },
		{ { "GET /b HTTP/1.1\r\nHOST: \tapi.example.com.\r\n\r\n" }, "api.example.com",
		  RESP_OK },
		{ { "GET /a HTTP/1.0\r\nAccept: */*\r\n\r\n" }, NULL, RESP_OK },
		{ { "GET /a HTTP/1.1\r\nHost: [::1]:80\r\n\r\n" }, "[::1]", RESP_OK },
		{ { "GET /a HTTP/1.1\r\nHo", "st: Split.Example\r\n\r\n" }, "split.example",
		  RESP_OK },
		{ { "GET /a HTTP/1.1\r\nAccept: x\r\nHost: sp", "lit2.EXAMPLE:99\r\nX: y\r\n\r\n" },
		  "split2.example", RESP_OK },
		{ { "GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n" }, "a.example",
		  RESP_OK },
		{ { "POST /b HTTP/1.1\r\nContent-Length: 4\r\nHost: ",
		    "example.com\r\n\r\n", "body" }, "example.com", RESP_OK },
	};
	static const char resp_host[] = "HTTP/1.1 200 OK\r\nHost: server.example\r\n"
					"Content-Length: 0\r\n\r\n";
	struct want {
		const char *host;
		__u64 req, resp, in, out, s5;
	} want[8] = {};
	size_t nwant = 0, i, j, n;
	__u64 req = 0, in = 0, out = 0;
	struct hm_stats c, h, sum = {};
	struct flow f;
	int id;

	set_config("path:1", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.16", 44390, "10.0.0.1", 8080);
	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		const char *name = ex[i].host ? ex[i].host : "";

		for (j = 0; j < nwant && strcmp(want[j].host, name); j++)
			;
		if (j == nwant)
			want[nwant++].host = name;
		for (n = 0, j = 0; j < 3 && ex[i].seg[j]; j++) {
			send_str(&f, true, ex[i].seg[j]);
			n += strlen(ex[i].seg[j]);
		}
		send_str(&f, false, ex[i].resp);
		for (j = 0; want[j].host != name && strcmp(want[j].host, name); j++)
			;
		want[j].req++;
		want[j].resp++;
		want[j].in += n;
		want[j].out += strlen(ex[i].resp);
		want[j].s5 += ex[i].resp == (const char *)RESP_500;
		req++;
		in += n;
		out += strlen(ex[i].resp);
	}
	/* A Host header in a response names nothing. */
	send_str(&f, true, "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
	send_str(&f, false, resp_host);
	want[0].req++;
	want[0].resp++;
	want[0].in += strlen("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
	want[0].out += strlen(resp_host);
	req++;
	in += strlen("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
	out += strlen(resp_host);

	for (j = 0; j < nwant; j++) {
		char what[96];

		if (*want[j].host) {
			check(host_stats(want[j].host, &h), want[j].host, "no such host");
			id = host_id(want[j].host);
		} else {
			host_id_stats(HM_HOST_NONE, &h);
			id = HM_HOST_NONE;
		}
		snprintf(what, sizeof(what), "host %s: requests", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.requests, want[j].req);
		snprintf(what, sizeof(what), "host %s: responses", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.responses, want[j].resp);
		snprintf(what, sizeof(what), "host %s: 5xx", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.status[HM_STATUS_5XX], want[j].s5);
		snprintf(what, sizeof(what), "host %s: bytes in", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.bytes_in, want[j].in);
		snprintf(what, sizeof(what), "host %s: bytes out", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.bytes_out, want[j].out);
		snprintf(what, sizeof(what), "host %s: latency samples", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.lat.count, want[j].resp);
		snprintf(what, sizeof(what), "host %s: histogram samples", *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, id >= 0 ? host_hist_count(id, HM_LAT_FIRST) : 0, want[j].resp);
	}
	check(host_id("server.example") < 0, "a response's Host header names no host", "it did");
	check(host_id("b.example") < 0, "a second Host header is not taken", "it was");
	for (id = 0; id < HM_MAX_HOSTS; id++) {
		struct hm_stats pair[2];

		host_id_stats(id, &h);
		pair[0] = sum;
		pair[1] = h;
		hm_stats_sum(&sum, pair, 2);
	}
	client_stats(&f, &c);
	CHECK_EQ("all hosts: requests = the client's", sum.requests, c.requests);
	CHECK_EQ("all hosts: requests = sent", sum.requests, req);
	CHECK_EQ("all hosts: bytes in = the client's", sum.bytes_in, c.bytes_in);
	CHECK_EQ("all hosts: bytes in = sent", sum.bytes_in, in);
	CHECK_EQ("all hosts: bytes out = sent", sum.bytes_out, out);
	CHECK_EQ("all hosts: responses = the client's", sum.responses, c.responses);
	/* Pairs: example.com with /a (3 requests: two, then the last) and with /b (the POST). */
	{
		struct hm_route_key rk = { .method = HM_METHOD_GET };
		struct hm_route_val rv = {};
		int ex_id = host_id("example.com");

		memcpy(rk.label, "/a", 2);
		bpf_map_lookup_elem(fd_route_ids, &rk, &rv);
		check(ex_id >= 0 && pair_stats(ex_id, rv.id, &h) && h.requests == 3 &&
			      h.responses == 3 && h.status[HM_STATUS_5XX] == 1,
		      "pair (example.com, GET /a)", "requests=%llu responses=%llu",
		      (unsigned long long)h.requests, (unsigned long long)h.responses);
		rk.method = HM_METHOD_POST;
		memcpy(rk.label, "/b", 2);
		rv.id = 0;
		bpf_map_lookup_elem(fd_route_ids, &rk, &rv);
		check(ex_id >= 0 && pair_stats(ex_id, rv.id, &h) && h.requests == 1 &&
			      h.bytes_in == strlen("POST /b HTTP/1.1\r\nContent-Length: 4\r\nHost: "
						   "example.com\r\n\r\nbody"),
		      "pair (example.com, POST /b): its bytes, body included", "requests=%llu in=%llu",
		      (unsigned long long)h.requests, (unsigned long long)h.bytes_in);
	}
	if (failures)
		host_dump();
}

/* A name longer than HM_HOST_LEN is cut there; orphans and write-offs land on hosts too. */
static void test_host_edges(void)
{
	char req[256], name[80];
	struct hm_stats h;
	struct flow f;
	__u64 trunc0 = monitor(HM_MON_HOST_TRUNCATED);

	set_config("path", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.17", 44391, "10.0.0.1", 8080);
	memset(name, 'x', 70);
	name[70] = 0;
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", name);
	send_str(&f, true, req);
	send_str(&f, false, RESP_OK);
	name[HM_HOST_LEN] = 0;
	check(host_stats(name, &h) && h.requests == 1 && h.responses == 1,
	      "a 70-byte name: its first 64 bytes", "requests=%llu", (unsigned long long)h.requests);
	CHECK_EQ("host_truncated", monitor(HM_MON_HOST_TRUNCATED) - trunc0, 1);
	/* The same, its line cut by the segment's end: the byte grammar cuts it alike. */
	memset(name, 'y', 70);
	name[70] = 0;
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s", name);
	send_str(&f, true, req);
	send_str(&f, true, "\r\n\r\n");
	send_str(&f, false, RESP_OK);
	name[HM_HOST_LEN] = 0;
	check(host_stats(name, &h) && h.requests == 1 && h.bytes_in == strlen(req) + 4,
	      "a 70-byte name, cut by a segment: its first 64 bytes", "requests=%llu in=%llu",
	      (unsigned long long)h.requests, (unsigned long long)h.bytes_in);
	CHECK_EQ("host_truncated again", monitor(HM_MON_HOST_TRUNCATED) - trunc0, 2);

	/* An orphan response: _unknown. */
	send_str(&f, false, RESP_OK);
	host_id_stats(HM_HOST_UNKNOWN, &h);
	CHECK_EQ("an orphan response: on _unknown", h.responses, 1);
	CHECK_EQ("its bytes too", h.bytes_out, strlen(RESP_OK));

	/* A request the connection's end leaves unanswered: on its host. */
	send_str(&f, true, "GET / HTTP/1.1\r\nHost: gone.example\r\n\r\n");
	send_seg(&f, false, PKT_RST, "", 0);
	check(host_stats("gone.example", &h) && h.requests == 1 && h.unanswered == 1 &&
		      h.responses == 0,
	      "a request the RST ends: unanswered on its host", "requests=%llu unanswered=%llu",
	      (unsigned long long)h.requests, (unsigned long long)h.unanswered);
}

/* Past HM_MAX_HOSTS names, _other: counted, and hosts_full says so. */
static void test_hosts_full(void)
{
	char req[128];
	struct hm_stats h;
	struct flow f;
	__u64 full0 = monitor(HM_MON_HOSTS_FULL);
	int extra = 5, named = HM_MAX_HOSTS - HM_HOST_FIRST;

	set_config("path", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.18", 44392, "10.0.0.1", 8080);
	for (int i = 0; i < named + extra; i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h%d.example\r\n\r\n", i);
		send_str(&f, true, req);
		send_str(&f, false, RESP_OK);
	}
	check(host_stats("h0.example", &h) && h.requests == 1, "the first name has its row",
	      "requests=%llu", (unsigned long long)h.requests);
	check(host_id("h300.example") < 0, "a name past the bound has none", "it has");
	host_id_stats(HM_HOST_OTHER, &h);
	CHECK_EQ("_other: the names past the bound", h.requests, extra);
	CHECK_EQ("hosts_full", monitor(HM_MON_HOSTS_FULL) - full0, extra);
}

/* --no-hosts (HM_CFG_NO_HOSTS), live: no host names, rows or histograms; --hosts again: back. */
static void test_no_hosts(void)
{
	static const char req[] = "GET /a HTTP/1.1\r\nHost: off.example\r\n\r\n";
	struct hm_config cfg = {};
	struct hm_stats c, h, sum = {};
	struct flow f;
	__u32 zero = 0;

	set_config("path", NULL, NULL, 0, 0);
	bpf_map_lookup_elem(fd_config, &zero, &cfg);
	cfg.flags |= HM_CFG_NO_HOSTS;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	flow_v4(&f, "10.0.5.19", 44393, "10.0.0.1", 8080);
	for (int i = 0; i < 3; i++) {
		send_str(&f, true, req);
		send_str(&f, false, RESP_OK);
	}
	client_stats(&f, &c);
	CHECK_EQ("the client's rows count as ever", c.requests, 3);
	CHECK_EQ("the client's responses", c.responses, 3);
	check(host_id("off.example") < 0, "no host name", "named");
	for (__u32 id = 0; id < HM_MAX_HOSTS; id++) {
		struct hm_stats pair[2];

		host_id_stats(id, &h);
		pair[0] = sum;
		pair[1] = h;
		hm_stats_sum(&sum, pair, 2);
	}
	CHECK_EQ("no host row counted a request", sum.requests, 0);
	CHECK_EQ("no host row counted a response", sum.responses, 0);
	CHECK_EQ("no host row counted a byte", sum.bytes_in + sum.bytes_out, 0);
	for (__u32 id = 0; id < HM_HIST_HOSTS; id++)
		if (host_hist_count(id, HM_LAT_FIRST))
			check(false, "no host histogram sample", "host id %u has some", id);
	CHECK_EQ("no host histogram sample (overflow slot)",
		 host_hist_count(HM_HIST_HOSTS, HM_LAT_FIRST), 0);

	cfg.flags &= ~HM_CFG_NO_HOSTS;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
	send_str(&f, true, req);
	send_str(&f, false, RESP_OK);
	check(host_stats("off.example", &h) && h.requests == 1 && h.responses == 1 &&
		      h.bytes_in == strlen(req) && h.bytes_out == strlen(RESP_OK),
	      "hosts on again: the next exchange on its host", "requests=%llu responses=%llu",
	      (unsigned long long)h.requests, (unsigned long long)h.responses);
}

/* 1xx interim responses are not responses, but their bytes are their request's route's. */
static void test_interim_route_bytes(void)
{
	static const char post[] = "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
				   "Content-Length: 4\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct hm_stats c, r;
	struct flow f;

	set_config("path", NULL, NULL, 0, 0);
	flow_v4(&f, "10.0.5.12", 44389, "10.0.0.1", 8080);
	send_str(&f, true, post);
	send_str(&f, false, cont);
	send_str(&f, true, "body");
	send_str(&f, false, RESP_OK);
	client_stats(&f, &c);
	route_stats(HM_METHOD_POST, "/up", &r);
	CHECK_EQ("one response", c.responses, 1);
	CHECK_EQ("client bytes_out: the 100 Continue and the answer", c.bytes_out,
		 strlen(cont) + strlen(RESP_OK));
	CHECK_EQ("route bytes_out = client bytes_out", r.bytes_out, c.bytes_out);
	CHECK_EQ("route bytes_in = client bytes_in", r.bytes_in, c.bytes_in);
}

/*
 * A segment seen at a second hook is not a retransmission: on loopback every
 * segment crosses egress and then ingress, with a bridge and its port both
 * monitored every segment crosses both.  Counted once, where first seen.
 */
static void test_repeat_sightings(void)
{
	uint8_t frame[PKT_MAX];
	struct hm_stats s;
	struct flow f;
	size_t n;
	const char *msgs[] = { REQ_A, RESP_OK, REQ_A, RESP_500 };

	flow_v4(&f, "127.0.0.1", 44388, "127.0.0.1", 8080);
	for (int i = 0; i < 4; i++) {
		n = pkt_build(frame, &f, i % 2 == 0, 0, msgs[i], strlen(msgs[i]));
		run(true, frame, n);  /* loopback's egress */
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
	CHECK_EQ("retrans_segments: only the real retransmission",
		 monitor(HM_MON_RETRANS_SEGMENTS), 1);
}

/*
 * hm-load rewrites hm_aging, which cancels the sweep; it then runs
 * hm_aging_kick so connections already idle are still aged when no packet
 * ever comes again.
 */
static void test_aging_kick(void)
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
	reset_aging();             /* what a re-run of hm-load does */
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
static void test_fast_open(void)
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

/* Issue 6, case 14: IPv4 and TCP header shapes. */
static void test_packet_shapes(void)
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

/* Issue 6, case 15: a non-first IPv4 fragment is never parsed as TCP. */
static void test_fragments(void)
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

/* Issue 6, case 16: 0, 1, 4, 7 and 8 IPv6 extension headers are followed; 9 are not. */
static void test_ipv6_ext_counts(void)
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
 * Issue 6, case 18: a GSO super-packet (gso_size and gso_segs set, as TSO
 * hands them to egress): one segment for the monitor, bytes exact.
 */
static void test_gso(void)
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

		check(!err && (int)opts.retval == TC_ACT_UNSPEC, "super-packet passes", "err=%d retval=%u",
		      err, opts.retval);
	}
	send_str(&f, true, REQ_B);
	send_str(&f, false, RESP_OK);
	client_stats(&f, &s);
	CHECK_EQ("responses", s.responses, 2);
	CHECK_EQ("bytes_out exact", s.bytes_out, 3000 + strlen(RESP_OK) +
		 strlen("HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n"));
	CHECK_EQ("the next response framed right after it", s.lat.count, 2);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "request_response", test_request_response },
	{ "status_classes", test_status_classes },
	{ "pipelined", test_pipelined },
	{ "pipeline_overflow", test_pipeline_overflow },
	{ "pipeline_bursts", test_pipeline_bursts },
	{ "response_in_pieces", test_response_in_pieces },
	{ "map_pressure", test_map_pressure },
	{ "ipv6_ext", test_ipv6_ext },
	{ "vlan", test_vlan },
	{ "split_request_line", test_split_request_line },
	{ "retransmission", test_retransmission },
	{ "fin_pending", test_fin_pending },
	{ "non_http", test_non_http },
	{ "body_is_not_a_message", test_body_is_not_a_message },
	{ "head_and_interim", test_head_and_interim },
	{ "orphan_and_mid_stream", test_orphan_and_mid_stream },
	{ "port_filter", test_port_filter },
	{ "padding_and_bad_length", test_padding_and_bad_length },
	{ "route_path", test_route_path },
	{ "route_query", test_route_query },
	{ "route_patterns", test_route_patterns },
	{ "route_split_and_pipelined", test_route_split_and_pipelined },
	{ "route_unknown_other", test_route_unknown_other },
	{ "client_prefix", test_client_prefix },
	{ "gap_response", test_gap_response },
	{ "out_of_order", test_out_of_order },
	{ "gap_request_pipelined", test_gap_request_pipelined },
	{ "early_response", test_early_response },
	{ "idle_aging", test_idle_aging },
	{ "two_cpus", test_two_cpus },
	{ "malformed_status", test_malformed_status },
	{ "lengths", test_lengths },
	{ "long_lines", test_long_lines },
	{ "methods", test_methods },
	{ "method_table_bound", test_method_table_bound },
	{ "tunnels", test_tunnels },
	{ "interim_route_bytes", test_interim_route_bytes },
	{ "route_cache", test_route_cache },
	{ "hosts", test_hosts },
	{ "host_edges", test_host_edges },
	{ "hosts_full", test_hosts_full },
	{ "no_hosts", test_no_hosts },
	{ "repeat_sightings", test_repeat_sightings },
	{ "aging_kick", test_aging_kick },
	{ "packet_shapes", test_packet_shapes },
	{ "fragments", test_fragments },
	{ "ipv6_ext_counts", test_ipv6_ext_counts },
	{ "gso", test_gso },
	{ "fast_open", test_fast_open },
	{ "upstream_loss", test_upstream_loss },
};

static int map_fd(const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

/*
 * --replay (issue 6, case 19): test_parse --replay OBJECT CONVERSATION
 * CLIENT_IP SERVER_IP SERVER_PORT feeds one conversation file
 * (tests/lib/conversation.py: "C <len>\n<bytes>\n" client writes and
 * "S <len>\n<bytes>\n" server writes, '#' comments) through test_run as
 * linear skbs: client writes through tc ingress, server writes through tc
 * egress, each cut into 1448-byte segments as send_write does, then a FIN
 * from each side.  Prints the client's row, the port's row and the monitor
 * counters as one line of JSON for tests/e2e/test_linear.sh to compare with
 * the same conversation over a live veth.  Exit 1 when the file is bad or a
 * frame did not pass.
 */
static const char *const replay_mon_names[HM_MON_MAX] = {
#define REPLAY_MON_NAME(sym, name, desc) [HM_MON_##sym] = name,
	HM_MONITOR_COUNTERS(REPLAY_MON_NAME)
#undef REPLAY_MON_NAME
};

/* The rest of a row object: its counters and latency sample counts, then '}'. */
static void replay_row(const struct hm_stats *s)
{
	printf(", \"requests\": %llu, \"responses\": %llu, \"unanswered\": %llu, "
	       "\"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, \"4xx\": %llu, "
	       "\"5xx\": %llu}, \"bytes_in\": %llu, \"bytes_out\": %llu, \"latency_count\": %llu, "
	       "\"latency_ok_count\": %llu, \"latency_fail_count\": %llu, "
	       "\"latency_last_count\": %llu}",
	       (unsigned long long)s->requests, (unsigned long long)s->responses,
	       (unsigned long long)s->unanswered, (unsigned long long)s->status[HM_STATUS_1XX],
	       (unsigned long long)s->status[HM_STATUS_2XX],
	       (unsigned long long)s->status[HM_STATUS_3XX],
	       (unsigned long long)s->status[HM_STATUS_4XX],
	       (unsigned long long)s->status[HM_STATUS_5XX], (unsigned long long)s->bytes_in,
	       (unsigned long long)s->bytes_out, (unsigned long long)s->lat.count,
	       (unsigned long long)s->lat_ok.count, (unsigned long long)s->lat_fail.count,
	       (unsigned long long)s->lat_last.count);
}

static int replay_main(int argc, char **argv)
{
	const char *file;
	struct hm_stats cs, ps;
	struct flow f;
	char *buf, *p, *end, *nl;
	long size;
	unsigned long port;
	int writes = 0;
	FILE *in;

	if (argc != 4 || (port = strtoul(argv[3], NULL, 10)) == 0 || port > 65535) {
		fprintf(stderr, "usage: test_parse --replay OBJECT CONVERSATION CLIENT_IP SERVER_IP "
				"SERVER_PORT\n");
		return 2;
	}
	file = argv[0];
	in = fopen(file, "rb");
	if (!in || fseek(in, 0, SEEK_END) || (size = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) ||
	    !(buf = malloc(size + 1)) || fread(buf, 1, size, in) != (size_t)size) {
		fprintf(stderr, "test_parse --replay: cannot read %s: %s\n", file, strerror(errno));
		if (in)
			fclose(in);
		return 1;
	}
	fclose(in);
	buf[size] = 0;
	if (strchr(argv[1], ':'))
		flow_v6(&f, argv[1], 40019, argv[2], port);
	else
		flow_v4(&f, argv[1], 40019, argv[2], port);
	current = "replay";
	reset_maps();
	for (p = buf, end = buf + size; p < end; p = nl + 1) {
		char side, *len_end;
		unsigned long len;

		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (*p == '#' || p == nl)
			continue;
		side = *p;
		len = strtoul(p + 1, &len_end, 10);
		if (nl == end || (side != 'C' && side != 'S') || p[1] != ' ' || len_end != nl ||
		    len > (unsigned long)(end - nl - 1) || nl[1 + len] != '\n') {
			fprintf(stderr, "test_parse --replay: %s: bad record at byte %ld\n", file,
				(long)(p - buf));
			return 1;
		}
		for (unsigned long off = 0; off < len; off += 1448)
			send_seg(&f, side == 'C', 0, nl + 1 + off, len - off < 1448 ? len - off : 1448);
		writes++;
		nl += 1 + len;
	}
	send_seg(&f, true, PKT_FIN, "", 0);
	send_seg(&f, false, PKT_FIN, "", 0);
	free(buf);
	client_stats(&f, &cs);
	port_stats(port, &ps);
	printf("{\"writes\": %d, \"client\": {\"ip\": \"%s\"", writes, argv[1]);
	replay_row(&cs);
	printf(", \"port\": {\"port\": %lu", port);
	replay_row(&ps);
	printf(", \"monitor\": {");
	for (int i = 0; i < HM_MON_MAX; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", replay_mon_names[i],
		       (unsigned long long)monitor(i));
	printf("}}\n");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int replay = argc > 1 && !strcmp(argv[1], "--replay"); /* replay_main: argv[2] is OBJECT */
	const char *path = argc > 1 + replay ? argv[1 + replay] : "build/httpmon.o";
	const char *only = argc > 2 ? argv[2] : NULL;
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	hm_prog_name = "test_parse";
	if (getenv("HM_TEST_VERBOSE")) /* show libbpf's messages and the verifier log */
		hm_log_max = HM_LOG_DEBUG + 1;
	hm_libbpf_logging();
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		printf("not ok - open %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* libbpf 1.1 does not know the tc/ingress and tc/egress section names. */
	bpf_object__for_each_program(prog, obj)
		if (!strncmp(bpf_program__name(prog), "hm_tc_", 6))
			bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL); /* private maps: never touch real pins */
	err = bpf_object__load(obj);
	if (err) {
		printf("not ok - load %s: %s\n", path, strerror(-err));
		return 1;
	}
	prog_in = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_tc_ingress"));
	prog_eg = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_tc_egress"));
	prog_xdp = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_xdp_ingress"));
	fd_monitor = map_fd(HM_MAP_MONITOR);
	fd_conns = map_fd(HM_MAP_CONNS);
	fd_config = map_fd(HM_MAP_CONFIG);
	fd_routes = map_fd(HM_MAP_ROUTES);
	fd_route_ids = map_fd(HM_MAP_ROUTE_IDS);
	fd_route_pats = map_fd(HM_MAP_ROUTE_PATTERNS);
	fd_aging = map_fd(HM_MAP_AGING);
	fd_hist = map_fd(HM_MAP_HIST);
	fd_method_ids = map_fd(HM_MAP_METHOD_IDS);
	fd_row_ids = map_fd(HM_MAP_ROW_IDS);
	prog_kick = bpf_program__fd(bpf_object__find_program_by_name(obj, "hm_aging_kick"));
	for (size_t i = 0; i < hm_map_descs_len; i++)
		*hm_maps_fd(&maps, &hm_map_descs[i]) = map_fd(hm_map_descs[i].name);
	ncpus = libbpf_num_possible_cpus();
	if (replay) {
		err = replay_main(argc - 3, argv + 3);
		bpf_object__close(obj);
		return err;
	}

	/* Every case twice: requests through TC ingress, then through XDP. */
	for (int pass = 0; pass < 2; pass++) {
		via_xdp = pass == 1;
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
			char name[64];

			snprintf(name, sizeof(name), "%s%s", tests[i].name, via_xdp ? "_xdp" : "");
			if (only && !strstr(name, only))
				continue;
			current = name;
			reset_maps();
			tests[i].fn();
		}
	}
	bpf_object__close(obj);
	fprintf(stderr, "test_parse: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
