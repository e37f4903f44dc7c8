// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mkmaps - creates and pins a httpmon map set with known contents, so the
 * readers can be tested without the classifier.  Prints what it wrote, per
 * CPU, as JSON on stdout: the test's ground truth.  The live generation is 1
 * (epoch 1); some rows, histograms and counters are in generation 0 too, as
 * an interrupted reset would leave them, and a key in both adds up: its
 * "percpu" list holds both generations' copies.  Keys are printed in the
 * layout of the readers' rows (a client's address, a port, ...).
 *
 * With --sockets it makes a socket set (httpmon.h, HM_SOCK_SUBDIR): the same
 * maps and rows, other self-metrics and live connections, and the process
 * rows (hm_proc_ids, hm_procs, hm_sock_cgrp): two nginx pids in the cgroup
 * --cgroup-id names, python3 in --root-cgroup-id's, one in a cgroup that is
 * gone, the overflow row, and a row no name points at (a reset leaves it).
 *
 * Usage: mkmaps DIR [--layout N] [--omit MAP] [--bad-value MAP] [--empty]
 *               [--sockets [--cgroup-id ID] [--root-cgroup-id ID]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "httpmon.h"
#include "hm_pin.h"

#define CONN_KEY_SIZE 40 /* any size: the readers must not assume one */
#define CONN_VALUE_SIZE 96
#define LIVE_CONNS 3

struct spec {
	const char *name;
	enum bpf_map_type type;
	__u32 key_size, value_size, max_entries;
	int fd;
	bool omit, bad_value;
};

/*
 * The map set as hm_map_descs (pin/hm_pin.c) describes it, the one
 * description the loader and readers use; where it leaves a size open (0:
 * private to the program, or chosen at load time), a size of mkmaps' own.
 */
static struct spec specs[64];
static size_t nspecs;
#define NSPECS nspecs
static bool sockets; /* --sockets: the socket set, with its own maps */

static bool sock_map(const char *name)
{
	return !strcmp(name, HM_MAP_PROC_IDS) || !strcmp(name, HM_MAP_PROCS) ||
	       !strcmp(name, HM_MAP_SOCK_CGROUP);
}

static void specs_from_descs(void)
{
	for (size_t i = 0; i < hm_map_descs_len; i++) {
		const struct hm_map_desc *d = &hm_map_descs[i];
		bool conns = !strcmp(d->name, HM_MAP_CONNS);

		/* hm_links is pinned by hm-load, not part of every set */
		if (d->optional && !(sockets && sock_map(d->name)))
			continue;
		if (nspecs == sizeof(specs) / sizeof(specs[0])) {
			fprintf(stderr, "mkmaps: more maps than it has room for\n");
			exit(2);
		}
		specs[nspecs++] = (struct spec){
			.name = d->name,
			.type = d->type,
			.key_size = d->key_size ? d->key_size : conns ? CONN_KEY_SIZE : 4,
			.value_size = d->value_size ? d->value_size : conns ? CONN_VALUE_SIZE : 4,
			.max_entries = d->max_entries ? d->max_entries : conns ? 1024 : 256,
		};
	}
}

static int ncpus, cpu_b;
static bool first_entry;

#define LAT(c, s, lo, hi)                                                      \
	((struct hm_latency){ .count = c, .sum_ns = s, .min_ns = lo, .max_ns = hi })

/* One per-CPU contribution: requests, responses, unanswered, 1xx..5xx. */
static struct hm_stats st(__u64 req, __u64 resp, __u64 unans, __u64 s1,
			  __u64 s2, __u64 s3, __u64 s4, __u64 s5,
			  struct hm_latency ok, struct hm_latency fail,
			  __u64 in, __u64 out)
{
	struct hm_stats s = {
		.requests = req, .responses = resp, .unanswered = unans,
		.status = { s1, s2, s3, s4, s5 },
		.lat_ok = ok, .lat_fail = fail,
		.bytes_in = in, .bytes_out = out,
	};
	const struct hm_latency *l[2] = { &ok, &fail };
	int i;

	for (i = 0; i < 2; i++) {
		if (!l[i]->count)
			continue;
		if (!s.lat.count || l[i]->min_ns < s.lat.min_ns)
			s.lat.min_ns = l[i]->min_ns;
		if (!s.lat.count || l[i]->max_ns > s.lat.max_ns)
			s.lat.max_ns = l[i]->max_ns;
		s.lat.count += l[i]->count;
		s.lat.sum_ns += l[i]->sum_ns;
	}
	return s;
}

#define none LAT(0, 0, 0, 0)

static void die(const char *what)
{
	fprintf(stderr, "mkmaps: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct spec *spec(const char *name)
{
	size_t i;

	if (!nspecs)
		specs_from_descs();
	for (i = 0; i < NSPECS; i++)
		if (!strcmp(specs[i].name, name))
			return &specs[i];
	fprintf(stderr, "mkmaps: no map %s\n", name);
	exit(2);
}

static struct hm_addr addr(const char *text)
{
	struct hm_addr a = { 0 };

	if (inet_pton(AF_INET6, text, a.a) == 1)
		return a;
	a.a[10] = a.a[11] = 0xff;
	if (inet_pton(AF_INET, text, &a.a[12]) != 1) {
		fprintf(stderr, "mkmaps: bad address %s\n", text);
		exit(2);
	}
	return a;
}

static void print_hex(const void *p, size_t n)
{
	const __u8 *b = p;
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('"');
}

static void print_lat(const char *name, const struct hm_latency *l)
{
	printf(", \"%s\": {\"count\": %llu, \"sum_ns\": %llu, \"min_ns\": %llu, "
	       "\"max_ns\": %llu}", name, (unsigned long long)l->count,
	       (unsigned long long)l->sum_ns, (unsigned long long)l->min_ns,
	       (unsigned long long)l->max_ns);
}

static void print_stats(const struct hm_stats *s)
{
	int i;

	printf("{\"requests\": %llu, \"responses\": %llu, \"unanswered\": %llu, "
	       "\"status\": [", (unsigned long long)s->requests,
	       (unsigned long long)s->responses,
	       (unsigned long long)s->unanswered);
	for (i = 0; i < HM_STATUS_CLASSES; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)s->status[i]);
	printf("]");
	print_lat("lat", &s->lat);
	print_lat("lat_ok", &s->lat_ok);
	print_lat("lat_fail", &s->lat_fail);
	printf(", \"bytes_in\": %llu, \"bytes_out\": %llu}",
	       (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out);
}

/* One row's copy in one generation: a on CPU 0, b on CPU cpu_b (dropped with one CPU). */
struct part {
	unsigned int gen;
	__u32 idx; /* index in the array */
	struct hm_stats a, b;
};

/*
 * Writes one row, in one or two generations (nparts), and prints it under
 * key: every generation's per-CPU values, which add up.
 */
static void put_row(struct spec *sp, const void *key, size_t key_len, const struct part *parts,
		    int nparts)
{
	struct hm_stats *v = calloc(ncpus, sizeof(*v));
	int p;

	if (!v)
		die("calloc");
	printf("%s\n    {\"key\": ", first_entry ? "" : ",");
	first_entry = false;
	print_hex(key, key_len);
	printf(", \"percpu\": [");
	for (p = 0; p < nparts; p++) {
		memset(v, 0, ncpus * sizeof(*v));
		v[0] = parts[p].a;
		if (cpu_b != 0)
			v[cpu_b] = parts[p].b;
		if (bpf_map_update_elem(sp->fd, &parts[p].idx, v, BPF_ANY))
			die(sp->name);
		for (int cpu = 0; cpu < ncpus; cpu++) {
			printf("%s", p || cpu ? ",\n      " : "");
			print_stats(&v[cpu]);
		}
	}
	printf("]}");
	free(v);
}

/* Names row id in generation gen of the kind; the key fields besides kind and gen are set. */
static void name_row(struct hm_row_key key, unsigned int gen, __u32 id)
{
	struct hm_row_val val = { .id = id };

	key.gen = gen;
	if (bpf_map_update_elem(spec(HM_MAP_ROW_IDS)->fd, &key, &val, BPF_ANY))
		die(HM_MAP_ROW_IDS);
}

/* A row of a kind named in one generation: id in gen, a and b on the two CPUs. */
static void row1(const char *map, struct hm_row_key key, const void *pkey, size_t klen,
		 unsigned int cap, unsigned int gen, __u32 id, struct hm_stats a, struct hm_stats b)
{
	struct part part = { gen, gen * cap + id, a, b };

	if (id)
		name_row(key, gen, id);
	put_row(spec(map), pkey, klen, &part, 1);
}

/* A row in both generations: id0 in 0 with a0/b0, id1 in 1 with a1/b1. */
static void row2(const char *map, struct hm_row_key key, const void *pkey, size_t klen,
		 unsigned int cap, __u32 id0, struct hm_stats a0, struct hm_stats b0, __u32 id1,
		 struct hm_stats a1, struct hm_stats b1)
{
	struct part parts[2] = { { 0, id0, a0, b0 }, { 1, cap + id1, a1, b1 } };

	if (id0)
		name_row(key, 0, id0);
	if (id1)
		name_row(key, 1, id1);
	put_row(spec(map), pkey, klen, parts, 2);
}

#define ZERO st(0, 0, 0, 0, 0, 0, 0, 0, none, none, 0, 0)

static void begin(const char *section)
{
	printf(",\n  \"%s\": [", section);
	first_entry = true;
}

static void end(void)
{
	printf("]");
}

static void fill_clients(void)
{
	struct hm_row_key k = { .kind = HM_ROW_CLIENT };

	begin("clients");
	/* min on cpu_b, max on cpu0; lat_ok the other way round; in both generations */
	k.addr = addr("10.0.0.2");
	row2(HM_MAP_CLIENTS, k, &k.addr, sizeof(k.addr), HM_MAX_CLIENTS,
	     3, st(2, 1, 1, 0, 0, 0, 0, 1, none, LAT(1, 9876000, 9876000, 9876000), 200, 2000),
	     st(1, 1, 0, 0, 1, 0, 0, 0, LAT(1, 1001200, 1001200, 1001200), none, 100, 1000),
	     1, st(4, 4, 0, 0, 4, 0, 0, 0, LAT(4, 8000000, 1500000, 3000000), none, 400, 4000),
	     st(3, 3, 0, 0, 2, 0, 0, 1, LAT(2, 7998800, 3998800, 4000000),
		LAT(1, 2500000, 2500000, 2500000), 300, 3000));
	k.addr = addr("2001:DB8:0:0:1:0:0:1");
	row1(HM_MAP_CLIENTS, k, &k.addr, sizeof(k.addr), HM_MAX_CLIENTS, 1, 2, ZERO,
	     st(3, 3, 0, 1, 1, 1, 1, 0, LAT(3, 3000, 700, 1300), none, 300, 3000));
	k.addr = addr("fe80::1");
	row1(HM_MAP_CLIENTS, k, &k.addr, sizeof(k.addr), HM_MAX_CLIENTS, 0, 1,
	     st(2, 0, 2, 0, 0, 0, 0, 0, none, none, 222, 0),
	     st(1, 0, 1, 0, 0, 0, 0, 0, none, none, 111, 0));
	k.addr = addr("::1");
	row1(HM_MAP_CLIENTS, k, &k.addr, sizeof(k.addr), HM_MAX_CLIENTS, 1, 3,
	     st(1, 1, 0, 0, 0, 0, 0, 1, none, LAT(1, 50000000, 50000000, 50000000), 10, 20), ZERO);
	end();
}

/* Port 8080 is row 1 of generation 1, 443 row 1 of generation 0: their histogram slots. */
static void fill_ports(void)
{
	struct hm_row_key k = { .kind = HM_ROW_PORT };
	__u16 pk[2] = { 0, 0 }; /* the readers' port key: port, padding */

	begin("ports");
	k.port = pk[0] = 8080;
	row1(HM_MAP_PORTS, k, pk, sizeof(pk), HM_MAX_PORTS, 1, 1,
	     st(8, 5, 3, 0, 4, 0, 0, 1, LAT(4, 8000000, 1500000, 3000000),
		LAT(1, 9876000, 9876000, 9876000), 822, 6000),
	     st(5, 4, 1, 0, 3, 0, 0, 1, LAT(3, 9000000, 1001200, 4000000),
		LAT(1, 2500000, 2500000, 2500000), 511, 4000));
	k.port = pk[0] = 443;
	row1(HM_MAP_PORTS, k, pk, sizeof(pk), HM_MAX_PORTS, 0, 1,
	     st(1, 1, 0, 0, 0, 0, 0, 1, none, LAT(1, 50000000, 50000000, 50000000), 10, 20),
	     st(3, 3, 0, 1, 1, 1, 1, 0, LAT(3, 3000, 700, 1300), none, 300, 3000));
	end();
}

static void fill_port_clients(void)
{
	struct hm_row_key k = { .kind = HM_ROW_PORT_CLIENT };
	struct {
		struct hm_addr ip;
		__u16 port, pad;
	} pk = { 0 };

	begin("port_clients");
	k.addr = pk.ip = addr("10.0.0.2");
	k.port = pk.port = 8080;
	row1(HM_MAP_PORT_CLIENTS, k, &pk, sizeof(pk), HM_MAX_PORT_CLIENTS, 1, 1,
	     st(6, 5, 1, 0, 4, 0, 0, 1, LAT(4, 8000000, 1500000, 3000000),
		LAT(1, 9876000, 9876000, 9876000), 600, 6000),
	     st(4, 4, 0, 0, 3, 0, 0, 1, LAT(3, 9000000, 1001200, 4000000),
		LAT(1, 2500000, 2500000, 2500000), 400, 4000));
	k.addr = pk.ip = addr("2001:db8::1:0:0:1");
	k.port = pk.port = 443;
	row1(HM_MAP_PORT_CLIENTS, k, &pk, sizeof(pk), HM_MAX_PORT_CLIENTS, 1, 2, ZERO,
	     st(3, 3, 0, 1, 1, 1, 1, 0, LAT(3, 3000, 700, 1300), none, 300, 3000));
	end();
}

/* The overflow rows (id 0) of clients, ports and port/client pairs, in that order. */
static void fill_overflow(void)
{
	struct hm_row_key none_key = { 0 };
	__u32 k;

	begin("overflow");
	k = HM_ROW_CLIENT;
	row2(HM_MAP_CLIENTS, none_key, &k, sizeof(k), HM_MAX_CLIENTS,
	     0, st(2, 1, 1, 0, 0, 0, 1, 0, LAT(1, 400000, 400000, 400000), none, 20, 200), ZERO,
	     0, st(7, 7, 0, 0, 7, 0, 0, 0, LAT(7, 7000000, 900000, 1100000), none, 70, 700), ZERO);
	k = HM_ROW_PORT;
	row1(HM_MAP_PORTS, none_key, &k, sizeof(k), HM_MAX_PORTS, 1, 0, ZERO, ZERO);
	k = HM_ROW_PORT_CLIENT;
	row1(HM_MAP_PORT_CLIENTS, none_key, &k, sizeof(k), HM_MAX_PORT_CLIENTS, 0, 0, ZERO,
	     st(2, 2, 0, 0, 0, 0, 0, 2, none, LAT(2, 3000000, 1000000, 2000000), 5, 6));
	end();
}

static void fill_monitor(void)
{
	static const struct {
		int counter;
		const char *name;
		__u64 cpu0, cpu_b;
	} packet_vals[] = {
		{ HM_MON_SEGMENTS, "segments", 100, 23 },
		{ HM_MON_RETRANS_BYTES, "retrans_bytes", 0, 5 },
		{ HM_MON_CLIENTS_FULL, "clients_full", 2, 1 },
		{ HM_MON_PORT_CLIENTS_FULL, "port_clients_full", 0, 2 },
	}, sock_vals[] = {
		{ HM_MON_SOCK_CALLS, "sock_calls", 300, 41 },
		{ HM_MON_SOCK_CLIENT, "sock_client", 7, 0 },
		{ HM_MON_SOCK_MIDSTREAM, "sock_midstream", 0, 3 },
		{ HM_MON_PROCS_FULL, "procs_full", 1, 1 },
	};
	const __typeof__(packet_vals[0]) *vals = sockets ? sock_vals : packet_vals;
	const size_t nvals = sizeof(packet_vals) / sizeof(packet_vals[0]);
	_Static_assert(sizeof(packet_vals) == sizeof(sock_vals), "as many of each");
	struct spec *sp = spec(HM_MAP_MONITOR);
	__u64 *v = calloc(ncpus, sizeof(*v));
	size_t i;
	__u32 k;

	if (!v)
		die("calloc");
	printf(",\n  \"monitor\": {");
	for (i = 0; i < nvals; i++) {
		memset(v, 0, ncpus * sizeof(*v));
		v[0] = vals[i].cpu0;
		if (cpu_b != 0)
			v[cpu_b] = vals[i].cpu_b;
		/* cpu_b's share in generation 0, CPU 0's in the live one */
		k = HM_MON_MAX + vals[i].counter;
		v[cpu_b] = 0;
		if (bpf_map_update_elem(sp->fd, &k, v, BPF_ANY))
			die(sp->name);
		v[0] = 0;
		v[cpu_b] = cpu_b ? vals[i].cpu_b : 0;
		k = vals[i].counter;
		if (bpf_map_update_elem(sp->fd, &k, v, BPF_ANY))
			die(sp->name);
		v[0] = vals[i].cpu0;
		printf("%s\"%s\": %llu", i ? ", " : "", vals[i].name,
		       (unsigned long long)(v[0] + (cpu_b ? v[cpu_b] : 0)));
	}
	printf("}");
	free(v);
}

/*
 * One histogram with samples a on CPU 0 and b on CPU cpu_b (dropped with one
 * CPU), recorded the way the classifier's hm_hist_add() does (sp NULL: only printed, for
 * a histogram the readers add up from others).  The samples
 * are printed: the checker computes the percentiles from them.
 */
#define SAMPLES(...) ((const __u64[]){ __VA_ARGS__ }), \
	sizeof((const __u64[]){ __VA_ARGS__ }) / sizeof(__u64)

static void put_hist(struct spec *sp, __u32 idx, const char *what,
		     const __u64 *a, size_t na, const __u64 *b, size_t nb)
{
	struct hm_hist *v = calloc(ncpus, sizeof(*v));
	const __u64 *src[2] = { a, b };
	size_t n[2] = { na, cpu_b ? nb : 0 }, i;
	int side, cpu;

	if (!v)
		die("calloc");
	printf("%s\n    {%s, \"percpu_samples\": [", first_entry ? "" : ",", what);
	first_entry = false;
	for (side = 0; side < 2; side++) {
		cpu = side ? cpu_b : 0;
		printf("%s[", side ? ", " : "");
		for (i = 0; i < n[side]; i++) {
			v[cpu].count++;
			v[cpu].sum_ns += src[side][i];
			v[cpu].buckets[hm_hist_bucket(src[side][i])]++;
			printf("%s%llu", i ? ", " : "", (unsigned long long)src[side][i]);
		}
		printf("]");
	}
	printf("]}");
	if (sp && bpf_map_update_elem(sp->fd, &idx, v, BPF_ANY))
		die(sp->name);
	free(v);
}

/*
 * Port 8080's first-byte samples are exactly those of its hm_ports row (so
 * the reader may clamp to its min/max), 443's include bucket 0, and the
 * ports overflow row has one sample beyond 68.7 s.  The total row holds them
 * all.
 */
static void fill_hists(void)
{
	struct spec *h = spec(HM_MAP_HIST);

	begin("hists");
	put_hist(h, HM_HIST_INDEX(1, HM_HIST_PORT_FIRST, HM_LAT_FIRST),
		 "\"map\": \"hm_hist_ports\", \"port\": 8080, \"family\": 0",
		 SAMPLES(1500000, 1500000, 2000000, 3000000, 9876000),
		 SAMPLES(1001200, 3998800, 4000000, 2500000));
	put_hist(h, HM_HIST_INDEX(1, HM_HIST_PORT_FIRST, HM_LAT_LAST),
		 "\"map\": \"hm_hist_ports\", \"port\": 8080, \"family\": 1",
		 SAMPLES(2000000, 5000000), SAMPLES(3000000));
	put_hist(h, HM_HIST_INDEX(0, HM_HIST_PORT_FIRST, HM_LAT_FIRST),
		 "\"map\": \"hm_hist_ports\", \"port\": 443, \"family\": 0",
		 SAMPLES(50000000), SAMPLES(700, 1000, 1300));
	put_hist(h, HM_HIST_INDEX(0, HM_HIST_PORTS_OTHER, HM_LAT_FIRST),
		 "\"map\": \"hm_hist\", \"row\": 1, \"family\": 0",
		 SAMPLES(70000000000ULL), SAMPLES(1));
	/* Every response, the sum of the port slots above: no slot of its own. */
	put_hist(NULL, 0, "\"map\": \"hm_hist\", \"row\": 0, \"family\": 0",
		 SAMPLES(1500000, 1500000, 2000000, 3000000, 9876000, 50000000,
			 70000000000ULL),
		 SAMPLES(1001200, 3998800, 4000000, 2500000, 700, 1000, 1300, 1));
	put_hist(NULL, 0, "\"map\": \"hm_hist\", \"row\": 0, \"family\": 1",
		 SAMPLES(2000000, 5000000), SAMPLES(3000000));
	end();
}

/*
 * Routes: ids 2-4 named in hm_route_ids (4's label needs escaping in every
 * format), rows for _other (0), _unknown (1) and 2-4, and histograms for
 * route 2 (the same samples as its row: clamped) and 4, and the routes
 * overflow row.
 */
#define WEIRD_LABEL "/weird \"label\",x\\\xff"

static void fill_routes(void)
{
	static const struct {
		__u8 method;
		const char *label;
		__u32 id;
	} names[] = {
		{ HM_METHOD_GET, "/api/users/{id}", 2 },
		{ HM_METHOD_POST, "/api/orders", 3 },
		{ HM_METHOD_GET, WEIRD_LABEL, 4 },
	};
	struct spec *ids = spec(HM_MAP_ROUTE_IDS), *rows = spec(HM_MAP_ROUTES);
	struct spec *h = spec(HM_MAP_HIST), *seq = spec(HM_MAP_SEQ);
	struct hm_route_key rk;
	struct hm_route_val rv;
	__u32 k, n = 3;
	size_t i;

	printf(",\n  \"route_names\": [");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(&rk, 0, sizeof(rk));
		rk.method = names[i].method;
		strncpy(rk.label, names[i].label, sizeof(rk.label));
		rv.id = names[i].id;
		if (bpf_map_update_elem(ids->fd, &rk, &rv, BPF_ANY))
			die(ids->name);
		printf("%s{\"id\": %u, \"method\": %u, \"label_hex\": ", i ? ", " : "",
		       rv.id, rk.method);
		print_hex(names[i].label, strlen(names[i].label));
		printf("}");
	}
	printf("]");
	k = HM_SEQ_ROUTES;
	if (bpf_map_update_elem(seq->fd, &k, &n, BPF_ANY))
		die(seq->name);

	/* Routes' rows are indexed gen * HM_MAX_ROUTES + id; the key printed is the id. */
	begin("routes");
	{
		struct part other = { 1, HM_MAX_ROUTES + HM_ROUTE_OTHER,
				      st(3, 3, 0, 0, 3, 0, 0, 0, LAT(3, 3000000, 900000, 1100000),
					 none, 30, 300), ZERO };
		struct part unknown = { 0, HM_ROUTE_UNKNOWN,
					st(0, 1, 0, 0, 1, 0, 0, 0, none, none, 0, 50), ZERO };
		struct part two[2] = {
			{ 1, HM_MAX_ROUTES + 2,
			  st(4, 4, 0, 0, 4, 0, 0, 0, LAT(4, 8000000, 1500000, 3000000), none, 400,
			     4000), ZERO },
			{ 0, 2, ZERO,
			  st(2, 2, 0, 0, 1, 0, 0, 1, LAT(1, 1001200, 1001200, 1001200),
			     LAT(1, 9876000, 9876000, 9876000), 200, 2000) },
		};
		struct part three = { 1, HM_MAX_ROUTES + 3,
				      st(1, 0, 1, 0, 0, 0, 0, 0, none, none, 120, 0), ZERO };
		struct part four = { 0, 4,
				     st(2, 2, 0, 0, 0, 0, 2, 0, LAT(2, 40000, 20000, 20000), none,
					22, 33), ZERO };

		k = HM_ROUTE_OTHER;
		put_row(rows, &k, sizeof(k), &other, 1);
		k = HM_ROUTE_UNKNOWN;
		put_row(rows, &k, sizeof(k), &unknown, 1);
		k = 2;
		put_row(rows, &k, sizeof(k), two, 2);
		k = 3;
		put_row(rows, &k, sizeof(k), &three, 1);
		k = 4;
		put_row(rows, &k, sizeof(k), &four, 1);
	}
	end();

	begin("route_hists");
	put_hist(h, HM_HIST_INDEX(1, HM_HIST_ROUTE_FIRST + 2, HM_LAT_FIRST),
		 "\"route\": 2, \"family\": 0", SAMPLES(1500000, 1500000, 2000000, 3000000),
		 SAMPLES(1001200, 9876000));
	put_hist(h, HM_HIST_INDEX(0, HM_HIST_ROUTE_FIRST + 4, HM_LAT_FIRST),
		 "\"route\": 4, \"family\": 0", SAMPLES(20000, 20000), SAMPLES(1));
	put_hist(h, HM_HIST_INDEX(1, HM_HIST_ROUTES_OTHER, HM_LAT_FIRST),
		 "\"map\": \"hm_hist\", \"row\": 2, \"family\": 0", SAMPLES(3000000000ULL),
		 SAMPLES(1));
	end();
}

/*
 * Hosts: ids 3, 4 and 40 named in hm_host_ids (40 has no histogram of its
 * own: ids from HM_HIST_HOSTS on share one), rows for _other (0), _unknown
 * (1), _none (2) and the named ones, histograms for host 3 (the same samples
 * as its row: clamped) and _none, and the hosts overflow histogram.  Pairs:
 * hm_hr_ids names pair ids 1-4 by (host id, route id), one of them with a
 * host id no name is known for; rows for those and the overflow pair 0.
 */
static void fill_hosts(void)
{
	static const struct {
		const char *name;
		__u32 id;
	} names[] = { { "a.test", 3 }, { "b.example.org", 4 }, { "big.test", 40 } };
	static const struct {
		__u16 host, route;
		__u32 id;
	} pairs[] = { { 3, 2, 1 }, { 4, 3, 2 }, { HM_HOST_NONE, HM_ROUTE_OTHER, 3 }, { 77, 2, 4 } };
	struct spec *ids = spec(HM_MAP_HOST_IDS), *rows = spec(HM_MAP_HOSTS);
	struct spec *hr_ids = spec(HM_MAP_HOST_ROUTE_IDS), *hr_rows = spec(HM_MAP_HOST_ROUTES);
	struct spec *h = spec(HM_MAP_HIST);
	struct hm_host_route_key pk;
	struct hm_host_key hk;
	struct hm_route_val v;
	size_t i;
	__u32 k;

	printf(",\n  \"host_names\": [");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(&hk, 0, sizeof(hk));
		strncpy(hk.name, names[i].name, sizeof(hk.name));
		v.id = names[i].id;
		if (bpf_map_update_elem(ids->fd, &hk, &v, BPF_ANY))
			die(ids->name);
		printf("%s{\"id\": %u, \"name\": \"%s\"}", i ? ", " : "", v.id, names[i].name);
	}
	printf("]");
	printf(",\n  \"host_route_names\": [");
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		memset(&pk, 0, sizeof(pk));
		pk.host = pairs[i].host;
		pk.route = pairs[i].route;
		v.id = pairs[i].id;
		if (bpf_map_update_elem(hr_ids->fd, &pk, &v, BPF_ANY))
			die(hr_ids->name);
		printf("%s{\"id\": %u, \"host\": %u, \"route\": %u}", i ? ", " : "", v.id, pk.host,
		       pk.route);
	}
	printf("]");

	/* Rows are indexed gen * capacity + id; the key printed is the id. */
	begin("hosts");
	{
		struct part other = { 1, HM_MAX_HOSTS + HM_HOST_OTHER,
				      st(2, 2, 0, 0, 2, 0, 0, 0, LAT(2, 2000000, 900000, 1100000),
					 none, 20, 200), ZERO };
		struct part unknown = { 0, HM_HOST_UNKNOWN,
					st(0, 1, 0, 0, 1, 0, 0, 0, none, none, 0, 50), ZERO };
		struct part nohost = { 1, HM_MAX_HOSTS + HM_HOST_NONE,
				       st(1, 1, 0, 0, 0, 0, 1, 0, LAT(1, 700000, 700000, 700000),
					  none, 18, 300), ZERO };
		struct part three[2] = {
			{ 1, HM_MAX_HOSTS + 3,
			  st(4, 4, 0, 0, 4, 0, 0, 0, LAT(4, 8000000, 1500000, 3000000), none, 400,
			     4000), ZERO },
			{ 0, 3, ZERO,
			  st(2, 2, 0, 0, 1, 0, 0, 1, LAT(1, 1001200, 1001200, 1001200),
			     LAT(1, 9876000, 9876000, 9876000), 200, 2000) },
		};
		struct part four = { 1, HM_MAX_HOSTS + 4,
				     st(1, 0, 1, 0, 0, 0, 0, 0, none, none, 120, 0), ZERO };
		struct part big = { 0, 40,
				    st(3, 3, 0, 0, 0, 0, 0, 3, none, LAT(3, 60000, 20000, 20000), 33,
				       44), ZERO };

		k = HM_HOST_OTHER;
		put_row(rows, &k, sizeof(k), &other, 1);
		k = HM_HOST_UNKNOWN;
		put_row(rows, &k, sizeof(k), &unknown, 1);
		k = HM_HOST_NONE;
		put_row(rows, &k, sizeof(k), &nohost, 1);
		k = 3;
		put_row(rows, &k, sizeof(k), three, 2);
		k = 4;
		put_row(rows, &k, sizeof(k), &four, 1);
		k = 40;
		put_row(rows, &k, sizeof(k), &big, 1);
	}
	end();

	begin("host_routes");
	{
		struct part other = { 1, HM_MAX_HOST_ROUTES + HM_HOST_ROUTE_OTHER,
				      st(5, 5, 0, 0, 5, 0, 0, 0, none, none, 50, 500), ZERO };
		struct part one[2] = {
			{ 1, HM_MAX_HOST_ROUTES + 1,
			  st(3, 3, 0, 0, 3, 0, 0, 0, LAT(3, 6000000, 1500000, 3000000), none, 300,
			     3000), ZERO },
			{ 0, 1, ZERO, st(1, 1, 0, 0, 1, 0, 0, 0, none, none, 100, 1000) },
		};
		struct part two = { 0, 2, st(1, 0, 1, 0, 0, 0, 0, 0, none, none, 120, 0), ZERO };
		struct part three = { 1, HM_MAX_HOST_ROUTES + 3,
				      st(1, 1, 0, 0, 0, 0, 1, 0, none, none, 18, 300), ZERO };
		struct part four = { 1, HM_MAX_HOST_ROUTES + 4,
				     st(2, 2, 0, 0, 0, 0, 0, 2, none, none, 7, 9), ZERO };

		k = HM_HOST_ROUTE_OTHER;
		put_row(hr_rows, &k, sizeof(k), &other, 1);
		k = 1;
		put_row(hr_rows, &k, sizeof(k), one, 2);
		k = 2;
		put_row(hr_rows, &k, sizeof(k), &two, 1);
		k = 3;
		put_row(hr_rows, &k, sizeof(k), &three, 1);
		k = 4;
		put_row(hr_rows, &k, sizeof(k), &four, 1);
	}
	end();

	begin("host_hists");
	put_hist(h, HM_HIST_INDEX(1, HM_HIST_HOST_FIRST + 3, HM_LAT_FIRST),
		 "\"host\": 3, \"family\": 0", SAMPLES(1500000, 1500000, 2000000, 3000000),
		 SAMPLES(1001200, 9876000));
	put_hist(h, HM_HIST_INDEX(1, HM_HIST_HOST_FIRST + HM_HOST_NONE, HM_LAT_LAST),
		 "\"host\": 2, \"family\": 1", SAMPLES(700000, 900000), SAMPLES(1));
	put_hist(h, HM_HIST_INDEX(0, HM_HIST_HOSTS_OTHER, HM_LAT_FIRST),
		 "\"map\": \"hm_hist\", \"row\": 3, \"family\": 0", SAMPLES(20000, 20000),
		 SAMPLES(20000));
	end();
}

