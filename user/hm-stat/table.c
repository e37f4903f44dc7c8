// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* table.c - hm-stat's table (and --watch's, whose snapshot is an interval). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hm_common.h"
#include "stat.h"

/* The key columns first, in enum key_field order, then the figures. */
enum col {
	COL_REQS = KEYS,
	COL_RESPS,
	COL_SUCC,
	COL_2XX,
	COL_3XX,
	COL_4XX,
	COL_5XX,
	COL_UNANS,
	COL_AVG,
	COL_MIN,
	COL_MAX,
	COL_P50,
	COL_P90,
	COL_P99,
	COL_P999,
	COL_BYTES_IN,
	COL_BYTES_OUT,
	COLS,
};

static const char *const col_names[COLS - KEYS] = {
	"REQS",	  "RESPS",  "SUCC%",	"2XX",	    "3XX",	 "4XX",
	"5XX",	  "UNANS",  "AVG_MS",	"MIN_MS",   "MAX_MS",	 "P50_MS",
	"P90_MS", "P99_MS", "P99.9_MS", "BYTES_IN", "BYTES_OUT",
};

/* --watch: the same slots, other headings, MIN/MAX unused. */
static const char *const rate_col_names[COLS - KEYS] = {
	"REQ/S", "RESP/S", "SUCC%",  "-",      "-",	 "4XX/S",    "ERR/S",  "UNANS/S", "AVG_MS",
	"-",	 "-",	   "P50_MS", "P90_MS", "P99_MS", "P99.9_MS", "IN_B/S", "OUT_B/S",
};

#define CELL 72 /* a longer key is cut, with "...", in the table only */
typedef char cells_t[COLS][CELL];

static bool col_used(const struct view *v, bool interval, int c)
{
	if (c < KEYS)
		return view_has_key(v, c);
	if (c >= COL_P50 && c <= COL_P999)
		return v->hist;
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

/* Counts, or per second over an interval. */
static void fmt_count(char *buf, __u64 v, const struct snapshot *snap)
{
	if (snap->interval)
		fmt_rate(buf, v, snap->seconds);
	else
		fmt_u64(buf, v);
}

static void fmt_key(char *cell, const char *text)
{
	size_t n = strlen(text);

	if (n >= CELL)
		snprintf(cell, CELL, "%.*s...", CELL - 4, text);
	else
		memcpy(cell, text, n + 1);
}

/* label: the total row's, in the view's total_key column. */
static void fmt_row(cells_t cells, const struct view *v, const struct row *r, const char *label,
		    const struct snapshot *snap, int family)
{
	const struct hm_stats *s = &r->s;
	const struct hm_latency *l = row_lat(r, family);
	double rate, ns = 0;
	char buf[KEY_TEXT];
	int q;

	if (label)
		snprintf(cells[v->total_key], CELL, "%s", label);
	for (unsigned int k = 0; !label && k < v->nkeys; k++)
		fmt_key(cells[v->keys[k]], key_cell(v->keys[k], r, buf, sizeof(buf)));
	fmt_count(cells[COL_REQS], s->requests, snap);
	fmt_count(cells[COL_RESPS], s->responses, snap);
	fmt_count(cells[COL_4XX], s->status[HM_STATUS_4XX], snap);
	fmt_count(cells[COL_5XX], s->status[HM_STATUS_5XX], snap);
	fmt_count(cells[COL_UNANS], s->unanswered, snap);
	fmt_count(cells[COL_BYTES_IN], s->bytes_in, snap);
	fmt_count(cells[COL_BYTES_OUT], s->bytes_out, snap);
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
		bool ok =
			percentile(r->hist[family], l, snap->interval, hm_quantiles[q].per10k, &ns);

		fmt_ms(cells[COL_P50 + q], ok, ns);
	}
}

static void print_cells(FILE *f, const struct view *v, bool interval, cells_t cells,
			const int *width)
{
	const char *sep = "";
	int c;

	for (c = 0; c < COLS; c++) {
		if (!col_used(v, interval, c))
			continue;
		if (c < KEYS)
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

static void print_header(FILE *f, const struct snapshot *snap, const struct options *o)
{
	char when[64];

	now_text(when, sizeof(when));
	if (snap->interval)
		fprintf(f, "httpmon HTTP rates %s over %.1f s to %s (maps in %s)",
			views[o->view].title, snap->seconds, when, snap->dir);
	else
		fprintf(f, "httpmon HTTP stats %s at %s (maps in %s)", views[o->view].title, when,
			snap->dir);
	fprintf(f, "%s%s\n", o->family == HM_LAT_LAST ? ", latency to the last response byte" : "",
		o->reset ? ", cleared" : "");
}

static void print_monitor(FILE *f, const struct snapshot *snap)
{
	bool all = hm_log_max >= HM_LOG_INFO;
	size_t i;

	fprintf(f, "monitor%s:\n", snap->interval ? " (this interval)" : "");
	fprintf(f, "  %-18s %12llu%s\n", "conns_live", (unsigned long long)snap->conns_live,
		all ? "  connections whose HTTP state is held now" : "");
	for (i = 0; i < HM_MON_MAX; i++) {
		if (!all && !snap->monitor[i])
			continue;
		fprintf(f, "  %-18s %12llu%s%s\n", monitor_names[i],
			(unsigned long long)snap->monitor[i], all ? "  " : "",
			all ? monitor_descs[i] : "");
	}
}

int print_table(FILE *f, const struct snapshot *snap, const struct options *o)
{
	const struct view *v = &views[o->view];
	const struct table *t = &snap->tables[o->view];
	const char *const *names = snap->interval ? rate_col_names : col_names;
	int width[COLS] = { 0 };
	struct row total;
	cells_t *cells;
	size_t i, n = 0, shown = shown_rows(t, o->top);

	print_header(f, snap, o);
	if (!t->len) {
		fprintf(f, snap->interval ? "no HTTP traffic in this interval\n" :
					    "no HTTP traffic seen yet\n");
		print_monitor(f, snap);
		return 0;
	}
	cells = calloc(shown + 2, sizeof(*cells));
	if (!cells) {
		hm_err("out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < KEYS; i++)
		snprintf(cells[0][i], CELL, "%s", key_column(i));
	for (i = KEYS; i < COLS; i++)
		snprintf(cells[0][i], CELL, "%s", names[i - KEYS]);
	widen(width, cells[0]);
	for (i = 0; i < t->len; i++) {
		if (!row_shown(t, i, o->top))
			continue;
		fmt_row(cells[++n], v, &t->rows[i], NULL, snap, o->family);
		widen(width, cells[n]);
	}
	total_row(&total, snap, o->view);
	fmt_row(cells[++n], v, &total, "total", snap, o->family);
	widen(width, cells[n]);

	for (i = 0; i <= n; i++)
		print_cells(f, v, snap->interval, cells[i], width);
	if (shown < t->len)
		fprintf(f, "(%zu of %zu rows shown; the total counts all)\n", shown, t->len);
	print_monitor(f, snap);
	free(cells);
	return 0;
}
