// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * prom.c - hm-stat --format prometheus: the text exposition format.  Each
 * view with a prom_prefix gives five counter families, labelled with its key
 * fields; a view with histograms gives its two latency histogram families.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "hm_common.h"
#include "stat.h"

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

static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of one series: source, a row's key fields, then class or le; buf holds their text. */
struct prom_labels {
	int n;
	const char *name[VIEW_MAX_KEYS + 2];
	const char *value[VIEW_MAX_KEYS + 2];
	char buf[VIEW_MAX_KEYS][KEY_TEXT];
};

/* The series of one snapshot: its rows (per view, as Prometheus labels them) and its source. */
struct prom_source {
	const struct snapshot *snap;
	const char *source;
	struct table agg[VIEWS]; /* views with prom_nkeys: rows sharing their labels summed */
};

static void prom_add(struct prom_labels *l, const char *name, const char *value)
{
	l->name[l->n] = name;
	l->value[l->n++] = value;
}

/* name{labels} or name when there are none. */
static void prom_name(FILE *f, const char *name, const char *suffix, const struct prom_labels *l)
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

static unsigned int prom_nkeys(const struct view *v)
{
	return v->prom_nkeys ? v->prom_nkeys : v->nkeys;
}

static enum key_field prom_key(const struct view *v, unsigned int k)
{
	return v->prom_nkeys ? v->prom_keys[k] : v->keys[k];
}

/* The labels identifying row r of view v in source ps. */
static void prom_row_labels(struct prom_labels *l, const struct prom_source *ps,
			    const struct view *v, const struct row *r)
{
	const char *text;

	l->n = 0;
	prom_add(l, "source", ps->source);
	for (unsigned int k = 0; k < prom_nkeys(v); k++) {
		text = key_text(prom_key(v, k), r, l->buf[k], sizeof(l->buf[k]));
		prom_add(l, key_name(prom_key(v, k)), text ? text : "");
	}
}

static bool same_labels(const struct view *v, const struct row *a, const struct row *b)
{
	char ta[KEY_TEXT], tb[KEY_TEXT];
	const char *x, *y;

	if (a->other != b->other)
		return false;
	for (unsigned int k = 0; k < prom_nkeys(v); k++) {
		x = key_text(prom_key(v, k), a, ta, sizeof(ta));
		y = key_text(prom_key(v, k), b, tb, sizeof(tb));
		if (strcmp(x ? x : "", y ? y : ""))
			return false;
	}
	return true;
}

/* Series must be unique: rows of a view whose labels are fewer than its keys are summed. */
static int prom_aggregate(struct table *agg, const struct view *v, const struct table *t)
{
	size_t i, j;
	struct row *r;

	for (i = 0; i < t->len; i++) {
		for (j = 0; j < agg->len; j++)
			if (same_labels(v, &agg->rows[j], &t->rows[i]))
				break;
		if (j < agg->len) {
			stats_add(&agg->rows[j].s, &t->rows[i].s);
			continue;
		}
		r = table_add(agg);
		if (!r)
			return -ENOMEM;
		*r = t->rows[i];
	}
	sort_table(agg);
	return 0;
}

static const struct table *prom_table(const struct prom_source *ps, enum view_id v)
{
	return views[v].prom_nkeys ? &ps->agg[v] : &ps->snap->tables[v];
}

static bool prom_has_view(const struct prom_source *ps, enum view_id v)
{
	return !views[v].sock_only || ps->snap->source == SOURCE_SOCKET;
}

static const struct {
	const char *name, *help;
	size_t offset;
} prom_counter_defs[] = {
	{ "requests", "HTTP request lines seen", offsetof(struct hm_stats, requests) },
	{ "responses", "final HTTP responses by status class",
	  offsetof(struct hm_stats, responses) },
	{ "unanswered",
	  "requests with no response: connection closed or idle, or written off after a gap",
	  offsetof(struct hm_stats, unanswered) },
	{ "bytes_in", "HTTP payload bytes from client to server",
	  offsetof(struct hm_stats, bytes_in) },
	{ "bytes_out", "HTTP payload bytes from server to client",
	  offsetof(struct hm_stats, bytes_out) },
};
#define PROM_RESPONSES 1 /* prom_counter_defs[1]: one series per status class */

