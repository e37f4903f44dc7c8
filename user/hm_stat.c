// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm-stat: print the HTTP statistics in httpmon's pinned maps. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hm_common.h"
#include "hm_pin.h"

#define HM_JSON_SCHEMA 1

enum view { VIEW_CLIENT, VIEW_PORT, VIEW_PORT_CLIENT, VIEWS };

static const struct {
	const char *name;   /* --by value */
	const char *json;   /* JSON array name */
	const char *title;  /* header line */
	int ovf_row;        /* row in hm_overflow */
} views[VIEWS] = {
	[VIEW_CLIENT] = { "client", "clients", "by client", HM_OVF_CLIENTS },
	[VIEW_PORT] = { "port", "ports", "by server port", HM_OVF_PORTS },
	[VIEW_PORT_CLIENT] = { "port,client", "port_clients",
			       "by server port and client",
			       HM_OVF_PORT_CLIENTS },
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

struct row {
	struct hm_addr ip;
	__u16 port;
	bool other; /* the overflow row: keys that did not fit in the map */
	struct hm_stats s;
};

struct table {
	struct row *rows;
	size_t len;
	size_t cap;
};

struct snapshot {
	struct table tables[VIEWS];
	__u64 monitor[HM_MON_MAX];
	__u64 conns_live;
};

struct options {
	enum view view;
	enum sort_field sort;
	size_t top; /* 0: all */
	bool json;
	const char *pin_dir;
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
"Usage: hm-stat [--by client|port|port,client] [--sort FIELD] [--top N]\n"
"               [--json] [--pin-path DIR] [-v]\n"
"       hm-stat --help | --version\n"
"\n"
"Reads the maps that the httpmon TC classifier pins in bpffs, sums their\n"
"per-CPU copies and prints one row per client IP, per server port, or per\n"
"server port and client. Nothing is changed (hm-reset clears the counters).\n"
"Read access to the pins is enough; root is not needed.\n"
"\n"
"Options:\n"
"  --by VIEW       rows per client (default), port, or port,client\n"
"  --sort FIELD    order of the rows: requests (default), responses, success,\n"
"                  4xx, 5xx, unanswered, avg, min, max, bytes_in, bytes_out\n"
"                  (largest first), ip or port (ascending)\n"
"  --top N         print only the first N rows of each view\n"
"  --json          print all three views as one JSON document (schema %d)\n"
"  --pin-path DIR  read the maps pinned in DIR instead of $HTTPMON_PIN_PATH\n"
"                  or, when that is unset, " HM_PIN_DIR_DEFAULT "\n"
"  -v, --verbose   list every monitor counter with its meaning; twice: also\n"
"                  debug messages\n"
"  -h, --help      show this help\n"
"  --version       show the version and the map layout it reads\n"
"\n"
"Columns:\n"
"  IP, PORT        client address, server port. The row \"other\" holds the\n"
"                  traffic of keys that did not fit in a full map, so totals\n"
"                  stay exact; it is listed last and not cut by --top\n"
"  REQS            request lines seen\n"
"  RESPS           final responses (1xx interim responses are not counted)\n"
"  SUCC%%           responses with a status below 500, percent of RESPS\n"
"  2XX 3XX 4XX 5XX responses by status class\n"
"  UNANS           requests whose connection ended without a response\n"
"  AVG_MS MIN_MS MAX_MS\n"
"                  latency from the first request byte to the first response\n"
"                  byte as seen on the interface, in milliseconds (\"-\": no\n"
"                  sample)\n"
"  BYTES_IN        HTTP payload bytes from client to server\n"
"  BYTES_OUT       HTTP payload bytes from server to client\n"
"  The total row sums every row, also those cut by --top. The monitor\n"
"  section lists the classifier's self-metrics that are not zero, and\n"
"  conns_live, the connections whose HTTP state it holds now.\n"
"\n"
"Exit status:\n"
"  %d  success, also when no traffic was seen yet\n"
"  %d  reading the maps failed\n"
"  %d  bad command line\n"
"  %d  no httpmon maps in the pin directory (monitor not loaded)\n"
"  %d  the maps have another layout version (use tools of the same release)\n"
"  %d  permission denied on the pins\n"
"\n"
"Environment:\n"
"  HTTPMON_PIN_PATH  pin directory when --pin-path is not given\n"
"\n"
"Examples:\n"
"  hm-stat                    per-client table\n"
"  hm-stat --by port          per-port table\n"
"  hm-stat --by port,client --sort 5xx --top 10\n"
"                             the ten port/client pairs with most 5xx\n"
"  hm-stat --json | jq .      everything as JSON\n"
"  */5 * * * * root hm-stat --top 50 >>/var/log/httpmon.log 2>&1\n"
"                             crontab line: a table every five minutes\n",
		HM_JSON_SCHEMA, HM_EXIT_OK, HM_EXIT_FAIL, HM_EXIT_USAGE,
		HM_EXIT_NOMAPS, HM_EXIT_LAYOUT, HM_EXIT_PERM);
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

union agg_key {
	struct hm_client_key client;
	struct hm_port_key port;
	struct hm_port_client_key port_client;
};

static void row_set_key(struct row *r, enum view v, const union agg_key *k)
{
	switch (v) {
	case VIEW_CLIENT:
		r->ip = k->client.ip;
		break;
	case VIEW_PORT:
		r->port = k->port.port;
		break;
	default:
		r->ip = k->port_client.ip;
		r->port = k->port_client.port;
		break;
	}
}

static int read_hash(int fd, const char *name, enum view v, int ncpus,
		     struct table *t)
{
	union agg_key key, next;
	struct bpf_map_info info;
	struct hm_stats *percpu;
	void *prev = NULL;
	__u32 seen = 0;
	struct row *r;
	int ret;

	ret = map_info(fd, &info);
	if (ret)
		goto err;
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	/* A key deleted under us restarts the walk: the bound stops a loop. */
	while (seen < info.max_entries &&
	       bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, percpu)) {
			if (errno == ENOENT)
				continue;
			ret = -errno;
			break;
		}
		seen++;
		r = table_add(t);
		if (!r) {
			ret = -ENOMEM;
			break;
		}
		row_set_key(r, v, &key);
		hm_stats_sum(&r->s, percpu, ncpus);
	}
	if (!ret && seen < info.max_entries && errno != ENOENT)
		ret = -errno;
	free(percpu);
	if (!ret)
		return 0;
