// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm-stat: print the HTTP statistics in httpmon's pinned maps. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_hist.h"
#include "hm_histview.h"
#include "hm_pin.h"
#include "hm_route.h"

#define HM_JSON_SCHEMA 1
#define WATCH_MAX_SECONDS 86400

enum view { VIEW_CLIENT, VIEW_PORT, VIEW_PORT_CLIENT, VIEW_ROUTE, VIEW_IFACE, VIEWS };

static const struct {
	const char *name;   /* --by value */
	const char *json;   /* JSON array name */
	const char *title;  /* header line */
	bool hist;          /* rows have latency histograms */
} views[VIEWS] = {
	[VIEW_CLIENT] = { "client", "clients", "by client", false },
	[VIEW_PORT] = { "port", "ports", "by server port", true },
	[VIEW_PORT_CLIENT] = { "port,client", "port_clients", "by server port and client", false },
	[VIEW_ROUTE] = { "route", "routes", "by route", true },
	[VIEW_IFACE] = { "iface", "ifaces", "by interface", false },
};

enum format { FMT_TABLE, FMT_JSON, FMT_CSV, FMT_PROMETHEUS, FORMATS };

static const char *const format_names[FORMATS] = {
	[FMT_TABLE] = "table", [FMT_JSON] = "json", [FMT_CSV] = "csv",
	[FMT_PROMETHEUS] = "prometheus",
};

enum sort_field {
	SORT_REQUESTS,
	SORT_RESPONSES,
	SORT_SUCCESS,
	SORT_4XX,
	SORT_5XX,
	SORT_UNANSWERED,
	SORT_AVG,
	SORT_MIN,
	SORT_MAX,
	SORT_BYTES_IN,
	SORT_BYTES_OUT,
	SORT_IP,
	SORT_PORT,
	SORT_FIELDS,
};

static const char *const sort_names[SORT_FIELDS] = {
	[SORT_REQUESTS] = "requests",	[SORT_RESPONSES] = "responses",
	[SORT_SUCCESS] = "success",	[SORT_4XX] = "4xx",
	[SORT_5XX] = "5xx",		[SORT_UNANSWERED] = "unanswered",
	[SORT_AVG] = "avg",		[SORT_MIN] = "min",
	[SORT_MAX] = "max",		[SORT_BYTES_IN] = "bytes_in",
	[SORT_BYTES_OUT] = "bytes_out", [SORT_IP] = "ip",
	[SORT_PORT] = "port",
};

static const char *const family_names[HM_LAT_FAMILIES] = {
	[HM_LAT_FIRST] = "first", [HM_LAT_LAST] = "last",
};

struct row {
	struct hm_addr ip;
	__u16 port;
	__u32 ifindex; /* interfaces: the index the segments were seen on */
	bool other; /* the overflow row: keys that did not fit in the map */
	__u8 method; /* routes: enum hm_method */
	__u32 route; /* routes: id */
	char label[HM_ROUTE_LEN + 1]; /* routes: the label as the kernel keeps it */
	struct hm_stats s;
	/* Port and route rows: their histograms, NULL when they have none. */
	const struct hm_hist *hist[HM_LAT_FAMILIES];
};

struct table {
	struct row *rows;
	size_t len;
	size_t cap;
};

/* The histograms of one server port or route (one map entry per family). */
struct key_hist {
	__u32 key; /* port or route id */
	struct hm_hist h[HM_LAT_FAMILIES];
};

struct hist_set {
	struct key_hist *v; /* sorted by key once read */
	size_t n, cap;
};

struct snapshot {
	struct table tables[VIEWS];
	struct hist_set ports, routes;
	struct hm_hist total[HM_LAT_FAMILIES];      /* every response */
	struct hm_hist ports_ovf[HM_LAT_FAMILIES];  /* ports without their own */
	struct hm_hist routes_ovf[HM_LAT_FAMILIES]; /* routes without their own */
	__u64 monitor[HM_MON_MAX];
	__u64 conns_live;
	bool interval; /* a difference of two snapshots: no min/max */
	double seconds; /* interval: its length */
};

struct options {
	enum view view;
	enum sort_field sort;
	enum format format;
	int family; /* enum hm_lat_family shown by the table, CSV and --watch */
	size_t top; /* 0: all */
	const char *pin_dir;
	const char *output;
	bool reset;
	unsigned long watch; /* seconds; 0: no --watch */
	unsigned long count; /* --watch intervals to print; 0: until stopped */
	bool view_set; /* --by was given */
	struct hm_export export; /* Prometheus bounds (--buckets, --bucket-range) */
	unsigned int hist_rows; /* --hist: rows per power of two */
	bool hist; /* --hist: bar charts */
	const char *hist_key; /* --hist PORT or [METHOD ]ROUTE: one chart */
};

#define HM_MON_NAME(sym, name, desc) [HM_MON_##sym] = name,
static const char *const monitor_names[HM_MON_MAX] = {
	HM_MONITOR_COUNTERS(HM_MON_NAME)
};
#undef HM_MON_NAME
#define HM_MON_DESC(sym, name, desc) [HM_MON_##sym] = desc,
static const char *const monitor_descs[HM_MON_MAX] = {
	HM_MONITOR_COUNTERS(HM_MON_DESC)
};
#undef HM_MON_DESC

static void usage(FILE *f)
{
	fprintf(f,
"hm-stat - show the HTTP statistics collected by the httpmon classifier\n"
"\n"
"Usage: hm-stat [--by client|port|port,client|route|iface] [--sort FIELD]\n"
"               [--top N] [--format table|json|csv|prometheus] [--json]\n"
"               [--output FILE] [--latency first|last] [--reset]\n"
"               [--buckets N] [--bucket-range LOW:HIGH] [--pin-path DIR] [-v]\n"
"       hm-stat --hist [PORT | [METHOD ]ROUTE] [--by port|route] [--buckets N]\n"
"               [--sort FIELD] [--top N] [--latency first|last] [--reset]\n"
"               [--output FILE] [--pin-path DIR]\n"
"       hm-stat --watch SECONDS [--count N] [--by VIEW] [--sort FIELD]\n"
"               [--top N] [--latency first|last] [--pin-path DIR]\n"
"       hm-stat --help | --version\n"
"\n"
"Reads the maps that the httpmon TC classifier pins in bpffs, sums their\n"
"per-CPU copies and prints one row per client IP, per server port, per\n"
"server port and client, per route (method and normalised request\n"
"target, grouped as hm-load was told) or per interface, as a table, JSON,\n"
"CSV or Prometheus text. Nothing is changed unless --reset is given\n"
"(hm-reset clears the counters). Read access to the pins is enough; root is\n"
"not needed when hm-load --group made them readable for a group of yours.\n"
"\n"
"Options:\n"
"  --by VIEW       rows per client (default), port, port,client, route or\n"
"                  iface (the interface the traffic was seen on)\n"
"  --sort FIELD    order of the rows: requests (default), responses, success,\n"
"                  4xx, 5xx, unanswered, avg, min, max, bytes_in, bytes_out\n"
"                  (largest first), ip or port (ascending)\n"
"  --top N         print only the first N rows of each view\n"
"  --format FMT    table (default), json (every view and the totals as one\n"
"                  document, schema %d), csv (a header line and the rows of\n"
"                  the --by view) or prometheus (text exposition format:\n"
"                  ports, clients, routes, their histograms, self-metrics)\n"
"  --json          the same as --format json\n"
"  --output FILE   write to FILE atomically (a temporary file in the same\n"
"                  directory, synced, then renamed over FILE; mode 0644), so\n"
"                  a reader such as node_exporter never sees half a file\n"
"  --latency FAM   latency the table, CSV columns and --watch show: first\n"
"                  (default: first request byte to first response byte) or\n"
"                  last (to the last response byte, for responses whose end\n"
"                  is known); JSON and Prometheus always have both\n"
"  --reset         read and clear in one step, for exact per-interval counts\n"
"                  from cron: the output holds the interval that ends. The\n"
"                  classifier writes one of two generations of its maps; the\n"
"                  reset switches it to the other, waits until no program run\n"
"                  can still write the old one, reads that and clears it, so\n"
"                  intervals add up to every request exactly once and one\n"
"                  output agrees with itself across views. Route labels are\n"
"                  kept (hm-reset --routes forgets them). Needs write access\n"
"                  to the pins (root)\n"
"  --watch SECONDS refresh every SECONDS (1-%d) with the rates of the last\n"
"                  interval, like top: requests, errors and bytes per second,\n"
"                  the interval's latency average and percentiles. On a\n"
"                  terminal the screen is redrawn, otherwise one block is\n"
"                  printed per interval. Ctrl-C ends it (exit status 0)\n"
"  --count N       with --watch: stop after N intervals\n"
"  --hist [WHICH]  the latency distribution as a bar chart from the kernel's\n"
"                  histogram: one row per 1/N of a power of two (--buckets,\n"
"                  default 4) with its count and a bar; the rows holding p50,\n"
"                  p90 and p99 are marked. Without WHICH: every response, or\n"
"                  with --by port or --by route one chart per port or route\n"
"                  that has a histogram (in --sort order; --top N of them).\n"
"                  WHICH picks one chart: a port number, or a route as --by\n"
"                  route prints it, \"GET /api/users/{id}\" (one method) or\n"
"                  \"/api/users/{id}\" (every method)\n"
"  --buckets N     rows per power of two of --hist, or le bounds per power of\n"
"                  two of --format prometheus: 1, 2, 4, 8 or 16 (the kernel's\n"
"                  own resolution). Default: 4 for --hist, 16 for Prometheus\n"
"  --bucket-range LOW:HIGH\n"
"                  --format prometheus: le bounds from LOW to HIGH seconds,\n"
"                  LOW rounded down and HIGH up to a power of two of\n"
"                  nanoseconds (default 0.0001:10: 65.536 us to 17.18 s).\n"
"                  A histogram has N x (powers of two in the range) + 1 le\n"
"                  bounds, +Inf, _sum and _count: 292 series by default,\n"
"                  22 with --buckets 1. Use the same settings on every\n"
"                  machine whose histograms Prometheus adds up\n"
"  --pin-path DIR  read the maps pinned in DIR instead of $HTTPMON_PIN_PATH\n"
"                  or, when that is unset, " HM_PIN_DIR_DEFAULT "\n"
"  -v, --verbose   list every monitor counter with its meaning; twice: also\n"
"                  debug messages\n"
"  -h, --help      show this help\n"
"  --version       show the version and the map layout it reads\n"
"\n"
"Columns:\n"
"  IFACE, IFINDEX  --by iface: the interface's name (as hm-load recorded it,\n"
"                  else in this network namespace; \"?\": unknown) and index\n"
"  IP, PORT        client address, server port. The row \"other\" holds the\n"
"                  traffic of keys that did not fit in a full map, so totals\n"
"                  stay exact; it is listed last and not cut by --top\n"
"  METHOD, ROUTE   the request method and route label (bytes other than\n"
"                  printable ASCII as %%XX; the table cuts long ones with\n"
"                  ...). _other: new routes beyond the route limit (listed\n"
"                  last); _unknown: responses whose request was not seen\n"
"  REQS            request lines seen\n"
"  RESPS           final responses (1xx interim responses are not counted)\n"
"  SUCC%%           responses with a status below 500, percent of RESPS\n"
"  2XX 3XX 4XX 5XX responses by status class\n"
"  UNANS           requests whose connection ended without a response\n"
"  AVG_MS MIN_MS MAX_MS\n"
"                  latency from the first request byte to the first response\n"
"                  byte as seen on the interface (with --latency last: to the\n"
"                  last response byte), in milliseconds (\"-\": no sample)\n"
"  P50_MS P90_MS P99_MS P99.9_MS\n"
"                  --by port and route: latency percentiles from the row's\n"
"                  histogram (\"-\": none; ports and routes beyond the first\n"
"                  %d have none of their own). A percentile is the\n"
"                  nearest-rank sample's histogram bucket, reported as the\n"
"                  bucket's midpoint clamped to MIN..MAX: within 1/32 (3.2%%)\n"
"                  of that sample from 1.024 us to 68.7 s, within 0.512 us\n"
"                  below 1.024 us; above 68.7 s it is the maximum\n"
"  BYTES_IN        HTTP payload bytes from client to server\n"
"  BYTES_OUT       HTTP payload bytes from server to client\n"
"  The total row sums every row, also those cut by --top; by port and by\n"
"  route its percentiles are those of every response. The monitor section\n"
"  lists the classifier's self-metrics that are not zero, and conns_live,\n"
"  the connections whose HTTP state it holds now.\n"
"  --watch shows per second over the interval: REQ/S, RESP/S, ERR/S (5xx\n"
"  responses), 4XX/S, UNANS/S, IN_B/S, OUT_B/S; SUCC%% and AVG_MS and (by\n"
"  port and route) the percentiles of the interval's responses.\n"
"  --hist charts show the row's bounds in usecs or msecs (\"0\" for the\n"
"  kernel's first bucket, below 1.024 us; \"inf\" above 68.7 s), its exact\n"
"  count, a bar and the percentiles it holds; the line under a chart gives\n"
"  p50, p90 and p99 as the table does.\n"
"  CSV has the columns of the JSON rows, named as in the README: the keys\n"
"  (ip, port, method, route), requests ... latency_p99_9_us ... bytes_out;\n"
"  an empty cell means null.\n"
"\n"
"Exit status:\n"
"  %d  success, also when no traffic was seen yet\n"
"  %d  reading or clearing the maps, or writing the output, failed\n"
"  %d  bad command line\n"
"  %d  no httpmon maps in the pin directory (monitor not loaded), or with\n"
"     --watch: the maps were removed (monitor detached) meanwhile\n"
"  %d  the maps have another layout version (use tools of the same release),\n"
"     or what is pinned under an httpmon map name is not httpmon's map (a\n"
"     directory, a map of another type or size)\n"
"  %d  permission denied on the pins: not root and not in the group that\n"
"     hm-load --group named, or --reset without write access (root's)\n"
"\n"
"Environment:\n"
"  HTTPMON_PIN_PATH  pin directory when --pin-path is not given\n"
"\n"
"Examples:\n"
"  hm-stat                    per-client table\n"
"  hm-stat --by port          per-port table with latency percentiles\n"
"  hm-stat --by port,client --sort 5xx --top 10\n"
"                             the ten port/client pairs with most 5xx\n"
"  hm-stat --json | jq .      everything as JSON\n"
"  hm-stat --by port --format csv --output /var/lib/httpmon/ports.csv\n"
"  hm-stat --watch 2 --by port\n"
"                             live rates per port, every two seconds\n"
"  hm-stat --hist --by port   the latency distribution of each port\n"
"  hm-stat --hist 'GET /api/users/{id}' --buckets 16\n"
"                             one route's, at the kernel's resolution\n"
"  */5 * * * * root hm-stat --top 50 >>/var/log/httpmon.log 2>&1\n"
"                             crontab line: a table every five minutes\n"
"  D=/var/lib/prometheus/node-exporter\n"
"  * * * * * root hm-stat --format prometheus --output $D/httpmon.prom\n"
"                             crontab lines: Prometheus text every minute\n"
"                             for node_exporter's textfile collector; Debian's\n"
"                             prometheus-node-exporter reads that directory\n"
"                             (elsewhere: --collector.textfile.directory=$D)\n"
"  0 * * * * root hm-stat --reset --json --output /var/lib/httpmon/hour.json\n"
"                             crontab line: exact hourly counts\n",
		HM_JSON_SCHEMA, WATCH_MAX_SECONDS, HM_HIST_PORTS, HM_EXIT_OK,
		HM_EXIT_FAIL, HM_EXIT_USAGE, HM_EXIT_NOMAPS, HM_EXIT_LAYOUT,
		HM_EXIT_PERM);
}