static void fill_ifaces(void)
{
	struct hm_row_key k = { .kind = HM_ROW_IFACE, .ifindex = 7 };

	begin("ifaces");
	row1(HM_MAP_IFACES, k, &k.ifindex, sizeof(k.ifindex), HM_MAX_IFACES, 1, 1,
	     st(5, 5, 0, 0, 5, 0, 0, 0, none, none, 50, 500), ZERO);
	end();
}

static void fill_conns(void)
{
	struct spec *sp = spec(HM_MAP_CONNS);
	__u8 key[CONN_KEY_SIZE] = { 0 }, value[CONN_VALUE_SIZE] = { 0 };
	int i, n = sockets ? LIVE_CONNS + 2 : LIVE_CONNS;

	for (i = 0; i < n; i++) {
		key[0] = i + 1;
		if (bpf_map_update_elem(sp->fd, key, value, BPF_ANY))
			die(sp->name);
	}
	printf(",\n  \"conns_live\": %d", n);
}

static __u64 cgroup_id, root_cgroup_id;
#define GONE_CGROUP_ID 0x7ffffffffff0ULL /* no directory has this inode */

static struct hm_proc_key proc_key(__u32 pid, const char *comm, __u64 cgroup)
{
	struct hm_proc_key k = { .role = HM_ROLE_SERVER, .pid = pid, .cgroup = cgroup };

