// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* maps.c - test_parse cases: rows under pressure: full maps, two CPUs, the port filter, client prefixes. */
#include "harness.h"

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
		add_stats(hm_row_array(&maps, kind), key.gen * hm_row_capacity(kind) + val.id,
			  &sum);
		(*rows)++;
	}
	for (int gen = 0; gen < HM_GENS; gen++)
		add_stats(hm_row_array(&maps, kind), gen * hm_row_capacity(kind), &sum);
	return sum.requests;
}

/*
 * Hostile input 20 (the README's table): far more clients than the maps hold.  Totals survive
 * through the overflow row, the full maps say so, and the first keys stay
 * exact.
 */
void test_map_pressure(void)
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
	check(port_stats(8080, &s) && s.requests == (__u64)n, "the port row counts all",
	      "requests=%llu", (unsigned long long)s.requests);
	flow_v4(&f, "11.0.0.0", 40000, "10.0.0.1", 8080);
	check(client_stats(&f, &s) && s.requests == 1, "the first client is exact", "missing");
	check(live_conns() <= HM_MAX_CONNS, "connection state bounded by its LRU map",
	      "%llu entries", (unsigned long long)live_conns());
}

void test_port_filter(void)
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

void test_client_prefix(void)
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

/*
 * Hostile input 21 (the README's table): both CPUs update the same rows (client, port, route,
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

void test_two_cpus(void)
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
	/* Hostile input 25 (the README's table): histogram totals equal request totals. */
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