/* ---- reading the maps ---- */

/* qsort() of a possibly empty array, whose base may then be NULL (qsort() wants an array). */
static void sort_array(void *base, size_t n, size_t size,
		       int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

static struct row *table_add(struct table *t)
{
	struct row *rows;
	size_t cap;

	if (t->len == t->cap) {
		cap = t->cap ? t->cap * 2 : 64;
		rows = realloc(t->rows, cap * sizeof(*rows));
		if (!rows)
			return NULL;
		t->rows = rows;
		t->cap = cap;
	}
	memset(&t->rows[t->len], 0, sizeof(t->rows[0]));
	return &t->rows[t->len++];
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		return -errno;
	return 0;
}

/* Bytes of a per-CPU value buffer: libbpf rounds each CPU's copy to 8 bytes. */
static size_t percpu_size(size_t value_size, int ncpus)
{
	return ((value_size + 7) & ~(size_t)7) * ncpus;
}

/* Called for each entry of a hash with its key and value. */
typedef int (*entry_fn)(const void *key, const void *value, void *ctx);

/*
 * Walks a hash map.  A key deleted under us (a reset by another reader)
 * makes bpf_map_get_next_key() restart from the first key; the bound stops
 * a loop, and callers skip a key seen twice.
 */
static int walk_hash(int fd, const char *name, size_t value_size, entry_fn fn, void *ctx)
{
	struct bpf_map_info info;
	void *key = NULL, *next, *prev = NULL, *value = NULL;
	__u64 steps = 0;
	int ret;

	ret = map_info(fd, &info);
	if (ret)
		goto out;
	key = calloc(2, info.key_size ? info.key_size : 1);
	value = calloc(1, value_size);
	if (!key || !value) {
		ret = -ENOMEM;
		goto out;
	}
	next = (char *)key + info.key_size;
	while (steps++ < 4ULL * info.max_entries + 16) {
		if (bpf_map_get_next_key(fd, prev, next)) {
			if (errno != ENOENT)
				ret = -errno;
			break;
		}
		memcpy(key, next, info.key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, value)) {
			if (errno == ENOENT)
				continue;
			ret = -errno;
			break;
		}
		ret = fn(key, value, ctx);
		if (ret)
			break;
	}
out:
	free(key);
	free(value);
	if (ret && ret != -ENOMEM)
		hm_err("cannot read map %s: %s", name, strerror(-ret));
	return ret;
}

/* Reads entry key of a per-CPU array into values. */
static int read_array(int fd, const char *name, __u32 key, void *values)
{
	if (!bpf_map_lookup_elem(fd, &key, values))
		return 0;
	hm_err("cannot read map %s: %s", name, strerror(errno));
	return -errno;
}

static struct key_hist *hist_get(struct hist_set *set, __u32 key)
{
	struct key_hist *p;
	size_t i, cap;

	for (i = 0; i < set->n; i++)
		if (set->v[i].key == key)
			return &set->v[i];
	if (set->n == set->cap) {
		cap = set->cap ? set->cap * 2 : 16;
		p = realloc(set->v, cap * sizeof(*p));
		if (!p)
			return NULL;
		set->v = p;
		set->cap = cap;
	}
	p = &set->v[set->n++];
	memset(p, 0, sizeof(*p));
	p->key = key;
	return p;
}

/* A row with nothing in it: an untouched overflow row or route slot. */
static bool stats_empty(const struct hm_stats *s)
{
	return !s->requests && !s->responses && !s->unanswered && !s->bytes_in &&
	       !s->bytes_out && !s->lat.count && !s->lat_last.count;
}

/* The view of each row kind. */
static const enum view kind_view[HM_ROW_KINDS] = {
	[HM_ROW_CLIENT] = VIEW_CLIENT,
	[HM_ROW_PORT] = VIEW_PORT,
	[HM_ROW_PORT_CLIENT] = VIEW_PORT_CLIENT,
	[HM_ROW_IFACE] = VIEW_IFACE,
};

/* What a read covers, and what it learns on the way. */
struct reader {
	const struct hm_maps *maps;
	int ncpus;
	unsigned int gens;  /* bit g: generation g is read */
	struct snapshot *snap;
	struct hm_stats *percpu;
	/* ids seen per (generation, kind): a walk restarted by a concurrent reset repeats keys */
	unsigned char *seen[HM_GENS][HM_ROW_KINDS];
	/* the server port of each port row id with a histogram of its own, 0: none */
	__u16 hist_port[HM_GENS][HM_HIST_PORTS + 1];
};

static int add_row(const void *k, const void *v, void *arg)
{
	const struct hm_row_key *key = k;
	const struct hm_row_val *val = v;
	struct reader *rd = arg;
	unsigned int cap, gen = key->gen;
	struct row *r;
	int ret;

	if (gen >= HM_GENS || !(rd->gens & (1U << gen)) || key->kind >= HM_ROW_KINDS)
		return 0;
	cap = hm_row_capacity(key->kind);
	if (!val->id || val->id >= cap || rd->seen[gen][key->kind][val->id])
		return 0;
	rd->seen[gen][key->kind][val->id] = 1;
	ret = read_array(hm_row_array(rd->maps, key->kind), "row", gen * cap + val->id,
			 rd->percpu);
	if (ret)
		return ret;
	r = table_add(&rd->snap->tables[kind_view[key->kind]]);
	if (!r)
		return -ENOMEM;
	r->ip = key->addr;
	r->port = key->port;
	r->ifindex = key->ifindex;
	hm_stats_sum(&r->s, rd->percpu, rd->ncpus);
	if (key->kind == HM_ROW_PORT && val->id <= HM_HIST_PORTS)
		rd->hist_port[gen][val->id] = key->port;
	return 0;
}

/* Rows: hm_row_ids names them; each kind's overflow row (id 0) holds the rest. */
static int read_views(struct reader *rd)
{
	struct hm_stats sum;
	unsigned int gen, kind;
	struct row *r;
	int ret;

	ret = walk_hash(rd->maps->row_ids, HM_MAP_ROW_IDS, sizeof(struct hm_row_val), add_row,
			rd);
	for (kind = 0; kind < HM_ROW_KINDS && !ret; kind++) {
		memset(&sum, 0, sizeof(sum));
		for (gen = 0; gen < HM_GENS && !ret; gen++) {
			if (!(rd->gens & (1U << gen)))
				continue;
			ret = read_array(hm_row_array(rd->maps, kind), "row",
					 gen * hm_row_capacity(kind), rd->percpu);
			if (!ret) {
				struct hm_stats pair[2] = { sum };

				hm_stats_sum(&pair[1], rd->percpu, rd->ncpus);
				hm_stats_sum(&sum, pair, 2);
			}
		}
		if (ret || stats_empty(&sum))
			continue;
		r = table_add(&rd->snap->tables[kind_view[kind]]);
		if (!r)
			return -ENOMEM;
		r->other = true;
		r->s = sum;
	}
	return ret;
}

/* Route labels, by id, from hm_route_ids. */
struct route_names {
	struct row *v; /* route, method and label set */
	size_t n, cap;
};

