// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* views.c - the views, the fields that name their rows, and the figures of a row. */
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hm_common.h"
#include "hm_mapio.h"
#include "hm_route.h"
#include "stat.h"

/* ---- rows by id: how an id and its name make a row's key fields ---- */

static void route_id_key(struct row *r, __u32 id, const void *name, const struct id_names *names)
{
	const struct hm_route_key *k = name;

	(void)names;
	r->route = id;
	r->hist_keyed = true;
	r->hist_key = id;
	r->other = id == HM_ROUTE_OTHER;
	if (id == HM_ROUTE_OTHER) {
		snprintf(r->label, sizeof(r->label), "_other");
	} else if (id == HM_ROUTE_UNKNOWN) {
		snprintf(r->label, sizeof(r->label), "_unknown");
	} else if (k) {
		r->method = k->method;
		memcpy(r->label, k->label, HM_ROUTE_LEN); /* NUL-padded, maybe full */
	} else {
		/* Its name was forgotten (hm-reset --routes) while requests were in flight. */
		snprintf(r->label, sizeof(r->label), "_id_%u", id);
	}
}

static void host_id_key(struct row *r, __u32 id, const void *name, const struct id_names *names)
{
	static const char *const fixed[HM_HOST_FIRST] = {
		[HM_HOST_OTHER] = "_other",
		[HM_HOST_UNKNOWN] = "_unknown",
		[HM_HOST_NONE] = "_none",
	};
	const struct hm_host_key *k = name;

	(void)names;
	r->host_id = id;
	r->hist_keyed = true;
	r->hist_key = id;
	r->other = id == HM_HOST_OTHER;
	if (id < HM_HOST_FIRST)
		snprintf(r->host, sizeof(r->host), "%s", fixed[id]);
	else if (k)
		memcpy(r->host, k->name, HM_HOST_LEN); /* NUL-padded, maybe full */
	else
		snprintf(r->host, sizeof(r->host), "_id_%u", id);
}

/* A pair's key fields are its host's and its route's; pair 0 holds the pairs beyond the bound. */
static void host_route_id_key(struct row *r, __u32 id, const void *name,
			      const struct id_names *names)
{
	const struct hm_host_route_key *k = name;

	if (id == HM_HOST_ROUTE_OTHER || !k) {
		snprintf(r->host, sizeof(r->host), id ? "_id_%u" : "_other", id);
		snprintf(r->label, sizeof(r->label), "%s", r->host);
		r->other = id == HM_HOST_ROUTE_OTHER;
		return;
	}
	host_id_key(r, k->host, id_name(names, VIEW_HOST, k->host), names);
	route_id_key(r, k->route, id_name(names, VIEW_ROUTE, k->route), names);
	r->other = false;
	r->hist_keyed = false; /* pairs have no histograms */
}

static const struct id_source route_ids = {
	.stats_fd = offsetof(struct hm_maps, routes),
	.names_fd = offsetof(struct hm_maps, route_ids),
	.stats_map = HM_MAP_ROUTES,
	.names_map = HM_MAP_ROUTE_IDS,
	.capacity = HM_MAX_ROUTES,
	.name_size = sizeof(struct hm_route_key),
	.key = route_id_key,
};

static const struct id_source host_ids = {
	.stats_fd = offsetof(struct hm_maps, hosts),
	.names_fd = offsetof(struct hm_maps, host_ids),
	.stats_map = HM_MAP_HOSTS,
	.names_map = HM_MAP_HOST_IDS,
	.capacity = HM_MAX_HOSTS,
	.name_size = sizeof(struct hm_host_key),
	.key = host_id_key,
};

static const struct id_source host_route_ids = {
	.stats_fd = offsetof(struct hm_maps, host_routes),
	.names_fd = offsetof(struct hm_maps, hr_ids),
	.stats_map = HM_MAP_HOST_ROUTES,
	.names_map = HM_MAP_HOST_ROUTE_IDS,
	.capacity = HM_MAX_HOST_ROUTES,
	.name_size = sizeof(struct hm_host_route_key),
	.key = host_route_id_key,
};

