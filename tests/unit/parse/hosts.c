// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hosts.c - test_parse cases: rows per virtual host and per (host, route). */
#include "harness.h"

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
void test_hosts(void)
{
	struct {
		const char *seg[3]; /* one request in up to three segments */
		const char *host; /* the name it must count under; NULL: _none */
		const char *resp;
	} ex[] = {
		{ { "GET /a HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n" }, "example.com", RESP_OK },
		{ { "GET /a HTTP/1.1\r\nhost:example.com\r\n\r\n" }, "example.com", RESP_500 },
		{ { "GET /b HTTP/1.1\r\nHOST: \tapi.example.com.\r\n\r\n" },
		  "api.example.com",
		  RESP_OK },
		{ { "GET /a HTTP/1.0\r\nAccept: */*\r\n\r\n" }, NULL, RESP_OK },
		{ { "GET /a HTTP/1.1\r\nHost: [::1]:80\r\n\r\n" }, "[::1]", RESP_OK },
		{ { "GET /a HTTP/1.1\r\nHo", "st: Split.Example\r\n\r\n" },
		  "split.example",
		  RESP_OK },
		{ { "GET /a HTTP/1.1\r\nAccept: x\r\nHost: sp", "lit2.EXAMPLE:99\r\nX: y\r\n\r\n" },
		  "split2.example",
		  RESP_OK },
		{ { "GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n" },
		  "a.example",
		  RESP_OK },
		{ { "POST /b HTTP/1.1\r\nContent-Length: 4\r\nHost: ", "example.com\r\n\r\n",
		    "body" },
		  "example.com",
		  RESP_OK },
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
		snprintf(what, sizeof(what), "host %s: requests",
			 *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.requests, want[j].req);
		snprintf(what, sizeof(what), "host %s: responses",
			 *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.responses, want[j].resp);
		snprintf(what, sizeof(what), "host %s: 5xx",
			 *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.status[HM_STATUS_5XX], want[j].s5);
		snprintf(what, sizeof(what), "host %s: bytes in",
			 *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.bytes_in, want[j].in);
		snprintf(what, sizeof(what), "host %s: bytes out",
			 *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.bytes_out, want[j].out);
		snprintf(what, sizeof(what), "host %s: latency samples",
			 *want[j].host ? want[j].host : "_none");
		CHECK_EQ(what, h.lat.count, want[j].resp);
		snprintf(what, sizeof(what), "host %s: histogram samples",
			 *want[j].host ? want[j].host : "_none");
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
		      "pair (example.com, POST /b): its bytes, body included",
		      "requests=%llu in=%llu", (unsigned long long)h.requests,
		      (unsigned long long)h.bytes_in);
	}
	if (failures)
		host_dump();
}

/* A name longer than HM_HOST_LEN is cut there; orphans and write-offs land on hosts too. */
void test_host_edges(void)
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
	      "a 70-byte name: its first 64 bytes", "requests=%llu",
	      (unsigned long long)h.requests);
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
void test_hosts_full(void)
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
void test_no_hosts(void)
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