static int add_route_name(const void *k, const void *val, void *arg)
{
	const struct hm_route_key *key = k;
	const struct hm_route_val *id = val;
	struct route_names *names = arg;
	struct row *r;
	size_t cap;

	if (names->n == names->cap) {
		cap = names->cap ? names->cap * 2 : 64;
		r = realloc(names->v, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		names->v = r;
		names->cap = cap;
	}
	r = &names->v[names->n++];
	memset(r, 0, sizeof(*r));
	r->route = id->id;
	r->method = key->method;
	memcpy(r->label, key->label, HM_ROUTE_LEN); /* NUL-padded, maybe full */
	return 0;
}

/* Extension method names, from hm_method_ids. */
static int add_method_name(const void *k, const void *val, void *arg)
{
	const struct hm_method_key *key = k;
	const struct hm_route_val *id = val;

	(void)arg;
	hm_method_name_set(id->id, key->name, strnlen(key->name, sizeof(key->name)));
	return 0;
}

static int cmp_route_id(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;

	return a->route < b->route ? -1 : a->route > b->route;
}

/*
 * Route rows: hm_routes holds each id's stats per generation; hm_route_ids
 * names the ids (a reset keeps the names, so an id never changes its label
 * under a request being counted; hm-reset --routes forgets them).
 */
static int read_routes(struct reader *rd)
{
	struct route_names names = { 0 };
	struct hm_stats sum;
	struct row key = { 0 }, *name, *r;
	unsigned int gen;
	__u32 id;
	int ret;

	ret = walk_hash(rd->maps->method_ids, HM_MAP_METHOD_IDS, sizeof(struct hm_route_val),
			add_method_name, NULL);
	if (!ret)
		ret = walk_hash(rd->maps->route_ids, HM_MAP_ROUTE_IDS, sizeof(struct hm_route_val),
				add_route_name, &names);
	if (ret)
		goto out;
	sort_array(names.v, names.n, sizeof(*names.v), cmp_route_id);
	for (id = 0; id < HM_MAX_ROUTES && !ret; id++) {
		memset(&sum, 0, sizeof(sum));
		for (gen = 0; gen < HM_GENS && !ret; gen++) {
			if (!(rd->gens & (1U << gen)))
				continue;
			ret = read_array(rd->maps->routes, HM_MAP_ROUTES, gen * HM_MAX_ROUTES + id,
					 rd->percpu);
			if (!ret) {
				struct hm_stats pair[2] = { sum };

				hm_stats_sum(&pair[1], rd->percpu, rd->ncpus);
				hm_stats_sum(&sum, pair, 2);
			}
		}
		if (ret || stats_empty(&sum))
			continue;
		r = table_add(&rd->snap->tables[VIEW_ROUTE]);
		if (!r) {
			ret = -ENOMEM;
			break;
		}
		r->route = id;
		r->s = sum;
		key.route = id;
		name = names.n ? bsearch(&key, names.v, names.n, sizeof(key), cmp_route_id) : NULL;
		if (id == HM_ROUTE_OTHER) {
			r->other = true;
			snprintf(r->label, sizeof(r->label), "_other");
		} else if (id == HM_ROUTE_UNKNOWN) {
			snprintf(r->label, sizeof(r->label), "_unknown");
		} else if (name) {
			r->method = name->method;
			memcpy(r->label, name->label, sizeof(r->label));
		} else {
			/* Its name was forgotten (hm-reset --routes) while requests were in flight. */
			snprintf(r->label, sizeof(r->label), "_id_%u", id);
		}
	}
out:
	free(names.v);
	return ret;
}

/* Adds histogram index idx of the map to h. */
static int read_hist(struct reader *rd, __u32 idx, struct hm_hist *percpu, struct hm_hist *h)
{
	struct hm_hist sum;
	int ret = read_array(rd->maps->hist, HM_MAP_HIST, idx, percpu);

	if (ret)
		return ret;
	hm_hist_sum_percpu(&sum, percpu, rd->ncpus);
	hm_hist_add(h, &sum);
	return 0;
}

/* Histograms: every response, the overflow ones, then per port row id and route id. */
static int read_hists(struct reader *rd)
{
	struct snapshot *snap = rd->snap;
	struct hm_hist *percpu, *h;
	struct key_hist *kh;
	unsigned int gen, f, i;
	int ret = 0;

	percpu = calloc(1, percpu_size(sizeof(*percpu), rd->ncpus));
	if (!percpu)
		return -ENOMEM;
	for (gen = 0; gen < HM_GENS && !ret; gen++) {
		if (!(rd->gens & (1U << gen)))
			continue;
		for (f = 0; f < HM_LAT_FAMILIES && !ret; f++) {
			struct hm_hist sum = { 0 };

			/* Every response is in one port slot: their sum is the total. */
			ret = read_hist(rd, HM_HIST_INDEX(gen, HM_HIST_PORTS_OTHER, f), percpu, &sum);
			if (!ret) {
				hm_hist_add(&snap->ports_ovf[f], &sum);
				hm_hist_add(&snap->total[f], &sum);
				ret = read_hist(rd, HM_HIST_INDEX(gen, HM_HIST_ROUTES_OTHER, f),
						percpu, &snap->routes_ovf[f]);
			}
			for (i = 1; i <= HM_HIST_PORTS && !ret; i++) {
				memset(&sum, 0, sizeof(sum));
				ret = read_hist(rd, HM_HIST_INDEX(gen, HM_HIST_PORT_FIRST + i - 1, f),
						percpu, &sum);
				if (ret || !sum.count)
					continue;
				hm_hist_add(&snap->total[f], &sum);
				/* A slot whose port was not named (never: a concurrent reset) is other. */
				kh = rd->hist_port[gen][i] ? hist_get(&snap->ports, rd->hist_port[gen][i])
							   : NULL;
				h = kh ? &kh->h[f] : &snap->ports_ovf[f];
				if (rd->hist_port[gen][i] && !kh) {
					ret = -ENOMEM;
					break;
				}
				hm_hist_add(h, &sum);
			}
			for (i = 0; i < HM_HIST_ROUTES && !ret; i++) {
				struct hm_hist sum;

				ret = read_array(rd->maps->hist, HM_MAP_HIST,
						 HM_HIST_INDEX(gen, HM_HIST_ROUTE_FIRST + i, f), percpu);
				if (ret)
					break;
				hm_hist_sum_percpu(&sum, percpu, rd->ncpus);
				if (!sum.count)
					continue;
				kh = hist_get(&snap->routes, i);
				h = kh ? &kh->h[f] : NULL;
				if (!h) {
					ret = -ENOMEM;
					break;
				}
				hm_hist_add(h, &sum);
			}
		}
	}
	free(percpu);
	return ret;
}

static int read_monitor(struct reader *rd)
{
	__u64 *percpu;
	unsigned int gen;
	__u32 key;
	int cpu, ret = 0;

	percpu = calloc(1, percpu_size(sizeof(*percpu), rd->ncpus));
	if (!percpu)
		return -ENOMEM;
	for (gen = 0; gen < HM_GENS && !ret; gen++) {
		if (!(rd->gens & (1U << gen)))
			continue;
		for (key = 0; key < HM_MON_MAX; key++) {
			ret = read_array(rd->maps->monitor, HM_MAP_MONITOR, gen * HM_MON_MAX + key,
					 percpu);
			if (ret)
				break;
			for (cpu = 0; cpu < rd->ncpus; cpu++)
				rd->snap->monitor[key] += percpu[cpu];
		}
	}
	free(percpu);
	return ret;
}

static int count_keys(int fd, const char *name, __u64 *count)
{
	struct bpf_map_info info;
	void *key, *next, *prev = NULL;
	int ret;

	*count = 0;
	ret = map_info(fd, &info);
	if (ret)
		goto out;
	key = calloc(2, info.key_size ? info.key_size : 1);
	if (!key)
		return -ENOMEM;
	next = (char *)key + info.key_size;
	while (*count < info.max_entries &&
	       bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, info.key_size);
		prev = key;
		(*count)++;
	}
	if (*count < info.max_entries && errno != ENOENT)
		ret = -errno;
	free(key);
out:
	if (ret)
		hm_err("cannot read map %s: %s", name, strerror(-ret));
	return ret;
}

static int cmp_key(const struct row *a, const struct row *b)
{
	int c;

	if (a->other != b->other)
		return a->other ? 1 : -1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	c = memcmp(a->ip.a, b->ip.a, sizeof(a->ip.a));
	if (c)
		return c;
	c = strcmp(a->label, b->label);
	if (c)
		return c;
	return (int)a->method - (int)b->method;
}

static int cmp_key_qsort(const void *a, const void *b)
{
	return cmp_key(a, b);
}

static void stats_add(struct hm_stats *sum, const struct hm_stats *s)
{
	struct hm_stats pair[2] = { *sum, *s };

	hm_stats_sum(sum, pair, 2);
}

/*
 * Sorts the rows by key and merges a key seen twice: reading, the second
 * copy replaces the first (a restarted walk); clearing, they add up.
 */
static void table_by_key(struct table *t, bool add)
{
	size_t i, n = 0;

	sort_array(t->rows, t->len, sizeof(*t->rows), cmp_key_qsort);
	for (i = 0; i < t->len; i++) {
		if (n && !cmp_key(&t->rows[n - 1], &t->rows[i])) {
			if (add)
				stats_add(&t->rows[n - 1].s, &t->rows[i].s);
			else
				t->rows[n - 1] = t->rows[i];
			continue;
		}
		t->rows[n++] = t->rows[i];
	}
	t->len = n;
}

static int cmp_key_hist(const void *pa, const void *pb)
{
	const struct key_hist *a = pa, *b = pb;

	return a->key < b->key ? -1 : a->key > b->key;
}

static const struct key_hist *find_hist(const struct hist_set *set, __u32 key)
{
	struct key_hist k = { .key = key };

	if (!set->n)
		return NULL;
	return bsearch(&k, set->v, set->n, sizeof(k), cmp_key_hist);
}

/* Gives each port and route row its histograms; call once the sets no longer move. */
static void link_hists(struct snapshot *snap)
{
	struct table *pt = &snap->tables[VIEW_PORT], *rt = &snap->tables[VIEW_ROUTE];
	const struct key_hist *p;
	size_t i;
	int f;

	sort_array(snap->ports.v, snap->ports.n, sizeof(*snap->ports.v), cmp_key_hist);
	sort_array(snap->routes.v, snap->routes.n, sizeof(*snap->routes.v), cmp_key_hist);
	for (i = 0; i < pt->len; i++) {
		p = pt->rows[i].other ? NULL : find_hist(&snap->ports, pt->rows[i].port);
		for (f = 0; f < HM_LAT_FAMILIES; f++)
			pt->rows[i].hist[f] = p ? &p->h[f] : NULL;
	}
	for (i = 0; i < rt->len; i++) {
		p = find_hist(&snap->routes, rt->rows[i].route);
		for (f = 0; f < HM_LAT_FAMILIES; f++)
			rt->rows[i].hist[f] = p ? &p->h[f] : NULL;
	}
}

static void snapshot_free(struct snapshot *snap)
{
	int v;

	for (v = 0; v < VIEWS; v++)
		free(snap->tables[v].rows);
	free(snap->ports.v);
	free(snap->routes.v);
	memset(snap, 0, sizeof(*snap));
}

/* Adds the generations rd->gens of every view to rd->snap. */
static int read_gens(struct reader *rd)
{
	int ret = read_views(rd);

	if (!ret)
		ret = read_routes(rd);
	if (!ret)
		ret = read_hists(rd);
	if (!ret)
		ret = read_monitor(rd);
	return ret;
}

/*
 * Reads every view.  With reset_dir (the pin directory, locked meanwhile), an
 * interval: first whatever an interrupted reset left in the generation that
 * is not written (normally nothing), read and cleared; then the generation
 * written so far is retired, read and cleared.  Without, both generations,
 * summed.
 */
static int read_snapshot(struct hm_maps *maps, const char *reset_dir, struct snapshot *snap)
{
	struct reader rd = { .maps = maps, .snap = snap, .gens = (1U << HM_GENS) - 1 };
	int ret, v, lock = -1, gen;

	memset(snap, 0, sizeof(*snap));
	rd.ncpus = libbpf_num_possible_cpus();
	if (rd.ncpus <= 0) {
		hm_err("cannot count the possible CPUs: %s", strerror(-rd.ncpus));
		return rd.ncpus ? rd.ncpus : -EINVAL;
	}
	rd.percpu = calloc(1, percpu_size(sizeof(struct hm_stats), rd.ncpus));
	if (!rd.percpu)
		return -ENOMEM;
	for (unsigned int g = 0; g < HM_GENS; g++)
		for (unsigned int k = 0; k < HM_ROW_KINDS; k++) {
			rd.seen[g][k] = calloc(hm_row_capacity(k), 1);
			if (!rd.seen[g][k]) {
				ret = -ENOMEM;
				goto out;
			}
		}
	if (!reset_dir) {
		ret = read_gens(&rd);
		goto done;
	}
	lock = hm_pin_lock(reset_dir);
	if (lock < 0) {
		ret = lock;
		goto out;
	}
	gen = hm_gen_live(maps);
	ret = gen;
	if (gen >= 0) {
		rd.gens = 1U << (gen ^ 1);
		ret = read_gens(&rd);
	}
	if (!ret)
		ret = hm_gen_clear(maps, gen ^ 1);
	if (!ret)
		ret = gen = hm_gen_retire(maps);
	if (ret >= 0) {
		rd.gens = 1U << gen;
		ret = read_gens(&rd);
	}
	if (!ret)
		ret = hm_gen_clear(maps, gen);
done:
	if (!ret)
		ret = count_keys(maps->conns, HM_MAP_CONNS, &snap->conns_live);
out:
	if (lock >= 0)
		close(lock);
	free(rd.percpu);
	for (unsigned int g = 0; g < HM_GENS; g++)
		for (unsigned int k = 0; k < HM_ROW_KINDS; k++)
			free(rd.seen[g][k]);
	if (ret == -ENOMEM)
		hm_err("out of memory");
	if (ret) {
		snapshot_free(snap);
		return ret;
	}
	/* A key read in both generations adds up. */
	for (v = 0; v < VIEWS; v++)
		table_by_key(&snap->tables[v], true);
	link_hists(snap);
	return 0;
}

/* ---- interval deltas (--watch) ---- */

static bool sub(__u64 *d, __u64 cur, __u64 prev)
{
	*d = cur - prev;
	return cur >= prev;
}

static bool latency_delta(struct hm_latency *d, const struct hm_latency *cur,
			  const struct hm_latency *prev)
{
	bool ok = sub(&d->count, cur->count, prev->count) &
		  sub(&d->sum_ns, cur->sum_ns, prev->sum_ns);

	d->min_ns = d->max_ns = 0; /* not known for an interval */
	return ok;
}

