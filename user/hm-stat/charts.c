// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* charts.c - hm-stat --hist: latency distributions as bar charts. */
#include <stdlib.h>
#include <string.h>
#include "histview.h"
#include "stat.h"

/*
 * --hist KEY names a row as its title does ("8080", "GET /api/users/{id}"); a
 * view of several keys is matched by its last alone too ("/api/users/{id}":
 * every method), a number by its value.
 */
static bool chart_key_matches(const char *key, const struct view *v, const struct row *r)
{
	enum key_field last = v->keys[v->nkeys - 1];
	char title[KEY_TEXT * VIEW_MAX_KEYS], buf[KEY_TEXT];
	const char *text;

	if (!key)
		return true;
	if (key_is_number(last, r) && v->nkeys == 1) {
		text = key_text(last, r, buf, sizeof(buf));
		return text && strtoul(key, NULL, 10) == strtoul(text, NULL, 10);
	}
	if (!strcmp(key, row_title(v, r, title, sizeof(title))))
		return true;
	text = key_text(last, r, buf, sizeof(buf));
	return v->nkeys > 1 && text && !strcmp(key, text);
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
 * The distribution of every response, or with --by a view that has
 * histograms one chart per row that has its own (in the --sort order, --top N
 * of them), then the shared one of those that have none.
 */
int print_hist_charts(FILE *f, const struct snapshot *snap, const struct options *o)
{
	const struct view *v = &views[o->view];
	const struct table *t = &snap->tables[o->view];
	char title[KEY_TEXT * VIEW_MAX_KEYS + 64], key[KEY_TEXT * VIEW_MAX_KEYS], when[64];
	const struct hm_hist *shared;
	size_t i, shown = 0, matched = 0;
	struct row total;

	fprintf(f, "httpmon latency to the %s response byte%s%s at %s (maps in %s)%s\n",
		o->family == HM_LAT_LAST ? "last" : "first", v->hist ? " " : "",
		v->hist ? v->title : "", now_text(when, sizeof(when)), snap->dir,
		o->reset ? ", cleared" : "");
	if (!v->hist) {
		total_row(&total, snap, VIEW_PORT);
		hist_chart(f, "every response", &snap->total[o->family], row_lat(&total, o->family),
			   o->hist_rows);
		return 0;
	}
	for (i = 0; i < t->len && (!o->top || shown < o->top); i++) {
		const struct row *r = &t->rows[i];

		if (r->other || !chart_key_matches(o->hist_key, v, r))
			continue;
		matched++;
		snprintf(title, sizeof(title), "%s %s", v->chart_noun,
			 row_title(v, r, key, sizeof(key)));
		if (!r->hist[o->family]) {
			if (o->hist_key)
				fprintf(f, "\n%s: no histogram of its own (beyond the first %u)\n",
					title, v->hist_n);
			continue;
		}
		hist_chart(f, title, r->hist[o->family], row_lat(r, o->family), o->hist_rows);
		shown++;
	}
	shared = &snap->ovf[o->view][o->family];
	if (!o->hist_key && hm_hist_total(shared)) {
		snprintf(title, sizeof(title), "%s beyond the first %u (one shared histogram)",
			 v->chart_plural, v->hist_n);
		hist_chart(f, title, shared, NULL, o->hist_rows);
	} else if (!shown && !o->hist_key) {
		fprintf(f, "no latency samples yet\n");
	} else if (!matched && o->hist_key) {
		fprintf(f, "\n%s %s: no traffic seen\n", v->chart_noun, o->hist_key);
	}
	return 0;
}