/* Counter c of view v's rows in one source. */
static void prom_counter_rows(FILE *f, const char *name, size_t c, const struct prom_source *ps,
			      enum view_id v, size_t top)
{
	static const char *const classes[HM_STATUS_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
	const struct table *t = prom_table(ps, v);
	struct prom_labels l;
	size_t i;
	__u64 val;
	int k;

	for (i = 0; i < t->len; i++) {
		const struct row *r = &t->rows[i];

		if (!row_shown(t, i, top))
			continue;
		prom_row_labels(&l, ps, &views[v], r);
		if (c != PROM_RESPONSES) {
			memcpy(&val, (const char *)&r->s + prom_counter_defs[c].offset,
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

static void prom_counters(FILE *f, const struct prom_source *ps, size_t nps, enum view_id v,
			  size_t top)
{
	const struct view *vw = &views[v];
	char name[128], help[512];
	size_t c, s;

	for (s = 0; s < nps && !prom_has_view(&ps[s], v); s++)
		;
	if (s == nps)
		return; /* no source has such rows: no families */
	for (c = 0; c < sizeof(prom_counter_defs) / sizeof(prom_counter_defs[0]); c++) {
		snprintf(name, sizeof(name), "%s%s_total", vw->prom_prefix,
			 prom_counter_defs[c].name);
		snprintf(help, sizeof(help), "%s, %s", prom_counter_defs[c].help, vw->prom_what);
		prom_family(f, name, "counter", help);
		for (s = 0; s < nps; s++)
			if (prom_has_view(&ps[s], v))
				prom_counter_rows(f, name, c, &ps[s], v, top);
	}
}

/* One histogram series: cumulative buckets at the export bounds, _sum, _count. */
static void prom_hist_series(FILE *f, const struct hm_export *e, const char *name,
			     struct prom_labels *l, const struct hm_hist *h)
{
	unsigned int i, n = hm_export_count(e);
	char le[32];
	__u64 ns;

	prom_add(l, "le", le);
	for (i = 0; i < n; i++) {
		ns = hm_export_bound(e, i);
		hm_ns_to_seconds(ns, le, sizeof(le));
		prom_name(f, name, "_bucket", l);
		fprintf(f, " %llu\n", (unsigned long long)hm_hist_count_below(h, ns));
	}
	snprintf(le, sizeof(le), "+Inf");
	prom_name(f, name, "_bucket", l);
	fprintf(f, " %llu\n", (unsigned long long)hm_hist_total(h));
	l->n--;
	prom_name(f, name, "_sum", l);
	fprintf(f, " %s\n", hm_ns_to_seconds(h->sum_ns, le, sizeof(le)));
	prom_name(f, name, "_count", l);
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

/* The row a histogram key belongs to; a key no row names any more gets a made-up one. */
static const struct row *hist_row(const struct table *t, const struct view *v, __u32 key,
				  struct row *anon)
{
	for (size_t j = 0; j < t->len; j++)
		if (t->rows[j].hist_keyed && t->rows[j].hist_key == key)
			return &t->rows[j];
	memset(anon, 0, sizeof(*anon));
	anon->hist_keyed = true;
	anon->hist_key = key;
	if (v->source == SRC_IDS) {
		v->ids->key(anon, key, NULL, NULL);
	} else {
		anon->port = key;
		anon->ifindex = key;
	}
	return anon;
}

/* A view's histograms per key, its overflow one, and (hist_total) every response's. */
static void prom_hists(FILE *f, const struct prom_source *ps, size_t nps, enum view_id v,
		       const struct hm_export *e)
{
	const struct view *vw = &views[v];
	const struct snapshot *snap;
	const struct hist_set *set;
	struct prom_labels l;
	char name[96], help[512];
	struct row anon;
	size_t i, s;
	int fam;

	for (fam = 0; fam < HM_LAT_FAMILIES; fam++) {
		snprintf(name, sizeof(name), "%s%s", vw->prom_prefix, prom_fams[fam].name);
		snprintf(help, sizeof(help), vw->prom_hist_help, prom_fams[fam].help, vw->hist_n);
		prom_family(f, name, "histogram", help);
		for (s = 0; s < nps; s++) {
			snap = ps[s].snap;
			set = &snap->hists[v];
			if (vw->hist_total) {
				l.n = 0;
				prom_add(&l, "source", ps[s].source);
				prom_hist_series(f, e, name, &l, &snap->total[fam]);
			}
			for (i = 0; i < set->n; i++) {
				prom_row_labels(&l, &ps[s], vw,
						hist_row(&snap->tables[v], vw, set->v[i].key,
							 &anon));
				prom_hist_series(f, e, name, &l, &set->v[i].h[fam]);
			}
			if (!hm_hist_total(&snap->ovf[v][fam]))
				continue;
			l.n = 0;
			prom_add(&l, "source", ps[s].source);
			for (unsigned int k = 0; k < vw->nkeys; k++)
				prom_add(&l, key_name(vw->keys[k]),
					 k + 1 == vw->nkeys ? vw->hist_other_key : "");
			prom_hist_series(f, e, name, &l, &snap->ovf[v][fam]);
		}
	}
}

static void prom_scalar(FILE *f, const char *name, const struct prom_source *ps, __u64 val)
{
	struct prom_labels l = { 0 };

	prom_add(&l, "source", ps->source);
	prom_name(f, name, "", &l);
	fprintf(f, " %llu\n", (unsigned long long)val);
}

int print_prometheus(FILE *f, struct snapshot *snaps, size_t n, const struct options *o)
{
	struct prom_source ps[SOURCES] = { 0 };
	char name[96], help[256];
	size_t i, s;
	int rank, v, ret = 0;

	if (n > SOURCES)
		n = SOURCES;
	for (s = 0; s < n; s++) {
		ps[s].snap = &snaps[s];
		ps[s].source = source_names[snaps[s].source];
		for (v = 0; v < VIEWS && !ret; v++)
			if (views[v].prom_nkeys && prom_has_view(&ps[s], v))
				ret = prom_aggregate(&ps[s].agg[v], &views[v], &snaps[s].tables[v]);
	}
	if (ret) {
		hm_err("out of memory");
		goto out;
	}
	prom_family(f, "httpmon_info", "gauge", "httpmon reader version and map layout (always 1)");
	fputs("httpmon_info{", f);
	prom_label(f, "version", HM_VERSION);
	fprintf(f, ",layout=\"%d\"} 1\n", HM_LAYOUT_VERSION);
	for (rank = 1; rank <= VIEWS; rank++) {
		for (v = 0; v < VIEWS; v++) {
			if (views[v].prom_rank != rank)
				continue;
			prom_counters(f, ps, n, v, o->top);
			if (views[v].hist)
				prom_hists(f, ps, n, v, &o->export);
		}
	}
	for (i = 0; i < HM_MON_MAX; i++) {
		snprintf(name, sizeof(name), "httpmon_monitor_%s_total", monitor_names[i]);
		snprintf(help, sizeof(help), "classifier self-metric: %s", monitor_descs[i]);
		prom_family(f, name, "counter", help);
		for (s = 0; s < n; s++)
			prom_scalar(f, name, &ps[s], snaps[s].monitor[i]);
	}
	prom_family(f, "httpmon_monitor_conns_live", "gauge",
		    "connections whose HTTP state the classifier holds now");
	for (s = 0; s < n; s++)
		prom_scalar(f, "httpmon_monitor_conns_live", &ps[s], snaps[s].conns_live);
out:
	for (s = 0; s < n; s++)
		for (v = 0; v < VIEWS; v++)
			free(ps[s].agg[v].rows);
	return ret;
}