/* d = cur - prev; when a counter went down (cleared in between), d = cur. */
static void stats_delta(struct hm_stats *d, const struct hm_stats *cur,
			const struct hm_stats *prev)
{
	bool ok = true;
	int c;

	ok &= sub(&d->requests, cur->requests, prev->requests);
	ok &= sub(&d->responses, cur->responses, prev->responses);
	ok &= sub(&d->unanswered, cur->unanswered, prev->unanswered);
	for (c = 0; c < HM_STATUS_CLASSES; c++)
		ok &= sub(&d->status[c], cur->status[c], prev->status[c]);
	ok &= latency_delta(&d->lat, &cur->lat, &prev->lat);
	ok &= latency_delta(&d->lat_ok, &cur->lat_ok, &prev->lat_ok);
	ok &= latency_delta(&d->lat_fail, &cur->lat_fail, &prev->lat_fail);
	ok &= latency_delta(&d->lat_last, &cur->lat_last, &prev->lat_last);
	ok &= sub(&d->bytes_in, cur->bytes_in, prev->bytes_in);
	ok &= sub(&d->bytes_out, cur->bytes_out, prev->bytes_out);
	if (!ok)
		stats_delta(d, cur, &(struct hm_stats){ 0 });
}

static bool stats_active(const struct hm_stats *s)
{
	return s->requests || s->responses || s->unanswered || s->bytes_in ||
	       s->bytes_out || s->lat.count || s->lat_last.count;
}

/* out = cur - prev, both read by read_snapshot() (rows sorted by key). */
static int snapshot_delta(struct snapshot *out, const struct snapshot *cur,
			  const struct snapshot *prev, double seconds)
{
	static const struct hm_hist zero_hist;
	const struct hist_set *cs[2] = { &cur->ports, &cur->routes };
	const struct hist_set *ps[2] = { &prev->ports, &prev->routes };
	struct hist_set *os[2] = { &out->ports, &out->routes };
	const struct key_hist *pp;
	struct key_hist *p;
	const struct row *pr;
	struct row *r;
	size_t i;
	int v, f;

	memset(out, 0, sizeof(*out));
	out->interval = true;
	out->seconds = seconds;
	for (v = 0; v < VIEWS; v++) {
		const struct table *ct = &cur->tables[v], *pt = &prev->tables[v];

		for (i = 0; i < ct->len; i++) {
			pr = pt->len ? bsearch(&ct->rows[i], pt->rows, pt->len,
					       sizeof(*pt->rows), cmp_key_qsort)
				     : NULL;
			r = table_add(&out->tables[v]);
			if (!r)
				goto nomem;
			*r = ct->rows[i];
			stats_delta(&r->s, &ct->rows[i].s,
				    pr ? &pr->s : &(struct hm_stats){ 0 });
			if (!stats_active(&r->s))
				out->tables[v].len--;
		}
	}
	for (v = 0; v < 2; v++) {
		for (i = 0; i < cs[v]->n; i++) {
			p = hist_get(os[v], cs[v]->v[i].key);
			if (!p)
				goto nomem;
			pp = find_hist(ps[v], cs[v]->v[i].key);
			for (f = 0; f < HM_LAT_FAMILIES; f++)
				hm_hist_delta(&p->h[f], &cs[v]->v[i].h[f],
					      pp ? &pp->h[f] : &zero_hist);
		}
	}
	for (f = 0; f < HM_LAT_FAMILIES; f++) {
		hm_hist_delta(&out->total[f], &cur->total[f], &prev->total[f]);
		hm_hist_delta(&out->ports_ovf[f], &cur->ports_ovf[f], &prev->ports_ovf[f]);
		hm_hist_delta(&out->routes_ovf[f], &cur->routes_ovf[f], &prev->routes_ovf[f]);
	}
	for (i = 0; i < HM_MON_MAX; i++)
		if (!sub(&out->monitor[i], cur->monitor[i], prev->monitor[i]))
			out->monitor[i] = cur->monitor[i];
	out->conns_live = cur->conns_live;
	link_hists(out);
	return 0;
nomem:
	hm_err("out of memory");
	snapshot_free(out);
	return -ENOMEM;
}

/* ---- figures of a row ---- */

static const struct hm_latency *row_lat(const struct row *r, int family)
{
	return family == HM_LAT_LAST ? &r->s.lat_last : &r->s.lat;
}

static bool lat_valid(const struct hm_latency *l)
{
	return l->count > 0;
}

static double lat_avg_ns(const struct hm_latency *l)
{
	return (double)l->sum_ns / (double)l->count;
}

/*
 * Percentile q of h.  The exact min/max of l bound it when they describe the
 * same samples (same count: a port whose stats row or histogram went to an
 * overflow row does not qualify) and are known (not an interval).
 */
static bool percentile(const struct hm_hist *h, const struct hm_latency *l,
		       bool interval, unsigned int per10k, double *ns)
{
	struct hm_bounds b = { 0 };

	if (!h)
		return false;
	if (l && !interval && l->count && l->count == hm_hist_total(h))
		b = (struct hm_bounds){ true, l->min_ns, l->max_ns };
	return hm_hist_quantile(h, per10k, &b, ns);
}

static __u64 success_count(const struct hm_stats *s)
{
	__u64 fail = s->status[HM_STATUS_5XX];

	return s->responses > fail ? s->responses - fail : 0;
}

static bool success_rate(const struct hm_stats *s, double *rate)
{
	if (!s->responses)
		return false;
	*rate = (double)success_count(s) / (double)s->responses;
	return true;
}

static bool response_rate(const struct hm_stats *s, double *rate)
{
	if (!s->requests)
		return false;
	*rate = (double)s->responses / (double)s->requests;
	return true;
}

static enum sort_field sort_by;
static int sort_family;

/* Larger is better; rows with no value sort after every row with one. */
static double sort_value(const struct row *r)
{
	const struct hm_stats *s = &r->s;
	const struct hm_latency *l = row_lat(r, sort_family);
	double rate;

	switch (sort_by) {
	case SORT_RESPONSES:
		return s->responses;
	case SORT_SUCCESS:
		return success_rate(s, &rate) ? rate : -1;
	case SORT_4XX:
		return s->status[HM_STATUS_4XX];
	case SORT_5XX:
		return s->status[HM_STATUS_5XX];
	case SORT_UNANSWERED:
		return s->unanswered;
	case SORT_AVG:
		return lat_valid(l) ? lat_avg_ns(l) : -1;
	case SORT_MIN:
		return lat_valid(l) ? (double)l->min_ns : -1;
	case SORT_MAX:
		return lat_valid(l) ? (double)l->max_ns : -1;
	case SORT_BYTES_IN:
		return s->bytes_in;
	case SORT_BYTES_OUT:
		return s->bytes_out;
	default:
		return s->requests;
	}
}

static int cmp_ip(const struct row *a, const struct row *b)
{
	return memcmp(a->ip.a, b->ip.a, sizeof(a->ip.a));
}

static int cmp_port(const struct row *a, const struct row *b)
{
	return (int)a->port - (int)b->port;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	double va, vb;
	int c;

	if (a->other != b->other)
		return a->other ? 1 : -1;
	if (sort_by == SORT_IP) {
		c = cmp_ip(a, b);
		return c ? c : cmp_key(a, b);
	}
	if (sort_by != SORT_PORT) {
		va = sort_value(a);
		vb = sort_value(b);
		if (va != vb)
			return va > vb ? -1 : 1;
	}
	c = cmp_port(a, b);
	return c ? c : cmp_key(a, b);
}

static void sort_tables(struct snapshot *snap, const struct options *o)
{
	int v;

	sort_by = o->sort;
	sort_family = o->family;
	for (v = 0; v < VIEWS; v++)
		sort_array(snap->tables[v].rows, snap->tables[v].len,
			   sizeof(struct row), cmp_rows);
}

/* Rows are sorted with the overflow row last, so index order is rank. */
static bool row_shown(const struct table *t, size_t i, size_t top)
{
	return t->rows[i].other || !top || i < top;
}

static size_t shown_rows(const struct table *t, size_t top)
{
	size_t n = 0, i;

	for (i = 0; i < t->len; i++)
		n += row_shown(t, i, top);
	return n;
}

/* The total row of a view: every row summed, the total histograms. */
static void total_row(struct row *total, const struct snapshot *snap, enum view v)
{
	const struct table *t = &snap->tables[v];
	size_t i;
	int f;

	memset(total, 0, sizeof(*total));
	for (i = 0; i < t->len; i++)
		stats_add(&total->s, &t->rows[i].s);
	for (f = 0; f < HM_LAT_FAMILIES; f++)
		total->hist[f] = &snap->total[f];
}

/* ---- interface names ---- */

/* Where hm-load records the interfaces it attached to (hm_links), set by main(). */
static const char *links_pin_dir;

/*
 * The name of interface ifindex: as hm-load recorded it in hm_links (the
 * network namespace it attached in), else as this namespace has it; NULL
 * when neither knows it.
 */
static const char *iface_name(__u32 ifindex, char *buf)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	static struct hm_link links[HM_MAX_LINKS];
	static int nlinks = -1;
	struct bpf_map_info info;
	char path[4096];
	__u32 key, next;
	int fd, i;

	if (nlinks < 0) {
		nlinks = 0;
		fd = links_pin_dir && !hm_pin_path(path, sizeof(path), links_pin_dir,
						   HM_MAP_LINKS)
			     ? bpf_obj_get_opts(path, &ro)
			     : -1;
		/* hm_maps_open() refused another layout; the pin may have changed since. */
		if (fd >= 0 && (map_info(fd, &info) || info.key_size != sizeof(key) ||
				info.value_size != sizeof(links[0]))) {
			close(fd);
			fd = -1;
		}
		for (i = 0; fd >= 0 && nlinks < HM_MAX_LINKS &&
			    !bpf_map_get_next_key(fd, i ? &key : NULL, &next);
		     i++) {
			key = next;
			if (!bpf_map_lookup_elem(fd, &key, &links[nlinks]))
				nlinks++;
		}
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < nlinks; i++) {
		if (links[i].ifindex == ifindex && links[i].ifname[0]) {
			snprintf(buf, IF_NAMESIZE, "%.*s", IF_NAMESIZE - 1, links[i].ifname);
			return buf;
		}
	}
	return if_indextoname(ifindex, buf);
}

/* ---- route labels ---- */

#define ROUTE_TEXT (HM_ROUTE_LEN * 3 + 1)

/*
 * A route label as printed everywhere: request targets may hold any byte, so
 * bytes outside printable ASCII (space included) become %XX; output stays
 * valid UTF-8 text on one line.
 */