	strncpy(k.comm, comm, sizeof(k.comm));
	return k;
}

static void name_proc(struct hm_proc_key key, unsigned int gen, __u32 id)
{
	struct hm_route_val val = { .id = id };

	key.gen = gen;
	if (bpf_map_update_elem(spec(HM_MAP_PROC_IDS)->fd, &key, &val, BPF_ANY))
		die(HM_MAP_PROC_IDS);
}

/*
 * A process row in the generations of parts, named there by (generation,
 * key) -> id (the part's index less the generation's base); the key printed
 * is the hm_proc_key with generation 0.
 */
static void proc_row(struct hm_proc_key key, const struct part *parts, int nparts)
{
	for (int p = 0; p < nparts; p++)
		name_proc(key, parts[p].gen, parts[p].idx - parts[p].gen * HM_MAX_PROCS);
	key.gen = 0;
	put_row(spec(HM_MAP_PROCS), &key, sizeof(key), parts, nparts);
}

static void put_seq(__u32 slot, __u32 n)
{
	if (bpf_map_update_elem(spec(HM_MAP_SEQ)->fd, &slot, &n, BPF_ANY))
		die(HM_MAP_SEQ);
}

static void fill_procs(void)
{
	struct part nginx1[2] = {
		{ 1, HM_MAX_PROCS + 1,
		  st(5, 5, 0, 0, 4, 0, 1, 0, LAT(5, 5000000, 500000, 2000000), none, 500, 5000),
		  st(2, 1, 1, 0, 0, 0, 0, 1, none, LAT(1, 7000000, 7000000, 7000000), 200, 800) },
		{ 0, 3, st(1, 1, 0, 0, 1, 0, 0, 0, LAT(1, 300000, 300000, 300000), none, 100, 1000),
		  ZERO },
	};
	struct part nginx2 = { 1, HM_MAX_PROCS + 2,
			       st(3, 3, 0, 0, 3, 0, 0, 0, LAT(3, 3000000, 400000, 1600000), none,
				  300, 3000),
			       st(1, 1, 0, 0, 0, 0, 0, 1, none, LAT(1, 9000000, 9000000, 9000000),
				  100, 100) };
	struct part python = { 0, 1,
			       st(4, 4, 0, 0, 2, 2, 0, 0, LAT(4, 8000000, 1000000, 3000000), none,
				  40, 4000),
			       ZERO };
	struct part gone = { 1, HM_MAX_PROCS + 3,
			     ZERO, st(1, 0, 1, 0, 0, 0, 0, 0, none, none, 77, 0) };
	struct part other[2] = {
		{ 1, HM_MAX_PROCS, st(6, 6, 0, 0, 6, 0, 0, 0, LAT(6, 6000000, 900000, 1100000), none,
				      60, 600), ZERO },
		{ 0, 0, ZERO, st(2, 2, 0, 0, 0, 0, 2, 0, LAT(2, 200000, 100000, 100000), none, 20,
				 200) },
	};
	struct part stray = { 1, HM_MAX_PROCS + 9,
			      st(9, 9, 0, 0, 9, 0, 0, 0, none, none, 90, 900), ZERO };
	__u32 none_key = 0;

	printf(",\n  \"cgroup_id\": %llu, \"root_cgroup_id\": %llu, \"gone_cgroup_id\": %llu",
	       (unsigned long long)cgroup_id, (unsigned long long)root_cgroup_id,
	       GONE_CGROUP_ID);
	begin("processes");
	proc_row(proc_key(1001, "nginx", cgroup_id), nginx1, 2);
	proc_row(proc_key(1002, "nginx", cgroup_id), &nginx2, 1);
	proc_row(proc_key(2001, "python3", root_cgroup_id), &python, 1);
	proc_row(proc_key(3001, "gone", GONE_CGROUP_ID), &gone, 1);
	end();
	begin("process_overflow");
	put_row(spec(HM_MAP_PROCS), &none_key, sizeof(none_key), other, 2);
	end();
	/* Named by nothing: no reader shows it, no reset touches it. */
	begin("process_stray");
	put_row(spec(HM_MAP_PROCS), &stray.idx, sizeof(stray.idx), &stray, 1);
	end();
	put_seq(HM_SEQ_PROCS(1), 3);
	put_seq(HM_SEQ_PROCS(0), 3);
	printf(",\n  \"proc_seq\": [3, 3]");
}

