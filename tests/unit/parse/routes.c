// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* routes.c - test_parse cases: routes and methods: grouping, patterns, the route and method tables. */
#include "harness.h"

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

void test_route_path(void)
{
	struct hm_stats s, c;

	set_config("path", NULL, NULL, 0, 0);
	exchange("10.1.0.1", 41000, "GET /api/users/123 HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41001, "GET /api/users/456?x=1 HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41002, "POST /api/users HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		 RESP_500);
	exchange("10.1.0.1", 41003, "GET /api/7/x HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41004, "GET / HTTP/1.1\r\n\r\n", RESP_OK);
	exchange("10.1.0.1", 41005, "GET http://example.test/api/users/9 HTTP/1.1\r\n\r\n",
		 RESP_OK);
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

void test_route_query(void)
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

void test_route_patterns(void)
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
	      "prefix pattern on segment boundaries", "requests=%llu",
	      (unsigned long long)s.requests);
	check(route_stats(HM_METHOD_GET, "/staticky", &s) && s.requests == 1,
	      "a longer segment is not the prefix", "missing");
}

void test_route_split_and_pipelined(void)
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
	send_str(&f, true,
		 "GET /a/1 HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /a/2 HTTP/1.1\r\n\r\n");
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

void test_route_unknown_other(void)
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
	check(route_stats(HM_METHOD_GET, "/ra", &s) && s.requests == 1, "first route exact",
	      "missing");
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

/* Hostile inputs 11 and 12 (the README's table): non-HTTP and unknown methods open no state and are counted. */
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
void test_methods(void)
{
	static const char *junk[] = {
		"GETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n", /* a 21-character token */
		"GE(T / HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc",
		"SSH-2.0-OpenSSH_9.2p1\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"EHLO mail.example.test\r\n",
		"FOO bar HTTP/1.1\r\n\r\n",
	};
	static const char *const methods[] = {
		"PROPFIND",
		"PROPPATCH",
		"MKCOL",
		"COPY",
		"MOVE",
		"LOCK",
		"UNLOCK",
		"REPORT",
		"SEARCH",
		"QUERY",
		"OPTIONS",
		"TRACE",
		"PATCH",
		"CCM_POST",
		"get",
		"M-SEARCH",
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
		send_str(&f, false,
			 i % 2 ? RESP_OK :
				 "HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n");
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
		check(id && route_stats(id, req, &s) && s.requests == 1 && s.responses == 1, name,
		      "method id %u", id);
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
void test_method_table_bound(void)
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
	CHECK_EQ("the reader's name of _other", strcmp(hm_method_name(HM_METHOD_OTHER), "_other"),
		 0);
}

/*
 * A connection remembers its last request target: the same target again is
 * its route without a parse, a new grouping (hm-load) or forgotten labels
 * (hm-reset --routes) are not served from what it remembers.
 */
void test_route_cache(void)
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
	check(route_stats(HM_METHOD_GET, "/other", &s) && s.requests == 1,
	      "another target: its own", "requests=%llu", (unsigned long long)s.requests);
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

/* 1xx interim responses are not responses, but their bytes are their request's route's. */
void test_interim_route_bytes(void)
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