_Static_assert(sizeof(struct hm_host_key) <= sizeof(((struct id_name *)0)->key) &&
		       sizeof(struct hm_host_route_key) <= sizeof(((struct id_name *)0)->key),
	       "every names map's key fits in struct id_name");

int cmp_id_name(const void *pa, const void *pb)
{
	const struct id_name *a = pa, *b = pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

const void *id_name(const struct id_names *names, enum view_id v, __u32 id)
{
	struct id_name k = { .id = id };
	const struct id_name *p;

	if (!names || !names[v].n)
		return NULL;
	p = bsearch(&k, names[v].v, names[v].n, sizeof(k), cmp_id_name);
	return p ? p->key : NULL;
}

const struct view views[VIEWS] = {
	[VIEW_CLIENT] = {
		.name = "client", .json = "clients", .title = "by client",
		.source = SRC_ROW_KIND, .kind = HM_ROW_CLIENT,
		.nkeys = 1, .keys = { KEY_IP }, .total_key = KEY_IP,
		.prom_rank = 2, .prom_prefix = "httpmon_client_",
		.prom_what = "per client address (ip=\"other\": clients that found the map full)",
	},
	[VIEW_PORT] = {
		.name = "port", .json = "ports", .title = "by server port",
		.source = SRC_ROW_KIND, .kind = HM_ROW_PORT,
		.nkeys = 1, .keys = { KEY_PORT }, .total_key = KEY_PORT,
		.hist = true, .hist_first = HM_HIST_PORT_FIRST, .hist_n = HM_HIST_PORTS,
		.hist_other = HM_HIST_PORTS_OTHER, .hist_id_first = 1, .hist_total = true,
		.chart_noun = "port", .chart_plural = "ports",
		.json_other = "ports_other_latency", .hist_other_key = "other",
		.prom_rank = 1, .prom_prefix = "httpmon_",
		.prom_what = "per server port (port=\"other\": ports that found the map full)",
		.prom_hist_help = "%s; per server port, port=\"other\": ports beyond the %d with a "
				  "histogram of their own; the series without a port label counts "
				  "every response",
	},
	[VIEW_PORT_CLIENT] = {
		.name = "port,client", .alias = "client,port", .json = "port_clients",
		.title = "by server port and client",
		.source = SRC_ROW_KIND, .kind = HM_ROW_PORT_CLIENT,
		.nkeys = 2, .keys = { KEY_PORT, KEY_IP }, .total_key = KEY_PORT,
	},
	[VIEW_ROUTE] = {
		.name = "route", .json = "routes", .title = "by route",
		.source = SRC_IDS, .ids = &route_ids,
		.nkeys = 2, .keys = { KEY_METHOD, KEY_ROUTE }, .total_key = KEY_ROUTE,
		.hist = true, .hist_first = HM_HIST_ROUTE_FIRST, .hist_n = HM_HIST_ROUTES,
		.hist_other = HM_HIST_ROUTES_OTHER, .hist_id_first = 0,
		.chart_noun = "route", .chart_plural = "routes",
		.json_other = "routes_other_latency", .hist_other_key = "_overflow",
		.prom_rank = 3, .prom_prefix = "httpmon_route_",
		.prom_what = "per method and route (route=\"_other\": routes beyond the route limit, "
			     "\"_unknown\": responses to requests not seen)",
		.prom_hist_help = "%s; per method and route, route=\"_overflow\": routes beyond the "
				  "%d with a histogram of their own",
	},
	[VIEW_IFACE] = {
		.name = "iface", .json = "ifaces", .title = "by interface",
		.source = SRC_ROW_KIND, .kind = HM_ROW_IFACE,
		.nkeys = 2, .keys = { KEY_IFINDEX, KEY_IFACE }, .total_key = KEY_IFACE,
		.prom_rank = 4, .prom_prefix = "httpmon_iface_",
		.prom_what = "per interface the traffic was seen on (ifindex=\"other\": "
			     "interfaces that found the map full; iface=\"\": a name not known here)",
	},
	[VIEW_HOST] = {
		.name = "host", .json = "hosts", .title = "by host",
		.source = SRC_IDS, .ids = &host_ids,
		.nkeys = 1, .keys = { KEY_HOST }, .total_key = KEY_HOST,
		.hist = true, .hist_first = HM_HIST_HOST_FIRST, .hist_n = HM_HIST_HOSTS,
		.hist_other = HM_HIST_HOSTS_OTHER, .hist_id_first = 0, .hist_by_name = true,
		.chart_noun = "host", .chart_plural = "hosts",
		.json_other = "hosts_other_latency", .hist_other_key = "_overflow",
		.prom_rank = 5, .prom_prefix = "httpmon_host_",
		.prom_what = "per virtual host: the Host header, lower-cased, without the port "
			     "(host=\"_none\": requests without one, \"_other\": hosts beyond the "
			     "host limit, \"_unknown\": responses to requests not seen)",
		.prom_hist_help = "%s; per virtual host, host=\"_overflow\": hosts beyond the %d "
				  "with a histogram of their own",
	},
	[VIEW_HOST_ROUTE] = {
		.name = "host,route", .alias = "route,host", .json = "host_routes",
		.title = "by host and route",
		.source = SRC_IDS, .ids = &host_route_ids,
		.nkeys = 3, .keys = { KEY_HOST, KEY_METHOD, KEY_ROUTE }, .total_key = KEY_HOST,
		.prom_rank = 6, .prom_prefix = "httpmon_host_route_",
		.prom_what = "per virtual host and route (host=\"_other\",route=\"_other\": "
			     "pairs beyond the pair limit)",
	},
	[VIEW_PROCESS] = {
		.name = "process", .json = "processes", .title = "by process",
		.source = SRC_PROCS, .sock_only = true,
		.nkeys = 5, .keys = { KEY_PID, KEY_COMM, KEY_ROLE, KEY_CGROUP_ID, KEY_CGROUP },
		.total_key = KEY_COMM,
		.prom_nkeys = 3, .prom_keys = { KEY_COMM, KEY_CGROUP, KEY_ROLE },
		.prom_rank = 7, .prom_prefix = "httpmon_process_",
		.prom_what = "per process command name, cgroup and role, the processes of one "
			     "name and cgroup summed (comm=\"_other\": processes beyond the process "
			     "limit; cgroup=\"\": a cgroup that is gone)",
	},
};

const char *const source_names[SOURCES] = {
	[SOURCE_PACKET] = "packet",
	[SOURCE_SOCKET] = "socket",
	[SOURCE_ALL] = "all",
};

const char *const format_names[FORMATS] = {
	[FMT_TABLE] = "table",
	[FMT_JSON] = "json",
	[FMT_CSV] = "csv",
	[FMT_PROMETHEUS] = "prometheus",
};

const char *const sort_names[SORT_FIELDS] = {
	[SORT_REQUESTS] = "requests",
	[SORT_RESPONSES] = "responses",
	[SORT_SUCCESS] = "success",
	[SORT_4XX] = "4xx",
	[SORT_5XX] = "5xx",
	[SORT_UNANSWERED] = "unanswered",
	[SORT_AVG] = "avg",
	[SORT_MIN] = "min",
	[SORT_MAX] = "max",
	[SORT_BYTES_IN] = "bytes_in",
	[SORT_BYTES_OUT] = "bytes_out",
	[SORT_IP] = "ip",
	[SORT_PORT] = "port",
};

const char *const family_names[HM_LAT_FAMILIES] = {
	[HM_LAT_FIRST] = "first",
	[HM_LAT_LAST] = "last",
};

#define HM_MON_NAME(sym, name, desc) [HM_MON_##sym] = name,
const char *const monitor_names[HM_MON_MAX] = { HM_MONITOR_COUNTERS(HM_MON_NAME) };
#undef HM_MON_NAME
#define HM_MON_DESC(sym, name, desc) [HM_MON_##sym] = desc,
const char *const monitor_descs[HM_MON_MAX] = { HM_MONITOR_COUNTERS(HM_MON_DESC) };
#undef HM_MON_DESC

/* ---- interface names ---- */

/* Where hm-load records the interfaces it attached to (hm_links). */
static const char *links_pin_dir;

void set_iface_names(const char *pin_dir)
{
	links_pin_dir = pin_dir;
}

/*
 * The name of interface ifindex: as hm-load recorded it in hm_links (the
 * network namespace it attached in), else as this namespace has it; NULL
 * when neither knows it.
 */
static const char *iface_name(__u32 ifindex, char *buf)
{
	static struct hm_link links[HM_MAX_LINKS];
	static int nlinks = -1;
	int fd, i;

	if (nlinks < 0) {
		nlinks = 0;
		fd = links_pin_dir ? hm_links_open(links_pin_dir, true) : -1;
		if (fd >= 0) {
			nlinks = hm_links_read(fd, links, HM_MAX_LINKS);
			if (nlinks > HM_MAX_LINKS)
				nlinks = HM_MAX_LINKS;
			close(fd);
		}
	}
	for (i = 0; i < nlinks; i++) {
		if (links[i].ifindex == ifindex && links[i].ifname[0]) {
			snprintf(buf, IF_NAMESIZE, "%.*s", IF_NAMESIZE - 1, links[i].ifname);
			return buf;
		}
	}
	return if_indextoname(ifindex, buf);
}

/*
 * A label as printed everywhere: request targets may hold any byte, so bytes
 * outside printable ASCII (space included) become %XX; output stays valid
 * UTF-8 text on one line.
 */
static const char *label_text(const char *label, size_t max, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;

	for (i = 0; i < max && label[i] && n + 4 <= len; i++) {
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

/* ---- key fields ---- */

static const struct {
	const char *column; /* table heading */
	const char *name; /* JSON member, CSV column, Prometheus label */
} key_fields[KEYS] = {
	[KEY_IFACE] = { "IFACE", "iface" },
	[KEY_IFINDEX] = { "IFINDEX", "ifindex" },
	[KEY_HOST] = { "HOST", "host" },
	[KEY_METHOD] = { "METHOD", "method" },
	[KEY_ROUTE] = { "ROUTE", "route" },
	[KEY_PORT] = { "PORT", "port" },
	[KEY_IP] = { "IP", "ip" },
	[KEY_PID] = { "PID", "pid" },
	[KEY_COMM] = { "COMM", "comm" },
	[KEY_ROLE] = { "ROLE", "role" },
	[KEY_CGROUP_ID] = { "CGROUP_ID", "cgroup_id" },
	[KEY_CGROUP] = { "CGROUP", "cgroup" },
};

static const char *const role_names[HM_ROLES] = {
	[HM_ROLE_SERVER] = "server",
};

const char *key_name(enum key_field k)
{
	return key_fields[k].name;
}

const char *key_column(enum key_field k)
{
	return key_fields[k].column;
}

const char *key_text(enum key_field k, const struct row *r, char *buf, size_t len)
{
	char name[IF_NAMESIZE];
	const char *text;

	switch (k) {
	case KEY_IP:
		return r->other ? "other" : hm_addr_str(&r->ip, buf, len);
	case KEY_PORT:
		if (r->other)
			return "other";
		snprintf(buf, len, "%u", r->port);
		return buf;
	case KEY_IFINDEX:
		if (r->other)
			return "other";
		snprintf(buf, len, "%u", r->ifindex);
		return buf;
	case KEY_IFACE:
		if (r->other || !iface_name(r->ifindex, name))
			return NULL;
		snprintf(buf, len, "%s", name);
		return buf;
	case KEY_METHOD:
		return r->method ? hm_method_name(r->method) : NULL;
	case KEY_ROUTE:
		return label_text(r->label, HM_ROUTE_LEN, buf, len);
	case KEY_HOST:
		return label_text(r->host, HM_HOST_LEN, buf, len);
	case KEY_PID:
		if (r->other)
			return NULL;
		snprintf(buf, len, "%u", r->pid);
		return buf;
	case KEY_COMM:
		return label_text(r->comm, sizeof(r->comm) - 1, buf, len);
	case KEY_ROLE:
		return r->other || r->role >= HM_ROLES ? NULL : role_names[r->role];
	case KEY_CGROUP_ID:
		if (r->other)
			return NULL;
		snprintf(buf, len, "%llu", (unsigned long long)r->cgroup);
		return buf;
	case KEY_CGROUP:
		text = r->other ? NULL : cgroup_path(r->cgroup);
		return text ? label_text(text, len, buf, len) : NULL;
	case KEYS:
		break;
	}
	return NULL;
}

bool key_is_number(enum key_field k, const struct row *r)
{
	return (k == KEY_PORT || k == KEY_IFINDEX || k == KEY_PID || k == KEY_CGROUP_ID) &&
	       !r->other;
}

const char *key_cell(enum key_field k, const struct row *r, char *buf, size_t len)
{
	const char *text;

	if (k == KEY_IFINDEX && r->other)
		return "-";
	if (k == KEY_IFACE && r->other)
		return "other";
	text = key_text(k, r, buf, len);
	if (text)
		return text;
	if (k == KEY_IFACE)
		return "?";
	return k >= KEY_PID ? "-" : "";
}

bool view_has_key(const struct view *v, enum key_field k)
{
	for (unsigned int i = 0; i < v->nkeys; i++)
		if (v->keys[i] == k)
			return true;
	return false;
}

const char *row_title(const struct view *v, const struct row *r, char *buf, size_t len)
{
	char text[KEY_TEXT];
	const char *t;
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < v->nkeys && n < len; i++) {
		t = key_text(v->keys[i], r, text, sizeof(text));
		if (t && *t)
			n += snprintf(buf + n, len - n, "%s%s", n ? " " : "", t);
	}
	return buf;
}

/* ---- figures of a row ---- */

const struct hm_latency *row_lat(const struct row *r, int family)
{
	return family == HM_LAT_LAST ? &r->s.lat_last : &r->s.lat;
}

bool lat_valid(const struct hm_latency *l)
{
	return l->count > 0;
}

double lat_avg_ns(const struct hm_latency *l)
{
	return (double)l->sum_ns / (double)l->count;
}

/*
 * Percentile q of h.  The exact min/max of l bound it when they describe the
 * same samples (same count: a port whose stats row or histogram went to an
 * overflow row does not qualify) and are known (not an interval).
 */
bool percentile(const struct hm_hist *h, const struct hm_latency *l, bool interval,
		unsigned int per10k, double *ns)
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

bool success_rate(const struct hm_stats *s, double *rate)
{
	if (!s->responses)
		return false;
	*rate = (double)success_count(s) / (double)s->responses;
	return true;
}

bool response_rate(const struct hm_stats *s, double *rate)
{
	if (!s->requests)
		return false;
	*rate = (double)s->responses / (double)s->requests;
	return true;
}

/* ---- order of the rows ---- */

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

static int cmp_rows(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	double va, vb;
	int c;

	if (a->other != b->other)
		return a->other ? 1 : -1;
	if (sort_by == SORT_IP) {
		c = memcmp(a->ip.a, b->ip.a, sizeof(a->ip.a));
		return c ? c : cmp_key(a, b);
	}
	if (sort_by != SORT_PORT) {
		va = sort_value(a);
		vb = sort_value(b);
		if (va != vb)
			return va > vb ? -1 : 1;
	}
	c = (int)a->port - (int)b->port;
	return c ? c : cmp_key(a, b);
}

void sort_table(struct table *t)
{
	sort_array(t->rows, t->len, sizeof(struct row), cmp_rows);
}

void sort_tables(struct snapshot *snap, const struct options *o)
{
	int v;

	sort_by = o->sort;
	sort_family = o->family;
	for (v = 0; v < VIEWS; v++)
		sort_table(&snap->tables[v]);
}

/* Rows are sorted with the overflow row last, so index order is rank. */
bool row_shown(const struct table *t, size_t i, size_t top)
{
	return t->rows[i].other || !top || i < top;
}

size_t shown_rows(const struct table *t, size_t top)
{
	size_t n = 0, i;

	for (i = 0; i < t->len; i++)
		n += row_shown(t, i, top);
	return n;
}

/* The total row of a view: every row summed, the total histograms. */
void total_row(struct row *total, const struct snapshot *snap, enum view_id v)
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

const char *now_text(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(buf, len, "@%lld", (long long)now);
	return buf;
}