static bool fillable(const char *name)
{
	struct spec *sp = spec(name);

	return !sp->omit && !sp->bad_value;
}

int main(int argc, char **argv)
{
	__u32 layout = HM_LAYOUT_VERSION, key = 0;
	struct spec *config;
	struct hm_config *cfg;
	bool empty = false;
	char path[4096];
	const char *dir;
	size_t i;
	int a;

	if (argc < 2) {
		fprintf(stderr, "usage: mkmaps DIR [--layout N] [--omit MAP] "
				"[--bad-value MAP] [--empty] [--sockets [--cgroup-id ID] "
				"[--root-cgroup-id ID]]\n");
		return 2;
	}
	dir = argv[1];
	for (a = 2; a < argc; a++)
		sockets |= !strcmp(argv[a], "--sockets"); /* before spec() reads the descriptions */
	for (a = 2; a < argc; a++) {
		if (!strcmp(argv[a], "--layout") && a + 1 < argc) {
			layout = strtoul(argv[++a], NULL, 10);
		} else if (!strcmp(argv[a], "--omit") && a + 1 < argc) {
			spec(argv[++a])->omit = true;
		} else if (!strcmp(argv[a], "--bad-value") && a + 1 < argc) {
			struct spec *sp = spec(argv[++a]);

			sp->value_size += 8;
			sp->bad_value = true;
		} else if (!strcmp(argv[a], "--empty")) {
			empty = true;
		} else if (!strcmp(argv[a], "--sockets")) {
			sockets = true;
		} else if (!strcmp(argv[a], "--cgroup-id") && a + 1 < argc) {
			cgroup_id = strtoull(argv[++a], NULL, 10);
		} else if (!strcmp(argv[a], "--root-cgroup-id") && a + 1 < argc) {
			root_cgroup_id = strtoull(argv[++a], NULL, 10);
		} else {
			fprintf(stderr, "mkmaps: bad argument %s\n", argv[a]);
			return 2;
		}
	}

	config = spec(HM_MAP_CONFIG);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		fprintf(stderr, "mkmaps: cannot count CPUs\n");
		return 1;
	}
	cpu_b = ncpus - 1;

	for (i = 0; i < NSPECS; i++) {
		struct spec *sp = &specs[i];

		if (sp->omit)
			continue;
		sp->fd = bpf_map_create(sp->type, sp->name, sp->key_size,
					sp->value_size, sp->max_entries, NULL);
		if (sp->fd < 0)
			die(sp->name);
		snprintf(path, sizeof(path), "%s/%s", dir, sp->name);
		if (bpf_obj_pin(sp->fd, path))
			die(path);
	}

	printf("{\"ncpus\": %d, \"cpu_b\": %d, \"layout_version\": %u", ncpus,
	       cpu_b, layout);
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		die("calloc");
	cfg->layout_version = layout;
	cfg->epoch = 1;
	if (fillable(HM_MAP_CONFIG) &&
	    bpf_map_update_elem(config->fd, &key, cfg, BPF_ANY))
		die(HM_MAP_CONFIG);
	free(cfg);

	if (!empty) {
		if (fillable(HM_MAP_CLIENTS) && fillable(HM_MAP_ROW_IDS))
			fill_clients();
		if (fillable(HM_MAP_PORTS) && fillable(HM_MAP_ROW_IDS))
			fill_ports();
		if (fillable(HM_MAP_PORT_CLIENTS) && fillable(HM_MAP_ROW_IDS))
			fill_port_clients();
		if (fillable(HM_MAP_CLIENTS) && fillable(HM_MAP_PORTS) &&
		    fillable(HM_MAP_PORT_CLIENTS))
			fill_overflow();
		if (fillable(HM_MAP_MONITOR))
			fill_monitor();
		if (fillable(HM_MAP_HIST))
			fill_hists();
		if (fillable(HM_MAP_ROUTES) && fillable(HM_MAP_ROUTE_IDS) && fillable(HM_MAP_HIST) &&
		    fillable(HM_MAP_SEQ))
			fill_routes();
		if (fillable(HM_MAP_IFACES) && fillable(HM_MAP_ROW_IDS))
			fill_ifaces();
		if (fillable(HM_MAP_HOSTS) && fillable(HM_MAP_HOST_IDS) &&
		    fillable(HM_MAP_HOST_ROUTES) && fillable(HM_MAP_HOST_ROUTE_IDS) &&
		    fillable(HM_MAP_HIST))
			fill_hosts();
		if (fillable(HM_MAP_CONNS))
			fill_conns();
		if (sockets && fillable(HM_MAP_PROCS) && fillable(HM_MAP_PROC_IDS) &&
		    fillable(HM_MAP_SEQ))
			fill_procs();
	}
	printf("}\n");
	return 0;
}
