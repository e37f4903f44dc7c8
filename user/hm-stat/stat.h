/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stat.h - hm-stat's parts: a snapshot of the maps (snapshot.c), the
 * difference of two (delta.c), the views and their keys (views.c), the
 * cgroup paths of process rows (cgroup.c), and one file per output: table.c,
 * json.c, csv.c, prom.c, charts.c (--hist), watch.c; main.c parses the
 * options and picks the map set (--source).
 *
 * A view is one row of views[] (views.c): where its rows come from, which
 * key fields name a row, and what each format calls it.  The formats walk
 * that table, so a new dimension is one row there (and a key field, when it
 * brings a new kind of key; and an id_source, when its rows are ids that a
 * map of names names).  Adding a view: an enum view_id value before VIEWS,
 * its row in views[], and nothing in the formats.
 */
#ifndef HM_STAT_H
#define HM_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "httpmon.h"
#include "hm_hist.h"
#include "hm_pin.h"

#define HM_JSON_SCHEMA 1
#define WATCH_MAX_SECONDS 86400
#define HIST_ROWS_DEFAULT 4 /* --hist rows per power of two without --buckets */

enum view_id {
	VIEW_CLIENT,
	VIEW_PORT,
	VIEW_PORT_CLIENT,
	VIEW_ROUTE,
	VIEW_IFACE,
	VIEW_HOST,
	VIEW_HOST_ROUTE,
	VIEW_PROCESS,
	VIEWS,
};

/*
 * The fields that name a row.  Their order is the order of the key columns
 * in the table; each view lists its own in the order JSON and CSV use.
 */
enum key_field {
	KEY_IFACE,
	KEY_IFINDEX,
	KEY_HOST,
	KEY_METHOD,
	KEY_ROUTE,
	KEY_PORT,
	KEY_IP,
	KEY_PID,
	KEY_COMM,
	KEY_ROLE,
	KEY_CGROUP_ID,
	KEY_CGROUP,
	KEYS,
};

#define VIEW_MAX_KEYS 5

/* Where a view's rows come from. */
enum view_source {
	SRC_ROW_KIND, /* hm_row_ids names the rows of one row kind */
	SRC_IDS, /* a stats array by small id per generation, a hash map names the ids */
	SRC_PROCS, /* the socket set's process rows: hm_proc_ids names them per generation */
};

/*
 * Where the maps come from: the packet set (the pin directory) or the socket
 * set (its HM_SOCK_SUBDIR); --source all reads both (Prometheus only).
 */
enum source { SOURCE_PACKET, SOURCE_SOCKET, SOURCE_ALL, SOURCES };
extern const char *const source_names[SOURCES];

struct row;
struct id_names;

/*
 * SRC_IDS: rows by id (routes, hosts, (host, route) pairs).  Row id of
 * generation gen is entry gen * capacity + id of the stats array; the names
 * map maps a name (its key) to the id (struct hm_route_val).  key() sets a
 * row's key fields from its id and the name the map gives it (NULL: a fixed
 * id such as _other, or a name forgotten while requests were in flight);
 * names holds every SRC_IDS view's names, for ids made of other ids.
 */
struct id_source {
	size_t stats_fd, names_fd; /* offsetof(struct hm_maps, ...) */
	const char *stats_map, *names_map;
	unsigned int capacity; /* ids per generation */
	unsigned int name_size; /* key size of the names map */
	void (*key)(struct row *r, __u32 id, const void *name, const struct id_names *names);
};