err:
	hm_err("cannot read map %s: %s", name, strerror(-ret));
	return ret;
}

static bool stats_is_zero(const struct hm_stats *s)
{
	static const struct hm_stats zero;

	return memcmp(s, &zero, sizeof(zero)) == 0;
}

static int read_overflow(int fd, int ncpus, struct snapshot *snap)
{
	struct hm_stats *percpu, sum;
	struct row *r;
	int v, ret = 0;
	__u32 key;

	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (v = 0; v < VIEWS; v++) {
		key = views[v].ovf_row;
		if (bpf_map_lookup_elem(fd, &key, percpu)) {
			ret = -errno;
			hm_err("cannot read map %s: %s", HM_MAP_OVERFLOW,
			       strerror(-ret));
			break;
		}
		hm_stats_sum(&sum, percpu, ncpus);
		if (stats_is_zero(&sum))
			continue;
		r = table_add(&snap->tables[v]);
		if (!r) {
			ret = -ENOMEM;
			break;
		}
		r->other = true;
		r->s = sum;
	}
	free(percpu);
	return ret;
}

static int read_monitor(int fd, int ncpus, struct snapshot *snap)
{
	__u64 *percpu;
	__u32 key;
	int cpu, ret = 0;

	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (key = 0; key < HM_MON_MAX; key++) {
		if (bpf_map_lookup_elem(fd, &key, percpu)) {
			ret = -errno;
			hm_err("cannot read map %s: %s", HM_MAP_MONITOR,
			       strerror(-ret));
			break;
		}
		for (cpu = 0; cpu < ncpus; cpu++)
			snap->monitor[key] += percpu[cpu];
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

static int read_snapshot(struct hm_maps *maps, struct snapshot *snap)
{
	int ncpus, ret;

	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		hm_err("cannot count the possible CPUs: %s", strerror(-ncpus));
		return ncpus ? ncpus : -EINVAL;
	}
	ret = read_hash(maps->clients, HM_MAP_CLIENTS, VIEW_CLIENT, ncpus,
			&snap->tables[VIEW_CLIENT]);
	if (!ret)
		ret = read_hash(maps->ports, HM_MAP_PORTS, VIEW_PORT, ncpus,
				&snap->tables[VIEW_PORT]);
	if (!ret)
		ret = read_hash(maps->port_clients, HM_MAP_PORT_CLIENTS,
				VIEW_PORT_CLIENT, ncpus,
				&snap->tables[VIEW_PORT_CLIENT]);
	if (!ret)
		ret = read_overflow(maps->overflow, ncpus, snap);
	if (!ret)
		ret = read_monitor(maps->monitor, ncpus, snap);
	if (!ret)
		ret = count_keys(maps->conns, HM_MAP_CONNS, &snap->conns_live);
	if (ret == -ENOMEM)
		hm_err("out of memory");
	return ret;
}

static bool lat_valid(const struct hm_latency *l)
{
	return l->count > 0;
}

static double lat_avg_ns(const struct hm_latency *l)
{
	return (double)l->sum_ns / (double)l->count;
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

/* Larger is better; rows with no value sort after every row with one. */
static double sort_value(const struct row *r)
{
	const struct hm_stats *s = &r->s;
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
		return lat_valid(&s->lat) ? lat_avg_ns(&s->lat) : -1;
	case SORT_MIN:
		return lat_valid(&s->lat) ? (double)s->lat.min_ns : -1;
	case SORT_MAX:
		return lat_valid(&s->lat) ? (double)s->lat.max_ns : -1;
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
		return c ? c : cmp_port(a, b);
	}
	if (sort_by != SORT_PORT) {
		va = sort_value(a);
		vb = sort_value(b);
		if (va != vb)
			return va > vb ? -1 : 1;
	}
	c = cmp_port(a, b);
	return c ? c : cmp_ip(a, b);
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

static void stats_add(struct hm_stats *sum, const struct hm_stats *s)
{
	struct hm_stats pair[2] = { *sum, *s };

	hm_stats_sum(sum, pair, 2);
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

static void json_latency(FILE *f, const char *name, const struct hm_latency *l)
{
	if (!lat_valid(l)) {
		fprintf(f, ", \"%s\": {\"avg\": null, \"min\": null, \"max\": null}",
			name);
		return;
	}
	fprintf(f, ", \"%s\": {\"avg\": %.1f, \"min\": %.1f, \"max\": %.1f}",
		name, lat_avg_ns(l) / 1e3, l->min_ns / 1e3, l->max_ns / 1e3);
}

static void json_row(FILE *f, enum view v, const struct row *r)
{
	const struct hm_stats *s = &r->s;
	char ip[INET6_ADDRSTRLEN];
	double rate = 0;
	bool valid;

	fputc('{', f);
	if (v != VIEW_CLIENT) {
		if (r->other)
			fprintf(f, "\"port\": \"other\"");
		else
			fprintf(f, "\"port\": %u", r->port);
	}
	if (v != VIEW_PORT) {
		fprintf(f, "%s\"ip\": ", v == VIEW_CLIENT ? "" : ", ");
		json_str(f, r->other ? "other" :
			 hm_addr_str(&r->ip, ip, sizeof(ip)));
	}
	fprintf(f, ", \"requests\": %llu, \"responses\": %llu, "
		   "\"unanswered\": %llu",
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
	json_latency(f, "latency_us", &s->lat);
	json_latency(f, "latency_ok_us", &s->lat_ok);
	json_latency(f, "latency_fail_us", &s->lat_fail);
	fprintf(f, ", \"bytes_in\": %llu, \"bytes_out\": %llu}",
		(unsigned long long)s->bytes_in,
		(unsigned long long)s->bytes_out);
}

static void print_json(FILE *f, const struct snapshot *snap,
		       const struct options *o)
{
	const struct table *t;
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
	fprintf(f, ",\n \"monitor\": {");
	for (i = 0; i < HM_MON_MAX; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_str(f, monitor_names[i]);
		fprintf(f, ": %llu", (unsigned long long)snap->monitor[i]);
	}
	fprintf(f, ", \"conns_live\": %llu}}\n",
		(unsigned long long)snap->conns_live);
}

/* ---- table ---- */

enum col {
	COL_PORT, COL_IP, COL_REQS, COL_RESPS, COL_SUCC, COL_2XX, COL_3XX,
	COL_4XX, COL_5XX, COL_UNANS, COL_AVG, COL_MIN, COL_MAX, COL_BYTES_IN,
	COL_BYTES_OUT, COLS,
};

static const char *const col_names[COLS] = {
	"PORT", "IP", "REQS", "RESPS", "SUCC%", "2XX", "3XX", "4XX", "5XX",
	"UNANS", "AVG_MS", "MIN_MS", "MAX_MS", "BYTES_IN", "BYTES_OUT",
};

#define CELL 48
typedef char cells_t[COLS][CELL];

static bool col_used(enum view v, int c)
{
	if (c == COL_PORT)
		return v != VIEW_CLIENT;
	if (c == COL_IP)
		return v != VIEW_PORT;
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

static void fmt_row(cells_t cells, enum view v, const struct row *r,
		    const char *label)
{
	const struct hm_stats *s = &r->s;
	const struct hm_latency *l = &s->lat;
	double rate;

	if (label) {
		snprintf(cells[v == VIEW_CLIENT ? COL_IP : COL_PORT], CELL,
			 "%s", label);
	} else if (r->other) {
		snprintf(cells[COL_PORT], CELL, "other");
		snprintf(cells[COL_IP], CELL, "other");
	} else {
		snprintf(cells[COL_PORT], CELL, "%u", r->port);
		hm_addr_str(&r->ip, cells[COL_IP], CELL);
	}
	fmt_u64(cells[COL_REQS], s->requests);
	fmt_u64(cells[COL_RESPS], s->responses);
	if (success_rate(s, &rate))
		snprintf(cells[COL_SUCC], CELL, "%.1f", rate * 100);
	else
		snprintf(cells[COL_SUCC], CELL, "-");
	fmt_u64(cells[COL_2XX], s->status[HM_STATUS_2XX]);
	fmt_u64(cells[COL_3XX], s->status[HM_STATUS_3XX]);
	fmt_u64(cells[COL_4XX], s->status[HM_STATUS_4XX]);
	fmt_u64(cells[COL_5XX], s->status[HM_STATUS_5XX]);
	fmt_u64(cells[COL_UNANS], s->unanswered);
	fmt_ms(cells[COL_AVG], lat_valid(l), lat_valid(l) ? lat_avg_ns(l) : 0);
	fmt_ms(cells[COL_MIN], lat_valid(l), l->min_ns);
	fmt_ms(cells[COL_MAX], lat_valid(l), l->max_ns);
	fmt_u64(cells[COL_BYTES_IN], s->bytes_in);
	fmt_u64(cells[COL_BYTES_OUT], s->bytes_out);
}

static void print_cells(FILE *f, enum view v, cells_t cells, const int *width)
{
	const char *sep = "";
	int c;

	for (c = 0; c < COLS; c++) {
		if (!col_used(v, c))
			continue;
		if (c == COL_PORT || c == COL_IP)
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

static void print_header(FILE *f, const struct options *o)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(when, sizeof(when), "@%lld", (long long)now);
	fprintf(f, "httpmon HTTP stats %s at %s (maps in %s)\n",
		views[o->view].title, when, o->pin_dir);
}

static void print_monitor(FILE *f, const struct snapshot *snap)
{
	bool all = hm_log_max >= HM_LOG_INFO;
	size_t i;

	fprintf(f, "monitor:\n");
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

static int print_table(FILE *f, struct snapshot *snap, const struct options *o)
{
	const struct table *t = &snap->tables[o->view];
	int width[COLS] = { 0 };
	struct row total = { 0 };
	cells_t *cells;
	size_t i, n = 0, shown = shown_rows(t, o->top);

	print_header(f, o);
	if (!t->len) {
		fprintf(f, "no HTTP traffic seen yet\n");
		print_monitor(f, snap);
		return 0;
	}
	cells = calloc(shown + 2, sizeof(*cells));
	if (!cells) {
		hm_err("out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < COLS; i++)
		snprintf(cells[0][i], CELL, "%s", col_names[i]);
	widen(width, cells[0]);
	for (i = 0; i < t->len; i++) {
		stats_add(&total.s, &t->rows[i].s);
		if (!row_shown(t, i, o->top))
			continue;
		fmt_row(cells[++n], o->view, &t->rows[i], NULL);
		widen(width, cells[n]);
	}
	fmt_row(cells[++n], o->view, &total, "total");
	widen(width, cells[n]);

	for (i = 0; i <= n; i++)
		print_cells(f, o->view, cells[i], width);
	if (shown < t->len)
		fprintf(f, "(%zu of %zu rows shown; the total counts all)\n",
			shown, t->len);
	print_monitor(f, snap);
	free(cells);
	return 0;
}

/* ---- main ---- */

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_BY = 256, OPT_JSON, OPT_SORT, OPT_TOP, OPT_PIN, OPT_VERSION };
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, OPT_BY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "pin-path", required_argument, NULL, OPT_PIN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	unsigned long top;
	int opt, i;

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
						   "(client, port, port,client)",
						   optarg);
			o->view = i;
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
			if (!hm_parse_ulong(optarg, 1, 100000000, &top))
				return hm_usage_error("bad --top count '%s' "
						   "(a whole number from 1)",
						   optarg);
			o->top = top;
			break;
		case OPT_JSON:
			o->json = true;
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
			return hm_usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return hm_bad_option(argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hm_usage_error("unexpected argument '%s'", argv[optind]);
	o->pin_dir = hm_pin_dir(o->pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .view = VIEW_CLIENT, .sort = SORT_REQUESTS };
	struct snapshot snap = { 0 };
	struct hm_maps maps;
	char err[512];
	int ret, v;

	hm_prog_name = "hm-stat";
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	hm_libbpf_logging();

	ret = hm_maps_open(o.pin_dir, false, &maps, err, sizeof(err));
	if (ret) {
		hm_err("%s", err);
		return hm_exit_code(ret);
	}
	ret = read_snapshot(&maps, &snap);
	hm_maps_close(&maps);
	if (!ret) {
		sort_by = o.sort;
		for (v = 0; v < VIEWS; v++)
			qsort(snap.tables[v].rows, snap.tables[v].len,
			      sizeof(struct row), cmp_rows);
		if (o.json)
			print_json(stdout, &snap, &o);
		else
			ret = print_table(stdout, &snap, &o);
	}
	for (v = 0; v < VIEWS; v++)
		free(snap.tables[v].rows);
	if (!ret && (fflush(stdout) || ferror(stdout))) {
		hm_err("cannot write output: %s", strerror(errno));
		return HM_EXIT_FAIL;
	}
	return ret ? hm_exit_code(ret) : HM_EXIT_OK;
}