static const char *route_text(const char *label, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;

	for (i = 0; i < HM_ROUTE_LEN && label[i] && n + 4 <= len; i++) {
		unsigned char c = label[i];

		if (c > 0x20 && c < 0x7f) {
			buf[n++] = c;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
	return buf;
}

/* The method of a route row; "" for _other, _unknown and "any method". */
static const char *route_method(const struct row *r)
{
	return r->method ? hm_method_name(r->method) : "";
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_rate(FILE *f, const char *name, bool valid, double v)
{
	if (valid)
		fprintf(f, ", \"%s\": %.4f", name, v);
	else
		fprintf(f, ", \"%s\": null", name);
}

/* avg/min/max in us, and the percentiles when with_hist (h may be NULL). */
static void json_latency(FILE *f, const char *name, const struct hm_latency *l,
			 bool with_hist, const struct hm_hist *h)
{
	double ns;
	int q;

	if (!lat_valid(l))
		fprintf(f, ", \"%s\": {\"avg\": null, \"min\": null, \"max\": null",
			name);
	else
		fprintf(f, ", \"%s\": {\"avg\": %.1f, \"min\": %.1f, \"max\": %.1f",
			name, lat_avg_ns(l) / 1e3, l->min_ns / 1e3,
			l->max_ns / 1e3);
	for (q = 0; with_hist && q < HM_NQUANTILES; q++) {
		if (percentile(h, l, false, hm_quantiles[q].per10k, &ns))
			fprintf(f, ", \"%s\": %.1f", hm_quantiles[q].key, ns / 1e3);
		else
			fprintf(f, ", \"%s\": null", hm_quantiles[q].key);
	}
	fputc('}', f);
}

/* "name": {"p50": ..., "p99_9": ...}, without bounds. */
static void json_quantiles(FILE *f, const char *name, const struct hm_hist *h)
{
	double ns;
	int q;

	fprintf(f, "\"%s\": {", name);
	for (q = 0; q < HM_NQUANTILES; q++) {
		fprintf(f, "%s\"%s\": ", q ? ", " : "", hm_quantiles[q].key);
		if (percentile(h, NULL, false, hm_quantiles[q].per10k, &ns))
			fprintf(f, "%.1f", ns / 1e3);
		else
			fputs("null", f);
	}
	fputc('}', f);
}

/* {"count", "sum_us", "buckets": [[upper_us, n], ...]}: non-empty fine buckets. */
static void json_hist(FILE *f, const struct hm_hist *h)
{
	const char *sep = "";
	__u32 b;

	if (!h) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"count\": %llu, \"sum_us\": %.1f, \"buckets\": [",
		(unsigned long long)hm_hist_total(h), h->sum_ns / 1e3);
	for (b = 0; b < HM_HIST_BUCKETS; b++) {
		if (!h->buckets[b])
			continue;
		if (b == HM_HIST_BUCKETS - 1)
			fprintf(f, "%s[null, %llu]", sep,
				(unsigned long long)h->buckets[b]);
		else
			fprintf(f, "%s[%.3f, %llu]", sep, hm_hist_upper(b) / 1e3,
				(unsigned long long)h->buckets[b]);
		sep = ", ";
	}
	fputs("]}", f);
}

static void json_hists(FILE *f, const struct hm_hist *const *h)
{
	int fam;

	fputs(", \"latency_hist\": {", f);
	for (fam = 0; fam < HM_LAT_FAMILIES; fam++) {
		fprintf(f, "%s\"%s\": ", fam ? ", " : "", family_names[fam]);
		json_hist(f, h[fam]);
	}
	fputc('}', f);
}

/* with_hist: port rows and the total, which have histograms (or nulls). */
static void json_row_body(FILE *f, const struct row *r, bool with_hist)
{
	const struct hm_stats *s = &r->s;
	double rate = 0;
	bool valid;

	fprintf(f, "\"requests\": %llu, \"responses\": %llu, \"unanswered\": %llu",
		(unsigned long long)s->requests,
		(unsigned long long)s->responses,
		(unsigned long long)s->unanswered);
	fprintf(f, ", \"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, "
		   "\"4xx\": %llu, \"5xx\": %llu}",
		(unsigned long long)s->status[HM_STATUS_1XX],
		(unsigned long long)s->status[HM_STATUS_2XX],
		(unsigned long long)s->status[HM_STATUS_3XX],
		(unsigned long long)s->status[HM_STATUS_4XX],
		(unsigned long long)s->status[HM_STATUS_5XX]);
	valid = success_rate(s, &rate);
	json_rate(f, "success_rate", valid, rate);
	valid = response_rate(s, &rate);
	json_rate(f, "response_rate", valid, rate);
	json_latency(f, "latency_us", &s->lat, with_hist, r->hist[HM_LAT_FIRST]);
	json_latency(f, "latency_ok_us", &s->lat_ok, false, NULL);
	json_latency(f, "latency_fail_us", &s->lat_fail, false, NULL);
	json_latency(f, "latency_last_us", &s->lat_last, with_hist,
		     r->hist[HM_LAT_LAST]);
	fprintf(f, ", \"bytes_in\": %llu, \"bytes_out\": %llu",
		(unsigned long long)s->bytes_in,
		(unsigned long long)s->bytes_out);
	if (with_hist)
		json_hists(f, r->hist);
}

static void json_row(FILE *f, enum view v, const struct row *r)
{
	char ip[INET6_ADDRSTRLEN], route[ROUTE_TEXT];

	fputc('{', f);
	if (v == VIEW_IFACE) {
		char name[IF_NAMESIZE];

		if (r->other)
			fputs("\"ifindex\": \"other\", \"iface\": null", f);
		else
			fprintf(f, "\"ifindex\": %u, \"iface\": ", r->ifindex);
		if (!r->other && iface_name(r->ifindex, name))
			json_str(f, name);
		else if (!r->other)
			fputs("null", f);
	} else if (v == VIEW_ROUTE) {
		fputs("\"method\": ", f);
		if (r->method)
			json_str(f, route_method(r));
		else
			fputs("null", f);
		fputs(", \"route\": ", f);
		json_str(f, route_text(r->label, route, sizeof(route)));
	} else if (v != VIEW_CLIENT) {
		if (r->other)
			fprintf(f, "\"port\": \"other\"");
		else
			fprintf(f, "\"port\": %u", r->port);
	}
	if (v == VIEW_CLIENT || v == VIEW_PORT_CLIENT) {
		fprintf(f, "%s\"ip\": ", v == VIEW_CLIENT ? "" : ", ");
		json_str(f, r->other ? "other" :
			 hm_addr_str(&r->ip, ip, sizeof(ip)));
	}
	fputs(", ", f);
	json_row_body(f, r, views[v].hist);
	fputc('}', f);
}

static void json_other_latency(FILE *f, const char *name, const struct hm_hist *h)
{
	const struct hm_hist *hists[HM_LAT_FAMILIES] = { &h[HM_LAT_FIRST], &h[HM_LAT_LAST] };

	fprintf(f, ",\n \"%s\": {", name);
	json_quantiles(f, "latency_us", hists[HM_LAT_FIRST]);
	fputs(", ", f);
	json_quantiles(f, "latency_last_us", hists[HM_LAT_LAST]);
	json_hists(f, hists);
	fputc('}', f);
}

static void print_json(FILE *f, const struct snapshot *snap,
		       const struct options *o)
{
	const struct table *t;
	struct row total;
	const char *sep;
	size_t i;
	int v;

	fprintf(f, "{\"schema\": %d", HM_JSON_SCHEMA);
	for (v = 0; v < VIEWS; v++) {
		t = &snap->tables[v];
		fprintf(f, ",\n \"%s\": [", views[v].json);
		sep = "\n  ";
		for (i = 0; i < t->len; i++) {
			if (!row_shown(t, i, o->top))
				continue;
			fputs(sep, f);
			json_row(f, v, &t->rows[i]);
			sep = ",\n  ";
		}
		fputs(t->len ? "\n ]" : "]", f);
	}
	total_row(&total, snap, VIEW_PORT);
	fputs(",\n \"total\": {", f);
	json_row_body(f, &total, true);
	fputc('}', f);
	/* Ports and routes beyond those with histograms of their own: percentiles only. */
	json_other_latency(f, "ports_other_latency", snap->ports_ovf);
	json_other_latency(f, "routes_other_latency", snap->routes_ovf);
	fprintf(f, ",\n \"monitor\": {");
	for (i = 0; i < HM_MON_MAX; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_str(f, monitor_names[i]);
		fprintf(f, ": %llu", (unsigned long long)snap->monitor[i]);
	}
	fprintf(f, ", \"conns_live\": %llu}}\n",
		(unsigned long long)snap->conns_live);
}

/* ---- CSV ---- */

static void csv_us(FILE *f, bool valid, double ns)
{
	if (valid)
		fprintf(f, ",%.1f", ns / 1e3);
	else
		fputc(',', f);
}

static void csv_latency(FILE *f, const struct hm_latency *l, bool quantiles,
			const struct hm_hist *h)
{
	double ns = 0;
	int q;

	csv_us(f, lat_valid(l), lat_valid(l) ? lat_avg_ns(l) : 0);
	csv_us(f, lat_valid(l), l->min_ns);
	csv_us(f, lat_valid(l), l->max_ns);
	for (q = 0; quantiles && q < HM_NQUANTILES; q++) {
		bool ok = percentile(h, l, false, hm_quantiles[q].per10k, &ns);

		csv_us(f, ok, ns);
	}
}

static void csv_header(FILE *f, enum view v)
{
	static const char *const lat[] = { "latency", "latency_ok", "latency_fail",
					   "latency_last" };
	size_t i;
	int q;

	if (v == VIEW_CLIENT)
		fputs("ip", f);
	else if (v == VIEW_IFACE)
		fputs("ifindex,iface", f);
	else if (v == VIEW_PORT)
		fputs("port", f);
	else if (v == VIEW_ROUTE)
		fputs("method,route", f);
	else
		fputs("port,ip", f);
	fputs(",requests,responses,unanswered,status_1xx,status_2xx,status_3xx,"
	      "status_4xx,status_5xx,success_rate,response_rate", f);
	for (i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		fprintf(f, ",%s_avg_us,%s_min_us,%s_max_us", lat[i], lat[i], lat[i]);
		if (i == 0 || i == 3)
			for (q = 0; q < HM_NQUANTILES; q++)
				fprintf(f, ",%s_%s_us", lat[i], hm_quantiles[q].key);
	}
	fputs(",bytes_in,bytes_out\n", f);
}

/* A field quoted as RFC 4180 asks when it holds a comma or a quote. */
static void csv_field(FILE *f, const char *text)
{
	if (!strpbrk(text, ",\"")) {
		fputs(text, f);
		return;
	}
	fputc('"', f);
	for (; *text; text++) {
		if (*text == '"')
			fputc('"', f);
		fputc(*text, f);
	}
	fputc('"', f);
}

static void csv_row(FILE *f, enum view v, const struct row *r)
{
	const struct hm_stats *s = &r->s;
	char ip[INET6_ADDRSTRLEN], route[ROUTE_TEXT];
	double rate;
	int c;

	if (v == VIEW_IFACE) {
		char name[IF_NAMESIZE];

		if (r->other)
			fputs("other,", f);
		else if (iface_name(r->ifindex, name))
			fprintf(f, "%u,%s", r->ifindex, name);
		else
			fprintf(f, "%u,", r->ifindex);
	} else if (v == VIEW_ROUTE) {
		fprintf(f, "%s,", route_method(r));
		csv_field(f, route_text(r->label, route, sizeof(route)));
	} else if (v != VIEW_CLIENT) {
		if (r->other)
			fputs("other", f);
		else
			fprintf(f, "%u", r->port);
	}
	if (v == VIEW_CLIENT || v == VIEW_PORT_CLIENT)
		fprintf(f, "%s%s", v == VIEW_CLIENT ? "" : ",",
			r->other ? "other" : hm_addr_str(&r->ip, ip, sizeof(ip)));
	fprintf(f, ",%llu,%llu,%llu", (unsigned long long)s->requests,
		(unsigned long long)s->responses,
		(unsigned long long)s->unanswered);
	for (c = 0; c < HM_STATUS_CLASSES; c++)
		fprintf(f, ",%llu", (unsigned long long)s->status[c]);
	if (success_rate(s, &rate))
		fprintf(f, ",%.4f", rate);
	else
		fputc(',', f);
	if (response_rate(s, &rate))
		fprintf(f, ",%.4f", rate);
	else
		fputc(',', f);
	csv_latency(f, &s->lat, true, r->hist[HM_LAT_FIRST]);
	csv_latency(f, &s->lat_ok, false, NULL);
	csv_latency(f, &s->lat_fail, false, NULL);
	csv_latency(f, &s->lat_last, true, r->hist[HM_LAT_LAST]);
	fprintf(f, ",%llu,%llu\n", (unsigned long long)s->bytes_in,
		(unsigned long long)s->bytes_out);
}

static void print_csv(FILE *f, const struct snapshot *snap,
		      const struct options *o)
{
	const struct table *t = &snap->tables[o->view];
	size_t i;

	csv_header(f, o->view);
	for (i = 0; i < t->len; i++)
		if (row_shown(t, i, o->top))
			csv_row(f, o->view, &t->rows[i]);
}

/* ---- Prometheus text exposition format ---- */

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s=\"", name);
	for (; *value; value++) {
		if (*value == '\\')
			fputs("\\\\", f);
		else if (*value == '"')
			fputs("\\\"", f);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void prom_family(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of one series: at most two of a row, plus class or le. */
struct prom_labels {
	int n;
	const char *name[3];
	const char *value[3];
};

static void prom_add(struct prom_labels *l, const char *name, const char *value)
{
	l->name[l->n] = name;
	l->value[l->n++] = value;
}

/* name{labels} or name when there are none. */
static void prom_name(FILE *f, const char *name, const char *suffix,
		      const struct prom_labels *l)
{
	int i;

	fprintf(f, "%s%s", name, suffix);
	if (!l->n)
		return;
	fputc('{', f);
	for (i = 0; i < l->n; i++) {
		if (i)
			fputc(',', f);
		prom_label(f, l->name[i], l->value[i]);
	}
	fputc('}', f);
}

/* The labels identifying row r of view v; buf holds their text. */
static struct prom_labels prom_row_labels(enum view v, const struct row *r,
					  char *buf, size_t len)
{
	struct prom_labels l = { 0 };

	switch (v) {
	case VIEW_PORT:
		if (r->other)
			snprintf(buf, len, "other");
		else
			snprintf(buf, len, "%u", r->port);
		prom_add(&l, "port", buf);
		break;
	case VIEW_ROUTE:
		prom_add(&l, "method", route_method(r));
		prom_add(&l, "route", route_text(r->label, buf, len));
		break;
	default:
		prom_add(&l, "ip", r->other ? "other" : hm_addr_str(&r->ip, buf, len));
		break;
	}
	return l;
}

static const struct {
	const char *prefix; /* of the metric names */
	const char *what;   /* help text: per ... */
} prom_views[VIEWS] = {
	[VIEW_CLIENT] = { "httpmon_client_", "per client address (ip=\"other\": "
					     "clients that found the map full)" },
	[VIEW_PORT] = { "httpmon_", "per server port (port=\"other\": ports that "
				    "found the map full)" },
	[VIEW_ROUTE] = { "httpmon_route_", "per method and route (route=\"_other\": "
					   "routes beyond the route limit, "
					   "\"_unknown\": responses to requests not seen)" },
};

static void prom_counters(FILE *f, const struct snapshot *snap, enum view v,
			  size_t top)
{
	static const char *const classes[HM_STATUS_CLASSES] = {
		"1xx", "2xx", "3xx", "4xx", "5xx"
	};
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
		{ "requests", "HTTP request lines seen",
		  offsetof(struct hm_stats, requests) },
		{ "responses", "final HTTP responses by status class",
		  offsetof(struct hm_stats, responses) },
		{ "unanswered", "requests with no response: connection closed or idle, or written off after a gap",
		  offsetof(struct hm_stats, unanswered) },
		{ "bytes_in", "HTTP payload bytes from client to server",
		  offsetof(struct hm_stats, bytes_in) },
		{ "bytes_out", "HTTP payload bytes from server to client",
		  offsetof(struct hm_stats, bytes_out) },
	};
	const struct table *t = &snap->tables[v];
	char name[128], help[512], buf[ROUTE_TEXT];
	struct prom_labels l;
	size_t c, i;
	__u64 val;
	int k;

	for (c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		snprintf(name, sizeof(name), "%s%s_total", prom_views[v].prefix,
			 counters[c].name);
		snprintf(help, sizeof(help), "%s, %s", counters[c].help,
			 prom_views[v].what);
		prom_family(f, name, "counter", help);
		for (i = 0; i < t->len; i++) {
			const struct row *r = &t->rows[i];

			if (!row_shown(t, i, top))
				continue;
			l = prom_row_labels(v, r, buf, sizeof(buf));
			if (c != 1) {
				memcpy(&val, (const char *)&r->s + counters[c].offset,
				       sizeof(val));
				prom_name(f, name, "", &l);
				fprintf(f, " %llu\n", (unsigned long long)val);
				continue;
			}
			prom_add(&l, "class", "");
			for (k = 0; k < HM_STATUS_CLASSES; k++) {
				l.value[l.n - 1] = classes[k];
				prom_name(f, name, "", &l);
				fprintf(f, " %llu\n", (unsigned long long)r->s.status[k]);
			}
		}
	}
}

/* The export bounds (--buckets, --bucket-range), set by main(). */
static struct hm_export prom_export;

/* One histogram series: cumulative buckets at the export bounds, _sum, _count. */
static void prom_hist_series(FILE *f, const char *name, struct prom_labels l,
			     const struct hm_hist *h)
{
	unsigned int i, n = hm_export_count(&prom_export);
	char le[32];
	__u64 ns;

	prom_add(&l, "le", le);
	for (i = 0; i < n; i++) {
		ns = hm_export_bound(&prom_export, i);
		hm_ns_to_seconds(ns, le, sizeof(le));
		prom_name(f, name, "_bucket", &l);
		fprintf(f, " %llu\n", (unsigned long long)hm_hist_count_below(h, ns));
	}
	snprintf(le, sizeof(le), "+Inf");
	prom_name(f, name, "_bucket", &l);
	fprintf(f, " %llu\n", (unsigned long long)hm_hist_total(h));
	l.n--;
	prom_name(f, name, "_sum", &l);
	fprintf(f, " %s\n", hm_ns_to_seconds(h->sum_ns, le, sizeof(le)));
	prom_name(f, name, "_count", &l);
	fprintf(f, " %llu\n", (unsigned long long)hm_hist_total(h));
}

static const struct {
	const char *name, *help;
} prom_fams[HM_LAT_FAMILIES] = {
	[HM_LAT_FIRST] = { "request_duration_seconds",
			   "time from the first request byte to the first "
			   "response byte on the interface" },
	[HM_LAT_LAST] = { "response_complete_duration_seconds",
			  "time from the first request byte to the last "
			  "response byte on the interface, for responses "
			  "whose end is known" },
};

/* Per port (and the total, with no port label). */
static void prom_port_hists(FILE *f, const struct snapshot *snap)
{
	char name[96], help[512], port[8];
	struct prom_labels none = { 0 }, l;
	size_t i;
	int fam;

	for (fam = 0; fam < HM_LAT_FAMILIES; fam++) {
		snprintf(name, sizeof(name), "httpmon_%s", prom_fams[fam].name);
		snprintf(help, sizeof(help), "%s; per server port, port=\"other\": "
			 "ports beyond the %d with a histogram of their own; the "
			 "series without a port label counts every response",
			 prom_fams[fam].help, HM_HIST_PORTS);
		prom_family(f, name, "histogram", help);
		prom_hist_series(f, name, none, &snap->total[fam]);
		for (i = 0; i < snap->ports.n; i++) {
			snprintf(port, sizeof(port), "%u", snap->ports.v[i].key);
			l = none;
			prom_add(&l, "port", port);
			prom_hist_series(f, name, l, &snap->ports.v[i].h[fam]);
		}
		if (hm_hist_total(&snap->ports_ovf[fam])) {
			l = none;
			prom_add(&l, "port", "other");
			prom_hist_series(f, name, l, &snap->ports_ovf[fam]);
		}
	}
}

/* Per route; the labels come from the route rows (a route id without one: _id_N). */
static void prom_route_hists(FILE *f, const struct snapshot *snap)
{
	const struct table *t = &snap->tables[VIEW_ROUTE];
	char name[96], help[512], buf[ROUTE_TEXT];
	struct prom_labels l;
	struct row anon;
	const struct row *r;
	size_t i, j;
	int fam;

	for (fam = 0; fam < HM_LAT_FAMILIES; fam++) {
		snprintf(name, sizeof(name), "httpmon_route_%s", prom_fams[fam].name);
		snprintf(help, sizeof(help), "%s; per method and route, "
			 "route=\"_overflow\": routes beyond the %d with a "
			 "histogram of their own", prom_fams[fam].help,
			 HM_HIST_ROUTES);
		prom_family(f, name, "histogram", help);
		for (i = 0; i < snap->routes.n; i++) {
			for (r = NULL, j = 0; j < t->len && !r; j++)
				if (t->rows[j].route == snap->routes.v[i].key)
					r = &t->rows[j];
			if (!r) {
				memset(&anon, 0, sizeof(anon));
				snprintf(anon.label, sizeof(anon.label), "_id_%u",
					 snap->routes.v[i].key);
				r = &anon;
			}
			l = prom_row_labels(VIEW_ROUTE, r, buf, sizeof(buf));
			prom_hist_series(f, name, l, &snap->routes.v[i].h[fam]);
		}
		if (hm_hist_total(&snap->routes_ovf[fam])) {
			l = (struct prom_labels){ 0 };
			prom_add(&l, "method", "");
			prom_add(&l, "route", "_overflow");
			prom_hist_series(f, name, l, &snap->routes_ovf[fam]);
		}
	}
}

static void print_prometheus(FILE *f, const struct snapshot *snap,
			     const struct options *o)
{
	char name[96], help[256];
	size_t i;

	prom_family(f, "httpmon_info", "gauge",
		    "httpmon reader version and map layout (always 1)");
	fputs("httpmon_info{", f);
	prom_label(f, "version", HM_VERSION);
	fprintf(f, ",layout=\"%d\"} 1\n", HM_LAYOUT_VERSION);
	prom_counters(f, snap, VIEW_PORT, o->top);
	prom_port_hists(f, snap);
	prom_counters(f, snap, VIEW_CLIENT, o->top);
	prom_counters(f, snap, VIEW_ROUTE, o->top);
	prom_route_hists(f, snap);
	for (i = 0; i < HM_MON_MAX; i++) {
		snprintf(name, sizeof(name), "httpmon_monitor_%s_total", monitor_names[i]);
		snprintf(help, sizeof(help), "classifier self-metric: %s", monitor_descs[i]);
		prom_family(f, name, "counter", help);
		fprintf(f, "%s %llu\n", name, (unsigned long long)snap->monitor[i]);
	}
	prom_family(f, "httpmon_monitor_conns_live", "gauge",
		    "connections whose HTTP state the classifier holds now");
	fprintf(f, "httpmon_monitor_conns_live %llu\n",
		(unsigned long long)snap->conns_live);
}

/* ---- table ---- */

enum col {
	COL_IFACE, COL_IFINDEX, COL_METHOD, COL_ROUTE, COL_PORT, COL_IP, COL_REQS, COL_RESPS, COL_SUCC, COL_2XX, COL_3XX,
	COL_4XX, COL_5XX, COL_UNANS, COL_AVG, COL_MIN, COL_MAX, COL_P50,
	COL_P90, COL_P99, COL_P999, COL_BYTES_IN, COL_BYTES_OUT, COLS,
};

static const char *const col_names[COLS] = {
	"IFACE", "IFINDEX", "METHOD", "ROUTE", "PORT", "IP", "REQS", "RESPS", "SUCC%", "2XX", "3XX", "4XX", "5XX",
	"UNANS", "AVG_MS", "MIN_MS", "MAX_MS", "P50_MS", "P90_MS", "P99_MS",
	"P99.9_MS", "BYTES_IN", "BYTES_OUT",
};

/* --watch: the same slots, other headings, MIN/MAX unused. */
static const char *const rate_col_names[COLS] = {
	"IFACE", "IFINDEX", "METHOD", "ROUTE", "PORT", "IP", "REQ/S", "RESP/S", "SUCC%", "-", "-", "4XX/S", "ERR/S",
	"UNANS/S", "AVG_MS", "-", "-", "P50_MS", "P90_MS", "P99_MS",
	"P99.9_MS", "IN_B/S", "OUT_B/S",
};

#define CELL 72 /* a longer route is cut, with "...", in the table only */
typedef char cells_t[COLS][CELL];

static bool col_used(enum view v, bool interval, int c)
{
	if (c == COL_IFACE || c == COL_IFINDEX)
		return v == VIEW_IFACE;
	if (c == COL_METHOD || c == COL_ROUTE)
		return v == VIEW_ROUTE;
	if (c == COL_PORT)
		return v == VIEW_PORT || v == VIEW_PORT_CLIENT;
	if (c == COL_IP)
		return v == VIEW_CLIENT || v == VIEW_PORT_CLIENT;
	if (c >= COL_P50 && c <= COL_P999)
		return views[v].hist;
	if (interval)
		return c != COL_2XX && c != COL_3XX && c != COL_MIN && c != COL_MAX;
	return true;
}

static void fmt_ms(char *buf, bool valid, double ns)
{
	if (valid)
		snprintf(buf, CELL, "%.3f", ns / 1e6);
	else
		snprintf(buf, CELL, "-");
}

static void fmt_u64(char *buf, __u64 v)
{
	snprintf(buf, CELL, "%llu", (unsigned long long)v);
}

static void fmt_rate(char *buf, __u64 v, double seconds)
{
	double r = seconds > 0 ? v / seconds : 0;

	snprintf(buf, CELL, r >= 100 || r == 0 ? "%.0f" : "%.1f", r);
}

static void fmt_row(cells_t cells, enum view v, const struct row *r,
		    const char *label, const struct snapshot *snap, int family)
{
	const struct hm_stats *s = &r->s;
	const struct hm_latency *l = row_lat(r, family);
	double rate, ns = 0, secs = snap->seconds;
	bool iv = snap->interval;
	int q;

	if (label) {
		snprintf(cells[v == VIEW_CLIENT  ? COL_IP
			       : v == VIEW_ROUTE ? COL_ROUTE
			       : v == VIEW_IFACE ? COL_IFACE
						 : COL_PORT],
			 CELL, "%s", label);
	} else if (v == VIEW_IFACE) {
		char name[IF_NAMESIZE];

		snprintf(cells[COL_IFACE], CELL, "%s",
			 r->other ? "other" : iface_name(r->ifindex, name) ?: "?");
		if (r->other)
			snprintf(cells[COL_IFINDEX], CELL, "-");
		else
			snprintf(cells[COL_IFINDEX], CELL, "%u", r->ifindex);
	} else if (v == VIEW_ROUTE) {
		char route[ROUTE_TEXT];

		snprintf(cells[COL_METHOD], CELL, "%s", route_method(r));
		route_text(r->label, route, sizeof(route));
		if (strlen(route) >= CELL)
			snprintf(route + CELL - 4, 4, "...");
		snprintf(cells[COL_ROUTE], CELL, "%s", route);
	} else if (r->other) {
		snprintf(cells[COL_PORT], CELL, "other");
		snprintf(cells[COL_IP], CELL, "other");
	} else {
		snprintf(cells[COL_PORT], CELL, "%u", r->port);
		hm_addr_str(&r->ip, cells[COL_IP], CELL);
	}
	if (iv) {
		fmt_rate(cells[COL_REQS], s->requests, secs);
		fmt_rate(cells[COL_RESPS], s->responses, secs);
		fmt_rate(cells[COL_4XX], s->status[HM_STATUS_4XX], secs);
		fmt_rate(cells[COL_5XX], s->status[HM_STATUS_5XX], secs);
		fmt_rate(cells[COL_UNANS], s->unanswered, secs);
		fmt_rate(cells[COL_BYTES_IN], s->bytes_in, secs);
		fmt_rate(cells[COL_BYTES_OUT], s->bytes_out, secs);
	} else {
		fmt_u64(cells[COL_REQS], s->requests);
		fmt_u64(cells[COL_RESPS], s->responses);
		fmt_u64(cells[COL_4XX], s->status[HM_STATUS_4XX]);
		fmt_u64(cells[COL_5XX], s->status[HM_STATUS_5XX]);
		fmt_u64(cells[COL_UNANS], s->unanswered);
		fmt_u64(cells[COL_BYTES_IN], s->bytes_in);
		fmt_u64(cells[COL_BYTES_OUT], s->bytes_out);
	}
	if (success_rate(s, &rate))
		snprintf(cells[COL_SUCC], CELL, "%.1f", rate * 100);
	else
		snprintf(cells[COL_SUCC], CELL, "-");
	fmt_u64(cells[COL_2XX], s->status[HM_STATUS_2XX]);
	fmt_u64(cells[COL_3XX], s->status[HM_STATUS_3XX]);
	fmt_ms(cells[COL_AVG], lat_valid(l), lat_valid(l) ? lat_avg_ns(l) : 0);
	fmt_ms(cells[COL_MIN], lat_valid(l), l->min_ns);
	fmt_ms(cells[COL_MAX], lat_valid(l), l->max_ns);
	for (q = 0; q < HM_NQUANTILES; q++) {
		bool ok = percentile(r->hist[family], l, iv, hm_quantiles[q].per10k, &ns);

		fmt_ms(cells[COL_P50 + q], ok, ns);
	}
}

static void print_cells(FILE *f, enum view v, bool interval, cells_t cells,
			const int *width)
{
	const char *sep = "";
	int c;

	for (c = 0; c < COLS; c++) {
		if (!col_used(v, interval, c))
			continue;
		if (c <= COL_IP)
			fprintf(f, "%s%-*s", sep, width[c], cells[c]);
		else
			fprintf(f, "%s%*s", sep, width[c], cells[c]);
		sep = "  ";
	}
	fputc('\n', f);
}

static void widen(int *width, cells_t cells)
{
	int c, n;

	for (c = 0; c < COLS; c++) {
		n = strlen(cells[c]);
		if (n > width[c])
			width[c] = n;
	}
}

static void print_header(FILE *f, const struct snapshot *snap,
			 const struct options *o)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(when, sizeof(when), "@%lld", (long long)now);
	if (snap->interval)
		fprintf(f, "httpmon HTTP rates %s over %.1f s to %s (maps in %s)",
			views[o->view].title, snap->seconds, when, o->pin_dir);
	else
		fprintf(f, "httpmon HTTP stats %s at %s (maps in %s)",
			views[o->view].title, when, o->pin_dir);
	fprintf(f, "%s%s\n", o->family == HM_LAT_LAST ?
		", latency to the last response byte" : "",
		o->reset ? ", cleared" : "");
}

static void print_monitor(FILE *f, const struct snapshot *snap)
{
	bool all = hm_log_max >= HM_LOG_INFO;
	size_t i;

	fprintf(f, "monitor%s:\n", snap->interval ? " (this interval)" : "");
	fprintf(f, "  %-18s %12llu%s\n", "conns_live",
		(unsigned long long)snap->conns_live,
		all ? "  connections whose HTTP state is held now" : "");
	for (i = 0; i < HM_MON_MAX; i++) {
		if (!all && !snap->monitor[i])
			continue;
		fprintf(f, "  %-18s %12llu%s%s\n", monitor_names[i],
			(unsigned long long)snap->monitor[i], all ? "  " : "",
			all ? monitor_descs[i] : "");
	}
}

static int print_table(FILE *f, const struct snapshot *snap,
		       const struct options *o)
{
	const struct table *t = &snap->tables[o->view];
	const char *const *names = snap->interval ? rate_col_names : col_names;
	int width[COLS] = { 0 };
	struct row total;
	cells_t *cells;
	size_t i, n = 0, shown = shown_rows(t, o->top);

	print_header(f, snap, o);
	if (!t->len) {
		fprintf(f, snap->interval ? "no HTTP traffic in this interval\n"
					  : "no HTTP traffic seen yet\n");
		print_monitor(f, snap);
		return 0;
	}
	cells = calloc(shown + 2, sizeof(*cells));
	if (!cells) {
		hm_err("out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < COLS; i++)
		snprintf(cells[0][i], CELL, "%s", names[i]);
	widen(width, cells[0]);
	for (i = 0; i < t->len; i++) {
		if (!row_shown(t, i, o->top))
			continue;
		fmt_row(cells[++n], o->view, &t->rows[i], NULL, snap, o->family);
		widen(width, cells[n]);
	}
	total_row(&total, snap, o->view);
	fmt_row(cells[++n], o->view, &total, "total", snap, o->family);
	widen(width, cells[n]);

	for (i = 0; i <= n; i++)
		print_cells(f, o->view, snap->interval, cells[i], width);
	if (shown < t->len)
		fprintf(f, "(%zu of %zu rows shown; the total counts all)\n",
			shown, t->len);
	print_monitor(f, snap);
	free(cells);
	return 0;
}

/* ---- --hist: latency distributions as bar charts ---- */

#define HIST_ROWS_DEFAULT 4 /* --hist rows per power of two without --buckets */

/* --hist KEY: a port number, or a route as hm-stat prints it, "[METHOD ]LABEL". */
static bool hist_key_matches(const char *key, enum view v, const struct row *r)
{
	const char *method = route_method(r), *space;
	char buf[ROUTE_TEXT];

	if (!key)
		return true;
	if (v == VIEW_PORT)
		return !r->other && strtoul(key, NULL, 10) == r->port;
	route_text(r->label, buf, sizeof(buf));
	space = strchr(key, ' ');
	if (!space)
		return !strcmp(key, buf);
	return strlen(method) == (size_t)(space - key) &&
	       !strncmp(key, method, space - key) && !strcmp(space + 1, buf);
}

/* One chart: title, bars, percentiles (bounded by l when it holds the same samples). */
static void hist_chart(FILE *f, const char *title, const struct hm_hist *h,
		       const struct hm_latency *l, unsigned int rows)
{
	struct hm_bounds b = { 0 };
	__u64 n = hm_hist_total(h);

	if (l && l->count && l->count == n)
		b = (struct hm_bounds){ true, l->min_ns, l->max_ns };
	fprintf(f, "\n%s: %llu response%s", title, (unsigned long long)n, n == 1 ? "" : "s");
	if (n)
		fprintf(f, ", avg %.3f ms", (double)h->sum_ns / (double)n / 1e6);
	if (b.valid)
		fprintf(f, ", min %.3f ms, max %.3f ms", b.min_ns / 1e6, b.max_ns / 1e6);
	fputc('\n', f);
	hm_histview_print(f, h, &b, rows);
}

/*
 * hm-stat --hist: the distribution of every response, or with --by port or
 * route one chart per port or route that has a histogram of its own (in the
 * --sort order, --top N of them), then the shared one of those that have none.
 */
static int print_hist_charts(FILE *f, const struct snapshot *snap, const struct options *o)
{
	const bool port = o->view == VIEW_PORT;
	const struct table *t = &snap->tables[o->view];
	const struct hm_hist *shared;
	char title[ROUTE_TEXT + 64], buf[ROUTE_TEXT], when[64];
	time_t now = time(NULL);
	size_t i, shown = 0, matched = 0;
	struct row total;
	struct tm tm;

	if (!localtime_r(&now, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(when, sizeof(when), "@%lld", (long long)now);
	fprintf(f, "httpmon latency to the %s response byte%s at %s (maps in %s)%s\n",
		o->family == HM_LAT_LAST ? "last" : "first",
		port ? " by server port" : o->view == VIEW_ROUTE ? " by route" : "", when,
		o->pin_dir, o->reset ? ", cleared" : "");
	if (!port && o->view != VIEW_ROUTE) {
		total_row(&total, snap, VIEW_PORT);
		hist_chart(f, "every response", &snap->total[o->family],
			   row_lat(&total, o->family), o->hist_rows);
		return 0;
	}
	for (i = 0; i < t->len && (!o->top || shown < o->top); i++) {
		const struct row *r = &t->rows[i];

		if (r->other || !hist_key_matches(o->hist_key, o->view, r))
			continue;
		matched++;
		route_text(r->label, buf, sizeof(buf));
		if (port)
			snprintf(title, sizeof(title), "port %u", r->port);
		else
			snprintf(title, sizeof(title), "route %s%s%s", route_method(r),
				 *route_method(r) ? " " : "", buf);
		if (!r->hist[o->family]) {
			if (o->hist_key)
				fprintf(f, "\n%s: no histogram of its own (beyond the first %d)\n",
					title, port ? HM_HIST_PORTS : HM_HIST_ROUTES);
			continue;
		}
		hist_chart(f, title, r->hist[o->family], row_lat(r, o->family), o->hist_rows);
		shown++;
	}
	shared = port ? &snap->ports_ovf[o->family] : &snap->routes_ovf[o->family];
	if (!o->hist_key && hm_hist_total(shared)) {
		snprintf(title, sizeof(title), "%s beyond the first %d (one shared histogram)",
			 port ? "ports" : "routes", port ? HM_HIST_PORTS : HM_HIST_ROUTES);
		hist_chart(f, title, shared, NULL, o->hist_rows);
	} else if (!shown && !o->hist_key) {
		fprintf(f, "no latency samples yet\n");
	} else if (!matched && o->hist_key) {
		fprintf(f, "\n%s %s: no traffic seen\n", port ? "port" : "route", o->hist_key);
	}
	return 0;
}

static int print_snapshot(FILE *f, struct snapshot *snap, const struct options *o)
{
	sort_tables(snap, o);
	switch (o->format) {
	case FMT_JSON:
		print_json(f, snap, o);
		return 0;
	case FMT_CSV:
		print_csv(f, snap, o);
		return 0;
	case FMT_PROMETHEUS:
		print_prometheus(f, snap, o);
		return 0;
	default:
		return o->hist ? print_hist_charts(f, snap, o) : print_table(f, snap, o);
	}
}

/* ---- output ---- */

/* --output: a temporary file next to the target, renamed over it when complete. */
struct output {
	FILE *f;
	char *tmp;   /* NULL: stdout */
	const char *path;
};

static int output_open(struct output *out, const char *path)
{
	char *copy, *dir, *base;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	if (!path) {
		out->f = stdout;
		return 0;
	}
	out->path = path;
	copy = strdup(path);
	base = strdup(path);
	if (!copy || !base) {
		free(copy);
		free(base);
		hm_err("out of memory");
		return -ENOMEM;
	}
	dir = dirname(copy);
	/* A dot name: a collector that reads *.prom never picks it up. */
	if (asprintf(&out->tmp, "%s/.%s.XXXXXX", dir, basename(base)) < 0)
		out->tmp = NULL;
	free(copy);
	free(base);
	if (!out->tmp) {
		hm_err("out of memory");
		return -ENOMEM;
	}
	fd = mkstemp(out->tmp);
	if (fd < 0) {
		ret = -errno;
		hm_err("cannot create a temporary file for %s: %s", path,
		       strerror(-ret));
		goto fail;
	}
	if (fchmod(fd, 0644)) {
		ret = -errno;
		hm_err("cannot set the mode of %s: %s", out->tmp, strerror(-ret));
		close(fd);
		unlink(out->tmp);
		goto fail;
	}
	out->f = fdopen(fd, "w");
	if (!out->f) {
		ret = -errno;
		hm_err("cannot write %s: %s", out->tmp, strerror(-ret));
		close(fd);
		unlink(out->tmp);
		goto fail;
	}
	return 0;
fail:
	free(out->tmp);
	out->tmp = NULL;
	return ret;
}

/* Completes the output (ok) or throws the temporary file away. */
static int output_close(struct output *out, bool ok)
{
	int ret = 0, dfd;
	char *copy;

	if (!out->tmp) {
		if (ok && (fflush(stdout) || ferror(stdout))) {
			hm_err("cannot write output: %s", strerror(errno));
			return -EIO;
		}
		return 0;
	}
	if (ok && (fflush(out->f) || ferror(out->f) || fsync(fileno(out->f)))) {
		ret = -errno ? -errno : -EIO;
		hm_err("cannot write %s: %s", out->tmp, strerror(-ret));
	}
	if (fclose(out->f) && ok && !ret) {
		ret = -errno;
		hm_err("cannot write %s: %s", out->tmp, strerror(-ret));
	}
	if (ok && !ret && rename(out->tmp, out->path)) {
		ret = -errno;
		hm_err("cannot rename %s to %s: %s", out->tmp, out->path,
		       strerror(-ret));
	}
	if (!ok || ret) {
		unlink(out->tmp);
	} else {
		/* The rename itself survives a crash once the directory is synced. */
		copy = strdup(out->path);
		dfd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY) : -1;
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(copy);
	}
	free(out->tmp);
	out->tmp = NULL;
	return ret;
}

/* ---- --watch ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Sleeps until the monotonic time deadline or a stop signal.  SIGINT and
 * SIGTERM are blocked except inside ppoll(), so a signal is never lost
 * between the check and the wait, and never cuts an output block in half.
 */
static void wait_until(double deadline, const sigset_t *waitmask)
{
	struct timespec ts;
	double left;

	while (!stop_signal) {
		left = deadline - mono_seconds();
		if (left <= 0)
			return;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		ppoll(NULL, 0, &ts, waitmask);
	}
}

/* Seconds a reload may take to pin every map again before --watch gives up. */
#define WATCH_RELOAD_GRACE 3.0

/*
 * The pins changed or vanished under --watch.  A reload (hm-load after a
 * detach) pins the maps one by one, so while the pin directory exists it gets
 * WATCH_RELOAD_GRACE seconds to finish before the set counts as gone.  A
 * directory that is gone (hm-load --detach --all) is final at once.
 * 0: the maps are open again.
 */
static int watch_reopen(struct hm_maps *maps, const char *dir, char *err, size_t errlen)
{
	double until = mono_seconds() + WATCH_RELOAD_GRACE;
	struct stat st;
	int ret;

	for (;;) {
		hm_maps_close(maps);
		ret = hm_maps_open(dir, false, maps, err, errlen);
		if (!ret || ret != -ENOENT || mono_seconds() >= until || stop_signal)
			return ret;
		if (stat(dir, &st) && errno == ENOENT)
			return ret;
		usleep(100 * 1000);
	}
}

static int watch(struct hm_maps *maps, const struct options *o)
{
	struct snapshot prev, cur, delta;
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t block, waitmask;
	bool tty = isatty(STDOUT_FILENO);
	double t_prev, t_cur, deadline;
	unsigned long shown = 0;
	char err[512];
	int ret;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = read_snapshot(maps, NULL, &prev);
	if (ret)
		return ret;
	t_prev = deadline = mono_seconds();
	while (!o->count || shown < o->count) {
		deadline += o->watch;
		wait_until(deadline, &waitmask);
		if (stop_signal)
			break;
		ret = hm_maps_check_pins(o->pin_dir, maps);
		if (ret) {
			/* Detached, perhaps loaded again: new maps, new counters. */
			ret = watch_reopen(maps, o->pin_dir, err, sizeof(err));
			if (ret == -ENOENT && !strstr(err, "incomplete")) {
				hm_err("the maps in %s were removed (monitor detached)",
				       o->pin_dir);
				break;
			}
			if (ret) {
				hm_err("%s", err);
				break;
			}
			hm_warn("the maps in %s were replaced (monitor reloaded): "
				"rates start again", o->pin_dir);
			snapshot_free(&prev);
			ret = read_snapshot(maps, NULL, &prev);
			if (ret)
				break;
			t_prev = deadline = mono_seconds();
			continue;
		}
		ret = read_snapshot(maps, NULL, &cur);
		if (ret)
			break;
		t_cur = mono_seconds();
		ret = snapshot_delta(&delta, &cur, &prev, t_cur - t_prev);
		snapshot_free(&prev);
		prev = cur;
		t_prev = t_cur;
		if (ret)
			break;
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (shown)
			fputc('\n', stdout);
		ret = print_snapshot(stdout, &delta, o);
		snapshot_free(&delta);
		if (!ret && (fflush(stdout) || ferror(stdout))) {
			hm_err("cannot write output: %s", strerror(errno));
			ret = -EIO;
		}
		if (ret)
			break;
		shown++;
	}
	snapshot_free(&prev);
	if (stop_signal)
		hm_dbg("stopped by signal %d", (int)stop_signal);
	return ret;
}

/* ---- main ---- */

/* The options --hist, --buckets and --bucket-range go with, once all are parsed. */
static int check_hist_args(struct options *o, bool buckets_set, bool range_set)
{
	enum view v;

	if (buckets_set && !o->hist && o->format != FMT_PROMETHEUS)
		return hm_usage_error("--buckets shapes --format prometheus and --hist");
	if (range_set && o->format != FMT_PROMETHEUS)
		return hm_usage_error("--bucket-range shapes --format prometheus");
	if (!buckets_set)
		o->hist_rows = HIST_ROWS_DEFAULT;
	if (!o->hist)
		return 0;
	if (o->watch || o->format != FMT_TABLE)
		return hm_usage_error("--hist prints charts; it takes no %s",
				   o->watch ? "--watch" : "--format");
	if (!o->hist_key) {
		if (o->view_set && o->view != VIEW_PORT && o->view != VIEW_ROUTE)
			return hm_usage_error("--hist: only ports and routes have "
					   "histograms (--by port, --by route, or no "
					   "--by for every response)");
		return 0;
	}
	v = strspn(o->hist_key, "0123456789") == strlen(o->hist_key) ? VIEW_PORT : VIEW_ROUTE;
	if (v == VIEW_PORT && !hm_parse_ulong(o->hist_key, 1, 65535, &(unsigned long){ 0 }))
		return hm_usage_error("bad --hist port '%s' (1 to 65535)", o->hist_key);
	if (!*o->hist_key)
		return hm_usage_error("--hist= needs a port or a route");
	if (o->view_set && o->view != v)
		return hm_usage_error("--hist %s names a %s; it takes no --by %s", o->hist_key,
				   v == VIEW_PORT ? "port" : "route", views[o->view].name);
	o->view = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_BY = 256, OPT_JSON, OPT_SORT, OPT_TOP, OPT_PIN, OPT_VERSION,
		OPT_FORMAT, OPT_OUTPUT, OPT_LATENCY, OPT_RESET, OPT_WATCH,
		OPT_COUNT, OPT_HIST, OPT_BUCKETS, OPT_BUCKET_RANGE,
	};
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, OPT_BY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "latency", required_argument, NULL, OPT_LATENCY },
		{ "reset", no_argument, NULL, OPT_RESET },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "hist", optional_argument, NULL, OPT_HIST },
		{ "buckets", required_argument, NULL, OPT_BUCKETS },
		{ "bucket-range", required_argument, NULL, OPT_BUCKET_RANGE },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "pin-path", required_argument, NULL, OPT_PIN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	bool json = false, format_set = false, count_set = false;
	bool buckets_set = false, range_set = false;
	unsigned long n;
	int opt, i, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_BY:
			for (i = 0; i < VIEWS; i++)
				if (!strcmp(optarg, views[i].name))
					break;
			if (i == VIEWS && !strcmp(optarg, "client,port"))
				i = VIEW_PORT_CLIENT;
			if (i == VIEWS)
				return hm_usage_error("unknown --by view '%s' "
						   "(client, port, port,client, route, iface)",
						   optarg);
			o->view = i;
			o->view_set = true;
			break;
		case OPT_HIST:
			o->hist = true;
			/* "--hist 8080" as well as "--hist=8080": hm-stat has no operands */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			o->hist_key = optarg;
			break;
		case OPT_BUCKETS:
			if (!hm_parse_ulong(optarg, 1, HM_HIST_SUB, &n) || HM_HIST_SUB % n)
				return hm_usage_error("bad --buckets '%s' (rows or bounds per "
						   "power of two: 1, 2, 4, 8 or 16)", optarg);
			o->export.per_pow2 = o->hist_rows = n;
			buckets_set = true;
			break;
		case OPT_BUCKET_RANGE:
			if (!hm_export_parse_range(optarg, &o->export))
				return hm_usage_error("bad --bucket-range '%s' (LOW:HIGH in "
						   "seconds, LOW < HIGH, within 0.000001024 "
						   "and 68.719476736)", optarg);
			range_set = true;
			break;
		case OPT_SORT:
			for (i = 0; i < SORT_FIELDS; i++)
				if (!strcmp(optarg, sort_names[i]))
					break;
			if (i == SORT_FIELDS)
				return hm_usage_error("unknown --sort field '%s'",
						   optarg);
			o->sort = i;
			break;
		case OPT_TOP:
			if (!hm_parse_ulong(optarg, 1, 100000000, &n))
				return hm_usage_error("bad --top count '%s' "
						   "(a whole number from 1)",
						   optarg);
			o->top = n;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_FORMAT:
			for (i = 0; i < FORMATS; i++)
				if (!strcmp(optarg, format_names[i]))
					break;
			if (i == FORMATS)
				return hm_usage_error("unknown --format '%s' (table, "
						   "json, csv, prometheus)", optarg);
			o->format = i;
			format_set = true;
			break;
		case OPT_OUTPUT:
			if (!*optarg)
				return hm_usage_error("--output needs a file name");
			o->output = optarg;
			break;
		case OPT_LATENCY:
			if (!strcmp(optarg, "first"))
				o->family = HM_LAT_FIRST;
			else if (!strcmp(optarg, "last"))
				o->family = HM_LAT_LAST;
			else
				return hm_usage_error("unknown --latency '%s' "
						   "(first, last)", optarg);
			break;
		case OPT_RESET:
			o->reset = true;
			break;
		case OPT_WATCH:
			if (!hm_parse_ulong(optarg, 1, WATCH_MAX_SECONDS, &n))
				return hm_usage_error("bad --watch interval '%s' "
						   "(whole seconds, 1 to %d)",
						   optarg, WATCH_MAX_SECONDS);
			o->watch = n;
			break;
		case OPT_COUNT:
			if (!hm_parse_ulong(optarg, 1, 100000000, &n))
				return hm_usage_error("bad --count '%s' "
						   "(a whole number from 1)",
						   optarg);
			o->count = n;
			count_set = true;
			break;
		case OPT_PIN:
			o->pin_dir = optarg;
			break;
		case 'v':
			if (hm_log_max < HM_LOG_DEBUG)
				hm_log_max++;
			break;
		case 'h':
			usage(stdout);
			exit(HM_EXIT_OK);
		case OPT_VERSION:
			printf("hm-stat %s (map layout %d)\n", HM_VERSION,
			       HM_LAYOUT_VERSION);
			exit(HM_EXIT_OK);
		case ':':
		default:
			return hm_getopt_error(opt, argv, longopts);
		}
	}
	if (optind < argc)
		return hm_usage_error("unexpected argument '%s'", argv[optind]);
	if (json) {
		if (format_set && o->format != FMT_JSON)
			return hm_usage_error("--json and --format %s contradict",
					   format_names[o->format]);
		o->format = FMT_JSON;
	}
	if (count_set && !o->watch)
		return hm_usage_error("--count needs --watch");
	if (o->watch && o->format != FMT_TABLE)
		return hm_usage_error("--watch shows a table; it takes no --format %s",
				   format_names[o->format]);
	if (o->watch && o->reset)
		return hm_usage_error("--watch and --reset do not go together "
				   "(--watch computes rates without clearing)");
	if (o->watch && o->output)
		return hm_usage_error("--watch writes to the terminal; it takes "
				   "no --output");
	ret = check_hist_args(o, buckets_set, range_set);
	if (ret)
		return ret;
	o->pin_dir = hm_pin_dir(o->pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .view = VIEW_CLIENT, .sort = SORT_REQUESTS,
			     .family = HM_LAT_FIRST, .export = HM_EXPORT_DEFAULT };
	struct snapshot snap;
	struct output out;
	struct hm_maps maps;
	char err[512];
	int ret;

	hm_prog_name = "hm-stat";
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	links_pin_dir = o.pin_dir;
	prom_export = o.export;
	hm_libbpf_logging();

	ret = hm_maps_open(o.pin_dir, o.reset, &maps, err, sizeof(err));
	if (ret) {
		hm_err("%s", err);
		return hm_exit_code(ret);
	}
	if (o.watch) {
		ret = watch(&maps, &o);
		hm_maps_close(&maps);
		return ret ? hm_exit_code(ret) : HM_EXIT_OK;
	}
	/* The output file first: a bad --output must not cost a --reset its data. */
	if (output_open(&out, o.output)) {
		hm_maps_close(&maps);
		return HM_EXIT_FAIL;
	}
	ret = read_snapshot(&maps, o.reset ? o.pin_dir : NULL, &snap);
	hm_maps_close(&maps);
	if (!ret) {
		ret = print_snapshot(out.f, &snap, &o);
		snapshot_free(&snap);
	}
	if (output_close(&out, !ret))
		return HM_EXIT_FAIL;
	return ret ? hm_exit_code(ret) : HM_EXIT_OK;
}