struct view {
	const char *name; /* --by value */
	const char *alias; /* another --by spelling, or NULL */
	const char *json; /* JSON array name */
	const char *title; /* header line: "by client" */
	enum view_source source;
	unsigned int kind; /* SRC_ROW_KIND: enum hm_row_kind */
	const struct id_source *ids; /* SRC_IDS */
	unsigned int nkeys;
	enum key_field keys[VIEW_MAX_KEYS]; /* JSON, CSV and Prometheus order */
	enum key_field total_key; /* the table column that says "total" */
	bool sock_only; /* only the socket set has such rows */
	/* Prometheus labels when they are fewer than keys: rows sharing them are summed. */
	unsigned int prom_nkeys;
	enum key_field prom_keys[VIEW_MAX_KEYS];
	/* Latency histograms: slots hist_first.. of hm_hist, hist_n of them, then an overflow slot. */
	bool hist;
	unsigned int hist_first, hist_n, hist_other;
	unsigned int hist_id_first; /* the row id whose histograms are in slot hist_first */
	bool hist_total; /* its slots hold every response once: the total's */
	bool hist_by_name; /* --hist WHICH --by this view: WHICH is a row's title */
	const char *chart_noun; /* --hist titles: "port" */
	const char *chart_plural; /* "ports" */
	const char *json_other; /* JSON member of the overflow histogram */
	const char *hist_other_key; /* the overflow histogram's key in Prometheus */
	/* Prometheus: counters named prom_prefix + counter, in prom_rank order; 0: none. */
	int prom_rank;
	const char *prom_prefix;
	const char *prom_what; /* help text: "per client address (...)" */
	const char *prom_hist_help; /* "%s; per ...": family help, hist_n */
};

extern const struct view views[VIEWS];

struct row {
	bool other; /* the overflow row: keys that did not fit in the map */
	struct hm_addr ip;
	__u16 port;
	__u32 ifindex; /* interfaces: the index the segments were seen on */
	__u8 method; /* routes: enum hm_method */
	__u32 route; /* routes: id */
	char label[HM_ROUTE_LEN + 1]; /* routes: the label as the kernel keeps it */
	__u32 host_id; /* hosts: id */
	char host[HM_HOST_LEN + 1]; /* hosts: the name as the kernel keeps it */
	__u32 pid; /* processes: thread group id */
	__u8 role; /* processes: enum hm_role */
	__u64 cgroup; /* processes: cgroup v2 id */
	char comm[sizeof(((struct hm_proc_key *)0)->comm) + 1]; /* processes: command name */
	bool hist_keyed; /* hist_key names its histograms (not an overflow row's) */
	__u32 hist_key; /* port, route id, host id */
	struct hm_stats s;
	/* Rows of views with histograms: their own, NULL when they have none. */
	const struct hm_hist *hist[HM_LAT_FAMILIES];
};

struct table {
	struct row *rows;
	size_t len;
	size_t cap;
};

/* The histograms of one key (port, route id, host id): one map entry per family. */
struct key_hist {
	__u32 key;
	struct hm_hist h[HM_LAT_FAMILIES];
};

struct hist_set {
	struct key_hist *v; /* sorted by key once read */
	size_t n, cap;
};

struct snapshot {
	struct table tables[VIEWS];
	struct hist_set hists[VIEWS]; /* views with histograms */
	struct hm_hist ovf[VIEWS][HM_LAT_FAMILIES]; /* keys without their own */
	struct hm_hist total[HM_LAT_FAMILIES]; /* every response */
	__u64 monitor[HM_MON_MAX];
	__u64 conns_live;
	bool interval; /* a difference of two snapshots: no min/max */
	double seconds; /* interval: its length */
	enum source source; /* SOURCE_PACKET or SOURCE_SOCKET */
	const char *dir; /* the directory of its map set */
};

enum format { FMT_TABLE, FMT_JSON, FMT_CSV, FMT_PROMETHEUS, FORMATS };
extern const char *const format_names[FORMATS];

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
extern const char *const sort_names[SORT_FIELDS];

struct options {
	enum view_id view;
	enum sort_field sort;
	enum format format;
	int family; /* enum hm_lat_family shown by the table, CSV and --watch */
	size_t top; /* 0: all */
	const char *pin_dir;
	enum source source;
	bool source_set; /* --source was given */
	char sock_dir[4096]; /* the socket set's directory */
	enum source read_source; /* the source read (not SOURCE_ALL): --watch */
	const char *dir; /* and the directory of its map set */
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

extern const char *const family_names[HM_LAT_FAMILIES];
extern const char *const monitor_names[HM_MON_MAX];
extern const char *const monitor_descs[HM_MON_MAX];

/* snapshot.c */
struct row *table_add(struct table *t);
struct key_hist *hist_get(struct hist_set *set, __u32 key);
const struct key_hist *find_hist(const struct hist_set *set, __u32 key);
void link_hists(struct snapshot *snap);
int cmp_key(const struct row *a, const struct row *b);
int cmp_key_qsort(const void *a, const void *b);
void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void stats_add(struct hm_stats *sum, const struct hm_stats *s);
/*
 * Reads every view of the map set in dir, of source source.  With reset (dir
 * locked meanwhile), the interval that ends, which is cleared; without, both
 * generations summed.
 */
int read_snapshot(struct hm_maps *maps, enum source source, const char *dir, bool reset,
		  struct snapshot *snap);
void snapshot_free(struct snapshot *snap);

/* delta.c: out = cur - prev, for --watch. */
int snapshot_delta(struct snapshot *out, const struct snapshot *cur, const struct snapshot *prev,
		   double seconds);

/* views.c: keys, figures and order of rows */
#define KEY_TEXT (HM_ROUTE_LEN * 3 + 1)
_Static_assert(HM_HOST_LEN <= HM_ROUTE_LEN, "a host's text fits in KEY_TEXT");

/* The names of SRC_IDS views by id, as read from their names maps (snapshot.c). */
struct id_name {
	__u32 id;
	unsigned char key[sizeof(struct hm_route_key)];
};
struct id_names {
	struct id_name *v; /* sorted by id */
	size_t n, cap;
};
int cmp_id_name(const void *a, const void *b); /* by id */
/* The name of id in view v's names map, NULL when it has none (or names is NULL). */
const void *id_name(const struct id_names *names, enum view_id v, __u32 id);
/* The text of field k of row r, or NULL when it has none (JSON null). */
const char *key_text(enum key_field k, const struct row *r, char *buf, size_t len);
bool key_is_number(enum key_field k, const struct row *r);
const char *key_name(enum key_field k);
const char *key_column(enum key_field k);
/* Table cells: NULL keys and the overflow row as the table shows them. */
const char *key_cell(enum key_field k, const struct row *r, char *buf, size_t len);
bool view_has_key(const struct view *v, enum key_field k);
/* "[METHOD ]LABEL", "8080": how --hist names a row. */
const char *row_title(const struct view *v, const struct row *r, char *buf, size_t len);
void set_iface_names(const char *pin_dir);

const struct hm_latency *row_lat(const struct row *r, int family);
bool lat_valid(const struct hm_latency *l);
double lat_avg_ns(const struct hm_latency *l);
bool percentile(const struct hm_hist *h, const struct hm_latency *l, bool interval,
		unsigned int per10k, double *ns);
bool success_rate(const struct hm_stats *s, double *rate);
bool response_rate(const struct hm_stats *s, double *rate);
void sort_tables(struct snapshot *snap, const struct options *o);
void sort_table(struct table *t);
bool row_shown(const struct table *t, size_t i, size_t top);
size_t shown_rows(const struct table *t, size_t top);
void total_row(struct row *total, const struct snapshot *snap, enum view_id v);
const char *now_text(char *buf, size_t len);

/* cgroup.c: a cgroup v2 id's path under the cgroup2 mount ("/" the root), NULL when gone. */
const char *cgroup_path(__u64 id);

/* The outputs. */
int print_table(FILE *f, const struct snapshot *snap, const struct options *o);
void print_json(FILE *f, const struct snapshot *snap, const struct options *o);
void print_csv(FILE *f, const struct snapshot *snap, const struct options *o);
/* One exposition of n snapshots, each series labelled with its snapshot's source. */
int print_prometheus(FILE *f, struct snapshot *snaps, size_t n, const struct options *o);
int print_hist_charts(FILE *f, const struct snapshot *snap, const struct options *o);
int print_snapshot(FILE *f, struct snapshot *snap, const struct options *o);
int watch(struct hm_maps *maps, const struct options *o);

/* output.c: --output, a temporary file renamed over the target when complete. */
struct output {
	FILE *f;
	char *tmp; /* NULL: stdout */
	const char *path;
};
int output_open(struct output *out, const char *path);
int output_close(struct output *out, bool ok);

#endif /* HM_STAT_H */
